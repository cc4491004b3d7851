#!/usr/bin/env bash
# Builds the web app (src/Presentation.Web.Client) into src/Presentation.Api/wwwroot: `npm ci` from the committed
# package-lock.json, then a type check and `vite build`. Needs Node 20+ and npm (installed with apt-get when missing).
# Nothing is fetched at run time: the built files are served by Presentation.Api itself.
set -euo pipefail
cd "$(dirname "$0")/../src/Presentation.Web.Client"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: installing nodejs and npm with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >&2
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.package-lock.stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi
npm run --silent build >&2
echo "web app built into src/Presentation.Api/wwwroot" >&2

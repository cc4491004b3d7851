#!/usr/bin/env bash
# Test service for the browser tests (tests/Web.Tests): builds the web app into src/Presentation.Api/wwwroot
# (scripts/web.sh) and installs Debian's chromium when /usr/bin/chromium is missing. Starts no server: each test
# fixture starts the real API itself on a loopback port. Prints MEATLIZARD_CHROMIUM=/usr/bin/chromium.
#   web.sh start STATE_DIR | web.sh stop STATE_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
  start)
    if [ ! -x /usr/bin/chromium ]; then
      echo "installing chromium with apt-get" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
    fi
    bash scripts/web.sh >&2
    echo "MEATLIZARD_CHROMIUM=/usr/bin/chromium"
    ;;
  stop)
    ;; # nothing runs between the tests' own hosts
  *)
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
    ;;
esac

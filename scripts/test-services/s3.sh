#!/usr/bin/env bash
# Test service: a throw-away S3-compatible server (the npm package s3rver) on loopback.
#   s3.sh start STATE_DIR   installs s3rver into ~/.cache/meatlizard/s3rver when missing (outside the repository),
#                           starts it on a free 127.0.0.1 port with its objects under STATE_DIR/s3, and prints
#                           MEATLIZARD_TEST_S3=http://127.0.0.1:PORT, MEATLIZARD_TEST_S3_ACCESS_KEY,
#                           MEATLIZARD_TEST_S3_SECRET_KEY and MEATLIZARD_TEST_S3_BUCKET (created empty) on stdout;
#                           progress goes to stderr.
#   s3.sh stop STATE_DIR    stops what start started; safe when start failed or never ran.
set -euo pipefail

command=${1:-}
state=${2:-}
if [ -z "$command" ] || [ -z "$state" ]; then
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
fi
S3RVER_VERSION=3.7.1
cache="${MEATLIZARD_CACHE:-$HOME/.cache/meatlizard}/s3rver"
dir="$state/s3"
pidfile="$dir/s3rver.pid"
bucket=meatlizard-test

install_node() {
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then return 0; fi
  echo "node/npm are missing; installing Debian's nodejs and npm..." >&2
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: node and npm are needed for s3rver; install them and try again." >&2
    return 1
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq nodejs npm >&2
}

install_s3rver() {
  if [ -f "$cache/node_modules/s3rver/package.json" ] \
      && grep -q "\"version\": \"$S3RVER_VERSION\"" "$cache/node_modules/s3rver/package.json"; then
    return 0
  fi
  install_node
  echo "installing s3rver $S3RVER_VERSION into $cache..." >&2
  mkdir -p "$cache"
  [ -f "$cache/package.json" ] || echo '{"name":"meatlizard-s3rver","private":true}' >"$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >&2)
}

start() {
  install_s3rver
  mkdir -p "$dir/data"
  rm -f "$dir/port"
  # Port 0: the system picks a free port, so there is no race with other servers; the launcher writes it down.
  S3RVER_DIR="$dir/data" S3RVER_PORT_FILE="$dir/port" S3RVER_BUCKET="$bucket" NODE_PATH="$cache/node_modules" \
    nohup node -e '
      const S3rver = require("s3rver");
      const fs = require("fs");
      new S3rver({
        address: "127.0.0.1", port: 0, silent: true, directory: process.env.S3RVER_DIR,
        configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
      }).run().then(
        address => fs.writeFileSync(process.env.S3RVER_PORT_FILE, String(address.port)),
        error => { console.error(error); process.exit(1); });
    ' >"$dir/s3rver.log" 2>&1 &
  echo $! >"$pidfile"
  local i
  for i in $(seq 1 100); do
    if [ -s "$dir/port" ]; then
      local port
      port=$(cat "$dir/port")
      echo "s3rver listening on 127.0.0.1:$port" >&2
      echo "MEATLIZARD_TEST_S3=http://127.0.0.1:$port"
      # s3rver's fixed credentials.
      echo "MEATLIZARD_TEST_S3_ACCESS_KEY=S3RVER"
      echo "MEATLIZARD_TEST_S3_SECRET_KEY=S3RVER"
      echo "MEATLIZARD_TEST_S3_BUCKET=$bucket"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "error: s3rver did not start (see $dir/s3rver.log):" >&2
  cat "$dir/s3rver.log" >&2 || true
  stop
  return 1
}

stop() {
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac

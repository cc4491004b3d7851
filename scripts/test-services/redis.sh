#!/usr/bin/env bash
# Test service: a throw-away Redis on loopback.
#   redis.sh start STATE_DIR   installs Debian's redis-server when missing, starts it on a free 127.0.0.1 port with
#                              its data under STATE_DIR/redis, prints MEATLIZARD_TEST_REDIS=127.0.0.1:PORT and
#                              MEATLIZARD_TEST_REDIS_SERVER=<redis-server binary> (tests that restart Redis start their
#                              own copy with it) on stdout; progress goes to stderr.
#   redis.sh stop STATE_DIR    shuts down what start started; safe when start failed or never ran.
set -euo pipefail

command=${1:-}
state=${2:-}
if [ -z "$command" ] || [ -z "$state" ]; then
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
fi
dir="$state/redis"
pidfile="$dir/redis.pid"

find_server() {
  command -v redis-server 2>/dev/null || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; } || true
}

install_server() {
  if [ -n "$(find_server)" ]; then return 0; fi
  echo "redis-server is missing; installing Debian's redis-server..." >&2
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: redis-server is not installed and apt-get cannot run here; install redis-server and try again." >&2
    return 1
  fi
  # Other services may be installing at the same time: wait for the dpkg lock instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    redis-server >&2
  # The package starts a system-wide instance on 6379; the tests use their own, so stop that one if it started.
  if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server >/dev/null 2>&1 || true; fi
  [ -n "$(find_server)" ]
}

port_in_use() {
  ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

start() {
  install_server
  local server
  server=$(find_server)
  mkdir -p "$dir"
  local attempt port
  for attempt in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 40000 ))
    if port_in_use "$port"; then continue; fi
    rm -f "$pidfile"
    # No persistence: the data directory is throw-away, and a restart test runs its own server.
    if "$server" --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes --pidfile "$pidfile" \
        --logfile "$dir/redis.log" --save "" --appendonly no --protected-mode yes >&2; then
      local i
      for i in $(seq 1 50); do
        if "${server%-server}-cli" -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
          echo "redis-server listening on 127.0.0.1:$port (attempt $attempt)" >&2
          echo "MEATLIZARD_TEST_REDIS=127.0.0.1:$port"
          echo "MEATLIZARD_TEST_REDIS_SERVER=$server"
          return 0
        fi
        sleep 0.1
      done
    fi
    # The port may have been taken between the check and the bind: stop whatever started and try another.
    stop_server
  done
  echo "error: could not start redis-server on a free port (see $dir/redis.log)." >&2
  return 1
}

stop_server() {
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
  stop) stop_server ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac

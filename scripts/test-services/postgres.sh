#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests (see test.sh).
#
#   postgres.sh start STATE_DIR    installs Debian's postgresql when missing, creates a cluster under
#                                  STATE_DIR/postgres owned by the postgres user, starts it on a free loopback port
#                                  and prints on stdout (single-quoted, since test.sh sources them):
#                                    MEATLIZARD_TEST_POSTGRES=<Npgsql connection string to the maintenance db>
#                                    MEATLIZARD_TEST_POSTGRES_BIN=<dir of pg_dump/pg_restore of the same version>
#   postgres.sh restart STATE_DIR  stops the server (fast mode: connections are cut) and starts it again on the same port
#                                  (the restart tests start a server of their own with this script and restart that
#                                  one, never the shared server other test projects are using at the same moment)
#   postgres.sh stop STATE_DIR     stops it and deletes its data; safe when start failed or never ran
#
# PostgreSQL refuses to run as root, so initdb and pg_ctl run as the postgres user. Progress goes to stderr.
set -euo pipefail

command=${1:-}
state=${2:-}
if [ -z "$command" ] || [ -z "$state" ]; then
  echo "usage: $0 start|restart|stop STATE_DIR" >&2
  exit 2
fi
state=$(cd "$state" && pwd)
root="$state/postgres"
data="$root/data"
log="$root/server.log"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

install_postgres() {
  if find_bin >/dev/null; then return 0; fi
  log "PostgreSQL is not installed; installing Debian's postgresql package"
  if [ "$(id -u)" != 0 ]; then
    log "error: installing postgresql needs root (apt-get install -y postgresql)"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # The package creates a default cluster and starts it; ours is separate, so that one is stopped again.
  apt-get install -y -qq postgresql >&2
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r version name _; do
      pg_ctlcluster "$version" "$name" stop >&2 2>/dev/null || true
    done
  fi
  find_bin >/dev/null || { log "error: postgresql installed but no pg_ctl found under /usr/lib/postgresql"; exit 1; }
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_server() {
  local bin=$1 port=$2
  as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$root/socket -c fsync=off -c max_connections=400" \
    start >&2
}

case "$command" in
  start)
    install_postgres
    bin=$(find_bin)
    id postgres >/dev/null 2>&1 || { log "error: the postgres user does not exist"; exit 1; }
    rm -rf "$root"
    mkdir -p "$root/socket"
    chown -R postgres: "$root"
    chmod 700 "$root"
    # The postgres user must be able to reach its directory through STATE_DIR.
    chmod o+x "$state"

    user=meatlizard
    password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    pwfile="$root/pw"
    printf '%s\n' "$password" >"$pwfile"
    chown postgres: "$pwfile"
    as_postgres "$bin/initdb" -D "$data" -U "$user" --pwfile="$pwfile" --auth-host=scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 >&2
    rm -f "$pwfile"

    started=
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      port_is_free "$port" || continue
      if start_server "$bin" "$port"; then started=$port; break; fi
      log "could not start on port $port; trying another"
    done
    if [ -z "$started" ]; then
      log "error: PostgreSQL did not start; its log:"
      cat "$log" >&2 2>/dev/null || true
      exit 1
    fi
    echo "$started" >"$root/port"
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') is listening on 127.0.0.1:$started"
    # test.sh sources these lines, so values holding ';' or spaces are single-quoted.
    echo "MEATLIZARD_TEST_POSTGRES='Host=127.0.0.1;Port=$started;Database=postgres;Username=$user;Password=$password'"
    echo "MEATLIZARD_TEST_POSTGRES_BIN='$bin'"
    ;;
  restart)
    bin=$(find_bin)
    port=$(cat "$root/port")
    as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
    start_server "$bin" "$port"
    ;;
  stop)
    if [ -f "$data/postmaster.pid" ] && bin=$(find_bin); then
      as_postgres "$bin/pg_ctl" -D "$data" -m immediate -w stop >&2 || true
    fi
    rm -rf "$root"
    ;;
  *)
    echo "usage: $0 start|restart|stop STATE_DIR" >&2
    exit 2
    ;;
esac

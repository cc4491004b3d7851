#!/usr/bin/env bash
# Replays one chat message's statements (message.sql) with pgbench on a scratch database migrated up to a given
# version, and reports transactions (chat messages) per second and the server's CPU per message.
#
#   bench/postgres-writes/run.sh VERSION [SECONDS] [CLIENTS] [EXTRA_SQL]
#
# VERSION: apply the PostgreSQL migrations up to and including this one (e.g. 6 = before 0007, 7 = with it).
# The server is the one libpq's PG* variables name (PGHOST, PGPORT, PGUSER, PGPASSWORD; PGDATABASE is the maintenance
# database the scratch database is created from); EXTRA_SQL, a file applied after the migrations (to try a change
# before it becomes one); pgbench and psql are taken from PATH or PG_BIN. The server's CPU is
# read from /proc (the postmaster's own and its reaped children's time, plus its live children's), so the script must
# run on the server's machine as a user who may read the data directory's postmaster.pid.
set -euo pipefail

version=${1:?usage: run.sh VERSION [SECONDS] [CLIENTS] [EXTRA_SQL]}
seconds=${2:-30}
clients=${3:-2}
extra=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
migrations="$here/../../src/Infrastructure/Persistence/Migrations/Postgres"
bin=${PG_BIN:-}
psql=${bin:+$bin/}psql
pgbench=${bin:+$bin/}pgbench
db="bench_writes_$$"

"$psql" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
trap '"$psql" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
for file in "$migrations"/*.sql; do
  number=$(basename "$file" | cut -c1-4)
  if [ "$((10#$number))" -le "$version" ]; then
    PGOPTIONS="-c client_min_messages=warning" "$psql" -qX -v ON_ERROR_STOP=1 -1 -d "$db" -f "$file" >/dev/null
  fi
done
if [ -n "$extra" ]; then
  PGOPTIONS="-c client_min_messages=warning" "$psql" -qX -v ON_ERROR_STOP=1 -1 -d "$db" -f "$extra" >/dev/null
fi
"$psql" -qX -v ON_ERROR_STOP=1 -d "$db" -f "$here/seed.sql" >/dev/null

. "$here/server-cpu.sh"

export PGOPTIONS="-c plan_cache_mode=force_generic_plan"
# A short warm-up so the first plans and the caches are not in the figures.
"$pgbench" -n -M prepared -f "$here/message.sql" -c "$clients" -j "$clients" -T 3 "$db" >/dev/null
"$psql" -qX -d "$db" -c "CHECKPOINT" >/dev/null
wal() { "$psql" -XAt -F" " -d "$db" -c "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"; }
wal_before=$(wal)
before=$(server_cpu)
out=$("$pgbench" -n -M prepared -f "$here/message.sql" -c "$clients" -j "$clients" -T "$seconds" "$db")
sleep 0.5 # the backends exit and are reaped: their time moves to the postmaster's children's
after=$(server_cpu)
wal_after=$(wal)
transactions=$(echo "$out" | awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }')
tps=$(echo "$out" | awk '/^tps/ { print $3; exit }')
latency=$(echo "$out" | awk '/latency average/ { print $4 }')
cpu_us=$(awk -v t="$((after - before))" -v hz="$ticks" -v n="$transactions" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
# WAL records per message count the rows and index entries written: unlike CPU time, the busy machine does not move it.
wal_per=$(echo "$wal_before $wal_after" | awk -v n="$transactions" \
  '{ printf "%.1f WAL records (%.0f bytes, %.2f full pages)", ($4 - $1) / n, ($6 - $3) / n, ($5 - $2) / n }')
echo "migrations<=$version${extra:+ + $(basename "$extra")} clients=$clients seconds=$seconds: $transactions messages," \
     "$tps messages/s, latency $latency ms, server CPU $cpu_us us/message, $wal_per per message"

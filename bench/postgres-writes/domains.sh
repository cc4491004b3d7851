#!/usr/bin/env bash
# The enum checks alone: the same INSERT (two enum columns) and two UPDATEs (a status) on tables whose columns are
# checked by table CHECK constraints, by domains, or not at all; alternated runs, server CPU per transaction.
#
#   bench/postgres-writes/domains.sh [ROUNDS] [SECONDS]      (server and tools as for run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-4}
seconds=${2:-6}
bin=${PG_BIN:-}
psql=${bin:+$bin/}psql
pgbench=${bin:+$bin/}pgbench
db="bench_domains_$$"
work=$(mktemp -d)
"$psql" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
trap '"$psql" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
"$psql" -qX -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE DOMAIN st AS text CHECK (VALUE IN ('pending', 'dispatched', 'streaming', 'completed', 'timedout', 'fallback',
                                          'failed', 'cancelled'));
CREATE DOMAIN tr AS text CHECK (VALUE IN ('noworker', 'noack', 'nocompletion'));
CREATE DOMAIN mrole AS text CHECK (VALUE IN ('user', 'assistant', 'system'));
CREATE DOMAIN msource AS text CHECK (VALUE IN ('user', 'model', 'fallback', 'notice'));
CREATE TABLE t_check (id bigint PRIMARY KEY,
    status text NOT NULL CHECK (status IN ('pending', 'dispatched', 'streaming', 'completed', 'timedout', 'fallback',
                                           'failed', 'cancelled')),
    reason text NULL CHECK (reason IN ('noworker', 'noack', 'nocompletion')), n int);
CREATE TABLE t_domain (id bigint PRIMARY KEY, status st NOT NULL, reason tr NULL, n int);
CREATE TABLE t_none (id bigint PRIMARY KEY, status text NOT NULL, reason text NULL, n int);
INSERT INTO t_check SELECT i, 'pending', NULL, 0 FROM generate_series(1, 1000) i;
INSERT INTO t_domain SELECT * FROM t_check;
INSERT INTO t_none SELECT * FROM t_check;
CREATE TABLE m_check (id uuid PRIMARY KEY, role text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content text, source text NOT NULL CHECK (source IN ('user', 'model', 'fallback', 'notice')));
CREATE TABLE m_domain (id uuid PRIMARY KEY, role mrole NOT NULL, content text, source msource NOT NULL);
CREATE TABLE m_none (id uuid PRIMARY KEY, role text NOT NULL, content text, source text NOT NULL);
SQL
for kind in check domain none; do
  cat > "$work/$kind.sql" <<SQL
\set id random(1, 1000)
SELECT 'completed' AS done, 'pending' AS pending, 'model' AS model, 'assistant' AS assistant,
       gen_random_uuid() AS mid \gset
INSERT INTO m_$kind (id, role, content, source) VALUES (:mid::uuid, :assistant::text, 'an answer'::text, :model::text);
UPDATE t_$kind SET status = :done::text, reason = NULL::text, n = n + 1 WHERE id = :id;
UPDATE t_$kind SET status = :pending::text, reason = NULL::text, n = n + 1 WHERE id = :id;
SQL
done

. "$here/server-cpu.sh"
export PGOPTIONS="-c plan_cache_mode=force_generic_plan"
for round in $(seq "$rounds"); do
  for kind in $(printf 'check\ndomain\nnone\n' | shuf); do
    before=$(server_cpu)
    out=$("$pgbench" -n -M prepared -f "$work/$kind.sql" -c 1 -T "$seconds" "$db")
    sleep 0.3
    after=$(server_cpu)
    n=$(echo "$out" | awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1] }')
    echo "round $round $kind: $n transactions," \
         "$(awk -v t="$((after - before))" -v hz="$ticks" -v n="$n" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')" \
         "us server CPU per transaction"
  done
done

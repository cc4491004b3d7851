# Sourced by the benchmark scripts: starts throw-away PostgreSQL and Redis servers (scripts/test-services) unless
# MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS are already set, exports their addresses, and stops what it
# started when the script exits.
bench_services_state=""
bench_services_cleanup() {
  if [ -n "$bench_services_state" ]; then
    bash scripts/test-services/redis.sh stop "$bench_services_state" || true
    bash scripts/test-services/postgres.sh stop "$bench_services_state" || true
    rm -rf "$bench_services_state"
  fi
}
trap bench_services_cleanup EXIT

if [ -z "${MEATLIZARD_TEST_POSTGRES:-}" ] || [ -z "${MEATLIZARD_TEST_REDIS:-}" ]; then
  bench_services_state=$(mktemp -d)
  chmod 755 "$bench_services_state"
  bash scripts/test-services/postgres.sh start "$bench_services_state" >>"$bench_services_state/bench.env"
  bash scripts/test-services/redis.sh start "$bench_services_state" >>"$bench_services_state/bench.env"
  set -a
  # shellcheck disable=SC1091
  source "$bench_services_state/bench.env"
  set +a
fi

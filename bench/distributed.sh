#!/usr/bin/env bash
# The relay benchmark in distributed mode:
#   bench/distributed.sh [--seconds 10] [--concurrency 1,10,100] [--warmup 20] [--rate 1000] [--paced-sessions 100]
#                        [--with-embedded] [--no-verdict]
# Closed-loop levels (--concurrency), then an open-loop run: --paced-sessions sessions together offer --rate messages/s
# (0 skips it), latency from each scheduled send; the targets are judged on that open-loop row.
# Starts throw-away PostgreSQL and Redis servers (scripts/test-services) unless MEATLIZARD_TEST_POSTGRES and
# MEATLIZARD_TEST_REDIS are already set, runs two API processes and a relay process on them, and stops what it started.
# --with-embedded first runs bench/run.sh (embedded mode) with the same seconds and levels, for the figures side by side.
# Exits 1 when a target is NOT met (p99 <= 50 ms, >= 1,000 answered/s) or a request failed or was not sent, in either
# run. --no-verdict only measures: the targets are not judged and do not set the exit status (a failed or unsent
# request still does).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh

args=()
embedded=0
embedded_status=0
for arg in "$@"; do
  if [ "$arg" = "--with-embedded" ]; then embedded=1; else args+=("$arg"); fi
done

# shellcheck source=bench/services.sh
source bench/services.sh

if [ "$embedded" = 1 ]; then
  embedded_args=(--rate 0 --api-only)
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
      --seconds|--concurrency) embedded_args+=("${args[$i]}" "${args[$((i + 1))]}") ;;
      --no-verdict) embedded_args+=(--no-verdict) ;;
    esac
  done
  # An embedded run with unanswered requests or a target not met exits 1: the distributed run still follows, and the
  # status is kept.
  bash bench/run.sh "${embedded_args[@]}" || embedded_status=$?
  echo
fi

dotnet build bench/Distributed -c Release -nologo -v quiet -clp:ErrorsOnly
status=0
dotnet bench/Distributed/bin/Release/net10.0/MeatLizard.Bench.Distributed.dll "${args[@]}" || status=$?
# Non-zero when a run had a failed or unsent request, missed a target (unless --no-verdict) or could not run.
if [ "$status" -eq 0 ]; then status=$embedded_status; fi
exit "$status"

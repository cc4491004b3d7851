#!/usr/bin/env bash
# The web app's timing budgets: bench/web.sh [--no-verdict]
# In Chromium against one API (embedded storage, scripted engine): an answer's first piece on screen within 50 ms of
# the engine writing it at the 95th percentile of 20 answers, and a 500-message chat open, from the click to its newest
# message on screen, within 500 ms at the median of 5 opens. Prints each figure's p50/p95/max and every sample.
# Exits 1 when a budget is not met; --no-verdict only measures (a failed page step still exits 1). Run it on a quiet
# machine: it is tests/Web.Tests/WebBudgetBench.cs (category Budget), which ./test.sh leaves out, as a budget is met in
# a benchmark, not asserted from one sample in a full run.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh

verdict=true
while [ $# -gt 0 ]; do
  case "$1" in
    --no-verdict) verdict=false; shift ;;
    *) echo "unknown option $1 (use --no-verdict)"; exit 2 ;;
  esac
done

# Chromium and the web client's build come from the web test service alone (scripts/test-services/web.sh), stopped at
# exit: the budgets run on embedded storage, so PostgreSQL, Redis, S3 and llama-server are not started.
source scripts/test-services.sh
test_services=(scripts/test-services/web.sh)
test_services_start || exit 1

dotnet build tests/Web.Tests -c Release -nologo -v quiet -clp:ErrorsOnly || exit 1
out=$(mktemp -t meatlizard-web-bench-XXXXXX)
dotnet test tests/Web.Tests -c Release --no-build -nologo --filter "TestCategory=Budget" \
  --logger "console;verbosity=normal" -- "TestRunParameters.Parameter(name=\"verdict\", value=\"$verdict\")" > "$out" 2>&1
status=$?
grep -E "^ *(BUDGET|Passed|Failed)|Expected|But was" "$out" | sed -E 's/^ +//' | awk '!seen[$0]++'
rm -f "$out"
exit "$status"

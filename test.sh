#!/usr/bin/env bash
# Runs every test of the solution: unit, integration (real SQLite files) and end-to-end API tests over a real
# Kestrel port. Prints one closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
source scripts/require-dotnet.sh

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

echo "== build"
if ! dotnet build MeatLizard.sln -c Release -nologo -v quiet -clp:ErrorsOnly; then
  echo "Build failed."
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== test"
dotnet test MeatLizard.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" \
  --results-directory "$results" 2>&1 | tee "$results/out.txt"
status=${PIPESTATUS[0]}

passed=$(grep -Eo 'Passed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
exit "$status"

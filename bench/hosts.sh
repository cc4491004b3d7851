#!/usr/bin/env bash
# The model hosts benchmark (issue "Several model hosts"):
#   bench/hosts.sh [--seconds 10] [--hosts 1,2,4] [--answer-ms 200] [--slots 2] [--users 10] [--heavy 10] [--chats-per-user 4] [--eta-seconds 30]
#                  [--no-verdict]
# Answers per second with 1, 2 and 4 hosts of a fixed-time engine (target ≥ 0.9 × linear scaling), then Jain's
# fairness index of the users' throughput with one user sending from ten times the chats (target ≥ 0.95), and the
# waiting-time estimates (target: 90 % within ±50 %). Exits 1 when a target is NOT met, a request failed or a host ran
# more than its slots at once. --no-verdict only measures: the targets are not judged and do not set the exit status.
# Starts throw-away PostgreSQL and Redis servers unless MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS are set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
# shellcheck source=bench/services.sh
source bench/services.sh

dotnet build bench/Hosts -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet bench/Hosts/bin/Release/net10.0/MeatLizard.Bench.Hosts.dll "$@"

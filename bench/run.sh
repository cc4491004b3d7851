#!/usr/bin/env bash
# The relay benchmark: bench/run.sh [--seconds 10] [--concurrency 1,10,100] [--rate 1000] [--paced-sessions 100]
#                                    [--api-only] [--alloc-types] [--probe-http] [--no-verdict]
# Exits 1 when a target is NOT met (p50 <= 5 ms, p99 <= 25 ms, >= 1,000 answered/s, judged on the open loop) or a
# request failed or was not sent. --no-verdict only measures: the targets are not judged and do not set the exit status
# (a failed or unsent request still does).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
dotnet build bench/Relay -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet bench/Relay/bin/Release/net10.0/MeatLizard.Bench.Relay.dll "$@"

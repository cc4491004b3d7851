#!/usr/bin/env bash
# The relay benchmark: bench/run.sh [--seconds 10] [--concurrency 1,10,100]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
dotnet build bench/Relay -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet bench/Relay/bin/Release/net10.0/MeatLizard.Bench.Relay.dll "$@"

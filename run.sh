#!/usr/bin/env bash
# Runs MeatLizard on the embedded default: one process, SQLite under ./data, everything in memory,
# listening on http://127.0.0.1:5080 (override with --urls or ASPNETCORE_URLS). Extra arguments go to the host,
# e.g. ./run.sh --Fallback:Mode=Markov
set -euo pipefail
cd "$(dirname "$0")"
source scripts/require-dotnet.sh
bash scripts/web.sh
dotnet build src/Presentation.Api -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet run --project src/Presentation.Api -c Release --no-build -- "$@"

#!/usr/bin/env bash
# The search benchmark (issue 40): bench/search.sh [--messages 100000] [--chats 1000] [--queries 200]
#                                                  [--storage sqlite,postgres] [--no-verdict]
# One user's messages (Zipf-distributed synthetic words) stored on SQLite and on PostgreSQL, then searched through
# GET /api/v1/search one query at a time, grouped by how many messages hold the words; prints p50/p99/max per group.
# Exits 1 when a group's p99 is not under 50 ms or a search failed. --no-verdict only measures: the target is not
# judged and does not set the exit status (a failed search still does).
# Starts a throw-away PostgreSQL (and Redis) unless MEATLIZARD_TEST_POSTGRES and MEATLIZARD_TEST_REDIS are set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
# shellcheck source=bench/services.sh
source bench/services.sh

dotnet build bench/Search -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet bench/Search/bin/Release/net10.0/MeatLizard.Bench.Search.dll "$@"

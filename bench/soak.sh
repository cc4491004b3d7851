#!/usr/bin/env bash
# The soak (issue "The model answers through every short fault"):
#   bench/soak.sh [--minutes 30] [--seed 38]
# Runs the distributed set-up (two API instances, two server bots, the client bot on llama.cpp with the generated test
# model, its own PostgreSQL and Redis) under steady traffic (web sends, OpenAI clients' /v1 chat completions,
# streamed and not, and two people writing to the bot in Telegram private chats on the loopback Bot API, which both
# server bots serve, one polling at a time) for the given minutes, injecting a fault from the fault
# suite's list every minute (kill -9 of either server bot, the client bot or an API instance, each restarted;
# llama-server frozen with SIGSTOP; Discord REST answering 503 for 10 s; the gateway dropped; Redis or PostgreSQL
# restarted). The processes' whole logs are kept in a folder it names. Prints a row per minute (sent,
# model, notice, lost, duplicated, longest blocked), the totals, and each process's memory, threads and handles at the
# start, after the warm-up (a third of the run, at most 5 minutes) and at the end, how the /v1 completions ended as
# their clients saw them, and how the answers of every other web chat reached a client following the chat's live
# stream (Server-Sent Events, reconnecting to the other instance when it breaks), and, a row per minute, how each
# Telegram message ended (the model's answer, a notice, refused and said again, lost, duplicated, a reply that does not
# show the stored answer; the 409s between pollers); writes the same to
# tests/Faults.Tests/bin/Release/net10.0/soak.md. With the logs kept, the
# processes log the product's information lines too.
# Exits 1 when anything was lost or duplicated (Telegram messages included), an answer the database holds never reached
# its chat's follower, a Telegram reply does not end showing the answer the database holds, Telegram saw two pollers
# at once other than after a poller's kill, fewer than 99.5 % of the answers were the model's, or a process that
# ran throughout grew more than 10 % in memory after the warm-up. It is tests/Faults.Tests/SoakTests.cs, which
# ./test.sh leaves out (category Soak): a soak is measured here, not in every test run.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh

minutes=30
seed=38
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "unknown option $1 (use --minutes N, --seed N)"; exit 2 ;;
  esac
done

source scripts/test-services.sh
state=$test_services_state
test_services_start || exit 1

dotnet build tests/Faults.Tests -c Release -nologo -v quiet -clp:ErrorsOnly || exit 1
# Every line each process printed, with its time, one file per process (restarts append), kept after the run in a
# folder outside the repository (the services' state folder is removed at the end).
logs=$(mktemp -d -t meatlizard-soak-logs-XXXXXX)
echo "soak: the processes' whole logs go to $logs"
MEATLIZARD_HOST_LOG_DIR="$logs" MEATLIZARD_SOAK_MINUTES="$minutes" MEATLIZARD_SOAK_SEED="$seed" \
  dotnet test tests/Faults.Tests -c Release --no-build -nologo --filter "TestCategory=Soak" \
  --logger "console;verbosity=normal" 2>&1 | tee "$state/soak.txt"
status=${PIPESTATUS[0]}
table=tests/Faults.Tests/bin/Release/net10.0/soak.md
[ -f "$table" ] && { echo; echo "== soak"; cat "$table"; }
echo "soak: the processes' whole logs are in $logs"
exit "$status"

#!/usr/bin/env bash
# The OpenAI-compatible API benchmark (bench/OpenAi): streamed chat completions against llama-server directly, through
# MeatLizard's /v1 (embedded, and through the direct relay: an API host and a client bot dialling it) and through
# Portkey's gateway, the targets taking --rounds turns per level; then answers given at once, at 1,000 requests/s,
# from an instant server directly, through MeatLizard's /v1 and through Portkey; then embeddings per second from a
# llama-server started for embeddings, directly and through MeatLizard's /v1/embeddings (part 3).
#   bench/openai.sh [--seconds 30 (part 3: 5)] [--concurrency 1,4,16] [--rounds 6] [--max-tokens 64] [--rate 1000] [--open-seconds 3]
#                   [--open-sessions 100] [--warm-up-seconds 30] [--part 1|2|3] [--embed-batch 16] [--model GGUF]
#                   [--dir LLAMA_BIN] [--no-portkey] [--no-discord] [--no-verdict]
# Exits 1 when a target is NOT met (part 1: the direct relay adds TTFT and total p50 <= 20 ms, longest gap between
# pieces p50 <= 50 ms; part 2: MeatLizard adds p50 <= 2 ms, p99 <= 10 ms over the direct call) or a
# request failed (a stream that ended before its finish and [DONE] included: nothing is sent again) or was not sent.
# --no-verdict only measures: the targets are not judged and do not set the exit status (a failed request still does).
# MEATLIZARD_BENCH_ALLOCATIONS=1 also prints, per target, the KB per request each type took in the measured window.
# MEATLIZARD_BENCH_TIMELINE=FILE writes each open-loop request's send time and latency to FILE (where the slow ones fall).
# Without --model it uses the generated test model; without --dir the build from scripts/llama.sh. Portkey's gateway
# (npm @portkey-ai/gateway, pinned below) is installed into ~/.cache/meatlizard/portkey (outside the repository) when
# missing, started on a free port for the run and stopped after it. Part 1's Discord relay row (for comparison, not
# judged: the distributed set-up relaying over the tests' loopback fake Discord, which keeps Discord's rate limits) runs
# on PostgreSQL and Redis, started throw-away (bench/services.sh) unless MEATLIZARD_TEST_POSTGRES and
# MEATLIZARD_TEST_REDIS are set; --no-discord leaves the row out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
PORTKEY_VERSION=1.15.2
# The gateway's own range lets npm pick @hono/node-server 1.19, whose responses' headers are immutable: every
# completion then fails with "TypeError: immutable" (Portkey-AI/gateway#1389). 1.13.8 is the last that works here.
HONO_NODE_SERVER_VERSION=1.13.8
cache="${MEATLIZARD_CACHE:-$HOME/.cache/meatlizard}/portkey"
given() { local arg; for arg in "${@:2}"; do [[ $arg == "$1" ]] && return 0; done; return 1; }

args=()
portkey=1
discord=1
for arg in "$@"; do
    if [[ $arg == --no-portkey ]]; then portkey=0; elif [[ $arg == --no-discord ]]; then discord=0; else args+=("$arg"); fi
done
extra=()
if ! given --part "$@" || ! given 2 "$@"; then
    given --dir "$@" || extra+=(--dir "$(scripts/llama.sh)")
    given --model "$@" || extra+=(--model "$(scripts/test-model.sh)")
fi

pid=""
stop_portkey() { if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; }
if [[ $discord == 1 ]] && { ! given --part "$@" || given 1 "$@"; }; then
    # Part 1's Discord relay row runs the distributed set-up (PostgreSQL + Redis) over the tests' fake Discord.
    # shellcheck source=bench/services.sh
    source bench/services.sh
    extra+=(--discord-postgres "$MEATLIZARD_TEST_POSTGRES" --discord-redis "$MEATLIZARD_TEST_REDIS")
    trap 'stop_portkey; bench_services_cleanup' EXIT
else
    trap stop_portkey EXIT
fi
if [[ $portkey == 1 ]]; then
    if ! grep -qs "\"version\": \"$PORTKEY_VERSION\"" "$cache/node_modules/@portkey-ai/gateway/package.json" \
        || ! grep -qs "\"version\": \"$HONO_NODE_SERVER_VERSION\"" "$cache/node_modules/@hono/node-server/package.json"; then
        echo "installing @portkey-ai/gateway $PORTKEY_VERSION into $cache..." >&2
        mkdir -p "$cache"
        echo "{\"name\":\"meatlizard-portkey\",\"private\":true,\"overrides\":{\"@hono/node-server\":\"$HONO_NODE_SERVER_VERSION\"}}" \
            >"$cache/package.json"
        (cd "$cache" && npm install --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$PORTKEY_VERSION" \
            "@hono/node-server@$HONO_NODE_SERVER_VERSION" >&2)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # 1.15.2 has no option for the listening address: it listens on every interface, on this port only for the run.
    (cd "$cache" && exec node node_modules/@portkey-ai/gateway/build/start-server.js --port="$port" --headless) \
        >"$cache/gateway.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { cat "$cache/gateway.log" >&2; exit 1; }
        sleep 0.1
    done
    extra+=(--portkey "http://127.0.0.1:$port" --portkey-pid "$pid")
fi

dotnet build bench/OpenAi -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet bench/OpenAi/bin/Release/net10.0/MeatLizard.Bench.OpenAi.dll "${extra[@]}" "${args[@]}"

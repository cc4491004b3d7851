#!/usr/bin/env bash
# Test service for the llama.cpp engines: `start STATE_DIR` makes sure llama.cpp is built (scripts/llama.sh: the first
# run on a fresh machine compiles it, 7-15 minutes on 2 cores; later runs reuse the cache) and the test model exists
# (scripts/test-model.sh), then prints
#   MEATLIZARD_LLAMA_DIR=<directory holding llama-server, llama-cli, llama-completion>
#   MEATLIZARD_TEST_MODEL=<path of the generated GGUF>
# No server runs between tests: each test starts and stops its own llama.cpp processes.
# `stop STATE_DIR` reports (and ends) llama.cpp processes left running on the test model, which would mean an engine
# leaked a child.
set -euo pipefail
cd "$(dirname "$0")/../.."
command="${1:?usage: llama.sh start|stop STATE_DIR}"
state="${2:?usage: llama.sh start|stop STATE_DIR}"

# Whether a .NET process is among the ancestors of process $1.
under_dotnet() {
    local pid="$1"
    while [[ "$pid" -gt 1 ]]; do
        pid="$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)" || return 1
        [[ -n "$pid" ]] || return 1
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dotnet ]] && return 0
    done
    return 1
}

case "$command" in
start)
    bin_dir="$(scripts/llama.sh)"
    model="$(scripts/test-model.sh)"
    mkdir -p "$state/llama"
    echo "$model" > "$state/llama/model-path"
    echo "MEATLIZARD_LLAMA_DIR=$bin_dir"
    echo "MEATLIZARD_TEST_MODEL=$model"
    ;;
stop)
    if [[ -f "$state/llama/model-path" ]]; then
        model="$(cat "$state/llama/model-path")"
        for pid in $(pgrep -f -- "$model" || true); do
            # One still below a running .NET process belongs to a live run (another test run or a soak on this
            # machine, which uses the same cached model): only orphans were left running by this one.
            if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == llama-* ]] && ! under_dotnet "$pid"; then
                echo "llama.sh: process $pid ($(cat "/proc/$pid/comm")) was left running on the test model; ending it" >&2
                kill "$pid" 2>/dev/null || true
            fi
        done
    fi
    ;;
*)
    echo "usage: llama.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac

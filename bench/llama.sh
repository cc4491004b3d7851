#!/usr/bin/env bash
# The llama.cpp benchmark: time to first token and total time, one-shot vs managed server vs a direct llama-server
# call, sequentially and 4 at once. bench/llama.sh [--model GGUF] [--dir LLAMA_BIN] [--requests 8] [--max-tokens 32]
#                                                  [--no-verdict]
# It judges no target (--no-verdict, which every benchmark takes, changes nothing); it exits 1 when a request failed
# (an engine error, an answer that did not complete, a stream that ended before [DONE]).
# Without --model it uses the generated test model; without --dir the build from scripts/llama.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh
given() { local arg; for arg in "${@:2}"; do [[ $arg == "$1" ]] && return 0; done; return 1; }
extra=()
given --dir "$@" || extra+=(--dir "$(scripts/llama.sh)")
given --model "$@" || extra+=(--model "$(scripts/test-model.sh)")
dotnet build bench/Llama -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet bench/Llama/bin/Release/net10.0/MeatLizard.Bench.Llama.dll "${extra[@]}" "$@"

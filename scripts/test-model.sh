#!/usr/bin/env bash
# Ensures the generated test model (tools/TestModel: a tiny llama GGUF with deterministic random weights and llama.cpp's
# SentencePiece vocabulary) and prints its path on STDOUT; progress on STDERR.
# It is cached under ~/.cache/meatlizard/test-model/, keyed by the generator's source and the vocabulary, so it is
# rebuilt only when either changes. Gibberish by design: it exercises llama.cpp's real code paths in milliseconds.
set -euo pipefail
cd "$(dirname "$0")/.."
cache_root="${MEATLIZARD_CACHE:-$HOME/.cache/meatlizard}"

vocab="$(scripts/llama.sh --vocab)/ggml-vocab-llama-spm.gguf"
key="$(cat tools/TestModel/*.cs tools/TestModel/*.csproj "$vocab" | sha256sum | cut -c1-16)"
model="$cache_root/test-model/meatlizard-test-$key.gguf"
if [[ -f "$model" ]]; then
    echo "test-model.sh: cached $model" >&2
    echo "$model"
    exit 0
fi

source scripts/require-dotnet.sh >&2
echo "test-model.sh: generating $model" >&2
output="$(mktemp -d)"
trap 'rm -rf "$output"' EXIT
dotnet build tools/TestModel -c Release -nologo -v quiet -clp:ErrorsOnly -o "$output" >&2
dotnet "$output/MeatLizard.Tools.TestModel.dll" --vocab "$vocab" --out "$model"

#!/usr/bin/env bash
# Runs MeatLizard on the embedded default: one process, SQLite under ./data, everything in memory,
# listening on http://127.0.0.1:5080 (override with --urls or ASPNETCORE_URLS). Extra arguments go to the host,
# e.g. ./run.sh --Fallback:Mode=Markov
#
# Answers come from llama.cpp's managed server (Inference:Engine=LlamaServer) unless an engine is chosen
# (Inference__Engine=... or --Inference:Engine=...): the first run builds llama.cpp (scripts/llama.sh: 7-15 minutes
# on 2 cores, once; Homebrew's llama-server on PATH is used as is) and, unless Inference:ModelPath is set, the tiny
# generated test model is used (gibberish answers: point Inference:ModelPath at a real GGUF, see docs/llama.md).
# MEATLIZARD_NO_LLAMA=1 skips llama.cpp: then the fallback answers.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/require-dotnet.sh
bash scripts/web.sh

# chosen KEY ARGS...: is Section__Key set in the environment or --Section:Key given on the command line?
chosen() {
  local key="--${1//__/:}" arg
  [[ -n "${!1:-}" ]] && return 0
  for arg in "${@:2}"; do [[ $arg == "$key" || $arg == "$key="* ]] && return 0; done
  return 1
}
if [[ -z "${MEATLIZARD_NO_LLAMA:-}" ]] && ! chosen Inference__Engine "$@"; then
  if llama_dir="$(scripts/llama.sh)"; then
    export Inference__Engine=LlamaServer
    chosen Inference__LlamaCppDir "$@" || export Inference__LlamaCppDir="$llama_dir"
    if ! chosen Inference__ModelPath "$@"; then
      model="$(scripts/test-model.sh)" && export Inference__ModelPath="$model"
    fi
  else
    echo "run.sh: llama.cpp is not available (see above); starting without an engine, so the fallback answers." >&2
  fi
fi

# `dotnet run` starts the app in the project folder, so a relative Data:Root would land in src/Presentation.Api: keep the
# data at the repository root, where the README says (unless Data:Root is chosen).
chosen Data__Root "$@" || export Data__Root="$PWD/data"

# What the run writes (the database, the key ring, stored objects) is readable by this user only. The key ring is
# encrypted at rest with a key made on the first run (DataProtection:KeyFile, mode 0600), and backups with another
# (Backup:KeyFile), unless they are chosen.
umask 077
data_root="${Data__Root:-}"
for arg in "$@"; do [[ $arg == --Data:Root=* ]] && data_root="${arg#--Data:Root=}"; done
data_root="${data_root:-$PWD/data}"
key_file_for() { # SETTING_VARIABLE FILE_NAME: points the setting at data_root/FILE_NAME, made on the first run
  local setting=$1 key_file
  key_file="$(realpath -m "$data_root/$2")"
  if [[ ! -s "$key_file" ]]; then
    mkdir -p "$(dirname "$key_file")"
    head -c 32 /dev/urandom > "$key_file"
    echo "run.sh: made $key_file (${setting//__/:})." >&2
  fi
  chmod 0600 "$key_file"
  export "$setting=$key_file"
}
chosen DataProtection__KeyFile "$@" || key_file_for DataProtection__KeyFile dataprotection.key
if ! chosen Backup__KeyFile "$@"; then
  [[ -s "$data_root/backup.key" ]] || echo "run.sh: backups are encrypted with $data_root/backup.key: keep a copy of it away from this machine, no backup can be restored without it." >&2
  key_file_for Backup__KeyFile backup.key
fi

dotnet build src/Presentation.Api -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet run --project src/Presentation.Api -c Release --no-build -- "$@"

#!/usr/bin/env bash
# Ensures a CPU build of llama.cpp (llama-server, llama-cli, llama-completion) and prints its bin directory on STDOUT.
# Progress goes to STDERR.
#   scripts/llama.sh          the bin directory (building it when needed)
#   scripts/llama.sh --vocab  the directory of llama.cpp's vocabulary files (ggml-vocab-llama-spm.gguf, ...), fetching
#                             the source when needed but building nothing (the test model needs them even when the
#                             binaries come from elsewhere)
#
# Where the binaries come from, first match wins:
#   1. MEATLIZARD_LLAMA_DIR (a directory holding llama-server): used as is, nothing is built.
#   2. llama-server on PATH (e.g. Homebrew's llama.cpp): its directory is used, nothing is built.
#   3. ~/.cache/meatlizard/llama.cpp/node-llama-cpp-<version>/bin when already built.
#   4. Otherwise: the llama.cpp source pinned by the npm package node-llama-cpp (its llama/gitRelease.bundle, a git
#      bundle of the llama.cpp release it ships) is fetched with `npm pack` (the npm registry is the only source
#      reachable here), cloned and built with cmake (Release, CPU backend, no HTTPS, no web UI): 7-15 minutes on
#      2 cores, once. What was built is recorded in VERSION beside bin/.
#
# Environment: MEATLIZARD_NODE_LLAMA_CPP_VERSION (default below), MEATLIZARD_CACHE (default ~/.cache/meatlizard),
# MEATLIZARD_LLAMA_JOBS (default 2).
set -euo pipefail

node_llama_cpp_version="${MEATLIZARD_NODE_LLAMA_CPP_VERSION:-3.22.1}"
cache_root="${MEATLIZARD_CACHE:-$HOME/.cache/meatlizard}"
jobs="${MEATLIZARD_LLAMA_JOBS:-2}"
version_dir="$cache_root/llama.cpp/node-llama-cpp-$node_llama_cpp_version"
bin_dir="$version_dir/bin"
vocab_dir="$version_dir/models"
work="$version_dir/work"

log() { echo "llama.sh: $*" >&2; }

install_tools() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]} with apt-get"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    fi
}

# Only one process fetches or builds at a time; the others wait and reuse its result.
take_lock() {
    mkdir -p "$version_dir"
    exec 9>"$version_dir/.lock"
    log "waiting for the lock $version_dir/.lock"
    flock 9
}

# Fetches the source into $work/llama.cpp and keeps its vocabulary files in $vocab_dir.
fetch_source() {
    rm -rf "$work"
    mkdir -p "$work"
    log "fetching node-llama-cpp@$node_llama_cpp_version from the npm registry"
    (cd "$work" && npm pack --silent "node-llama-cpp@$node_llama_cpp_version" >&2)
    tar -xzf "$work/node-llama-cpp-$node_llama_cpp_version.tgz" -C "$work" \
        package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
    release_tag="$(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$work/package/llama/llama.cpp.info.json")"
    log "cloning llama.cpp $release_tag from the bundle"
    git -c advice.detachedHead=false clone --quiet "$work/package/llama/gitRelease.bundle" "$work/llama.cpp" >&2
    commit="$(git -C "$work/llama.cpp" rev-parse HEAD)"
    rm -rf "$vocab_dir.tmp"
    mkdir -p "$vocab_dir.tmp"
    cp "$work/llama.cpp/models/ggml-vocab-llama-spm.gguf" "$work/llama.cpp/models/ggml-vocab-llama-bpe.gguf" "$vocab_dir.tmp/"
    rm -rf "$vocab_dir"
    mv "$vocab_dir.tmp" "$vocab_dir"
}

if [[ "${1:-}" == --vocab ]]; then
    if [[ ! -f "$vocab_dir/ggml-vocab-llama-spm.gguf" ]]; then
        take_lock
        if [[ ! -f "$vocab_dir/ggml-vocab-llama-spm.gguf" ]]; then
            install_tools git npm
            fetch_source
            rm -rf "$work"
        fi
    fi
    echo "$vocab_dir"
    exit 0
fi

if [[ -n "${MEATLIZARD_LLAMA_DIR:-}" ]]; then
    if [[ ! -x "$MEATLIZARD_LLAMA_DIR/llama-server" ]]; then
        log "MEATLIZARD_LLAMA_DIR=$MEATLIZARD_LLAMA_DIR does not hold an executable llama-server"
        exit 1
    fi
    log "using MEATLIZARD_LLAMA_DIR=$MEATLIZARD_LLAMA_DIR"
    echo "$MEATLIZARD_LLAMA_DIR"
    exit 0
fi

if on_path="$(command -v llama-server 2>/dev/null)"; then
    log "using llama-server found on PATH: $on_path"
    dirname "$(readlink -f "$on_path")"
    exit 0
fi

built() { [[ -x "$bin_dir/llama-server" && -x "$bin_dir/llama-cli" && -f "$version_dir/VERSION" ]]; }
if built; then
    log "already built: $bin_dir ($(tr '\n' ' ' < "$version_dir/VERSION"))"
    echo "$bin_dir"
    exit 0
fi

take_lock
if built; then
    log "built meanwhile by another process: $bin_dir"
    echo "$bin_dir"
    exit 0
fi

install_tools git cmake g++ make npm
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

fetch_source
targets=(llama-server llama-cli)
if [[ -d "$work/llama.cpp/tools/completion" ]]; then targets+=(llama-completion); fi
cmake_flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_BLAS=OFF)
if [[ "$(uname)" == Darwin ]]; then cmake_flags+=(-DGGML_METAL=ON); else cmake_flags+=(-DGGML_METAL=OFF); fi
# Options that only some llama.cpp versions know: turn them off where they exist (no HTTPS, no web UI download).
known_options="$(grep -ho 'option(LLAMA_[A-Z_]*' "$work/llama.cpp/CMakeLists.txt" | sed 's/option(//')"
for option in LLAMA_CURL LLAMA_OPENSSL LLAMA_BUILD_UI LLAMA_USE_PREBUILT_UI LLAMA_BUILD_WEBUI LLAMA_USE_PREBUILT_WEBUI; do
    if grep -qx "$option" <<< "$known_options"; then cmake_flags+=("-D$option=OFF"); fi
done

log "configuring llama.cpp $release_tag ($commit): ${cmake_flags[*]}"
cmake -S "$work/llama.cpp" -B "$work/build" "${generator[@]}" "${cmake_flags[@]}" >&2
log "building ${targets[*]} with $jobs jobs (7-15 minutes on 2 cores)"
started=$SECONDS
cmake --build "$work/build" --config Release -j "$jobs" --target "${targets[@]}" >&2
log "built in $((SECONDS - started)) s"

rm -rf "$bin_dir.tmp"
mkdir -p "$bin_dir.tmp"
for target in "${targets[@]}"; do cp "$work/build/bin/$target" "$bin_dir.tmp/"; done
rm -rf "$bin_dir"
mv "$bin_dir.tmp" "$bin_dir"
{
    echo "node-llama-cpp=$node_llama_cpp_version"
    echo "llama.cpp-bundle-tag=$release_tag"
    echo "llama.cpp-commit=$commit"
    echo "targets=${targets[*]}"
    echo "cmake=${cmake_flags[*]}"
    "$bin_dir/llama-server" --version 2>&1 | grep -i '^version' || true
} > "$version_dir/VERSION"
rm -rf "$work"
log "done: $bin_dir ($(tr '\n' ' ' < "$version_dir/VERSION"))"
echo "$bin_dir"

#!/usr/bin/env bash
# A /v1 completion's own CPU against a baseline commit, measured side by side: part 2 of the OpenAI benchmark
# (bench/OpenAi: streamed completions answered at once, open loop) run alternately from the baseline's source and from
# this one, --pairs times, each run a fresh process. A run's own CPU is what the /v1 row cost per request over the
# direct call's row of the same run (CPU ms/req, both taken from the same process, so what the clients and the instant
# server cost is taken out). Prints each pair, the means, their ratio and the median of the pairs' ratios.
#   bench/openai-against.sh [--against 68d73ea] [--pairs 3] [--target 0.5] [--rate 300] [--open-seconds 10] [--no-verdict]
# The default baseline is the commit before the conversation core's redesign (issue 35), whose target is a ratio of at
# most 0.5 (own CPU halved). This machine's speed varies between runs and between days: one pair says little; the
# runs alternate so that a drift falls on both sides.
# Exits 1 when the ratio of the means is above --target (unless --no-verdict) or a run failed.
# The baseline's source is taken with `git archive` into ${MEATLIZARD_CACHE:-~/.cache/meatlizard}/baseline-<commit>
# (outside the repository, kept for the next run) and built there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/require-dotnet.sh

against=68d73ea
pairs=3
target=0.5
verdict=1
# Part 2's own options, each given once (the benchmark refuses one given twice).
declare -A open_loop=([--rate]=300 [--open-seconds]=10)
while [[ $# -gt 0 ]]; do
    case $1 in
        --against) against=$2; shift 2 ;;
        --pairs) pairs=$2; shift 2 ;;
        --target) target=$2; shift 2 ;;
        --no-verdict) verdict=0; shift ;;
        --rate|--open-seconds|--open-sessions|--warm-up-seconds) open_loop[$1]=$2; shift 2 ;;
        *) echo "bench/openai-against.sh: unknown option $1 (see the comment at its top)" >&2; exit 2 ;;
    esac
done
bench_args=(--part 2 --no-verdict)
for option in "${!open_loop[@]}"; do bench_args+=("$option" "${open_loop[$option]}"); done
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "bench/openai-against.sh: --pairs must be a whole number above 0, not '$pairs'" >&2; exit 2; }

commit=$(git rev-parse --verify --quiet "$against^{commit}") \
    || { echo "bench/openai-against.sh: --against '$against' is not a commit of this repository" >&2; exit 2; }
base="${MEATLIZARD_CACHE:-$HOME/.cache/meatlizard}/baseline-$commit"
if [[ ! -f $base/.complete ]]; then
    rm -rf "$base"
    mkdir -p "$base"
    git archive "$commit" | tar -x -C "$base"
    touch "$base/.complete"
fi

echo "building the benchmark at ${commit:0:10} (baseline) and at $(git rev-parse --short=10 HEAD) (this source)..." >&2
(cd "$base" && dotnet build bench/OpenAi -c Release -nologo -v quiet -clp:ErrorsOnly >&2)
dotnet build bench/OpenAi -c Release -nologo -v quiet -clp:ErrorsOnly >&2

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# The /v1 row's CPU ms/req less the direct row's, from one run's output; empty when either row is missing.
own_cpu() {
    awk -F'|' '
        /^instant server direct / { split($4, d, " "); direct = d[1] }
        /^MeatLizard \/v1 / { split($4, v, " "); v1 = v[1] }
        END { if (direct != "" && v1 != "") printf "%.2f", v1 - direct }' "$1"
}

run() {
    local side=$1 dir=$2 n=$3 log="$logs/$1-$3.log"
    if ! dotnet "$dir/bench/OpenAi/bin/Release/net10.0/MeatLizard.Bench.OpenAi.dll" "${bench_args[@]}" >"$log" 2>&1; then
        echo "the $side run $n failed; its output:" >&2
        tail -30 "$log" >&2
        exit 1
    fi
    local own
    own=$(own_cpu "$log")
    [[ -n $own ]] || { echo "the $side run $n printed no /v1 and direct rows; its output:" >&2; tail -30 "$log" >&2; exit 1; }
    echo "$own"
}

echo "own CPU of a /v1 completion (ms per request over the direct call), ${bench_args[*]}, $pairs pairs alternated:"
printf '%-6s %12s %12s %8s\n' pair baseline "this source" ratio
base_all=()
this_all=()
ratios=()
for n in $(seq 1 "$pairs"); do
    b=$(run baseline "$base" "$n")
    t=$(run this . "$n")
    r=$(awk -v b="$b" -v t="$t" 'BEGIN { printf "%.2f", t / b }')
    printf '%-6s %12s %12s %8s\n' "$n" "$b" "$t" "$r"
    base_all+=("$b")
    this_all+=("$t")
    ratios+=("$r")
done

mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.2f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
base_mean=$(mean "${base_all[@]}")
this_mean=$(mean "${this_all[@]}")
ratio=$(awk -v b="$base_mean" -v t="$this_mean" 'BEGIN { printf "%.2f", t / b }')
printf '%-6s %12s %12s %8s\n' mean "$base_mean" "$this_mean" "$ratio"
echo "median of the pairs' ratios: $(median "${ratios[@]}"); target: ratio of the means <= $target"
if [[ $verdict == 1 ]] && awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r > t) }'; then
    echo "target NOT met"
    exit 1
fi

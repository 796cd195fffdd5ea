#!/usr/bin/env bash
# Before/after figures of a change, measured in one sitting: the `store`,
# `encryption` and `redis` benches built at BASE (a commit) and at the work
# tree, run ROUNDS times each, interleaved, and reported as medians with
# after/before ratios (bench/compare_revisions.py).
#
#   bench/compare-revisions.sh BASE [ROUNDS]      # e.g. bench/compare-revisions.sh 03bcb54 5
#
# The typed-save bench runs twice per round: as configured (fsync per
# commit), and under MCP_PERSIST_DURABILITY=no-sync (CPU cost without fsync
# noise). Which revision runs first alternates between rounds, so a drift
# of the machine during a round does not favour either. ~3 minutes a round.
set -euo pipefail
base=${1:?usage: bench/compare-revisions.sh BASE [ROUNDS]}
rounds=${2:-5}
root=$(git rev-parse --show-toplevel)
cd "$root"
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/tree" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/tree" "$base" >/dev/null

# Builds the three benches in $1 (sharing this checkout's target directory,
# so dependencies build once) and copies them into $tmp/bin-$2.
build() {
    mkdir -p "$tmp/bin-$2"
    (cd "$1" && CARGO_TARGET_DIR="$root/target" cargo bench -p mcp-persist-benches \
        --bench store --bench encryption --bench redis --no-run 2>&1) |
        sed -n 's/.*Executable .*(\(.*\))$/\1/p' |
        while read -r exe; do
            case "$exe" in /*) ;; *) exe="$1/$exe" ;; esac
            cp "$exe" "$tmp/bin-$2/"
        done
}
build "$tmp/tree" before
build "$root" after

out="$tmp/results"
mkdir -p "$out"
filter='read_200B/typed_load|read_200B/raw_heed_notls|durable_write_200B|concurrent_durable_writes/(save_tasks/16|raw)'
for round in $(seq 1 "$rounds"); do
    order="before after"
    [ $((round % 2)) -eq 0 ] && order="after before"
    for which in $order; do
        bin="$tmp/bin-$which"
        "$bin"/store-* --bench "$filter" >"$out/store-$which-$round.txt" 2>&1
        MCP_PERSIST_DURABILITY=no-sync "$bin"/store-* --bench 'durable_write_200B/save_blocking' \
            >"$out/nosync-$which-$round.txt" 2>&1
        "$bin"/encryption-* --bench 5 >"$out/enc-$which-$round.txt" 2>&1
        "$bin"/redis-* --bench 5 >"$out/redis-$which-$round.txt" 2>&1
        echo "round $round: $which done" >&2
    done
done
python3 "$root/bench/compare_revisions.py" "$out"

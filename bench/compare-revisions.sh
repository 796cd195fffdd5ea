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

# Builds the three benches in $1 into target directory $3 and copies them
# into $tmp/bin-$2. Each revision has a target directory of its own: cargo
# names a workspace's artifacts the same in every checkout of it, so a
# shared one would hand one revision's proc macro to the other.
build() {
    mkdir -p "$tmp/bin-$2"
    (cd "$1" && CARGO_TARGET_DIR="$3" cargo bench -p mcp-persist-benches \
        --bench store --bench encryption --bench redis --no-run 2>&1) |
        sed -n 's/.*Executable .*(\(.*\))$/\1/p' |
        while read -r exe; do
            case "$exe" in /*) ;; *) exe="$1/$exe" ;; esac
            cp "$exe" "$tmp/bin-$2/"
        done
}
build "$tmp/tree" before "$root/target/compare-base"
build "$root" after "$root/target"

out="$tmp/results"
mkdir -p "$out"
filter='read_200B/typed_load|read_200B/raw_heed_notls|durable_write_200B|concurrent_durable_writes/(save_tasks/16|raw)'
# Runs one bench binary; its output goes to $out/$1, shown whole if it fails.
run() {
    local file="$out/$1"
    shift
    if ! "$@" >"$file" 2>&1; then
        cat "$file" >&2
        echo "failed: $*" >&2
        exit 1
    fi
}
for round in $(seq 1 "$rounds"); do
    order="before after"
    if [ $((round % 2)) -eq 0 ]; then order="after before"; fi
    for which in $order; do
        bin="$tmp/bin-$which"
        run "store-$which-$round.txt" "$bin"/store-* --bench "$filter"
        run "nosync-$which-$round.txt" env MCP_PERSIST_DURABILITY=no-sync \
            "$bin"/store-* --bench 'durable_write_200B/save_blocking'
        run "enc-$which-$round.txt" "$bin"/encryption-* --bench 5
        run "redis-$which-$round.txt" "$bin"/redis-* --bench 5
        echo "round $round: $which done" >&2
    done
done
python3 "$root/bench/compare_revisions.py" "$out"

#!/usr/bin/env bash
# Runs each fuzz target for a bounded time and prints executions and findings.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (default: 60 s each, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain it
# runs with RUSTC_BOOTSTRAP=1 (libFuzzer and the sanitizer need nightly flags).
# The corpus grows in fuzz/corpus/TARGET (not committed); fuzz/seeds/TARGET
# is read too. Findings land in fuzz/artifacts/TARGET/. Exit status 1 if
# any target found something.
set -u
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(envelope key import tool_call); fi
export RUSTC_BOOTSTRAP=1
# The import and tool targets make their stores in a temp directory of their own.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mcp-persist-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p logs
status=0
printf '%-10s %12s %10s %8s  %s\n' TARGET EXECUTIONS EXEC/S FINDINGS LOG
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(ls "artifacts/$t" | wc -l)
    log="logs/$t.log"
    TMPDIR="$scratch" cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
    rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -1)
    found=$(( $(ls "artifacts/$t" | wc -l) - before ))
    printf '%-10s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$found" "fuzz/$log"
    if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
        status=1
        grep -m1 -E "panicked at|ERROR: |SUMMARY" "$log" | sed 's/^/    /'
        ls -t "artifacts/$t" | head -3 | sed "s|^|    fuzz/artifacts/$t/|"
    fi
done
exit $status

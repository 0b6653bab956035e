#!/bin/bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, one after
# the other on one core (the machine is shared: niced, a single libFuzzer
# process), and prints the executions per target. A crash stops the run
# with the target's name; its input is in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [target...]        FUZZ_SECONDS (default 30), FUZZ_RSS_MB (default 2048),
#                                  FUZZ_RUNS (stop a target earlier after this many executions)
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${FUZZ_SECONDS:-30}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
RUNS="${FUZZ_RUNS:--1}"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    mapfile -t TARGETS < <(ls fuzz_targets | sed 's/\.rs$//')
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }
# Safe Rust only (the crate's unsafe code is in the module, not built here),
# so no sanitizer: several times the executions. Debug assertions on, so an
# arithmetic overflow is a crash too.
FLAGS=(-O --sanitizer none --debug-assertions)
nice -n 10 cargo +nightly fuzz build "${FLAGS[@]}"
BIN="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
mkdir -p logs
summary=()
status=0
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="logs/$target.log"
    echo "== $target: ${SECONDS_EACH}s"
    # The grown corpus first (libFuzzer adds new inputs to it), then the seeds.
    # The binaries built above, run directly: a source edited meanwhile
    # changes nothing in a run under way.
    if nice -n 10 "$BIN/$target" -artifact_prefix="artifacts/$target/" "corpus/$target" "seeds/$target" \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -runs="$RUNS" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
        grep -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written" "$log" | head -5 || true
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    summary+=("$(printf '%-20s %-6s %14s executions %10s/s' "$target" "$result" "${runs:-?}" "${rate:-?}")")
done
echo
echo "target               result     executions"
printf '%s\n' "${summary[@]}"
exit $status

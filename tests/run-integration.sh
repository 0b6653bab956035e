#!/bin/bash
# Runs the integration tests (tests/*.rs) against a real Asterisk in the test
# root. Uses cargo-nextest when present (parallel, one process per test),
# else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RES_STICKY_SO:?set RES_STICKY_SO to the built res_sticky.so}"
: "${STICKY_ROOT:?set STICKY_ROOT to the test root}"

# Whatever an interrupted run left in the root (Asterisk, databases, sipp)
# is stopped, and its instance directories removed.
for pid in /proc/[0-9]*; do
    case "$(readlink "$pid/root" 2>/dev/null)" in
        "$STICKY_ROOT") kill -9 "${pid#/proc/}" 2>/dev/null || true ;;
    esac
done
rm -rf --one-file-system "$STICKY_ROOT/srv/res-sticky-tests"

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --locked --test '*' "$@"
else
    exec cargo test --locked --test '*' -- --test-threads 4 "$@"
fi

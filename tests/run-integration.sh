#!/bin/bash
# Runs the integration tests (tests/*.rs) against a real Asterisk in the test
# root. Uses cargo-nextest when present (parallel, one process per test),
# else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RES_STICKY_SO:?set RES_STICKY_SO to the built res_sticky.so}"
: "${STICKY_ROOT:?set STICKY_ROOT to the test root}"

# What an interrupted run left in the root is stopped and removed by the
# harness itself (tests/common/root.rs), and only that: a `make demo` or
# another checkout's tests running meanwhile are left alone.

if cargo nextest --version >/dev/null 2>&1; then
    exec cargo nextest run --locked --test '*' "$@"
else
    exec cargo test --locked --test '*' -- --test-threads 4 "$@"
fi

#!/bin/bash
# Runs the integration tests (tests/*.rs) against a real Asterisk in the test
# root. Uses cargo-nextest when present (parallel, one process per test),
# else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RES_STICKY_SO:?set RES_STICKY_SO to the built res_sticky.so}"
status=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --test '*' "$@" || status=$?
else
    cargo test --locked --test '*' -- --test-threads 4 "$@" || status=$?
fi
tests/services.sh stop >/dev/null 2>&1 || echo "warning: could not stop the test databases" >&2
exit $status

#!/bin/bash
# make demo: runs the scripted demo against the test root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --locked --example demo

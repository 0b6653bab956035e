#!/bin/bash
# The README's promise, checked as a new user meets it: a fresh Debian 12
# container with only git and a minimal Rust toolchain (rustup, no rustfmt or
# clippy, no C compiler), a clone of the committed HEAD, then exactly
# `make demo` and `make test`. Prints both times. Slow (it provisions its
# own test root inside the container) and heavy: run it alone.
# Usage: bare-machine.sh            (needs a Docker engine: engine.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/packaging/docker"
say() { echo "bare-machine: $*"; }

"$here/base.sh" res-sticky-base:bookworm bookworm
if ! docker image inspect res-sticky-bare:bookworm >/dev/null 2>&1; then
    say "the bare machine: Debian 12, git, rustup (minimal profile)"
    docker build --network host -t res-sticky-bare:bookworm - <<'DOCKERFILE'
FROM res-sticky-base:bookworm
RUN apt-get update && apt-get install -y git ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DOCKERFILE
fi
src=$(mktemp -d /var/tmp/res-sticky-bare-src.XXXXXX)
trap 'rm -rf "$src"' EXIT
git clone -q "$repo" "$src/res_sticky"
say "make demo, then make test, in a fresh container (commit $(git -C "$src/res_sticky" rev-parse --short HEAD))"
docker run --rm --privileged --network host -v "$src/res_sticky:/src:ro" res-sticky-bare:bookworm bash -c '
    set -e
    git clone -q /src /root/res_sticky && cd /root/res_sticky
    s=$(date +%s); make demo; d=$(( $(date +%s) - s ))
    s=$(date +%s); make test; t=$(( $(date +%s) - s ))
    echo "bare-machine: PASS: make demo ${d} s, make test ${t} s"'

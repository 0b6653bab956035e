#!/bin/bash
# The README's promise, checked as a new user meets it: a fresh Debian 12
# container with only git, make and a minimal Rust toolchain (rustup, no rustfmt or
# clippy, no C compiler), a clone of the committed HEAD, then exactly
# `make demo` and `make test`. Prints both times. Slow (it provisions its
# own test root inside the container, which needs CAP_SYS_ADMIN for mounts,
# and CAP_NET_ADMIN for the tests' private networks, as root on a machine has)
# and heavy: run it alone.
# Usage: bare-machine.sh            (needs a Docker engine: engine.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/packaging/docker"
say() { echo "bare-machine: $*"; }

"$here/base.sh" res-sticky-base:bookworm bookworm
# This machine's trust store, for TLS through its network (crates.io and
# the Rust toolchain's server), as a new machine on this network would have.
ca=${BARE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
tls=(-v "$ca:/etc/host-ca.crt:ro" -e SSL_CERT_FILE=/etc/host-ca.crt -e CURL_CA_BUNDLE=/etc/host-ca.crt
     -e CARGO_HTTP_CAINFO=/etc/host-ca.crt)
if ! docker image inspect res-sticky-bare:bookworm >/dev/null 2>&1; then
    say "the bare machine: Debian 12, git, make, rustup (minimal profile)"
    docker rm -f res-sticky-bare-prep >/dev/null 2>&1 || true
    docker run --name res-sticky-bare-prep --network host "${tls[@]}" res-sticky-base:bookworm bash -c '
        set -e
        apt-get update && apt-get install -y git make ca-certificates curl
        curl -sSf -o /tmp/rustup-init https://static.rust-lang.org/rustup/dist/x86_64-unknown-linux-gnu/rustup-init
        chmod +x /tmp/rustup-init && /tmp/rustup-init -y --profile minimal && rm /tmp/rustup-init
        apt-get purge -y --auto-remove curl && rm -rf /var/lib/apt/lists/*'
    docker commit -c 'ENV PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        res-sticky-bare-prep res-sticky-bare:bookworm >/dev/null
    docker rm res-sticky-bare-prep >/dev/null
fi
src=$(mktemp -d /var/tmp/res-sticky-bare-src.XXXXXX)
trap 'rm -rf "$src"' EXIT
git clone -q "$repo" "$src/res_sticky"
say "make demo, then make test, in a fresh container (commit $(git -C "$src/res_sticky" rev-parse --short HEAD))"
docker run --rm --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined --network host "${tls[@]}" -v "$src/res_sticky:/src:ro" res-sticky-bare:bookworm bash -c '
    set -e
    git clone -q /src /root/res_sticky && cd /root/res_sticky
    s=$(date +%s); make demo; d=$(( $(date +%s) - s ))
    s=$(date +%s); make test; t=$(( $(date +%s) - s ))
    echo "bare-machine: PASS: make demo ${d} s, make test ${t} s"'

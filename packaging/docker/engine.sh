#!/bin/bash
# Makes sure a Docker engine answers here: installs Debian's docker.io when
# there is no dockerd (as root), and starts dockerd when none answers. It
# runs without iptables or a default bridge: res_sticky's images are built
# and run on the host network. Exits 0 when the engine answers; otherwise
# prints one line saying why and exits 1.
set -uo pipefail
log=${DOCKERD_LOG:-/var/log/res-sticky-dockerd.log}
no() { echo "docker: no Docker engine here: $*"; exit 1; }

docker info >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || no "none answers and starting one needs root"
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    echo "docker: installing docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Retries=3 \
        install -y -qq --no-install-recommends docker.io >/dev/null 2>&1 || no "apt-get install docker.io failed"
fi
docker info >/dev/null 2>&1 && exit 0
echo "docker: starting dockerd (log: $log)"
setsid dockerd --iptables=false --bridge=none >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && exit 0
    kill -0 $! 2>/dev/null || no "dockerd stopped: $(tail -n 1 "$log")"
    sleep 0.5
done
no "dockerd did not answer within 30 s: $(tail -n 1 "$log")"

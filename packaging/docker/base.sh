#!/bin/bash
# Makes the base image res_sticky's Dockerfile starts from, when it is not
# there yet: Debian sid (minbase, or SUITE) by debootstrap, imported with
# `docker import` (no image is pulled from a registry). Cached as IMAGE;
# `docker rmi IMAGE` makes the next `make docker` build it anew.
# Usage: base.sh IMAGE [SUITE]      (SUITE: sid unless given)
set -euo pipefail
image=${1:?usage: base.sh IMAGE [SUITE]}
suite=${2:-sid}
say() { echo "docker: $*"; }
fail() { echo "docker: FAILED: $*" >&2; exit 1; }

if docker image inspect "$image" >/dev/null 2>&1; then
    say "reusing the base image $image"
    exit 0
fi
command -v debootstrap >/dev/null || fail "debootstrap is not installed (packaging/host-setup.sh test installs it)"
# The Debian mirror the host uses, if it names one; else debootstrap's default.
mirror=${STICKY_MIRROR:-$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources | grep -oE '(https?|file)://[^ ]+' | grep -E '/debian/?$' | head -n1 || true)}
dir=$(mktemp -d /var/tmp/res-sticky-docker-base.XXXXXX)
trap 'rm -rf --one-file-system "$dir"' EXIT
start=$(date +%s)
say "debootstrap $suite into $dir (mirror: ${mirror:-the debootstrap default})"
# shellcheck disable=SC2086
debootstrap --variant=minbase "$suite" "$dir" $mirror > "$dir.log" 2>&1 \
    || { tail -n 20 "$dir.log" >&2; fail "debootstrap (log: $dir.log)"; }
rm -f "$dir.log"
# A registry that serves a dated snapshot has expired Release files; images
# never start services while packages are installed; no apt caches kept.
printf 'Acquire::Check-Valid-Until "false";\nAcquire::Retries "3";\nAPT::Install-Recommends "false";\n' \
    > "$dir/etc/apt/apt.conf.d/80res-sticky"
printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" --numeric-owner -c . | docker import -c 'CMD ["/bin/bash"]' - "$image" >/dev/null \
    || fail "docker import"
say "base image $image ready in $(( $(date +%s) - start )) s"

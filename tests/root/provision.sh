#!/bin/bash
# Provisions the Debian sid root that res_sticky's tests (and `make demo`) run
# a real Asterisk 22 in, or reuses the cached one when its package list and
# this script are unchanged. Usage: provision.sh ROOT
#
# Every step that fails stops the run with "provision: FAILED: <step>".
set -euo pipefail

root=${1:?usage: provision.sh ROOT}
here=$(cd "$(dirname "$0")" && pwd)
stamp=$(cat "$here/packages.txt" "$here/install-packages.sh" "$here/provision.sh" | sha256sum | cut -c1-16)

say() { echo "provision: $*"; }
fail() { echo "provision: FAILED: $*" >&2; exit 1; }

# Stops every process whose root directory is inside $1 (Asterisk, databases
# and sipp left over by an interrupted run).
kill_processes_in() {
    local dir=$1 pid link
    for pid in /proc/[0-9]*; do
        link=$(readlink "$pid/root" 2>/dev/null) || continue
        case "$link" in "$dir"|"$dir"/*) kill -9 "${pid#/proc/}" 2>/dev/null || true ;; esac
    done
}

mount_proc() {
    mkdir -p "$1/proc"
    mountpoint -q "$1/proc" || mount -t proc proc "$1/proc" || fail "mount proc in $1"
}

# Removes a root. Its /proc is unmounted first and rm never leaves the root's
# file system, so nothing of the host can be deleted through a mount.
remove_root() {
    local dir=$1
    [ -d "$dir" ] || return 0
    kill_processes_in "$dir"
    if mountpoint -q "$dir/proc"; then umount -l "$dir/proc" || fail "unmount $dir/proc"; fi
    if [ -n "$(awk -v d="$dir/" 'index($2, d) == 1' /proc/mounts)" ]; then
        fail "something is still mounted under $dir; not deleting it"
    fi
    rm -rf --one-file-system "$dir"
}

# The Debian mirror the host itself uses, if it names one; else debootstrap's default.
host_mirror() {
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        | grep -oE '(https?|file)://[^ ]+' | grep -E '/debian/?$' | head -n1 || true)
    echo "$uri"
}

[ "$(id -u)" = 0 ] || fail "must run as root (debootstrap and chroot need it)"

if [ -f "$root/.res-sticky-stamp" ] && [ "$(cat "$root/.res-sticky-stamp")" = "$stamp" ] \
    && [ -x "$root/usr/sbin/asterisk" ]; then
    mount_proc "$root"
    mkdir -p "$root/run/asterisk"
    say "reusing the test root $root"
    exit 0
fi

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    apt-get -o Acquire::Check-Valid-Until=false update -qq || fail "apt-get update on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || fail "install debootstrap on the host"
fi

new="$root.new"
remove_root "$new"
mkdir -p "$(dirname "$root")"
mirror=${STICKY_MIRROR:-$(host_mirror)}
say "debootstrap sid into $new (mirror: ${mirror:-the debootstrap default})"
start=$(date +%s)
# shellcheck disable=SC2086
debootstrap --variant=minbase sid "$new" $mirror > "$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log" >&2; fail "debootstrap (log: $root.debootstrap.log)"; }
mount_proc "$new"
cp "$here/packages.txt" "$here/install-packages.sh" "$new/tmp/"
say "installing $(grep -vc '^#' "$here/packages.txt") packages (Asterisk 22, ODBC drivers, PostgreSQL, MariaDB, sipp)"
chroot "$new" /bin/sh /tmp/install-packages.sh /tmp/packages.txt > "$root.install.log" 2>&1 \
    || { tail -n 20 "$root.install.log" >&2; fail "package installation (log: $root.install.log)"; }
chroot "$new" asterisk -V >/dev/null || fail "asterisk does not run in the new root"
echo "$stamp" > "$new/.res-sticky-stamp"
umount -l "$new/proc"
remove_root "$root"
mv "$new" "$root"
mount_proc "$root"
mkdir -p "$root/run/asterisk"
say "test root ready in $(( $(date +%s) - start )) s: $(chroot "$root" asterisk -V)"

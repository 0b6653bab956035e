#!/bin/bash
# The Debian package as an administrator meets it, in a fresh copy of the
# test root (the shared root itself is never touched): a package for another
# Asterisk build refuses to install; `apt-get install ./res-sticky_*.deb`;
# Asterisk (as the asterisk user, Debian's own configuration) loads the
# module and its help; a call is routed through STICKY_ROUTE; an upgrade
# keeps an edited sticky.conf and the history; remove keeps the conffile,
# purge removes it. Then lintian. Prints "deb-test: PASS" at the end.
#
# Usage: test.sh DEB_DIR ROOT     (DEB_DIR holds the package `make deb` built)
set -euo pipefail
deb_dir=$(cd "${1:?usage: test.sh DEB_DIR ROOT}" && pwd)
root=${2:?usage: test.sh DEB_DIR ROOT}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
copy=${DEB_TEST_DIR:-/var/tmp/res-sticky-deb-test.$$}
client=79123456789
started=$(date +%s)

say() { echo "deb-test: $*"; }
fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }

version=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb="$deb_dir/res-sticky_${version}_${arch}.deb"
[ -f "$deb" ] || fail "$deb does not exist: run make deb"
[ -x "$root/usr/sbin/asterisk" ] || fail "no test root at $root: run make root"

# Everything runs in the copy, in a network namespace of its own (only lo),
# so Debian's default configuration cannot collide with other Asterisks.
inside() { unshare --net sh -c 'ip link set lo up && exec chroot "$0" "$@"' "$copy" "$@"; }
apt_inside() {
    inside env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Check-Valid-Until=false \
        -o APT::Install-Recommends=false "$@"
}
cli() { inside asterisk -rx "$1" 2> >(grep -v 'seeding global EID' >&2); }

stop_everything() {
    local pid link
    for pid in /proc/[0-9]*; do
        link=$(readlink "$pid/root" 2>/dev/null) || continue
        case "$link" in "$copy"|"$copy"/*) kill -9 "${pid#/proc/}" 2>/dev/null || true ;; esac
    done
}
cleanup() {
    [ -d "$copy" ] || return 0
    stop_everything
    sleep 0.2
    mountpoint -q "$copy/proc" && umount -l "$copy/proc"
    if [ -n "$(awk -v d="$copy/" 'index($2, d) == 1' /proc/mounts)" ]; then
        echo "deb-test: something is still mounted under $copy; left in place" >&2
        return 0
    fi
    [ -n "${DEB_TEST_KEEP:-}" ] || rm -rf --one-file-system "$copy"
}
trap cleanup EXIT

# A copy of the root without the shared parts in use: the instance
# directories of running tests (srv), proc, run and tmp.
say "copying the test root into $copy"
mkdir -p "$copy"
for entry in "$root"/* "$root"/.res-sticky-stamp; do
    case "${entry##*/}" in proc|run|tmp|srv) mkdir -p "$copy/${entry##*/}" ;; *) cp -a --reflink=auto "$entry" "$copy/" ;; esac
done
chmod 1777 "$copy/tmp"
mount -t proc proc "$copy/proc"
mkdir -p "$copy/run/asterisk"
inside chown asterisk:asterisk /run/asterisk
say "copy ready in $(( $(date +%s) - started )) s"

# Packages for the test, built like `make deb` with another version or ABI.
work="$copy/tmp/debs"
mkdir -p "$work"
cp "$deb" "$work/"
upgrade_version="$version+upgrade1"
DEB_VERSION=$upgrade_version "$here/build.sh" "$repo/res_sticky.so" "${HEADERS_DIR:-$repo/asterisk-headers}" "$copy" "$work" >/dev/null
wrong="$work/wrong-abi"
dpkg-deb -R "$deb" "$wrong"
sed -i 's/asterisk-abi-[0-9a-f]*/asterisk-abi-00000000000000000000000000000000/' "$wrong/DEBIAN/control"
dpkg-deb --root-owner-group --build "$wrong" "$work/res-sticky_wrong-abi.deb" >/dev/null

say "a package for another Asterisk build refuses to install"
if apt_inside install -y /tmp/debs/res-sticky_wrong-abi.deb > "$work/wrong.log" 2>&1; then
    fail "the package for another ABI was installed"
fi
grep -q "asterisk-abi-00000000000000000000000000000000" "$work/wrong.log" \
    || fail "apt-get did not name the missing ABI: $(tail -n 5 "$work/wrong.log")"
[ ! -e "$copy/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/asterisk/modules/res_sticky.so" ] \
    || fail "the module was installed anyway"

say "apt-get install ./${deb##*/}"
apt_inside install -y "/tmp/debs/${deb##*/}" > "$work/install.log" 2>&1 \
    || fail "apt-get install: $(tail -n 10 "$work/install.log")"
modules_dir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/asterisk/modules
for file in "$modules_dir/res_sticky.so" /usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml \
    /etc/asterisk/sticky.conf /usr/share/doc/res-sticky/copyright /usr/share/doc/res-sticky/changelog.gz; do
    [ -f "$copy$file" ] || fail "$file is not installed"
done
owner=$(inside stat -c '%U:%G %a' /etc/asterisk/sticky.conf)
[ "$owner" = "root:asterisk 640" ] || fail "sticky.conf is $owner, not root:asterisk 640"

# The dialplan of the test: learn that agent 101 answered the client, then
# the client's next call goes through STICKY_ROUTE.
cp "$here/../test-dialplan.conf" "$copy/etc/asterisk/extensions.conf"
# The administrator's edit: agents' states from Custom device states.
sed -i 's/^\[general\]$/[general]\nstate_template = Custom:agent${AGENT}   ; edited by the administrator/' \
    "$copy/etc/asterisk/sticky.conf"
edited=$(md5sum < "$copy/etc/asterisk/sticky.conf")

start_asterisk() {
    inside asterisk -U asterisk -G asterisk || fail "asterisk did not start"
    local i
    for i in $(seq 1 100); do
        cli "core waitfullybooted" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "asterisk did not boot: $(tail -n 20 "$copy/var/log/asterisk/messages.log" 2>/dev/null)"
}
stop_asterisk() {
    local pid i
    pid=$(cat "$copy/run/asterisk/asterisk.pid" 2>/dev/null || true)
    cli "core stop gracefully" >/dev/null 2>&1 || true
    for i in $(seq 1 100); do
        { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; } && return 0
        sleep 0.2
    done
    fail "asterisk did not stop"
}
wait_for() { # wait_for DESCRIPTION COMMAND...: up to 10 s
    local what=$1 i
    shift
    for i in $(seq 1 50); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cli "sticky show status" >&2 || true
    cli "dialplan show globals" >&2 || true
    cli "sticky show history $client" >&2 || true
    tail -n 20 "$copy/var/log/asterisk/messages.log" >&2 2>/dev/null || true
    fail "$what"
}
globals_have() { cli "dialplan show globals" | grep "$1" >/dev/null; }
status_has() { cli "sticky show status" | grep -E "$1" >/dev/null; }
agent_rang() { [ "$(cli "dialplan show globals" | grep -o '101-' | wc -l)" -ge "$1" ]; }
route_call() { # route_call N: the client's call; agent 101 has then rung N times in all
    cli "channel originate Local/s@client extension $client@sticky-in" >/dev/null
    wait_for "STICKY_ROUTE did not route the call" globals_have "ROUTE=ROUTED/101/Local/101@agents"
    wait_for "agent 101 was not rung ($1 calls in all)" agent_rang "$1"
}

say "starting Asterisk (Debian's configuration, as the asterisk user)"
start_asterisk
cli "module show like res_sticky" | grep "res_sticky.so.*Running" >/dev/null \
    || fail "res_sticky is not running: $(grep -i sticky "$copy/var/log/asterisk/messages.log" | tail -n 5)"
cli "core show function STICKY_ROUTE" | grep "A ready Dial() string for the client's sticky agent" >/dev/null \
    || fail "core show function STICKY_ROUTE does not show the packaged help"
cli "core show application SCHEDULE_NOTICE" | grep "Schedule a call to a client that plays a recorded message" >/dev/null \
    || fail "core show application SCHEDULE_NOTICE does not show the packaged help"
cli "devstate change Custom:agent101 NOT_INUSE" >/dev/null

say "a call answered by agent 101, then the client calls back"
cli "channel originate Local/s@client extension $client@learn" >/dev/null
wait_for "no contact learned" status_has 'Contacts learned: +[1-9]'
route_call 2
wait_for "the contact was not written" status_has 'Writes pending: +0( |$)'
stop_asterisk

say "upgrade to $upgrade_version keeps the edited sticky.conf and the history"
apt_inside install -y "/tmp/debs/res-sticky_${upgrade_version}_${arch}.deb" > "$work/upgrade.log" 2>&1 \
    || fail "upgrade: $(tail -n 10 "$work/upgrade.log")"
[ "$(inside dpkg-query -W -f='${Version}' res-sticky)" = "$upgrade_version" ] || fail "not upgraded"
[ "$(md5sum < "$copy/etc/asterisk/sticky.conf")" = "$edited" ] || fail "the upgrade changed the edited sticky.conf"
start_asterisk
cli "devstate change Custom:agent101 NOT_INUSE" >/dev/null
if cli "dialplan show globals" | grep "ROUTE=" >/dev/null; then fail "globals survived the restart"; fi
route_call 1
stop_asterisk

say "remove keeps the conffile, purge removes it"
apt_inside remove -y res-sticky > "$work/remove.log" 2>&1 || fail "remove: $(tail -n 10 "$work/remove.log")"
[ ! -e "$copy$modules_dir/res_sticky.so" ] || fail "remove left the module"
[ ! -e "$copy/usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml" ] || fail "remove left the docs"
[ "$(md5sum < "$copy/etc/asterisk/sticky.conf")" = "$edited" ] || fail "remove did not keep sticky.conf"
[ "$(inside dpkg-query -W -f='${db:Status-Abbrev}' res-sticky)" = "rc " ] || fail "not in state config-files"
apt_inside purge -y res-sticky > "$work/purge.log" 2>&1 || fail "purge: $(tail -n 10 "$work/purge.log")"
[ ! -e "$copy/etc/asterisk/sticky.conf" ] || fail "purge left sticky.conf"
if inside dpkg-query -W res-sticky >/dev/null 2>&1; then fail "dpkg still knows res-sticky after purge"; fi

say "lintian"
lintian_out=$(lintian --info --display-info --pedantic "$deb" 2>&1 | grep -v 'running with root privileges' || true)
if [ -n "$lintian_out" ]; then
    echo "$lintian_out" >&2
    fail "lintian has tags that packaging/deb/lintian-overrides does not explain"
fi
say "PASS in $(( $(date +%s) - started )) s (wrong ABI refused, install, routed call, upgrade, remove, purge, lintian clean)"

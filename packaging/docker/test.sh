#!/bin/bash
# make docker-test: the image a user runs, started as a user would (its own
# configuration mounted in, on a user-defined network): the module loads
# with its help, a call goes through STICKY_ROUTE to the agent who answered
# the client before, a SCHEDULE_NOTICE is delivered by pbx_spool inside the
# container, and `sticky show status` reports what happened.
# Usage: test.sh IMAGE          Prints "docker-test: PASS" at the end.
set -euo pipefail
image=${1:?usage: test.sh IMAGE}
name=res-sticky-test-$$
network=res-sticky-test
client=79123456789
started=$(date +%s)
conf=$(mktemp -d)

say() { echo "docker-test: $*"; }
fail() {
    echo "docker-test: FAILED: $*" >&2
    docker exec "$name" tail -n 20 /var/log/asterisk/messages.log >&2 2>/dev/null || true
    exit 1
}
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$conf"
}
trap cleanup EXIT
cli() { docker exec "$name" asterisk -rx "$1"; }
wait_for() { # wait_for DESCRIPTION COMMAND...: up to 20 s
    local what=$1 i
    shift
    for i in $(seq 1 100); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cli "sticky show status" >&2 || true
    cli "dialplan show globals" >&2 || true
    fail "$what"
}
globals_have() { cli "dialplan show globals" | grep "$1" >/dev/null; }
status_has() { cli "sticky show status" | grep -E "$1" >/dev/null; }

# The administrator's configuration, as it would be mounted into the container.
{
    cat "$(dirname "$0")/../test-dialplan.conf"
    cat <<'DIALPLAN'

[notice-app]
exten => _X.,1,Answer()
 same => n,SCHEDULE_NOTICE(${EXTEN},+3s,hello-world,q)
 same => n,Set(GLOBAL(NOTICE)=${NOTICE_STATUS}/${NOTICE_ID})
 same => n,Hangup()

[notice-client]
exten => _X.,1,Answer()
 same => n,Set(GLOBAL(NOTICE_RANG)=${EXTEN})
 same => n,Wait(10)
 same => n,Hangup()
DIALPLAN
} > "$conf/extensions.conf"
cat > "$conf/sticky.conf" <<'STICKY'
[general]
state_template = Custom:agent${AGENT}

[notice]
notice_dial = Local/${NUMBER}@notice-client
retries = 0
wait_time = 10
STICKY
chmod 0644 "$conf"/*

docker network inspect "$network" >/dev/null 2>&1 || docker network create "$network" >/dev/null \
    || fail "docker network create $network"
say "starting $image as $name"
docker create --name "$name" --network "$network" "$image" >/dev/null
docker cp "$conf/extensions.conf" "$name:/etc/asterisk/extensions.conf"
docker cp "$conf/sticky.conf" "$name:/etc/asterisk/sticky.conf"
docker start "$name" >/dev/null
wait_for "asterisk did not boot" cli "core waitfullybooted"
cli "module show like res_sticky" | grep "res_sticky.so.*Running" >/dev/null || fail "res_sticky is not running"
cli "core show function STICKY_ROUTE" | grep "A ready Dial() string for the client's sticky agent" >/dev/null \
    || fail "core show function STICKY_ROUTE does not show the module's help"
[ -z "$(docker exec "$name" sh -c 'command -v cargo rustc clang gcc cc' || true)" ] \
    || fail "the image holds a compiler"

say "a call answered by agent 101, then the client calls back through STICKY_ROUTE"
cli "devstate change Custom:agent101 NOT_INUSE" >/dev/null
cli "channel originate Local/s@client extension $client@learn" >/dev/null
wait_for "no contact learned" status_has 'Contacts learned: +[1-9]'
cli "channel originate Local/s@client extension $client@sticky-in" >/dev/null
wait_for "STICKY_ROUTE did not route the call" globals_have "ROUTE=ROUTED/101/Local/101@agents"
wait_for "agent 101 was not rung by the routed call" sh -c \
    "[ \$(docker exec $name asterisk -rx 'dialplan show globals' | grep -o '101-' | wc -l) -ge 2 ]"

say "SCHEDULE_NOTICE in 3 s, delivered by pbx_spool"
cli "channel originate Local/s@client extension $client@notice-app" >/dev/null
wait_for "SCHEDULE_NOTICE did not schedule" globals_have "NOTICE=SCHEDULED/"
id=$(cli "dialplan show globals" | sed -n 's/.*NOTICE=SCHEDULED\/\([a-z0-9]*\).*/\1/p' | head -n1)
wait_for "the client was not rung with the notice" globals_have "NOTICE_RANG=$client"
wait_for "the notice did not complete" sh -c \
    "docker exec $name cat /var/spool/asterisk/outgoing_done/sticky-notice-$id.call | grep 'Status: Completed'"

say "sticky show status"
status=$(cli "sticky show status")
echo "$status" | grep -E 'Contacts learned: +[2-9]' >/dev/null || fail "status: $status"
echo "$status" | grep -E 'Writes pending: +0( |$)' >/dev/null \
    || wait_for "the contacts were not written" status_has 'Writes pending: +0( |$)'
cli "sticky show notices" | grep "$id" >/dev/null || fail "sticky show notices does not list $id"
cli "sticky show status" | grep -E 'History|Contacts learned|Writes pending|Lookups' | sed 's/^ */docker-test:   /' 
say "PASS in $(( $(date +%s) - started )) s (module and help, routed call, notice delivered, status)"

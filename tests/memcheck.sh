#!/bin/bash
# make memcheck: integration scenarios (routing, notices, mobile, reload
# loops, a database outage) with Asterisk under valgrind memcheck in the
# test root, one test at a time; then the errors whose stack holds
# res_sticky, apart from Asterisk's own (tests/memcheck-report.py).
#
#   MEMCHECK_TESTS  test names to run (default: the list below)
#   STICKY_SLOWDOWN how many times longer every wait is (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RES_STICKY_SO:?set RES_STICKY_SO to the built res_sticky.so}"
REPORTS="${MEMCHECK_DIR:-$PWD/target/memcheck}"
DEFAULT_TESTS="
a_dropped_caller_reaches_the_same_agent_directly
an_agent_who_called_the_client_gets_the_callback
a_busy_or_unavailable_agent_is_not_rung
cli_shows_agent_and_history_and_flushes_the_cache
a_notice_rings_the_client_at_its_time_and_plays
keyed_in_read_back_and_confirmed
hostile_input_gets_a_clean_status
an_allowed_number_toggles_in_and_out
hostile_numbers_never_reach_an_interface
reload_applies_a_changed_config
a_hundred_reloads_in_a_row
a_database_outage_never_holds_a_call_and_loses_nothing
"
read -r -a TESTS <<<"$(echo ${MEMCHECK_TESTS:-$DEFAULT_TESTS})"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export STICKY_VALGRIND="$REPORTS"
started=$(date +%s)
# Test failures (a timeout even with the longer waits) are reported but do
# not hide the memory figures: those are the point of this run.
tests_status=0
if cargo nextest --version >/dev/null 2>&1; then
    nice -n 10 cargo nextest run --locked --profile memcheck --test '*' "${TESTS[@]}" \
        2>&1 | tee "$REPORTS/tests.log" || tests_status=$?
else
    nice -n 10 cargo test --locked --test '*' -- --test-threads 1 "${TESTS[@]}" \
        2>&1 | tee "$REPORTS/tests.log" || tests_status=$?
fi
echo "tests: exit $tests_status in $(( $(date +%s) - started )) s (log: $REPORTS/tests.log)"
python3 tests/memcheck-report.py "$REPORTS"

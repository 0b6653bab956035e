//! A short soak (`SOAK_MINUTES`, default 2; `make soak` runs a long one):
//! real SIP calls through STICKY_ROUTE with reloads and PostgreSQL stopped,
//! killed, locked and exhausted meanwhile. Asterisk must live, every contact
//! learned must reach the table, and threads must not pile up.

mod common;

#[test]
fn soak_calls_reloads_and_database_faults() {
    let minutes: f64 = std::env::var("SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(2.0);
    let figures = common::soak::run(minutes);
    let report = figures.report();
    println!("{report}");
    assert!(!figures.crashed, "Asterisk crashed:\n{report}");
    assert!(figures.calls_answered > 0 && figures.learned > 0, "{report}");
    assert_eq!(figures.learned, figures.rows, "every contact learned is in the table:\n{report}");
    let statuses: u64 = figures.statuses.values().sum();
    assert!(statuses > 0, "{report}");
    // Under database faults a call still never waits long: query_timeout
    // plus scheduling on a loaded machine, never a driver's timeout.
    assert!(figures.max_wait_ms < 2_000, "{report}");
    let (first, last) = (figures.samples.first().unwrap(), figures.samples.last().unwrap());
    assert!(last.1 <= first.1 + 8, "threads grew from {} to {}:\n{report}", first.1, last.1);
}

//! `sticky import cdr` is a batch job inside a PBX: Asterisk's memory stays
//! bounded by the batch, not by the size of the cdr table. SQLite's ODBC
//! driver holds a whole result set in memory, so its table is read in pages;
//! psqlODBC is told to fetch a PostgreSQL table in pieces.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::calls::*;
use common::db::{sqlite, Kind, Server};

/// Rows in the table: 200,000, or IMPORT_ROWS (the 1M / 10M figures of
/// RELIABILITY.md were taken that way; the bound holds for any size).
fn rows() -> u64 {
    std::env::var("IMPORT_ROWS").ok().and_then(|rows| rows.parse().ok()).unwrap_or(200_000)
}

fn rss_kb(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("VmRSS")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).unwrap_or(0)
}

/// Runs `sticky import cdr 3` on `asterisk`, sampling its RSS every 50 ms:
/// (before, peak, after) in kB; the import must read and import `rows`.
fn import_measured(asterisk: &common::Asterisk, rows: u64, what: &str) -> (u64, u64, u64) {
    let pid = asterisk.pid().expect("running");
    let before = rss_kb(pid);
    let (done, peak) = (AtomicBool::new(false), AtomicU64::new(before));
    let output = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max(rss_kb(pid), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // Up to an hour (10M rows take minutes); the sampler stops either way.
        let output = asterisk.slow_cli("sticky import cdr 3", 3600);
        done.store(true, Ordering::SeqCst);
        output.expect("the import command ran")
    });
    assert!(output.contains(&format!("{rows} rows read, {rows} contacts imported")), "{output}");
    let (peak, after) = (peak.load(Ordering::SeqCst), rss_kb(pid));
    println!(
        "import of {rows} {what} cdr rows: RSS {} MB before, {} MB at the peak, {} MB after",
        before / 1024,
        peak / 1024,
        after / 1024
    );
    (before, peak, after)
}

#[test]
fn a_sqlite_import_of_a_big_table_keeps_memory_flat() {
    let rows = rows();
    let (asterisk, _ami) = start_routing("impmem", &routing_sticky());
    sqlite(
        &asterisk,
        &format!(
            "CREATE TABLE cdr (calldate TEXT NOT NULL, src VARCHAR(80), dst VARCHAR(80), channel VARCHAR(80), \
             dstchannel VARCHAR(80), lastapp VARCHAR(80), lastdata VARCHAR(80), disposition VARCHAR(45), \
             uniqueid VARCHAR(32)); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
             INSERT INTO cdr SELECT datetime('now', 'localtime', '-' || (i % 3000) || ' minutes'), \
             '7916' || (1000000 + i), '100', 'PJSIP/trunk-' || i, 'PJSIP/2' || (i % 50) || '-' || i, 'Dial', '', \
             'ANSWERED', '1.' || i FROM n; CREATE INDEX cdr_calldate ON cdr (calldate); ANALYZE;"
        ),
    );
    let (before, peak, _) = import_measured(&asterisk, rows, "SQLite");
    // The whole result set held took 84 MB more here (about 430 bytes a
    // row); one page of 10,000 rows and a batch of 2,000 contacts are a few MB.
    assert!(peak - before < 40 * 1024, "RSS grew {} MB during the import", (peak - before) / 1024);
}

#[test]
fn a_postgres_import_of_a_big_table_keeps_memory_flat() {
    let rows = rows();
    let server = Server::start(Kind::Postgres, "impmem-pg");
    server.sql(&format!(
        "CREATE TABLE cdr (calldate TIMESTAMP NOT NULL, src VARCHAR(80), dst VARCHAR(80), channel VARCHAR(80), \
         dstchannel VARCHAR(80), lastapp VARCHAR(80), lastdata VARCHAR(80), disposition VARCHAR(45), \
         uniqueid VARCHAR(32)); \
         INSERT INTO cdr SELECT localtimestamp - (i % 3000) * interval '1 minute', '7916' || (1000000 + i), '100', \
         'PJSIP/trunk-' || i, 'PJSIP/2' || (i % 50) || '-' || i, 'Dial', '', 'ANSWERED', '1.' || i \
         FROM generate_series(1, {rows}) AS i; CREATE INDEX cdr_calldate ON cdr (calldate); ANALYZE cdr;"
    ));
    let sticky = format!("{}dsn = {}\n", routing_sticky(), server.dsn_for_conf());
    let (asterisk, _ami) = start_routing("impmem-pg", &sticky);
    let (before, peak, _) = import_measured(&asterisk, rows, "PostgreSQL");
    // psqlODBC is told to fetch in pieces (UseDeclareFetch): a whole result
    // set held would be hundreds of bytes a row.
    assert!(peak - before < 40 * 1024, "RSS grew {} MB during the import", (peak - before) / 1024);
}

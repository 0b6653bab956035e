//! The history store heals itself: tables dropped by hand under a running
//! Asterisk (during traffic), or while it was stopped with `sticky_schema`
//! kept, are made again; no contact learned meanwhile is lost, callbacks
//! are routed and `sticky import cdr` works. The same cases on SQLite,
//! PostgreSQL and MariaDB.

mod common;

use common::calls::*;
use common::db::{sqlite, Kind, Server};
use common::Asterisk;

const CLIENT: &str = "79123456789";

/// The dialect bits of the cases: SQL run on the database itself, and a
/// calldate two hours ago in its own terms.
struct Database<'a> {
    sql: &'a dyn Fn(&Asterisk, &str) -> String,
    calldate_type: &'a str,
    two_hours_ago: &'a str,
}

fn count(db: &Database, asterisk: &Asterisk) -> u64 {
    let text = (db.sql)(asterisk, "SELECT count(*) FROM sticky_history");
    text.trim().parse().unwrap_or_else(|_| panic!("count: {text}"))
}

fn said(asterisk: &Asterisk, needle: &str) -> usize {
    asterisk.log().matches(needle).count()
}

/// Waits until the log has said `needle` `times` times.
fn logged(asterisk: &Asterisk, needle: &str, times: usize) {
    let seen = common::wait_for(WAIT, || (asterisk.log().matches(needle).count() >= times).then_some(()));
    assert!(seen.is_some(), "{needle:?} not logged {times} time(s):\n{}", asterisk.tail_of_log(30));
}

fn healing_cases(test: &str, sticky: &str, db: &Database) {
    let (mut asterisk, ami) = start_routing(test, sticky);
    (db.sql)(
        &asterisk,
        &format!(
            "CREATE TABLE cdr (calldate {} NOT NULL, src VARCHAR(80), dst VARCHAR(80), channel VARCHAR(80), \
             dstchannel VARCHAR(80), lastapp VARCHAR(80), lastdata VARCHAR(80), disposition VARCHAR(45), \
             uniqueid VARCHAR(32))",
            db.calldate_type
        ),
    );
    (db.sql)(
        &asterisk,
        &format!(
            "INSERT INTO cdr VALUES ({}, '79161112233', '100', 'PJSIP/trunk-00000001', 'PJSIP/201-00000002', \
             'Dial', '', 'ANSWERED', '1.1')",
            db.two_hours_ago
        ),
    );
    inbound(&asterisk, &ami, CLIENT, "102");
    writes_done(&asterisk);
    assert_eq!(count(db, &asterisk), 1);

    // 1. sticky_history dropped under traffic: the next read and the next
    // writes meet no table; it is made again and they go through.
    let made = "made again: sticky_history";
    let heals = said(&asterisk, made);
    (db.sql)(&asterisk, "DROP TABLE sticky_history");
    let before = learned_count(&asterisk);
    let unknown = client_calls(&ami, "79120000001", &[("NOQUEUE", "1")]);
    assert_eq!(unknown.get("Status"), Some("NOHISTORY"), "the read was retried once healed: {unknown:?}");
    inbound(&asterisk, &ami, "74950001122", "101");
    outbound(&asterisk, &ami, "103", "79555000103", "client");
    inbound(&asterisk, &ami, "79555000104", "102");
    writes_done(&asterisk);
    let gained = learned_count(&asterisk) - before;
    let stored = count(db, &asterisk);
    println!("{test}: sticky_history dropped under traffic: {gained} learned after the drop, {stored} stored");
    assert_eq!((gained, stored), (3, 3), "no contact lost");
    logged(&asterisk, made, heals + 1);

    // 2. sticky_forget dropped: `sticky forget` makes it again and works.
    (db.sql)(&asterisk, "DROP TABLE sticky_forget");
    let forgot = asterisk.cli("sticky forget 79555000104");
    assert!(forgot.contains("1 stored contact(s) erased"), "{forgot}");
    assert_eq!(count(db, &asterisk), 2);
    logged(&asterisk, "made again: sticky_forget", 1);

    // 3. An import right after a drop: its writes heal the table.
    let heals = said(&asterisk, made);
    (db.sql)(&asterisk, "DROP TABLE sticky_history");
    let imported = asterisk.cli("sticky import cdr 1");
    assert!(imported.contains("1 rows read, 1 contacts imported"), "{imported}");
    assert_eq!(count(db, &asterisk), 1);
    logged(&asterisk, made, heals + 1);

    // 4. Dropped while Asterisk is stopped, sticky_schema kept: made again
    // at the start; contacts learned then are stored; after one more
    // restart (an empty cache) the callback is routed from the table, and
    // an import works.
    drop(ami);
    let stopped = asterisk.stop_with("core stop gracefully", WAIT).expect("stopped");
    assert!(stopped.success());
    (db.sql)(&asterisk, "DROP TABLE sticky_history");
    let version = (db.sql)(&asterisk, "SELECT MAX(version) FROM sticky_schema");
    assert_eq!(version.trim(), "2", "sticky_schema kept");
    asterisk.start_again();
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    let before = learned_count(&asterisk);
    inbound(&asterisk, &ami, "79555000105", "103");
    inbound(&asterisk, &ami, CLIENT, "101");
    writes_done(&asterisk);
    let gained = learned_count(&asterisk) - before;
    let stored = count(db, &asterisk);
    println!("{test}: sticky_history dropped while stopped: {gained} learned after the restart, {stored} stored");
    assert_eq!((gained, stored), (2, 2), "no contact lost");
    logged(&asterisk, "sticky_schema records layout version 2 but these were not there", 1);
    drop(ami);
    asterisk.restart();
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    let before = learned_count(&asterisk);
    let callback = client_calls(&ami, CLIENT, &[]);
    assert_eq!((callback.get("Status"), callback.get("Agent")), (Some("ROUTED"), Some("101")), "{callback:?}");
    let imported = asterisk.cli("sticky import cdr 1");
    assert!(imported.contains("1 rows read, 1 contacts imported"), "{imported}");
    learned(&asterisk, before + 1);
    writes_done(&asterisk);
    assert_eq!(count(db, &asterisk), 3 + 1, "two learned, the callback and the import");
    // What the driver said, for the record (SQLSTATE and words).
    for line in asterisk.log().lines().filter(|line| line.contains("met a missing table")) {
        println!("{test}: {line}");
    }
    let pending = status_field(&asterisk, "Writes pending");
    assert!(pending.ends_with("0 dropped)"), "{pending}");
}

#[test]
fn sqlite_heals_dropped_tables() {
    let db = Database {
        sql: &|asterisk, query| sqlite(asterisk, query),
        calldate_type: "TEXT",
        two_hours_ago: "datetime('now', 'localtime', '-2 hours')",
    };
    healing_cases("healsqlite", &routing_sticky(), &db);
}

#[test]
fn postgres_heals_dropped_tables() {
    let server = Server::start(Kind::Postgres, "healpg");
    let db = Database {
        sql: &|_, query| server.sql(query),
        calldate_type: "TIMESTAMP",
        two_hours_ago: "LOCALTIMESTAMP - INTERVAL '2 hours'",
    };
    healing_cases("healpg", &format!("{}dsn = {}\n", routing_sticky(), server.dsn_for_conf()), &db);
}

#[test]
fn mariadb_heals_dropped_tables() {
    let server = Server::start(Kind::MariaDb, "healmy");
    let db = Database {
        sql: &|_, query| server.sql(&format!("USE sticky; {query}")),
        calldate_type: "DATETIME",
        two_hours_ago: "NOW() - INTERVAL 2 HOUR",
    };
    healing_cases("healmy", &format!("{}dsn = {}\n", routing_sticky(), server.dsn_for_conf()), &db);
}

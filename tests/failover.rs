//! PostgreSQL high availability as PostgreSQL users run it: a primary and a
//! streaming-replication standby (pg_basebackup), the DSN naming both hosts
//! with libpq's `target_session_attrs=read-write`. The primary stops during
//! traffic and the standby is promoted: calls keep flowing, none waits past
//! `query_timeout`, the pool finds the new primary by itself and every
//! contact learned is stored there. A standby that answers a write
//! (SQLSTATE 25006) is taken for what it is, not the primary: the contacts
//! wait for one.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::ami::Ami;
use common::calls::*;
use common::db::{Kind, Server};
use common::{wait_for, Asterisk};

const QUERY_TIMEOUT_MS: i64 = 500;

/// sticky.conf for a DSN (semicolons escaped) with a short deadline and sync.
fn sticky_for(dsn: &str) -> String {
    format!("{}dsn = {dsn}\nquery_timeout = {QUERY_TIMEOUT_MS}ms\nsync_interval = 500ms\n", routing_sticky())
}

/// Both hosts, one port (psqlODBC's Port field holds 9 characters), and
/// libpq told to settle only on a server that takes writes.
fn both_hosts(primary: &Server, standby: &Server) -> String {
    assert_eq!(primary.port, standby.port);
    format!(
        "Driver=PostgreSQL Unicode\\;Servername={},{}\\;Port={}\\;Database=postgres\\;Uid=sticky\\;Pwd=unused\\;\
         pqopt={{target_session_attrs=read-write}}",
        primary.host, standby.host, primary.port
    )
}

fn rows(server: &Server) -> u64 {
    server.sql("SELECT count(*) FROM sticky_history").trim().parse().expect("a count")
}

/// Waits until `server` (a standby) has replayed `count` rows.
fn replayed(server: &Server, count: u64) {
    let seen = wait_for(WAIT, || (rows(server) >= count).then_some(()));
    assert!(seen.is_some(), "the standby has {} rows, not {count}", rows(server));
}

/// Steady traffic, a round at a time: a client answered by an agent (a
/// contact learned) and a caller with no history (a store read the call
/// waits for, the one a database outage could hold).
#[derive(Default)]
struct Traffic {
    rounds: u32,
    worst_ms: i64,
    statuses: BTreeMap<String, u32>,
}

impl Traffic {
    fn round(&mut self, asterisk: &Asterisk, ami: &Ami) {
        let i = self.rounds;
        self.rounds += 1;
        let agent = ["101", "102", "103"][i as usize % 3];
        inbound(asterisk, ami, &format!("7916{i:07}"), agent);
        let call = client_calls(ami, &format!("7917{i:07}"), &[("NOQUEUE", "1")]);
        let waited: i64 = call.get("Elapsed").and_then(|e| e.parse().ok()).expect("Elapsed");
        self.worst_ms = self.worst_ms.max(waited);
        *self.statuses.entry(call.get("Status").unwrap_or("?").to_string()).or_default() += 1;
    }

    /// Rounds for about `time`.
    fn for_about(&mut self, asterisk: &Asterisk, ami: &Ami, time: Duration) {
        let started = Instant::now();
        while started.elapsed() < time {
            self.round(asterisk, ami);
        }
    }
}

/// Waits until the module says the database is up again.
fn database_up(asterisk: &Asterisk) {
    let up =
        wait_for(Duration::from_secs(30), || (status_field(asterisk, "Database") == "up (PostgreSQL)").then_some(()));
    assert!(up.is_some(), "{}", asterisk.cli("sticky show status"));
}

#[test]
fn postgres_failover_to_a_promoted_standby_keeps_calls_flowing_and_every_contact() {
    let mut primary = Server::start(Kind::Postgres, "failover-primary");
    let standby = Server::standby_of(&primary, "failover-standby");
    let (asterisk, ami) = start_routing("failover", &sticky_for(&both_hosts(&primary, &standby)));
    let mut traffic = Traffic::default();
    for _ in 0..4 {
        traffic.round(&asterisk, &ami);
    }
    writes_done(&asterisk);
    assert_eq!(rows(&primary), 4, "written to the primary");
    replayed(&standby, 4);

    // The primary stops (its standby has every committed row: a fast
    // shutdown sends the last WAL first); for a while there is no primary
    // at all, then the standby is promoted. Traffic goes on throughout.
    primary.stop();
    let switch = Instant::now();
    traffic.for_about(&asterisk, &ami, Duration::from_secs(4));
    let during = traffic.rounds - 4;
    standby.promote();
    println!("failover: standby promoted {:?} after the primary stopped", switch.elapsed());
    traffic.for_about(&asterisk, &ami, Duration::from_secs(3));

    // The pool reaches the new primary by itself: what waited is written.
    writes_done(&asterisk);
    database_up(&asterisk);
    let learned = learned_count(&asterisk);
    let stored = rows(&standby);
    println!(
        "failover: {} rounds ({during} with no primary), learned {learned}, stored on the new primary {stored}, \
         longest STICKY_ROUTE hold {} ms (query_timeout {QUERY_TIMEOUT_MS} ms), statuses {:?}",
        traffic.rounds, traffic.worst_ms, traffic.statuses
    );
    assert_eq!(learned, u64::from(traffic.rounds), "one contact a round");
    assert_eq!(stored, learned, "learned = stored");
    assert!(during >= 1, "calls went on while there was no primary");
    // query_timeout plus a loaded machine's scheduling (scaled under
    // valgrind): no call is held for a connection that cannot come.
    let bound = (QUERY_TIMEOUT_MS + 1500) * i64::from(common::asterisk::slowdown());
    assert!(traffic.worst_ms < bound, "a call was held {} ms", traffic.worst_ms);
    assert!(asterisk.log().contains("history database answers again"), "{}", asterisk.tail_of_log(30));

    // Reads reach the new primary too: a contact another server wrote there.
    standby.sql(
        "INSERT INTO sticky_history (number_key, agent_id, agent_interface, direction, disposition, started_at, \
         node, call_id, client_number, scope) VALUES ('9180000001', '103', 'Local/103@agents', 'in', 'ANSWERED', \
         (extract(epoch from now()) * 1000)::bigint, 'other', 'other:1', '79180000001', '')",
    );
    let callback = client_calls(&ami, "79180000001", &[("NOQUEUE", "1")]);
    assert_eq!((callback.get("Status"), callback.get("Agent")), (Some("ROUTED"), Some("103")), "{callback:?}");
}

#[test]
fn a_read_only_standby_is_not_the_primary_and_loses_no_contact() {
    let primary = Server::start(Kind::Postgres, "readonly-primary");
    let standby = Server::standby_of(&primary, "readonly-standby");
    let (asterisk, ami) = start_routing("readonly", &sticky_for(&primary.dsn_for_conf()));
    inbound(&asterisk, &ami, "79160000001", "101");
    writes_done(&asterisk);
    replayed(&standby, 1);

    // The DSN now names the standby alone (a managed database's endpoint
    // pointing at a replica, a DSN written for the wrong host): every write
    // meets SQLSTATE 25006.
    asterisk.write_config("sticky.conf", &sticky_for(&standby.dsn_for_conf()));
    asterisk.cli("module reload res_sticky.so");
    for (i, agent) in ["102", "103", "101"].iter().enumerate() {
        inbound(&asterisk, &ami, &format!("7916000001{i}"), agent);
    }
    let said = "a read-only standby answered, not the primary";
    assert!(asterisk.wait_for_log(said, WAIT), "{}", asterisk.tail_of_log(30));
    assert!(asterisk.log().contains("25006"), "the driver's SQLSTATE is in the log line");
    assert!(status_field(&asterisk, "Writes pending").starts_with("3 "), "{}", asterisk.cli("sticky show status"));
    assert_eq!(rows(&standby), 1, "nothing written to a standby");

    // Promoted: the same DSN now reaches a primary; the contacts go in.
    standby.promote();
    writes_done(&asterisk);
    database_up(&asterisk);
    assert_eq!(rows(&standby), 4, "learned = stored");
    assert_eq!(learned_count(&asterisk), 4);
    assert!(status_field(&asterisk, "Writes pending").ends_with("0 dropped)"));
}

//! What contact centres need beyond the recipes: scopes (departments,
//! tenants), callers waiting for their busy agent, an AMI event per decision
//! and the stats of how routed calls ended, forgetting a client, pruning old
//! history, and the store's layout versions.

mod common;

use std::time::{Duration, Instant};

use common::ami::{Ami, Message};
use common::calls::*;
use common::db::{sqlite, Kind, Server};
use common::{field, wait_for, Asterisk};

const CLIENT: &str = "79123456789";

fn sticky_with(dsn: &str, extra: &str) -> String {
    format!("{}dsn = {dsn}\n{extra}", routing_sticky())
}

/// A client's call answered by `agent`, in `scope`.
fn inbound_in(asterisk: &Asterisk, ami: &Ami, scope: &str, client: &str, agent: &str) {
    let before = learned_count(asterisk);
    ami.originate(
        &format!("Local/{client}@client"),
        "scoped",
        "direct",
        &format!("<{client}>"),
        &[("SCOPE", scope), ("AGENT", agent)],
    );
    learned(asterisk, before + 1);
}

/// The client calls the sticky entry point of `scope`; its StickyRoute
/// UserEvent.
fn calls_in(ami: &Ami, scope: &str, client: &str, variables: &[(&str, &str)]) -> Message {
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    let mut all = vec![("SCOPE", scope)];
    all.extend_from_slice(variables);
    ami.originate(&format!("Local/{client}@client"), "scoped", "sticky", &format!("<{client}>"), &all);
    let events = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("StickyRoute"));
    assert!(events.len() > before, "no StickyRoute event for {client}");
    events[before].clone()
}

#[test]
fn a_sales_client_is_not_routed_to_sales_when_calling_support() {
    let (asterisk, ami) = start_routing("scopes", &routing_sticky());
    inbound_in(&asterisk, &ami, "sales", CLIENT, "101");
    let support = calls_in(&ami, "support", CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(support.get("Status"), Some("NOHISTORY"), "{support:?}");
    let sales = calls_in(&ami, "sales", CLIENT, &[]);
    assert_eq!((sales.get("Status"), sales.get("Agent")), (Some("ROUTED"), Some("101")), "{sales:?}");
    let anywhere = client_calls(&ami, CLIENT, &[]);
    assert_eq!(anywhere.get("Status"), Some("ROUTED"), "without a scope, every scope counts");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,,support)")), "");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,,sales)")), "101");
    let history = asterisk.cli(&format!("sticky show history {CLIENT}"));
    assert!(history.lines().any(|l| l.contains("101") && l.contains("sales")), "{history}");
    // An outbound contact is scoped too.
    ami.originate("Local/102@agents", "scoped-out", "79120000007", "<102>", &[("SCOPE", "support"), ("TALK", "3")]);
    let done = ami.wait(WAIT, |m| m.is_user_event("OutboundDone") && m.get("Client") == Some("79120000007"));
    assert_eq!(done.and_then(|m| m.get("DialStatus").map(str::to_string)).as_deref(), Some("ANSWER"));
    let scoped = wait_for(WAIT, || (asterisk.eval("LAST_AGENT(79120000007,,o,support)") == "102").then_some(()));
    assert!(scoped.is_some(), "{}", asterisk.cli("sticky show history 79120000007"));
    assert_eq!(asterisk.eval("LAST_AGENT(79120000007,,o,sales)"), "");
    // A scope is checked like every value a caller reaches.
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,,sa;les)")), "");
    assert!(asterisk.wait_for_log("is not a scope", WAIT), "{}", asterisk.tail_of_log(5));
}

#[test]
fn queue_calls_take_the_queue_as_their_scope() {
    let (asterisk, ami) = start_routing("queuescope", &format!("{}scope_from_queue = yes\n", routing_sticky()));
    let first = client_calls(&ami, CLIENT, &[]);
    assert_eq!(first.get("Status"), Some("NOHISTORY"));
    assert!(agent_rang(&ami, "102", 1), "the queue hands the call to 102");
    learned(&asterisk, 1);
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,,support)")), "102");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,,sales)")), "");
}

#[test]
fn two_tenants_share_one_postgres() {
    let server = Server::start(Kind::Postgres, "tenants");
    let sticky = sticky_with(&server.dsn_for_conf(), "sync_interval = 500ms\n");
    let (one, one_ami) = start_routing("tenant-one", &sticky);
    let (two, two_ami) = start_routing("tenant-two", &sticky);
    inbound_in(&one, &one_ami, "tenant-a", CLIENT, "102");
    writes_done(&one);
    let other_tenant = calls_in(&two_ami, "tenant-b", CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(other_tenant.get("Status"), Some("NOHISTORY"), "{other_tenant:?}");
    let same_tenant = calls_in(&two_ami, "tenant-a", CLIENT, &[]);
    assert_eq!((same_tenant.get("Status"), same_tenant.get("Agent")), (Some("ROUTED"), Some("102")));
    let scopes = server.sql("SELECT scope, count(*) FROM sticky_history GROUP BY scope ORDER BY scope");
    assert!(scopes.contains("tenant-a|"), "{scopes}");
    drop(two);
}

#[test]
fn a_caller_waits_for_the_busy_agent_and_is_routed_when_free() {
    let (asterisk, ami) = start_routing("waiting", &routing_sticky());
    inbound(&asterisk, &ami, CLIENT, "101");
    set_state(&asterisk, "101", "INUSE");
    let started = Instant::now();
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    ami.originate(
        &format!("Local/{CLIENT}@client"),
        "sticky-in",
        "100",
        &format!("<{CLIENT}>"),
        &[("OPTIONS", "w(20)m")],
    );
    assert!(asterisk.wait_for_log("waits up to 20s for Custom:agent101", WAIT), "{}", asterisk.tail_of_log(10));
    let waiting = wait_for(WAIT, || {
        asterisk.cli("sticky show stats").contains("1 caller(s) waiting for their agent now").then_some(())
    });
    assert!(waiting.is_some(), "{}", asterisk.cli("sticky show stats"));
    assert_eq!(ami.all(|m| m.is_user_event("StickyRoute")).len(), before, "still waiting");
    // The agent's call ends: the device-state change releases the caller.
    set_state(&asterisk, "101", "NOT_INUSE");
    let routed = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("StickyRoute"));
    let routed = &routed[before];
    assert_eq!((routed.get("Status"), routed.get("Agent")), (Some("ROUTED"), Some("101")), "{routed:?}");
    // Released by the change, not by the end of its 20 s wait (that answers BUSY).
    println!("waited {:?} for the agent", started.elapsed());
    assert!(agent_rang(&ami, "101", 2), "the agent's phone rang");
}

#[test]
fn a_wait_asked_for_from_ami_is_not_honoured_and_never_crashes() {
    let (asterisk, ami) = start_routing("amiwait", &routing_sticky());
    inbound(&asterisk, &ami, CLIENT, "101");
    set_state(&asterisk, "101", "INUSE");
    // AMI's Getvar without a channel reads the function on a channel that
    // has no driver: ringing or music there would take Asterisk down.
    for options in ["w(5)r", "w(5)m", "w(5)"] {
        let started = Instant::now();
        let answer = ami.action("Getvar", &[("Variable", &format!("STICKY_ROUTE({CLIENT},,{options})"))]);
        assert_eq!(answer.get("Response"), Some("Success"), "{answer:?}");
        assert_eq!(answer.get("Value"), Some(""), "BUSY: the usual path");
        assert!(started.elapsed() < Duration::from_secs(4), "not waited: {:?}", started.elapsed());
    }
    assert!(asterisk.log().contains("option w is honoured only in the dialplan of the caller's own channel"));
    assert_eq!(asterisk.eval(&format!("STICKY_ROUTE({CLIENT},,w(5)m)")), "", "from the CLI too");
    assert!(asterisk.cli("core show version").contains("Asterisk"), "still up");
}

#[test]
fn several_callers_wait_the_longest_first_and_a_hang_up_ends_a_wait() {
    let (asterisk, ami) = start_routing("waitqueue", &routing_sticky());
    for client in ["79120000001", "79120000002", "79120000003"] {
        inbound(&asterisk, &ami, client, "101");
    }
    set_state(&asterisk, "101", "INUSE");
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    for (index, client) in ["79120000001", "79120000002", "79120000003"].into_iter().enumerate() {
        ami.originate(
            &format!("Local/{client}@client"),
            "sticky-in",
            "100",
            &format!("<{client}>"),
            &[("OPTIONS", "w(30)r")],
        );
        // Each caller is waiting before the next one calls: their order is known.
        let waiting = wait_for(WAIT, || {
            let text = asterisk.cli("sticky show stats");
            let count = text.lines().find_map(|l| l.strip_suffix(" caller(s) waiting for their agent now"));
            count.and_then(|n| n.trim().parse::<usize>().ok()).filter(|&n| n == index + 1)
        });
        assert!(waiting.is_some(), "{}", asterisk.cli("sticky show stats"));
    }
    let waiting = |n: usize| {
        wait_for(WAIT, || {
            asterisk
                .cli("sticky show stats")
                .contains(&format!("{n} caller(s) waiting for their agent now"))
                .then_some(())
        })
        .is_some()
    };
    assert!(waiting(3), "{}", asterisk.cli("sticky show stats"));
    // The third caller hangs up while waiting.
    let channels = asterisk.cli("core show channels concise");
    let third = channels
        .lines()
        .find(|l| l.starts_with("Local/79120000003@client") && l.contains("sticky-in"))
        .and_then(|l| l.split('!').next())
        .unwrap_or_else(|| panic!("{channels}"))
        .to_string();
    asterisk.cli(&format!("channel request hangup {third}"));
    let hangup = ami.wait(WAIT, |m| m.is_event("StickyRoute") && m.get("Status") == Some("HANGUP")).expect("HANGUP");
    assert_eq!(hangup.get("Number"), Some("9120000003"));
    assert!(waiting(2));
    // One change: only the longest waiting is released.
    set_state(&asterisk, "101", "NOT_INUSE");
    let first = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("StickyRoute"));
    assert_eq!(first[before].get("Caller"), Some("79120000001"), "{:?}", first[before]);
    assert_eq!(first[before].get("Status"), Some("ROUTED"));
    assert!(waiting(1), "the second still waits");
    set_state(&asterisk, "101", "INUSE");
    set_state(&asterisk, "101", "NOT_INUSE");
    let second = ami.wait_nth(before + 2, WAIT, |m| m.is_user_event("StickyRoute"));
    assert_eq!(second[before + 1].get("Caller"), Some("79120000002"));
    assert_eq!(second[before + 1].get("Status"), Some("ROUTED"));
    assert!(waiting(0));
}

#[test]
fn every_decision_is_an_ami_event_and_routed_calls_are_followed() {
    let (asterisk, ami) = start_routing("events", &routing_sticky());
    inbound_in(&asterisk, &ami, "sales", CLIENT, "102");
    let routed = calls_in(&ami, "sales", CLIENT, &[]);
    assert_eq!(routed.get("Status"), Some("ROUTED"));
    let event = ami.wait(WAIT, |m| m.is_event("StickyRoute") && m.get("Status") == Some("ROUTED")).expect("AMI event");
    assert_eq!(event.get("Number"), Some("9123456789"));
    assert_eq!(event.get("Scope"), Some("sales"));
    assert_eq!(event.get("Agent"), Some("102"));
    assert_eq!(event.get("Interface"), Some("Local/102@agents"));
    assert!(event.get("Channel").unwrap_or_default().starts_with("Local/79123456789@client-"), "{event:?}");
    assert!(!event.get("Uniqueid").unwrap_or_default().is_empty());
    assert!(event.get("LookupMicros").unwrap_or_default().parse::<u64>().is_ok(), "{event:?}");
    let documented = asterisk.cli("manager show event StickyRoute");
    assert!(documented.contains("LookupMicros"), "the event is documented: {documented}");
    // The sticky agent answered: the stats say so once the call's CDR is in.
    assert!(agent_rang(&ami, "102", 2));
    let answered = wait_for(WAIT, || {
        let stats = asterisk.cli("sticky show stats");
        (field(&stats, "answered by the agent") == "1 /        1").then_some(stats)
    });
    let stats = answered.unwrap_or_else(|| asterisk.cli("sticky show stats"));
    assert!(stats.contains("Scope sales"), "{stats}");
    assert!(stats.contains("ROUTED") && stats.contains("100%"), "{stats}");
    let busy = {
        set_state(&asterisk, "102", "INUSE");
        calls_in(&ami, "sales", CLIENT, &[("NOQUEUE", "1")])
    };
    assert_eq!(busy.get("Status"), Some("BUSY"));
    let stats = asterisk.cli("sticky show stats");
    assert_eq!(field(&stats, "fallbacks"), "1 /        1", "{stats}");
}

#[test]
fn a_forgotten_client_is_gone_from_every_server() {
    let server = Server::start(Kind::Postgres, "forget");
    let sticky = sticky_with(&server.dsn_for_conf(), "sync_interval = 500ms\n");
    let (one, one_ami) = start_routing("forget-one", &sticky);
    let (two, _two_ami) = start_routing("forget-two", &sticky);
    inbound(&one, &one_ami, CLIENT, "101");
    inbound(&one, &one_ami, "79120000009", "101");
    writes_done(&one);
    assert_eq!(two.eval(&format!("LAST_AGENT({CLIENT})")), "101", "two cached it");
    let output = one.cli(&format!("sticky forget {CLIENT}"));
    assert!(output.contains("1 stored contact(s) erased"), "{output}");
    assert_eq!(server.sql("SELECT count(*) FROM sticky_history WHERE number_key = '9123456789'").trim(), "0");
    assert_eq!(server.sql("SELECT count(*) FROM sticky_history").trim(), "1", "other clients stay");
    assert_eq!(one.eval(&format!("LAST_AGENT({CLIENT})")), "");
    let gone =
        wait_for(Duration::from_secs(5), || (two.eval(&format!("LAST_AGENT({CLIENT})")).is_empty()).then_some(()));
    assert!(gone.is_some(), "the other server dropped it within its sync_interval");
    let log = one.log();
    assert!(log.contains("a client's history was forgotten at the CLI"), "logged");
    assert!(!log.lines().any(|l| l.contains("forgotten") && l.contains("9123456789")), "without the number");
}

#[test]
fn a_number_forgotten_during_an_outage_leaves_the_journal_too() {
    let mut server = Server::start(Kind::Postgres, "forgetdown");
    let (asterisk, ami) = start_routing("forgetdown", &sticky_with(&server.dsn_for_conf(), ""));
    server.stop();
    inbound(&asterisk, &ami, CLIENT, "101");
    inbound(&asterisk, &ami, "79120000009", "102");
    let committed = wait_for(WAIT, || {
        let text = status_field(&asterisk, "Journal");
        text.contains("2 committed").then_some(())
    });
    assert!(committed.is_some(), "{}", asterisk.cli("sticky show status"));
    let output = asterisk.cli(&format!("sticky forget {CLIENT}"));
    assert!(output.contains("could not be reached"), "{output}");
    let journal = std::fs::read_dir(asterisk.dir.join("db/sticky-journal")).unwrap();
    for segment in journal {
        let text = std::fs::read_to_string(segment.unwrap().path()).unwrap();
        assert!(!text.lines().any(|l| l.contains("\t101\t")), "the forgotten contact is gone: {text}");
    }
    server.run();
    writes_done(&asterisk);
    assert_eq!(server.sql("SELECT number_key FROM sticky_history").trim(), "9120000009", "only the other one");
}

#[test]
fn contacts_older_than_the_retention_are_pruned() {
    let (asterisk, ami) = start_routing("retention", &format!("{}retention = 1d\n", routing_sticky()));
    inbound(&asterisk, &ami, CLIENT, "101");
    writes_done(&asterisk);
    let old = now_ms() - 3 * 86_400_000;
    for i in 0..5 {
        sqlite(
            &asterisk,
            &format!(
                "INSERT INTO sticky_history (number_key, agent_id, agent_interface, direction, disposition, \
                 started_at, node, call_id, client_number, scope) VALUES ('912000001{i}', '101', 'Local/101@agents', \
                 'in', 'ANSWERED', {old}, 'n', 'old:{i}', '7912000001{i}', '')"
            ),
        );
    }
    // The pruner runs soon after a start: a reload that changes it restarts it.
    asterisk.write_config("sticky.conf", &format!("{}retention = 2d\n", routing_sticky()));
    asterisk.cli("module reload res_sticky.so");
    let pruned =
        wait_for(WAIT, || (sqlite(&asterisk, "SELECT count(*) FROM sticky_history").trim() == "1").then_some(()));
    assert!(pruned.is_some(), "{}", sqlite(&asterisk, "SELECT count(*) FROM sticky_history"));
    // Whichever pruner got there (the one of the start or the reload's),
    // the log counts the five.
    let logged = wait_for(WAIT, || {
        let pruned: u64 = asterisk
            .log()
            .lines()
            .filter_map(|l| {
                l.split("pruned ").nth(1)?.strip_suffix(" contact(s) older than the retention")?.parse::<u64>().ok()
            })
            .sum();
        (pruned == 5).then_some(())
    });
    assert!(logged.is_some(), "{}", asterisk.tail_of_log(10));
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "101", "recent contacts stay");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The first layout (no scope, no versions), as the first release made it.
const LAYOUT_1: [&str; 4] = [
    "CREATE TABLE sticky_history (id {ID}, number_key VARCHAR(20) NOT NULL, agent_id VARCHAR(120) NOT NULL, \
     agent_interface VARCHAR(120) NOT NULL, direction VARCHAR(3) NOT NULL, disposition VARCHAR(16) NOT NULL, \
     started_at BIGINT NOT NULL, node VARCHAR(64) NOT NULL, call_id VARCHAR(190) NOT NULL, \
     client_number VARCHAR(24) NOT NULL)",
    "CREATE INDEX sticky_history_number ON sticky_history (number_key, started_at)",
    "CREATE UNIQUE INDEX sticky_history_call ON sticky_history (call_id)",
    "CREATE INDEX sticky_history_agent ON sticky_history (agent_id, started_at)",
];

fn layout_1_rows() -> String {
    let at = now_ms() - 60_000;
    (0..3)
        .map(|i| {
            format!(
                "INSERT INTO sticky_history (number_key, agent_id, agent_interface, direction, disposition, \
                 started_at, node, call_id, client_number) VALUES ('912345678{i}', '10{i}', 'Local/10{i}@agents', \
                 'in', 'ANSWERED', {at}, 'old', 'v1:{i}', '+7912345678{i}')"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Tables and rows of the first layout are upgraded in place and route.
fn upgraded(test: &str, dsn: &str, sql: &dyn Fn(&str) -> String) {
    let (asterisk, _ami) = start_routing(test, &sticky_with(dsn, ""));
    for i in 0..3 {
        assert_eq!(asterisk.eval(&format!("LAST_AGENT(7912345678{i})")), format!("10{i}"), "row {i} routes");
    }
    assert!(asterisk.log().contains("the history table was upgraded to layout version 2"));
    assert_eq!(sql("SELECT count(*) FROM sticky_history").trim(), "3", "no row lost");
    assert_eq!(sql("SELECT MAX(version) FROM sticky_schema").trim(), "2");
    assert_eq!(sql("SELECT count(*) FROM sticky_history WHERE scope = ''").trim(), "3");
}

#[test]
fn the_first_layout_is_upgraded_in_place_on_postgres() {
    let server = Server::start(Kind::Postgres, "upgradepg");
    for statement in LAYOUT_1 {
        server.sql(&statement.replace("{ID}", "BIGSERIAL PRIMARY KEY"));
    }
    server.sql(&layout_1_rows());
    upgraded("upgradepg", &server.dsn_for_conf(), &|query| server.sql(query));
}

#[test]
fn the_first_layout_is_upgraded_in_place_on_mariadb() {
    let server = Server::start(Kind::MariaDb, "upgrademy");
    for statement in LAYOUT_1 {
        server.sql(&format!("USE sticky; {}", statement.replace("{ID}", "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY")));
    }
    server.sql(&format!("USE sticky; {}", layout_1_rows()));
    upgraded("upgrademy", &server.dsn_for_conf(), &|query| server.sql(&format!("USE sticky; {query}")));
}

#[test]
fn the_first_layout_is_upgraded_in_place_on_sqlite() {
    let asterisk = Asterisk::start("upgradesqlite", routing_options(&routing_sticky()));
    // A file with the first layout, next to the module's own; the reload
    // points dsn at it.
    let file = format!("{}/db/v1.sqlite3", asterisk.dir_inside);
    let script = LAYOUT_1.map(|s| s.replace("{ID}", "INTEGER PRIMARY KEY AUTOINCREMENT")).join("; ");
    let output = common::root::root().run("sqlite3", &[&file, &format!("{script}; {}", layout_1_rows())]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let dsn = format!("Driver=SQLite3\\;Database={file}");
    asterisk.write_config("sticky.conf", &sticky_with(&dsn, ""));
    asterisk.cli("module reload res_sticky.so");
    for i in 0..3 {
        assert_eq!(asterisk.eval(&format!("LAST_AGENT(7912345678{i})")), format!("10{i}"), "row {i} routes");
    }
    let sql = |query: &str| {
        let output = common::root::root().run("sqlite3", &[&file, query]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(sql("SELECT count(*) FROM sticky_history").trim(), "3");
    assert_eq!(sql("SELECT MAX(version) FROM sticky_schema").trim(), "2");
}

#[test]
fn a_newer_layout_is_refused_not_misread() {
    let server = Server::start(Kind::Postgres, "newer");
    server.sql("CREATE TABLE sticky_schema (version INTEGER NOT NULL); INSERT INTO sticky_schema VALUES (3)");
    let (asterisk, ami) = start_routing("newer", &sticky_with(&server.dsn_for_conf(), ""));
    let call = client_calls(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(call.get("Status"), Some("ERROR"), "{call:?}");
    assert!(
        asterisk.wait_for_log("layout version 3, newer than this res_sticky knows (2)", WAIT),
        "{}",
        asterisk.tail_of_log(10)
    );
    assert!(server.sql_try("SELECT count(*) FROM sticky_history").is_err(), "no table made over a newer layout");
}

//! Nothing lost, nothing stuck: contacts survive `kill -9` during a database
//! outage (the journal), a journal cut short is read safely, rows written
//! into a shared table by others are never dialled unless a live call could
//! have produced them, the module refuses to be unloaded under running
//! work, and stopping or reloading with a database that silently drops
//! packets returns within a bound.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::calls::*;
use common::db::{sqlite, Kind, Server};
use common::{base64, field, wait_for, Asterisk, Options};

const CLIENT: &str = "79123456789";

fn sticky_with(dsn: &str, extra: &str) -> String {
    format!("{}dsn = {dsn}\n{extra}", routing_sticky())
}

/// The journal's counters from `sticky show status`: (segments, committed).
fn journal(asterisk: &Asterisk) -> (u64, u64) {
    let text = status_field(asterisk, "Journal");
    let number = |suffix: &str| {
        text.split([',', ';'])
            .find_map(|part| part.trim().strip_suffix(suffix).map(str::trim).and_then(|n| n.parse().ok()))
            .unwrap_or_else(|| panic!("no '{suffix}' in Journal: {text}"))
    };
    let segments = text.split_whitespace().next().and_then(|n| n.parse().ok()).expect("segments");
    (segments, number("committed"))
}

fn journal_files(asterisk: &Asterisk) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(asterisk.dir.join("db/sticky-journal"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn contacts_survive_kill_9_during_an_outage() {
    let mut server = Server::start(Kind::Postgres, "kill9");
    let (mut asterisk, ami) = start_routing("kill9", &sticky_with(&server.dsn_for_conf(), ""));
    inbound(&asterisk, &ami, CLIENT, "102");
    writes_done(&asterisk);
    // Whether that first contact reached the journal depends on the writer
    // storing it within its commit window: count from here.
    let before = journal(&asterisk).1;
    server.stop();
    for i in 0..6 {
        inbound(&asterisk, &ami, &format!("795550001{i:02}"), "101");
    }
    // Each contact is on disk within one group commit (100 ms).
    let committed = wait_for(WAIT, || (journal(&asterisk).1 >= before + 6).then_some(()));
    assert!(committed.is_some(), "{}", asterisk.cli("sticky show status"));
    drop(ami);
    asterisk.kill();
    assert!(!journal_files(&asterisk).is_empty(), "the journal is on disk");
    server.run();
    asterisk.start_again();
    writes_done(&asterisk);
    let rows = server.sql("SELECT count(*) FROM sticky_history WHERE number_key LIKE '95550001%'");
    assert_eq!(rows.trim(), "6", "all six contacts learned before the kill reached the table");
    assert!(asterisk.log().contains("writing 6 contact(s) kept in the journal"), "{}", asterisk.tail_of_log(20));
    assert!(wait_for(WAIT, || journal_files(&asterisk).is_empty().then_some(())).is_some(), "and left the journal");
}

#[test]
fn calls_cut_off_by_sigterm_are_still_learned() {
    // CDRs in batches (cdr.conf batch = yes): on SIGTERM Asterisk hangs up
    // every call, and the CDR engine posts their records only while it
    // exits, after the modules' exit handlers have run.
    let batch =
        "[general]\nenable = yes\nunanswered = yes\nbatch = yes\nsize = 1000\ntime = 3600\nsafeshutdown = yes\n";
    let mut asterisk = Asterisk::start("sigterm", routing_options(&routing_sticky()).file("cdr.conf", batch));
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    ami.originate("Local/79555000400@client", "direct-in", "103", "<79555000400>", &[("TALK", "60")]);
    ami.originate("Local/79555000401@client", "direct-in", "102", "<79555000401>", &[("TALK", "60")]);
    assert!(agent_rang(&ami, "103", 1) && agent_rang(&ami, "102", 1), "the agents answered");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(learned_count(&asterisk), 0, "both calls are up");
    drop(ami);
    let pid = asterisk.pid().expect("running").to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(wait_for(Duration::from_secs(30), || (!asterisk.is_running()).then_some(())).is_some(), "exited");
    asterisk.start_again();
    writes_done(&asterisk);
    assert_eq!(asterisk.eval("LAST_AGENT(79555000400)"), "103", "{}", asterisk.tail_of_log(30));
    assert_eq!(asterisk.eval("LAST_AGENT(79555000401)"), "102");
}

#[test]
fn a_journal_cut_short_loses_only_the_record_cut() {
    let mut server = Server::start(Kind::Postgres, "torn");
    let (mut asterisk, ami) = start_routing("torn", &sticky_with(&server.dsn_for_conf(), ""));
    let before = journal(&asterisk).1;
    server.stop();
    for i in 0..3 {
        inbound(&asterisk, &ami, &format!("795550002{i:02}"), "101");
    }
    assert!(wait_for(WAIT, || (journal(&asterisk).1 >= before + 3).then_some(())).is_some());
    drop(ami);
    asterisk.kill();
    // A crash in the middle of a write: the last record is cut in half.
    let files = journal_files(&asterisk);
    let last = files.last().expect("a journal segment");
    let bytes = fs::read(last).unwrap();
    let records: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    assert_eq!(records.len(), 3, "three records");
    let keep = bytes.len() - records[2].len() / 2;
    fs::write(last, &bytes[..keep]).unwrap();
    server.run();
    asterisk.start_again();
    writes_done(&asterisk);
    assert!(asterisk.log().contains("skipped 1 record(s) cut short or damaged"), "{}", asterisk.tail_of_log(20));
    let rows = server.sql("SELECT number_key FROM sticky_history ORDER BY number_key");
    assert_eq!(rows.split_whitespace().collect::<Vec<_>>(), ["9555000200", "9555000201"], "never misread");
}

#[test]
fn rows_written_into_the_table_by_others_are_never_dialled() {
    let (asterisk, ami) = start_routing("hostilerows", &routing_sticky());
    inbound(&asterisk, &ami, CLIENT, "102");
    writes_done(&asterisk);
    // Anyone with INSERT on a shared table could write these.
    let rows = [
        ("9000000001", "trunk", "PJSIP/trunk/sip:+19005550100@evil.example"),
        ("9000000002", "0090012345", "Local/0090012345@from-internal"),
        ("9000000003", "102:secret@evil", "SIP/102:secret@evil"),
        ("9000000004", "102", "PJSIP/103"),
    ];
    for (number, id, interface) in rows {
        sqlite(
            &asterisk,
            &format!(
                "INSERT INTO sticky_history (number_key, agent_id, agent_interface, direction, disposition, \
                 started_at, node, call_id, client_number) VALUES ('{number}', '{id}', '{interface}', 'in', \
                 'ANSWERED', {}, 'elsewhere', 'evil:{number}', '7{number}')",
                now_ms() - 60_000
            ),
        );
    }
    set_state(&asterisk, "102", "NOT_INUSE");
    for (number, _, interface) in rows {
        let call = client_calls(&ami, &format!("7{number}"), &[("NOQUEUE", "1")]);
        assert_eq!(call.get("Status"), Some("NOHISTORY"), "{interface}: {call:?}");
        assert_eq!(call.get("Target"), Some(""), "{interface}");
    }
    // Each read of a row counts: the lookups' four, and again whenever the
    // sync poller happens to merge them into the cached numbers meanwhile.
    let refused = status_field(&asterisk, "Refused rows");
    let count: u64 = refused.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(count >= 4 && refused.ends_with("(agents agent_pattern does not accept)"), "refused: {refused}");
    let good = client_calls(&ami, CLIENT, &[]);
    assert_eq!(good.get("Status"), Some("ROUTED"), "a real contact still routes");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn a_forced_unload_is_refused_while_an_import_runs() {
    let server = Server::start(Kind::Postgres, "unloadf");
    server.sql(
        "CREATE TABLE cdr (calldate timestamp NOT NULL, clid varchar(80), src varchar(80), dst varchar(80), \
         dcontext varchar(80), channel varchar(80), dstchannel varchar(80), lastapp varchar(80), \
         lastdata varchar(80), duration integer, billsec integer, disposition varchar(45), amaflags integer, \
         accountcode varchar(20), uniqueid varchar(32), userfield varchar(255)); \
         INSERT INTO cdr (calldate, src, dst, channel, dstchannel, disposition, uniqueid) \
         VALUES (now() - interval '1 hour', '79161112233', '100', 'PJSIP/trunk-1', 'PJSIP/201-2', 'ANSWERED', 'u1')",
    );
    // The import's query takes five seconds (a big table, say).
    let query = "import_query = SELECT calldate, src, dst, channel, dstchannel, disposition, uniqueid FROM cdr \
                 WHERE calldate >= CAST(? AS TIMESTAMP) AND pg_sleep(5) IS NOT NULL\n";
    let (asterisk, _ami) = start_routing("unloadf", &sticky_with(&server.dsn_for_conf(), query));
    std::thread::scope(|scope| {
        let import = scope.spawn(|| asterisk.cli("sticky import cdr 1"));
        // The import's query is running in the database (its pg_sleep).
        let importing = || {
            server
                .sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
                 AND query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
                )
                .trim()
                == "1"
        };
        assert!(wait_for(WAIT, || importing().then_some(())).is_some(), "the import's query never ran");
        asterisk.cli("module unload -f res_sticky.so");
        assert!(importing(), "the forced unload came while the import ran");
        let modules = asterisk.cli("module show like res_sticky");
        assert!(modules.contains("Running") && !modules.contains("Not Running"), "still loaded: {modules}");
        assert!(asterisk.log().contains("res_sticky stays loaded"), "{}", asterisk.tail_of_log(10));
        let output = import.join().unwrap();
        assert!(output.contains("sticky import cdr: 1 rows read, 1 contacts imported"), "{output}");
    });
    assert_eq!(asterisk.eval("LAST_AGENT(79161112233)"), "201", "the module works on");
    assert!(asterisk.cli("core show version").contains("Asterisk 22"));
}

#[test]
fn stop_and_reload_return_with_a_database_that_drops_every_packet() {
    let server = Server::start_isolated(Kind::Postgres, "blackhole");
    let sticky = sticky_with(&server.dsn_for_conf(), "query_timeout = 250ms\n");
    let (mut asterisk, ami) = start_routing("blackhole", &sticky);
    inbound(&asterisk, &ami, CLIENT, "102");
    writes_done(&asterisk);
    server.black_hole();
    // Calls go on: a cached client is routed, an unknown one falls back.
    assert_eq!(client_calls(&ami, CLIENT, &[]).get("Status"), Some("ROUTED"));
    let unknown = client_calls(&ami, "79120000001", &[("NOQUEUE", "1")]);
    assert_eq!(unknown.get("Status"), Some("ERROR"), "{unknown:?}");
    inbound(&asterisk, &ami, "79555000301", "101");
    // A reload that restarts the workers, and a graceful stop: both return.
    asterisk.write_config("sticky.conf", &sticky.replace("query_timeout = 250ms", "query_timeout = 300ms"));
    let started = Instant::now();
    asterisk.cli("module reload res_sticky.so");
    let reload = started.elapsed();
    assert!(reload < Duration::from_secs(20), "module reload took {reload:?}");
    assert_eq!(status_field(&asterisk, "Query timeout"), "300ms", "the reload went through");
    drop(ami);
    let started = Instant::now();
    let stopped = asterisk.stop_with("core stop gracefully", Duration::from_secs(60));
    let stop = started.elapsed();
    assert!(stopped.is_some_and(|s| s.success()), "core stop gracefully ended Asterisk");
    assert!(stop < Duration::from_secs(30), "core stop gracefully took {stop:?}");
    println!("black-holed database: reload {reload:?}, graceful stop {stop:?}");
    assert!(asterisk.log().contains("res_sticky unloaded"));
    server.restore();
}

#[test]
fn the_last_client_option_answers_within_query_timeout_with_the_database_down() {
    let mut server = Server::start(Kind::Postgres, "lastdown");
    let notice = "[notice]\nnotice_dial = Local/${NUMBER}@notice-client\ntimezone = Europe/Moscow\n";
    let options = routing_options(&sticky_with(&server.dsn_for_conf(), &format!("query_timeout = 250ms\n{notice}")));
    let extensions = options.files.iter().find(|(n, _)| n == "extensions.conf").unwrap().1.clone();
    let notice_dialplan =
        fs::read_to_string(common::root::manifest_dir().join("tests/asterisk/notice/extensions.conf")).unwrap();
    let options =
        Options { files: vec![("extensions.conf".into(), format!("{extensions}\n{notice_dialplan}"))], ..options };
    let asterisk = Asterisk::start("lastdown", options);
    let ami = asterisk.ami();
    server.stop();
    let started = Instant::now();
    ami.originate("Local/101@notice-last", "client-hold", "s", "<101>", &[]);
    let done = ami.wait(WAIT, |m| m.is_user_event("NoticeDone") && m.get("Index") == Some("last")).expect("done");
    let took = started.elapsed();
    assert_eq!(done.get("Status"), Some("INVALID_NUMBER"), "no last client known: {done:?}");
    assert!(asterisk.log().contains("the last client of 101 is unknown"), "{}", asterisk.tail_of_log(10));
    // Originate and the Local channels take some of it; the store's answer
    // is bounded by query_timeout (250 ms), not the pool's 2 s checkout.
    assert!(took < Duration::from_millis(1500), "SCHEDULE_NOTICE with option l took {took:?}");
}

#[test]
fn a_flood_of_spoofed_caller_ids_keeps_the_lockout_table_small() {
    let mobile =
        |name: &str| fs::read_to_string(common::root::manifest_dir().join("tests/asterisk/mobile").join(name)).unwrap();
    let sticky = mobile("sticky.conf").replace("lockout = 10s", "lockout = 2s");
    let options = Options::sticky(&sticky)
        .file("extensions.conf", &mobile("extensions.conf"))
        .file("queues.conf", &mobile("queues.conf"));
    let asterisk = Asterisk::start("mobileflood", options);
    let ami = asterisk.ami();
    let remembered = || {
        let text = asterisk.cli("sticky show mobile");
        field(&text, "Numbers with failed logins remembered").split_whitespace().next().unwrap_or("").to_string()
    };
    // Callers, each with a different unlisted number: each refusal is
    // remembered while it can still count towards a lockout (2 s here).
    let flood = |first: usize, count: usize| {
        for i in first..first + count {
            let number = format!("7999{i:07}");
            ami.originate(
                "Local/s@hold",
                "mobile-login",
                "4580",
                "<0>",
                &[("INDEX", &i.to_string()), ("NUMBER_B64", &base64(number.as_bytes())), ("OPTS", "q")],
            );
        }
        let answered = ami.wait_nth(first + count, Duration::from_secs(60), |m| m.is_user_event("Mobile"));
        assert_eq!(answered.len(), first + count);
        assert!(answered.iter().all(|m| m.get("Status") == Some("DENIED")));
    };
    flood(0, 100);
    assert_eq!(remembered(), "100");
    std::thread::sleep(Duration::from_millis(2500));
    flood(100, 100);
    let left: usize = remembered().parse().unwrap();
    assert!(left < 130, "the first wave's expired refusals were forgotten: {left} remembered");
}

//! `make bench`: lookups per call, side by side in one run on one machine —
//! res_sticky's cache hit and store read against the usual func_odbc query for
//! the last manager on a cdr table (PostgreSQL), all timed by the same dialplan loop.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::time::Duration;

use common::ami::Ami;
use common::db::{Kind, Server};
use common::root::manifest_dir;
use common::{Asterisk, Options};

const NUMBER: &str = "79123456789";

fn extensions() -> String {
    fs::read_to_string(manifest_dir().join("tests/asterisk/bench/extensions.conf")).unwrap()
}

/// Ten calls of `call` (with `#` replaced by the call's index 0–9).
fn body(call: &str) -> String {
    (0..10).map(|i| call.replace('#', &i.to_string())).collect()
}

/// Runs `case` `iterations` times in the dialplan; microseconds per call.
fn run(ami: &Ami, case: &str, iterations: u32) -> (f64, String) {
    let call = match case {
        "len" => "${LEN(${NUMBER})}",
        "hit" => "${LAST_AGENT(${NUMBER})}",
        "route" => "${STICKY_ROUTE(${NUMBER})}",
        "miss" => "${LAST_AGENT(7${I}#0000000)}",
        "odbc" => "${ODBC_FINDMGR(${NUMBER:-10})}",
        other => panic!("no case {other}"),
    };
    ami.clear();
    ami.originate(
        "Local/s@hold",
        "bench",
        "run",
        "<100>",
        &[("N", &iterations.to_string()), ("NUMBER", NUMBER), ("CASE", case), ("BODY", &body(call))],
    );
    let event = ami
        .wait(Duration::from_secs(600), |m| m.is_user_event("Bench") && m.get("Case") == Some(case))
        .expect("benchmark finished");
    let micros: f64 = event.get("Micros").unwrap().parse().unwrap();
    (micros / (iterations as f64 * 10.0), event.get("Last").unwrap_or_default().to_string())
}

fn main() {
    let rows: u32 = std::env::var("BENCH_CDR_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    println!("res_sticky benchmark: Asterisk 22 in the test root, 2 cores, one run");
    let server = Server::start(Kind::Postgres, "bench");
    println!("  filling a FreePBX-layout cdr table in PostgreSQL with {rows} rows...");
    server.sql(
        "CREATE TABLE cdr (calldate timestamp NOT NULL, clid varchar(80), src varchar(80), dst varchar(80), \
         dcontext varchar(80), channel varchar(80), dstchannel varchar(80), lastapp varchar(80), lastdata varchar(80), \
         duration integer, billsec integer, disposition varchar(45), amaflags integer, accountcode varchar(20), \
         uniqueid varchar(32), userfield varchar(255))",
    );
    server.sql(&format!(
        "INSERT INTO cdr (calldate, src, dst, channel, dstchannel, disposition, uniqueid) \
         SELECT now() - (i % 2592000) * interval '1 second', (100 + i % 50)::text, '79' || lpad((i % 900000)::text, 9, '0'), \
         'PJSIP/' || (100 + i % 50) || '-' || i, 'PJSIP/trunk-' || i, \
         (ARRAY['ANSWERED','NO ANSWER','BUSY','FAILED'])[1 + i % 4], i::text FROM generate_series(1, {rows}) AS i"
    ));
    server.sql(&format!(
        "INSERT INTO cdr (calldate, src, dst, channel, dstchannel, disposition, uniqueid) VALUES \
         (now() - interval '1 hour', '105', '{NUMBER}', 'PJSIP/105-1', 'PJSIP/trunk-1', 'ANSWERED', 'x')"
    ));
    server.sql("CREATE INDEX cdr_calldate ON cdr (calldate); CREATE INDEX cdr_src ON cdr (src); ANALYZE cdr");

    let odbc_ini = format!(
        "[bench]\nDriver = PostgreSQL Unicode\nServername = 127.0.0.1\nPort = {}\nDatabase = postgres\nUsername = sticky\n",
        server.port
    );
    let res_odbc = "[bench]\nenabled => yes\ndsn => bench\npre-connect => yes\nmax_connections => 4\n";
    // The usual last-manager query on cdr, in PostgreSQL's dialect (the one
    // circulating is MySQL's).
    let func_odbc = "[FINDMGR]\ndsn = bench\nreadsql = SELECT src FROM cdr WHERE dst LIKE '%${SQL_ESC(${ARG1})}' \
                     AND calldate BETWEEN now() - interval '1 day' AND now() \
                     AND disposition IN ('ANSWERED','NO ANSWER','BUSY') ORDER BY calldate DESC LIMIT 1\n";
    let setup = |test: &str, sticky: &str| {
        let mut options = Options::sticky(sticky)
            .file("extensions.conf", &extensions())
            .file("res_odbc.conf", res_odbc)
            .file("func_odbc.conf", func_odbc)
            .file("odbc.ini", &odbc_ini)
            .file("logger.conf", "[logfiles]\nfull => notice,warning,error\n");
        options.env.push(("ODBCINI".into(), "@DIR@/etc/odbc.ini".into()));
        let asterisk = Asterisk::start(test, options);
        // Logging every dialplan step would be most of what is measured.
        asterisk.cli("core set verbose 0");
        let ami = asterisk.ami_user_events();
        (asterisk, ami)
    };
    let (sqlite, sqlite_ami) = setup("bench-sqlite", "[general]\n");
    let (pg, pg_ami) = setup("bench-pg", &format!("[general]\ndsn = {}\n", server.dsn_for_conf()));
    // Warm up: connections open, the benchmark number cached.
    for ami in [&sqlite_ami, &pg_ami] {
        run(ami, "hit", 10);
        run(ami, "miss", 10);
    }
    run(&sqlite_ami, "odbc", 5);

    let mut results = Vec::new();
    let mut add = |label: &str, (micros, last): (f64, String)| {
        results.push((label.to_string(), micros, last));
    };
    add("${LEN()} (the loop and EVAL alone)", run(&sqlite_ami, "len", 5_000));
    add("LAST_AGENT, cached number", run(&sqlite_ami, "hit", 5_000));
    add("STICKY_ROUTE, cached number", run(&sqlite_ami, "route", 5_000));
    add("LAST_AGENT, new number, SQLite read", run(&sqlite_ami, "miss", 300));
    add("LAST_AGENT, new number, PostgreSQL read", run(&pg_ami, "miss", 300));
    let odbc = run(&sqlite_ami, "odbc", 20);
    assert!(odbc.1.starts_with("105"), "func_odbc found the manager: {}", odbc.1);
    add(&format!("func_odbc last-manager query, {rows}-row cdr"), odbc);
    let baseline = results.last().unwrap().1;
    println!("\n  {:<52} {:>12} {:>12}", "per call, ten per dialplan loop iteration", "time", "vs func_odbc");
    for (label, micros, _) in &results {
        let time = if *micros >= 1000.0 { format!("{:.2} ms", micros / 1000.0) } else { format!("{micros:.1} us") };
        println!("  {label:<52} {time:>12} {:>11.4}x", micros / baseline);
    }
    let status = sqlite.cli("sticky show status");
    println!("\n  sticky show status (SQLite instance): {}", common::field(&status, "Lookups"));
    println!("  sticky show status (PostgreSQL instance): {}", common::field(&pg.cli("sticky show status"), "Lookups"));
}

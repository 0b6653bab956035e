//! res_sticky's metrics in Asterisk's own `/metrics` (res_http +
//! res_prometheus): scraped over HTTP, checked by Prometheus's own linter
//! (`promtool check metrics`), following calls, a database outage and
//! hostile scope names, and res_prometheus loaded, unloaded and reloaded
//! around res_sticky.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ami::Ami;
use common::asterisk::free_port;
use common::calls::*;
use common::db::{Kind, Server};
use common::root::manifest_dir;
use common::{wait_for, Asterisk, Options};

const CLIENT: &str = "79123456789";

/// A dialplan loop: STICKY_ROUTE in COUNT distinct scopes `h0`, `h1`, …
/// (with an unusable number: the scope is counted, no store is read).
const HOSTILE: &str = "
[scopes]
exten => s,1,Answer()
 same => n,Set(I=0)
 same => n,While($[${I} < ${COUNT}])
 same => n,Set(T=${STICKY_ROUTE(1,,,h${I})})
 same => n,Set(I=$[${I} + 1])
 same => n,EndWhile()
 same => n,UserEvent(ScopesDone,Count: ${I})
 same => n,Hangup()
";

/// The routing test set-up, with the HTTP server on `port` and
/// res_prometheus loaded at start when `at_start`.
fn options(sticky: &str, port: u16, at_start: bool) -> Options {
    let mut options = routing_options(sticky);
    let modules = std::fs::read_to_string(manifest_dir().join("tests/asterisk/modules.conf")).unwrap();
    let modules = if at_start { format!("{modules}load = res_prometheus.so\n") } else { modules };
    let extensions = options.files.iter().find(|(name, _)| name == "extensions.conf").unwrap().1.clone();
    options = options
        .file("modules.conf", &modules)
        .file("extensions.conf", &format!("{extensions}{HOSTILE}"))
        .file("http.conf", &format!("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {port}\n"))
        .file("prometheus.conf", "[general]\nenabled = yes\ncore_metrics_enabled = yes\nuri = metrics\n");
    options
}

fn start(test: &str, sticky: &str, at_start: bool) -> (Asterisk, Ami, u16) {
    let port = free_port();
    let asterisk = Asterisk::start(test, options(sticky, port, at_start));
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    (asterisk, ami, port)
}

/// `GET /metrics` with a real HTTP client.
fn scrape(port: u16) -> String {
    let response = ureq::get(&format!("http://127.0.0.1:{port}/metrics"))
        .timeout(Duration::from_secs(10))
        .call()
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    assert_eq!(response.status(), 200);
    response.into_string().expect("a text body")
}

/// Our lines of a scrape (families and series).
fn ours(text: &str) -> String {
    text.lines()
        .filter(|line| {
            line.starts_with("asterisk_sticky_")
                || line
                    .strip_prefix("# HELP ")
                    .or(line.strip_prefix("# TYPE "))
                    .is_some_and(|l| l.starts_with("asterisk_sticky_"))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn series(text: &str) -> usize {
    ours(text).lines().filter(|line| !line.starts_with('#')).count()
}

/// A series' value; `None` when absent.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `promtool check metrics` (Debian's prometheus package) on `text`: the
/// parser must take it and the linter find nothing.
fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (packaging/host-packages: prometheus, purpose test; make setup-test installs it)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
}

/// How many times our families appear (0: not registered; 2: twice).
fn registrations(text: &str) -> usize {
    text.lines().filter(|line| *line == "# TYPE asterisk_sticky_lookups_total counter").count()
}

fn wait_registrations(port: u16, count: usize) -> String {
    let found = wait_for(Duration::from_secs(10), || {
        let text = scrape(port);
        (registrations(&text) == count).then_some(text)
    });
    found.unwrap_or_else(|| panic!("not {count} registration(s): {}", scrape(port)))
}

#[test]
fn a_routed_callback_raises_routed_by_exactly_one_and_promtool_accepts_the_scrape() {
    let (asterisk, ami, port) = start("metrics", &routing_sticky(), true);
    let text = scrape(port);
    assert_eq!(registrations(&text), 1, "{text}");
    assert!(text.contains("asterisk_core_"), "Asterisk's own series are there too");
    promtool(&ours(&text));
    let routed = "asterisk_sticky_lookups_total{scope=\"(none)\",status=\"ROUTED\"}";
    let before = value(&text, routed).unwrap_or(0.0);

    inbound(&asterisk, &ami, CLIENT, "102");
    let call = client_calls(&ami, CLIENT, &[]);
    assert_eq!(call.get("Status"), Some("ROUTED"), "{call:?}");
    assert!(agent_rang(&ami, "102", 1));
    let text = scrape(port);
    promtool(&ours(&text));
    assert_eq!(value(&text, routed), Some(before + 1.0), "{}", ours(&text));
    assert!(value(&text, "asterisk_sticky_cache_hits_total").unwrap() >= 1.0);
    assert!(value(&text, "asterisk_sticky_contacts_learned_total").unwrap() >= 1.0);
    assert_eq!(value(&text, "asterisk_sticky_breaker_state{state=\"closed\"}"), Some(1.0));
    let answered = wait_for(Duration::from_secs(20), || {
        value(&scrape(port), "asterisk_sticky_routed_answered_total{scope=\"(none)\"}").filter(|v| *v >= 1.0)
    });
    assert!(answered.is_some(), "the routed call counted as answered by its agent: {}", ours(&scrape(port)));
    let count = value(&text, "asterisk_sticky_lookup_duration_seconds_count").unwrap();
    assert!(count >= 1.0 && value(&text, "asterisk_sticky_lookup_duration_seconds_bucket{le=\"+Inf\"}") == Some(count));
    let status = asterisk.cli("sticky show status");
    assert!(status.contains("STICKY_ROUTE:") && status.contains("ROUTED 1"), "{status}");
    assert!(status.contains("last scrape"), "{status}");
    println!("metrics: {} series of ours, {} lines in all", series(&text), text.lines().count());
}

#[test]
fn hostile_scope_names_keep_the_series_count_bounded() {
    let (asterisk, routing_ami, port) = start("metrics-scopes", &routing_sticky(), true);
    // 10,000 StickyRoute events would flood a connection that takes them.
    drop(routing_ami);
    let ami = asterisk.ami_user_events();
    let before = series(&scrape(port));
    let started = Instant::now();
    ami.originate("Local/s@scopes", "client", "100", "\"Scopes\" <100>", &[("COUNT", "10000")]);
    let done = ami.wait(Duration::from_secs(120), |m| m.is_user_event("ScopesDone"));
    println!("loop done in {:?}", started.elapsed());
    assert_eq!(done.and_then(|m| m.get("Count").map(str::to_string)).as_deref(), Some("10000"));
    let text = scrape(port);
    println!("scraped in {:?}", started.elapsed());
    promtool(&ours(&text));
    let after = series(&text);
    let other = value(&text, "asterisk_sticky_lookups_total{scope=\"(other)\",status=\"INVALID\"}");
    assert_eq!(other, Some(10_000.0 - 50.0), "every scope past the 50th is (other)");
    assert!(after < before + 200, "{before} -> {after} series after 10,000 scope names");
    println!("10,000 scope names in {:?}: {before} -> {after} series", started.elapsed());
    // A graceful stop unloads both modules: res_sticky takes its callback back.
    let mut asterisk = asterisk;
    let stopped = asterisk.stop_with("core stop gracefully", Duration::from_secs(30)).expect("Asterisk stopped");
    assert!(stopped.success(), "{}", asterisk.tail_of_log(20));
    assert!(!asterisk.log().contains("panicked"), "{}", asterisk.tail_of_log(20));
}

#[test]
fn a_database_outage_shows_in_the_breaker_gauge() {
    let mut server = Server::start(Kind::Postgres, "metrics-outage");
    let sticky = format!("{}dsn = {}\nquery_timeout = 250ms\n", routing_sticky(), server.dsn_for_conf());
    let (asterisk, _ami, port) = start("metrics-outage", &sticky, true);
    assert_eq!(asterisk.eval("LAST_AGENT(79120000099)"), "", "a store read works");
    let open = "asterisk_sticky_breaker_state{state=\"open\"}";
    assert_eq!(value(&scrape(port), open), Some(0.0));
    // The sync poller reads the shared store every sync_interval (1 s).
    let age = "asterisk_sticky_sync_age_seconds";
    let synced = wait_for(Duration::from_secs(10), || value(&scrape(port), age).filter(|a| (0.0..3.0).contains(a)));
    assert!(synced.is_some(), "the sync poller reads the store: {:?}", value(&scrape(port), age));
    server.stop();
    let opened = wait_for(Duration::from_secs(20), || {
        let _ = asterisk.eval(&format!("LAST_AGENT(7912{:07})", Instant::now().elapsed().subsec_nanos() % 10_000_000));
        (value(&scrape(port), open) == Some(1.0)).then_some(())
    });
    let text = scrape(port);
    assert!(opened.is_some(), "{}", ours(&text));
    assert_eq!(value(&text, "asterisk_sticky_breaker_state{state=\"closed\"}"), Some(0.0));
    // Each lookup during the outage failed or (on a loaded machine, waiting
    // for a connection) ran out of its 250 ms: either way it is counted.
    let outcome = |name: &str| value(&text, &format!("asterisk_sticky_store_reads_total{{outcome=\"{name}\"}}"));
    assert!(outcome("failed").unwrap() + outcome("timed_out").unwrap() >= 1.0, "{}", ours(&text));
    let stalled = wait_for(Duration::from_secs(20), || value(&scrape(port), age).filter(|a| *a >= 3.0));
    assert!(stalled.is_some(), "the sync age grows while the database is away: {:?}", value(&scrape(port), age));
    promtool(&ours(&text));
    server.run();
    let closed = wait_for(Duration::from_secs(30), || {
        let _ = asterisk.eval("LAST_AGENT(79120000098)");
        (value(&scrape(port), "asterisk_sticky_breaker_state{state=\"closed\"}") == Some(1.0)).then_some(())
    });
    assert!(closed.is_some(), "{}", ours(&scrape(port)));
    let caught_up = wait_for(Duration::from_secs(20), || value(&scrape(port), age).filter(|a| (0.0..3.0).contains(a)));
    assert!(caught_up.is_some(), "the sync catches up: {:?}", value(&scrape(port), age));
}

#[test]
fn res_prometheus_loaded_later_unloaded_and_reloaded() {
    let (asterisk, _ami, port) = start("metrics-order", &routing_sticky(), false);
    assert!(asterisk.cli("module show like res_sticky").contains("Running"), "res_sticky runs without it");
    assert_eq!(asterisk.eval("LAST_AGENT(79120000001)"), "");
    asterisk.cli("module load res_prometheus.so");
    wait_registrations(port, 1);
    asterisk.cli("module reload res_prometheus.so");
    asterisk.cli("module reload res_sticky.so");
    thread_pause();
    let text = wait_registrations(port, 1);
    promtool(&ours(&text));
    let unloaded = asterisk.cli("module unload res_prometheus.so");
    let shown = asterisk.cli("module show like res_prometheus");
    assert!(shown.contains("Not Running"), "{unloaded}\n{shown}");
    asterisk.cli("module load res_prometheus.so");
    let text = wait_registrations(port, 1);
    promtool(&ours(&text));
    assert!(asterisk.cli("module show like res_sticky").contains("Running"));
}

/// Time for the loader's announcements to reach the module.
fn thread_pause() {
    std::thread::sleep(Duration::from_millis(500));
}

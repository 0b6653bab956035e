//! The module's life in a real Asterisk 22: load, status, reload, a broken
//! config, many reloads, pinning and a graceful stop.

mod common;

use std::time::Duration;

use common::{field, Asterisk, Options};

const GOOD: &str = "[general]\nwindow = 1d\nquery_timeout = 250ms\n";

fn status(asterisk: &Asterisk) -> String {
    asterisk.cli("sticky show status")
}

#[test]
fn loads_and_reports_status() {
    let asterisk = Asterisk::start("loads", Options::sticky(GOOD));
    let modules = asterisk.cli("module show like res_sticky");
    assert!(modules.contains("res_sticky.so") && !modules.contains("Not Running"), "{modules}");
    let status = status(&asterisk);
    assert!(status.starts_with("res_sticky status"), "{status}");
    assert_eq!(field(&status, "Configuration"), "sticky.conf (0 reloads)", "{status}");
    assert_eq!(field(&status, "Window"), "1d", "{status}");
    assert_eq!(field(&status, "Query timeout"), "250ms", "{status}");
    assert!(status.contains("/db/sticky.sqlite3;Timeout=2000 (embedded default)"), "{status}");
    let database = common::wait_for(Duration::from_secs(5), || {
        let status = asterisk.cli("sticky show status");
        (field(&status, "Database") == "up (SQLite)").then_some(())
    });
    assert!(database.is_some(), "the sync poller connects within a second: {}", asterisk.cli("sticky show status"));
    assert_eq!(field(&status, "Node"), asterisk.name, "systemname is the node");
    assert!(asterisk.log().contains("res_sticky loaded"), "load message in the log");
}

#[test]
fn missing_config_runs_on_defaults() {
    let asterisk = Asterisk::start("defaults", Options::default());
    let status = status(&asterisk);
    assert!(status.contains("sticky.conf (missing: defaults)"), "{status}");
    assert_eq!(field(&status, "Cache"), "0 of 200000 numbers", "{status}");
    assert!(asterisk.log().contains("sticky.conf not found: running with the defaults"));
}

#[test]
fn reload_applies_a_changed_config() {
    let asterisk = Asterisk::start("reload", Options::sticky(GOOD));
    asterisk.write_config("sticky.conf", "[general]\nwindow = 2h\nmatch_digits = 9\nmin_digits = 6\n");
    asterisk.cli("module reload res_sticky.so");
    let status = status(&asterisk);
    assert_eq!(field(&status, "Window"), "2h", "{status}");
    assert_eq!(field(&status, "Number key"), "last 9 digits, at least 6", "{status}");
    assert!(status.contains("(1 reloads)"), "{status}");
    assert!(asterisk.log().contains("sticky.conf reloaded, changes applied"));
}

#[test]
fn a_broken_reload_keeps_the_running_config() {
    let asterisk = Asterisk::start("badreload", Options::sticky(GOOD));
    asterisk.write_config("sticky.conf", "[general]\nwindow = 2h\npool_size = lots\n");
    asterisk.cli("module reload res_sticky.so");
    assert!(asterisk
        .wait_for_log("sticky.conf line 3: [general] pool_size: 'lots' is not a whole number", Duration::from_secs(5)));
    assert!(asterisk.log().contains("the previous configuration stays active"));
    let status = status(&asterisk);
    assert_eq!(field(&status, "Window"), "1d", "old config still active: {status}");
    assert!(status.contains("(0 reloads)"), "{status}");
}

#[test]
fn a_broken_config_declines_the_load_and_asterisk_lives() {
    // Lines 4 and 5: a connection string cut at a `;` draws a warning that
    // names the fix; written with `\;` it reaches the module whole.
    let conf = "[general]\nwindow = forever\nstate_template = PJSIP/${AGENT\n\
                dsn = Driver=SQLite3;Database=/var/lib/asterisk/h.sqlite3\n\
                import_dsn = Driver=SQLite3\\;Database=/var/lib/asterisk/cdr.sqlite3\n";
    let asterisk = Asterisk::start("broken", Options::sticky(conf));
    let log = asterisk.log();
    assert!(log.contains("sticky.conf line 4: [general] dsn: 'Driver=SQLite3' names an ODBC driver"), "{log}");
    assert!(log.contains(r"as '\;' (dsn = Driver=SQLite3\;Database=...)"), "{log}");
    assert!(!log.contains("import_dsn: "), "{log}");
    assert!(log.contains("sticky.conf line 2: [general] window: 'forever' is not a duration"), "{log}");
    assert!(log.contains("sticky.conf line 3: [general] state_template: unclosed '${'"), "{log}");
    assert!(log.contains("res_sticky declined to load: 2 error(s) in sticky.conf"), "{log}");
    let modules = asterisk.cli("module show like res_sticky");
    assert!(modules.contains("Not Running"), "{modules}");
    assert!(asterisk.try_cli("sticky show status").unwrap_or_default().contains("No such command"));
    assert!(asterisk.cli("core show version").contains("Asterisk 22"), "Asterisk still answers");
}

#[test]
fn a_hundred_reloads_in_a_row() {
    let mut asterisk = Asterisk::start("reloads", Options::sticky(GOOD));
    for round in 0..100 {
        let window = if round % 2 == 0 { "2h" } else { "1d" };
        asterisk.write_config("sticky.conf", &format!("[general]\nwindow = {window}\n"));
        asterisk.cli("module reload res_sticky.so");
    }
    assert!(asterisk.is_running());
    let status = status(&asterisk);
    assert!(status.contains("(100 reloads)"), "{status}");
    assert_eq!(field(&status, "Window"), "1d", "{status}");
}

#[test]
fn unload_is_refused_while_running() {
    let asterisk = Asterisk::start("pinned", Options::sticky(GOOD));
    asterisk.cli("module unload res_sticky.so");
    let modules = asterisk.cli("module show like res_sticky");
    assert!(modules.contains("Running") && !modules.contains("Not Running"), "the module is pinned: {modules}");
    assert!(status(&asterisk).starts_with("res_sticky status"));
}

#[test]
fn core_stop_gracefully_completes() {
    let mut asterisk = Asterisk::start("graceful", Options::sticky(GOOD));
    let status = asterisk.stop_with("core stop gracefully", Duration::from_secs(30));
    let status = status.expect("Asterisk stopped within 30 s");
    assert!(status.success(), "exit status {status:?}");
    assert!(asterisk.log().contains("res_sticky unloaded"), "unload ran:\n{}", asterisk.tail_of_log(20));
}

#[test]
fn cli_help_is_real() {
    let asterisk = Asterisk::start("help", Options::sticky(GOOD));
    let help = asterisk.cli("core show help sticky show status");
    assert!(help.contains("Usage: sticky show status"), "{help}");
    assert!(help.contains("p50 / p99"), "{help}");
    let list = asterisk.cli("core show help sticky");
    assert!(list.contains("Show res_sticky's configuration and counters"), "{list}");
}

use super::*;

fn parse_text(text: &str) -> Result<Parsed, Vec<Diagnostic>> {
    parse(&raw_from_text("sticky.conf", text))
}

fn errors_of(text: &str) -> Vec<String> {
    match parse_text(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(diagnostics) => {
            diagnostics.iter().filter(|d| d.severity == Severity::Error).map(ToString::to_string).collect()
        }
    }
}

const SPEC_SAMPLE: &str = r#"
[general]
dsn = asterisk            ; unixODBC DSN from odbc.ini, or a full connection string
pool_size = 4
query_timeout = 250ms     ; longest a call may wait for history; past it: fallback
window = 1d
match_digits = 10
min_digits = 7
cache_size = 200000       ; numbers kept in process
outbound_dispositions = ANSWERED,NO ANSWER,BUSY
state_template = ${INTERFACE}
dial_template = ${INTERFACE}
available_states = NOT_INUSE

[notice]
notice_dir = /var/spool/asterisk/sticky/notices
notice_dial = Local/${NUMBER}@from-internal
notice_allow = ^\+?[0-9]{7,15}$
timezone = Europe/Moscow          ; default: the server's
max_ahead = 30d
max_record = 60
retries = 2
retry_time = 20
wait_time = 20
max_per_hour = 30                 ; notices one operator may schedule

[mobile]
member_template = Local/${NUMBER}@from-internal/n
allow = 79112223344
allow = 79115556677,4321  ; number,PIN
max_failures = 3
lockout = 15m
"#;

#[test]
fn the_spec_sample_parses() {
    let parsed = parse_text(SPEC_SAMPLE).expect("the SPEC sample is valid");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let config = parsed.config;
    assert_eq!(config.general.dsn.as_deref(), Some("asterisk"));
    assert_eq!(config.general.query_timeout, Duration::from_millis(250));
    assert_eq!(config.general.window, Duration::from_secs(86_400));
    assert_eq!(config.general.outbound_dispositions.len(), 3);
    assert_eq!(config.notice.timezone.as_deref(), Some("Europe/Moscow"));
    assert_eq!(config.notice.max_record, Duration::from_secs(60));
    assert_eq!(config.mobile.allow.len(), 2);
    assert_eq!(config.mobile.allow[1].pin.as_deref(), Some("4321"));
    assert_eq!(config.mobile.lockout, Duration::from_secs(900));
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let parsed = parse_text("").unwrap();
    assert_eq!(parsed.config, Config::default());
    assert_eq!(parsed.config.general.dsn, None);
    assert_eq!(parsed.config.general.available_states, vec![DeviceState::NotInUse]);
}

#[test]
fn templates_and_lists() {
    let parsed = parse_text(
        "[general]\nstate_template = PJSIP/${AGENT}\ndial_template = Local/${AGENT}@from-internal/n\n\
         available_states = NOT_INUSE, RINGING\noutbound_dispositions = answered\n",
    )
    .unwrap();
    let general = parsed.config.general;
    assert_eq!(general.state_template.render(|_| "101".into()), "PJSIP/101");
    assert_eq!(general.available_states, vec![DeviceState::NotInUse, DeviceState::Ringing]);
    assert_eq!(general.outbound_dispositions, vec![Disposition::Answered]);
}

#[test]
fn bad_values_name_key_and_line() {
    let errors = errors_of("[general]\n\nwindow = 5x\npool_size = 0\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("sticky.conf line 3: [general] window:"), "{}", errors[0]);
    assert!(errors[1].starts_with("sticky.conf line 4: [general] pool_size:"), "{}", errors[1]);
}

#[test]
fn hostile_values_are_refused() {
    let hostile = [
        "query_timeout = -1",
        "query_timeout = 1h",
        "window = 0",
        "window = 99999999999999999999999d",
        "match_digits = 200",
        "cache_size = 1e9",
        "pool_size = 4 OR 1=1",
        "outbound_dispositions = ANSWERED,DROP",
        "outbound_dispositions = ,",
        "available_states = idle",
        "state_template = PJSIP/${AGENT",
        "dial_template = ${SHELL}",
        "dial_template =",
        "node = a b",
        "node = ../../etc",
        "agent_pattern = ([0-9]",
        "sync_interval = 10ms",
        "sync_interval = 2m",
        "import_query = DELETE FROM cdr WHERE calldate >= ?",
        "import_query = SELECT * FROM cdr",
    ];
    for line in hostile {
        let errors = errors_of(&format!("[general]\n{line}\n"));
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        assert!(errors[0].contains("line 2"), "{line}: {errors:?}");
    }
    for line in [
        "notice_dir = relative/dir",
        "notice_dir = /var/spool/../../etc",
        "notice_dial = Local/s@x",
        "notice_allow = ([0-9]",
        "timezone = Mars/Olympus",
        "max_ahead = 2y",
        "wait_time = 1",
    ] {
        assert_eq!(errors_of(&format!("[notice]\n{line}\n")).len(), 1, "{line}");
    }
    for line in [
        "allow = 7911abc",
        "allow = 79112223344,12a4",
        "allow = 79112223344,1234,sales&rm -rf",
        "allow = ",
        "member_template = Local/s@from-internal",
        "lockout = forever",
    ] {
        assert_eq!(errors_of(&format!("[mobile]\n{line}\n")).len(), 1, "{line}");
    }
}

#[test]
fn sync_and_import_keys() {
    let parsed = parse_text(
        "[general]\nsync_interval = 0\nimport_dsn = asteriskcdrdb\n\
         import_query = SELECT calldate, src, dst, channel, dstchannel, disposition, uniqueid FROM cdr WHERE calldate >= ?\n\
         agent_pattern = ^PJSIP/[a-z]+$\n",
    )
    .unwrap();
    let general = parsed.config.general;
    assert_eq!(general.sync_interval, None);
    assert_eq!(general.import_dsn.as_deref(), Some("asteriskcdrdb"));
    assert!(general.import_query.unwrap().ends_with(">= ?"));
    assert_eq!(general.agent_pattern, "^PJSIP/[a-z]+$");
    assert_eq!(Config::default().general.sync_interval, Some(Duration::from_secs(1)));
}

#[test]
fn inconsistent_digits_are_refused() {
    let errors = errors_of("[general]\nmatch_digits = 8\nmin_digits = 9\n");
    assert!(errors[0].contains("line 3") && errors[0].contains("min_digits"), "{errors:?}");
}

#[test]
fn unknown_and_repeated_keys_only_warn() {
    let parsed = parse_text("[general]\nwindw = 1h\nwindow = 1h\nwindow = 2h\n[extra]\nx = 1\n").unwrap();
    assert_eq!(parsed.config.general.window, Duration::from_secs(7200));
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("windw") && warnings[0].contains("unknown key"));
    assert!(warnings[1].contains("line 4") && warnings[1].contains("overrides line 3"));
    assert!(warnings[2].contains("[extra]") && warnings[2].contains("unknown section"));
}

#[test]
fn mobile_allow_lines() {
    let parsed =
        parse_text("[mobile]\nallow = +79112223344\nallow = 79115556677,4321,support|sales\nallow = 79112223344,99\n")
            .unwrap();
    let allow = &parsed.config.mobile.allow;
    assert_eq!(allow.len(), 2, "a repeated number replaces its earlier line");
    assert_eq!(allow[0].number, "79115556677");
    assert_eq!(allow[0].queues, vec!["support", "sales"]);
    assert_eq!(allow[1].number, "79112223344");
    assert_eq!(allow[1].pin.as_deref(), Some("99"));
    assert_eq!(allow[1].line, 4);
}

#[test]
fn garbage_files_are_reported_never_accepted_silently() {
    // (text, an error is expected, what the report must say)
    let samples = [
        ("\u{0}\u{1}[[[", false, "unknown section, ignored"),
        ("[general\nwindow", true, "line 2: [general] window: '' is not a duration"),
        ("= = =", false, "unknown section, ignored"),
        ("[general]\n=\n", false, "line 2: [general] : unknown key, ignored"),
        ("[general]\nwindow = \u{202e}1h\n", true, "line 2: [general] window: '\u{202e}1h' is not a duration"),
        ("[mobile]\nallow = ,,,,\n", true, "line 2: [mobile] allow: '' is not a number"),
        ("[general]\npool_size = -1\nwindow = 1h\n", true, "line 2: [general] pool_size"),
        ("[notice]\nnotice_allow = ((\n", true, "line 2: [notice] notice_allow"),
    ];
    for (text, is_error, report) in samples {
        let reports: Vec<String> = match parse_text(text) {
            Ok(parsed) => {
                assert!(!is_error, "{text:?} accepted with only {:?}", parsed.warnings);
                parsed.warnings.iter().map(ToString::to_string).collect()
            }
            Err(diagnostics) => {
                assert!(is_error, "{text:?} refused: {diagnostics:?}");
                diagnostics.iter().filter(|d| d.severity == Severity::Error).map(ToString::to_string).collect()
            }
        };
        assert!(reports.iter().any(|r| r.contains(report)), "{text:?}: {report:?} not among {reports:?}");
    }
    let long = format!("[general]\ndsn = {}\n", "x".repeat(100_000));
    assert!(parse_text(&long).is_ok());
}

#[test]
fn a_dsn_cut_at_a_semicolon_is_a_warning_naming_the_line_and_the_fix() {
    let parsed = parse_text(
        "[general]\npool_size = 2\ndsn = Driver=SQLite3;Database=/var/lib/asterisk/h.sqlite3\n\
         import_dsn = Driver=MariaDB;Server=db\n",
    )
    .expect("a warning, not an error");
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("sticky.conf line 3: [general] dsn: 'Driver=SQLite3' names an ODBC driver"));
    assert!(
        warnings[0].ends_with(r"write each ';' of a connection string as '\;' (dsn = Driver=SQLite3\;Database=...)")
    );
    assert!(warnings[1].starts_with("sticky.conf line 4: [general] import_dsn: 'Driver=MariaDB'"));
    assert_eq!(parsed.config.general.dsn.as_deref(), Some("Driver=SQLite3"));
    // Written with `\;` (the loader hands over the whole string): no warning.
    let whole = parse(&RawConfig {
        file: "sticky.conf".into(),
        sections: vec![RawSection {
            name: "general".into(),
            entries: vec![RawEntry { key: "dsn".into(), value: "Driver=SQLite3;Database=/tmp/h".into(), line: 2 }],
        }],
    })
    .unwrap();
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);
}

#[test]
fn a_server_name_that_does_not_fit_the_node_column_is_made_to_fit() {
    assert_eq!(fallback_node(None, "pbx1".into()), ("pbx1".into(), false));
    assert_eq!(fallback_node(Some("core-2".into()), "pbx1".into()), ("core-2".into(), false));
    let long = format!("pbx.{}.example.com", "a".repeat(200));
    let (name, changed) = fallback_node(None, long.clone());
    assert!(changed);
    assert_eq!(name, long[..64]);
    assert_eq!(fallback_node(Some("my pbx/ü".into()), "x".into()), ("my_pbx__".into(), true));
    assert_eq!(fallback_node(None, String::new()), ("asterisk".into(), true));
}

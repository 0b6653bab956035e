use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::exposition::{Kind, Values};
use super::*;
use crate::history::latency::Latency;
use crate::history::Snapshot as HistorySnapshot;
use crate::routing::decision::RouteStatus;
use crate::routing::totals::{ScopeTotals, MAX_SCOPE_LABELS};

fn figures(scopes: Vec<(String, ScopeTotal)>) -> Figures {
    let latency = Latency::default();
    latency.record(Duration::from_micros(3));
    let history = HistorySnapshot {
        cached_numbers: 2,
        cached_contacts: 3,
        lookups: 3,
        hits: 2,
        misses: 1,
        errors: 1,
        learned: 1,
        written: 1,
        health: Health::Open { retry_in: Duration::ZERO, down_for: Duration::ZERO, last_error: "down".into() },
        database: "SQLite".into(),
        pool: (0, 1),
        ..Default::default()
    };
    Figures {
        status: Snapshot { config_source: "sticky.conf".into(), reloads: 2, uptime: Duration::from_secs(5), history },
        cache_capacity: 200_000,
        pool_size: 4,
        lookup_times: latency.histogram(DOUBLINGS),
        store_times: Latency::default().histogram(DOUBLINGS),
        scopes,
        following: 0,
        waiting: 0,
        notices: vec![("SCHEDULED", 1)],
        notices_pending: 1,
        notices_finished: vec![("completed", 1)],
        mobile: vec![("DENIED", 2)],
        mobile_members: 0,
    }
}

#[test]
fn names_follow_prometheus_conventions() {
    let families = families(&figures(Vec::new()));
    let mut names = HashSet::new();
    for family in &families {
        let name = family.name;
        assert!(names.insert(name), "{name} twice");
        assert!(name.starts_with("asterisk_sticky_"), "{name}");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{name}");
        assert!(name.len() <= 64, "{name}: res_prometheus's longest name");
        assert_eq!(family.kind == Kind::Counter, name.ends_with("_total"), "{name}: _total is for counters only");
        if family.kind == Kind::Histogram {
            assert!(name.ends_with("_seconds"), "{name}: in base units");
        }
        assert!(!family.help.is_empty() && family.help.ends_with('.'), "{name}: help");
    }
}

#[test]
fn the_breaker_and_the_counters_show() {
    let (text, series) = exposition(&figures(Vec::new()));
    assert!(text.contains("asterisk_sticky_breaker_state{state=\"open\"} 1\n"), "{text}");
    assert!(text.contains("asterisk_sticky_breaker_state{state=\"closed\"} 0\n"), "{text}");
    assert!(text.contains("asterisk_sticky_store_reads_total{outcome=\"failed\"} 1\n"), "{text}");
    assert!(text.contains("asterisk_sticky_lookup_duration_seconds_bucket{le=\"0.000004\"} 1\n"), "{text}");
    assert!(text.contains("asterisk_sticky_mobile_agent_total{status=\"DENIED\"} 2\n"), "{text}");
    assert_eq!(series, text.lines().filter(|line| !line.starts_with('#')).count());
}

#[test]
fn hostile_scopes_keep_the_series_bounded() {
    let mut totals = ScopeTotals::default();
    for n in 0..10_000 {
        totals.decided(&Arc::from(format!("x{n}")), RouteStatus::NoHistory);
        totals.decided(&Arc::from(format!("y{n}")), RouteStatus::Routed);
    }
    let figures = figures(totals.read());
    let lookups = families(&figures).into_iter().find(|f| f.name == "asterisk_sticky_lookups_total").unwrap();
    let Values::Series(series) = &lookups.values else { panic!("a counter") };
    assert!(series.len() <= 2 * (MAX_SCOPE_LABELS + 1), "{}", series.len());
    let (_, total) = exposition(&figures);
    assert!(total < 300, "{total} series");
}

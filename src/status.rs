//! The text of `sticky show status`, built from plain values so that it can
//! be tested without Asterisk.
#![forbid(unsafe_code)]

use std::fmt::Write;
use std::time::Duration;

use crate::config::value::format_duration;
use crate::config::Config;

/// Counters and facts the running module reports.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub config_source: String,
    pub reloads: u64,
    pub uptime: Duration,
    pub database: String,
    pub pool_in_use: u32,
    pub pool_size: u32,
    pub cached_numbers: usize,
    pub hits: u64,
    pub misses: u64,
    pub lookups: u64,
    pub lookup_p50: Option<Duration>,
    pub lookup_p99: Option<Duration>,
    pub contacts_learned: u64,
    pub writes_pending: u64,
    pub writes_dropped: u64,
}

fn micros(value: Option<Duration>) -> String {
    match value {
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} us", d.as_secs_f64() * 1e6),
        Some(d) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        None => "-".into(),
    }
}

pub fn render(config: &Config, dsn_shown: &str, node: &str, snapshot: &Snapshot) -> String {
    let general = &config.general;
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<22} {value}");
    };
    line("Configuration:", format!("{} ({} reloads)", snapshot.config_source, snapshot.reloads));
    line("Node:", node.to_string());
    line("Uptime:", format_duration(Duration::from_secs(snapshot.uptime.as_secs())));
    line("History database:", dsn_shown.to_string());
    line("Database state:", snapshot.database.clone());
    line("Pool:", format!("{} of {} connections in use", snapshot.pool_in_use, snapshot.pool_size));
    line("Query timeout:", format_duration(general.query_timeout));
    line("Window:", format_duration(general.window));
    line("Number key:", format!("last {} digits, at least {}", general.match_digits, general.min_digits));
    line("Cache:", format!("{} of {} numbers", snapshot.cached_numbers, general.cache_size));
    line("Hits / misses:", format!("{} / {}", snapshot.hits, snapshot.misses));
    line(
        "Lookups:",
        format!("{} (p50 {}, p99 {})", snapshot.lookups, micros(snapshot.lookup_p50), micros(snapshot.lookup_p99)),
    );
    line("Contacts learned:", snapshot.contacts_learned.to_string());
    line("Writes pending:", format!("{} ({} dropped)", snapshot.writes_pending, snapshot.writes_dropped));
    let dispositions: Vec<&str> = general.outbound_dispositions.iter().map(|d| d.as_str()).collect();
    line("Outbound dispositions:", dispositions.join(", "));
    line("State template:", general.state_template.source().to_string());
    line("Dial template:", general.dial_template.source().to_string());
    let states: Vec<&str> = general.available_states.iter().map(|s| s.as_str()).collect();
    line("Available states:", states.join(", "));
    format!("res_sticky status\n{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_line() {
        let snapshot = Snapshot {
            config_source: "sticky.conf".into(),
            lookups: 3,
            lookup_p50: Some(Duration::from_micros(12)),
            pool_size: 4,
            ..Snapshot::default()
        };
        let text = render(&Config::default(), "embedded", "node1", &snapshot);
        assert!(text.starts_with("res_sticky status\n"));
        let value = |label: &str| {
            text.lines().find_map(|line| line.trim().strip_prefix(label)).map(str::trim).unwrap_or_default()
        };
        assert_eq!(value("Lookups:"), "3 (p50 12.0 us, p99 -)", "{text}");
        assert_eq!(value("Window:"), "1d", "{text}");
        assert_eq!(value("Available states:"), "NOT_INUSE", "{text}");
        assert!(text.contains("ANSWERED, NO ANSWER, BUSY"));
    }
}

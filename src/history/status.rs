//! The text of `sticky show status`, built from plain values so that it can
//! be tested without Asterisk.

use std::fmt::Write;
use std::time::Duration;

use super::breaker::Health;
use super::latency::Quantiles;
use super::Snapshot as HistorySnapshot;
use crate::config::Config;
use crate::time::format_duration;

/// Counters and facts the running module reports.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub config_source: String,
    pub reloads: u64,
    pub uptime: Duration,
    pub history: HistorySnapshot,
}

pub fn timing(value: Option<Duration>) -> String {
    match value {
        Some(d) if d < Duration::from_millis(1) => format!("{:.1} us", d.as_secs_f64() * 1e6),
        Some(d) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        None => "-".into(),
    }
}

fn health(health: &Health) -> String {
    match health {
        Health::Up => "up".into(),
        Health::Failing { failures, last_error } => format!("failing ({failures} in a row: {last_error})"),
        Health::Open { retry_in, down_for, last_error } => format!(
            "DOWN for {}, next try in {} ({last_error})",
            format_duration(Duration::from_secs(down_for.as_secs())),
            format_duration(Duration::from_millis(retry_in.as_millis() as u64))
        ),
    }
}

pub fn render(config: &Config, dsn_shown: &str, node: &str, snapshot: &Snapshot) -> String {
    let general = &config.general;
    let history = &snapshot.history;
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<22} {value}");
    };
    line("Configuration:", format!("{} ({} reloads)", snapshot.config_source, snapshot.reloads));
    line("Node:", node.to_string());
    line("Uptime:", format_duration(Duration::from_secs(snapshot.uptime.as_secs())));
    line("History database:", dsn_shown.to_string());
    let database = match (&history.health, history.database.as_str()) {
        (Health::Up, "not connected yet") => "not connected yet".to_string(),
        (health_now, name) => format!("{} ({name})", health(health_now)),
    };
    line("Database:", database);
    line(
        "Pool:",
        format!("{} of {} connections in use (at most {})", history.pool.0, history.pool.1, general.pool_size),
    );
    line("Query timeout:", format_duration(general.query_timeout));
    line("Window:", format_duration(general.window));
    line("Number key:", format!("last {} digits, at least {}", general.match_digits, general.min_digits));
    line("Cache:", format!("{} of {} numbers", history.cached_numbers, general.cache_size));
    line("Owners:", format!("{} numbers with an owner set by sticky assign", history.owned_numbers));
    line(
        "Cached contacts:",
        format!(
            "{} (at most {})",
            history.cached_contacts,
            general.cache_size * crate::history::cache::CONTACTS_PER_NUMBER
        ),
    );
    line("Hits / misses:", format!("{} / {}", history.hits, history.misses));
    line(
        "Lookups:",
        format!(
            "{} (p50 {}, p99 {}), {} failed ({} timed out)",
            history.lookups,
            timing(history.p50),
            timing(history.p99),
            history.errors,
            history.timeouts
        ),
    );
    line("Store reads:", format!("p50 {}, p99 {}", timing(history.store_p50), timing(history.store_p99)));
    let steps = &history.steps;
    let pair = |q: &Quantiles| format!("{}/{}", timing(q.p50), timing(q.p99));
    line(
        "Read steps p50/p99:",
        format!(
            "to worker {}, checkout {}, statement {}, answer back {}",
            pair(&steps.to_worker),
            pair(&steps.checkout),
            pair(&steps.statement),
            pair(&steps.answer_back)
        ),
    );
    line(
        "Under autoservice:",
        format!("{} of {} store jobs (start+stop {})", steps.autoserviced, steps.reads, pair(&steps.autoservice)),
    );
    line("Contacts learned:", history.learned.to_string());
    line("Writes pending:", format!("{} ({} written, {} dropped)", history.pending, history.written, history.lost));
    line("Writes set aside:", format!("{} (refused by the database, kept in the journal)", history.set_aside));
    let journal = &history.journal;
    line(
        "Journal:",
        format!(
            "{} segment(s), {} of {} bytes; {} committed, {} not journaled, {} damaged skipped",
            journal.segments, journal.bytes, journal.max_bytes, journal.committed, journal.dropped, journal.skipped
        ),
    );
    line("Refused rows:", format!("{} (agents agent_pattern does not accept)", history.untrusted));
    let dispositions: Vec<&str> = general.outbound_dispositions.iter().map(|d| d.as_str()).collect();
    line("Outbound dispositions:", dispositions.join(", "));
    line("Agent pattern:", general.agent_pattern.clone());
    line("State template:", general.state_template.source().to_string());
    line("Dial template:", general.dial_template.source().to_string());
    let states: Vec<&str> = general.available_states.iter().map(|s| s.as_str()).collect();
    line("Available states:", states.join(", "));
    format!("res_sticky status\n{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> HistorySnapshot {
        HistorySnapshot {
            cached_numbers: 2,
            cached_contacts: 3,
            lookups: 3,
            hits: 2,
            misses: 1,
            p50: Some(Duration::from_micros(12)),
            learned: 1,
            written: 1,
            health: Health::Up,
            database: "SQLite".into(),
            pool: (0, 1),
            ..Default::default()
        }
    }

    #[test]
    fn renders_every_line() {
        let snapshot =
            Snapshot { config_source: "sticky.conf".into(), reloads: 0, uptime: Duration::ZERO, history: history() };
        let text = render(&Config::default(), "embedded", "node1", &snapshot);
        assert!(text.starts_with("res_sticky status\n"));
        let value = |label: &str| {
            text.lines().find_map(|line| line.trim().strip_prefix(label)).map(str::trim).unwrap_or_default()
        };
        assert_eq!(value("Lookups:"), "3 (p50 12.0 us, p99 -), 0 failed (0 timed out)", "{text}");
        assert_eq!(value("Database:"), "up (SQLite)", "{text}");
        assert_eq!(value("Window:"), "1d", "{text}");
        assert_eq!(value("Uptime:"), "0s", "{text}");
        assert_eq!(value("Available states:"), "NOT_INUSE", "{text}");
        assert!(text.contains("ANSWERED, NO ANSWER, BUSY"));
    }

    #[test]
    fn an_open_breaker_is_shown_as_down() {
        let text = health(&Health::Open {
            retry_in: Duration::from_millis(1500),
            down_for: Duration::from_secs(90),
            last_error: "connection refused".into(),
        });
        assert_eq!(text, "DOWN for 90s, next try in 1500ms (connection refused)");
    }
}

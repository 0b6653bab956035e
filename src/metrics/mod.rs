//! Every figure res_sticky keeps, in one place: [`Figures`] is what the
//! running module reports (gathered once, in `module::metrics`), and
//! [`families`] is the catalogue of every metric made of it, by Prometheus's
//! conventions (`asterisk_sticky_…`, `_total` counters, seconds and bytes,
//! bounded label sets). Asterisk's `/metrics` (through res_prometheus)
//! renders the catalogue; `sticky show status` reads the same figures.

pub mod exposition;
pub mod tally;

use std::time::Duration;

use self::exposition::{Family, Kind, Labels, Values};
use crate::history::breaker::Health;
use crate::history::latency::Histogram;
use crate::history::status::Snapshot;
use crate::routing::totals::ScopeTotal;

/// Lookup-time buckets: 1 µs to 2^20 µs (≈ 1.05 s), doubling.
pub const DOUBLINGS: usize = 20;

/// Every figure of the running module at one moment.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The history's counters, the configuration's source, reloads, uptime.
    pub status: Snapshot,
    /// `cache_size`: the most numbers cached.
    pub cache_capacity: usize,
    /// The pool's configured size.
    pub pool_size: u32,
    /// Lookup times (cache or store, as the caller waited).
    pub lookup_times: Histogram,
    /// The store's own time for a lookup's read.
    pub store_times: Histogram,
    /// STICKY_ROUTE's totals per scope label (bounded).
    pub scopes: Vec<(String, ScopeTotal)>,
    /// Routed calls still followed to their end.
    pub following: usize,
    /// Callers waiting for their busy agent now.
    pub waiting: usize,
    /// SCHEDULE_NOTICE's results by `NOTICE_STATUS`.
    pub notices: Vec<(&'static str, u64)>,
    /// Notices waiting in the outgoing spool.
    pub notices_pending: usize,
    /// Finished notices in `outgoing_done` by pbx_spool's status.
    pub notices_finished: Vec<(&'static str, u64)>,
    /// MOBILE_AGENT's results by `MOBILE_AGENT_STATUS`.
    pub mobile: Vec<(&'static str, u64)>,
    /// Mobile numbers logged into queues now.
    pub mobile_members: usize,
}

/// pbx_spool's `Status:` of a finished call file, as a bounded label value.
pub fn finished_status(status: Option<&str>) -> &'static str {
    match status {
        Some("Completed") => "completed",
        Some("Expired") => "expired",
        Some("Failed") => "failed",
        _ => "unknown",
    }
}

fn counter(name: &'static str, help: &'static str, value: u64) -> Family {
    Family::single(name, Kind::Counter, help, value as f64)
}

fn gauge(name: &'static str, help: &'static str, value: f64) -> Family {
    Family::single(name, Kind::Gauge, help, value)
}

fn labelled(name: &'static str, kind: Kind, help: &'static str, series: Vec<(Labels, f64)>) -> Family {
    Family { name, help, kind, values: Values::Series(series) }
}

fn by(label: &'static str, values: &[(&'static str, u64)]) -> Vec<(Labels, f64)> {
    values.iter().map(|(value, count)| (vec![(label, value.to_string())], *count as f64)).collect()
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The catalogue: every metric, its name, type, help and value.
pub fn families(figures: &Figures) -> Vec<Family> {
    let history = &figures.status.history;
    let journal = &history.journal;
    let mut decisions = Vec::new();
    let (mut answered, mut missed) = (Vec::new(), Vec::new());
    for (scope, total) in &figures.scopes {
        for (status, count) in &total.decisions {
            decisions.push((vec![("scope", scope.clone()), ("status", status.to_string())], *count as f64));
        }
        answered.push((vec![("scope", scope.clone())], total.answered as f64));
        missed.push((vec![("scope", scope.clone())], total.missed as f64));
    }
    let breaker = |state: &'static str, on: bool| (vec![("state", state.to_string())], if on { 1.0 } else { 0.0 });
    let failed_reads = history.errors.saturating_sub(history.timeouts);
    vec![
        labelled(
            "asterisk_sticky_lookups_total",
            Kind::Counter,
            "STICKY_ROUTE decisions by scope and STICKY_STATUS (scopes past the first 50 counted as (other)).",
            decisions,
        ),
        labelled(
            "asterisk_sticky_routed_answered_total",
            Kind::Counter,
            "Routed calls the sticky agent answered, by scope.",
            answered,
        ),
        labelled(
            "asterisk_sticky_routed_missed_total",
            Kind::Counter,
            "Routed calls the sticky agent did not answer (within 2 h), by scope.",
            missed,
        ),
        gauge(
            "asterisk_sticky_routed_following",
            "Routed calls still followed to their end.",
            figures.following as f64,
        ),
        gauge(
            "asterisk_sticky_callers_waiting",
            "Callers waiting for their busy agent (option w).",
            figures.waiting as f64,
        ),
        counter(
            "asterisk_sticky_history_lookups_total",
            "History lookups (LAST_AGENT, STICKY_ROUTE, CLI).",
            history.lookups,
        ),
        counter("asterisk_sticky_cache_hits_total", "Lookups the in-process cache answered.", history.hits),
        counter("asterisk_sticky_cache_misses_total", "Lookups that went to the history database.", history.misses),
        gauge("asterisk_sticky_cache_numbers", "Numbers in the cache.", history.cached_numbers as f64),
        gauge("asterisk_sticky_cache_contacts", "Contacts in the cache.", history.cached_contacts as f64),
        gauge(
            "asterisk_sticky_owned_numbers",
            "Numbers with an account owner set by sticky assign.",
            history.owned_numbers as f64,
        ),
        gauge(
            "asterisk_sticky_cache_capacity_numbers",
            "cache_size: the most numbers cached.",
            figures.cache_capacity as f64,
        ),
        Family {
            name: "asterisk_sticky_lookup_duration_seconds",
            help: "How long a lookup made its caller wait.",
            kind: Kind::Histogram,
            values: Values::Histogram(figures.lookup_times.clone()),
        },
        Family {
            name: "asterisk_sticky_store_read_duration_seconds",
            help: "How long the history database took to answer a lookup's read.",
            kind: Kind::Histogram,
            values: Values::Histogram(figures.store_times.clone()),
        },
        labelled(
            "asterisk_sticky_store_reads_total",
            Kind::Counter,
            "Lookup reads of the history database by outcome (failed: error, breaker open or workers busy).",
            vec![
                (vec![("outcome", "answered".into())], figures.store_times.count as f64),
                (vec![("outcome", "timed_out".into())], history.timeouts as f64),
                (vec![("outcome", "failed".into())], failed_reads as f64),
            ],
        ),
        labelled(
            "asterisk_sticky_breaker_state",
            Kind::Gauge,
            "The history database's breaker: 1 for the state it is in (closed: up; open: lookups take the fallback).",
            vec![
                breaker("closed", matches!(history.health, Health::Up)),
                breaker("failing", matches!(history.health, Health::Failing { .. })),
                breaker("open", matches!(history.health, Health::Open { .. })),
            ],
        ),
        gauge("asterisk_sticky_pool_connections_in_use", "Database connections in use.", history.pool.0 as f64),
        gauge("asterisk_sticky_pool_connections_open", "Database connections open.", history.pool.1 as f64),
        gauge("asterisk_sticky_pool_size", "pool_size: the most database connections.", figures.pool_size as f64),
        counter("asterisk_sticky_contacts_learned_total", "Contacts learned from this server's CDRs.", history.learned),
        counter(
            "asterisk_sticky_untrusted_rows_total",
            "Contacts read back that agent_pattern refused or dated in the future.",
            history.untrusted,
        ),
        gauge(
            "asterisk_sticky_sync_age_seconds",
            "Seconds since this server last read the contacts other servers wrote to the shared database \
             (every sync_interval; it grows while the sync stalls; -1 before the first read or without sync).",
            history.sync_age.map_or(-1.0, |age| age.as_secs_f64()),
        ),
        gauge(
            "asterisk_sticky_writes_pending",
            "Contacts waiting to be written to the database.",
            history.pending as f64,
        ),
        labelled(
            "asterisk_sticky_writes_total",
            Kind::Counter,
            "Contacts written to the database, set aside (refused by it, kept in the journal), or dropped (neither \
             in memory nor in the journal).",
            vec![
                (vec![("outcome", "written".into())], history.written as f64),
                (vec![("outcome", "set_aside".into())], history.set_aside as f64),
                (vec![("outcome", "dropped".into())], history.lost as f64),
            ],
        ),
        gauge(
            "asterisk_sticky_journal_bytes",
            "Bytes in the local journal of unstored contacts.",
            journal.bytes as f64,
        ),
        gauge("asterisk_sticky_journal_max_bytes", "journal_max: the journal's bound.", journal.max_bytes as f64),
        gauge("asterisk_sticky_journal_segments", "Segment files of the journal.", journal.segments as f64),
        labelled(
            "asterisk_sticky_journal_records_total",
            Kind::Counter,
            "Journal records committed, not journaled (full), or skipped as damaged when read back.",
            vec![
                (vec![("outcome", "committed".into())], journal.committed as f64),
                (vec![("outcome", "not_journaled".into())], journal.dropped as f64),
                (vec![("outcome", "damaged".into())], journal.skipped as f64),
            ],
        ),
        labelled(
            "asterisk_sticky_notices_total",
            Kind::Counter,
            "SCHEDULE_NOTICE calls by NOTICE_STATUS.",
            by("status", &figures.notices),
        ),
        gauge(
            "asterisk_sticky_notices_pending",
            "Notices waiting in the outgoing spool.",
            figures.notices_pending as f64,
        ),
        labelled(
            "asterisk_sticky_notices_finished",
            Kind::Gauge,
            "Notices in outgoing_done by pbx_spool's status (completed: delivered).",
            by("status", &figures.notices_finished),
        ),
        labelled(
            "asterisk_sticky_mobile_agent_total",
            Kind::Counter,
            "MOBILE_AGENT calls by MOBILE_AGENT_STATUS (DENIED and LOCKED: refusals).",
            by("status", &figures.mobile),
        ),
        gauge("asterisk_sticky_mobile_members", "Mobile numbers logged into queues.", figures.mobile_members as f64),
        counter("asterisk_sticky_reloads_total", "Reloads of sticky.conf since the load.", figures.status.reloads),
        gauge("asterisk_sticky_uptime_seconds", "Time since the module loaded.", seconds(figures.status.uptime)),
    ]
}

/// The lines `sticky show status` adds to the history's: the figures of
/// the features, and the last scrape of `/metrics` (series, µs).
pub fn summary(figures: &Figures, last_scrape: Option<(usize, usize)>) -> String {
    let list = |values: &[(&'static str, u64)]| {
        if values.is_empty() {
            "none".to_string()
        } else {
            values.iter().map(|(status, count)| format!("{status} {count}")).collect::<Vec<_>>().join(", ")
        }
    };
    let mut decisions: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let (mut answered, mut missed) = (0, 0);
    for (_, total) in &figures.scopes {
        for (status, count) in &total.decisions {
            *decisions.entry(status).or_default() += count;
        }
        answered += total.answered;
        missed += total.missed;
    }
    let decisions: Vec<(&'static str, u64)> = decisions.into_iter().collect();
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<22} {value}\n"));
    line("STICKY_ROUTE:", format!("{} (routed calls answered {answered}, missed {missed})", list(&decisions)));
    line(
        "Notices:",
        format!(
            "{}; {} pending; finished {}",
            list(&figures.notices),
            figures.notices_pending,
            list(&figures.notices_finished)
        ),
    );
    line("Mobile agents:", format!("{} logged in; {}", figures.mobile_members, list(&figures.mobile)));
    line(
        "Metrics:",
        match last_scrape {
            Some((series, micros)) => format!("last scrape {series} series in {micros} us"),
            None => "not scraped (res_prometheus not loaded, or no scrape yet)".to_string(),
        },
    );
    out
}

/// The whole exposition and how many series it holds.
pub fn exposition(figures: &Figures) -> (String, usize) {
    let families = families(figures);
    let series = families.iter().map(Family::series).sum();
    (exposition::render(&families), series)
}

#[cfg(test)]
mod tests;

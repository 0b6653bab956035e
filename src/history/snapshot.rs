//! The history's figures for `sticky show status`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::breaker::Health;
use super::journal::JournalState;
use super::latency::Quantiles;
use super::*;

/// Where the time of a store read a call waits for goes (`sticky show
/// status`), step by step.
#[derive(Debug, Clone, Default)]
pub struct ReadSteps {
    /// Jobs handed to the store's workers (reads, and forgetting).
    pub reads: u64,
    /// Handing the read to a worker, until one takes it.
    pub to_worker: Quantiles,
    /// Taking a connection from the pool.
    pub checkout: Quantiles,
    /// The statement and its rows, on the connection.
    pub statement: Quantiles,
    /// From the worker's answer to the waiting caller having it.
    pub answer_back: Quantiles,
    /// Reads that took longer than the quick wait, under autoservice.
    pub autoserviced: u64,
    /// Starting and stopping autoservice for those.
    pub autoservice: Quantiles,
}

/// Figures for `sticky show status`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub cached_numbers: usize,
    pub cached_contacts: usize,
    /// Numbers with an account owner (`sticky assign`) known here.
    pub owned_numbers: usize,
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// The store's own time for a lookup's read.
    pub store_p50: Option<Duration>,
    pub store_p99: Option<Duration>,
    /// The steps of the reads calls waited for.
    pub steps: ReadSteps,
    pub learned: u64,
    pub timeouts: u64,
    pub untrusted: u64,
    pub pending: u64,
    pub written: u64,
    /// Contacts the database refused, set aside in the journal.
    pub set_aside: u64,
    /// How long ago the sync poller last read other servers' contacts;
    /// `None` before its first read, or without sync.
    pub sync_age: Option<Duration>,
    /// Contacts neither in memory nor in the journal: lost.
    pub lost: u64,
    pub journal: JournalState,
    pub health: Health,
    pub database: String,
    pub pool: (u32, u32),
}

impl History {
    /// The lookup times and the store's read times, as histograms up to
    /// 2^`doublings` µs (the metrics).
    pub fn histograms(&self, doublings: usize) -> (latency::Histogram, latency::Histogram) {
        let counters = &self.shared.counters;
        (counters.latency.histogram(doublings), counters.store_reads.histogram(doublings))
    }

    pub fn snapshot(&self) -> Snapshot {
        let counters = &self.shared.counters;
        let store = self.store.read().clone();
        let (cached_numbers, cached_contacts) = {
            let cache = self.shared.cache.lock();
            (cache.len(), cache.contacts())
        };
        Snapshot {
            cached_numbers,
            cached_contacts,
            owned_numbers: self.shared.owners.lock().owned_numbers(),
            lookups: counters.lookups.load(Ordering::Relaxed),
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
            p50: counters.latency.quantile(0.5),
            p99: counters.latency.quantile(0.99),
            store_p50: counters.store_reads.quantile(0.5),
            store_p99: counters.store_reads.quantile(0.99),
            steps: ReadSteps {
                reads: counters.to_worker.count(),
                to_worker: counters.to_worker.p50_p99(),
                checkout: store.steps().map(|(checkout, _)| checkout.p50_p99()).unwrap_or_default(),
                statement: store.steps().map(|(_, statement)| statement.p50_p99()).unwrap_or_default(),
                answer_back: counters.answer_back.p50_p99(),
                autoserviced: counters.autoservice.count(),
                autoservice: counters.autoservice.p50_p99(),
            },
            learned: counters.learned.load(Ordering::Relaxed),
            timeouts: counters.timeouts.load(Ordering::Relaxed),
            untrusted: counters.untrusted.load(Ordering::Relaxed),
            pending: self.shared.pending.len(),
            written: self.shared.pending.written.load(Ordering::Relaxed),
            set_aside: counters.set_aside.load(Ordering::Relaxed),
            sync_age: match counters.last_sync_ms.load(Ordering::Relaxed) {
                0 => None,
                at => Some(Duration::from_millis(crate::time::now_ms().saturating_sub(at).max(0) as u64)),
            },
            lost: counters.lost.load(Ordering::Relaxed),
            journal: self.journal.state(),
            health: self.shared.breaker.health(),
            database: store.describe(),
            pool: store.pool_state(),
        }
    }
}

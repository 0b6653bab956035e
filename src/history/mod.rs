//! Contact history: learned live from CDRs, kept in an in-process cache,
//! written to the store in the background and read from it — with a deadline
//! — on a cache miss.

pub mod breaker;
pub mod cache;
pub mod import;
pub mod journal;
pub mod latency;
pub mod odbc;
pub mod pending;
pub mod status;
pub mod store;
mod workers;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use self::breaker::{Breaker, Health};
use self::cache::Cache;
use self::latency::Latency;
use self::pending::Pending;
use self::store::{Store, StoreError};
use self::workers::{Backend, BackendSettings, Job, JobKind, OLDEST_LIMIT};
use crate::log_warning;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::query::Filter;
use crate::time::now_ms;

/// Contacts kept for writing while the database is away (about 200 bytes each).
pub const MAX_PENDING: usize = 500_000;

/// The part of sticky.conf the history needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window: Duration,
    pub query_timeout: Duration,
    pub pool_size: u32,
    pub cache_size: usize,
    pub sync_interval: Option<Duration>,
    pub node: Arc<str>,
}

/// One question to the history.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub key: NumberKey,
    pub window: Duration,
    pub filter: Filter,
    pub first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// No answer within `query_timeout`.
    Timeout,
    /// The database failed, or the breaker is open.
    Unavailable(String),
    /// Every lookup worker is busy and the queue is full.
    Busy,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::Timeout => f.write_str("no answer within query_timeout"),
            LookupError::Unavailable(reason) => write!(f, "history unavailable: {reason}"),
            LookupError::Busy => f.write_str("all lookup workers busy"),
        }
    }
}

#[derive(Default)]
pub struct Counters {
    pub lookups: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    pub learned: AtomicU64,
    pub latency: Latency,
}

/// What every thread of the history shares.
pub struct Shared {
    pub cache: Mutex<Cache>,
    /// Each agent's newest contact, for SCHEDULE_NOTICE's "last client".
    last_by_agent: Mutex<HashMap<Arc<str>, Contact>>,
    pub breaker: Breaker,
    pub pending: Pending,
    pub counters: Counters,
    node: RwLock<Arc<str>>,
}

impl Shared {
    pub fn node(&self) -> Arc<str> {
        self.node.read().clone()
    }

    pub(super) fn remember_agent(&self, contact: &Contact) {
        let mut agents = self.last_by_agent.lock();
        match agents.get(&contact.agent.id) {
            Some(known) if known.started_at >= contact.started_at => {}
            _ => {
                agents.insert(contact.agent.id.clone(), contact.clone());
            }
        }
    }

    fn note_failure(&self, error: &str) {
        if self.breaker.failure(error) {
            log_warning!("res_sticky: history database failing ({error}); lookups take the fallback until it is back");
        }
    }
}

/// Figures for `sticky show status`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub cached_numbers: usize,
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub learned: u64,
    pub pending: u64,
    pub written: u64,
    pub dropped: u64,
    pub health: Health,
    pub database: String,
    pub pool: (u32, u32),
}

pub struct History {
    shared: Arc<Shared>,
    settings: RwLock<Settings>,
    backend: RwLock<Arc<Backend>>,
    store: RwLock<Arc<dyn Store>>,
}

fn backend_settings(settings: &Settings) -> BackendSettings {
    BackendSettings {
        workers: settings.pool_size,
        query_timeout: settings.query_timeout,
        sync_interval: settings.sync_interval,
    }
}

impl History {
    pub fn start(settings: Settings, store: Arc<dyn Store>) -> History {
        let shared = Arc::new(Shared {
            cache: Mutex::new(Cache::new(settings.cache_size)),
            last_by_agent: Mutex::new(HashMap::new()),
            breaker: Breaker::default(),
            pending: Pending::new(MAX_PENDING),
            counters: Counters::default(),
            node: RwLock::new(settings.node.clone()),
        });
        let backend = Backend::start(store.clone(), shared.clone(), &backend_settings(&settings));
        History {
            shared,
            settings: RwLock::new(settings),
            backend: RwLock::new(Arc::new(backend)),
            store: RwLock::new(store),
        }
    }

    /// Applies reloaded settings; a new store (another DSN or pool size)
    /// replaces the old one, whose threads finish and are joined. Pending
    /// contacts carry over to the new store.
    pub fn reconfigure(&self, settings: Settings, store: Option<Arc<dyn Store>>, flush_cache: bool) {
        {
            let mut cache = self.shared.cache.lock();
            if flush_cache {
                cache.clear();
            }
            cache.resize(settings.cache_size);
        }
        *self.shared.node.write() = settings.node.clone();
        let restart = store.is_some() || {
            let current = self.settings.read();
            current.pool_size != settings.pool_size
                || current.query_timeout != settings.query_timeout
                || current.sync_interval != settings.sync_interval
        };
        if restart {
            let store = store.unwrap_or_else(|| self.store.read().clone());
            let backend = Backend::start(store.clone(), self.shared.clone(), &backend_settings(&settings));
            let old = std::mem::replace(&mut *self.backend.write(), Arc::new(backend));
            *self.store.write() = store;
            old.shut_down(&self.shared);
        }
        *self.settings.write() = settings;
    }

    pub fn settings(&self) -> Settings {
        self.settings.read().clone()
    }

    /// A contact this server just learned: visible to lookups at once,
    /// written by the background writer.
    pub fn learn(&self, contact: Contact) {
        self.shared.counters.learned.fetch_add(1, Ordering::Relaxed);
        self.keep(contact);
    }

    /// Makes a contact visible to lookups and queues it for the writer.
    fn keep(&self, contact: Contact) {
        self.shared.remember_agent(&contact);
        self.shared.cache.lock().learn(contact.clone());
        self.shared.pending.push(contact);
    }

    /// The cache's answer, if it has one. Never blocks on I/O.
    pub fn cached(&self, lookup: &Lookup) -> Option<Option<Contact>> {
        let since = now_ms() - lookup.window.as_millis() as i64;
        let answer = self.shared.cache.lock().answer(&lookup.key, since, &lookup.filter, lookup.first);
        let counters = &self.shared.counters;
        counters.lookups.fetch_add(1, Ordering::Relaxed);
        if answer.is_some() {
            counters.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.misses.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// Reads the store for a cache miss, waiting at most `query_timeout`.
    pub fn fetch(&self, lookup: &Lookup) -> Result<Option<Contact>, LookupError> {
        let result = self.fetch_inner(lookup);
        if result.is_err() {
            self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn fetch_inner(&self, lookup: &Lookup) -> Result<Option<Contact>, LookupError> {
        let settings = self.settings();
        let deadline = Instant::now() + settings.query_timeout;
        if !self.shared.breaker.allow() {
            return Err(LookupError::Unavailable("the database is failing; waiting to retry".into()));
        }
        let now = now_ms();
        let since = now - lookup.window.as_millis() as i64;
        // Read the wider of the asked and the configured window, so that the
        // cached entry also serves the usual question.
        let load_since = since.min(now - settings.window.as_millis() as i64);
        self.run_job(JobKind::Recent, &lookup.key, load_since, deadline)?;
        let answer = self.shared.cache.lock().answer(&lookup.key, since, &lookup.filter, lookup.first);
        match answer {
            Some(answer) => Ok(answer),
            // Only `f` over a number with more contacts than an entry keeps.
            None => {
                let rows = self.run_job(JobKind::Oldest, &lookup.key, since, deadline)?;
                if rows.len() >= OLDEST_LIMIT {
                    log_warning!("res_sticky: {} has over {OLDEST_LIMIT} contacts in the window; 'f' looked at the oldest {OLDEST_LIMIT}", lookup.key);
                }
                Ok(rows.into_iter().find(|contact| lookup.filter.accepts(contact)))
            }
        }
    }

    fn run_job(
        &self,
        kind: JobKind,
        key: &NumberKey,
        since: i64,
        deadline: Instant,
    ) -> Result<Vec<Contact>, LookupError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job { kind, key: key.clone(), since, deadline, reply };
        let backend = self.backend.read().clone();
        if !backend.submit(job) {
            return Err(LookupError::Busy);
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(error)) => Err(LookupError::Unavailable(error.to_string())),
            Err(_) => {
                self.shared.note_failure("timeout");
                Err(LookupError::Timeout)
            }
        }
    }

    /// The newest contact of an agent: learned here, or read from the store.
    pub fn last_of_agent(&self, agent_id: &str) -> Result<Option<Contact>, LookupError> {
        if let Some(contact) = self.shared.last_by_agent.lock().get(agent_id) {
            return Ok(Some(contact.clone()));
        }
        let store = self.store.read().clone();
        store
            .last_of_agent(agent_id, self.settings().query_timeout.max(Duration::from_secs(1)))
            .map_err(|e| LookupError::Unavailable(e.to_string()))
    }

    /// Cache first, then the store.
    pub fn lookup(&self, lookup: &Lookup) -> Result<Option<Contact>, LookupError> {
        match self.cached(lookup) {
            Some(answer) => Ok(answer),
            None => self.fetch(lookup),
        }
    }

    /// Contacts read from an old `cdr` table: written in the background; the
    /// cache is flushed so that no cached answer predates them.
    pub fn import(&self, contacts: Vec<Contact>) -> usize {
        let count = contacts.len();
        for contact in contacts {
            self.shared.pending.push(contact);
        }
        self.flush_cache();
        count
    }

    /// Waits up to `timeout` for every pending contact to be written.
    pub fn wait_written(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while !self.shared.pending.is_empty() {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    pub fn record_latency(&self, elapsed: Duration) {
        self.shared.counters.latency.record(elapsed);
    }

    pub fn flush_cache(&self) -> usize {
        let mut cache = self.shared.cache.lock();
        let flushed = cache.len();
        cache.clear();
        flushed
    }

    /// The stored and cached contacts of a number, newest first (for the CLI).
    pub fn contacts_of(&self, key: &NumberKey, limit: usize) -> (Vec<Contact>, Option<StoreError>) {
        let store = self.store.read().clone();
        let timeout = self.settings().query_timeout.max(Duration::from_secs(2));
        let (mut contacts, error) = match store.recent(key, i64::MIN, limit, timeout) {
            Ok(contacts) => (contacts, None),
            Err(error) => (Vec::new(), Some(error)),
        };
        for cached in self.shared.cache.lock().peek(key) {
            if !contacts.iter().any(|c| c.call_id == cached.call_id) {
                contacts.push(cached);
            }
        }
        contacts.sort_by_key(|c| std::cmp::Reverse(c.started_at));
        contacts.truncate(limit);
        (contacts, error)
    }

    pub fn snapshot(&self) -> Snapshot {
        let counters = &self.shared.counters;
        let store = self.store.read().clone();
        Snapshot {
            cached_numbers: self.shared.cache.lock().len(),
            lookups: counters.lookups.load(Ordering::Relaxed),
            hits: counters.hits.load(Ordering::Relaxed),
            misses: counters.misses.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
            p50: counters.latency.quantile(0.5),
            p99: counters.latency.quantile(0.99),
            learned: counters.learned.load(Ordering::Relaxed),
            pending: self.shared.pending.len(),
            written: self.shared.pending.written.load(Ordering::Relaxed),
            dropped: self.shared.pending.dropped.load(Ordering::Relaxed),
            health: self.shared.breaker.health(),
            database: store.describe(),
            pool: store.pool_state(),
        }
    }

    /// Queues contacts a previous run could not write (from the journal).
    pub fn resume(&self, contacts: Vec<Contact>) {
        for contact in contacts {
            self.keep(contact);
        }
    }

    /// Stops every thread; contacts still unwritten go to `journal` so the
    /// next start writes them.
    pub fn stop(&self, journal: &std::path::Path) {
        self.backend.read().clone().shut_down(&self.shared);
        let left = self.shared.pending.drain();
        if left.is_empty() {
            return;
        }
        match journal::save(journal, &left) {
            Ok(saved) => log_warning!(
                "res_sticky: the history database is unavailable; {saved} contacts kept in {} until the next start",
                journal.display()
            ),
            Err(error) => log_warning!("res_sticky: {} contacts could not be kept ({error}) and are lost", left.len()),
        }
    }
}

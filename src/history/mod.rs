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
mod pool;
pub mod schema;
pub mod status;
pub mod store;
mod workers;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use self::breaker::{Breaker, Health};
use self::cache::{Cache, MAX_PER_NUMBER};
use self::journal::{Journal, JournalState};
use self::latency::{Latency, Quantiles};
use self::pending::Pending;
use self::store::{Store, StoreError};
use self::workers::{Backend, BackendSettings, Crew, Job};
use crate::log_warning;
use crate::routing::agent::AgentRule;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::query::Filter;
use crate::time::now_ms;

/// Contacts kept in memory for writing while the database is away (about
/// 300 bytes each); past it they wait in the journal only.
pub const MAX_PENDING: usize = 500_000;
/// How many rows a lookup reads past what the cache keeps of a number.
pub const OLDEST_LIMIT: usize = 1000;
/// How long a forgotten number is remembered, to drop stragglers.
const FORGOTTEN_KEPT_MS: i64 = 24 * 3600 * 1000;
/// How far ahead of this server's clock a contact read back may be dated.
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// How long a caller waits for the store's answer before the rest of the
/// wait goes `away` (under autoservice, for a channel).
pub const QUICK_WAIT: Duration = Duration::from_millis(3);
/// The longest rest of a wait that is waited for where the caller is, not
/// `away`: a caller's channel may go unread this long (its frames wait in
/// its queue). Autoservice is not free past its cost: `ast_autoservice_stop`
/// returns only after Asterisk's one shared autoservice thread has finished
/// a pass over every serviced channel, so a channel stuck there holds every
/// other call that stops autoservice meanwhile. With the default
/// `query_timeout` (250 ms) a lookup never uses it.
pub const UNSERVICED_WAIT: Duration = Duration::from_millis(500);
/// Runs a blocking wait where the caller wants it (see [`History::fetch`]);
/// true when it ran under autoservice.
pub type Away<'a> = &'a dyn Fn(&mut dyn FnMut()) -> bool;

/// Waits where we are: for callers without a channel.
pub fn here(wait: &mut dyn FnMut()) -> bool {
    wait();
    false
}

/// How long stopping waits for the history's threads.
pub const STOP_DEADLINE: Duration = Duration::from_secs(3);

/// The part of sticky.conf the history needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window: Duration,
    pub query_timeout: Duration,
    pub pool_size: u32,
    pub cache_size: usize,
    pub sync_interval: Option<Duration>,
    pub node: Arc<str>,
    /// Which agents a contact read back (store, journal) may name.
    pub agents: AgentRule,
    /// Contacts older than this are pruned; `None`: kept.
    pub retention: Option<Duration>,
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
    /// Lookups that ran out of time (query_timeout).
    pub timeouts: AtomicU64,
    /// How long the store took to answer a lookup's read.
    pub store_reads: Latency,
    /// The steps of a read a caller waits for, besides the store's own:
    /// from handing it over to a worker taking it,
    pub to_worker: Latency,
    /// from the worker's answer to the caller having it,
    pub answer_back: Latency,
    /// and starting plus stopping autoservice, for the reads that needed it.
    pub autoservice: Latency,
    /// Contacts read back whose agent agent_pattern refuses.
    pub untrusted: AtomicU64,
    /// Contacts that found neither room in memory nor in the journal.
    pub lost: AtomicU64,
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
    agents: RwLock<AgentRule>,
    /// Numbers forgotten lately, and when: contacts of theirs from before
    /// then are dropped wherever they turn up (a batch being written, the
    /// journal read back).
    forgotten: Mutex<HashMap<NumberKey, i64>>,
    /// The id of the last note of a forgotten number applied here (0 at
    /// start: the notes still kept, a day's, are applied again).
    notes_seen: Mutex<i64>,
}

impl Shared {
    pub fn node(&self) -> Arc<str> {
        self.node.read().clone()
    }

    /// Whether a contact read back (from the store or the journal) names an
    /// agent a live call could have: the table may be shared, imported or
    /// edited, and what it names is dialled.
    pub fn trusted(&self, contact: &Contact) -> bool {
        // A row dated in the future would stay "the newest" for ever.
        let plausible = contact.started_at <= now_ms() + MAX_CLOCK_SKEW_MS;
        let trusted = plausible && self.agents.read().accepts(&contact.agent);
        if !trusted {
            self.counters.untrusted.fetch_add(1, Ordering::Relaxed);
        }
        trusted
    }

    /// Drops numbers forgotten at the given times from everything this
    /// server holds: their contacts made until then.
    pub(super) fn forget_here(&self, notes: &[(NumberKey, i64)], journal: &Journal) {
        if notes.is_empty() {
            return;
        }
        {
            let now = now_ms();
            let mut forgotten = self.forgotten.lock();
            forgotten.retain(|_, at| now - *at < FORGOTTEN_KEPT_MS);
            for (key, at) in notes {
                let kept = forgotten.entry(key.clone()).or_insert(*at);
                *kept = (*kept).max(*at);
            }
        }
        {
            let mut cache = self.cache.lock();
            for (key, _) in notes {
                cache.remove(key);
            }
        }
        self.last_by_agent.lock().retain(|_, contact| !self.is_forgotten(contact));
        for (key, at) in notes {
            journal.confirm(self.pending.purge(key, *at));
        }
        let scrub: journal::Forgotten = notes.iter().map(|(key, at)| (key.as_str().to_string(), *at)).collect();
        if let Err(error) = journal.scrub(&scrub) {
            log_warning!("res_sticky: cannot remove a forgotten number from the journal: {error}");
        }
    }

    /// Applies the notes of numbers forgotten on any server sharing the
    /// store that this server has not applied yet; the notes applied.
    pub(super) fn apply_notes(&self, store: &dyn Store, journal: &Journal, timeout: Duration) -> Vec<(NumberKey, i64)> {
        let mut seen = self.notes_seen.lock();
        let mut applied = Vec::new();
        while let Ok(notes) = store.forgotten_after(*seen, timeout) {
            let more = notes.len() >= store::NOTES_PER_READ;
            for note in notes {
                *seen = (*seen).max(note.id);
                applied.push((note.key, note.at));
            }
            if !more {
                break;
            }
        }
        self.forget_here(&applied, journal);
        applied
    }

    /// When `key` was last forgotten, if lately.
    pub(super) fn forgotten_at(&self, key: &NumberKey) -> Option<i64> {
        self.forgotten.lock().get(key).copied()
    }

    /// Whether a contact belongs to a number forgotten after it was made.
    pub(super) fn is_forgotten(&self, contact: &Contact) -> bool {
        self.forgotten.lock().get(&contact.number).is_some_and(|at| contact.started_at <= *at)
    }

    /// Contacts read back that may be used: trusted, and not of a number
    /// forgotten since they were made.
    fn trusted_only(&self, contacts: Vec<Contact>) -> Vec<Contact> {
        contacts.into_iter().filter(|contact| self.trusted(contact) && !self.is_forgotten(contact)).collect()
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
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub cached_numbers: usize,
    pub cached_contacts: usize,
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
    /// Contacts neither in memory nor in the journal: lost.
    pub lost: u64,
    pub journal: JournalState,
    pub health: Health,
    pub database: String,
    pub pool: (u32, u32),
}

pub struct History {
    shared: Arc<Shared>,
    settings: RwLock<Settings>,
    backend: RwLock<Arc<Backend>>,
    store: RwLock<Arc<dyn Store>>,
    journal: Arc<Journal>,
    /// The journal's commit thread.
    committer: Crew,
    /// Backends replaced by a reload, being shut down.
    retiring: Crew,
    /// Set by stop: nothing starts again.
    stopped: AtomicBool,
}

fn backend_settings(settings: &Settings) -> BackendSettings {
    BackendSettings {
        workers: settings.pool_size,
        query_timeout: settings.query_timeout,
        sync_interval: settings.sync_interval,
        retention: settings.retention,
    }
}

/// Logs the threads a stop left busy.
fn report_busy(busy: &[String]) {
    if !busy.is_empty() {
        log_warning!(
            "res_sticky: {} still in a database call at the stop deadline; it ends when the driver gives up",
            busy.join(", ")
        );
    }
}

impl History {
    /// Starts the history: its journal in `journal_dir` (at most
    /// `journal_max` bytes), its threads, and its store.
    pub fn start(
        settings: Settings,
        store: Arc<dyn Store>,
        journal_dir: &Path,
        journal_max: u64,
    ) -> Result<History, String> {
        let journal = Journal::open(journal_dir, journal_max)
            .map_err(|error| format!("cannot open the journal {}: {error}", journal_dir.display()))?;
        let journal = Arc::new(journal);
        let shared = Arc::new(Shared {
            cache: Mutex::new(Cache::new(settings.cache_size)),
            last_by_agent: Mutex::new(HashMap::new()),
            breaker: Breaker::default(),
            pending: Pending::new(MAX_PENDING),
            counters: Counters::default(),
            node: RwLock::new(settings.node.clone()),
            agents: RwLock::new(settings.agents.clone()),
            forgotten: Mutex::new(HashMap::new()),
            notes_seen: Mutex::new(0),
        });
        // What a previous run left in the journal is pending from the start.
        workers::read_back(&shared, &journal);
        let committer = Crew::default();
        {
            let journal = journal.clone();
            committer.spawn("sticky-journal".into(), Arc::new(AtomicBool::new(false)), move || journal.run_commits());
        }
        let backend = Backend::start(store.clone(), shared.clone(), journal.clone(), &backend_settings(&settings));
        Ok(History {
            shared,
            settings: RwLock::new(settings),
            backend: RwLock::new(Arc::new(backend)),
            store: RwLock::new(store),
            journal,
            committer,
            retiring: Crew::default(),
            stopped: AtomicBool::new(false),
        })
    }

    /// Applies reloaded settings; a new store (another DSN or pool size)
    /// replaces the old one, whose threads finish and are waited for.
    /// Pending contacts carry over to the new store.
    pub fn reconfigure(&self, settings: Settings, store: Option<Arc<dyn Store>>, flush_cache: bool) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut cache = self.shared.cache.lock();
            if flush_cache || settings.agents != self.settings.read().agents {
                cache.clear();
            }
            cache.resize(settings.cache_size);
        }
        *self.shared.node.write() = settings.node.clone();
        *self.shared.agents.write() = settings.agents.clone();
        let restart = store.is_some() || {
            let current = self.settings.read();
            current.pool_size != settings.pool_size
                // A new query_timeout alone needs no restart: lookups take
                // theirs per call, the other threads a floor of seconds.
                || workers::background_timeout(current.query_timeout)
                    != workers::background_timeout(settings.query_timeout)
                || current.sync_interval != settings.sync_interval
                || current.retention != settings.retention
        };
        if restart {
            let new_store = store.clone().unwrap_or_else(|| self.store.read().clone());
            let backend = Backend::start(
                new_store.clone(),
                self.shared.clone(),
                self.journal.clone(),
                &backend_settings(&settings),
            );
            let old = std::mem::replace(&mut *self.backend.write(), Arc::new(backend));
            let old_store = std::mem::replace(&mut *self.store.write(), new_store);
            // The old backend finishes on a thread of its own, so that the
            // reload (and Asterisk's module lock) does not wait for it.
            let shared = self.shared.clone();
            let new_store = store.is_some();
            let once = Mutex::new(Some((old, old_store)));
            self.retiring.spawn("sticky-retire".into(), Arc::new(AtomicBool::new(true)), move || {
                if let Some((old, old_store)) = once.lock().take() {
                    let deadline = Instant::now() + STOP_DEADLINE;
                    report_busy(&old.shut_down(&shared, deadline));
                    if new_store {
                        old_store.close(deadline);
                    }
                }
            });
        }
        *self.settings.write() = settings;
    }

    pub fn settings(&self) -> Settings {
        self.settings.read().clone()
    }

    /// A contact this server just learned: visible to lookups at once,
    /// journaled, and written by the background writer.
    pub fn learn(&self, contact: Contact) {
        self.shared.counters.learned.fetch_add(1, Ordering::Relaxed);
        self.keep(contact);
    }

    /// Contacts a previous version kept at a graceful stop: kept like new ones.
    /// True once they are all in the journal on disk (within a second).
    pub fn resume(&self, contacts: Vec<Contact>) -> bool {
        let mut journaled = true;
        for contact in contacts.into_iter().filter(|contact| self.shared.trusted(contact)) {
            journaled &= self.keep(contact);
        }
        journaled && self.journal.settle(Instant::now() + Duration::from_secs(1))
    }

    /// Keeps a contact; false when the journal could not take it.
    fn keep(&self, contact: Contact) -> bool {
        self.shared.remember_agent(&contact);
        self.shared.cache.lock().learn(contact.clone());
        let in_memory = self.shared.pending.room() > 0;
        let ticket = self.journal.append(&contact, in_memory);
        let journaled = ticket.is_some();
        if in_memory {
            self.shared.pending.push((contact, ticket));
        } else if !journaled {
            self.shared.counters.lost.fetch_add(1, Ordering::Relaxed);
        }
        journaled
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
    /// A wait of at most [`UNSERVICED_WAIT`] is waited for right away; of a
    /// longer one, [`QUICK_WAIT`] right away and the rest inside `away`
    /// (which keeps the caller's channel serviced: starting and stopping
    /// that costs more than a quick read).
    pub fn fetch(&self, lookup: &Lookup, away: Away) -> Result<Option<Contact>, LookupError> {
        let result = self.fetch_inner(lookup, away);
        if result.is_err() {
            self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn fetch_inner(&self, lookup: &Lookup, away: Away) -> Result<Option<Contact>, LookupError> {
        let settings = self.settings();
        let deadline = Instant::now() + settings.query_timeout;
        let now = now_ms();
        let since = now - lookup.window.as_millis() as i64;
        // Read the wider of the asked and the configured window, so that the
        // cached entry also serves the usual question.
        let load_since = since.min(now - settings.window.as_millis() as i64);
        let key = lookup.key.clone();
        self.ask(deadline, away, move |store, shared, timeout| {
            let started = Instant::now();
            let rows = store.recent(&key, load_since, MAX_PER_NUMBER, timeout)?;
            shared.counters.store_reads.record(started.elapsed());
            let complete = rows.len() < MAX_PER_NUMBER;
            let rows = shared.trusted_only(rows);
            shared.cache.lock().store_read(&key, load_since, rows, complete);
            Ok(())
        })?;
        let answer = self.shared.cache.lock().answer(&lookup.key, since, &lookup.filter, lookup.first);
        match answer {
            Some(answer) => Ok(answer),
            // A number with more contacts than an entry keeps, none of them
            // a match (another scope or direction), or the first agent (`f`):
            // read further, newest or oldest first as asked.
            None => {
                let key = lookup.key.clone();
                let first = lookup.first;
                let rows = self.ask(deadline, away, move |store, shared, timeout| {
                    let rows = if first {
                        store.oldest(&key, since, OLDEST_LIMIT, timeout)?
                    } else {
                        store.recent(&key, since, OLDEST_LIMIT, timeout)?
                    };
                    Ok(shared.trusted_only(rows))
                })?;
                if rows.len() >= OLDEST_LIMIT {
                    log_warning!(
                        "res_sticky: {} has over {OLDEST_LIMIT} contacts in the window; looked at the {} \
                         {OLDEST_LIMIT}",
                        lookup.key,
                        if first { "oldest" } else { "newest" }
                    );
                }
                Ok(rows.into_iter().find(|contact| lookup.filter.accepts(contact)))
            }
        }
    }

    /// Runs `work` on a store worker and waits for its answer until
    /// `deadline`. The work goes on past the deadline (and may still fill
    /// the cache); the caller does not wait for it.
    fn ask<T: Send + 'static>(
        &self,
        deadline: Instant,
        away: Away,
        work: impl FnOnce(&dyn Store, &Shared, Duration) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, LookupError> {
        if !self.shared.breaker.allow() {
            return Err(LookupError::Unavailable("the database is failing; waiting to retry".into()));
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            deadline,
            submitted: Instant::now(),
            work: Box::new(move |store, shared, timeout| {
                let result = work(store, shared, timeout);
                let answered = match &result {
                    Ok(_) => true,
                    Err(error) => {
                        shared.note_failure(&error.to_string());
                        false
                    }
                };
                let _ = reply.try_send((result, Instant::now()));
                answered
            }),
        };
        let backend = self.backend.read().clone();
        if !backend.submit(job) {
            return Err(LookupError::Busy);
        }
        let left = || deadline.saturating_duration_since(Instant::now());
        let at_once = if left() <= UNSERVICED_WAIT { left() } else { QUICK_WAIT.min(left()) };
        let mut received = answer.recv_timeout(at_once);
        let mut received_at = Instant::now();
        if matches!(received, Err(mpsc::RecvTimeoutError::Timeout)) && !left().is_zero() {
            let started = Instant::now();
            let mut waited = Duration::ZERO;
            let serviced = away(&mut || {
                let waiting = Instant::now();
                received = answer.recv_timeout(left());
                received_at = Instant::now();
                waited = received_at - waiting;
            });
            if serviced {
                self.shared.counters.autoservice.record(started.elapsed().saturating_sub(waited));
            }
        }
        match received {
            Ok((result, answered_at)) => {
                self.shared.counters.answer_back.record(received_at.saturating_duration_since(answered_at));
                result.map_err(|error| LookupError::Unavailable(error.to_string()))
            }
            Err(_) => {
                self.shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                self.shared.note_failure("timeout");
                Err(LookupError::Timeout)
            }
        }
    }

    /// The newest contact of an agent on this server: learned here since
    /// the start, or read from the store within `query_timeout`. Rows other
    /// servers wrote are not taken: what a notice rings must come from this
    /// server's own calls.
    pub fn last_of_agent(&self, agent_id: &str, away: Away) -> Result<Option<Contact>, LookupError> {
        if let Some(contact) = self.shared.last_by_agent.lock().get(agent_id) {
            return Ok(Some(contact.clone()));
        }
        let deadline = Instant::now() + self.settings().query_timeout;
        let agent_id = agent_id.to_string();
        self.ask(deadline, away, move |store, shared, timeout| {
            let node = shared.node();
            Ok(store.last_of_agent(&agent_id, &node, timeout)?.filter(|contact| shared.trusted(contact)))
        })
    }

    /// Cache first, then the store.
    pub fn lookup(&self, lookup: &Lookup) -> Result<Option<Contact>, LookupError> {
        match self.cached(lookup) {
            Some(answer) => Ok(answer),
            None => self.fetch(lookup, &here),
        }
    }

    /// Forgets a client: every contact of `key` goes from this server's
    /// cache, memory and journal, and from the store (which tells the other
    /// servers sharing it); the contacts erased from the store. The local
    /// part happens even when the store cannot be reached.
    pub fn forget(&self, key: &NumberKey) -> Result<usize, LookupError> {
        let at = now_ms();
        self.shared.forget_here(&[(key.clone(), at)], &self.journal);
        let deadline = Instant::now() + self.settings().query_timeout.max(Duration::from_secs(5));
        let number = key.clone();
        self.ask(deadline, &here, move |store, _, timeout| store.forget(&number, at, timeout))
    }

    /// The store, for batch work that writes to it directly (`sticky import
    /// cdr`).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.read().clone()
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
    pub fn contacts_of(&self, key: &NumberKey, limit: usize) -> (Vec<Contact>, Option<LookupError>) {
        let deadline = Instant::now() + self.settings().query_timeout.max(Duration::from_secs(2));
        let read_key = key.clone();
        let (mut contacts, error) = match self.ask(deadline, &here, move |store, shared, timeout| {
            Ok(shared.trusted_only(store.recent(&read_key, i64::MIN, limit, timeout)?))
        }) {
            Ok(contacts) => (contacts, None),
            Err(error) => (Vec::new(), Some(error)),
        };
        for (cached, call) in self.shared.cache.lock().peek(key) {
            if !contacts.iter().any(|c| Cache::call_hash(&c.call_id) == call) {
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
        let (cached_numbers, cached_contacts) = {
            let cache = self.shared.cache.lock();
            (cache.len(), cache.contacts())
        };
        Snapshot {
            cached_numbers,
            cached_contacts,
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
            lost: counters.lost.load(Ordering::Relaxed),
            journal: self.journal.state(),
            health: self.shared.breaker.health(),
            database: store.describe(),
            pool: store.pool_state(),
        }
    }

    /// Stops every thread, within [`STOP_DEADLINE`] for each group: the
    /// workers and the writer (between batches), then the journal (its last
    /// commit), then the store's connections. Contacts not yet stored stay
    /// in the journal for the next start.
    pub fn stop(&self) {
        self.stop_threads();
        let waiting = self.shared.pending.len();
        if waiting > 0 {
            log_warning!(
                "res_sticky: the history database is unavailable; {waiting} contact(s) kept in the journal {} \
                 until the next start",
                self.journal.dir().display()
            );
        }
        if !self.store.read().close(Instant::now() + STOP_DEADLINE) {
            log_warning!("res_sticky: the connection pool's thread did not end in time");
        }
    }

    /// Stops the workers, the writer (between batches), a retiring backend
    /// and the journal's commit thread (after its last commit), each group
    /// within [`STOP_DEADLINE`].
    fn stop_threads(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let mut busy = self.backend.read().shut_down(&self.shared, Instant::now() + STOP_DEADLINE);
        busy.extend(self.retiring.wait(Instant::now() + STOP_DEADLINE));
        self.journal.stop();
        busy.extend(self.committer.wait(Instant::now() + STOP_DEADLINE));
        report_busy(&busy);
    }

    /// Asterisk exits without unloading the module: the threads stop, and
    /// from then on each contact learned is written to the journal at once
    /// (the CDR engine posts the records of calls the exit cut off after
    /// this), to be stored after the next start.
    pub fn stop_for_exit(&self) {
        self.stop_threads();
        self.journal.write_through();
    }

    /// A new bound for the journal (`journal_max`).
    pub fn set_journal_max(&self, max_bytes: u64) {
        self.journal.set_max(max_bytes);
    }
}

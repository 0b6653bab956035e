//! Starting, reconfiguring and stopping the history and its threads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::breaker::Breaker;
use super::cache::Cache;
use super::journal::Journal;
use super::pending::Pending;
use super::store::Store;
use super::workers::{Backend, BackendSettings, Crew};
use super::*;
use crate::log_warning;

/// How long stopping waits for the history's threads.
pub const STOP_DEADLINE: Duration = Duration::from_secs(3);

pub(super) fn backend_settings(settings: &Settings) -> BackendSettings {
    BackendSettings {
        workers: settings.pool_size,
        query_timeout: settings.query_timeout,
        sync_interval: settings.sync_interval,
        retention: settings.retention,
    }
}

/// Logs the threads a stop left busy.
pub(super) fn report_busy(busy: &[String]) {
    if !busy.is_empty() {
        log_warning!(
            "res_sticky: {} still in a database call at the stop deadline; it ends when the driver gives up",
            busy.join(", ")
        );
    }
}

impl History {
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
            owners: Mutex::default(),
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
            if store.is_some() {
                // Another database: its owners are read whole again.
                self.shared.owners.lock().reset();
            }
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

    /// The store, for batch work that writes to it directly (`sticky import
    /// cdr`).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.read().clone()
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
    pub(super) fn stop_threads(&self) {
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

//! Reading the history: the cache first, else a store read by a worker
//! while the caller waits, never past `query_timeout`.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::cache::{Cache, MAX_PER_NUMBER};
use super::store::{Store, StoreError};
use super::workers::Job;
use super::*;
use crate::log_warning;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::query::Filter;
use crate::time::now_ms;

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

impl History {
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

    pub(super) fn fetch_inner(&self, lookup: &Lookup, away: Away) -> Result<Option<Contact>, LookupError> {
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
            // Checked again (agent_pattern may have changed), not counted again.
            let usable = |contact: &Contact| {
                shared.trusted_parts(contact.started_at, Some(&contact.agent)) && !shared.is_forgotten(contact)
            };
            shared.cache.lock().store_read(&key, load_since, rows, complete, started, usable);
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
    pub(super) fn ask<T: Send + 'static>(
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

    pub fn record_latency(&self, elapsed: Duration) {
        self.shared.counters.latency.record(elapsed);
    }

    pub fn flush_cache(&self) -> usize {
        let mut cache = self.shared.cache.lock();
        let flushed = cache.len();
        cache.clear();
        flushed
    }
}

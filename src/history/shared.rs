//! What every thread of the history shares: the cache, the breaker, the
//! pending writes, the counters, and the rules a contact read back must pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::breaker::Breaker;
use super::cache::Cache;
use super::latency::Latency;
use super::pending::Pending;
use crate::routing::agent::{Agent, AgentRule};
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::time::now_ms;
use crate::{log_notice, log_warning};

/// How long a forgotten number is remembered, to drop stragglers.
pub(super) const FORGOTTEN_KEPT_MS: i64 = 24 * 3600 * 1000;

/// How far ahead of this server's clock a contact read back may be dated.
pub(super) const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

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
    /// Contacts the database refused again and again, set aside in the
    /// journal.
    pub set_aside: AtomicU64,
    /// When the sync poller last read the store for other servers'
    /// contacts (ms since the epoch; 0: never, or no sync).
    pub last_sync_ms: AtomicI64,
    /// Contacts that found neither room in memory nor in the journal.
    pub lost: AtomicU64,
    pub latency: Latency,
}

/// What every thread of the history shares.
pub struct Shared {
    pub cache: Mutex<Cache>,
    /// Each agent's newest contact, for SCHEDULE_NOTICE's "last client".
    pub(super) last_by_agent: Mutex<HashMap<Arc<str>, Contact>>,
    pub breaker: Breaker,
    pub pending: Pending,
    pub counters: Counters,
    pub(super) node: RwLock<Arc<str>>,
    pub(super) agents: RwLock<AgentRule>,
    /// Numbers forgotten lately, and when: contacts of theirs from before
    /// then are dropped wherever they turn up (a batch being written, the
    /// journal read back).
    pub(super) forgotten: Mutex<HashMap<NumberKey, i64>>,
    /// The id of the last note of a forgotten number applied here (0 at
    /// start: the notes still kept, a day's, are applied again).
    pub(super) notes_seen: Mutex<i64>,
    /// Account owners set by `sticky assign`, here or on another server.
    pub(super) owners: Mutex<super::owners::Owners>,
}

impl Shared {
    pub fn node(&self) -> Arc<str> {
        self.node.read().clone()
    }

    /// Whether a contact read back (from the store or the journal) names an
    /// agent a live call could have: the table may be shared, imported or
    /// edited, and what it names is dialled.
    pub fn trusted(&self, contact: &Contact) -> bool {
        let trusted = self.trusted_parts(contact.started_at, Some(&contact.agent));
        if !trusted {
            self.counters.untrusted.fetch_add(1, Ordering::Relaxed);
        }
        trusted
    }

    /// Whether something read back, dated `at` and naming `agent` (if any),
    /// may be used: not dated ahead of this server's clock (it would stay
    /// "the newest" for ever) and naming an agent `agent_pattern` admits.
    pub(super) fn trusted_parts(&self, at: i64, agent: Option<&Agent>) -> bool {
        let plausible = at <= now_ms() + MAX_CLOCK_SKEW_MS;
        plausible && agent.is_none_or(|agent| self.agents.read().accepts(agent))
    }

    /// Contacts read back that may be used: trusted, and not of a number
    /// forgotten since they were made.
    pub(super) fn trusted_only(&self, contacts: Vec<Contact>) -> Vec<Contact> {
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

    /// A statement went through: an open breaker closes, and says so.
    pub(super) fn note_success(&self) {
        if let Some(down) = self.breaker.success() {
            log_notice!(
                "res_sticky: history database answers again (failing for {:.1} s); lookups use it again",
                down.as_secs_f64()
            );
        }
    }

    pub(super) fn note_failure(&self, error: &str) {
        if self.breaker.failure(error) {
            log_warning!("res_sticky: history database failing ({error}); lookups take the fallback until it is back");
        }
    }
}

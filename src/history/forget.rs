//! Forgetting a client (`sticky forget`): the notes every server sharing
//! the store applies, and what this server drops when it applies one.

use std::time::{Duration, Instant};

use super::journal::Journal;
use super::shared::FORGOTTEN_KEPT_MS;
use super::store::Store;
use super::*;
use crate::log_warning;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::time::now_ms;

impl Shared {
    /// Drops numbers forgotten at the given times from everything this
    /// server holds: their contacts made until then.
    pub(super) fn forget_here(&self, notes: &[(NumberKey, i64)], journal: &Journal) {
        self.mark_forgotten(notes, journal);
        self.scrub_journal(notes, journal);
    }

    /// The part of [`Shared::forget_here`] in memory.
    fn mark_forgotten(&self, notes: &[(NumberKey, i64)], journal: &Journal) {
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
        {
            let mut owners = self.owners.lock();
            for (key, at) in notes {
                owners.forget(key, *at);
            }
        }
        for (key, at) in notes {
            journal.confirm(self.pending.purge(key, *at));
        }
    }

    /// The part of [`Shared::forget_here`] on disk.
    fn scrub_journal(&self, notes: &[(NumberKey, i64)], journal: &Journal) {
        if notes.is_empty() {
            return;
        }
        let scrub: journal::Forgotten = notes.iter().map(|(key, at)| (key.as_str().to_string(), *at)).collect();
        if let Err(error) = journal.scrub(&scrub) {
            log_warning!("res_sticky: cannot remove a forgotten number from the journal: {error}");
        }
    }

    /// Applies the notes of numbers forgotten on any server sharing the
    /// store that this server has not applied yet; the notes applied. The
    /// store is read, and the journal scrubbed, with no lock held: a thread
    /// stuck in that read (a database gone silent, no network timeout)
    /// keeps no other writer or poller waiting. Notes two threads read at
    /// once are applied once.
    pub(super) fn apply_notes(&self, store: &dyn Store, journal: &Journal, timeout: Duration) -> Vec<(NumberKey, i64)> {
        let mut after = *self.notes_seen.lock();
        let mut read = Vec::new();
        while let Ok(notes) = store.forgotten_after(after, timeout) {
            let more = notes.len() >= store::NOTES_PER_READ;
            after = notes.iter().map(|note| note.id).max().unwrap_or(after).max(after);
            read.extend(notes);
            if !more {
                break;
            }
        }
        let applied: Vec<(NumberKey, i64)> = {
            let mut seen = self.notes_seen.lock();
            let fresh: Vec<(NumberKey, i64)> =
                read.into_iter().filter(|note| note.id > *seen).map(|note| (note.key, note.at)).collect();
            *seen = (*seen).max(after);
            // Marked before the lock goes: no thread sees the notes as
            // applied before their numbers count as forgotten.
            self.mark_forgotten(&fresh, journal);
            fresh
        };
        self.scrub_journal(&applied, journal);
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
}

impl History {
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
}

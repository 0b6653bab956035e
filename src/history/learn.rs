//! Where a contact learned from a CDR goes: into the cache at once, the
//! journal and the writer's pending queue (the writer thread is in
//! `workers.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::routing::contact::Contact;

impl History {
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
    pub(super) fn keep(&self, contact: Contact) -> bool {
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
}

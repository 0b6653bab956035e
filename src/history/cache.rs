//! The in-process cache of contacts, per number key, in front of the store.
//!
//! An entry knows which stretch of time it covers: after a store read it holds
//! everything stored for the number since `covered_since`, and from then on
//! every contact this server learns (live) or sees another server write (the
//! sync poller) is added to it. So a covered entry — including an empty one, a
//! negative answer — is as fresh as the store, give or take the poller's
//! interval for contacts made on other servers sharing the database.
//! An entry made by live learning alone covers nothing older than its
//! contacts: it answers "last agent" questions its contacts settle, and
//! leaves the rest to the store.

use std::num::NonZeroUsize;

use lru::LruCache;

use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::query::{select, Filter};

/// Contacts kept per number (newest first). Older ones stay in the store.
pub const MAX_PER_NUMBER: usize = 64;

#[derive(Debug, Default, Clone)]
struct Entry {
    /// Newest first, unique by call id.
    contacts: Vec<Contact>,
    /// Everything stored at or after this instant (ms) is in `contacts`,
    /// unless `truncated`.
    covered_since: Option<i64>,
    /// Contacts within the covered stretch were left out (the store read hit
    /// its limit, or the entry overflowed): only the newest are here.
    truncated: bool,
}

impl Entry {
    fn insert(&mut self, contact: Contact) {
        if self.contacts.iter().any(|c| c.call_id == contact.call_id) {
            return;
        }
        let position = self.contacts.partition_point(|c| c.started_at > contact.started_at);
        self.contacts.insert(position, contact);
        if self.contacts.len() > MAX_PER_NUMBER {
            self.contacts.truncate(MAX_PER_NUMBER);
            self.truncated = true;
        }
    }

    /// Whether every stored contact since `since` that could answer is here.
    fn complete_since(&self, since: i64) -> bool {
        let covered = self.covered_since.is_some_and(|covered| covered <= since);
        let whole = !self.truncated || self.contacts.last().is_some_and(|oldest| oldest.started_at < since);
        covered && whole
    }

    fn answer(&self, since: i64, filter: &Filter, first: bool) -> Option<Option<Contact>> {
        if first {
            return self.complete_since(since).then(|| select(&self.contacts, since, filter, true).cloned());
        }
        if let Some(newest) = select(&self.contacts, since, filter, false) {
            return Some(Some(newest.clone()));
        }
        self.complete_since(since).then_some(None)
    }
}

pub struct Cache {
    entries: LruCache<NumberKey, Entry>,
}

fn capacity(size: usize) -> NonZeroUsize {
    NonZeroUsize::new(size.max(1)).expect("at least 1")
}

impl Cache {
    pub fn new(size: usize) -> Cache {
        Cache { entries: LruCache::new(capacity(size)) }
    }

    pub fn resize(&mut self, size: usize) {
        self.entries.resize(capacity(size));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// A contact this server just learned.
    pub fn learn(&mut self, contact: Contact) {
        let key = contact.number.clone();
        self.entries.get_or_insert_mut(key, Entry::default).insert(contact);
    }

    /// A contact another server wrote: only numbers already cached need it;
    /// the others will be read from the store when asked for.
    pub fn merge_remote(&mut self, contact: Contact) {
        if let Some(entry) = self.entries.peek_mut(&contact.number) {
            entry.insert(contact);
        }
    }

    /// `Some(answer)` when the cache settles the question, `None` on a miss.
    pub fn answer(&mut self, key: &NumberKey, since: i64, filter: &Filter, first: bool) -> Option<Option<Contact>> {
        self.entries.get(key)?.answer(since, filter, first)
    }

    /// Stores what a read of everything since `since` (at most `limit` rows,
    /// newest first) returned.
    pub fn store_read(&mut self, key: &NumberKey, since: i64, rows: Vec<Contact>, limit: usize) {
        let hit_limit = rows.len() >= limit;
        let entry = self.entries.get_or_insert_mut(key.clone(), Entry::default);
        for row in rows {
            entry.insert(row);
        }
        entry.covered_since = Some(entry.covered_since.map_or(since, |covered| covered.min(since)));
        entry.truncated |= hit_limit;
    }

    /// Forgets what every entry covers, keeping its contacts: used when the
    /// sync poller starts following the table, since contacts other servers
    /// wrote before that moment were never merged into entries read earlier.
    pub fn forget_coverage(&mut self) {
        for (_, entry) in self.entries.iter_mut() {
            entry.covered_since = None;
        }
    }

    /// The cached contacts of a number, newest first (for the CLI).
    pub fn peek(&self, key: &NumberKey) -> Vec<Contact> {
        self.entries.peek(key).map(|entry| entry.contacts.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::contact::test_contact;
    use crate::routing::vocabulary::{Direction, Disposition};

    fn key() -> NumberKey {
        NumberKey::from_stored("9123456789").unwrap()
    }

    fn contact(agent: &str, direction: Direction, at: i64) -> Contact {
        test_contact(agent, direction, Disposition::Answered, at)
    }

    fn any() -> Filter {
        Filter { direction: None, outbound_dispositions: vec![Disposition::Answered] }
    }

    fn only(direction: Direction) -> Filter {
        Filter { direction: Some(direction), ..any() }
    }

    fn agent(answer: Option<Option<Contact>>) -> Option<Option<String>> {
        answer.map(|found| found.map(|c| c.agent.id.to_string()))
    }

    #[test]
    fn an_unknown_number_is_a_miss() {
        let mut cache = Cache::new(10);
        assert_eq!(cache.answer(&key(), 0, &any(), false), None);
    }

    #[test]
    fn a_live_contact_answers_last_agent_at_once() {
        let mut cache = Cache::new(10);
        cache.learn(contact("101", Direction::Inbound, 1_000));
        assert_eq!(agent(cache.answer(&key(), 0, &any(), false)), Some(Some("101".into())));
        // Not settled by live contacts alone: an older stored outbound contact may exist.
        assert_eq!(cache.answer(&key(), 0, &only(Direction::Outbound), false), None);
        assert_eq!(cache.answer(&key(), 0, &any(), true), None, "the first agent needs the store");
    }

    #[test]
    fn a_store_read_settles_negative_answers() {
        let mut cache = Cache::new(10);
        cache.store_read(&key(), 500, Vec::new(), MAX_PER_NUMBER);
        assert_eq!(agent(cache.answer(&key(), 600, &any(), false)), Some(None), "covered: a negative answer");
        assert_eq!(cache.answer(&key(), 400, &any(), false), None, "a wider window than was read");
        cache.learn(contact("102", Direction::Outbound, 700));
        assert_eq!(
            agent(cache.answer(&key(), 600, &any(), false)),
            Some(Some("102".into())),
            "a live contact is never hidden by a cached negative answer"
        );
    }

    #[test]
    fn first_agent_from_a_complete_entry() {
        let mut cache = Cache::new(10);
        let rows = vec![contact("103", Direction::Inbound, 900), contact("101", Direction::Inbound, 800)];
        cache.store_read(&key(), 100, rows, MAX_PER_NUMBER);
        cache.learn(contact("104", Direction::Inbound, 1_000));
        assert_eq!(agent(cache.answer(&key(), 100, &any(), true)), Some(Some("101".into())));
        assert_eq!(agent(cache.answer(&key(), 850, &any(), true)), Some(Some("103".into())));
        assert_eq!(agent(cache.answer(&key(), 100, &any(), false)), Some(Some("104".into())));
    }

    #[test]
    fn a_truncated_read_does_not_claim_older_contacts() {
        let mut cache = Cache::new(10);
        let rows: Vec<Contact> =
            (0..MAX_PER_NUMBER as i64).map(|i| contact("101", Direction::Inbound, 10_000 - i)).collect();
        cache.store_read(&key(), 0, rows, MAX_PER_NUMBER);
        assert_eq!(cache.answer(&key(), 0, &any(), true), None, "older contacts may exist");
        assert_eq!(cache.answer(&key(), 0, &only(Direction::Outbound), false), None);
        assert_eq!(agent(cache.answer(&key(), 9_990, &only(Direction::Outbound), false)), Some(None));
    }

    #[test]
    fn duplicates_and_remote_contacts() {
        let mut cache = Cache::new(10);
        cache.learn(contact("101", Direction::Inbound, 1_000));
        cache.learn(contact("101", Direction::Inbound, 1_000));
        assert_eq!(cache.peek(&key()).len(), 1);
        let other = NumberKey::from_stored("9000000000").unwrap();
        cache.merge_remote(Contact { number: other.clone(), ..contact("105", Direction::Inbound, 2_000) });
        assert!(cache.peek(&other).is_empty(), "remote contacts only refresh cached numbers");
        cache.merge_remote(contact("105", Direction::Inbound, 2_000));
        assert_eq!(agent(cache.answer(&key(), 0, &any(), false)), Some(Some("105".into())));
    }

    #[test]
    fn the_least_recently_used_number_goes_first() {
        let mut cache = Cache::new(2);
        for (i, number) in ["9000000001", "9000000002", "9000000003"].iter().enumerate() {
            let number = NumberKey::from_stored(number).unwrap();
            cache.learn(Contact { number, ..contact("101", Direction::Inbound, i as i64) });
        }
        assert_eq!(cache.len(), 2);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}

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
/// Contacts kept in all, per number the cache may hold: numbers with long
/// histories make the least recently used numbers go sooner, so memory is
/// bounded by contacts, not only by numbers.
pub const CONTACTS_PER_NUMBER: usize = 4;

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
    /// Adds a contact unless it is there already; whether it was added.
    fn insert(&mut self, contact: Contact) -> bool {
        if self.contacts.iter().any(|c| c.call_id == contact.call_id) {
            return false;
        }
        let position = self.contacts.partition_point(|c| c.started_at > contact.started_at);
        self.contacts.insert(position, contact);
        if self.contacts.len() > MAX_PER_NUMBER {
            self.contacts.truncate(MAX_PER_NUMBER);
            self.truncated = true;
            return false;
        }
        true
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
    /// Contacts held in all entries.
    contacts: usize,
    /// The most contacts held before the least recently used numbers go.
    budget: usize,
}

fn capacity(size: usize) -> NonZeroUsize {
    NonZeroUsize::new(size.max(1)).expect("at least 1")
}

impl Cache {
    pub fn new(size: usize) -> Cache {
        Cache { entries: LruCache::new(capacity(size)), contacts: 0, budget: size.max(1) * CONTACTS_PER_NUMBER }
    }

    pub fn resize(&mut self, size: usize) {
        self.entries.resize(capacity(size));
        self.budget = size.max(1) * CONTACTS_PER_NUMBER;
        self.recount();
        self.shrink();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Contacts held in all entries.
    pub fn contacts(&self) -> usize {
        self.contacts
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.contacts = 0;
    }

    fn recount(&mut self) {
        self.contacts = self.entries.iter().map(|(_, entry)| entry.contacts.len()).sum();
    }

    /// The entry of `key`, made (the least recently used going, if full).
    fn entry(&mut self, key: &NumberKey) -> &mut Entry {
        if !self.entries.contains(key) {
            if let Some((_, evicted)) = self.entries.push(key.clone(), Entry::default()) {
                self.contacts -= evicted.contacts.len();
            }
        }
        self.entries.get_mut(key).expect("just made")
    }

    /// Lets the least recently used numbers go until the contacts fit the
    /// budget (the most recent number stays, whatever its size).
    fn shrink(&mut self) {
        while self.contacts > self.budget && self.entries.len() > 1 {
            match self.entries.pop_lru() {
                Some((_, evicted)) => self.contacts -= evicted.contacts.len(),
                None => break,
            }
        }
    }

    /// Adds contacts to the entry of `key`, keeping the count.
    fn add(&mut self, key: &NumberKey, contacts: impl IntoIterator<Item = Contact>) -> &mut Entry {
        let entry = self.entry(key);
        let before = entry.contacts.len();
        for contact in contacts {
            entry.insert(contact);
        }
        let after = entry.contacts.len();
        self.contacts = self.contacts + after - before;
        self.shrink();
        self.entries.get_mut(key).expect("the most recent entry stays")
    }

    /// Forgets a number.
    pub fn remove(&mut self, key: &NumberKey) {
        if let Some(entry) = self.entries.pop(key) {
            self.contacts -= entry.contacts.len();
        }
    }

    /// A contact this server just learned.
    pub fn learn(&mut self, contact: Contact) {
        let key = contact.number.clone();
        self.add(&key, [contact]);
    }

    /// A contact another server wrote: only numbers already cached need it;
    /// the others will be read from the store when asked for.
    pub fn merge_remote(&mut self, contact: Contact) {
        if self.entries.contains(&contact.number) {
            let key = contact.number.clone();
            // Peeked, not promoted: another server's traffic does not keep a
            // number cached here.
            if let Some(entry) = self.entries.peek_mut(&key) {
                if entry.insert(contact) {
                    self.contacts += 1;
                }
            }
            self.shrink();
        }
    }

    /// `Some(answer)` when the cache settles the question, `None` on a miss.
    pub fn answer(&mut self, key: &NumberKey, since: i64, filter: &Filter, first: bool) -> Option<Option<Contact>> {
        self.entries.get(key)?.answer(since, filter, first)
    }

    /// Stores what a read of everything since `since` (newest first)
    /// returned; `complete` unless the read stopped at its row limit.
    pub fn store_read(&mut self, key: &NumberKey, since: i64, rows: Vec<Contact>, complete: bool) {
        let entry = self.add(key, rows);
        entry.covered_since = Some(entry.covered_since.map_or(since, |covered| covered.min(since)));
        entry.truncated |= !complete;
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
        Filter { direction: None, outbound_dispositions: vec![Disposition::Answered], scope: None }
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
        cache.store_read(&key(), 500, Vec::new(), true);
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
        cache.store_read(&key(), 100, rows, true);
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
        cache.store_read(&key(), 0, rows, false);
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
    fn memory_is_bounded_by_contacts_too() {
        let mut cache = Cache::new(10);
        let number = |i: usize| NumberKey::from_stored(&format!("90000000{i:02}")).unwrap();
        // Numbers with long histories: the budget is 40 contacts in all.
        for i in 0..10 {
            let rows: Vec<Contact> = (0..20)
                .map(|j| Contact {
                    number: number(i),
                    ..contact(&format!("{}", 100 + j), Direction::Inbound, j as i64)
                })
                .collect();
            cache.store_read(&number(i), 0, rows, true);
            assert!(cache.contacts() <= 40, "{} contacts after {i}", cache.contacts());
        }
        assert_eq!(cache.len(), 2, "only the two most recent numbers fit");
        assert!(cache.peek(&number(9)).len() == 20 && cache.peek(&number(0)).is_empty());
        cache.resize(5);
        assert!(cache.contacts() <= 20);
        cache.clear();
        assert_eq!(cache.contacts(), 0);
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

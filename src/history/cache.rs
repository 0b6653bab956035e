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
//!
//! Compact, since a call centre caches hundreds of thousands of numbers: a
//! number is a `u64`, a contact keeps only what answers need (its agent,
//! node and scope shared with every other contact naming them, its call id
//! as a hash), and a number's first contact lives inside its entry.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;
use smallvec::SmallVec;

use crate::host::vocabulary::{Direction, Disposition};
use crate::routing::agent::Agent;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::query::{select, Filter, Kind};

/// Contacts kept per number (newest first). Older ones stay in the store.
pub const MAX_PER_NUMBER: usize = 64;
/// Contacts kept in all, per number the cache may hold: numbers with long
/// histories make the least recently used numbers go sooner, so memory is
/// bounded by contacts, not only by numbers.
pub const CONTACTS_PER_NUMBER: usize = 4;
/// Interned agents and tags are swept of unused ones past this many.
const INTERNED_SWEEP: usize = 4096;

/// A number key as a `u64`: its digits' value and, above, their count (so
/// that leading zeros count). `None` for keys too long to cache (16 digits
/// or more, which `match_digits` never makes).
fn code(key: &NumberKey) -> Option<u64> {
    let digits = key.as_str();
    if digits.len() > 15 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(((digits.len() as u64) << 50) | value)
}

/// The key back from its code (the inverse of [`code`]).
#[cfg(test)]
fn key_of(code: u64) -> NumberKey {
    let length = (code >> 50) as usize;
    let value = code & ((1 << 50) - 1);
    NumberKey::from_stored(&format!("{value:0length$}")).expect("made from a key")
}

/// The call id, as the cache tells duplicates apart.
fn call_hash(call_id: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    call_id.hash(&mut hasher);
    hasher.finish()
}

/// Where a contact was learned, and in which scope: shared by the contacts
/// of the same node and scope.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Tags {
    node: Arc<str>,
    scope: Arc<str>,
}

/// A contact as the cache keeps it.
#[derive(Debug, Clone)]
struct Cached {
    agent: Arc<Agent>,
    tags: Arc<Tags>,
    started_at: i64,
    call: u64,
    direction: Direction,
    disposition: Disposition,
}

impl Kind for Cached {
    fn direction(&self) -> Direction {
        self.direction
    }
    fn disposition(&self) -> Disposition {
        self.disposition
    }
    fn scope(&self) -> &str {
        &self.tags.scope
    }
    fn started_at(&self) -> i64 {
        self.started_at
    }
}

impl Cached {
    /// The whole contact again (its client number is the key's digits; its
    /// call id is not kept).
    fn contact(&self, key: &NumberKey) -> Contact {
        Contact {
            number: key.clone(),
            agent: (*self.agent).clone(),
            direction: self.direction,
            disposition: self.disposition,
            started_at: self.started_at,
            node: self.tags.node.clone(),
            call_id: String::new(),
            client: key.as_str().to_string(),
            scope: self.tags.scope.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Newest first, unique by call.
    contacts: SmallVec<[Cached; 1]>,
    /// Everything stored at or after this instant (ms) is in `contacts`,
    /// unless `truncated`; `i64::MAX`: nothing is covered.
    covered_since: i64,
    /// Contacts within the covered stretch were left out (the store read hit
    /// its limit, or the entry overflowed): only the newest are here.
    truncated: bool,
}

impl Entry {
    fn new() -> Entry {
        Entry { contacts: SmallVec::new(), covered_since: i64::MAX, truncated: false }
    }

    /// Adds a contact unless it is there already; whether it was added.
    fn insert(&mut self, contact: Cached) -> bool {
        if self.contacts.iter().any(|c| c.call == contact.call) {
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
        let covered = self.covered_since <= since;
        let whole = !self.truncated || self.contacts.last().is_some_and(|oldest| oldest.started_at < since);
        covered && whole
    }

    fn answer(&self, since: i64, filter: &Filter, first: bool) -> Option<Option<&Cached>> {
        if first {
            return self.complete_since(since).then(|| select(&self.contacts, since, filter, true));
        }
        if let Some(newest) = select(&self.contacts, since, filter, false) {
            return Some(Some(newest));
        }
        self.complete_since(since).then_some(None)
    }
}

pub struct Cache {
    entries: LruCache<u64, Entry>,
    /// Contacts held in all entries.
    contacts: usize,
    /// The most contacts held before the least recently used numbers go.
    budget: usize,
    agents: Interned<Agent>,
    tags: Interned<Tags>,
    /// Other servers' contacts the sync poller saw lately for numbers not
    /// cached, with when it saw them: a store read of the number whose
    /// statement began before the poller saw one (so may not have found
    /// it) takes it from here when it fills the entry, since the poller
    /// reads each row once.
    synced: HashMap<u64, SmallVec<[(Instant, Contact); 1]>>,
    /// The same, by when they were seen, oldest first, to let them go.
    synced_order: VecDeque<(Instant, u64)>,
}

/// How long, and how many, other servers' contacts for numbers not cached
/// are kept for store reads finishing late: longer than the longest
/// `query_timeout` (30 s).
const SYNCED_KEPT: Duration = Duration::from_secs(35);
const SYNCED_MAX: usize = 50_000;

/// Shared copies of values many contacts hold (agents, tags).
struct Interned<T> {
    table: HashMap<Arc<T>, ()>,
    /// The size at which copies no contact holds any more are swept: twice
    /// what was left at the last sweep, so sweeping costs O(1) per value.
    sweep_at: usize,
}

impl<T> Default for Interned<T> {
    fn default() -> Interned<T> {
        Interned { table: HashMap::new(), sweep_at: INTERNED_SWEEP }
    }
}

fn capacity(size: usize) -> NonZeroUsize {
    NonZeroUsize::new(size.max(1)).expect("at least 1")
}

/// The shared copy of `value` in `interned` (added if new).
fn intern<T: Eq + Hash>(interned: &mut Interned<T>, value: T) -> Arc<T> {
    if let Some((shared, _)) = interned.table.get_key_value(&value) {
        return shared.clone();
    }
    if interned.table.len() >= interned.sweep_at {
        interned.table.retain(|shared, _| Arc::strong_count(shared) > 1);
        interned.sweep_at = (interned.table.len() * 2).max(INTERNED_SWEEP);
    }
    let shared = Arc::new(value);
    interned.table.insert(shared.clone(), ());
    shared
}

impl Cache {
    pub fn new(size: usize) -> Cache {
        Cache {
            entries: LruCache::new(capacity(size)),
            contacts: 0,
            budget: size.max(1) * CONTACTS_PER_NUMBER,
            agents: Interned::default(),
            tags: Interned::default(),
            synced: HashMap::new(),
            synced_order: VecDeque::new(),
        }
    }

    /// A new size (a reload). The numbers that no longer fit are let go
    /// here, counted one by one, so that the count of contacts stays right
    /// without a walk over every entry: an unchanged size costs nothing,
    /// however full the cache (every call waits for this lock).
    pub fn resize(&mut self, size: usize) {
        let capacity = capacity(size);
        while self.entries.len() > capacity.get() {
            match self.entries.pop_lru() {
                Some((_, evicted)) => self.contacts -= evicted.contacts.len(),
                None => break,
            }
        }
        self.entries.resize(capacity);
        self.budget = size.max(1) * CONTACTS_PER_NUMBER;
        self.shrink();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Contacts held in all entries.
    pub fn contacts(&self) -> usize {
        self.contacts
    }

    /// Empties the cache (what the poller saw lately stays, for the store
    /// reads under way).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.contacts = 0;
        self.agents = Interned::default();
        self.tags = Interned::default();
    }

    /// The compact form of a contact.
    fn compact(&mut self, contact: Contact) -> Cached {
        let agent = intern(&mut self.agents, contact.agent);
        let tags = intern(&mut self.tags, Tags { node: contact.node, scope: contact.scope });
        Cached {
            agent,
            tags,
            started_at: contact.started_at,
            call: call_hash(&contact.call_id),
            direction: contact.direction,
            disposition: contact.disposition,
        }
    }

    /// The entry of `code`, made (the least recently used going, if full).
    fn entry(&mut self, code: u64) -> &mut Entry {
        if !self.entries.contains(&code) {
            if let Some((_, evicted)) = self.entries.push(code, Entry::new()) {
                self.contacts -= evicted.contacts.len();
            }
        }
        self.entries.get_mut(&code).expect("just made")
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

    /// Adds contacts to the entry of `code`, keeping the count.
    fn add(&mut self, code: u64, contacts: impl IntoIterator<Item = Contact>) -> &mut Entry {
        let compact: Vec<Cached> = contacts.into_iter().map(|contact| self.compact(contact)).collect();
        let entry = self.entry(code);
        let before = entry.contacts.len();
        for contact in compact {
            entry.insert(contact);
        }
        let after = entry.contacts.len();
        self.contacts = self.contacts + after - before;
        self.shrink();
        self.entries.get_mut(&code).expect("the most recent entry stays")
    }

    /// Forgets a number.
    pub fn remove(&mut self, key: &NumberKey) {
        let Some(code) = code(key) else {
            return;
        };
        if let Some(entry) = self.entries.pop(&code) {
            self.contacts -= entry.contacts.len();
        }
        self.synced.remove(&code);
    }

    /// A contact this server just learned.
    pub fn learn(&mut self, contact: Contact) {
        if let Some(code) = code(&contact.number) {
            self.add(code, [contact]);
        }
    }

    /// A contact another server wrote: only numbers already cached need it;
    /// the others will be read from the store when asked for.
    pub fn merge_remote(&mut self, contact: Contact) {
        let Some(code) = code(&contact.number) else {
            return;
        };
        if self.entries.contains(&code) {
            let compact = self.compact(contact);
            // Peeked, not promoted: another server's traffic does not keep a
            // number cached here.
            if let Some(entry) = self.entries.peek_mut(&code) {
                if entry.insert(compact) {
                    self.contacts += 1;
                }
            }
            self.shrink();
        } else {
            self.keep_synced(code, contact);
        }
    }

    /// Keeps another server's contact of a number not cached (see `synced`),
    /// letting the oldest go.
    fn keep_synced(&mut self, code: u64, contact: Contact) {
        let now = Instant::now();
        while let Some(&(at, old)) = self.synced_order.front() {
            if now.duration_since(at) <= SYNCED_KEPT && self.synced_order.len() < SYNCED_MAX {
                break;
            }
            self.synced_order.pop_front();
            if let Some(kept) = self.synced.get_mut(&old) {
                kept.retain(|(seen, _)| *seen > at);
                if kept.is_empty() {
                    self.synced.remove(&old);
                }
            }
        }
        let kept = self.synced.entry(code).or_default();
        // The poll reads rows above a gap again: one copy each.
        if kept.iter().all(|(_, known)| known.call_id != contact.call_id) {
            kept.push((now, contact));
            self.synced_order.push_back((now, code));
        }
    }

    /// `Some(answer)` when the cache settles the question, `None` on a miss.
    pub fn answer(&mut self, key: &NumberKey, since: i64, filter: &Filter, first: bool) -> Option<Option<Contact>> {
        let entry = self.entries.get(&code(key)?)?;
        entry.answer(since, filter, first).map(|found| found.map(|cached| cached.contact(key)))
    }

    /// Stores what a read of everything since `since` (newest first)
    /// returned; `complete` unless the read stopped at its row limit;
    /// `began`: when its statement was sent (contacts the poller saw from
    /// then on may have been committed too late for it; those still
    /// `usable` now are added).
    pub fn store_read(
        &mut self,
        key: &NumberKey,
        since: i64,
        rows: Vec<Contact>,
        complete: bool,
        began: Instant,
        usable: impl Fn(&Contact) -> bool,
    ) {
        let Some(code) = code(key) else {
            return;
        };
        let late: Vec<Contact> = self
            .synced
            .get(&code)
            .into_iter()
            .flatten()
            .filter(|(seen, contact)| *seen >= began && contact.started_at >= since && usable(contact))
            .map(|(_, contact)| contact.clone())
            .collect();
        let entry = self.add(code, rows.into_iter().chain(late));
        entry.covered_since = entry.covered_since.min(since);
        entry.truncated |= !complete;
    }

    /// Forgets what every entry covers, keeping its contacts: used when the
    /// sync poller starts following the table, since contacts other servers
    /// wrote before that moment were never merged into entries read earlier.
    pub fn forget_coverage(&mut self) {
        for (_, entry) in self.entries.iter_mut() {
            entry.covered_since = i64::MAX;
        }
    }

    /// The cached contacts of a number, newest first, with a hash of each
    /// one's call id (for the CLI, to tell them from stored ones).
    pub fn peek(&self, key: &NumberKey) -> Vec<(Contact, u64)> {
        let Some(entry) = code(key).and_then(|code| self.entries.peek(&code)) else {
            return Vec::new();
        };
        entry.contacts.iter().map(|cached| (cached.contact(key), cached.call)).collect()
    }

    /// The hash `peek` gives for a call id.
    pub fn call_hash(call_id: &str) -> u64 {
        call_hash(call_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::vocabulary::{Direction, Disposition};
    use crate::routing::contact::test_contact;

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
    fn number_keys_as_integers_keep_leading_zeros() {
        for digits in ["9123456789", "0123456789", "0000000", "123456789012345"] {
            let key = NumberKey::from_stored(digits).unwrap();
            assert_eq!(key_of(code(&key).unwrap()), key);
        }
        assert_ne!(code(&NumberKey::from_stored("0123").unwrap()), code(&NumberKey::from_stored("123").unwrap()));
        assert_eq!(code(&NumberKey::from_stored(&"9".repeat(16)).unwrap()), None, "too long to cache");
    }

    #[test]
    fn contacts_share_their_agent_and_tags() {
        let mut cache = Cache::new(10);
        for i in 0..5 {
            let number = NumberKey::from_stored(&format!("900000000{i}")).unwrap();
            cache.learn(Contact { number, ..contact("101", Direction::Inbound, i) });
        }
        assert_eq!((cache.agents.table.len(), cache.tags.table.len()), (1, 1), "one agent, one node and scope");
        assert_eq!(size_of::<Cached>(), 40, "the compact form");
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
        cache.store_read(&key(), 500, Vec::new(), true, Instant::now(), |_| true);
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
    fn a_contact_synced_while_a_store_read_ran_is_not_hidden() {
        let other = || NumberKey::from_stored("9000000001").unwrap();
        let mut cache = Cache::new(10);
        let began = Instant::now();
        // The store read of the number began and found nothing; before it
        // was cached, the poller saw another server's contact of it.
        cache.merge_remote(contact("103", Direction::Inbound, 900));
        cache.store_read(&key(), 500, Vec::new(), true, began, |_| true);
        assert_eq!(agent(cache.answer(&key(), 600, &any(), false)), Some(Some("103".into())), "not a negative");
        assert_eq!(cache.contacts(), 1, "counted");
        // Seen before a read began: the read found it itself, if it is there.
        cache.merge_remote(Contact { number: other(), ..contact("101", Direction::Inbound, 900) });
        std::thread::sleep(Duration::from_millis(2));
        cache.store_read(&other(), 500, Vec::new(), true, Instant::now(), |_| true);
        assert_eq!(agent(cache.answer(&other(), 600, &any(), false)), Some(None));
        // Forgetting the number drops what was kept for it too.
        cache.remove(&other());
        let began = Instant::now();
        cache.merge_remote(Contact { number: other(), ..contact("101", Direction::Inbound, 950) });
        cache.remove(&other());
        cache.store_read(&other(), 500, Vec::new(), true, began, |_| true);
        assert_eq!(agent(cache.answer(&other(), 600, &any(), false)), Some(None), "a forgotten number stays so");
        // No longer usable (agent_pattern changed by a reload): left out.
        let mut reloaded = Cache::new(10);
        let began = Instant::now();
        reloaded.merge_remote(contact("105", Direction::Inbound, 900));
        reloaded.store_read(&key(), 500, Vec::new(), true, began, |c| &*c.agent.id != "105");
        assert_eq!(agent(reloaded.answer(&key(), 600, &any(), false)), Some(None));
        // Older than the read's window: left out.
        let mut narrow = Cache::new(10);
        let began = Instant::now();
        narrow.merge_remote(contact("102", Direction::Inbound, 100));
        narrow.store_read(&key(), 500, Vec::new(), true, began, |_| true);
        assert_eq!(agent(narrow.answer(&key(), 600, &any(), false)), Some(None));
        assert_eq!(narrow.contacts(), 0);
    }

    #[test]
    fn contacts_kept_for_late_reads_are_bounded() {
        let mut cache = Cache::new(10);
        for i in 0..(SYNCED_MAX as u64 + 10) {
            let number = NumberKey::from_stored(&format!("9{i:09}")).unwrap();
            cache.merge_remote(Contact { number, ..contact("101", Direction::Inbound, 900) });
        }
        assert!(cache.synced_order.len() <= SYNCED_MAX);
        // Read again above a gap: kept once.
        let number = NumberKey::from_stored("9123456789").unwrap();
        for _ in 0..3 {
            cache.merge_remote(Contact { number: number.clone(), ..contact("101", Direction::Inbound, 900) });
        }
        assert_eq!(cache.synced.get(&code(&number).unwrap()).map(|kept| kept.len()), Some(1));
        assert!(cache.synced.len() <= SYNCED_MAX, "{}", cache.synced.len());
        assert_eq!(cache.len(), 0, "nothing cached by another server's traffic");
    }

    #[test]
    fn first_agent_from_a_complete_entry() {
        let mut cache = Cache::new(10);
        let rows = vec![contact("103", Direction::Inbound, 900), contact("101", Direction::Inbound, 800)];
        cache.store_read(&key(), 100, rows, true, Instant::now(), |_| true);
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
        cache.store_read(&key(), 0, rows, false, Instant::now(), |_| true);
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
        assert_eq!(cache.peek(&key())[0].1, Cache::call_hash(&contact("101", Direction::Inbound, 1_000).call_id));
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
            cache.store_read(&number(i), 0, rows, true, Instant::now(), |_| true);
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

    #[test]
    fn interning_sweeps_rarely_when_many_values_live() {
        let mut interned: Interned<String> = Interned::default();
        let held: Vec<Arc<String>> = (0..3 * INTERNED_SWEEP).map(|n| intern(&mut interned, n.to_string())).collect();
        assert_eq!(interned.table.len(), held.len(), "live values stay");
        assert!(interned.sweep_at >= 2 * INTERNED_SWEEP, "the next sweep is far: {}", interned.sweep_at);
        drop(held);
        for n in 0..interned.sweep_at {
            intern(&mut interned, format!("x{n}"));
        }
        assert!(interned.table.len() <= 2 * INTERNED_SWEEP + 1, "unused copies swept: {}", interned.table.len());
    }
}

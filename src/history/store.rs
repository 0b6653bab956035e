//! The history store as the rest of the module sees it. The ODBC store is
//! the real one; unit tests use an in-memory one.

use std::fmt;
use std::time::Duration;

use super::latency::Latency;
use super::owners::{Owner, OwnerPage};
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No connection could be had (refused, login failed, pool exhausted).
    Unavailable(String),
    /// A statement failed.
    Query(String),
    /// The database refused the values themselves (SQLSTATE class 22: a
    /// value too long, out of range): writing them again cannot help.
    Rejected(String),
    /// A statement met a table or column that is not there (dropped by
    /// hand, say): the layout is made again and the statement retried.
    Missing(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(reason) => write!(f, "database unavailable: {reason}"),
            StoreError::Query(reason) | StoreError::Missing(reason) => write!(f, "query failed: {reason}"),
            StoreError::Rejected(reason) => write!(f, "values refused: {reason}"),
        }
    }
}

/// A stored contact with its row id (ids only grow; the sync poller follows them).
pub type Row = (i64, Contact);

/// Notes of forgotten numbers read at a time.
pub const NOTES_PER_READ: usize = 1000;

/// A note that a number was forgotten (`sticky_forget`): its contacts made
/// until `at` are to go from every server sharing the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: i64,
    pub key: NumberKey,
    pub at: i64,
}

pub trait Store: Send + Sync {
    /// Contacts of `key` that started at or after `since`, newest first, at most `limit`.
    fn recent(&self, key: &NumberKey, since: i64, limit: usize, timeout: Duration) -> Result<Vec<Contact>, StoreError>;

    /// Contacts of `key` since `since`, oldest first, at most `limit`.
    fn oldest(&self, key: &NumberKey, since: i64, limit: usize, timeout: Duration) -> Result<Vec<Contact>, StoreError>;

    /// The newest contact of an agent learned by the server `node`.
    fn last_of_agent(&self, agent_id: &str, node: &str, timeout: Duration) -> Result<Option<Contact>, StoreError>;

    /// Writes contacts; one already stored (same call id) is skipped.
    fn insert(&self, contacts: &[Contact], timeout: Duration) -> Result<(), StoreError>;

    /// Erases every contact of `key`, and its owners, and leaves a note
    /// (`sticky_forget`) so that other servers drop it from their caches and
    /// owners; the contacts erased.
    fn forget(&self, key: &NumberKey, at: i64, timeout: Duration) -> Result<usize, StoreError>;

    /// Notes of forgotten numbers with an id above `after`, in id order, at
    /// most [`NOTES_PER_READ`].
    fn forgotten_after(&self, after: i64, timeout: Duration) -> Result<Vec<Note>, StoreError>;

    /// Erases up to `limit` contacts that started before `before` (and old
    /// notes of forgotten numbers and of removed owners); the contacts erased.
    fn prune(&self, before: i64, limit: usize, timeout: Duration) -> Result<usize, StoreError>;

    /// Rows with an id above `after`, in id order, at most `limit`.
    fn rows_after(&self, after: i64, limit: usize, timeout: Duration) -> Result<Vec<Row>, StoreError>;

    /// The highest row id (0 for an empty table).
    fn last_id(&self, timeout: Duration) -> Result<i64, StoreError>;

    /// Sets a number's owner in a scope (`sticky_owner`), or with no agent
    /// removes it: the row of the change replaces the number's row there.
    fn set_owner(&self, owner: &Owner, timeout: Duration) -> Result<(), StoreError>;

    /// Owner rows with an id above `after`, in id order, at most `limit`.
    fn owners_after(&self, after: i64, limit: usize, timeout: Duration) -> Result<OwnerPage, StoreError>;

    /// The database product, once known ("SQLite", "PostgreSQL", …).
    fn describe(&self) -> String;

    /// Connections (in use, open).
    fn pool_state(&self) -> (u32, u32);

    /// Closes the connections and waits, until `deadline`, for any thread
    /// of the store's own to end; false if one is still running then.
    fn close(&self, _deadline: std::time::Instant) -> bool {
        true
    }

    /// How long taking a pooled connection and running a statement on it
    /// took, for the stores that keep those times.
    fn steps(&self) -> Option<(&Latency, &Latency)> {
        None
    }
}

#[cfg(test)]
pub mod memory {
    //! An in-memory store whose availability a test can switch.
    use std::sync::atomic::{AtomicBool, Ordering};

    use parking_lot::Mutex;

    use super::*;

    #[derive(Default)]
    pub struct MemoryStore {
        rows: Mutex<Vec<Row>>,
        owners: Mutex<Vec<(i64, Owner)>>,
        owner_ids: std::sync::atomic::AtomicI64,
        forgotten: Mutex<Vec<Note>>,
        pub down: AtomicBool,
        pub reads: std::sync::atomic::AtomicU64,
        /// Every call sleeps this long first (a slow database).
        pub delay_ms: std::sync::atomic::AtomicU64,
        /// Inserting panics (a bug in a driver, say).
        pub panic_on_insert: AtomicBool,
        pub panics: std::sync::atomic::AtomicU64,
        /// Reading the notes of forgotten numbers panics on this call (1:
        /// the first), once (a driver failing as a link is dropped, say).
        pub panic_on_notes_call: std::sync::atomic::AtomicU64,
        notes_calls: std::sync::atomic::AtomicU64,
        /// The next insert also leaves this note, as if another server
        /// forgot the number while the batch was on its way.
        pub note_during_insert: Mutex<Option<(NumberKey, i64)>>,
        /// A batch holding a contact of this call id is refused, as a
        /// database refuses a value it cannot store.
        pub refused_call_id: Mutex<Option<String>>,
        /// Inserts time out (the database is slow, not refusing).
        pub timeout_inserts: AtomicBool,
        /// So many calls of `forget` fail from now on.
        pub failing_forgets: std::sync::atomic::AtomicU64,
        /// The next read of notes hangs until `hanging` is lowered (a
        /// database gone silent).
        pub hang_next_notes: AtomicBool,
        pub hanging: AtomicBool,
        /// Rows of these ids are not seen by reads yet (their transaction
        /// is still committing).
        pub uncommitted: Mutex<std::collections::HashSet<i64>>,
        /// Rows the sync poll's reads returned, in all.
        pub rows_polled: std::sync::atomic::AtomicU64,
    }

    impl MemoryStore {
        fn check(&self) -> Result<(), StoreError> {
            let delay = self.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                std::thread::sleep(Duration::from_millis(delay));
            }
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("switched off".into()))
            } else {
                Ok(())
            }
        }

        pub fn len(&self) -> usize {
            self.rows.lock().len()
        }

        /// Empties the table, ids starting again at 1 (a restored backup, a
        /// standby that never had the last rows).
        pub fn truncate(&self) {
            self.rows.lock().clear();
        }

        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl Store for MemoryStore {
        fn recent(&self, key: &NumberKey, since: i64, limit: usize, _: Duration) -> Result<Vec<Contact>, StoreError> {
            self.check()?;
            self.reads.fetch_add(1, Ordering::SeqCst);
            let hidden = self.uncommitted.lock().clone();
            let mut found: Vec<Contact> = self
                .rows
                .lock()
                .iter()
                .filter(|(id, _)| !hidden.contains(id))
                .map(|(_, c)| c)
                .filter(|c| &c.number == key && c.started_at >= since)
                .cloned()
                .collect();
            found.sort_by_key(|c| std::cmp::Reverse(c.started_at));
            found.truncate(limit);
            Ok(found)
        }

        fn oldest(
            &self,
            key: &NumberKey,
            since: i64,
            limit: usize,
            timeout: Duration,
        ) -> Result<Vec<Contact>, StoreError> {
            let mut found = self.recent(key, since, usize::MAX, timeout)?;
            found.reverse();
            found.truncate(limit);
            Ok(found)
        }

        fn last_of_agent(&self, agent_id: &str, node: &str, _: Duration) -> Result<Option<Contact>, StoreError> {
            self.check()?;
            let rows = self.rows.lock();
            Ok(rows
                .iter()
                .map(|(_, c)| c)
                .filter(|c| &*c.agent.id == agent_id && &*c.node == node)
                .max_by_key(|c| c.started_at)
                .cloned())
        }

        fn insert(&self, contacts: &[Contact], _: Duration) -> Result<(), StoreError> {
            if self.panic_on_insert.load(Ordering::SeqCst) {
                self.panics.fetch_add(1, Ordering::SeqCst);
                panic!("inserting panicked (a test)");
            }
            self.check()?;
            if self.timeout_inserts.load(Ordering::SeqCst) {
                return Err(StoreError::Query("canceling statement due to statement timeout (a test)".into()));
            }
            if let Some(refused) = self.refused_call_id.lock().as_deref() {
                if contacts.iter().any(|contact| contact.call_id == refused) {
                    return Err(StoreError::Rejected("value too long for type character varying(64) (a test)".into()));
                }
            }
            let mut rows = self.rows.lock();
            for contact in contacts {
                if !rows.iter().any(|(_, c)| c.call_id == contact.call_id) {
                    let id = rows.len() as i64 + 1;
                    rows.push((id, contact.clone()));
                }
            }
            if let Some((key, at)) = self.note_during_insert.lock().take() {
                let mut forgotten = self.forgotten.lock();
                let id = forgotten.len() as i64 + 1;
                forgotten.push(Note { id, key, at });
            }
            Ok(())
        }

        fn forget(&self, key: &NumberKey, at: i64, _: Duration) -> Result<usize, StoreError> {
            self.check()?;
            let failing = &self.failing_forgets;
            if failing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                return Err(StoreError::Unavailable("erasing failed (a test)".into()));
            }
            self.owners.lock().retain(|(_, owner)| &owner.key != key || owner.at > at);
            let mut rows = self.rows.lock();
            let before = rows.len();
            rows.retain(|(_, c)| &c.number != key || c.started_at > at);
            let mut forgotten = self.forgotten.lock();
            let id = forgotten.len() as i64 + 1;
            forgotten.push(Note { id, key: key.clone(), at });
            Ok(before - rows.len())
        }

        fn forgotten_after(&self, after: i64, _: Duration) -> Result<Vec<Note>, StoreError> {
            let call = self.notes_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call == self.panic_on_notes_call.load(Ordering::SeqCst) {
                self.panics.fetch_add(1, Ordering::SeqCst);
                panic!("reading the notes panicked (a test)");
            }
            self.check()?;
            if self.hang_next_notes.swap(false, Ordering::SeqCst) {
                while self.hanging.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            let notes = self.forgotten.lock();
            Ok(notes.iter().filter(|note| note.id > after).take(NOTES_PER_READ).cloned().collect())
        }

        fn prune(&self, before: i64, limit: usize, _: Duration) -> Result<usize, StoreError> {
            self.check()?;
            let mut rows = self.rows.lock();
            let old: Vec<i64> =
                rows.iter().filter(|(_, c)| c.started_at < before).take(limit).map(|(id, _)| *id).collect();
            rows.retain(|(id, _)| !old.contains(id));
            Ok(old.len())
        }

        fn rows_after(&self, after: i64, limit: usize, _: Duration) -> Result<Vec<Row>, StoreError> {
            self.check()?;
            let hidden = self.uncommitted.lock().clone();
            let rows = self.rows.lock();
            let found: Vec<Row> =
                rows.iter().filter(|(id, _)| *id > after && !hidden.contains(id)).take(limit).cloned().collect();
            self.rows_polled.fetch_add(found.len() as u64, Ordering::SeqCst);
            Ok(found)
        }

        fn last_id(&self, _: Duration) -> Result<i64, StoreError> {
            self.check()?;
            Ok(self.rows.lock().len() as i64)
        }

        fn set_owner(&self, owner: &Owner, _: Duration) -> Result<(), StoreError> {
            self.check()?;
            let mut owners = self.owners.lock();
            let ahead = crate::time::now_ms() + crate::history::shared::MAX_CLOCK_SKEW_MS;
            let newer = owners
                .iter()
                .any(|(_, k)| k.key == owner.key && k.scope == owner.scope && k.at > owner.at && k.at <= ahead);
            let forgotten = self.forgotten.lock().iter().any(|note| note.key == owner.key && note.at >= owner.at);
            if newer || forgotten {
                return Ok(());
            }
            owners.retain(|(_, known)| known.key != owner.key || known.scope != owner.scope);
            owners.push((self.owner_ids.fetch_add(1, Ordering::SeqCst) + 1, owner.clone()));
            Ok(())
        }

        fn owners_after(&self, after: i64, limit: usize, _: Duration) -> Result<OwnerPage, StoreError> {
            self.check()?;
            let owners: Vec<(i64, Owner)> =
                self.owners.lock().iter().filter(|(id, _)| *id > after).take(limit).cloned().collect();
            let last_id = owners.iter().map(|(id, _)| *id).max().unwrap_or(after);
            Ok(OwnerPage { scanned: owners.len(), owners, last_id })
        }

        fn describe(&self) -> String {
            "memory".into()
        }

        fn pool_state(&self) -> (u32, u32) {
            (0, 1)
        }
    }
}

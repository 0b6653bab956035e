//! The durable journal: every learned contact is appended to a file next to
//! astdb before the writer stores it, so that a crash, `kill -9` or power
//! cut while the database is away loses at most the contacts of the last
//! group commit.
//!
//! - **Group commit.** Appending only buffers the record (the CDR thread
//!   never waits for a disk); a thread of its own writes the buffer and
//!   flushes it with one `fdatasync` at most [`COMMIT_INTERVAL`] after the
//!   first record was buffered, or as soon as [`COMMIT_RECORDS`] are waiting.
//!   A record whose contact was stored before its commit is never written.
//! - **Records** are lines: a format tag, a CRC-32 of the rest, and the
//!   contact's fields, tab-separated and escaped. A line cut short by a
//!   crash, or damaged, fails its check and is skipped, never misread.
//! - **Segments.** Records go to numbered segment files; a segment is
//!   deleted once every contact in it is stored. Segments found at start, and
//!   those written while the writer's memory queue was full, are read back
//!   ("replayed") when that queue has room.
//! - **Bounded.** Past `max_bytes` on disk, new contacts are kept in memory
//!   only; they are counted, and the first of each stretch is logged.

mod commit;
mod record;
mod segment;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::routing::contact::Contact;
use crate::{log_notice, log_warning};

/// The longest a learned contact waits in memory before it is on disk.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
/// Records that trigger a commit before the interval is over.
pub const COMMIT_RECORDS: usize = 256;
/// A segment is closed (a new one begun) past this size.
const SEGMENT_BYTES: u64 = 4 << 20;
const SUFFIX: &str = "journal";
/// The tag of the record format written now (`c1`: without a scope, read
/// still).
const FORMAT: &str = "c2";

/// Where a journaled contact is, so that storing it can be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    segment: u64,
    /// Its place in the commit buffer while not yet on disk; 0 once read
    /// back from a file.
    seq: u64,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    /// Contacts of this segment in the writer's memory, not yet stored.
    unconfirmed: u64,
    /// Records waiting in the commit buffer.
    buffered: u64,
    /// Holds contacts that are not in memory (found at start, or journaled
    /// while memory was full): must be read back before it can go.
    spilled: bool,
}

struct Buffered {
    seq: u64,
    segment: u64,
    /// The contact's number key and start, for forgetting it.
    number: String,
    started_at: i64,
    line: Vec<u8>,
}

/// Numbers forgotten, each with the time it was forgotten: their contacts
/// made until then go.
pub type Forgotten = HashMap<String, i64>;

fn is_gone(forgotten: &Forgotten, number: &str, started_at: i64) -> bool {
    forgotten.get(number).is_some_and(|at| started_at <= *at)
}

#[derive(Default)]
struct State {
    current: u64,
    segments: BTreeMap<u64, Segment>,
    buffer: Vec<Buffered>,
    /// When the oldest buffered record arrived.
    since: Option<Instant>,
    next_seq: u64,
    /// Buffered records whose contacts were stored before their commit.
    stored_early: HashSet<u64>,
    /// Whether the journal is full (for logging the start of a stretch).
    full: bool,
    /// Forgotten since the commit thread last took the buffer: the batch it
    /// is writing may still hold their records.
    scrubbed: Forgotten,
    stopping: bool,
}

impl State {
    fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }
}

/// What the journal counts, for `sticky show status`.
#[derive(Debug, Default)]
pub struct JournalCounters {
    /// Records flushed to disk.
    pub committed: AtomicU64,
    /// Contacts not journaled: the journal was full or the disk failed.
    pub dropped: AtomicU64,
    /// Records skipped when read back: cut short or damaged.
    pub skipped: AtomicU64,
    pub commits: AtomicU64,
}

pub struct Journal {
    dir: PathBuf,
    max_bytes: AtomicU64,
    /// Set at exit: every record is written and flushed as it comes.
    write_through: AtomicBool,
    state: Mutex<State>,
    wake: Condvar,
    /// Held while segment files are written or deleted.
    files: Mutex<()>,
    pub counters: JournalCounters,
}

/// A snapshot for `sticky show status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalState {
    pub segments: usize,
    pub bytes: u64,
    pub max_bytes: u64,
    pub committed: u64,
    pub dropped: u64,
    pub skipped: u64,
}

#[cfg(any(feature = "module", test))]
pub use self::record::read_legacy;
pub use self::record::{decode, encode, parse};
use self::segment::segment_path;

impl Journal {
    /// read back.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Journal> {
        fs::create_dir_all(dir)?;
        let mut state = State::default();
        for entry in fs::read_dir(dir)?.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(&format!(".{SUFFIX}")).and_then(|id| u64::from_str_radix(id, 16).ok())
            else {
                continue;
            };
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            state.segments.insert(id, Segment { bytes, spilled: true, ..Segment::default() });
        }
        state.current = state.segments.keys().next_back().map_or(1, |last| last + 1);
        state.next_seq = 1;
        Ok(Journal {
            dir: dir.to_path_buf(),
            max_bytes: AtomicU64::new(max_bytes),
            write_through: AtomicBool::new(false),
            state: Mutex::new(state),
            wake: Condvar::new(),
            files: Mutex::new(()),
            counters: JournalCounters::default(),
        })
    }

    /// Buffers a contact for the next commit. `in_memory` says whether the
    /// writer also holds it (else it is read back later). `None` when the
    /// journal is full: the contact then lives in memory only.
    pub fn append(&self, contact: &Contact, in_memory: bool) -> Option<Ticket> {
        let line = encode(contact);
        if self.write_through.load(Ordering::SeqCst) {
            return self.append_now(line, in_memory);
        }
        let mut state = self.state.lock();
        if state.stopping {
            // The commit thread is ending (a stop, or Asterisk exiting
            // before write-through is on): nobody would flush a buffered
            // record, so this one is written at once.
            drop(state);
            return self.append_now(line, in_memory);
        }
        let max_bytes = self.max_bytes.load(Ordering::Relaxed);
        if state.bytes() + line.len() as u64 > max_bytes {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if !state.full {
                state.full = true;
                log_warning!(
                    "res_sticky: the journal {} is full ({} bytes): new contacts are kept in memory only until the \
                     history database takes the waiting ones",
                    self.dir.display(),
                    max_bytes
                );
            }
            return None;
        }
        state.full = false;
        let segment_id = state.current;
        let seq = state.next_seq;
        state.next_seq += 1;
        let segment = state.segments.entry(segment_id).or_default();
        segment.bytes += line.len() as u64;
        segment.buffered += 1;
        if in_memory {
            segment.unconfirmed += 1;
        } else {
            segment.spilled = true;
        }
        if segment.bytes >= SEGMENT_BYTES {
            state.current += 1;
        }
        state.buffer.push(Buffered {
            seq,
            segment: segment_id,
            number: contact.number.as_str().to_string(),
            started_at: contact.started_at,
            line,
        });
        state.since.get_or_insert_with(Instant::now);
        if state.buffer.len() == 1 || state.buffer.len() >= COMMIT_RECORDS {
            self.wake.notify_all();
        }
        Some(Ticket { segment: segment_id, seq })
    }

    /// Writes and flushes one record at once (while the commit thread ends,
    /// and at exit, when none is left).
    pub(super) fn append_now(&self, line: Vec<u8>, in_memory: bool) -> Option<Ticket> {
        // The files first, then the state (the order of commits and scrubs):
        // the record is booked and on disk as one step, so that no reader
        // of the segment sees its count before its line.
        let _files = self.files.lock();
        let mut state = self.state.lock();
        let segment = state.current;
        let result = self.write_segment(segment, &line);
        let entry = state.segments.entry(segment).or_default();
        match result {
            Ok(()) => {
                entry.bytes += line.len() as u64;
                if in_memory {
                    entry.unconfirmed += 1;
                } else {
                    entry.spilled = true;
                }
                self.counters.committed.fetch_add(1, Ordering::Relaxed);
                Some(Ticket { segment, seq: 0 })
            }
            Err(error) => {
                log_warning!("res_sticky: cannot write the journal while stopping: {error}");
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// A new bound (`journal_max` changed on reload).
    pub fn set_max(&self, max_bytes: u64) {
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
    }

    /// Whether some segment waits to be read back.
    pub fn has_spilled(&self) -> bool {
        self.state.lock().segments.values().any(|s| s.spilled)
    }

    /// The contacts of these tickets are stored: their segments may go.
    pub fn confirm(&self, tickets: impl IntoIterator<Item = Ticket>) {
        let mut state = self.state.lock();
        let oldest_buffered = state.buffer.first().map(|b| b.seq);
        for ticket in tickets {
            if ticket.seq > 0 && oldest_buffered.is_some_and(|oldest| ticket.seq >= oldest) {
                state.stored_early.insert(ticket.seq);
            }
            if let Some(segment) = state.segments.get_mut(&ticket.segment) {
                segment.unconfirmed = segment.unconfirmed.saturating_sub(1);
            }
        }
        let done = self.collect(&mut state);
        drop(state);
        self.delete(&done);
    }

    pub fn state(&self) -> JournalState {
        let state = self.state.lock();
        JournalState {
            segments: state.segments.len(),
            bytes: state.bytes(),
            max_bytes: self.max_bytes.load(Ordering::Relaxed),
            committed: self.counters.committed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

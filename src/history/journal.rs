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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::routing::contact::{Contact, StoredRow};
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

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.{SUFFIX}"))
}

/// `%`, tab and line breaks escaped, so that a field never splits a record.
fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\t' => out.push_str("%09"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(field: &str) -> Option<String> {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "09" => '\t',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// One record: `c2 <crc32 of the fields, 8 hex> <fields, tab-separated>\n`.
pub fn encode(contact: &Contact) -> Vec<u8> {
    let fields = [
        contact.number.as_str().to_string(),
        contact.agent.id.to_string(),
        contact.agent.interface.to_string(),
        contact.direction.as_str().to_string(),
        contact.disposition.as_str().to_string(),
        contact.started_at.to_string(),
        contact.node.to_string(),
        contact.call_id.clone(),
        contact.client.clone(),
        contact.scope.to_string(),
    ];
    let body = fields.iter().map(|f| escape(f)).collect::<Vec<_>>().join("\t");
    format!("{FORMAT} {:08x} {body}\n", crc32fast::hash(body.as_bytes())).into_bytes()
}

/// Reads one record back; `None` for a line cut short, damaged, or of a
/// format this version does not know.
pub fn decode(line: &str) -> Option<StoredRow> {
    let (format, rest) = line.split_once(' ')?;
    let (crc, body) = rest.split_once(' ')?;
    if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32fast::hash(body.as_bytes()) {
        return None;
    }
    let mut fields: Vec<String> = body.split('\t').map(unescape).collect::<Option<_>>()?;
    match (format, fields.len()) {
        ("c1", 9) => fields.push(String::new()),
        ("c2", 10) => {}
        _ => return None,
    }
    let [number, agent_id, agent_interface, direction, disposition, started_at, node, call_id, client, scope]: [String;
        10] = fields.try_into().ok()?;
    Some(StoredRow {
        number,
        agent_id,
        agent_interface,
        direction,
        disposition,
        started_at: started_at.parse().ok()?,
        node,
        call_id,
        client,
        scope,
    })
}

/// Every valid record of a segment's bytes, and how many lines were not.
pub fn parse(bytes: &[u8]) -> (Vec<StoredRow>, u64) {
    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        // The last piece has no line end: empty, or a record cut short.
        let complete = lines.peek().is_some();
        if line.is_empty() && !complete {
            break;
        }
        match std::str::from_utf8(line).ok().filter(|_| complete).and_then(decode) {
            Some(row) => rows.push(row),
            None => skipped += 1,
        }
    }
    (rows, skipped)
}

impl Journal {
    /// Opens (creating) the journal in `dir`; segments found there are to be
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
            return None;
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

    /// Writes and flushes one record at once (at exit, with no commit
    /// thread left).
    fn append_now(&self, line: Vec<u8>, in_memory: bool) -> Option<Ticket> {
        let segment = {
            let mut state = self.state.lock();
            let current = state.current;
            let entry = state.segments.entry(current).or_default();
            entry.bytes += line.len() as u64;
            if in_memory {
                entry.unconfirmed += 1;
            } else {
                entry.spilled = true;
            }
            current
        };
        let _files = self.files.lock();
        match self.write_segment(segment, &line) {
            Ok(()) => {
                self.counters.committed.fetch_add(1, Ordering::Relaxed);
                Some(Ticket { segment, seq: 0 })
            }
            Err(error) => {
                log_warning!("res_sticky: cannot write the journal at exit: {error}");
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// From now on every record is written and flushed as it comes: the
    /// commit thread has ended (Asterisk is exiting) but CDRs still arrive.
    pub fn write_through(&self) {
        self.state.lock().stopping = false;
        self.write_through.store(true, Ordering::SeqCst);
    }

    /// Removes the records of forgotten numbers made until they were
    /// forgotten (`sticky forget`, here or on another server): from the
    /// commit buffer, from the batch being committed, and from every segment
    /// on disk (rewritten through a temporary file), in one pass for all of
    /// them. The writer's memory is the caller's to purge.
    pub fn scrub(&self, forgotten: &Forgotten) -> io::Result<usize> {
        if forgotten.is_empty() {
            return Ok(0);
        }
        let mut removed = 0;
        {
            let mut state = self.state.lock();
            for (number, at) in forgotten {
                let kept = state.scrubbed.entry(number.clone()).or_insert(*at);
                *kept = (*kept).max(*at);
            }
            let mut gone: Vec<(u64, u64)> = Vec::new();
            state.buffer.retain(|record| {
                let keep = !is_gone(forgotten, &record.number, record.started_at);
                if !keep {
                    gone.push((record.segment, record.line.len() as u64));
                }
                keep
            });
            for (segment, bytes) in gone {
                removed += 1;
                if let Some(entry) = state.segments.get_mut(&segment) {
                    entry.buffered = entry.buffered.saturating_sub(1);
                    entry.bytes = entry.bytes.saturating_sub(bytes);
                }
            }
        }
        let segments: Vec<u64> = self.state.lock().segments.keys().copied().collect();
        if segments.is_empty() {
            return Ok(removed);
        }
        let _files = self.files.lock();
        for segment in segments {
            let path = segment_path(&self.dir, segment);
            let Ok(bytes) = fs::read(&path) else {
                continue;
            };
            let mut kept = Vec::with_capacity(bytes.len());
            let mut dropped = 0;
            for line in bytes.split_inclusive(|b| *b == b'\n') {
                let text = std::str::from_utf8(line).unwrap_or("");
                match decode(text.trim_end_matches('\n')) {
                    Some(row) if is_gone(forgotten, &row.number, row.started_at) => dropped += 1,
                    _ => kept.extend_from_slice(line),
                }
            }
            if dropped == 0 {
                continue;
            }
            let temporary = path.with_extension("scrub");
            let mut file = File::create(&temporary)?;
            file.write_all(&kept)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            File::open(&self.dir)?.sync_all()?;
            removed += dropped;
            if let Some(entry) = self.state.lock().segments.get_mut(&segment) {
                entry.bytes = entry.bytes.saturating_sub((bytes.len() - kept.len()) as u64);
            }
        }
        Ok(removed)
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

    /// Segments nothing waits for any more: forgotten here, returned for
    /// deleting. The current one is closed first so that no record follows.
    fn collect(&self, state: &mut State) -> Vec<u64> {
        let done: Vec<u64> = state
            .segments
            .iter()
            .filter(|(_, s)| s.unconfirmed == 0 && s.buffered == 0 && !s.spilled)
            .map(|(id, _)| *id)
            .collect();
        for id in &done {
            state.segments.remove(id);
            if *id == state.current {
                state.current += 1;
            }
        }
        done
    }

    fn delete(&self, segments: &[u64]) {
        if segments.is_empty() {
            return;
        }
        let _files = self.files.lock();
        for id in segments {
            match fs::remove_file(segment_path(&self.dir, *id)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => log_warning!("res_sticky: cannot remove a journal segment: {error}"),
            }
        }
    }

    /// Segments to read back, oldest first (never the one being appended to:
    /// it is closed first).
    pub fn spilled(&self) -> Vec<u64> {
        let mut state = self.state.lock();
        if state.segments.get(&state.current).is_some_and(|s| s.spilled) {
            state.current += 1;
        }
        state.segments.iter().filter(|(_, s)| s.spilled && s.buffered == 0).map(|(id, _)| *id).collect()
    }

    /// Reads a closed segment back. `accepted` tells which contacts the
    /// caller takes into memory; the segment then waits for those.
    pub fn read_back(&self, segment: u64, room: usize, accept: &mut dyn FnMut(Contact, Ticket)) -> io::Result<()> {
        let bytes = {
            let _files = self.files.lock();
            match fs::read(segment_path(&self.dir, segment)) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(error) => return Err(error),
            }
        };
        let (rows, skipped) = parse(&bytes);
        if skipped > 0 {
            self.counters.skipped.fetch_add(skipped, Ordering::Relaxed);
            log_notice!("res_sticky: skipped {skipped} record(s) cut short or damaged in the journal");
        }
        let contacts: Vec<Contact> = rows.iter().filter_map(Contact::from_row).collect();
        let whole = contacts.len() <= room;
        let mut state = self.state.lock();
        let taken = contacts.len().min(room);
        if let Some(entry) = state.segments.get_mut(&segment) {
            entry.unconfirmed += taken as u64;
            entry.spilled = !whole;
        }
        drop(state);
        for contact in contacts.into_iter().take(room) {
            accept(contact, Ticket { segment, seq: 0 });
        }
        if whole {
            let mut state = self.state.lock();
            let done = self.collect(&mut state);
            drop(state);
            self.delete(&done);
        }
        Ok(())
    }

    /// Runs the group commits until [`Journal::stop`]: call on a thread of
    /// its own.
    pub fn run_commits(&self) {
        loop {
            let batch = {
                let mut state = self.state.lock();
                loop {
                    if state.stopping || state.buffer.len() >= COMMIT_RECORDS {
                        break;
                    }
                    match state.since {
                        None => {
                            self.wake.wait(&mut state);
                        }
                        Some(since) => {
                            let due = since + COMMIT_INTERVAL;
                            if Instant::now() >= due {
                                break;
                            }
                            self.wake.wait_until(&mut state, due);
                        }
                    }
                }
                if state.buffer.is_empty() && state.stopping {
                    return;
                }
                state.since = None;
                // Scrubs from now on see the buffer; only the batch of the
                // previous round (written by now) could have escaped them.
                state.scrubbed.clear();
                let batch = std::mem::take(&mut state.buffer);
                let early = std::mem::take(&mut state.stored_early);
                (batch, early)
            };
            self.commit(batch.0, &batch.1);
        }
    }

    fn commit(&self, batch: Vec<Buffered>, stored_early: &HashSet<u64>) {
        let mut by_segment: BTreeMap<u64, (Vec<u8>, u64, u64)> = BTreeMap::new();
        // Bytes counted at append for records that never reach the disk.
        let mut unwritten: BTreeMap<u64, u64> = BTreeMap::new();
        for record in batch {
            let (bytes, written, count) = by_segment.entry(record.segment).or_default();
            *count += 1;
            if stored_early.contains(&record.seq) {
                *unwritten.entry(record.segment).or_default() += record.line.len() as u64;
            } else {
                bytes.extend_from_slice(&record.line);
                *written += 1;
            }
        }
        let mut failed = 0;
        {
            let _files = self.files.lock();
            let scrubbed = std::mem::take(&mut self.state.lock().scrubbed);
            if !scrubbed.is_empty() {
                // A number forgotten while this batch was on its way here.
                for (segment, (bytes, written, _)) in by_segment.iter_mut() {
                    let mut kept = Vec::with_capacity(bytes.len());
                    for line in bytes.split_inclusive(|b| *b == b'\n') {
                        let text = std::str::from_utf8(line).unwrap_or("");
                        match decode(text.trim_end_matches('\n')) {
                            Some(row) if is_gone(&scrubbed, &row.number, row.started_at) => {
                                *written -= 1;
                                *unwritten.entry(*segment).or_default() += line.len() as u64;
                            }
                            _ => kept.extend_from_slice(line),
                        }
                    }
                    *bytes = kept;
                }
            }
            for (segment, (bytes, written, _)) in &by_segment {
                if bytes.is_empty() {
                    continue;
                }
                match self.write_segment(*segment, bytes) {
                    Ok(()) => {
                        self.counters.committed.fetch_add(*written, Ordering::Relaxed);
                    }
                    Err(error) => {
                        failed += written;
                        log_warning!(
                            "res_sticky: cannot write the journal ({error}); {written} contact(s) in memory only"
                        );
                    }
                }
            }
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.counters.dropped.fetch_add(failed, Ordering::Relaxed);
        let mut state = self.state.lock();
        for (segment, (_, _, count)) in &by_segment {
            if let Some(entry) = state.segments.get_mut(segment) {
                entry.buffered = entry.buffered.saturating_sub(*count);
            }
        }
        for (segment, bytes) in unwritten {
            if let Some(entry) = state.segments.get_mut(&segment) {
                entry.bytes = entry.bytes.saturating_sub(bytes);
            }
        }
        let done = self.collect(&mut state);
        drop(state);
        self.delete(&done);
    }

    /// Appends to a segment file and flushes it; a new file's directory
    /// entry is flushed too.
    fn write_segment(&self, segment: u64, bytes: &[u8]) -> io::Result<()> {
        let path = segment_path(&self.dir, segment);
        let new = !path.exists();
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let length = file.metadata()?.len();
        if let Err(error) = file.write_all(bytes).and_then(|()| file.sync_data()) {
            // A record cut short would join the next one into a line that
            // fails its check: take it back.
            let _ = file.set_len(length);
            return Err(error);
        }
        if new {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Waits until every record appended so far is on disk, or `deadline`
    /// passes. True when they all are.
    pub fn settle(&self, deadline: Instant) -> bool {
        loop {
            {
                let state = self.state.lock();
                if state.buffer.is_empty() && state.segments.values().all(|segment| segment.buffered == 0) {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Commits what is buffered and ends [`Journal::run_commits`].
    pub fn stop(&self) {
        self.state.lock().stopping = true;
        self.wake.notify_all();
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

/// Reads the file in which a previous version kept the contacts unwritten
/// at a graceful stop (one contact per line, tab-separated). The caller
/// removes it once the contacts are safe in the journal.
pub fn read_legacy(path: &Path) -> Vec<Contact> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 9 {
                return None;
            }
            Contact::from_row(&StoredRow {
                number: f[0].into(),
                agent_id: f[1].into(),
                agent_interface: f[2].into(),
                direction: f[3].into(),
                disposition: f[4].into(),
                started_at: f[5].parse().ok()?,
                node: f[6].into(),
                call_id: f[7].into(),
                client: f[8].into(),
                scope: String::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::routing::contact::test_contact;
    use crate::routing::vocabulary::{Direction, Disposition};

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sticky-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn contact(i: i64) -> Contact {
        Contact {
            call_id: format!("n:{i}\tx%y\n"),
            ..test_contact("101", Direction::Inbound, Disposition::Answered, i)
        }
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files
    }

    /// Runs the commit thread for `journal` while `body` runs.
    fn with_commits(journal: &Arc<Journal>, body: impl FnOnce()) {
        let committer = {
            let journal = journal.clone();
            std::thread::spawn(move || journal.run_commits())
        };
        body();
        journal.stop();
        committer.join().unwrap();
    }

    #[test]
    fn records_round_trip_with_any_text() {
        let original = contact(7);
        let line = encode(&original);
        let text = String::from_utf8(line.clone()).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "one line, whatever the fields hold");
        let row = decode(text.trim_end_matches('\n')).unwrap();
        assert_eq!(Contact::from_row(&row), Some(original));
    }

    #[test]
    fn a_record_cut_short_or_damaged_is_skipped_never_misread() {
        let mut bytes = encode(&contact(1));
        bytes.extend(encode(&contact(2)));
        let mut damaged = encode(&contact(3));
        let at = damaged.len() / 2;
        damaged[at] ^= 0x01;
        bytes.extend(damaged);
        bytes.extend(encode(&contact(4)));
        let torn = encode(&contact(5));
        bytes.extend(&torn[..torn.len() / 2]);
        let (rows, skipped) = parse(&bytes);
        let started: Vec<i64> = rows.iter().map(|r| r.started_at).collect();
        assert_eq!(started, vec![1, 2, 4]);
        assert_eq!(skipped, 2, "the damaged record and the torn tail");
        assert_eq!(parse(b"").0.len(), 0);
        assert_eq!(parse(b"garbage\n").1, 1);
        assert_eq!(parse(b"c1 00000000 \n").1, 1);
        // A record of the first format, without a scope, is still read.
        let body = "9123456789\t101\tPJSIP/101\tin\tANSWERED\t5\tn\tc\t+79123456789";
        let old = format!("c1 {:08x} {body}\n", crc32fast::hash(body.as_bytes()));
        let (rows, skipped) = parse(old.as_bytes());
        assert_eq!((rows.len(), skipped, rows[0].scope.as_str()), (1, 0, ""));
    }

    #[test]
    fn contacts_stored_before_their_commit_never_reach_the_disk() {
        let dir = dir("early");
        let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
        with_commits(&journal, || {
            let tickets: Vec<Ticket> = (0..10).map(|i| journal.append(&contact(i), true).unwrap()).collect();
            journal.confirm(tickets);
        });
        assert_eq!(journal.counters.committed.load(Ordering::Relaxed), 0);
        assert!(files(&dir).is_empty(), "{:?}", files(&dir));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn unstored_contacts_survive_a_restart_and_go_once_stored() {
        let dir = dir("restart");
        let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
        with_commits(&journal, || {
            for i in 0..5 {
                journal.append(&contact(i), true).unwrap();
            }
        });
        assert_eq!(journal.counters.committed.load(Ordering::Relaxed), 5);
        drop(journal);
        // A new process: the segment is read back and confirmed.
        let journal = Journal::open(&dir, 1 << 20).unwrap();
        let spilled = journal.spilled();
        assert_eq!(spilled.len(), 1);
        let mut taken = Vec::new();
        journal.read_back(spilled[0], 3, &mut |contact, ticket| taken.push((contact, ticket))).unwrap();
        assert_eq!(taken.len(), 3, "as much as memory has room for");
        assert_eq!(journal.spilled(), spilled, "the rest is still to read");
        journal.confirm(taken.drain(..).map(|(_, t)| t));
        journal.read_back(spilled[0], 10, &mut |contact, ticket| taken.push((contact, ticket))).unwrap();
        assert_eq!(taken.len(), 5, "read again whole (storing twice is harmless)");
        assert_eq!(files(&dir).len(), 1, "kept until stored");
        journal.confirm(taken.drain(..).map(|(_, t)| t));
        assert!(files(&dir).is_empty());
        assert!(journal.spilled().is_empty());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_forgotten_number_leaves_no_record() {
        let dir = dir("scrub");
        let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
        let other =
            Contact { number: crate::routing::number::NumberKey::from_stored("9000000001").unwrap(), ..contact(9) };
        with_commits(&journal, || {
            journal.append(&contact(1), true).unwrap();
            journal.append(&other, true).unwrap();
        });
        let numbers = || {
            let (rows, _) = parse(&fs::read(&files(&dir)[0]).unwrap());
            rows.into_iter().map(|row| row.number).collect::<Vec<_>>()
        };
        assert_eq!(numbers(), ["9123456789", "9000000001"]);
        assert_eq!(journal.scrub(&Forgotten::from([("9123456789".to_string(), i64::MAX)])).unwrap(), 1);
        assert_eq!(numbers(), ["9000000001"], "only the other number stays");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_full_journal_keeps_new_contacts_in_memory_and_counts_them() {
        let dir = dir("full");
        let one = encode(&contact(0)).len() as u64;
        let journal = Arc::new(Journal::open(&dir, one * 3).unwrap());
        with_commits(&journal, || {
            let kept = (0..5).filter(|i| journal.append(&contact(*i), true).is_some()).count();
            assert_eq!(kept, 3);
        });
        assert_eq!(journal.state().dropped, 2);
        assert_eq!(journal.state().committed, 3);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn the_legacy_file_is_read_and_left_for_the_caller() {
        let path = dir("legacy");
        let contacts = [test_contact("101", Direction::Inbound, Disposition::Answered, 1_000)];
        let line = |c: &Contact| {
            [
                c.number.as_str().to_string(),
                c.agent.id.to_string(),
                c.agent.interface.to_string(),
                c.direction.as_str().into(),
                c.disposition.as_str().into(),
                c.started_at.to_string(),
                c.node.to_string(),
                c.call_id.clone(),
                c.client.clone(),
            ]
            .join("\t")
        };
        fs::write(&path, format!("{}\ngarbage\n", line(&contacts[0]))).unwrap();
        assert_eq!(read_legacy(&path), contacts);
        assert!(path.exists(), "removed only once the journal holds its contacts");
    }
}

//! Group commit: the thread that writes the buffered records and flushes
//! them with one `fdatasync` per window, write-through at exit, and settling
//! before a stop.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;

impl Journal {
    /// From now on every record is written and flushed as it comes: the
    /// commit thread has ended (Asterisk is exiting) but CDRs still arrive.
    pub fn write_through(&self) {
        self.write_through.store(true, Ordering::SeqCst);
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

    pub(super) fn commit(&self, batch: Vec<Buffered>, stored_early: &HashSet<u64>) {
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
    pub(super) fn write_segment(&self, segment: u64, bytes: &[u8]) -> io::Result<()> {
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
}

//! Segment files: naming, reading back spilled segments, deleting those
//! fully stored, and scrubbing forgotten numbers out of every one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::*;

pub(super) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.{SUFFIX}"))
}

impl Journal {
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

    /// Segments nothing waits for any more: forgotten here, returned for
    /// deleting. The current one is closed first so that no record follows.
    pub(super) fn collect(&self, state: &mut State) -> Vec<u64> {
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

    pub(super) fn delete(&self, segments: &[u64]) {
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
}

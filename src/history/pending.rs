//! Contacts learned but not yet in the store. Bounded: past `capacity` the
//! oldest are dropped and counted, so a database down for days cannot eat
//! Asterisk's memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::routing::contact::Contact;

pub struct Pending {
    queue: Mutex<VecDeque<Contact>>,
    ready: Condvar,
    capacity: usize,
    in_flight: AtomicU64,
    pub dropped: AtomicU64,
    pub written: AtomicU64,
}

impl Pending {
    pub fn new(capacity: usize) -> Pending {
        Pending {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            in_flight: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    pub fn push(&self, contact: Contact) {
        let mut queue = self.queue.lock();
        if queue.len() >= self.capacity {
            queue.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back(contact);
        self.ready.notify_one();
    }

    /// Waits up to `wait` for contacts and takes up to `max` of them; they
    /// count as pending until `done` or `give_back`.
    pub fn take(&self, max: usize, wait: Duration) -> Vec<Contact> {
        let mut queue = self.queue.lock();
        if queue.is_empty() {
            self.ready.wait_for(&mut queue, wait);
        }
        let count = queue.len().min(max);
        let batch: Vec<Contact> = queue.drain(..count).collect();
        self.in_flight.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch
    }

    pub fn done(&self, batch: &[Contact]) {
        self.in_flight.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        self.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    /// Returns an unwritten batch to the front of the queue (the writer is stopping).
    pub fn give_back(&self, batch: Vec<Contact>) {
        let mut queue = self.queue.lock();
        self.in_flight.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        for contact in batch.into_iter().rev() {
            queue.push_front(contact);
        }
    }

    /// Wakes a writer waiting in `take` (it is being stopped).
    pub fn wake(&self) {
        self.ready.notify_all();
    }

    /// Takes every pending contact out (the writer has stopped).
    pub fn drain(&self) -> Vec<Contact> {
        self.queue.lock().drain(..).collect()
    }

    pub fn len(&self) -> u64 {
        self.queue.lock().len() as u64 + self.in_flight.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::contact::test_contact;
    use crate::routing::vocabulary::{Direction, Disposition};

    fn contact(i: i64) -> Contact {
        test_contact("101", Direction::Inbound, Disposition::Answered, i)
    }

    #[test]
    fn bounded_with_a_count_of_what_was_dropped() {
        let pending = Pending::new(3);
        for i in 0..5 {
            pending.push(contact(i));
        }
        assert_eq!(pending.len(), 3);
        assert_eq!(pending.dropped.load(Ordering::Relaxed), 2);
        let batch = pending.take(2, Duration::ZERO);
        assert_eq!(batch.iter().map(|c| c.started_at).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(pending.len(), 3, "in flight still counts as pending");
        pending.give_back(batch);
        let batch = pending.take(10, Duration::ZERO);
        assert_eq!(batch.len(), 3);
        pending.done(&batch);
        assert!(pending.is_empty());
        assert_eq!(pending.written.load(Ordering::Relaxed), 3);
    }
}

//! Contacts learned but not yet in the store, in memory, for the writer.
//! Bounded: past `capacity`, contacts are left to the journal, which the
//! writer reads back once there is room again (see `history::journal`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::journal::Ticket;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;

/// A contact waiting, with its place in the journal (if it has one).
pub type Waiting = (Contact, Option<Ticket>);

pub struct Pending {
    queue: Mutex<VecDeque<Waiting>>,
    ready: Condvar,
    capacity: usize,
    in_flight: AtomicU64,
    pub written: AtomicU64,
}

impl Pending {
    pub fn new(capacity: usize) -> Pending {
        Pending {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            in_flight: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// Room for this many more.
    pub fn room(&self) -> usize {
        let queued = self.queue.lock().len() + self.in_flight.load(Ordering::Relaxed) as usize;
        self.capacity.saturating_sub(queued)
    }

    pub fn push(&self, waiting: Waiting) {
        self.queue.lock().push_back(waiting);
        self.ready.notify_one();
    }

    /// Waits up to `wait` for contacts and takes up to `max` of them; they
    /// count as pending until `done` or `give_back`.
    pub fn take(&self, max: usize, wait: Duration) -> Vec<Waiting> {
        let mut queue = self.queue.lock();
        if queue.is_empty() {
            self.ready.wait_for(&mut queue, wait);
        }
        let count = queue.len().min(max);
        let batch: Vec<Waiting> = queue.drain(..count).collect();
        self.in_flight.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch
    }

    pub fn done(&self, batch: &[Waiting]) {
        self.in_flight.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        self.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    /// Lets go of taken contacts that are not to be written (forgotten).
    pub fn discard(&self, batch: &[Waiting]) {
        self.in_flight.fetch_sub(batch.len() as u64, Ordering::Relaxed);
    }

    /// Returns an unwritten batch to the front of the queue.
    pub fn give_back(&self, batch: Vec<Waiting>) {
        let mut queue = self.queue.lock();
        self.in_flight.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        for waiting in batch.into_iter().rev() {
            queue.push_front(waiting);
        }
    }

    /// Takes every waiting contact of `key` made until `until` out (the
    /// number was forgotten then);
    /// their journal tickets. Contacts in a batch being written are not
    /// reached: the caller erases the store after this.
    pub fn purge(&self, key: &NumberKey, until: i64) -> Vec<Ticket> {
        let mut queue = self.queue.lock();
        let mut tickets = Vec::new();
        queue.retain(|(contact, ticket)| {
            let keep = &contact.number != key || contact.started_at > until;
            if !keep {
                tickets.extend(*ticket);
            }
            keep
        });
        tickets
    }

    /// Wakes a writer waiting in `take` (it is being stopped).
    pub fn wake(&self) {
        self.ready.notify_all();
    }

    pub fn len(&self) -> u64 {
        self.queue.lock().len() as u64 + self.in_flight.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::vocabulary::{Direction, Disposition};
    use crate::routing::contact::test_contact;

    fn contact(i: i64) -> Waiting {
        (test_contact("101", Direction::Inbound, Disposition::Answered, i), None)
    }

    #[test]
    fn bounded_in_order_and_given_back_in_front() {
        let pending = Pending::new(3);
        for i in 0..3 {
            pending.push(contact(i));
        }
        assert_eq!(pending.room(), 0);
        let batch = pending.take(2, Duration::ZERO);
        assert_eq!(batch.iter().map(|(c, _)| c.started_at).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(pending.len(), 3, "in flight still counts as pending");
        assert_eq!(pending.room(), 0);
        pending.give_back(batch);
        let batch = pending.take(10, Duration::ZERO);
        assert_eq!(batch.iter().map(|(c, _)| c.started_at).collect::<Vec<_>>(), vec![0, 1, 2]);
        pending.done(&batch);
        assert_eq!(pending.len(), 0);
        assert_eq!(pending.room(), 3);
        assert_eq!(pending.written.load(Ordering::Relaxed), 3);
    }
}

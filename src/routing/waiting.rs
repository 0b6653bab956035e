//! Callers waiting for their busy sticky agent (`STICKY_ROUTE` option
//! `w(N)`), queued per device, longest waiting first. When the device
//! becomes available, one caller — the longest waiting — is released and
//! woken; the others wait for the next change.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Wakes a waiting caller's thread.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// One caller waiting.
pub struct Waiter<W> {
    id: u64,
    device: String,
    /// Raised when this caller may try the agent.
    pub released: AtomicBool,
    waker: W,
}

/// The queues, by device (names compared without regard to case).
pub struct Waiters<W> {
    queues: Mutex<HashMap<String, VecDeque<Arc<Waiter<W>>>>>,
    next: AtomicU64,
}

impl<W> Default for Waiters<W> {
    fn default() -> Waiters<W> {
        Waiters { queues: Mutex::new(HashMap::new()), next: AtomicU64::new(1) }
    }
}

impl<W: Wake> Waiters<W> {
    /// A caller starts waiting for `device`, behind those already waiting.
    pub fn join(&self, device: &str, waker: W) -> Arc<Waiter<W>> {
        let waiter = Arc::new(Waiter {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            device: device.to_ascii_lowercase(),
            released: AtomicBool::new(false),
            waker,
        });
        self.queues.lock().entry(waiter.device.clone()).or_default().push_back(waiter.clone());
        waiter
    }

    /// A released caller found the agent taken again: it waits on, first
    /// in line (it has waited longest).
    pub fn wait_again(&self, waiter: &Arc<Waiter<W>>) {
        waiter.released.store(false, Ordering::SeqCst);
        let mut queues = self.queues.lock();
        let queue = queues.entry(waiter.device.clone()).or_default();
        if !queue.iter().any(|w| w.id == waiter.id) {
            queue.push_front(waiter.clone());
        }
    }

    /// A caller stops waiting: `routed` to the agent, or not (given up, hung
    /// up, failed). A caller released but not routed passes the release on
    /// to the next in line, who checks the agent for itself.
    pub fn leave(&self, waiter: &Arc<Waiter<W>>, routed: bool) {
        {
            let mut queues = self.queues.lock();
            if let Some(queue) = queues.get_mut(&waiter.device) {
                queue.retain(|w| w.id != waiter.id);
                if queue.is_empty() {
                    queues.remove(&waiter.device);
                }
            }
        }
        if !routed && waiter.released.swap(false, Ordering::SeqCst) {
            self.available(&waiter.device);
        }
    }

    /// `device` became available: releases and wakes the caller waiting
    /// longest for it; whether there was one.
    pub fn available(&self, device: &str) -> bool {
        let released = {
            let mut queues = self.queues.lock();
            let key = device.to_ascii_lowercase();
            let next = queues.get_mut(&key).and_then(VecDeque::pop_front);
            if queues.get(&key).is_some_and(VecDeque::is_empty) {
                queues.remove(&key);
            }
            next
        };
        match released {
            Some(waiter) => {
                waiter.released.store(true, Ordering::SeqCst);
                waiter.waker.wake();
                true
            }
            None => false,
        }
    }

    /// Callers waiting, in all.
    pub fn len(&self) -> usize {
        self.queues.lock().values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[derive(Default)]
    struct Count(Arc<AtomicUsize>);

    impl Wake for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn one_caller_per_change_longest_waiting_first() {
        let waiters = Waiters::default();
        let woken = Arc::new(AtomicUsize::new(0));
        let first = waiters.join("PJSIP/102", Count(woken.clone()));
        let second = waiters.join("pjsip/102", Count(woken.clone()));
        let elsewhere = waiters.join("PJSIP/103", Count(woken.clone()));
        assert_eq!(waiters.len(), 3);
        assert!(waiters.available("PJSIP/102"));
        assert!(first.released.load(Ordering::SeqCst) && !second.released.load(Ordering::SeqCst));
        assert_eq!(woken.load(Ordering::SeqCst), 1, "one change, one caller");
        // The first found the agent taken again: it stays first in line.
        waiters.wait_again(&first);
        assert!(waiters.available("PJSIP/102"));
        assert!(first.released.load(Ordering::SeqCst) && !second.released.load(Ordering::SeqCst));
        waiters.leave(&first, true);
        assert!(waiters.available("PJSIP/102"));
        assert!(second.released.load(Ordering::SeqCst));
        assert!(!waiters.available("PJSIP/102"), "nobody left for 102");
        waiters.leave(&elsewhere, false);
        assert!(!waiters.available("PJSIP/103"), "a caller who left is not released");
        assert_eq!(waiters.len(), 0);
    }

    #[test]
    fn a_release_spent_by_a_caller_who_leaves_goes_to_the_next() {
        let waiters = Waiters::default();
        let woken = Arc::new(AtomicUsize::new(0));
        let first = waiters.join("PJSIP/102", Count(woken.clone()));
        let second = waiters.join("PJSIP/102", Count(woken.clone()));
        assert!(waiters.available("PJSIP/102"));
        // The first hangs up as the release lands: the second gets it.
        waiters.leave(&first, false);
        assert!(second.released.load(Ordering::SeqCst), "passed on");
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        // A caller who leaves unreleased passes nothing on.
        let third = waiters.join("PJSIP/102", Count(woken.clone()));
        waiters.leave(&second, true);
        let fourth = waiters.join("PJSIP/102", Count(woken.clone()));
        waiters.leave(&third, false);
        assert!(!fourth.released.load(Ordering::SeqCst));
        waiters.leave(&fourth, false);
        assert_eq!(waiters.len(), 0);
    }
}

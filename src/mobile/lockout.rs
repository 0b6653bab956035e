//! Failed logins per number: after `max_failures` within `lockout` the
//! number is locked out for `lockout`, even with the right PIN.
//!
//! Bounded: a number whose failures have expired (and that is not locked)
//! is forgotten, and past [`MAX_NUMBERS`] numbers the ones whose last
//! failure is oldest go first, so callers spoofing many caller IDs cannot
//! make the table grow without end.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::routing::number::NumberKey;

#[derive(Default)]
struct Failures {
    times: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// The most numbers whose failures are remembered.
pub const MAX_NUMBERS: usize = 10_000;
/// Every this many numbers, a new number first makes expired records go.
const PRUNE_EVERY: usize = 64;

#[derive(Default)]
pub struct Lockouts {
    numbers: Mutex<HashMap<NumberKey, Failures>>,
}

impl Failures {
    /// Whether nothing about this number matters any more at `now`.
    fn expired(&self, now: Instant, lockout: Duration) -> bool {
        let locked = self.locked_until.is_some_and(|until| now < until);
        let recent = self.times.back().is_some_and(|last| now.duration_since(*last) < lockout);
        !locked && !recent
    }

    /// The last moment this number's record matters.
    fn last(&self) -> Option<Instant> {
        self.times.back().copied().max(self.locked_until)
    }
}

impl Lockouts {
    pub fn is_locked(&self, number: &NumberKey, now: Instant) -> bool {
        self.numbers.lock().get(number).and_then(|f| f.locked_until).is_some_and(|until| now < until)
    }

    /// Counts a failure; `true` when it locks the number out.
    pub fn fail(&self, number: &NumberKey, now: Instant, max_failures: u32, lockout: Duration) -> bool {
        let mut numbers = self.numbers.lock();
        let size = numbers.len();
        // Pruning walks the table: now and then, not for every new number.
        if !numbers.contains_key(number) && size > 0 && (size.is_multiple_of(PRUNE_EVERY) || size >= MAX_NUMBERS) {
            numbers.retain(|_, failures| !failures.expired(now, lockout));
            while numbers.len() >= MAX_NUMBERS {
                let oldest = numbers.iter().min_by_key(|(_, f)| f.last()).map(|(key, _)| key.clone());
                match oldest {
                    Some(key) => numbers.remove(&key),
                    None => break,
                };
            }
        }
        let failures = numbers.entry(number.clone()).or_default();
        while failures.times.front().is_some_and(|t| now.duration_since(*t) >= lockout) {
            failures.times.pop_front();
        }
        failures.times.push_back(now);
        if failures.times.len() >= max_failures as usize {
            failures.times.clear();
            failures.locked_until = Some(now + lockout);
            return true;
        }
        false
    }

    pub fn succeed(&self, number: &NumberKey) {
        self.numbers.lock().remove(number);
    }

    /// How many numbers the table remembers.
    pub fn len(&self) -> usize {
        self.numbers.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_lock_for_the_lockout() {
        let lockouts = Lockouts::default();
        let number = NumberKey::from_stored("9112223344").unwrap();
        let start = Instant::now();
        let lockout = Duration::from_secs(900);
        assert!(!lockouts.fail(&number, start, 3, lockout));
        assert!(!lockouts.fail(&number, start, 3, lockout));
        assert!(!lockouts.is_locked(&number, start));
        assert!(lockouts.fail(&number, start, 3, lockout));
        assert!(lockouts.is_locked(&number, start + Duration::from_secs(899)));
        assert!(!lockouts.is_locked(&number, start + lockout), "the lockout ends");
    }

    #[test]
    fn a_flood_of_numbers_keeps_the_table_bounded() {
        let lockouts = Lockouts::default();
        let start = Instant::now();
        let lockout = Duration::from_secs(60);
        let number = |i: usize| NumberKey::from_stored(&format!("9{i:09}")).unwrap();
        for i in 0..MAX_NUMBERS + 500 {
            lockouts.fail(&number(i), start + Duration::from_millis(i as u64), 3, lockout);
        }
        assert_eq!(lockouts.len(), MAX_NUMBERS, "the oldest go first");
        lockouts.fail(&number(0), start + lockout * 2, 3, lockout);
        assert_eq!(lockouts.len(), 1, "expired records are forgotten");
    }

    #[test]
    fn old_failures_expire_and_success_clears() {
        let lockouts = Lockouts::default();
        let number = NumberKey::from_stored("9112223344").unwrap();
        let start = Instant::now();
        let lockout = Duration::from_secs(60);
        lockouts.fail(&number, start, 3, lockout);
        lockouts.fail(&number, start, 3, lockout);
        assert!(!lockouts.fail(&number, start + lockout, 3, lockout), "the first two expired");
        lockouts.succeed(&number);
        assert!(!lockouts.fail(&number, start + lockout, 3, lockout));
    }
}

//! Failed logins per number: after `max_failures` within `lockout` the
//! number is locked out for `lockout`, even with the right PIN.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::routing::number::NumberKey;

#[derive(Default)]
struct Failures {
    times: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

#[derive(Default)]
pub struct Lockouts {
    numbers: Mutex<HashMap<NumberKey, Failures>>,
}

impl Lockouts {
    pub fn is_locked(&self, number: &NumberKey, now: Instant) -> bool {
        self.numbers.lock().get(number).and_then(|f| f.locked_until).is_some_and(|until| now < until)
    }

    /// Counts a failure; `true` when it locks the number out.
    pub fn fail(&self, number: &NumberKey, now: Instant, max_failures: u32, lockout: Duration) -> bool {
        let mut numbers = self.numbers.lock();
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

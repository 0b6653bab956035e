//! How many notices one operator may schedule per hour.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Limiter {
    scheduled: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// Records one notice for `operator` unless that would exceed
    /// `per_hour` (0: no limit); `false` when refused.
    pub fn allow(&self, operator: &str, per_hour: u32, now: Instant) -> bool {
        if per_hour == 0 {
            return true;
        }
        let mut scheduled = self.scheduled.lock();
        let times = scheduled.entry(operator.to_string()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= HOUR) {
            times.pop_front();
        }
        if times.len() >= per_hour as usize {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Gives back a slot taken by a notice that then failed.
    pub fn release(&self, operator: &str) {
        if let Some(times) = self.scheduled.lock().get_mut(operator) {
            times.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_hour_per_operator() {
        let limiter = Limiter::default();
        let start = Instant::now();
        assert!(limiter.allow("PJSIP/101", 2, start));
        assert!(limiter.allow("PJSIP/101", 2, start));
        assert!(!limiter.allow("PJSIP/101", 2, start));
        assert!(limiter.allow("PJSIP/102", 2, start), "per operator");
        assert!(limiter.allow("PJSIP/101", 2, start + HOUR), "an hour later");
        limiter.release("PJSIP/101");
        assert!(limiter.allow("PJSIP/101", 2, start + HOUR));
        assert!(limiter.allow("PJSIP/101", 0, start), "0 is no limit");
    }
}

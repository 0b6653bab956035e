//! A circuit breaker in front of the history database: after repeated
//! failures lookups answer at once instead of each waiting `query_timeout`,
//! and the background writer's or poller's next success closes it again.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

const FAILURES_TO_OPEN: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

#[derive(Debug)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    backoff: Duration,
    last_error: Option<String>,
    down_since: Option<Instant>,
    /// A lookup was let through to test the database.
    probing: bool,
}

#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

/// What `sticky show status` says about the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Health {
    #[default]
    Up,
    Failing {
        failures: u32,
        last_error: String,
    },
    Open {
        retry_in: Duration,
        down_for: Duration,
        last_error: String,
    },
}

impl Default for Breaker {
    fn default() -> Breaker {
        Breaker {
            state: Mutex::new(State {
                consecutive_failures: 0,
                open_until: None,
                backoff: FIRST_BACKOFF,
                last_error: None,
                down_since: None,
                probing: false,
            }),
        }
    }
}

impl Breaker {
    /// Whether a lookup may try the database now. While open, one caller per
    /// back-off period is let through as a probe.
    pub fn allow(&self) -> bool {
        let mut state = self.state.lock();
        match state.open_until {
            None => true,
            Some(until) if Instant::now() >= until => {
                state.open_until = Some(Instant::now() + state.backoff);
                state.probing = true;
                true
            }
            Some(_) => false,
        }
    }

    /// Records a success; returns how long the database was down when this
    /// success closed an open breaker.
    pub fn success(&self) -> Option<Duration> {
        let mut state = self.state.lock();
        let reopened = state.open_until.and(state.down_since).map(|since| since.elapsed());
        state.consecutive_failures = 0;
        state.open_until = None;
        state.backoff = FIRST_BACKOFF;
        state.down_since = None;
        state.probing = false;
        reopened
    }

    /// Records a failure; returns true when this failure opened the breaker.
    pub fn failure(&self, error: &str) -> bool {
        let mut state = self.state.lock();
        state.consecutive_failures += 1;
        state.last_error = Some(error.to_string());
        state.down_since.get_or_insert_with(Instant::now);
        if state.consecutive_failures < FAILURES_TO_OPEN {
            return false;
        }
        if state.open_until.is_none() {
            state.open_until = Some(Instant::now() + state.backoff);
            return true;
        }
        // Only a failed probe pushes the next one further out; the writer's
        // and the poller's retries do not keep lookups from probing.
        if state.probing {
            state.probing = false;
            state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
            state.open_until = Some(Instant::now() + state.backoff);
        }
        false
    }

    pub fn health(&self) -> Health {
        let state = self.state.lock();
        let last_error = state.last_error.clone().unwrap_or_default();
        match (state.open_until, state.consecutive_failures) {
            (Some(until), _) => Health::Open {
                retry_in: until.saturating_duration_since(Instant::now()),
                down_for: state.down_since.map(|since| since.elapsed()).unwrap_or_default(),
                last_error,
            },
            (None, 0) => Health::Up,
            (None, failures) => Health::Failing { failures, last_error },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_on_success() {
        let breaker = Breaker::default();
        assert!(breaker.allow());
        assert!(!breaker.failure("refused"));
        assert!(!breaker.failure("refused"));
        assert!(matches!(breaker.health(), Health::Failing { failures: 2, .. }));
        assert!(breaker.failure("refused"), "the third failure opens it");
        assert!(matches!(breaker.health(), Health::Open { .. }));
        assert!(!breaker.allow(), "open: lookups answer at once");
        assert!(breaker.success().is_some(), "closing an open breaker is told");
        assert_eq!(breaker.health(), Health::Up);
        assert_eq!(breaker.success(), None, "it was closed already");
        assert!(breaker.allow());
    }

    #[test]
    fn lets_one_probe_through_after_the_backoff() {
        let breaker = Breaker::default();
        for _ in 0..3 {
            breaker.failure("timeout");
        }
        assert!(!breaker.failure("the writer failed too"), "already open");
        std::thread::sleep(FIRST_BACKOFF + Duration::from_millis(20));
        assert!(breaker.allow(), "the writer's failure did not postpone the probe");
        assert!(!breaker.allow(), "only one probe per back-off");
        assert!(!breaker.failure("still down"), "already open");
        match breaker.health() {
            Health::Open { retry_in, last_error, .. } => {
                assert!(retry_in > FIRST_BACKOFF, "the back-off doubled");
                assert_eq!(last_error, "still down");
            }
            other => panic!("{other:?}"),
        }
    }
}

//! Healing the store: a statement that met a missing table or column (one
//! dropped by hand, an older backup restored) has the layout checked and
//! made again, at most once every few seconds, and then runs once more.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::schema::Found;
use super::store::StoreError;
use crate::{log_error, log_warning};

/// The shortest time between two checks of the layout.
pub const HEAL_EVERY: Duration = Duration::from_secs(2);

/// The longest a statement waits for another thread's check of the layout
/// (the check makes a table or two; a check stuck longer, on a lock say,
/// keeps no statement waiting past this).
const WAIT_FOR_OTHER: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Healer {
    /// When the layout was last checked; held while a check runs.
    last: Mutex<Option<Instant>>,
    /// Checks that ended with the layout whole: a statement that failed
    /// before one ended may succeed after it.
    healed: AtomicU64,
    /// Whether a check that found nothing to make was reported already.
    whole_reported: AtomicBool,
    /// Whether a failed check was reported already (until one succeeds).
    failure_reported: AtomicBool,
}

impl Healer {
    /// A mark to hand to [`Healer::heal`] later: taken before a statement runs.
    pub fn mark(&self) -> u64 {
        self.healed.load(Ordering::Acquire)
    }

    /// After a statement taken at `mark` met a missing table or column
    /// (`reason`): checks and makes the layout again with `ensure`, unless
    /// one ran within [`HEAL_EVERY`]; a check under way on another thread is
    /// waited for, up to [`WAIT_FOR_OTHER`]. Whether the
    /// statement is worth running again: a check ended with the layout
    /// whole since `mark`, here or on another thread.
    pub fn heal(&self, mark: u64, reason: &str, ensure: impl FnOnce() -> Result<Found, StoreError>) -> bool {
        // Another thread checking the layout now: its check is waited for
        // (bounded), so that this statement runs again after it rather than
        // failing while the table is being made.
        if let Some(mut last) = self.last.try_lock_for(WAIT_FOR_OTHER) {
            if last.is_none_or(|at| at.elapsed() >= HEAL_EVERY) {
                *last = Some(Instant::now());
                self.check(reason, ensure);
            }
        }
        self.mark() != mark
    }

    fn check(&self, reason: &str, ensure: impl FnOnce() -> Result<Found, StoreError>) {
        match ensure() {
            Ok(found) => {
                self.failure_reported.store(false, Ordering::Relaxed);
                match found {
                    Found::Restored(made) => log_warning!(
                        "res_sticky: a statement met a missing table or column ({reason}); made again: {} \
                         (dropped by hand, or restored from an older backup?); contacts waiting in the journal are \
                         written there now",
                        made.join(", ")
                    ),
                    Found::Added => log_warning!(
                        "res_sticky: a statement met a missing table or column ({reason}); made again: sticky_owner"
                    ),
                    Found::Created | Found::Upgraded => log_warning!(
                        "res_sticky: a statement met a missing table or column ({reason}); the history tables were \
                         made again, and sticky_schema with them"
                    ),
                    Found::Current => {
                        if !self.whole_reported.swap(true, Ordering::Relaxed) {
                            log_warning!(
                                "res_sticky: a statement met a missing table or column ({reason}), yet every table \
                                 and column is there now (made by another server a moment ago?)"
                            );
                        }
                    }
                }
                self.healed.fetch_add(1, Ordering::AcqRel);
            }
            Err(error) => {
                if !self.failure_reported.swap(true, Ordering::Relaxed) {
                    log_error!(
                        "res_sticky: a statement met a missing table or column ({reason}), and making it again \
                         failed: {error}; contacts wait in the journal, and it is tried again every {} s",
                        HEAL_EVERY.as_secs()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn a_check_runs_at_most_once_every_few_seconds() {
        let healer = Healer::default();
        let checks = AtomicUsize::new(0);
        let ensure = || {
            checks.fetch_add(1, Ordering::SeqCst);
            Ok(Found::Restored(vec!["sticky_history"]))
        };
        let mark = healer.mark();
        assert!(healer.heal(mark, "no such table", ensure), "healed: worth running again");
        assert_eq!(checks.load(Ordering::SeqCst), 1);
        // A statement that failed before that check ended runs again
        // without a check of its own...
        assert!(healer.heal(mark, "no such table", ensure));
        // ...one that failed after it waits for the next check.
        assert!(!healer.heal(healer.mark(), "no such table", ensure));
        assert_eq!(checks.load(Ordering::SeqCst), 1, "rate-limited");
        *healer.last.lock() = Some(Instant::now() - HEAL_EVERY);
        assert!(healer.heal(healer.mark(), "no such table", ensure));
        assert_eq!(checks.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_failed_check_is_not_worth_a_second_try() {
        let healer = Healer::default();
        let failing = || Err(StoreError::Query("permission denied".into()));
        assert!(!healer.heal(healer.mark(), "no such table", failing));
        assert!(healer.failure_reported.load(Ordering::SeqCst));
        *healer.last.lock() = None;
        assert!(healer.heal(healer.mark(), "no such table", || Ok(Found::Current)));
        assert!(!healer.failure_reported.load(Ordering::SeqCst), "reported again after a success");
    }

    #[test]
    fn a_check_under_way_is_waited_for_briefly() {
        let healer = std::sync::Arc::new(Healer::default());
        let mark = healer.mark();
        let (locked, wait) = std::sync::mpsc::channel();
        let other = {
            let healer = healer.clone();
            std::thread::spawn(move || {
                let mut last = healer.last.lock();
                *last = Some(Instant::now());
                locked.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(200));
                healer.healed.fetch_add(1, Ordering::AcqRel);
            })
        };
        wait.recv().unwrap();
        // The other thread's check ends while this statement waits: it runs
        // again, with no check of its own.
        assert!(healer.heal(mark, "no such table", || panic!("a second check at once")));
        other.join().unwrap();
        // A check stuck for longer keeps nobody past the bound.
        let held = healer.last.lock();
        let started = Instant::now();
        assert!(!healer.heal(healer.mark(), "no such table", || panic!("a second check at once")));
        assert!(started.elapsed() < WAIT_FOR_OTHER * 2);
        drop(held);
    }
}

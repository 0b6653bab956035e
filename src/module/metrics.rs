//! The figures of the running module gathered in one place, for both
//! `sticky show status` and Asterisk's `/metrics` (res_prometheus, followed
//! as a soft dependency by `asterisk::prometheus`), and the counters of the
//! applications' results.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;

use super::running::Running;
use super::{mobile, notice, routing, running};
use crate::metrics::tally::Tally;
use crate::metrics::{self, finished_status, Figures, DOUBLINGS};

/// SCHEDULE_NOTICE's results.
pub static NOTICES: Tally = Tally::new();
/// MOBILE_AGENT's results.
pub static MOBILE: Tally = Tally::new();

/// The finished notices by status, kept while `outgoing_done` is unchanged
/// (it only grows, and a scrape should not read every file in it).
/// Counts by label value.
type Counts = Vec<(&'static str, u64)>;
static FINISHED: Mutex<Option<(SystemTime, Counts)>> = Mutex::new(None);

fn finished_notices() -> Vec<(&'static str, u64)> {
    let spool = notice::spool();
    let changed = std::fs::metadata(&spool.done).and_then(|m| m.modified()).ok();
    let mut kept = FINISHED.lock();
    if let (Some(changed), Some((at, counts))) = (changed, kept.as_ref()) {
        if *at == changed {
            return counts.clone();
        }
    }
    let mut counts: Vec<(&'static str, u64)> = Vec::new();
    for listed in spool.finished() {
        let status = finished_status(listed.status.as_deref());
        match counts.iter_mut().find(|(s, _)| *s == status) {
            Some((_, count)) => *count += 1,
            None => counts.push((status, 1)),
        }
    }
    counts.sort();
    if let Some(changed) = changed {
        *kept = Some((changed, counts.clone()));
    }
    counts
}

/// Every figure of the running module now.
pub(super) fn gather(running: &Running) -> Figures {
    let rules = running.rules();
    let (lookup_times, store_times) = running.history.histograms(DOUBLINGS);
    let (scopes, following, waiting) = routing::totals();
    Figures {
        status: running.snapshot(),
        cache_capacity: rules.config.general.cache_size,
        pool_size: rules.config.general.pool_size,
        lookup_times,
        store_times,
        scopes,
        following,
        waiting,
        notices: NOTICES.read(),
        notices_pending: notice::spool().pending().len(),
        notices_finished: finished_notices(),
        mobile: MOBILE.read(),
        mobile_members: mobile::members(),
    }
}

/// Series in the last scrape, and how long it took (µs), for `sticky show
/// status`.
static LAST_SERIES: AtomicUsize = AtomicUsize::new(0);
static LAST_MICROS: AtomicUsize = AtomicUsize::new(0);

/// A scrape: the catalogue as exposition text (empty while not running).
pub(super) fn scrape() -> String {
    let Some(running) = running::current() else {
        return String::new();
    };
    let started = Instant::now();
    let (text, series) = metrics::exposition(&gather(&running));
    LAST_SERIES.store(series, Ordering::Relaxed);
    LAST_MICROS.store(started.elapsed().as_micros() as usize, Ordering::Relaxed);
    text
}

/// The last scrape's series and time (µs); `None` before the first.
pub(super) fn last_scrape() -> Option<(usize, usize)> {
    let series = LAST_SERIES.load(Ordering::Relaxed);
    (series > 0).then(|| (series, LAST_MICROS.load(Ordering::Relaxed)))
}

//! Where the sync poll reads from. Ids come from one sequence, but
//! transactions commit out of order, so a row can appear below ids already
//! read. Re-reading the last few seconds of every server's rows on every
//! poll would catch it, at a cost that grows with the fleet: each server
//! would read each row several times over. Instead the poller remembers the
//! ranges of ids it has not seen below the newest one (gaps: a transaction
//! still committing, or ids an insert skipped or rolled back) and, for a
//! while, reads from the lowest of them; with no gap it reads new rows only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Gap ranges remembered at most; past it the highest two are joined (a
/// wider range is only re-read a little more, never missed; it is dated by
/// the newer of the two, so neither is given up early).
const MAX_RANGES: usize = 1_000;

#[derive(Debug)]
pub struct Gaps {
    /// The newest id read.
    newest: i64,
    /// Ranges of ids below `newest` not read yet: first id -> (last id,
    /// when first missed).
    missing: BTreeMap<i64, (i64, Instant)>,
}

impl Gaps {
    /// Following a table whose newest id is `newest`.
    pub fn new(newest: i64) -> Gaps {
        Gaps { newest, missing: BTreeMap::new() }
    }

    /// The id the next poll reads after: below the lowest gap missed for
    /// less than `keep`, else the newest id read.
    pub fn from(&mut self, keep: Duration) -> i64 {
        self.missing.retain(|_, (_, since)| since.elapsed() <= keep);
        self.missing.keys().next().map_or(self.newest, |lowest| (lowest - 1).min(self.newest))
    }

    /// The ids a poll returned.
    pub fn read(&mut self, ids: impl IntoIterator<Item = i64>) {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let newest = self.newest;
        for id in ids.iter().copied().filter(|id| *id <= newest) {
            self.fill(id);
        }
        let now = Instant::now();
        let mut last = self.newest;
        for id in ids.into_iter().filter(|id| *id > self.newest) {
            if id > last + 1 {
                self.missing.insert(last + 1, (id - 1, now));
            }
            last = id;
        }
        self.newest = last;
        while self.missing.len() > MAX_RANGES {
            let mut highest = self.missing.iter().rev().take(2).map(|(lo, (hi, since))| (*lo, *hi, *since));
            let (Some((top, top_hi, top_since)), Some((below, _, since))) = (highest.next(), highest.next()) else {
                break;
            };
            self.missing.remove(&top);
            self.missing.insert(below, (top_hi, since.max(top_since)));
        }
    }

    /// An id read at last: the range holding it is split around it.
    fn fill(&mut self, id: i64) {
        let Some((&lo, &(hi, since))) = self.missing.range(..=id).next_back() else {
            return;
        };
        if id > hi {
            return;
        }
        self.missing.remove(&lo);
        if lo < id {
            self.missing.insert(lo, (id - 1, since));
        }
        if id < hi {
            self.missing.insert(id + 1, (hi, since));
        }
    }

    pub fn newest(&self) -> i64 {
        self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: Duration = Duration::from_secs(5);

    #[test]
    fn without_gaps_only_new_rows_are_read() {
        let mut gaps = Gaps::new(100);
        assert_eq!(gaps.from(KEEP), 100);
        gaps.read([101, 102, 103]);
        assert_eq!(gaps.from(KEEP), 103);
        gaps.read([]);
        assert_eq!(gaps.from(KEEP), 103, "nothing new");
    }

    #[test]
    fn a_row_committed_late_is_read_when_it_appears() {
        let mut gaps = Gaps::new(100);
        // 101 and 102 are still committing when 103 is read.
        gaps.read([103]);
        assert_eq!(gaps.from(KEEP), 100, "from below the lowest gap");
        gaps.read([102, 103]);
        assert_eq!(gaps.from(KEEP), 100, "101 still missing");
        gaps.read([104, 101, 102, 103]);
        assert_eq!(gaps.from(KEEP), 104, "all there: new rows only");
    }

    #[test]
    fn ranges_split_as_their_ids_arrive() {
        let mut gaps = Gaps::new(0);
        gaps.read([10, 20]);
        assert_eq!(gaps.missing.len(), 2, "1-9 and 11-19");
        gaps.read([5]);
        assert_eq!(gaps.missing.len(), 3, "1-4, 6-9, 11-19");
        gaps.read([1, 2, 3, 4, 6, 7, 8, 9]);
        assert_eq!(gaps.from(KEEP), 10, "from below 11");
        gaps.read(11..=19);
        assert_eq!(gaps.from(KEEP), 20);
    }

    #[test]
    fn an_id_never_used_is_given_up_after_a_while() {
        let mut gaps = Gaps::new(10);
        gaps.read([12]);
        assert_eq!(gaps.from(KEEP), 10);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(gaps.from(Duration::from_millis(10)), 12, "11 was skipped for good");
    }

    #[test]
    fn gaps_are_bounded_and_none_is_dropped() {
        let mut gaps = Gaps::new(0);
        // Every other id missing (a cluster stepping ids by two).
        gaps.read((1..=10_000).map(|i| i * 2));
        assert_eq!(gaps.missing.len(), MAX_RANGES);
        assert_eq!(gaps.from(KEEP), 0, "from below id 1");
        let (&lo, &(hi, _)) = gaps.missing.iter().next_back().unwrap();
        assert!(lo < hi && hi == 19_999, "the highest joined: {lo}-{hi}");
        // A gap joined to an older one lives as long as its own.
        std::thread::sleep(Duration::from_millis(600));
        gaps.read([20_002]);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(gaps.from(Duration::from_millis(500)), lo - 1, "joined to the top range, which lives on");
        // A jump of a million ids is one range, not a million.
        let mut jumped = Gaps::new(0);
        jumped.read([1_000_001]);
        assert_eq!(jumped.missing.len(), 1);
        assert_eq!(jumped.newest(), 1_000_001);
    }
}

//! A count per status value (`NOTICE_STATUS`, `MOBILE_AGENT_STATUS`, …):
//! the values are the statuses' own `&'static str`, so the set is as
//! bounded as the status enum, and a new status is one more key.

use std::collections::BTreeMap;

use parking_lot::Mutex;

#[derive(Default)]
pub struct Tally(Mutex<BTreeMap<&'static str, u64>>);

impl Tally {
    pub const fn new() -> Tally {
        Tally(Mutex::new(BTreeMap::new()))
    }

    pub fn count(&self, status: &'static str) {
        *self.0.lock().entry(status).or_default() += 1;
    }

    /// Every status seen, with its count, by name.
    pub fn read(&self) -> Vec<(&'static str, u64)> {
        self.0.lock().iter().map(|(status, count)| (*status, *count)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status() {
        let tally = Tally::new();
        tally.count("SCHEDULED");
        tally.count("INVALID_TIME");
        tally.count("SCHEDULED");
        assert_eq!(tally.read(), vec![("INVALID_TIME", 1), ("SCHEDULED", 2)]);
    }
}

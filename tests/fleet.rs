//! Many servers on one PostgreSQL, a bounded run of `make fleet`: four real
//! Asterisk servers take calls while pgbench stands in for 50 more (their
//! sync polls, writes and cold reads, one connection each). Every contact
//! learned on one real server reaches another's cache, every statement of
//! the synthetic servers succeeds, and everything written is stored. The
//! figures are printed; BENCHMARKS.md has the full run's.

mod common;

use common::fleet::{Figures, Fleet};

#[test]
fn four_servers_and_fifty_synthetic_ones_share_one_postgres() {
    let mut fleet = Fleet::start(4, 1000);
    let figures = fleet.run(50, 12);
    println!("{}\n{}", Figures::HEADER, figures.row());
    for line in &figures.top {
        println!("{line}");
    }
    assert!(figures.lags.len() >= 3, "probes were made: {figures:?}");
    assert_eq!(figures.missed, 0, "every contact reached the other server: {figures:?}");
    assert_eq!(figures.stored, figures.learned, "learned = stored on the real servers");
    assert_eq!(figures.synthetic_failed, 0, "no synthetic statement failed");
    assert!(figures.synthetic_inserts > 0, "the synthetic servers wrote");
    assert_eq!(figures.synthetic_stored, figures.synthetic_inserts, "every synthetic write is in the table");
}

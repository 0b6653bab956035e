//! `make fleet`: four real Asterisk servers on one PostgreSQL, then the
//! same with a synthetic load standing in for more servers
//! (FLEET_SYNTHETIC, default 0,50,200), each phase FLEET_SECONDS long
//! (default 60); the figures of BENCHMARKS.md's fleet table.

#[path = "../tests/common/mod.rs"]
mod common;

use common::fleet::{Figures, Fleet};

fn main() {
    let synthetic: Vec<usize> = std::env::var("FLEET_SYNTHETIC")
        .unwrap_or_else(|_| "0,50,200".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let seconds: u64 = std::env::var("FLEET_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("fleet: 4 real servers, synthetic {synthetic:?}, {seconds} s a phase, sync_interval 1 s; load {load}");
    let mut fleet = Fleet::start(4, 1000);
    let mut rows = Vec::new();
    for servers in synthetic {
        let figures = fleet.run(servers, seconds);
        println!("\n{} + {servers} servers: the statements that cost the database most", figures.real);
        println!("calls | mean ms | total ms | statement");
        for line in &figures.top {
            println!("{line}");
        }
        println!(
            "synthetic: {:.0} statements/s, {} failed, {} inserts, {} rows stored",
            figures.synthetic_per_second, figures.synthetic_failed, figures.synthetic_inserts, figures.synthetic_stored
        );
        println!("{}\n{}", Figures::HEADER, figures.row());
        rows.push(figures.row());
    }
    println!("\n{}", Figures::HEADER);
    for row in rows {
        println!("{row}");
    }
}

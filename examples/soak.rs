//! `make soak SOAK_MINUTES=…`: the soak of tests/common/soak.rs, for as long
//! as asked, with its figures printed.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let minutes: f64 = std::env::var("SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(10.0);
    let figures = common::soak::run(minutes);
    print!("{}", figures.report());
    if figures.crashed || figures.learned != figures.rows {
        std::process::exit(1);
    }
}

//! The scripted demo: boots Asterisk with res_sticky and the sample
//! sticky.conf, and tells what it sees.

use std::fmt::Write;

use super::root::manifest_dir;
use super::{Asterisk, Options};

pub fn run() -> String {
    let sample = std::fs::read_to_string(manifest_dir().join("conf/sticky.conf.sample")).expect("sample config");
    let asterisk = Asterisk::start("demo", Options::sticky(&sample));
    let mut story = String::new();
    let _ = writeln!(story, "== Asterisk {} with res_sticky, history in embedded SQLite", version(&asterisk));
    for command in ["module show like res_sticky", "sticky show status", "core show help sticky"] {
        let _ = writeln!(story, "\n*CLI> {command}\n{}", asterisk.cli(command).trim_end());
    }
    story
}

fn version(asterisk: &Asterisk) -> String {
    asterisk.cli("core show version").split_whitespace().nth(1).unwrap_or("?").to_string()
}

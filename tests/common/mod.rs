//! Test harness: a real Asterisk 22 per test, inside the provisioned Debian
//! sid root, with res_sticky installed from this build.
#![allow(dead_code)]

pub mod ami;
pub mod asterisk;
pub mod calls;
pub mod db;
pub mod demo;
pub mod root;
pub mod sipp;

pub use asterisk::{Asterisk, Options};

use std::time::{Duration, Instant};

/// The value of one `Label: value` line (e.g. of `sticky show status`).
pub fn field(text: &str, label: &str) -> String {
    let prefix = format!("{label}:");
    text.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

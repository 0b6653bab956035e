//! Test harness: a real Asterisk 22 per test, inside the provisioned Debian
//! sid root, with res_sticky installed from this build.
// The harness calls a few libc functions (flock, geteuid, kill) directly.
#![allow(dead_code, unsafe_code)]

pub mod ami;
pub mod asterisk;
pub mod calls;
pub mod db;
pub mod demo;
pub mod fleet;
pub mod root;
pub mod sipp;
pub mod soak;

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

/// Base64, so that any bytes (quotes, newlines, UTF-8) reach the dialplan
/// through AMI headers; the dialplan decodes them with BASE64_DECODE.
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            out.push(if i <= chunk.len() { TABLE[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    // Longer under valgrind (`make memcheck`); 1 otherwise.
    let deadline = Instant::now() + timeout * asterisk::slowdown();
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

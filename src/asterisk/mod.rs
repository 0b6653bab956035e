//! The thin safe layer over Asterisk's C API — with `sys`, the only place
//! with `unsafe`. It knows no feature of res_sticky: it wraps what Asterisk
//! offers (channels, functions, applications, the CLI, CDRs, device states,
//! astdb, config files, the logger) in safe Rust.
//!
//! Every entry point Asterisk calls runs through [`guard::guard`]; every value
//! that registered something with Asterisk unregisters it when dropped.
#![allow(unsafe_code)]
#![warn(clippy::missing_docs_in_private_items)]

pub mod application;
pub mod astdb;
pub mod cdr;
pub mod channel;
pub mod cli;
pub mod config_file;
pub mod devstate;
pub mod dialplan;
pub mod function;
pub mod guard;
pub mod lifecycle;
pub mod log;
pub mod manager;
pub mod media;
pub mod paths;
pub mod prometheus;
pub mod stasis;
pub mod waiting;

use std::ffi::{c_char, CStr, CString};

/// Copies a C string Asterisk lent us; `None` for NULL. Invalid UTF-8 is
/// replaced, never trusted.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for this call.
pub(crate) unsafe fn string_from(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    Some(unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// A C string for Asterisk; interior NULs (never valid in what we pass) are
/// replaced so that the text is cut nowhere.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).expect("NULs were replaced")
}

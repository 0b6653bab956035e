//! The thin safe layer over Asterisk's C API — the only place with `unsafe`.
//!
//! Every entry point Asterisk calls runs through [`guard::guard`]; every value
//! that registered something with Asterisk unregisters it when dropped.

pub mod application;
pub mod astdb;
pub mod cdr;
pub mod channel;
pub mod cli;
pub mod config_file;
pub mod desk;
pub mod devstate;
mod entry;
pub mod function;
pub mod guard;
pub mod log;
pub mod paths;
pub mod phone;
pub mod prompt;

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

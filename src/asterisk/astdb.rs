//! Asterisk's key-value database (astdb), for what must survive a restart.

use std::ffi::CStr;

use super::{c_string, string_from};
use crate::sys;

/// Stores `value` under `/family/key`; false when astdb refused.
pub fn put(family: &str, key: &str, value: &str) -> bool {
    let (family, key, value) = (c_string(family), c_string(key), c_string(value));
    // SAFETY: the strings outlive the call; astdb copies them.
    unsafe { sys::ast_db_put(family.as_ptr(), key.as_ptr(), value.as_ptr()) == 0 }
}

/// Removes `/family/key`.
pub fn delete(family: &str, key: &str) {
    let (family, key) = (c_string(family), c_string(key));
    // SAFETY: as for `put`.
    unsafe { sys::ast_db_del(family.as_ptr(), key.as_ptr()) };
}

/// Every `(key, value)` of a family; keys without the `/family/` prefix.
pub fn entries(family: &str) -> Vec<(String, String)> {
    let family_c = c_string(family);
    let prefix = format!("/{family}/");
    let mut out = Vec::new();
    // SAFETY: gettree returns a list we own until freetree; each entry's key
    // and data are NUL-terminated strings inside the entry.
    unsafe {
        let tree = sys::ast_db_gettree(family_c.as_ptr(), std::ptr::null());
        let mut entry = tree;
        while !entry.is_null() {
            let key = string_from((*entry).key).unwrap_or_default();
            let value = CStr::from_ptr((*entry).data.as_ptr()).to_string_lossy().into_owned();
            out.push((key.strip_prefix(&prefix).unwrap_or(&key).to_string(), value));
            entry = (*entry).next;
        }
        sys::ast_db_freetree(tree);
    }
    out
}

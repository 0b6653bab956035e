//! Reads a config file through Asterisk's own loader, so `#include`,
//! templates, `#exec` and escaping behave as in every other Asterisk config.

use std::ptr;

use crate::host::config::{RawConfig, RawEntry, RawSection};
use crate::sys;

/// What loading a config file found.
pub enum Loaded {
    /// The file's sections and lines.
    File(RawConfig),
    /// There is no such file.
    Missing,
    /// The file could not be parsed (Asterisk's loader said why).
    Invalid,
}

/// Owns an `ast_config` and destroys it when dropped.
struct ConfigHandle(*mut sys::ast_config);

impl Drop for ConfigHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from ast_config_load2 and is destroyed once.
        unsafe { sys::ast_config_destroy(self.0) }
    }
}

/// Loads `file` from Asterisk's config directory.
pub fn load(file: &str) -> Loaded {
    let name = super::c_string(file);
    let who = super::c_string("res_sticky");
    let flags = sys::ast_flags { flags: sys::CONFIG_FLAG_NOCACHE };
    // SAFETY: both strings live across the call; NOCACHE means the loader keeps
    // no reference to them.
    let raw = unsafe { sys::ast_config_load2(name.as_ptr(), who.as_ptr(), flags) };
    // CONFIG_STATUS_FILEMISSING is NULL, FILEINVALID is (void *)-2.
    if raw.is_null() {
        return Loaded::Missing;
    }
    if raw as isize == -2 || raw as isize == -1 {
        return Loaded::Invalid;
    }
    let handle = ConfigHandle(raw);
    let mut config = RawConfig { file: file.to_string(), sections: Vec::new() };
    let mut category = ptr::null_mut();
    loop {
        // SAFETY: `handle` is a valid config; browsing with the previous
        // category (or NULL to start) returns the next one or NULL.
        category = unsafe { sys::ast_category_browse_filtered(handle.0, ptr::null(), category, ptr::null()) };
        if category.is_null() {
            break;
        }
        // SAFETY: `category` belongs to the live config.
        let name = unsafe { super::string_from(sys::ast_category_get_name(category)) }.unwrap_or_default();
        let mut section = RawSection { name, entries: Vec::new() };
        // SAFETY: as above; the variable list is owned by the category.
        let mut variable = unsafe { sys::ast_category_first(category) };
        while !variable.is_null() {
            // SAFETY: `variable` is a node of the category's list, valid while
            // the config lives; its strings are NUL-terminated.
            let (key, value, line, next) = unsafe {
                let v = &*variable;
                (super::string_from(v.name), super::string_from(v.value), v.lineno, v.next)
            };
            section.entries.push(RawEntry {
                key: key.unwrap_or_default(),
                value: value.unwrap_or_default(),
                line: line.max(0) as u32,
            });
            variable = next;
        }
        config.sections.push(section);
    }
    Loaded::File(config)
}

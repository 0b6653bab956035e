//! Dialplan functions. The shim allocates each `ast_custom_function` (its
//! string fields are C macros) and points every one at
//! [`rs_sticky_function_read`], which dispatches on the function's name.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::{self, NonNull};

use once_cell::sync::OnceCell;

use super::channel::Channel;
use super::guard::guard;
use crate::sys;

/// What a read callback answers: `Ok` fills the buffer (possibly empty),
/// `Err` makes Asterisk treat the call as failed (the expression is empty).
pub type ReadResult = Result<String, ()>;

/// One dialplan function: its name and what reads it.
pub struct FunctionDef {
    /// The name the dialplan calls it by.
    pub name: &'static CStr,
    /// `channel` is `None` when called without one (AMI, `dialplan eval`).
    pub read: fn(Option<&Channel>, &str) -> ReadResult,
}

/// The registered table, looked up by name when Asterisk calls.
static FUNCTIONS: OnceCell<&'static [FunctionDef]> = OnceCell::new();

/// Owns the registered functions; unregisters them when dropped.
pub struct FunctionRegistration {
    /// The entries the shim allocated, to unregister.
    entries: Vec<NonNull<sys::ast_custom_function>>,
}

// SAFETY: the entries are touched only through Asterisk's function API,
// which takes its own lock.
unsafe impl Send for FunctionRegistration {}
// SAFETY: as for Send: Asterisk's function API does its own locking.
unsafe impl Sync for FunctionRegistration {}

/// Registers every function of `functions` (the same table for the whole
/// process).
pub fn register(functions: &'static [FunctionDef]) -> Result<FunctionRegistration, String> {
    let table = FUNCTIONS.get_or_init(|| functions);
    if !ptr::eq(*table, functions) {
        return Err("the function table cannot change while Asterisk runs".into());
    }
    let mut registration = FunctionRegistration { entries: Vec::new() };
    for function in functions {
        // SAFETY: the name is 'static; the shim allocates the entry and
        // registers it with this module (loading its XML documentation).
        let entry = unsafe { sys::rs_sticky_shim_function_register(function.name.as_ptr()) };
        match NonNull::new(entry) {
            Some(entry) => registration.entries.push(entry),
            None => return Err(format!("could not register function {}", function.name.to_string_lossy())),
        }
    }
    Ok(registration)
}

impl Drop for FunctionRegistration {
    fn drop(&mut self) {
        for entry in self.entries.drain(..) {
            // SAFETY: registered by `register`, unregistered once (never freed:
            // a reader may still hold it).
            unsafe { sys::rs_sticky_shim_function_unregister(entry.as_ptr()) }
        }
    }
}

/// Copies `text` into Asterisk's buffer of `len` bytes (NUL included),
/// cut at a character boundary.
///
/// # Safety
/// `buf` must be writable for `len` bytes.
unsafe fn write_buffer(text: &str, buf: *mut c_char, len: usize) {
    if buf.is_null() || len == 0 {
        return;
    }
    let text = crate::text::fitting(text, len - 1);
    // SAFETY: `text.len() < len` bytes are copied and a NUL written after
    // them, all within the caller's buffer; `text` is a separate allocation.
    unsafe {
        ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
}

/// The read callback of every function registered here; dispatches on
/// the function's name.
#[no_mangle]
pub extern "C" fn rs_sticky_function_read(
    chan: *mut sys::ast_channel,
    cmd: *const c_char,
    data: *mut c_char,
    buf: *mut c_char,
    len: usize,
) -> c_int {
    guard("dialplan function", -1, || {
        // SAFETY: Asterisk passes the function's name and its argument string
        // (NUL-terminated, possibly NULL) for the duration of the call.
        let (name, argument) = unsafe { (super::string_from(cmd), super::string_from(data)) };
        let Some(function) = FUNCTIONS.get().and_then(|table| {
            let name = name.unwrap_or_default();
            table.iter().find(|f| f.name.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
        }) else {
            return -1;
        };
        // SAFETY: the channel, if any, is alive and referenced for this call.
        let channel = unsafe { Channel::from_raw(chan) };
        // SAFETY: `buf` has `len` writable bytes; start with an empty answer.
        unsafe { write_buffer("", buf, len) };
        match (function.read)(channel.as_ref(), &argument.unwrap_or_default()) {
            Ok(text) => {
                // SAFETY: as above.
                unsafe { write_buffer(&text, buf, len) };
                0
            }
            Err(()) => -1,
        }
    })
}

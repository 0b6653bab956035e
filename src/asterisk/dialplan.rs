//! Dialplan applications and functions of other modules, run on a channel as
//! the dialplan would run them.

use std::ffi::c_int;

use super::c_string;
use super::channel::Channel;
use crate::sys;

impl Channel<'_> {
    /// Runs the dialplan application `application` on this channel; `None`
    /// when no module provides it. The channel must be on its own PBX thread.
    pub fn exec(&self, application: &str, arguments: &str) -> Option<c_int> {
        let name = c_string(application);
        let data = c_string(arguments);
        // SAFETY: a live channel on its own PBX thread, as applications
        // require; the strings outlive the call.
        unsafe {
            let app = sys::pbx_findapp(name.as_ptr());
            if app.is_null() {
                return None;
            }
            Some(sys::pbx_exec(self.raw(), app, data.as_ptr()))
        }
    }

    /// Reads a dialplan function, e.g. `QUEUE_MEMBER_LIST(8008)`; `None` when
    /// it fails.
    pub fn read_function(&self, expression: &str) -> Option<String> {
        read_function(Some(self), expression)
    }
}

/// Reads a dialplan function on `channel`, or without one (AMI, the CLI:
/// for functions that need no channel, such as app_queue's); `None` when it
/// fails.
pub fn read_function(channel: Option<&Channel>, expression: &str) -> Option<String> {
    let raw = channel.map_or(std::ptr::null_mut(), Channel::raw);
    let expression = c_string(expression);
    let mut buffer = vec![0u8; 8192];
    // SAFETY: the channel (or NULL, which ast_func_read accepts) is
    // alive; the buffer is writable for its length; Asterisk writes a
    // NUL-terminated string into it.
    let result = unsafe { sys::ast_func_read(raw, expression.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return None;
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    Some(String::from_utf8_lossy(&buffer[..end]).into_owned())
}

/// Whether some module provides the dialplan function `name` now (asked
/// before reading it, so that a missing module is not an error per call).
pub fn function_exists(name: &str) -> bool {
    let name = c_string(name);
    // SAFETY: a NUL-terminated name; Asterisk only compares it.
    !unsafe { sys::ast_custom_function_find(name.as_ptr()) }.is_null()
}

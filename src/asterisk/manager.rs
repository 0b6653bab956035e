//! AMI events the module raises.

use super::c_string;
use crate::sys;

/// Raises `event` (class `call`) with `fields`. Values are put on one line
/// each: line breaks in them are replaced, so a value can add no header.
pub fn event(event: &str, fields: &[(&str, &str)]) {
    let mut body = String::new();
    for (key, value) in fields {
        let value: String = value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        body.push_str(key);
        body.push_str(": ");
        body.push_str(&value);
        body.push_str("\r\n");
    }
    let (event, body) = (c_string(event), c_string(&body));
    // SAFETY: both strings live across the call; the shim passes the body
    // as the argument of a "%s" format.
    unsafe { sys::rs_sticky_shim_manager_event(event.as_ptr(), body.as_ptr()) };
}

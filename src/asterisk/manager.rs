//! AMI: the events the module raises and the actions it answers.

use std::ffi::{c_int, CStr};

use once_cell::sync::OnceCell;

use super::guard::guard;
use super::{c_string, string_from};
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

/// The `reporting` class of manager.conf (`read`/`write = reporting`).
pub const CLASS_REPORTING: c_int = 1 << 9;
/// The `system` class.
pub const CLASS_SYSTEM: c_int = 1 << 0;

/// One AMI action: its name, the class a user needs in `write` to run it,
/// its help and what runs it.
pub struct ActionDef {
    /// The action's name, e.g. `StickyStats`.
    pub name: &'static CStr,
    /// The manager.conf classes a user needs (`CLASS_*`).
    pub authority: c_int,
    /// One line for `manager show commands`.
    pub synopsis: &'static CStr,
    /// The help `manager show command` prints.
    pub description: &'static CStr,
    /// Runs the action.
    pub handler: fn(&ActionRequest) -> ActionReply,
}

/// What an action answers.
pub enum ActionReply {
    /// `Response: Success` with these fields.
    Success(Vec<(String, String)>),
    /// `Response: Success`, `EventList: start`, then one event per item
    /// (each its fields) and `<name>Complete`: (the events' name, items).
    List(String, Vec<Vec<(String, String)>>),
    /// `Response: Error` with this message.
    Error(String),
}

/// One invocation: its headers.
pub struct ActionRequest {
    /// Asterisk's message, lent for the action's call.
    message: *const sys::message,
}

impl ActionRequest {
    /// The header's value (empty when absent), as sent.
    pub fn header(&self, name: &str) -> String {
        let name = c_string(name);
        // SAFETY: the message is lent for this call; the value points into it
        // and is copied at once.
        unsafe { string_from(sys::rs_sticky_shim_manager_header(self.message, name.as_ptr())) }.unwrap_or_default()
    }
}

/// A field's value on one line: a value can add no header.
fn one_line(value: &str) -> String {
    value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// `Key: value` lines.
fn fields_text(fields: &[(String, String)]) -> String {
    fields.iter().map(|(key, value)| format!("{key}: {}\r\n", one_line(value))).collect()
}

/// The table; slots index into it.
static ACTIONS: OnceCell<&'static [ActionDef]> = OnceCell::new();

/// Owns the registered actions; unregisters them when dropped.
pub struct ActionRegistration {
    /// The names registered, to unregister.
    names: Vec<&'static CStr>,
}

impl Drop for ActionRegistration {
    fn drop(&mut self) {
        for name in &self.names {
            // SAFETY: registered by this module under this name.
            unsafe { sys::rs_sticky_shim_manager_unregister(name.as_ptr()) };
        }
    }
}

/// The shim's trampolines have eight slots.
const SLOTS: usize = 8;

/// Registers `actions` (the same table for the whole process).
pub fn register(actions: &'static [ActionDef]) -> Result<ActionRegistration, String> {
    let table = ACTIONS.get_or_init(|| actions);
    if !std::ptr::eq(*table, actions) || actions.len() > SLOTS {
        return Err("the AMI action table cannot change while Asterisk runs (at most 8 actions)".into());
    }
    let mut registration = ActionRegistration { names: Vec::new() };
    for (slot, action) in actions.iter().enumerate() {
        // SAFETY: every string is 'static; the shim registers the slot's
        // trampoline with this module.
        let result = unsafe {
            sys::rs_sticky_shim_manager_register(
                action.name.as_ptr(),
                action.authority,
                slot as c_int,
                action.synopsis.as_ptr(),
                action.description.as_ptr(),
            )
        };
        if result != 0 {
            return Err(format!("could not register AMI action {}", action.name.to_string_lossy()));
        }
        registration.names.push(action.name);
    }
    Ok(registration)
}

/// Asterisk calls every action of ours here, with its slot.
#[no_mangle]
pub extern "C" fn rs_sticky_manager_dispatch(
    slot: c_int,
    session: *mut sys::mansession,
    message: *const sys::message,
) -> c_int {
    let request = ActionRequest { message };
    let reply = guard("AMI action", ActionReply::Error("internal error".into()), || {
        match ACTIONS.get().and_then(|actions| actions.get(slot as usize)) {
            Some(action) => (action.handler)(&request),
            None => ActionReply::Error("unknown action".into()),
        }
    });
    let id = one_line(&request.header("ActionID"));
    let id_line = if id.is_empty() { String::new() } else { format!("ActionID: {id}\r\n") };
    let text = match reply {
        ActionReply::Error(message) => {
            let message = c_string(&one_line(&message));
            // SAFETY: session and message are Asterisk's for this call; the
            // shim sends the text through astman_send_error.
            unsafe { sys::rs_sticky_shim_manager_error(session, request.message, message.as_ptr()) };
            return 0;
        }
        ActionReply::Success(fields) => format!("Response: Success\r\n{id_line}{}\r\n", fields_text(&fields)),
        ActionReply::List(event, items) => {
            let mut text = format!("Response: Success\r\n{id_line}EventList: start\r\nMessage: {event} follow\r\n\r\n");
            for item in &items {
                text.push_str(&format!("Event: {event}\r\n{id_line}{}\r\n", fields_text(item)));
            }
            text.push_str(&format!(
                "Event: {event}Complete\r\n{id_line}EventList: Complete\r\nListItems: {}\r\n\r\n",
                items.len()
            ));
            text
        }
    };
    let text = c_string(&text);
    // SAFETY: the session is Asterisk's for this call; the shim appends the
    // text through a "%s" format.
    unsafe { sys::rs_sticky_shim_manager_append(session, text.as_ptr()) };
    0
}

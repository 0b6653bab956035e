//! Dialplan applications. Asterisk's execute callback gets no hint of which
//! application it runs, so each registered application has its own
//! trampoline (by position in the table).

use std::ffi::{c_char, c_int, CStr};
use std::ptr;

use once_cell::sync::OnceCell;

use super::channel::Channel;
use super::guard::guard;
use crate::sys;

/// What an application tells Asterisk when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppResult {
    /// Go on with the dialplan.
    Continue,
    /// The caller hung up: stop the dialplan.
    Hangup,
}

/// One dialplan application: its name and what runs it.
pub struct ApplicationDef {
    /// The name the dialplan calls it by.
    pub name: &'static CStr,
    /// Runs the application on the channel with its argument string.
    pub execute: fn(&Channel, &str) -> AppResult,
}

/// The registered table; the trampolines index into it.
static APPLICATIONS: OnceCell<&'static [ApplicationDef]> = OnceCell::new();

/// The execute callback Asterisk calls.
type Execute = unsafe extern "C" fn(*mut sys::ast_channel, *const c_char) -> c_int;

/// One `extern "C"` trampoline per table position.
macro_rules! trampolines {
    ($($name:ident = $index:expr),*) => {
        $(
            unsafe extern "C" fn $name(chan: *mut sys::ast_channel, data: *const c_char) -> c_int {
                dispatch($index, chan, data)
            }
        )*
        const TRAMPOLINES: &[Execute] = &[$($name),*];
    };
}

trampolines!(application_0 = 0, application_1 = 1, application_2 = 2, application_3 = 3);

/// Runs the application at `index` for Asterisk, behind the guard.
fn dispatch(index: usize, chan: *mut sys::ast_channel, data: *const c_char) -> c_int {
    guard("dialplan application", -1, || {
        let Some(application) = APPLICATIONS.get().and_then(|table| table.get(index)) else {
            return -1;
        };
        // SAFETY: Asterisk runs applications on a live channel's own thread
        // and passes its argument string (never NULL) for the call.
        let (channel, argument) = unsafe { (Channel::from_raw(chan), super::string_from(data)) };
        let Some(channel) = channel else {
            return -1;
        };
        match (application.execute)(&channel, &argument.unwrap_or_default()) {
            AppResult::Continue => 0,
            AppResult::Hangup => -1,
        }
    })
}

/// Owns the registered applications; unregisters them when dropped.
pub struct ApplicationRegistration {
    /// The names registered, to unregister.
    names: Vec<&'static CStr>,
}

/// Registers every application of `applications` (the same table for the
/// whole process, as the trampolines index into it).
pub fn register(applications: &'static [ApplicationDef]) -> Result<ApplicationRegistration, String> {
    let table = APPLICATIONS.get_or_init(|| applications);
    if !ptr::eq(*table, applications) || applications.len() > TRAMPOLINES.len() {
        return Err("the application table cannot change while Asterisk runs".into());
    }
    let mut registration = ApplicationRegistration { names: Vec::new() };
    for (application, trampoline) in applications.iter().zip(TRAMPOLINES) {
        // SAFETY: the name is 'static; the shim registers the trampoline
        // with this module and its XML documentation.
        let result = unsafe { sys::rs_sticky_shim_application_register(application.name.as_ptr(), Some(*trampoline)) };
        if result != 0 {
            return Err(format!("could not register application {}", application.name.to_string_lossy()));
        }
        registration.names.push(application.name);
    }
    Ok(registration)
}

impl Drop for ApplicationRegistration {
    fn drop(&mut self) {
        for name in self.names.drain(..) {
            // SAFETY: registered by `register`, by this name.
            unsafe { sys::ast_unregister_application(name.as_ptr()) };
        }
    }
}

//! Stasis, Asterisk's message bus: device-state changes and channel
//! variables being set, each handed to a plain Rust function. A
//! subscription ends (and is waited for) when dropped.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::{self, NonNull};

use once_cell::sync::OnceCell;

use super::guard::guard;
use super::string_from;
use crate::host::vocabulary::DeviceState;
use crate::sys;

/// Receives a device's new aggregate state.
pub type DeviceStateHandler = fn(&str, DeviceState);

/// A channel variable set, with the id its call's channels share.
pub struct VarSet {
    /// The name as set, with any `_`/`__` inheritance prefix.
    pub name: String,
    /// The value set.
    pub value: String,
    /// The id every channel of the call shares.
    pub linkedid: String,
}

/// Receives channel variables being set.
pub type VarSetHandler = fn(VarSet);
/// Says which variable names the handler wants (checked before anything is
/// copied: every variable of every channel passes here).
pub type VarSetFilter = fn(&str) -> bool;

/// What the loader announces of a module (`Load`, `Unload`) or of the boot
/// (`FullyBooted`): the module's name as given (with or without `.so`) and
/// its result (`Success`, …).
pub struct ModuleEvent {
    /// `Load`, `Unload` or `FullyBooted` (then no module nor status).
    pub kind: String,
    /// The module's name as the command gave it.
    pub module: String,
    /// Its result: `Success`, `Decline`, … (a reload's is a number).
    pub status: String,
}

/// Receives the loader's announcements.
pub type ModuleHandler = fn(ModuleEvent);

/// The handler of module announcements.
static MODULES: OnceCell<ModuleHandler> = OnceCell::new();

/// The handlers; set once (the module is never loaded twice).
static DEVICE_STATES: OnceCell<DeviceStateHandler> = OnceCell::new();
/// The handler of channel variables.
static VARSETS: OnceCell<(VarSetFilter, VarSetHandler)> = OnceCell::new();

/// A subscription; unsubscribes (and waits for its last message) when
/// dropped. Never dropped inside its own callback.
pub struct Subscription(NonNull<sys::stasis_subscription>);

// SAFETY: the subscription is only passed back to Asterisk's API, which is
// thread-safe for it; the pointer itself is a plain address.
unsafe impl Send for Subscription {}
// SAFETY: as for Send: nothing is read through the pointer here.
unsafe impl Sync for Subscription {}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: subscribed by this module and unsubscribed once, on a
        // thread that is not the subscription's own.
        unsafe { sys::stasis_unsubscribe_and_join(self.0.as_ptr()) };
    }
}

/// Device-state changes (aggregate states only) go to `handler`.
pub fn device_states(handler: DeviceStateHandler) -> Result<Subscription, String> {
    let _ = DEVICE_STATES.set(handler);
    // SAFETY: the callback is a plain function that stays mapped.
    let raw = unsafe { sys::rs_sticky_shim_subscribe_devstate(Some(on_device_state)) };
    NonNull::new(raw).map(Subscription).ok_or_else(|| "could not follow device states".to_string())
}

/// Channel variables being set whose name `wants` accepts go to `handler`.
pub fn variables_set(wants: VarSetFilter, handler: VarSetHandler) -> Result<Subscription, String> {
    let _ = VARSETS.set((wants, handler));
    // SAFETY: as for `device_states`.
    let raw = unsafe { sys::rs_sticky_shim_subscribe_varset(Some(on_varset)) };
    NonNull::new(raw).map(Subscription).ok_or_else(|| "could not follow channel variables".to_string())
}

/// The loader's Load / Unload announcements and FullyBooted go to `handler`.
pub fn module_events(handler: ModuleHandler) -> Result<Subscription, String> {
    let _ = MODULES.set(handler);
    // SAFETY: as for `device_states`.
    let raw = unsafe { sys::rs_sticky_shim_subscribe_modules(Some(on_module)) };
    NonNull::new(raw).map(Subscription).ok_or_else(|| "could not follow module loads".to_string())
}

/// Stasis's callback for the manager topic's generic messages.
unsafe extern "C" fn on_module(
    _data: *mut c_void,
    _sub: *mut sys::stasis_subscription,
    message: *mut sys::stasis_message,
) {
    guard("module event callback", (), || {
        let Some(handler) = MODULES.get() else {
            return;
        };
        let mut fields: [*const c_char; 3] = [ptr::null(); 3];
        let [kind, module, status] = &mut fields;
        // SAFETY: the message is lent for this call; the shim points the
        // fields into its JSON.
        if unsafe { sys::rs_sticky_shim_module_message(message, kind, module, status) } != 0 {
            return;
        }
        // SAFETY: the strings live in the message for this call; copied.
        let [kind, module, status] = unsafe { fields.map(|field| string_from(field).unwrap_or_default()) };
        handler(ModuleEvent { kind, module, status });
    })
}

/// Stasis's callback for device states.
unsafe extern "C" fn on_device_state(
    _data: *mut c_void,
    _sub: *mut sys::stasis_subscription,
    message: *mut sys::stasis_message,
) {
    guard("device state callback", (), || {
        let Some(handler) = DEVICE_STATES.get() else {
            return;
        };
        let (mut device, mut state): (*const c_char, c_int) = (ptr::null(), 0);
        // SAFETY: the message is lent for this call; the shim only reads it
        // and points `device` into it.
        if unsafe { sys::rs_sticky_shim_devstate_message(message, &mut device, &mut state) } != 0 {
            return;
        }
        // SAFETY: `device` points into the message, alive for this call.
        if let Some(device) = unsafe { string_from(device) } {
            handler(&device, DeviceState::from_code(state as u32));
        }
    })
}

/// Stasis's callback for channel variables.
unsafe extern "C" fn on_varset(
    _data: *mut c_void,
    _sub: *mut sys::stasis_subscription,
    message: *mut sys::stasis_message,
) {
    guard("variable callback", (), || {
        let Some((wants, handler)) = VARSETS.get() else {
            return;
        };
        let mut fields: [*const c_char; 4] = [ptr::null(); 4];
        let [name, value, uniqueid, linkedid] = &mut fields;
        // SAFETY: the message is lent for this call; the shim points the
        // fields into it.
        if unsafe { sys::rs_sticky_shim_varset_message(message, name, value, uniqueid, linkedid) } != 0 {
            return;
        }
        if name.is_null() {
            return;
        }
        // SAFETY: the name lives in the message for this call; borrowed only
        // for the check.
        let wanted = unsafe { std::ffi::CStr::from_ptr(*name) }.to_str().is_ok_and(wants);
        if !wanted {
            return;
        }
        // SAFETY: the strings live in the message for this call; copied.
        let copied = unsafe { fields.map(|field| string_from(field).unwrap_or_default()) };
        let [name, value, _uniqueid, linkedid] = copied;
        handler(VarSet { name, value, linkedid });
    })
}

//! Device states, through Asterisk's cache of them.

use crate::host::vocabulary::DeviceState;
use crate::sys;

/// The state of `device` (`PJSIP/101`, `Custom:agent101`, …).
pub fn device_state(device: &str) -> DeviceState {
    let device = super::c_string(device);
    // SAFETY: the string lives across the call; Asterisk copies what it keeps.
    let code = unsafe { sys::ast_device_state(device.as_ptr()) };
    DeviceState::from_code(code as u32)
}

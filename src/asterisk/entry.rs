//! The functions the shim's `AST_MODULE_INFO` points Asterisk at.

use std::ffi::c_int;

use super::guard::{guard, install_panic_hook};
use crate::sys;

const LOAD_SUCCESS: c_int = 0;
const LOAD_DECLINE: c_int = 1;

#[no_mangle]
pub extern "C" fn rs_sticky_load() -> c_int {
    install_panic_hook();
    guard("module load", LOAD_DECLINE, || match crate::load() {
        Ok(()) => {
            // A Rust cdylib cannot be unloaded and loaded again in one process
            // (thread-local destructors keep it mapped and the constructor does
            // not rerun), so hold a reference only a shutdown releases.
            // SAFETY: called from our own load callback, as Asterisk requires.
            unsafe { sys::rs_sticky_shim_pin_module() };
            LOAD_SUCCESS
        }
        Err(reason) => {
            crate::log_error!("res_sticky declined to load: {reason}");
            LOAD_DECLINE
        }
    })
}

#[no_mangle]
pub extern "C" fn rs_sticky_unload() -> c_int {
    guard("module unload", 0, || {
        crate::unload();
        0
    })
}

#[no_mangle]
pub extern "C" fn rs_sticky_reload() -> c_int {
    guard("module reload", -1, || match crate::reload() {
        Ok(()) => 0,
        Err(reason) => {
            crate::log_error!("res_sticky reload failed, the previous configuration stays active: {reason}");
            -1
        }
    })
}

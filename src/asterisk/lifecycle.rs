//! The module's life as Asterisk drives it: load, reload and unload, and
//! what a module declares to Asterisk (its functions, applications, CLI
//! commands and CDR backend), registered at load and unregistered at unload.
//!
//! The module declares its surface with [`declare_module!`]; this file
//! turns Asterisk's calls into calls of the surface's hooks, each behind the
//! panic guard.

use std::ffi::c_int;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::application::{self, ApplicationDef, ApplicationRegistration};
use super::cdr::{self, CdrRegistration};
use super::cli::{self, CliCommand, CliRegistration};
use super::function::{self, FunctionDef, FunctionRegistration};
use super::guard::{guard, install_panic_hook};
use super::manager::{self, ActionDef, ActionRegistration};
use crate::host::cdr::CdrRecord;
use crate::sys;

/// Everything a module shows Asterisk, and its hooks.
pub struct Surface {
    /// The dialplan functions.
    pub functions: &'static [FunctionDef],
    /// The dialplan applications.
    pub applications: &'static [ApplicationDef],
    /// The CLI commands.
    pub cli: &'static [CliCommand],
    /// The AMI actions.
    pub actions: &'static [ActionDef],
    /// The CDR backend: must copy what it needs and return at once.
    pub cdr: fn(CdrRecord),
    /// Starts the module's own work; runs before anything is registered.
    pub start: fn() -> Result<(), String>,
    /// Applies a changed configuration (`module reload`).
    pub reload: fn() -> Result<(), String>,
    /// Stops the module's own work; runs after everything is unregistered.
    pub stop: fn(),
    /// Asterisk exits without unloading modules: stop the background work,
    /// but keep taking what the CDR engine still hands over (its last
    /// records come after the exit handlers of modules).
    pub exit: fn(),
}

/// What load registered; dropping it unregisters everything.
struct Registrations {
    /// The CLI commands.
    _cli: CliRegistration,
    /// The dialplan functions.
    _functions: FunctionRegistration,
    /// The dialplan applications.
    _applications: ApplicationRegistration,
    /// The CDR backend.
    _cdr: CdrRegistration,
    /// The AMI actions.
    _actions: ActionRegistration,
}

/// What the last load registered, until unload.
static REGISTERED: Mutex<Option<Registrations>> = Mutex::new(None);

/// The surface loaded, for the exit handler.
static LOADED: OnceCell<&'static Surface> = OnceCell::new();

/// `AST_MODULE_LOAD_SUCCESS`.
const LOAD_SUCCESS: c_int = 0;
/// `AST_MODULE_LOAD_DECLINE`: Asterisk goes on without the module.
const LOAD_DECLINE: c_int = 1;

/// Registers the whole surface; dropping the result unregisters it.
fn register(surface: &'static Surface) -> Result<Registrations, String> {
    Ok(Registrations {
        _cdr: cdr::register(surface.cdr)?,
        _functions: function::register(surface.functions)?,
        _applications: application::register(surface.applications)?,
        _cli: cli::register(surface.cli)?,
        _actions: manager::register(surface.actions)?,
    })
}

/// Asterisk's load callback.
pub fn load(surface: &'static Surface) -> c_int {
    install_panic_hook();
    guard("module load", LOAD_DECLINE, || {
        if REGISTERED.lock().is_some() {
            // `module load` after a hard unload that could not close us.
            crate::log_error!("res_sticky is already running in this process; restart Asterisk to load it anew");
            return LOAD_DECLINE;
        }
        let started = (surface.start)().and_then(|()| register(surface).inspect_err(|_| (surface.stop)()));
        match started {
            Ok(registrations) => {
                *REGISTERED.lock() = Some(registrations);
                let _ = LOADED.set(surface);
                // SAFETY: a plain function that stays mapped (the module is
                // pinned); unregistered at unload.
                unsafe { sys::ast_register_atexit(Some(rs_sticky_atexit)) };
                // A Rust cdylib cannot be unloaded and loaded again in one
                // process (thread-local destructors keep it mapped and the
                // constructor does not rerun), so hold a reference only a
                // shutdown releases.
                // SAFETY: called from our own load callback, as Asterisk requires.
                unsafe { sys::rs_sticky_shim_pin_module() };
                crate::verbose!(2, "res_sticky loaded");
                LOAD_SUCCESS
            }
            Err(reason) => {
                crate::log_error!("res_sticky declined to load: {reason}");
                LOAD_DECLINE
            }
        }
    })
}

/// Asterisk's reload callback.
pub fn reload(surface: &'static Surface) -> c_int {
    guard("module reload", -1, || match (surface.reload)() {
        Ok(()) => 0,
        Err(reason) => {
            crate::log_error!("res_sticky reload failed, the previous configuration stays active: {reason}");
            -1
        }
    })
}

/// Asterisk's unload callback. Only a graceful shutdown unloads the module:
/// any other unload (`module unload -f`) is refused, since Asterisk would
/// then close the library under registrations and threads still in use.
/// Unregisters first, so that no new call enters, then stops the module's
/// work.
pub fn unload(surface: &'static Surface) -> c_int {
    guard("module unload", -1, || {
        // Only once the shutdown can no longer be cancelled: while `core
        // stop gracefully` waits for calls, it may still be aborted.
        // SAFETY: a plain query of Asterisk's state.
        if unsafe { sys::ast_shutdown_final() } == 0 {
            crate::log_warning!(
                "res_sticky stays loaded: it is unloaded only when Asterisk shuts down; \
                 `module reload res_sticky.so` applies any change"
            );
            return -1;
        }
        // SAFETY: plain calls: the CDR engine hands over what it still holds
        // (a batch, queued records) while we are a backend; the exit handler
        // was registered at load with this very function.
        unsafe {
            sys::ast_cdr_engine_term();
            sys::ast_unregister_atexit(Some(rs_sticky_atexit));
        }
        REGISTERED.lock().take();
        (surface.stop)();
        crate::verbose!(2, "res_sticky unloaded");
        0
    })
}

/// Runs when Asterisk exits without unloading modules (`core stop now`,
/// `core restart now`, SIGTERM): the CDR engine first hands over what it
/// has queued, then the module's threads stop (none runs on during
/// `exit()`). What is registered stays until the process ends, and the
/// CDRs of calls cut off by the exit, which the CDR engine posts after this
/// handler, are still taken (see [`Surface::exit`]).
extern "C" fn rs_sticky_atexit() {
    guard("exit handler", (), || {
        if let Some(surface) = LOADED.get() {
            // SAFETY: a plain call; the CDR engine is still up (its own exit
            // handler runs after ours).
            unsafe { sys::ast_cdr_engine_term() };
            (surface.exit)();
            crate::verbose!(2, "res_sticky stopped its threads at exit");
        }
    })
}

/// Exports the entry points the C shim's `AST_MODULE_INFO` calls, for the
/// module whose [`Surface`] is `$surface`.
#[macro_export]
macro_rules! declare_module {
    ($surface:path) => {
        // The shim calls these by name.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn rs_sticky_load() -> ::std::ffi::c_int {
            $crate::asterisk::lifecycle::load(&$surface)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn rs_sticky_reload() -> ::std::ffi::c_int {
            $crate::asterisk::lifecycle::reload(&$surface)
        }

        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn rs_sticky_unload() -> ::std::ffi::c_int {
            $crate::asterisk::lifecycle::unload(&$surface)
        }
    };
}

//! res_prometheus as a soft dependency: while it runs, one scrape callback
//! of ours adds res_sticky's families to Asterisk's `/metrics`. Nothing of
//! res_prometheus is linked (its symbols are looked up when registering), so
//! res_sticky loads where it is absent. It is followed through the loader's
//! announcements: a res_prometheus loaded later gets the callback, one
//! unloaded takes its list of callbacks with it, and a reload of either
//! module keeps the one registration.

use std::ffi::c_char;

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use super::c_string;
use super::guard::guard;
use super::stasis::ModuleEvent;
use crate::sys;

/// Renders the text a scrape appends.
pub type ScrapeHandler = fn() -> String;

/// The scrape's renderer, set at the first start.
static SCRAPE: OnceCell<ScrapeHandler> = OnceCell::new();

/// Whether res_prometheus holds our callback now. Held while registering
/// and unregistering, never during a scrape (which runs under
/// res_prometheus's own lock, the one registering takes).
static REGISTERED: Mutex<bool> = Mutex::new(false);

/// Whether the loader's name (with or without `.so`) is res_prometheus.
fn is_prometheus(module: &str) -> bool {
    // The loader matches names regardless of case.
    let name = match module.len().checked_sub(3) {
        Some(cut) if module.is_char_boundary(cut) && module[cut..].eq_ignore_ascii_case(".so") => &module[..cut],
        _ => module,
    };
    name.eq_ignore_ascii_case("res_prometheus")
}

/// Whether res_prometheus is in the loader's list of modules.
fn running() -> bool {
    // SAFETY: a plain query of the loader's list.
    unsafe { sys::rs_sticky_shim_prometheus_running() != 0 }
}

/// Registers the callback if res_prometheus runs and does not hold it yet.
/// Only from the loader's own thread (start), where asking the loader's
/// list is safe: its lock is held there already, and recursive.
fn register_if_running() {
    if running() {
        register();
    }
}

/// Registers the callback unless res_prometheus holds it already; its
/// functions are looked up first, so a res_prometheus gone meanwhile is
/// simply not found. Never asks the loader: this runs on the message bus's
/// thread too, and the loader holds its lock while it waits for that thread
/// (our unload unsubscribes and joins), so asking it here could deadlock.
fn register() {
    let mut registered = REGISTERED.lock();
    if *registered {
        return;
    }
    // SAFETY: the callback and its struct are statics of the shim, mapped for
    // the process's life (the module is pinned).
    if unsafe { sys::rs_sticky_shim_prometheus_register() } == 0 {
        *registered = true;
        crate::verbose!(2, "res_sticky: metrics registered with res_prometheus");
    } else {
        crate::log_warning!("res_sticky: res_prometheus runs but did not take our metrics callback");
    }
}

/// Starts exporting through res_prometheus whenever it runs; `scrape`
/// renders the families. Call once the module's figures can be read.
pub fn start(scrape: ScrapeHandler) {
    let _ = SCRAPE.set(scrape);
    register_if_running();
}

/// What the loader announced: res_prometheus loaded (register), unloaded
/// (its callbacks went with it), or Asterisk fully booted (a res_prometheus
/// started after us during boot announced no load). A reload of either
/// module keeps the registration as it is.
pub fn module_event(event: ModuleEvent) {
    match event.kind.as_str() {
        "Load" if is_prometheus(&event.module) && event.status == "Success" => register(),
        "FullyBooted" => register(),
        "Unload" if is_prometheus(&event.module) && event.status == "Success" => {
            // Its list of callbacks went with it, even when it is back
            // already (its Load announcement follows this one).
            let mut registered = REGISTERED.lock();
            if *registered {
                *registered = false;
                crate::verbose!(2, "res_sticky: res_prometheus unloaded; metrics wait for its next load");
            }
        }
        _ => {}
    }
}

/// Takes the callback back (unload); after it no scrape calls us.
pub fn stop() {
    let mut registered = REGISTERED.lock();
    if *registered && running() {
        // SAFETY: res_prometheus runs, and it cannot be unloaded meanwhile:
        // our own unload holds the loader's list lock.
        unsafe { sys::rs_sticky_shim_prometheus_unregister() };
    }
    *registered = false;
}

/// res_prometheus's scrape: our families appended to the response.
#[no_mangle]
pub extern "C" fn rs_sticky_metrics_scrape(output: *mut *mut sys::ast_str) {
    guard("metrics scrape", (), || {
        let Some(scrape) = SCRAPE.get() else {
            return;
        };
        let text = c_string(&scrape());
        // SAFETY: `output` is the scrape's response, lent for this call; the
        // shim appends the text through a "%s" format.
        unsafe { sys::rs_sticky_shim_str_append(output, text.as_ptr() as *const c_char) };
    })
}

//! res_sticky as a CDR backend: every finished record is copied out of
//! Asterisk and handed to a handler that must not block (it runs on the CDR
//! thread with the CDR lock held).

use std::ffi::{c_char, c_int, CStr};

use once_cell::sync::OnceCell;
use parking_lot::RwLock;

use super::guard::guard;
use crate::host::cdr::CdrRecord;
use crate::host::vocabulary::Disposition;
use crate::sys;

/// The backend's name in `cdr show status`.
const BACKEND: &CStr = c"res_sticky";

/// What receives each finished record.
type Handler = fn(CdrRecord);

/// The handler while registered; `None` once unregistering began.
static HANDLER: OnceCell<RwLock<Option<Handler>>> = OnceCell::new();

/// The handler's slot, made on first use.
fn slot() -> &'static RwLock<Option<Handler>> {
    HANDLER.get_or_init(|| RwLock::new(None))
}

/// Registered as a CDR backend while alive.
pub struct CdrRegistration;

/// Registers `handler` as a CDR backend.
pub fn register(handler: Handler) -> Result<CdrRegistration, String> {
    {
        let mut slot = slot().write();
        if slot.is_some() {
            return Err("already registered as a CDR backend".into());
        }
        *slot = Some(handler);
    }
    let description = c"res_sticky: learns who talked to whom";
    // SAFETY: both strings are 'static; the callback is a plain function.
    let result = unsafe { sys::ast_cdr_register(BACKEND.as_ptr(), description.as_ptr(), Some(rs_sticky_cdr_post)) };
    if result != 0 {
        *slot().write() = None;
        return Err("could not register as a CDR backend (is the cdr module loaded?)".into());
    }
    Ok(CdrRegistration)
}

impl Drop for CdrRegistration {
    fn drop(&mut self) {
        *slot().write() = None;
        // Suspending first lets the unregister succeed while calls are up;
        // a record posted meanwhile finds no handler and is ignored.
        // SAFETY: the name is 'static.
        unsafe {
            sys::ast_cdr_backend_suspend(BACKEND.as_ptr());
            if sys::ast_cdr_unregister(BACKEND.as_ptr()) != 0 {
                crate::log_warning!("res_sticky: the CDR backend stays registered (suspended) until shutdown");
            }
        }
    }
}

/// A fixed-size C string field of a CDR, copied.
fn text(field: &[c_char]) -> String {
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(field.as_ptr().cast::<u8>(), field.len()) };
    CStr::from_bytes_until_nul(bytes).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A `timeval` in milliseconds. Its field widths differ between platforms,
/// hence the conversions that are no-ops on x86_64.
#[allow(clippy::useless_conversion)]
fn millis(time: &sys::timeval) -> i64 {
    i64::from(time.tv_sec) * 1000 + i64::from(time.tv_usec) / 1000
}

/// A CDR disposition code in our vocabulary.
fn disposition(code: std::ffi::c_long) -> Option<Disposition> {
    match code as u32 {
        sys::AST_CDR_ANSWERED => Some(Disposition::Answered),
        sys::AST_CDR_NOANSWER => Some(Disposition::NoAnswer),
        sys::AST_CDR_BUSY => Some(Disposition::Busy),
        sys::AST_CDR_FAILED => Some(Disposition::Failed),
        sys::AST_CDR_CONGESTION => Some(Disposition::Congestion),
        _ => None,
    }
}

/// The backend callback Asterisk calls for each finished record.
extern "C" fn rs_sticky_cdr_post(cdr: *mut sys::ast_cdr) -> c_int {
    guard("CDR backend", 0, || {
        let Some(handler) = *slot().read() else {
            return 0;
        };
        if cdr.is_null() {
            return 0;
        }
        // SAFETY: Asterisk lends one valid record for this call; its fields
        // are fixed arrays and plain values, all copied here.
        let record = unsafe {
            let cdr = &*cdr;
            CdrRecord {
                src: text(&cdr.src),
                dst: text(&cdr.dst),
                channel: text(&cdr.channel),
                dstchannel: text(&cdr.dstchannel),
                disposition: disposition(cdr.disposition),
                start_ms: millis(&cdr.start),
                uniqueid: text(&cdr.uniqueid),
                sequence: cdr.sequence as i64,
                call_id: None,
                linkedid: text(&cdr.linkedid),
                lastapp: text(&cdr.lastapp),
                lastdata: text(&cdr.lastdata),
                scope: None,
            }
        };
        handler(record);
        0
    })
}

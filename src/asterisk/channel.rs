//! A channel lent to us for the duration of one callback.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::sys;

/// Borrowed from Asterisk for one function or application call; never
/// stored, never sent to another thread.
pub struct Channel<'a> {
    raw: NonNull<sys::ast_channel>,
    _lent: PhantomData<&'a mut c_void>,
}

/// Stops autoservice when dropped, also while unwinding.
struct Autoservice<'c>(&'c Channel<'c>);

impl Drop for Autoservice<'_> {
    fn drop(&mut self) {
        // SAFETY: autoservice was started on this channel by `with_autoservice`.
        unsafe { sys::ast_autoservice_stop(self.0.raw.as_ptr()) };
    }
}

impl<'a> Channel<'a> {
    /// # Safety
    /// `raw` must be NULL or a channel Asterisk keeps alive (and referenced)
    /// for the whole of `'a`, as it does for the channel of a dialplan callback.
    pub unsafe fn from_raw(raw: *mut sys::ast_channel) -> Option<Channel<'a>> {
        NonNull::new(raw).map(|raw| Channel { raw, _lent: PhantomData })
    }

    pub fn set_variable(&self, name: &str, value: &str) {
        let name = super::c_string(name);
        let value = super::c_string(value);
        // SAFETY: setvar locks the channel itself and copies both strings.
        unsafe { sys::pbx_builtin_setvar_helper(self.raw.as_ptr(), name.as_ptr(), value.as_ptr()) };
    }

    /// Runs blocking work while Asterisk keeps servicing the channel (reading
    /// its frames, so the far end does not time out).
    pub fn with_autoservice<R>(&self, work: impl FnOnce() -> R) -> R {
        // SAFETY: the channel is alive for 'a; the guard stops autoservice.
        let started = unsafe { sys::ast_autoservice_start(self.raw.as_ptr()) } == 0;
        let _service = started.then(|| Autoservice(self));
        work()
    }
}

//! A channel lent to us for the duration of one callback.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::{log_warning, sys};

/// Borrowed from Asterisk for one function or application call; never
/// stored, never sent to another thread.
pub struct Channel<'a> {
    /// The channel Asterisk lent.
    raw: NonNull<sys::ast_channel>,
    /// Ties the borrow to the callback that lent the channel.
    _lent: PhantomData<&'a mut c_void>,
}

/// Holds the channel lock; unlocks when dropped, also while unwinding.
struct Locked<'c>(*mut sys::ast_channel, PhantomData<&'c ()>);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard took the lock in `lock_raw`.
        unsafe { sys::rs_sticky_shim_channel_unlock(self.0) }
    }
}

/// # Safety
/// `raw` must be a live channel for the guard's lifetime.
unsafe fn lock_raw<'c>(raw: *mut sys::ast_channel) -> Locked<'c> {
    // SAFETY: per the contract the channel is alive; the guard unlocks it.
    unsafe { sys::rs_sticky_shim_channel_lock(raw) };
    Locked(raw, PhantomData)
}

/// Reads a party number under the channel's lock.
///
/// # Safety
/// `raw` must be a live channel.
unsafe fn party_number(raw: *mut sys::ast_channel, connected: bool) -> Option<String> {
    // SAFETY: the channel is alive; the party is read under its lock and
    // the number copied before unlocking.
    unsafe {
        let _locked = lock_raw(raw);
        let number = if connected {
            let party = sys::ast_channel_connected(raw);
            if party.is_null() {
                return None;
            }
            &(*party).id.number
        } else {
            let party = sys::ast_channel_caller(raw);
            if party.is_null() {
                return None;
            }
            &(*party).id.number
        };
        if number.valid == 0 {
            return None;
        }
        super::string_from(number.str_)
    }
    .filter(|number| !number.is_empty())
}

/// A referenced channel (the peer of a bridge); the reference is dropped with it.
pub struct Peer(NonNull<sys::ast_channel>);

impl Peer {
    /// The number of the peer's caller, if present and valid.
    pub fn caller_number(&self) -> Option<String> {
        // SAFETY: we hold a reference, so the channel is alive.
        unsafe { party_number(self.0.as_ptr(), false) }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: releases the reference ast_channel_bridge_peer gave us.
        unsafe { sys::rs_sticky_shim_channel_unref(self.0.as_ptr()) }
    }
}

/// Stops autoservice when dropped, also while unwinding.
struct Autoservice<'c>(&'c Channel<'c>);

impl Drop for Autoservice<'_> {
    fn drop(&mut self) {
        let stopping = Instant::now();
        // SAFETY: autoservice was started on this channel by `with_autoservice`.
        unsafe { sys::ast_autoservice_stop(self.0.raw.as_ptr()) };
        slow_autoservice(self.0, "stopping", stopping.elapsed());
    }
}

/// Starting or stopping autoservice longer than this is logged: stopping
/// waits for Asterisk's one autoservice thread, which a stuck channel holds.
const SLOW_AUTOSERVICE: Duration = Duration::from_millis(100);

/// Logs a start or stop of autoservice that took longer than [`SLOW_AUTOSERVICE`].
fn slow_autoservice(channel: &Channel, what: &str, took: Duration) {
    if took > SLOW_AUTOSERVICE {
        log_warning!(
            "res_sticky: {what} autoservice on {} took {} ms (Asterisk's autoservice thread was busy elsewhere)",
            channel.name(),
            took.as_millis()
        );
    }
}

impl<'a> Channel<'a> {
    /// # Safety
    /// `raw` must be NULL or a channel Asterisk keeps alive (and referenced)
    /// for the whole of `'a`, as it does for the channel of a dialplan callback.
    pub unsafe fn from_raw(raw: *mut sys::ast_channel) -> Option<Channel<'a>> {
        NonNull::new(raw).map(|raw| Channel { raw, _lent: PhantomData })
    }

    /// The channel's name, e.g. `PJSIP/101-0000002a`.
    pub fn name(&self) -> String {
        // SAFETY: the channel is alive for 'a; read under its lock and copied.
        unsafe {
            let _locked = lock_raw(self.raw.as_ptr());
            super::string_from(sys::ast_channel_name(self.raw.as_ptr()))
        }
        .unwrap_or_default()
    }

    /// The channel's own id and the id every channel of its call shares.
    pub fn ids(&self) -> (String, String) {
        // SAFETY: the channel is alive for 'a; read under its lock and copied.
        unsafe {
            let _locked = lock_raw(self.raw.as_ptr());
            (
                super::string_from(sys::ast_channel_uniqueid(self.raw.as_ptr())).unwrap_or_default(),
                super::string_from(sys::ast_channel_linkedid(self.raw.as_ptr())).unwrap_or_default(),
            )
        }
    }

    /// The channel's language for prompts (`en` when unset).
    pub fn language(&self) -> String {
        // SAFETY: as for `name`.
        unsafe {
            let _locked = lock_raw(self.raw.as_ptr());
            super::string_from(sys::ast_channel_language(self.raw.as_ptr()))
        }
        .filter(|language| !language.is_empty())
        .unwrap_or_else(|| "en".into())
    }

    /// The caller's number, if present and valid.
    pub fn caller_number(&self) -> Option<String> {
        // SAFETY: the channel is alive for 'a.
        unsafe { party_number(self.raw.as_ptr(), false) }
    }

    /// A channel variable's value, copied under the channel lock.
    pub fn variable(&self, name: &str) -> Option<String> {
        let name = super::c_string(name);
        // SAFETY: getvar returns a pointer into the channel's variables,
        // valid while the lock is held; it is copied before unlocking.
        unsafe {
            let _locked = lock_raw(self.raw.as_ptr());
            super::string_from(sys::pbx_builtin_getvar_helper(self.raw.as_ptr(), name.as_ptr()))
        }
    }

    /// The connected party's number: during a call, the other side's.
    pub fn connected_number(&self) -> Option<String> {
        // SAFETY: the channel is alive for 'a.
        unsafe { party_number(self.raw.as_ptr(), true) }
    }

    /// The channel bridged to this one, if any.
    pub fn bridge_peer(&self) -> Option<Peer> {
        // SAFETY: the channel is alive; the peer comes with a reference
        // that `Peer` releases.
        NonNull::new(unsafe { sys::ast_channel_bridge_peer(self.raw.as_ptr()) }).map(Peer)
    }

    /// Whether the channel has hung up (or is being hung up).
    pub fn hung_up(&self) -> bool {
        // SAFETY: the channel is alive for 'a.
        unsafe { sys::ast_check_hangup(self.raw.as_ptr()) != 0 }
    }

    /// Answers the channel if it is not up yet; false if it hung up.
    pub fn answer(&self) -> bool {
        // SAFETY: the channel is alive for 'a and this runs on its PBX thread.
        unsafe { sys::ast_answer(self.raw.as_ptr()) == 0 }
    }

    /// The raw channel, for the other wrappers of this layer.
    pub fn raw(&self) -> *mut sys::ast_channel {
        self.raw.as_ptr()
    }

    /// Sets a channel variable (the channel is locked by Asterisk).
    pub fn set_variable(&self, name: &str, value: &str) {
        let name = super::c_string(name);
        let value = super::c_string(value);
        // SAFETY: setvar locks the channel itself and copies both strings.
        unsafe { sys::pbx_builtin_setvar_helper(self.raw.as_ptr(), name.as_ptr(), value.as_ptr()) };
    }

    /// Whether this thread is the one running the channel's dialplan: a real
    /// channel (with a driver) whose PBX thread this is. Only then may the
    /// module play to it and read its frames. A function read from AMI
    /// (`Getvar`, on a dummy channel without a driver, or on a real channel
    /// another thread services) or from ARI is not.
    pub fn is_serviced_here(&self) -> bool {
        let raw = self.raw.as_ptr();
        // SAFETY: the channel is alive for 'a; its fields are read under its
        // lock. The thread's call id is this thread's own storage.
        unsafe {
            let _locked = lock_raw(raw);
            let own = sys::ast_channel_callid(raw);
            !sys::ast_channel_tech(raw).is_null()
                && !sys::ast_channel_pbx(raw).is_null()
                && own != 0
                && own == sys::ast_read_threadstorage_callid()
        }
    }

    /// Runs blocking work while Asterisk keeps servicing the channel (reading
    /// its frames, so the far end does not time out).
    /// Gives `work`'s result, and whether autoservice started.
    pub fn with_autoservice<R>(&self, work: impl FnOnce() -> R) -> (R, bool) {
        let starting = Instant::now();
        // SAFETY: the channel is alive for 'a; the guard stops autoservice.
        let started = unsafe { sys::ast_autoservice_start(self.raw.as_ptr()) } == 0;
        slow_autoservice(self, "starting", starting.elapsed());
        let _service = started.then(|| Autoservice(self));
        (work(), started)
    }
}

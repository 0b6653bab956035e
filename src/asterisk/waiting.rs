//! Holding a caller while another thread decides: music on hold or ringing
//! meanwhile, a wait that ends when a flag is raised (the raiser wakes the
//! channel at once) or when the caller hangs up.

use std::ffi::{c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::channel::Channel;
use crate::caller::Hungup;
use crate::sys;

/// A reference to a channel that another thread may wake (it queues a null
/// frame, which ends the channel's current wait for a frame). Releases the
/// reference when dropped.
pub struct Waker(NonNull<sys::ast_channel>);

// SAFETY: the channel is reference-counted and only passed to Asterisk's
// thread-safe ast_queue_frame; the pointer itself is a plain address.
unsafe impl Send for Waker {}
// SAFETY: as for Send.
unsafe impl Sync for Waker {}

impl Waker {
    /// Wakes the channel if it is waiting for a frame.
    pub fn wake(&self) {
        // SAFETY: we hold a reference, so the channel is alive.
        unsafe { sys::rs_sticky_shim_channel_wake(self.0.as_ptr()) };
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // SAFETY: releases the reference `Channel::waker` took.
        unsafe { sys::rs_sticky_shim_channel_unref(self.0.as_ptr()) }
    }
}

/// What the caller hears while waiting; stopped when dropped.
pub enum Hold<'c> {
    /// The caller hears whatever the channel was doing.
    Nothing,
    /// Music on hold.
    Music(&'c Channel<'c>),
    /// Ringing.
    Ringing(&'c Channel<'c>),
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        match self {
            Hold::Nothing => {}
            // SAFETY: started on this live channel by `Channel::hold_music`.
            Hold::Music(channel) => unsafe { sys::ast_moh_stop(channel.raw()) },
            // SAFETY: -1 stops what `Channel::hold_ringing` indicated.
            Hold::Ringing(channel) => unsafe {
                sys::ast_indicate(channel.raw(), -1);
            },
        }
    }
}

/// The condition `ast_safe_sleep_conditional` asks: 0 ends the wait.
unsafe extern "C" fn not_raised(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the flag `wait_for_flag` passed, alive during the wait.
    let flag = unsafe { &*data.cast::<AtomicBool>() };
    c_int::from(!flag.load(Ordering::SeqCst))
}

impl<'a> Channel<'a> {
    /// A reference another thread can wake this channel through.
    pub fn waker(&self) -> Waker {
        // SAFETY: the channel is alive; the reference is released by the Waker.
        let raw = unsafe { sys::rs_sticky_shim_channel_ref(self.raw()) };
        Waker(NonNull::new(raw).expect("a referenced channel"))
    }

    /// Music on hold (the channel's class) until the returned hold is dropped.
    pub fn hold_music(&'a self) -> Hold<'a> {
        // SAFETY: a live channel on its own thread; NULL classes mean the
        // channel's own or the default.
        let started = unsafe { sys::ast_moh_start(self.raw(), ptr::null(), ptr::null()) } == 0;
        if started {
            Hold::Music(self)
        } else {
            Hold::Nothing
        }
    }

    /// Ringing until the returned hold is dropped.
    pub fn hold_ringing(&'a self) -> Hold<'a> {
        // SAFETY: a live channel on its own thread.
        let indicated = unsafe { sys::ast_indicate(self.raw(), sys::AST_CONTROL_RINGING as c_int) } == 0;
        if indicated {
            Hold::Ringing(self)
        } else {
            Hold::Nothing
        }
    }

    /// Waits up to `timeout` for `flag` to be raised (the raiser should wake
    /// the channel), servicing the channel meanwhile. `Err` if the caller
    /// hung up.
    pub fn wait_for_flag(&self, flag: &AtomicBool, timeout: Duration) -> Result<(), Hungup> {
        let ms = timeout.as_millis().min(c_int::MAX as u128) as c_int;
        // SAFETY: a live channel on its own thread; the flag outlives the
        // call and `not_raised` only reads it.
        let result = unsafe {
            sys::ast_safe_sleep_conditional(
                self.raw(),
                ms,
                Some(not_raised),
                ptr::from_ref(flag).cast_mut().cast::<c_void>(),
            )
        };
        if result < 0 || self.hung_up() {
            Err(Hungup)
        } else {
            Ok(())
        }
    }
}

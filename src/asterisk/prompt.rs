//! Prompts and keys on a channel, for the applications' dialogs.

use std::ffi::c_int;
use std::time::Duration;

use super::c_string;
use super::channel::Channel;
use crate::dialog::Hungup;
use crate::sys;

impl Channel<'_> {
    /// `Err(Hungup)` for a failed call on a channel that hung up.
    pub(super) fn ok_unless_hung_up(&self, result: c_int) -> Result<(), Hungup> {
        if result < 0 && self.hung_up() {
            Err(Hungup)
        } else {
            Ok(())
        }
    }

    /// Answers if needed and plays `prompts` one after the other.
    pub fn play_prompts(&self, prompts: &[&str]) -> Result<(), Hungup> {
        if !self.answer() {
            return Err(Hungup);
        }
        for prompt in prompts {
            let file = c_string(prompt);
            // SAFETY: a live channel on its own thread; the strings outlive the call.
            let result = unsafe { sys::ast_stream_and_wait(self.raw(), file.as_ptr(), c"".as_ptr()) };
            self.ok_unless_hung_up(result)?;
        }
        Ok(())
    }

    /// Answers if needed, plays `prompts` (a key interrupts them), then reads
    /// up to `max_digits` keys, ended by `#` or `timeout` between keys.
    pub fn get_digits(&self, prompts: &[&str], max_digits: usize, timeout: Duration) -> Result<String, Hungup> {
        if !self.answer() {
            return Err(Hungup);
        }
        let prompt = c_string(&prompts.join("&"));
        let mut buffer = vec![0u8; max_digits.clamp(1, 64) + 1];
        // SAFETY: the buffer holds max_digits plus the NUL Asterisk writes.
        let result = unsafe {
            sys::ast_app_getdata(
                self.raw(),
                prompt.as_ptr(),
                buffer.as_mut_ptr().cast(),
                (buffer.len() - 1) as c_int,
                timeout.as_millis() as c_int,
            )
        };
        self.ok_unless_hung_up(result as c_int)?;
        let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
        Ok(String::from_utf8_lossy(&buffer[..end]).into_owned())
    }
}

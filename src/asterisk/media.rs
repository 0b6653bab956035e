//! Sound on a channel: prompts, keys, recordings and spoken dates and
//! digits. Each call runs on the channel's own thread (an application's), and
//! tells a hang-up apart from other failures by the channel's hang-up state.

use std::ffi::c_int;
use std::ptr;
use std::time::Duration;

use super::c_string;
use super::channel::Channel;
use crate::caller::Hungup;
use crate::sys;

impl Channel<'_> {
    /// `Err(Hungup)` for a failed call on a channel that hung up.
    fn ok_unless_hung_up(&self, result: c_int) -> Result<(), Hungup> {
        if result < 0 && self.hung_up() {
            Err(Hungup)
        } else {
            Ok(())
        }
    }

    /// Answers the channel if it is not up yet.
    fn answered(&self) -> Result<(), Hungup> {
        if self.answer() {
            Ok(())
        } else {
            Err(Hungup)
        }
    }

    /// Answers if needed and plays `prompts` one after the other.
    pub fn play_prompts(&self, prompts: &[&str]) -> Result<(), Hungup> {
        self.answered()?;
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
        self.answered()?;
        let prompt = c_string(&prompts.join("&"));
        let mut buffer = vec![0u8; max_digits.clamp(1, 64) + 1];
        // SAFETY: the buffer holds max_digits plus the NUL Asterisk writes.
        let result = unsafe {
            sys::ast_app_getdata(
                self.raw(),
                prompt.as_ptr(),
                buffer.as_mut_ptr().cast(),
                (buffer.len() - 1) as c_int,
                timeout.as_millis().min(c_int::MAX as u128) as c_int,
            )
        };
        self.ok_unless_hung_up(result as c_int)?;
        let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
        Ok(String::from_utf8_lossy(&buffer[..end]).into_owned())
    }

    /// Answers if needed and records into `path` (no extension, WAV) until
    /// `#` or `max`, after a beep unless `quiet`; the length recorded.
    pub fn record(&self, path: &str, quiet: bool, max: Duration) -> Result<Duration, Hungup> {
        self.answered()?;
        let file = c_string(path);
        let (mut duration, mut sound_duration): (c_int, c_int) = (0, 0);
        // SAFETY: a live channel on its own thread; every string outlives
        // the call; the durations are written through valid pointers.
        let result = unsafe {
            sys::ast_play_and_record(
                self.raw(),
                if quiet { ptr::null() } else { c"beep".as_ptr() },
                file.as_ptr(),
                max.as_secs().min(c_int::MAX as u64) as c_int,
                c"wav".as_ptr(),
                &mut duration,
                &mut sound_duration,
                -1,
                -1,
                ptr::null(),
            )
        };
        self.ok_unless_hung_up(result)?;
        Ok(Duration::from_secs(duration.max(0) as u64))
    }

    /// Says the moment `unix_seconds` in `zone` as `format` (Asterisk's
    /// say-date format, e.g. `ABdY 'digits/at' IMp`). A key in `keys`
    /// pressed meanwhile stops it and is returned.
    pub fn say_date(&self, unix_seconds: i64, zone: &str, format: &str, keys: &str) -> Result<Option<char>, Hungup> {
        let language = c_string(&self.language());
        let (zone, format, keys) = (c_string(zone), c_string(format), c_string(keys));
        // SAFETY: the say function pointer is set by Asterisk's core before
        // modules load; the channel is live and every string outlives the call.
        let result = unsafe {
            match sys::ast_say_date_with_format {
                Some(say) => say(
                    self.raw(),
                    unix_seconds as libc::time_t,
                    keys.as_ptr(),
                    language.as_ptr(),
                    format.as_ptr(),
                    zone.as_ptr(),
                ),
                None => 0,
            }
        };
        self.ok_unless_hung_up(result)?;
        // A positive result is the key that interrupted the saying.
        Ok((result > 0).then(|| char::from_u32(result as u32)).flatten())
    }

    /// Says `digits` one by one in the channel's language.
    pub fn say_digits(&self, digits: &str) -> Result<(), Hungup> {
        let digits = c_string(digits);
        let language = c_string(&self.language());
        // SAFETY: the channel is live and every string outlives the call.
        let result = unsafe { sys::ast_say_digit_str(self.raw(), digits.as_ptr(), c"".as_ptr(), language.as_ptr()) };
        self.ok_unless_hung_up(result)
    }
}

/// Whether Asterisk has a sound file `name` (any format; a name under the
/// sounds directory or an absolute path without extension).
pub fn sound_exists(name: &str) -> bool {
    let file = c_string(name);
    // SAFETY: the string outlives the call; no format or language given.
    unsafe { sys::ast_fileexists(file.as_ptr(), ptr::null(), ptr::null()) > 0 }
}

//! The notice flow's [`Phone`] on a real channel.

use std::ffi::c_int;
use std::ptr;
use std::time::Duration;

use jiff::Timestamp;

use super::c_string;
use super::channel::Channel;
use crate::dialog::Hungup;
use crate::notice::Phone;
use crate::sys;

impl Phone for Channel<'_> {
    fn record(&self, path: &str, quiet: bool, max: Duration) -> Result<Duration, Hungup> {
        if !self.answer() {
            return Err(Hungup);
        }
        let beep = c"beep";
        let file = c_string(path);
        let (mut duration, mut sound_duration): (c_int, c_int) = (0, 0);
        // SAFETY: a live channel on its own thread; every string outlives
        // the call; the durations are written through valid pointers.
        let result = unsafe {
            sys::ast_play_and_record(
                self.raw(),
                if quiet { ptr::null() } else { beep.as_ptr() },
                file.as_ptr(),
                max.as_secs() as c_int,
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

    fn read_digits(&self, prompts: &[&str], max_digits: usize, timeout: Duration) -> Result<String, Hungup> {
        self.get_digits(prompts, max_digits, timeout)
    }

    fn say_time(&self, due: Timestamp, zone: &str, keys: &str) -> Result<Option<char>, Hungup> {
        let language = c_string(&self.language());
        let zone = c_string(zone);
        let keys = c_string(keys);
        // SAFETY: the say function pointer is set by Asterisk's core before
        // modules load; the channel is live and every string outlives the call.
        let result = unsafe {
            match sys::ast_say_date_with_format {
                Some(say) => say(
                    self.raw(),
                    due.as_second() as libc::time_t,
                    keys.as_ptr(),
                    language.as_ptr(),
                    c"ABdY 'digits/at' IMp".as_ptr(),
                    zone.as_ptr(),
                ),
                None => 0,
            }
        };
        self.ok_unless_hung_up(result)?;
        // A positive result is the key that interrupted the saying.
        Ok((result > 0).then(|| char::from_u32(result as u32)).flatten())
    }

    fn play(&self, prompts: &[&str]) -> Result<(), Hungup> {
        self.play_prompts(prompts)
    }

    fn sound_exists(&self, name: &str) -> bool {
        let file = c_string(name);
        // SAFETY: the string outlives the call; no format or language given.
        unsafe { sys::ast_fileexists(file.as_ptr(), ptr::null(), ptr::null()) > 0 }
    }
}

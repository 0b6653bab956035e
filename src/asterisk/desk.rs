//! MOBILE_AGENT's [`Desk`] on a real channel: app_queue's own applications
//! and functions, and the agent prompts.

use std::ffi::c_int;
use std::time::Duration;

use super::c_string;
use super::channel::Channel;
use crate::dialog::Hungup;
use crate::mobile::{Desk, Member, QueueReply};
use crate::sys;

impl Channel<'_> {
    /// Runs a dialplan application on this channel; `None` if it is not loaded.
    fn exec(&self, application: &str, arguments: &str) -> Option<c_int> {
        let name = c_string(application);
        let data = c_string(arguments);
        // SAFETY: a live channel on its own PBX thread, as applications
        // require; the strings outlive the call.
        unsafe {
            let app = sys::pbx_findapp(name.as_ptr());
            if app.is_null() {
                crate::log_warning!("MOBILE_AGENT: {application} is not available (is app_queue loaded?)");
                return None;
            }
            Some(sys::pbx_exec(self.raw(), app, data.as_ptr()))
        }
    }

    /// Reads a dialplan function into a string.
    pub fn read_function(&self, expression: &str) -> Option<String> {
        let expression = c_string(expression);
        let mut buffer = vec![0u8; 8192];
        // SAFETY: the buffer is writable for its length; Asterisk writes a
        // NUL-terminated string into it.
        let result =
            unsafe { sys::ast_func_read(self.raw(), expression.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
        if result != 0 {
            return None;
        }
        let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
        Some(String::from_utf8_lossy(&buffer[..end]).into_owned())
    }
}

impl Desk for Channel<'_> {
    fn caller_number(&self) -> Option<String> {
        Channel::caller_number(self)
    }

    fn read_pin(&self, quiet: bool) -> Result<String, Hungup> {
        let prompt: &[&str] = if quiet { &[] } else { &["agent-pass"] };
        self.get_digits(prompt, 16, Duration::from_secs(6))
    }

    fn play(&self, prompts: &[&str]) {
        // A hang-up during a prompt ends the dialog anyway.
        let _ = self.play_prompts(prompts);
    }

    fn say_digits(&self, digits: &str) {
        let digits = c_string(digits);
        let language = c_string(&self.language());
        // SAFETY: the channel is live and every string outlives the call.
        unsafe { sys::ast_say_digit_str(self.raw(), digits.as_ptr(), c"".as_ptr(), language.as_ptr()) };
    }

    fn is_member(&self, queue: &str, interface: &str) -> bool {
        self.read_function(&format!("QUEUE_MEMBER_LIST({queue})"))
            .is_some_and(|list| list.split(',').any(|member| member.trim() == interface))
    }

    fn add(&self, queue: &str, member: &Member) -> QueueReply {
        let options = if member.paused { "p" } else { "" };
        let arguments = format!("{queue},{},{},{options},{}", member.interface, member.penalty, member.name);
        if self.exec("AddQueueMember", &arguments).is_none() {
            return QueueReply::Failed;
        }
        match self.variable("AQMSTATUS").as_deref() {
            Some("ADDED") => QueueReply::Done,
            Some("MEMBERALREADY") => QueueReply::AlreadyOrNotMember,
            Some("NOSUCHQUEUE") => QueueReply::NoSuchQueue,
            _ => QueueReply::Failed,
        }
    }

    fn remove(&self, queue: &str, interface: &str) -> QueueReply {
        if self.exec("RemoveQueueMember", &format!("{queue},{interface}")).is_none() {
            return QueueReply::Failed;
        }
        match self.variable("RQMSTATUS").as_deref() {
            Some("REMOVED") => QueueReply::Done,
            Some("NOTINQUEUE") => QueueReply::AlreadyOrNotMember,
            Some("NOSUCHQUEUE") => QueueReply::NoSuchQueue,
            _ => QueueReply::Failed,
        }
    }
}

//! Asterisk's channel as the [`Caller`] the interactive applications talk to.

use std::time::Duration;

use crate::asterisk::channel::Channel;
use crate::caller::{Caller, Hungup};

impl Caller for Channel<'_> {
    fn number(&self) -> Option<String> {
        self.caller_number()
    }

    fn play(&self, prompts: &[&str]) -> Result<(), Hungup> {
        self.play_prompts(prompts)
    }

    fn read_digits(&self, prompts: &[&str], max_digits: usize, timeout: Duration) -> Result<String, Hungup> {
        self.get_digits(prompts, max_digits, timeout)
    }

    fn say_digits(&self, digits: &str) -> Result<(), Hungup> {
        Channel::say_digits(self, digits)
    }
}

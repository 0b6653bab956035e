//! What the interactive applications (SCHEDULE_NOTICE, MOBILE_AGENT) need
//! from the channel that runs them: prompts, keys, the caller's number, and
//! knowing that the caller hung up. `module` implements it on Asterisk's
//! channel; the features' unit tests script it.

use std::time::Duration;

/// The caller hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hungup;

/// A caller the module talks to.
pub trait Caller {
    /// The caller's number, if the channel has one.
    fn number(&self) -> Option<String>;
    /// Plays `prompts` one after the other.
    fn play(&self, prompts: &[&str]) -> Result<(), Hungup>;
    /// Plays `prompts` (a key interrupts them), then reads up to
    /// `max_digits` keys, ended by `#` or by `timeout` between keys.
    fn read_digits(&self, prompts: &[&str], max_digits: usize, timeout: Duration) -> Result<String, Hungup>;
    /// Says `digits` one by one.
    fn say_digits(&self, digits: &str) -> Result<(), Hungup>;
}

//! What the interactive applications (SCHEDULE_NOTICE, MOBILE_AGENT) share
//! about a call they talk to.
#![forbid(unsafe_code)]

/// The caller hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hungup;

//! MOBILE_AGENT: an external number logs into or out of a queue as a
//! dynamic member (seed 002), allow-listed, with an optional PIN and a
//! lockout after repeated failures.
//!
//! The flow is written against [`Desk`] — the queue operations and prompts
//! it needs — so that it is tested here and runs in Asterisk through
//! app_queue's own AddQueueMember / RemoveQueueMember.
#![forbid(unsafe_code)]

pub mod lockout;

#[cfg(test)]
mod tests;

use std::time::Instant;

use self::lockout::Lockouts;
use crate::config::{Mobile, MobileAllow};
use crate::report::shown;
use crate::routing::number::{KeyRule, NumberKey};
use crate::{log_notice, log_warning, verbose};

/// The values of `MOBILE_AGENT_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MobileStatus {
    LoggedIn,
    LoggedOut,
    Denied,
    Locked,
    Invalid,
    Error,
}

impl MobileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MobileStatus::LoggedIn => "LOGGEDIN",
            MobileStatus::LoggedOut => "LOGGEDOUT",
            MobileStatus::Denied => "DENIED",
            MobileStatus::Locked => "LOCKED",
            MobileStatus::Invalid => "INVALID",
            MobileStatus::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Logout,
    Toggle,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub queue: String,
    pub number: String,
    pub action: Action,
    pub paused: bool,
    pub quiet: bool,
}

/// `queue[,number[,action[,options]]]`.
pub fn parse_request(data: &str) -> Result<Request, String> {
    let parts: Vec<&str> = data.splitn(4, ',').map(str::trim).collect();
    let queue = parts[0].to_string();
    let action = match parts.get(2).copied().unwrap_or("") {
        "" | "toggle" => Action::Toggle,
        "login" => Action::Login,
        "logout" => Action::Logout,
        other => return Err(format!("unknown action '{}' (login, logout, toggle)", other.escape_debug())),
    };
    let (mut paused, mut quiet) = (false, false);
    for option in parts.get(3).copied().unwrap_or("").chars() {
        match option {
            'p' => paused = true,
            'q' => quiet = true,
            other => return Err(format!("unknown option '{}'", other.escape_debug())),
        }
    }
    Ok(Request { queue, number: parts.get(1).copied().unwrap_or("").to_string(), action, paused, quiet })
}

/// Queue names MOBILE_AGENT accepts (nothing AddQueueMember would split on).
pub fn is_valid_queue(name: &str) -> bool {
    !name.is_empty() && name.len() <= 80 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// What AddQueueMember / RemoveQueueMember answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueReply {
    Done,
    AlreadyOrNotMember,
    NoSuchQueue,
    Failed,
}

/// The member a login adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub interface: String,
    pub name: String,
    pub penalty: u32,
    pub paused: bool,
}

pub use crate::dialog::Hungup;

/// What the flow needs from Asterisk.
pub trait Desk {
    fn caller_number(&self) -> Option<String>;
    /// Reads a PIN (after the `agent-pass` prompt unless quiet).
    fn read_pin(&self, quiet: bool) -> Result<String, Hungup>;
    fn play(&self, prompts: &[&str]);
    fn say_digits(&self, digits: &str);
    fn is_member(&self, queue: &str, interface: &str) -> bool;
    fn add(&self, queue: &str, member: &Member) -> QueueReply;
    fn remove(&self, queue: &str, interface: &str) -> QueueReply;
}

pub struct Context<'a> {
    pub config: &'a Mobile,
    pub keys: KeyRule,
    pub lockouts: &'a Lockouts,
    pub now: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: MobileStatus,
    /// The number (as listed, or its digits) and the member interface, once known.
    pub number: Option<String>,
    pub interface: Option<String>,
}

fn outcome(status: MobileStatus) -> Outcome {
    Outcome { status, number: None, interface: None }
}

/// Characters a member interface or name may hold: nothing AddQueueMember
/// splits on (`,`, `|`) and no line breaks.
fn is_safe_member_text(text: &str) -> bool {
    !text.is_empty() && text.len() <= 128 && !text.chars().any(|c| c == ',' || c == '|' || c.is_control())
}

/// A member interface without the options of a Local channel's dial string
/// (`Local/7911@from-internal/n` → `Local/7911@from-internal`), as channel
/// names carry it.
pub fn base_interface(interface: &str) -> &str {
    match interface.split_once('@') {
        Some((left, right)) => &interface[..left.len() + 1 + right.split('/').next().unwrap_or(right).len()],
        None => interface,
    }
}

/// The allow entry for `key` and `queue`, if any.
pub fn allowed<'c>(config: &'c Mobile, keys: KeyRule, key: &NumberKey, queue: &str) -> Option<&'c MobileAllow> {
    config
        .allow
        .iter()
        .find(|entry| keys.key(&entry.number).ok().as_ref() == Some(key))
        .filter(|entry| entry.queues.is_empty() || entry.queues.iter().any(|q| q == queue))
}

pub fn run(request: &Request, context: &Context, desk: &dyn Desk) -> Outcome {
    let config = context.config;
    if !is_valid_queue(&request.queue) {
        log_warning!("MOBILE_AGENT: '{}' is not a queue name", shown(&request.queue));
        return outcome(MobileStatus::Invalid);
    }
    let given =
        if request.number.is_empty() { desk.caller_number().unwrap_or_default() } else { request.number.clone() };
    let caller = shown(&given);
    let (key, digits) = match context.keys.parse(&given) {
        Ok((key, full)) => (key, full.trim_start_matches('+').to_string()),
        Err(reason) => {
            log_notice!("MOBILE_AGENT({}): refused number '{caller}': {reason}", request.queue);
            if !request.quiet {
                desk.play(&["pbx-invalid"]);
            }
            return outcome(MobileStatus::Invalid);
        }
    };
    if context.lockouts.is_locked(&key, context.now) {
        log_notice!("MOBILE_AGENT({}): refused {caller}: locked out after repeated failures", request.queue);
        if !request.quiet {
            desk.play(&["pbx-invalid"]);
        }
        return Outcome { status: MobileStatus::Locked, number: Some(digits), interface: None };
    }
    let entry = allowed(config, context.keys, &key, &request.queue);
    // A listed number becomes the member it is listed as; an unlisted one
    // (removed from the list while logged in) may still log out.
    let number = entry.map(|e| e.number.clone()).unwrap_or(digits);
    let interface = config.member_template.render(|_| number.clone());
    let name = config.member_name.render(|_| number.clone());
    if !is_safe_member_text(&interface) || !is_safe_member_text(&name) {
        log_warning!("MOBILE_AGENT: member_template or member_name gives an unusable member for {number}");
        return outcome(MobileStatus::Error);
    }
    let member = desk.is_member(&request.queue, &interface);
    let login = match request.action {
        Action::Login => true,
        Action::Logout => false,
        Action::Toggle => !member,
    };
    let done = |status| Outcome { status, number: Some(number.clone()), interface: Some(interface.clone()) };
    let refuse = |reason: &str, status: MobileStatus| {
        let locked = context.lockouts.fail(&key, context.now, config.max_failures, config.lockout);
        log_notice!(
            "MOBILE_AGENT({}): refused {caller}: {reason}{}",
            request.queue,
            if locked { "; now locked out" } else { "" }
        );
        if !request.quiet {
            desk.play(&["pbx-invalid"]);
        }
        done(if locked { MobileStatus::Locked } else { status })
    };
    if login && entry.is_none() {
        return refuse("not allowed in [mobile]", MobileStatus::Denied);
    }
    if let Some(pin) = entry.and_then(|e| e.pin.as_deref()) {
        match desk.read_pin(request.quiet) {
            Err(Hungup) => return done(MobileStatus::Error),
            Ok(keyed) if keyed == pin => context.lockouts.succeed(&key),
            Ok(_) => return refuse("wrong PIN", MobileStatus::Denied),
        }
    }
    if login {
        if member {
            verbose!(3, "MOBILE_AGENT({}): {number} is already a member", request.queue);
            return done(MobileStatus::LoggedIn);
        }
        let new = Member { interface: interface.clone(), name, penalty: config.penalty, paused: request.paused };
        match desk.add(&request.queue, &new) {
            QueueReply::Done | QueueReply::AlreadyOrNotMember => {
                log_notice!(
                    "MOBILE_AGENT({}): {number} logged in as {interface}{}",
                    request.queue,
                    if request.paused { " (paused)" } else { "" }
                );
                if !request.quiet {
                    desk.play(&["agent-loginok"]);
                    desk.say_digits(&number);
                }
                done(MobileStatus::LoggedIn)
            }
            QueueReply::NoSuchQueue => {
                log_warning!("MOBILE_AGENT: no queue '{}'", request.queue);
                done(MobileStatus::Invalid)
            }
            QueueReply::Failed => done(MobileStatus::Error),
        }
    } else {
        match desk.remove(&request.queue, &interface) {
            QueueReply::Done | QueueReply::AlreadyOrNotMember => {
                log_notice!("MOBILE_AGENT({}): {number} logged out", request.queue);
                if !request.quiet {
                    desk.play(&["agent-loggedoff"]);
                }
                done(MobileStatus::LoggedOut)
            }
            QueueReply::NoSuchQueue => done(MobileStatus::Invalid),
            QueueReply::Failed => done(MobileStatus::Error),
        }
    }
}

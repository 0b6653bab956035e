//! MOBILE_AGENT: an external number logs into or out of a queue as a
//! dynamic member, allow-listed, with an optional PIN and a
//! lockout after repeated failures.
//!
//! The flow is written against [`Desk`] — the queue operations and prompts
//! it needs — so that it is tested here and runs in Asterisk through
//! app_queue's own AddQueueMember / RemoveQueueMember.

pub mod lockout;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use self::lockout::Lockouts;
use crate::config::{Mobile, MobileAllow};
use crate::routing::number::{KeyRule, NumberKey};
use crate::text::shown;
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

pub use crate::caller::{Caller, Hungup};

/// Longest PIN read, and the pause between its keys that ends it.
const PIN_DIGITS: usize = 16;
const PIN_KEY_TIMEOUT: Duration = Duration::from_secs(6);

/// What the flow needs from Asterisk: the caller, and app_queue's members.
pub trait Desk: Caller {
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

/// Plays prompts unless the request is quiet; a hang-up meanwhile ends the
/// dialog by itself, so it is not an error here.
fn tell(desk: &dyn Desk, request: &Request, prompts: &[&str]) {
    if !request.quiet {
        let _ = desk.play(prompts);
    }
}

/// Reads the PIN, after the `agent-pass` prompt unless quiet.
fn read_pin(desk: &dyn Desk, quiet: bool) -> Result<String, Hungup> {
    let prompt: &[&str] = if quiet { &[] } else { &["agent-pass"] };
    desk.read_digits(prompt, PIN_DIGITS, PIN_KEY_TIMEOUT)
}

/// The caller as the flow knows them once the number is usable.
struct Who<'r> {
    request: &'r Request,
    /// The number as given, made safe for the log.
    shown: String,
    key: NumberKey,
    /// The number as listed in `[mobile]`, else its digits.
    number: String,
    listed: Option<&'r MobileAllow>,
    interface: String,
}

impl Who<'_> {
    fn outcome(&self, status: MobileStatus) -> Outcome {
        Outcome { status, number: Some(self.number.clone()), interface: Some(self.interface.clone()) }
    }
}

/// Logs in, or out, a number allowed to be in the queue. Every path ends in
/// a status; every refusal is logged with the number and why.
pub fn run(request: &Request, context: &Context, desk: &dyn Desk) -> Outcome {
    let who = match identify(request, context, desk) {
        Ok(who) => who,
        Err(outcome) => return outcome,
    };
    let member = desk.is_member(&request.queue, &who.interface);
    let login = match request.action {
        Action::Login => true,
        Action::Logout => false,
        Action::Toggle => !member,
    };
    if login && who.listed.is_none() {
        return refuse(&who, context, desk, "not allowed in [mobile]", MobileStatus::Denied);
    }
    if let Some(pin) = who.listed.and_then(|e| e.pin.as_deref()) {
        match read_pin(desk, request.quiet) {
            Err(Hungup) => return who.outcome(MobileStatus::Error),
            Ok(keyed) if keyed == pin => context.lockouts.succeed(&who.key),
            Ok(_) => return refuse(&who, context, desk, "wrong PIN", MobileStatus::Denied),
        }
    }
    if login {
        log_in(&who, context, desk, member)
    } else {
        log_out(&who, desk)
    }
}

/// Checks the queue and the number, the lockout and the member the number
/// would be; the outcome to answer with when any of them is refused.
fn identify<'r>(request: &'r Request, context: &'r Context, desk: &dyn Desk) -> Result<Who<'r>, Outcome> {
    let config = context.config;
    if !is_valid_queue(&request.queue) {
        log_warning!("MOBILE_AGENT: '{}' is not a queue name", shown(&request.queue));
        return Err(outcome(MobileStatus::Invalid));
    }
    let given = if request.number.is_empty() { desk.number().unwrap_or_default() } else { request.number.clone() };
    let caller = shown(&given);
    let (key, digits) = match context.keys.parse(&given) {
        Ok((key, full)) => (key, full.trim_start_matches('+').to_string()),
        Err(reason) => {
            log_notice!("MOBILE_AGENT({}): refused number '{caller}': {reason}", request.queue);
            tell(desk, request, &["pbx-invalid"]);
            return Err(outcome(MobileStatus::Invalid));
        }
    };
    if context.lockouts.is_locked(&key, context.now) {
        log_notice!("MOBILE_AGENT({}): refused {caller}: locked out after repeated failures", request.queue);
        tell(desk, request, &["pbx-invalid"]);
        return Err(Outcome { status: MobileStatus::Locked, number: Some(digits), interface: None });
    }
    let listed = allowed(config, context.keys, &key, &request.queue);
    // A listed number becomes the member it is listed as; an unlisted one
    // (removed from the list while logged in) may still log out.
    let number = listed.map(|e| e.number.clone()).unwrap_or(digits);
    let interface = config.member_template.render(|_| number.clone());
    let name = config.member_name.render(|_| number.clone());
    if !is_safe_member_text(&interface) || !is_safe_member_text(&name) {
        log_warning!("MOBILE_AGENT: member_template or member_name gives an unusable member for {number}");
        return Err(outcome(MobileStatus::Error));
    }
    Ok(Who { request, shown: caller, key, number, listed, interface })
}

/// Counts a failure (which may lock the number out), logs and answers.
fn refuse(who: &Who, context: &Context, desk: &dyn Desk, reason: &str, status: MobileStatus) -> Outcome {
    let config = context.config;
    let locked = context.lockouts.fail(&who.key, context.now, config.max_failures, config.lockout);
    log_notice!(
        "MOBILE_AGENT({}): refused {}: {reason}{}",
        who.request.queue,
        who.shown,
        if locked { "; now locked out" } else { "" }
    );
    tell(desk, who.request, &["pbx-invalid"]);
    who.outcome(if locked { MobileStatus::Locked } else { status })
}

fn log_in(who: &Who, context: &Context, desk: &dyn Desk, already: bool) -> Outcome {
    let request = who.request;
    if already {
        verbose!(3, "MOBILE_AGENT({}): {} is already a member", request.queue, who.number);
        return who.outcome(MobileStatus::LoggedIn);
    }
    let config = context.config;
    let member = Member {
        interface: who.interface.clone(),
        name: config.member_name.render(|_| who.number.clone()),
        penalty: config.penalty,
        paused: request.paused,
    };
    match desk.add(&request.queue, &member) {
        QueueReply::Done | QueueReply::AlreadyOrNotMember => {
            log_notice!(
                "MOBILE_AGENT({}): {} logged in as {}{}",
                request.queue,
                who.number,
                who.interface,
                if request.paused { " (paused)" } else { "" }
            );
            if !request.quiet {
                let _ = desk.play(&["agent-loginok"]).and_then(|()| desk.say_digits(&who.number));
            }
            who.outcome(MobileStatus::LoggedIn)
        }
        QueueReply::NoSuchQueue => {
            log_warning!("MOBILE_AGENT: no queue '{}'", request.queue);
            who.outcome(MobileStatus::Invalid)
        }
        QueueReply::Failed => who.outcome(MobileStatus::Error),
    }
}

fn log_out(who: &Who, desk: &dyn Desk) -> Outcome {
    let request = who.request;
    match desk.remove(&request.queue, &who.interface) {
        QueueReply::Done | QueueReply::AlreadyOrNotMember => {
            log_notice!("MOBILE_AGENT({}): {} logged out", request.queue, who.number);
            tell(desk, request, &["agent-loggedoff"]);
            who.outcome(MobileStatus::LoggedOut)
        }
        QueueReply::NoSuchQueue => who.outcome(MobileStatus::Invalid),
        QueueReply::Failed => who.outcome(MobileStatus::Error),
    }
}

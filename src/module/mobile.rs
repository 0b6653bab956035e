//! Mobile agents as Asterisk sees them: MOBILE_AGENT in the dialplan (through
//! app_queue's own AddQueueMember / RemoveQueueMember) and `sticky show
//! mobile` on the CLI.
//!
//! Logins are remembered in astdb (family `sticky_mobile`, key
//! `<queue>/<number>`, value: when and the member interface) so that the CLI
//! can tell since when a number is a member, also across restarts (app_queue
//! keeps the members themselves with `persistentmembers = yes`).

use std::collections::HashMap;
use std::time::Instant;

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::running;
use crate::asterisk::application::AppResult;
use crate::asterisk::astdb;
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::host::cdr::CdrRecord;
use crate::host::vocabulary::Disposition;
use crate::log_warning;
use crate::mobile::lockout::Lockouts;
use crate::mobile::{self, base_interface, parse_request, Context, Desk, Member, MobileStatus, QueueReply};
use crate::routing::agent::interface_of;
use crate::text::shown;
use crate::time::{now_ms, server_time};

const FAMILY: &str = "sticky_mobile";

/// Failed logins per number.
static LOCKOUTS: Lazy<Lockouts> = Lazy::new(Lockouts::default);

/// Calls answered by each mobile member since load, by interface (without
/// Local's `/n`-style options).
static CALLS: Lazy<Mutex<HashMap<String, u64>>> = Lazy::new(Default::default);

fn track(interface: &str) {
    CALLS.lock().entry(base_interface(interface).to_string()).or_insert(0);
}

fn calls_of(interface: &str) -> u64 {
    CALLS.lock().get(base_interface(interface)).copied().unwrap_or(0)
}

/// Mobile numbers logged into queues now (the logins astdb keeps).
pub(super) fn members() -> usize {
    astdb::entries(FAMILY).len()
}

/// Starts counting calls for every member logged in before this load (the
/// logins astdb remembers).
pub(super) fn track_logged_in() {
    for (_, value) in astdb::entries(FAMILY) {
        if let Some((_, interface)) = value.split_once('|') {
            track(interface);
        }
    }
}

/// Counts an answered call whose answering channel is a mobile member's.
pub(super) fn count_call(record: &CdrRecord) {
    if record.disposition != Some(Disposition::Answered) {
        return;
    }
    if let Some(interface) = interface_of(&record.dstchannel) {
        if let Some(count) = CALLS.lock().get_mut(interface) {
            *count += 1;
        }
    }
}

impl Desk for Channel<'_> {
    fn is_member(&self, queue: &str, interface: &str) -> bool {
        self.read_function(&format!("QUEUE_MEMBER_LIST({queue})"))
            .is_some_and(|list| list.split(',').any(|member| member.trim() == interface))
    }

    fn add(&self, queue: &str, member: &Member) -> QueueReply {
        let options = if member.paused { "p" } else { "" };
        let arguments = format!("{queue},{},{},{options},{}", member.interface, member.penalty, member.name);
        queue_reply(self, "AddQueueMember", &arguments, "AQMSTATUS", "ADDED", "MEMBERALREADY")
    }

    fn remove(&self, queue: &str, interface: &str) -> QueueReply {
        queue_reply(self, "RemoveQueueMember", &format!("{queue},{interface}"), "RQMSTATUS", "REMOVED", "NOTINQUEUE")
    }
}

/// Runs one of app_queue's member applications and reads the status it set.
fn queue_reply(
    channel: &Channel,
    application: &str,
    arguments: &str,
    status: &str,
    done: &str,
    same: &str,
) -> QueueReply {
    if channel.exec(application, arguments).is_none() {
        log_warning!("MOBILE_AGENT: {application} is not available (is app_queue loaded?)");
        return QueueReply::Failed;
    }
    match channel.variable(status).as_deref() {
        Some(value) if value == done => QueueReply::Done,
        Some(value) if value == same => QueueReply::AlreadyOrNotMember,
        Some("NOSUCHQUEUE") => QueueReply::NoSuchQueue,
        _ => QueueReply::Failed,
    }
}

/// `MOBILE_AGENT(queue[,number[,action[,options]]])`.
pub(super) fn mobile_agent(channel: &Channel, data: &str) -> AppResult {
    let Some(running) = running::current() else {
        return AppResult::Continue;
    };
    let rules = running.rules();
    let request = match parse_request(data) {
        Ok(request) => request,
        Err(error) => {
            log_warning!("MOBILE_AGENT({}): {error}", shown(data));
            super::metrics::MOBILE.count(MobileStatus::Invalid.as_str());
            channel.set_variable("MOBILE_AGENT_STATUS", MobileStatus::Invalid.as_str());
            return AppResult::Continue;
        }
    };
    let context =
        Context { config: &rules.config.mobile, keys: rules.keys(), lockouts: &LOCKOUTS, now: Instant::now() };
    let outcome = mobile::run(&request, &context, channel);
    super::metrics::MOBILE.count(outcome.status.as_str());
    channel.set_variable("MOBILE_AGENT_STATUS", outcome.status.as_str());
    if let (Some(number), Some(interface)) = (&outcome.number, &outcome.interface) {
        let key = format!("{}/{number}", request.queue);
        match outcome.status {
            MobileStatus::LoggedIn => {
                astdb::put(FAMILY, &key, &format!("{}|{interface}", now_ms()));
                track(interface);
            }
            MobileStatus::LoggedOut => astdb::delete(FAMILY, &key),
            _ => {}
        }
    }
    if channel.hung_up() {
        AppResult::Hangup
    } else {
        AppResult::Continue
    }
}

/// `sticky show mobile`.
pub(super) fn show_mobile(context: &CliContext) -> CliResult {
    let running = match super::cli::begin(context, 3..=3) {
        Ok(running) => running,
        Err(answer) => return answer,
    };
    let rules = running.rules();
    let mut out = String::from("Mobile agents (logged in with MOBILE_AGENT)\n");
    out.push_str(&format!(
        "  {:<12} {:<16} {:<40} {:<19} {:>6}  {}\n",
        "Queue", "Number", "Member", "Since", "Calls", "Note"
    ));
    let mut entries = astdb::entries(FAMILY);
    entries.sort();
    for (key, value) in &entries {
        let Some((queue, number)) = key.split_once('/') else {
            continue;
        };
        let (since, interface) = value.split_once('|').unwrap_or((value, ""));
        let since = since.parse::<i64>().map(server_time).unwrap_or_default();
        let listed = rules
            .keys()
            .key(number)
            .ok()
            .is_some_and(|k| mobile::allowed(&rules.config.mobile, rules.keys(), &k, queue).is_some());
        let note = if listed { "" } else { "NOT ALLOWED any more: log it out" };
        out.push_str(&format!(
            "  {:<12} {:<16} {:<40} {:<19} {:>6}  {note}\n",
            queue,
            number,
            interface,
            since,
            calls_of(interface)
        ));
    }
    out.push_str(&format!("{} mobile member(s); calls counted since the module loaded\n", entries.len()));
    out.push_str(&format!(
        "Numbers with failed logins remembered: {} (at most {})\n",
        LOCKOUTS.len(),
        mobile::lockout::MAX_NUMBERS
    ));
    context.write(&out);
    CliResult::Success
}

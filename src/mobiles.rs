//! MOBILE_AGENT in the dialplan and `sticky show mobile` on the CLI.
//!
//! Logins are remembered in astdb (family `sticky_mobile`, key
//! `<queue>/<number>`, value: when) so that the CLI can tell since when a
//! number is a member, also across restarts (app_queue keeps the members
//! themselves with `persistentmembers = yes`).

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

use crate::asterisk::application::AppResult;
use crate::asterisk::astdb;
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::history::now_ms;
use crate::log_warning;
use crate::mobile::{self, base_interface, parse_request, Context, MobileStatus};
use crate::report::shown;
use crate::routing::agent::interface_of;
use crate::routing::contact::CdrRecord;
use crate::routing::vocabulary::Disposition;
use crate::service;

const FAMILY: &str = "sticky_mobile";

/// Calls answered by each mobile member since load, by interface (without
/// Local's `/n`-style options).
#[derive(Default)]
pub struct CallCounts(Mutex<HashMap<String, u64>>);

impl CallCounts {
    /// Starts counting for every member logged in before this load (the
    /// logins astdb remembers).
    pub fn track_logged_in(&self) {
        for (_, value) in astdb::entries(FAMILY) {
            if let Some((_, interface)) = value.split_once('|') {
                self.track(interface);
            }
        }
    }

    /// Counts an answered call whose answering channel is a mobile member's.
    pub fn on_cdr(&self, record: &CdrRecord) {
        if record.disposition != Some(Disposition::Answered) {
            return;
        }
        if let Some(interface) = interface_of(&record.dstchannel) {
            let mut counts = self.0.lock();
            if let Some(count) = counts.get_mut(interface) {
                *count += 1;
            }
        }
    }

    fn track(&self, interface: &str) {
        self.0.lock().entry(base_interface(interface).to_string()).or_insert(0);
    }

    fn get(&self, interface: &str) -> u64 {
        self.0.lock().get(base_interface(interface)).copied().unwrap_or(0)
    }
}

pub fn mobile_agent(channel: &Channel, data: &str) -> AppResult {
    let Some(service) = service::current() else {
        return AppResult::Continue;
    };
    let rules = service.rules();
    let request = match parse_request(data) {
        Ok(request) => request,
        Err(error) => {
            log_warning!("MOBILE_AGENT({}): {error}", shown(data));
            channel.set_variable("MOBILE_AGENT_STATUS", MobileStatus::Invalid.as_str());
            return AppResult::Continue;
        }
    };
    let context =
        Context { config: &rules.config.mobile, keys: rules.keys(), lockouts: &service.lockouts, now: Instant::now() };
    let outcome = mobile::run(&request, &context, channel);
    channel.set_variable("MOBILE_AGENT_STATUS", outcome.status.as_str());
    if let (Some(number), Some(interface)) = (&outcome.number, &outcome.interface) {
        let key = format!("{}/{number}", request.queue);
        match outcome.status {
            MobileStatus::LoggedIn => {
                astdb::put(FAMILY, &key, &format!("{}|{interface}", now_ms()));
                service.mobile_calls.track(interface);
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

pub fn show_mobile(context: &CliContext) -> CliResult {
    if context.argv.len() != 3 {
        return CliResult::ShowUsage;
    }
    let Some(service) = service::current() else {
        context.write("res_sticky is not running\n");
        return CliResult::Failure;
    };
    let rules = service.rules();
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
        let since = since.parse::<i64>().map(crate::commands::local_time).unwrap_or_default();
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
            service.mobile_calls.get(interface)
        ));
    }
    out.push_str(&format!("{} mobile member(s); calls counted since the module loaded\n", entries.len()));
    context.write(&out);
    CliResult::Success
}

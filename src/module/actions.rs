//! The AMI actions for CRMs and wallboards: `StickyShowAgent`,
//! `StickyForget`, `StickyAssign`, `StickyUnassign` and `StickyStats`. Every header is checked as dialplan
//! input is (number, window, scope); a bad one gets `Response: Error` and a
//! log line.

use super::owners;
use super::queue::judge_agent;
use super::routing::stats_rows;
use super::running::{self, Rules, Running};
use crate::asterisk::manager::{ActionDef, ActionReply, ActionRequest, CLASS_REPORTING, CLASS_SYSTEM};
use crate::history::{here, Lookup};
use crate::host::vocabulary::Direction;
use crate::routing::number::NumberKey;
use crate::routing::query::parse_window;
use crate::routing::scope;
use crate::routing::stats::{RANKS, STATUSES};
use crate::text::shown;
use crate::{log_notice, log_warning};
use std::sync::Arc;

pub static ACTIONS: &[ActionDef] = &[
    ActionDef {
        name: c"StickyShowAgent",
        authority: CLASS_REPORTING,
        synopsis: c"Show the sticky agent of a client number.",
        description: c"Headers: Number (required), Window (default: window from sticky.conf), Scope.\n\
            Answers what 'sticky show agent' prints: the last agent (either direction,\n\
            inbound, outbound), the first agent, the agent's device state, the queue\n\
            judged and what STICKY_ROUTE would answer. Needs the 'reporting' class.\n",
        handler: show_agent,
    },
    ActionDef {
        name: c"StickyForget",
        authority: CLASS_SYSTEM,
        synopsis: c"Erase a client's contact history.",
        description: c"Headers: Number (required). Erases every contact of the number, as\n\
            'sticky forget' does. Needs the 'system' class.\n",
        handler: forget,
    },
    ActionDef {
        name: c"StickyAssign",
        authority: CLASS_SYSTEM,
        synopsis: c"Set the account owner of a client number.",
        description: c"Headers: Number and Interface (required: the agent's interface as the\n\
            history stores it, PJSIP/102 or Local/102@agents), Scope. Does what\n\
            'sticky assign' does: STICKY_ROUTE and LAST_AGENT with option a prefer\n\
            the owner. Needs the 'system' class.\n",
        handler: assign,
    },
    ActionDef {
        name: c"StickyUnassign",
        authority: CLASS_SYSTEM,
        synopsis: c"Remove the account owner of a client number.",
        description: c"Headers: Number (required), Scope. Does what 'sticky unassign' does.\n\
            Needs the 'system' class.\n",
        handler: unassign,
    },
    ActionDef {
        name: c"StickyStats",
        authority: CLASS_REPORTING,
        synopsis: c"STICKY_ROUTE's decisions per scope.",
        description: c"One StickyStatsScope event per scope: for the last hour and the last 24\n\
            hours, decisions by status, routed calls answered by the agent and\n\
            fallbacks; then StickyStatsComplete. Needs the 'reporting' class.\n",
        handler: stats,
    },
];

/// The running module and the number of the `Number` header.
fn number(action: &str, request: &ActionRequest) -> Result<(Arc<Running>, Arc<Rules>, NumberKey), ActionReply> {
    let running = running::current().ok_or_else(|| ActionReply::Error("res_sticky is not running".into()))?;
    let rules = running.rules();
    let number = request.header("Number");
    match rules.keys().key(&number) {
        Ok(key) => Ok((running, rules, key)),
        Err(reason) => {
            log_warning!("{action}: number '{}' unusable ({reason})", shown(&number));
            Err(ActionReply::Error(format!("Number is not a usable number: {reason}")))
        }
    }
}

fn show_agent(request: &ActionRequest) -> ActionReply {
    let (running, rules, key) = match number("StickyShowAgent", request) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let general = &rules.config.general;
    let window = match parse_window(&request.header("Window"), general.window) {
        Ok(window) => window,
        Err(error) => {
            log_warning!("StickyShowAgent: Window: {error}");
            return ActionReply::Error(format!("Window: {error}"));
        }
    };
    let scope = match scope::parse(&request.header("Scope")) {
        Ok(scope) => scope,
        Err(error) => {
            log_warning!("StickyShowAgent: Scope: {error}");
            return ActionReply::Error(format!("Scope: {error}"));
        }
    };
    let mut fields = vec![("Number".to_string(), key.to_string())];
    fields.push(("Scope".into(), scope.as_deref().unwrap_or("").to_string()));
    let mut last = None;
    for (label, direction, first) in [
        ("Last", None, false),
        ("LastInbound", Some(Direction::Inbound), false),
        ("LastOutbound", Some(Direction::Outbound), false),
        ("First", None, true),
    ] {
        let filter = rules.filter(direction, scope.clone());
        match running.history.lookup(&Lookup { key: key.clone(), window, filter, first }) {
            Ok(contact) => {
                let (agent, interface, started) = contact.as_ref().map_or_else(Default::default, |c| {
                    (c.agent.id.to_string(), c.agent.interface.to_string(), c.started_at.to_string())
                });
                fields.push((format!("{label}Agent"), agent));
                fields.push((format!("{label}Interface"), interface));
                fields.push((format!("{label}StartedMs"), started));
                if label == "Last" {
                    last = contact;
                }
            }
            Err(error) => return ActionReply::Error(format!("the history could not be read: {error}")),
        }
    }
    match last {
        Some(contact) => {
            let (decided, queue) = judge_agent(None, &rules, &contact);
            fields.push(("Device".into(), decided.device));
            fields.push(("DeviceState".into(), decided.state.to_string()));
            fields.push(("Queue".into(), queue.to_string()));
            fields.push(("Status".into(), decided.status.as_str().into()));
            fields.push(("Target".into(), decided.dial.unwrap_or_default()));
        }
        None => fields.push(("Status".into(), "NOHISTORY".into())),
    }
    ActionReply::Success(fields)
}

fn forget(request: &ActionRequest) -> ActionReply {
    let (running, _, key) = match number("StickyForget", request) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    match running.history.forget(&key) {
        Ok(erased) => {
            log_notice!("res_sticky: a client's history was forgotten over AMI ({erased} stored contacts erased)");
            ActionReply::Success(vec![("Erased".into(), erased.to_string())])
        }
        Err(error) => {
            log_warning!("res_sticky: forgetting a client's history over AMI failed in the database: {error}");
            ActionReply::Error(format!("the history database could not be reached: {error}"))
        }
    }
}

fn assign(request: &ActionRequest) -> ActionReply {
    let interface = request.header("Interface");
    if interface.trim().is_empty() {
        log_warning!("StickyAssign: no Interface header (StickyUnassign removes an owner)");
        return ActionReply::Error("Interface is required (StickyUnassign removes an owner)".into());
    }
    change_owner("StickyAssign", request, &interface)
}

fn unassign(request: &ActionRequest) -> ActionReply {
    change_owner("StickyUnassign", request, "")
}

fn change_owner(action: &str, request: &ActionRequest, interface: &str) -> ActionReply {
    let Some(running) = running::current() else {
        return ActionReply::Error("res_sticky is not running".into());
    };
    let assignment = match owners::assignment(&running, &request.header("Number"), interface, &request.header("Scope"))
    {
        Ok(assignment) => assignment,
        Err(error) => {
            log_warning!("{action}: {error}");
            return ActionReply::Error(error);
        }
    };
    let key = assignment.key.to_string();
    match owners::apply(&running, assignment, "over AMI", &here) {
        Ok(()) => ActionReply::Success(vec![("Number".into(), key), ("Owner".into(), interface.to_string())]),
        Err(error) => ActionReply::Error(owners::failure(&error)),
    }
}

fn stats(_request: &ActionRequest) -> ActionReply {
    if running::current().is_none() {
        return ActionReply::Error("res_sticky is not running".into());
    }
    let items = stats_rows()
        .into_iter()
        .map(|(scope, hour, day)| {
            let mut fields = vec![("Scope".to_string(), scope.to_string())];
            for (i, status) in STATUSES.iter().enumerate() {
                fields.push((format!("{}Hour", status.as_str()), hour.decisions[i].to_string()));
                fields.push((format!("{}Day", status.as_str()), day.decisions[i].to_string()));
            }
            for (i, rank) in RANKS.iter().enumerate() {
                let rank = rank.replace('+', "Plus");
                fields.push((format!("RoutedRank{rank}Hour"), hour.routed_rank[i].to_string()));
                fields.push((format!("RoutedRank{rank}Day"), day.routed_rank[i].to_string()));
            }
            fields.push(("RoutedOwnerHour".into(), hour.routed_owner.to_string()));
            fields.push(("RoutedOwnerDay".into(), day.routed_owner.to_string()));
            fields.push(("AnsweredHour".into(), hour.answered.to_string()));
            fields.push(("AnsweredDay".into(), day.answered.to_string()));
            fields.push(("FallbacksHour".into(), hour.fallbacks().to_string()));
            fields.push(("FallbacksDay".into(), day.fallbacks().to_string()));
            fields
        })
        .collect();
    ActionReply::List("StickyStatsScope".into(), items)
}

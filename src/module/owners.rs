//! Account owners set by a CRM, as Asterisk sees them: `sticky assign` and
//! `sticky unassign` on the CLI, the STICKY_ASSIGN application in the
//! dialplan and the StickyAssign / StickyUnassign AMI actions (in
//! `actions`). STICKY_ROUTE and LAST_AGENT prefer the owner with option `a`.

use std::sync::Arc;

use super::cli::begin_with_number;
use super::running::{self, Running};
use crate::asterisk::application::AppResult;
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::history::owners::Owner;
use crate::history::{here, Away, LookupError};
use crate::host::vocabulary::{Direction, Disposition};
use crate::routing::agent::Agent;
use crate::routing::contact::Contact;
use crate::routing::number::NumberKey;
use crate::routing::scope;
use crate::text::shown;
use crate::time::server_time;
use crate::{log_notice, log_warning};

/// A change of owner, checked: who (`None`: nobody) owns which number in
/// which scope (empty: every scope).
pub(super) struct Assignment {
    pub key: NumberKey,
    pub scope: Arc<str>,
    pub agent: Option<Agent>,
}

/// Checks the parts of an assignment as dialplan input is checked: the
/// number as a number key, the agent as an interface `agent_pattern`
/// admits (`PJSIP/102`, `Local/102@agents`; empty: unassign), the scope as
/// a scope name.
pub(super) fn assignment(running: &Running, number: &str, agent: &str, scope: &str) -> Result<Assignment, String> {
    let rules = running.rules();
    let key =
        rules.keys().key(number).map_err(|reason| format!("'{}' is not a usable number: {reason}", shown(number)))?;
    let agent = match agent.trim() {
        "" => None,
        text => {
            let parsed = rules.learn.agents.agent(text).filter(|agent| &*agent.interface == text);
            Some(parsed.ok_or_else(|| {
                format!(
                    "'{}' is not an agent interface agent_pattern admits (as the history stores them: PJSIP/102, \
                     Local/102@agents)",
                    shown(text)
                )
            })?)
        }
    };
    let scope = scope::parse(scope)?.unwrap_or_else(|| Arc::from(""));
    Ok(Assignment { key, scope, agent })
}

/// Stores an assignment (waiting in the caller's way) and logs it, without
/// the number.
pub(super) fn apply(running: &Running, assignment: Assignment, by: &str, away: Away) -> Result<(), LookupError> {
    let Assignment { key, scope, agent } = assignment;
    let what = match &agent {
        Some(agent) => format!("assigned to {}", agent.interface),
        None => "unassigned".into(),
    };
    let scope_text = if scope.is_empty() { String::new() } else { format!(" in scope {scope}") };
    match running.history.assign(&key, scope, agent, away) {
        Ok(()) => {
            log_notice!("res_sticky: a client's owner was {what}{scope_text} {by}");
            Ok(())
        }
        Err(error) => {
            log_warning!("res_sticky: a client's owner could not be {what}{scope_text} {by}: {error}");
            Err(error)
        }
    }
}

/// What an error of [`apply`] means to whoever asked.
pub(super) fn failure(error: &LookupError) -> String {
    match error {
        LookupError::Timeout => format!(
            "the history database did not answer within query_timeout ({error}); the change may still land: look \
             with sticky show agent"
        ),
        other => format!("the history database could not be reached ({other}): nothing was changed"),
    }
}

/// `sticky assign <number> <interface> [scope]` and `sticky unassign <number> [scope]`.
pub(super) fn assign_cli(context: &CliContext) -> CliResult {
    let unassign = context.argv.get(1).is_some_and(|word| word == "unassign");
    let words = if unassign { 3..=4 } else { 4..=5 };
    let (running, _, _) = match begin_with_number(context, words) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    let word = |at: usize| context.argv.get(at).map(String::as_str).unwrap_or("");
    let (agent, scope) = if unassign { ("", word(3)) } else { (word(3), word(4)) };
    if !unassign && agent.is_empty() {
        return CliResult::ShowUsage;
    }
    let assignment = match assignment(&running, word(2), agent, scope) {
        Ok(assignment) => assignment,
        Err(error) => {
            context.write(&format!("{error}\n"));
            return CliResult::Failure;
        }
    };
    let key = assignment.key.clone();
    match apply(&running, assignment, "at the CLI", &here) {
        Ok(()) => {
            let now = if unassign { "has no owner now".to_string() } else { format!("is owned by {agent} now") };
            context.write(&format!(
                "Number key {key} {now}{}; every server sharing the database follows within its sync_interval\n",
                if scope.is_empty() { String::new() } else { format!(" in scope {scope}") }
            ));
            CliResult::Success
        }
        Err(error) => {
            context.write(&format!("{}\n", failure(&error)));
            CliResult::Failure
        }
    }
}

/// `STICKY_ASSIGN(number,interface[,scope])`: sets (or, with an empty
/// interface, removes) the number's owner. Sets `STICKY_ASSIGN_STATUS`.
pub(super) fn sticky_assign(channel: &Channel, data: &str) -> AppResult {
    let status = match running::current() {
        None => "ERROR",
        Some(running) => {
            let parts: Vec<&str> = data.split(',').collect();
            let part = |at: usize| parts.get(at).copied().unwrap_or("");
            let checked = if parts.len() > 3 {
                Err(format!("expected number,interface[,scope], got {} arguments", parts.len()))
            } else {
                assignment(&running, part(0), part(1), part(2))
            };
            match checked {
                Err(error) => {
                    log_warning!("STICKY_ASSIGN({}): {error}", shown(data));
                    "INVALID"
                }
                Ok(assignment) => {
                    let assigned = assignment.agent.is_some();
                    let away = |wait: &mut dyn FnMut()| channel.with_autoservice(wait).1;
                    match apply(&running, assignment, "from the dialplan", &away) {
                        Ok(()) if assigned => "ASSIGNED",
                        Ok(()) => "UNASSIGNED",
                        Err(_) => "ERROR",
                    }
                }
            }
        }
    };
    channel.set_variable("STICKY_ASSIGN_STATUS", status);
    if channel.hung_up() {
        AppResult::Hangup
    } else {
        AppResult::Continue
    }
}

/// The owner as a contact STICKY_ROUTE can judge and route to.
pub(super) fn as_contact(owner: &Owner) -> Option<Contact> {
    let agent = owner.agent.clone()?;
    Some(Contact {
        number: owner.key.clone(),
        agent,
        direction: Direction::Inbound,
        disposition: Disposition::Answered,
        started_at: owner.at,
        node: owner.node.clone(),
        call_id: String::new(),
        client: owner.key.to_string(),
        scope: owner.scope.clone(),
    })
}

/// The lines of `sticky show agent` about the owners.
pub(super) fn describe_owners(running: &Running, key: &NumberKey) -> String {
    let (owners, loaded) = running.history.owners_of(key);
    let mut out = String::new();
    for owner in &owners {
        if let Some(agent) = &owner.agent {
            let scope = if owner.scope.is_empty() { String::new() } else { format!(" in scope {}", owner.scope) };
            out.push_str(&format!(
                "  {:<21} {} ({}){scope}, since {} (set on {})\n",
                "Owner:",
                agent.id,
                agent.interface,
                server_time(owner.at),
                owner.node
            ));
        }
    }
    if owners.is_empty() {
        let note = if loaded { "(none)" } else { "(unknown: the owners are not read from the database yet)" };
        out.push_str(&format!("  {:<21} {note}\n", "Owner:"));
    }
    out
}

//! Sticky routing as Asterisk sees it: LAST_AGENT() and STICKY_ROUTE() in the
//! dialplan (with waiting for a busy agent, an AMI event per decision and
//! the figures of `sticky show stats`), contacts learned from finished CDRs
//! in the scope of their call, and the `sticky show agent`, `sticky show
//! history`, `sticky cache flush`, `sticky import cdr` and `sticky forget`
//! commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use parking_lot::Mutex;

use super::cli::{begin, begin_with_number};
use super::owners;
use super::queue::judge_agent;
use super::running::{self, Rules, Running};
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::asterisk::function::ReadResult;
use crate::asterisk::manager;
use crate::asterisk::paths;
use crate::asterisk::stasis::VarSet;
use crate::asterisk::waiting::{Hold, Waker};
use crate::caller::Hungup;
use crate::config::dsn;
use crate::history::import::{import, ImportReport};
use crate::history::{here, Lookup};
use crate::host::cdr::CdrRecord;
use crate::host::vocabulary::{Direction, Disposition};
use crate::routing::agent::interface_of;
use crate::routing::contact::Contact;
use crate::routing::decision::{RouteStatus, Verdict};
use crate::routing::number::NumberKey;
use crate::routing::query::{distinct_agents, parse_arguments, parse_window, Arguments, WaitSound};
use crate::routing::scope::{self, CallScopes};
use crate::routing::stats::{self, Stats};
use crate::routing::waiting::{Waiters, Wake};
use crate::text::shown;
use crate::time::{format_duration, now_ms, server_time};
use crate::{log_notice, log_warning, verbose};

impl Wake for Waker {
    fn wake(&self) {
        Waker::wake(self)
    }
}

/// Callers waiting for their busy agent.
static WAITERS: Lazy<Waiters<Waker>> = Lazy::new(Waiters::default);
/// The scopes of calls in progress.
static CALL_SCOPES: Lazy<Mutex<CallScopes>> = Lazy::new(Default::default);
/// STICKY_ROUTE's decisions and how routed calls ended.
static STATS: Lazy<Mutex<Stats>> = Lazy::new(Default::default);

enum Found {
    /// The number cannot be used.
    Invalid,
    Contact(Option<Contact>),
    Failed,
}

/// What one call of LAST_AGENT / STICKY_ROUTE asked and found.
struct Asked {
    arguments: Arguments,
    /// The number's key, when usable.
    key: Option<NumberKey>,
    /// The scope asked for (the argument, else the channel's STICKY_SCOPE).
    scope: Option<Arc<str>>,
    /// With option `a`: the owner `sticky assign` set for the number, in
    /// the scope asked (else in every scope), as a contact to route to.
    owner: Option<Contact>,
    found: Found,
    took: Duration,
}

/// The scope of a lookup: the argument, else the channel's `STICKY_SCOPE`.
fn scope_of(function: &str, arguments: &Arguments, channel: Option<&Channel>) -> Result<Option<Arc<str>>, ()> {
    if arguments.scope.is_some() {
        return Ok(arguments.scope.clone());
    }
    let variable = channel.and_then(|channel| channel.variable("STICKY_SCOPE")).unwrap_or_default();
    scope::parse(&variable).map_err(|error| log_warning!("{function}: STICKY_SCOPE: {error}"))
}

/// Parses the arguments and asks the history, blocking (under autoservice)
/// only on a cache miss. `Err` for arguments the dialplan got wrong.
fn find(function: &str, running: &Running, rules: &Rules, channel: Option<&Channel>, data: &str) -> Result<Asked, ()> {
    let arguments = parse_arguments(data, rules.config.general.window).map_err(|error| {
        log_warning!("{function}({}): {error}", shown(data));
    })?;
    let scope = scope_of(function, &arguments, channel)?;
    let key = match rules.keys().key(&arguments.number) {
        Ok(key) => key,
        Err(reason) => {
            verbose!(3, "{function}: number '{}' unusable ({reason})", shown(&arguments.number));
            return Ok(Asked { arguments, key: None, scope, owner: None, found: Found::Invalid, took: Duration::ZERO });
        }
    };
    // The owner answers from memory: the history is not asked (nor waited
    // for when the database is away) unless l(N) wants the last agents too.
    let options = &arguments.options;
    let owner = if options.owner {
        running.history.owner_of(&key, scope.as_deref()).and_then(|owner| owners::as_contact(&owner))
    } else {
        None
    };
    if owner.is_some() && options.last.is_none() {
        let found = Found::Contact(None);
        return Ok(Asked { arguments, key: Some(key), scope, owner, found, took: Duration::ZERO });
    }
    let lookup = Lookup {
        key: key.clone(),
        window: arguments.window,
        filter: rules.filter(arguments.options.direction, scope.clone()),
        first: arguments.options.first,
    };
    let started = Instant::now();
    let answer = match running.history.cached(&lookup) {
        Some(answer) => Ok(answer),
        None => match channel {
            // A wait of up to UNSERVICED_WAIT as is; a longer one under
            // autoservice (true when it started) — only on the channel's own
            // PBX thread: from AMI, ARI or another channel's thread the
            // channel is serviced by whoever owns it (a bridge, say), and
            // autoservice would read its frames away from there.
            Some(channel) if channel.is_serviced_here() => {
                running.history.fetch(&lookup, &|wait: &mut dyn FnMut()| channel.with_autoservice(wait).1)
            }
            _ => running.history.fetch(&lookup, &here),
        },
    };
    let took = started.elapsed();
    running.history.record_latency(took);
    let found = match answer {
        Ok(contact) => Found::Contact(contact),
        Err(error) => {
            verbose!(3, "{function}({}): {error}; answering without history", lookup.key);
            Found::Failed
        }
    };
    Ok(Asked { arguments, key: Some(key), scope, owner, found, took })
}

/// `LAST_AGENT(number[,window[,options[,scope]]])`.
pub(super) fn last_agent(channel: Option<&Channel>, data: &str) -> ReadResult {
    let running = running::current().ok_or(())?;
    let rules = running.rules();
    let asked = find("LAST_AGENT", &running, &rules, channel, data)?;
    if let Some(Contact { agent, .. }) = asked.owner {
        return Ok(if asked.arguments.options.interface { agent.interface } else { agent.id }.to_string());
    }
    Ok(match asked.found {
        Found::Contact(Some(contact)) if asked.arguments.options.interface => contact.agent.interface.to_string(),
        Found::Contact(Some(contact)) => contact.agent.id.to_string(),
        _ => String::new(),
    })
}

/// Sets STICKY_AGENT, STICKY_INTERFACE and STICKY_STATUS, raises the
/// StickyRoute AMI event and counts the decision.
fn decided(
    channel: Option<&Channel>,
    asked: Option<&Asked>,
    status: RouteStatus,
    contact: Option<&Contact>,
    queue: &str,
    rank: usize,
    owner: bool,
) {
    let (agent, interface) =
        contact.map_or((Arc::from(""), Arc::from("")), |c| (c.agent.id.clone(), c.agent.interface.clone()));
    let scope: Arc<str> = asked.and_then(|a| a.scope.clone()).unwrap_or_else(|| Arc::from(""));
    let (uniqueid, linkedid) = channel.map(Channel::ids).unwrap_or_default();
    let source = match (contact, owner && rank == 1) {
        (None, _) => "",
        (Some(_), true) => "OWNER",
        (Some(_), false) => "HISTORY",
    };
    if let Some(channel) = channel {
        channel.set_variable("STICKY_AGENT", &agent);
        channel.set_variable("STICKY_INTERFACE", &interface);
        channel.set_variable("STICKY_STATUS", status.as_str());
        channel.set_variable("STICKY_RANK", &if rank == 0 { String::new() } else { rank.to_string() });
        channel.set_variable("STICKY_SOURCE", source);
    }
    let number = asked.and_then(|a| a.key.as_ref()).map(NumberKey::to_string).unwrap_or_default();
    let micros = asked.map_or(0, |a| a.took.as_micros()).to_string();
    let name = channel.map(Channel::name).unwrap_or_default();
    manager::event(
        "StickyRoute",
        &[
            ("Channel", &name),
            ("Uniqueid", &uniqueid),
            ("Number", &number),
            ("Scope", &scope),
            ("Agent", &agent),
            ("Interface", &interface),
            ("Status", status.as_str()),
            ("LookupMicros", &micros),
            ("Queue", queue),
            ("Rank", &if rank == 0 { String::new() } else { rank.to_string() }),
            ("Source", source),
        ],
    );
    let mut stats = STATS.lock();
    stats.decided(now_ms(), &scope, status, &linkedid, &interface);
    if status == RouteStatus::Routed {
        stats.routed_at(now_ms(), &scope, rank, owner && rank == 1);
    }
}

/// `STICKY_ROUTE(number[,window[,options[,scope]]])`.
pub(super) fn sticky_route(channel: Option<&Channel>, data: &str) -> ReadResult {
    let running = running::current().ok_or(())?;
    let rules = running.rules();
    let asked = find("STICKY_ROUTE", &running, &rules, channel, data).inspect_err(|_| {
        decided(channel, None, RouteStatus::Invalid, None, "", 0, false);
    })?;
    // With `a`, the owner (known in memory) comes first, even when the
    // history could not be read.
    let owned = asked.owner.is_some();
    let contact = match (&asked.found, &asked.owner) {
        (Found::Invalid, _) => None,
        (_, Some(owner)) => Some(owner.clone()),
        (Found::Contact(Some(contact)), None) => Some(contact.clone()),
        _ => None,
    };
    let Some(contact) = contact else {
        let status = match &asked.found {
            Found::Invalid => RouteStatus::Invalid,
            Found::Failed => RouteStatus::Error,
            _ => RouteStatus::NoHistory,
        };
        decided(channel, Some(&asked), status, None, "", 0, false);
        return Ok(String::new());
    };
    let (contact, mut decision, queue, rank) = fallback(channel, &running, &rules, &asked, contact);
    if let (true, Some(wait), Some(channel)) = (decision.status.may_wait(), asked.arguments.options.wait, channel) {
        if !channel.is_serviced_here() {
            log_notice!(
                "STICKY_ROUTE: option w is honoured only in the dialplan of the caller's own channel (not from AMI, \
                 ARI or another channel's thread); {} is not waited for",
                decision.device
            );
        } else {
            decision = match wait_for_agent(channel, &rules, &contact, decision, wait, asked.arguments.options.sound) {
                Ok(decision) => decision,
                Err(Hungup) => {
                    decided(Some(channel), Some(&asked), RouteStatus::Hangup, Some(&contact), &queue, rank, owned);
                    return Ok(String::new());
                }
            };
        }
    }
    verbose!(
        3,
        "STICKY_ROUTE({}): {}agent {} on {} is {}: {}",
        contact.number,
        if owned && rank == 1 { "owner " } else { "" },
        contact.agent.id,
        decision.device,
        decision.state,
        decision.status.as_str()
    );
    decided(channel, Some(&asked), decision.status, Some(&contact), &queue, rank, owned);
    Ok(decision.dial.unwrap_or_default())
}

/// Option `l(N)`: the last N distinct agents of the client, newest first;
/// the first who can take the call wins. Else the newest (rank 1) — or,
/// with `a`, the owner as rank 1 and the client's last agents after it.
fn fallback(
    channel: Option<&Channel>,
    running: &Running,
    rules: &Rules,
    asked: &Asked,
    newest: Contact,
) -> (Contact, Verdict, Arc<str>, usize) {
    let (verdict, queue) = judge_agent(channel, rules, &newest);
    let options = &asked.arguments.options;
    let (Some(count), Some(key), false) = (options.last, asked.key.as_ref(), options.first) else {
        return (newest, verdict, queue, 1);
    };
    if count < 2 || verdict.status == RouteStatus::Routed {
        return (newest, verdict, queue, 1);
    }
    let read = || running.history.contacts_of(key, 200);
    let (contacts, _) = match channel {
        Some(channel) if channel.is_serviced_here() => channel.with_autoservice(read).0,
        _ => read(),
    };
    let since = now_ms() - asked.arguments.window.as_millis() as i64;
    let filter = rules.filter(options.direction, asked.scope.clone());
    // Whoever rank 1 was (the newest agent, or the owner), the others follow.
    let others = distinct_agents(&contacts, since, &filter, count as usize + 1)
        .into_iter()
        .filter(|candidate| candidate.agent.id != newest.agent.id)
        .take(count as usize - 1);
    for (index, candidate) in others.enumerate() {
        let (judged, judged_queue) = judge_agent(channel, rules, candidate);
        if judged.status == RouteStatus::Routed {
            return (candidate.clone(), judged, judged_queue, index + 2);
        }
    }
    (newest, verdict, queue, 1)
}

/// Holds the caller (music or ringing) until the busy agent's device becomes
/// available — woken by the device-state change, the longest-waiting caller
/// first — or `wait` passes. The verdict when it ended.
fn wait_for_agent(
    channel: &Channel,
    rules: &Rules,
    contact: &Contact,
    busy: Verdict,
    wait: Duration,
    sound: WaitSound,
) -> Result<Verdict, Hungup> {
    let until = Instant::now() + wait;
    let mut waiting = Waiting { waiter: WAITERS.join(&busy.device, channel.waker()), routed: false };
    let waiter = waiting.waiter.clone();
    let _hold = match sound {
        WaitSound::Music => channel.hold_music(),
        WaitSound::Ringing => channel.hold_ringing(),
        WaitSound::Nothing => Hold::Nothing,
    };
    verbose!(3, "STICKY_ROUTE: {} waits up to {} for {}", channel.name(), format_duration(wait), busy.device);
    // The agent may have come free between the verdict and joining.
    let mut decision = judge_agent(Some(channel), rules, contact).0;
    let result = loop {
        if decision.status == RouteStatus::Routed {
            break Ok(decision);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Ok(decision);
        }
        // A pause or a wrap-up ends without a device-state change: looked
        // at again every second.
        let step = if decision.status == RouteStatus::Busy { left } else { left.min(QUEUE_RECHECK) };
        if let Err(hungup) = channel.wait_for_flag(&waiter.released, step) {
            break Err(hungup);
        }
        decision = judge_agent(Some(channel), rules, contact).0;
        if waiter.released.load(std::sync::atomic::Ordering::SeqCst) && decision.status != RouteStatus::Routed {
            // Taken again before this caller got there: first in line still,
            // and a change while it was out of line is not missed.
            WAITERS.wait_again(&waiter);
            decision = judge_agent(Some(channel), rules, contact).0;
        }
    };
    waiting.routed = matches!(&result, Ok(decision) if decision.status == RouteStatus::Routed);
    result
}

/// How often a caller waiting for a paused agent or one in wrap-up looks
/// at app_queue again.
const QUEUE_RECHECK: Duration = Duration::from_secs(1);

/// A caller in the queue of its agent's device; leaves it when dropped (on
/// every path, unwinding too), passing an unused release on.
struct Waiting {
    waiter: Arc<crate::routing::waiting::Waiter<Waker>>,
    routed: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITERS.leave(&self.waiter, self.routed);
    }
}

/// A device's new state: a caller waiting for it may try it.
pub(super) fn device_changed(device: &str, state: crate::host::vocabulary::DeviceState) {
    let Some(running) = running::current() else {
        return;
    };
    if running.rules().config.general.available_states.contains(&state) {
        WAITERS.available(device);
    }
}

/// A channel variable was set: `STICKY_SCOPE` gives its call a scope.
pub(super) fn variable_set(set: VarSet) {
    if !scope::is_scope_variable(&set.name) {
        return;
    }
    let result = CALL_SCOPES.lock().set(&set.linkedid, &set.value, now_ms());
    if let Err(error) = result {
        log_warning!("res_sticky: STICKY_SCOPE on call {}: {error}", set.linkedid);
    }
}

/// Turns a finished CDR into a contact, in the scope of its call, and
/// follows routed calls to see whether their agent answered.
pub(super) fn learn(record: &CdrRecord) {
    let Some(running) = running::current() else {
        return;
    };
    let now = now_ms();
    let answered = record.disposition == Some(Disposition::Answered);
    STATS.lock().call_record(now, &record.linkedid, interface_of(&record.dstchannel), answered);
    let scope = {
        let mut scopes = CALL_SCOPES.lock();
        scopes.prune(now);
        scopes.of(&record.linkedid)
    };
    let record = CdrRecord { scope, ..record.clone() };
    let rules = running.rules();
    if let Some(contact) = rules.learn.contact(&record, &rules.node) {
        verbose!(
            4,
            "res_sticky: learned {} contact {} <-> agent {} ({}{})",
            contact.direction.as_str(),
            contact.number,
            contact.agent.id,
            contact.disposition,
            if contact.scope.is_empty() { String::new() } else { format!(", scope {}", contact.scope) }
        );
        running.history.learn(contact);
    }
}

/// `sticky forget <number>`.
pub(super) fn forget(context: &CliContext) -> CliResult {
    let (running, _, key) = match begin_with_number(context, 3..=3) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    match running.history.forget(&key) {
        Ok(erased) => {
            context.write(&format!(
                "Forgot number key {key}: {erased} stored contact(s) erased; cached and journaled ones dropped \
                 here, and on every server sharing the database within its sync_interval\n"
            ));
            // Who and when, nothing about the number.
            log_notice!("res_sticky: a client's history was forgotten at the CLI ({erased} stored contacts erased)");
            CliResult::Success
        }
        Err(error) => {
            context.write(&format!(
                "Dropped the number here, but the history database could not be reached ({error}): nothing in it \
                 was erased; run sticky forget again when it is back\n"
            ));
            log_warning!("res_sticky: forgetting a client's history failed in the database: {error}");
            CliResult::Failure
        }
    }
}

/// STICKY_ROUTE's totals per scope, the routed calls followed and the
/// callers waiting now (the metrics).
pub(super) fn totals() -> (Vec<(String, crate::routing::totals::ScopeTotal)>, usize, usize) {
    let stats = STATS.lock();
    (stats.totals.read(), stats.following(), WAITERS.len())
}

/// The figures of `sticky show stats`: per scope, the last hour and day.
pub(super) fn stats_rows() -> Vec<(Arc<str>, stats::Counts, stats::Counts)> {
    STATS.lock().report(now_ms())
}

/// `sticky show stats`.
pub(super) fn show_stats(context: &CliContext) -> CliResult {
    if let Err(answer) = begin(context, 3..=3) {
        return answer;
    }
    let (rows, following) = {
        let mut stats = STATS.lock();
        (stats.report(now_ms()), stats.following())
    };
    // Written with no lock held: a console may be slow.
    let mut text = stats::render(&rows, following);
    text.push_str(&format!("{} caller(s) waiting for their agent now\n", WAITERS.len()));
    context.write(&text);
    CliResult::Success
}

fn describe(contact: &Option<Contact>) -> String {
    match contact {
        Some(c) => format!(
            "{} ({}), {}, {}, {}",
            c.agent.id,
            c.agent.interface,
            if c.direction == Direction::Inbound { "inbound" } else { "outbound" },
            c.disposition,
            server_time(c.started_at)
        ),
        None => "(none)".into(),
    }
}

/// `sticky show agent <number> [window]`.
pub(super) fn show_agent(context: &CliContext) -> CliResult {
    let (running, rules, key) = match begin_with_number(context, 4..=6) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    let general = &rules.config.general;
    let window = match context.argv.get(4) {
        Some(text) => match parse_window(text, general.window) {
            Ok(window) => window,
            Err(error) => {
                context.write(&format!("{error}\n"));
                return CliResult::ShowUsage;
            }
        },
        None => general.window,
    };
    let scope = match scope::parse(context.argv.get(5).map(String::as_str).unwrap_or("")) {
        Ok(scope) => scope,
        Err(error) => {
            context.write(&format!("{error}\n"));
            return CliResult::ShowUsage;
        }
    };
    let ask = |direction: Option<Direction>, first: bool| {
        let filter = rules.filter(direction, scope.clone());
        running.history.lookup(&Lookup { key: key.clone(), window, filter, first })
    };
    let mut out = format!(
        "Number key {key}, window {}{}\n",
        format_duration(window),
        scope.as_ref().map(|s| format!(", scope {s}")).unwrap_or_default()
    );
    out.push_str(&owners::describe_owners(&running, &key));
    let mut last = None;
    for (label, direction, first) in [
        ("Last agent:", None, false),
        ("Last inbound agent:", Some(Direction::Inbound), false),
        ("Last outbound agent:", Some(Direction::Outbound), false),
        ("First agent:", None, true),
    ] {
        let text = match ask(direction, first) {
            Ok(contact) => {
                let text = describe(&contact);
                if label == "Last agent:" {
                    last = contact;
                }
                text
            }
            Err(error) => format!("unknown: {error}"),
        };
        out.push_str(&format!("  {label:<21} {text}\n"));
    }
    if let Some(contact) = last {
        let (decided, queue) = judge_agent(None, &rules, &contact);
        out.push_str(&format!("  {:<21} {} is {}\n", "Device state:", decided.device, decided.state));
        if !queue.is_empty() {
            out.push_str(&format!("  {:<21} {queue}\n", "Queue:"));
        }
        out.push_str(&format!("  {:<21} {}", "STICKY_ROUTE:", decided.status.as_str()));
        if let Some(dial) = decided.dial {
            out.push_str(&format!(" -> {dial}"));
        }
        out.push('\n');
    }
    context.write(&out);
    CliResult::Success
}

/// `sticky show history <number>`.
pub(super) fn show_history(context: &CliContext) -> CliResult {
    let (running, _, key) = match begin_with_number(context, 4..=4) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    let (contacts, error) = running.history.contacts_of(&key, 50);
    let mut out = format!("Contacts of number key {key} (newest first)\n");
    if let Some(error) = error {
        out.push_str(&format!("  (the database could not be read: {error}; showing cached contacts only)\n"));
    }
    out.push_str(&format!(
        "  {:<19}  {:<3}  {:<11}  {:<10}  {:<24}  {:<12}  {}\n",
        "Started", "Dir", "Disposition", "Agent", "Interface", "Scope", "Node"
    ));
    for c in &contacts {
        out.push_str(&format!(
            "  {:<19}  {:<3}  {:<11}  {:<10}  {:<24}  {:<12}  {}\n",
            server_time(c.started_at),
            c.direction.as_str(),
            c.disposition.as_str(),
            c.agent.id,
            c.agent.interface,
            if c.scope.is_empty() { "-" } else { &c.scope },
            c.node
        ));
    }
    out.push_str(&format!("{} contacts\n", contacts.len()));
    context.write(&out);
    CliResult::Success
}

/// `sticky cache flush`.
pub(super) fn cache_flush(context: &CliContext) -> CliResult {
    let running = match begin(context, 3..=3) {
        Ok(running) => running,
        Err(answer) => return answer,
    };
    let flushed = running.history.flush_cache();
    context.write(&format!("Flushed {flushed} cached numbers\n"));
    verbose!(2, "res_sticky: cache flushed ({flushed} numbers)");
    CliResult::Success
}

/// `sticky import cdr [days]`.
pub(super) fn import_cdr(context: &CliContext) -> CliResult {
    let days: i64 = match context.argv.get(3).map(|text| text.parse::<i64>()) {
        None => 1,
        Some(Ok(days)) if (1..=3650).contains(&days) => days,
        Some(_) => return CliResult::ShowUsage,
    };
    let running = match begin(context, 3..=4) {
        Ok(running) => running,
        Err(answer) => return answer,
    };
    let rules = running.rules();
    let general = &rules.config.general;
    let connection = match &general.import_dsn {
        Some(name) => dsn::connection_string(Some(name), &paths::db_dir()),
        None => rules.connection.clone(),
    };
    context.write(&format!("Importing {days} day(s) of cdr from {}...\n", dsn::redacted(&connection)));
    let started = Instant::now();
    let since = now_ms() - days * 86_400_000;
    let store = running.history.store();
    let timeout = general.query_timeout.max(Duration::from_secs(10));
    let result = import(
        &connection,
        general.import_query.as_deref(),
        since,
        &|record| rules.learn.contact(record, &rules.node),
        &*store,
        timeout,
        &mut |report| {
            context.write(&format!(
                "  ... {} rows read, {} contacts written ({:.0} s)\n",
                report.rows,
                report.written,
                started.elapsed().as_secs_f64()
            ))
        },
    );
    // No cached answer may predate what was imported.
    running.history.flush_cache();
    let describe = |report: &ImportReport| {
        let seconds = started.elapsed().as_secs_f64();
        format!(
            "{} rows read, {} contacts imported{} in {seconds:.1} s ({:.0} rows/s)",
            report.rows,
            report.written,
            if report.unreadable > 0 {
                format!(", {} rows with an unreadable calldate", report.unreadable)
            } else {
                String::new()
            },
            report.rows as f64 / seconds.max(0.001)
        )
    };
    match result {
        Ok(report) => {
            let message = format!("sticky import cdr: {}", describe(&report));
            context.write(&format!("{message}\n"));
            verbose!(2, "res_sticky: {message}");
            CliResult::Success
        }
        Err((report, error)) => {
            let message = format!(
                "sticky import cdr failed: {error}; before it: {} (run it again: what is stored is skipped)",
                describe(&report)
            );
            context.write(&format!("{message}\n"));
            log_warning!("res_sticky: {message}");
            CliResult::Failure
        }
    }
}

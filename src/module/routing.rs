//! Sticky routing as Asterisk sees it: LAST_AGENT() and STICKY_ROUTE() in the
//! dialplan, contacts learned from finished CDRs, and the `sticky show agent`,
//! `sticky show history`, `sticky cache flush` and `sticky import cdr`
//! commands.

use std::time::{Duration, Instant};

use super::cli::{begin, begin_with_number};
use super::running::{self, Rules, Running};
use crate::asterisk::channel::Channel;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::asterisk::devstate::device_state;
use crate::asterisk::function::ReadResult;
use crate::asterisk::paths;
use crate::config::dsn;
use crate::history::import::{import, ImportReport};
use crate::history::Lookup;
use crate::routing::contact::{CdrRecord, Contact};
use crate::routing::decision::{verdict, RouteStatus};
use crate::routing::query::{parse_arguments, parse_window, Arguments};
use crate::routing::vocabulary::Direction;
use crate::text::shown;
use crate::time::{format_duration, now_ms, server_time};
use crate::{log_warning, verbose};

enum Found {
    /// The number cannot be used.
    Invalid,
    Contact(Option<Contact>),
    Failed,
}

/// Parses the arguments and asks the history, blocking (under autoservice)
/// only on a cache miss. `Err` for arguments the dialplan got wrong.
fn find(
    function: &str,
    running: &Running,
    rules: &Rules,
    channel: Option<&Channel>,
    data: &str,
) -> Result<(Arguments, Found), ()> {
    let arguments = parse_arguments(data, rules.config.general.window).map_err(|error| {
        log_warning!("{function}({}): {error}", shown(data));
    })?;
    let key = match rules.keys().key(&arguments.number) {
        Ok(key) => key,
        Err(reason) => {
            verbose!(3, "{function}: number '{}' unusable ({reason})", shown(&arguments.number));
            return Ok((arguments, Found::Invalid));
        }
    };
    let lookup = Lookup {
        key,
        window: arguments.window,
        filter: rules.filter(arguments.options.direction),
        first: arguments.options.first,
    };
    let started = Instant::now();
    let answer = match running.history.cached(&lookup) {
        Some(answer) => Ok(answer),
        None => match channel {
            Some(channel) => channel.with_autoservice(|| running.history.fetch(&lookup)),
            None => running.history.fetch(&lookup),
        },
    };
    running.history.record_latency(started.elapsed());
    let found = match answer {
        Ok(contact) => Found::Contact(contact),
        Err(error) => {
            verbose!(3, "{function}({}): {error}; answering without history", lookup.key);
            Found::Failed
        }
    };
    Ok((arguments, found))
}

/// `LAST_AGENT(number[,window[,options]])`.
pub(super) fn last_agent(channel: Option<&Channel>, data: &str) -> ReadResult {
    let running = running::current().ok_or(())?;
    let rules = running.rules();
    let (arguments, found) = find("LAST_AGENT", &running, &rules, channel, data)?;
    Ok(match found {
        Found::Contact(Some(contact)) if arguments.options.interface => contact.agent.interface.to_string(),
        Found::Contact(Some(contact)) => contact.agent.id.to_string(),
        _ => String::new(),
    })
}

fn set_route_variables(channel: Option<&Channel>, status: RouteStatus, agent: &str, interface: &str) {
    if let Some(channel) = channel {
        channel.set_variable("STICKY_AGENT", agent);
        channel.set_variable("STICKY_INTERFACE", interface);
        channel.set_variable("STICKY_STATUS", status.as_str());
    }
}

/// `STICKY_ROUTE(number[,window[,options]])`.
pub(super) fn sticky_route(channel: Option<&Channel>, data: &str) -> ReadResult {
    let running = running::current().ok_or(())?;
    let rules = running.rules();
    let (_, found) = find("STICKY_ROUTE", &running, &rules, channel, data).inspect_err(|_| {
        set_route_variables(channel, RouteStatus::Invalid, "", "");
    })?;
    let contact = match found {
        Found::Contact(Some(contact)) => contact,
        other => {
            let status = match other {
                Found::Invalid => RouteStatus::Invalid,
                Found::Failed => RouteStatus::Error,
                _ => RouteStatus::NoHistory,
            };
            set_route_variables(channel, status, "", "");
            return Ok(String::new());
        }
    };
    let decided = verdict(&contact.agent, &rules.availability(), device_state);
    verbose!(
        3,
        "STICKY_ROUTE({}): agent {} on {} is {}: {}",
        contact.number,
        contact.agent.id,
        decided.device,
        decided.state,
        decided.status.as_str()
    );
    set_route_variables(channel, decided.status, &contact.agent.id, &contact.agent.interface);
    Ok(decided.dial.unwrap_or_default())
}

/// Turns a finished CDR into a contact, if it is one.
pub(super) fn learn(record: &CdrRecord) {
    let Some(running) = running::current() else {
        return;
    };
    let rules = running.rules();
    if let Some(contact) = rules.learn.contact(record, &rules.node) {
        verbose!(
            4,
            "res_sticky: learned {} contact {} <-> agent {} ({})",
            contact.direction.as_str(),
            contact.number,
            contact.agent.id,
            contact.disposition
        );
        running.history.learn(contact);
    }
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
    let (running, rules, key) = match begin_with_number(context, 4..=5) {
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
    let ask = |direction: Option<Direction>, first: bool| {
        running.history.lookup(&Lookup { key: key.clone(), window, filter: rules.filter(direction), first })
    };
    let mut out = format!("Number key {key}, window {}\n", format_duration(window));
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
        let decided = verdict(&contact.agent, &rules.availability(), device_state);
        out.push_str(&format!("  {:<21} {} is {}\n", "Device state:", decided.device, decided.state));
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
        "  {:<19}  {:<3}  {:<11}  {:<10}  {:<24}  {}\n",
        "Started", "Dir", "Disposition", "Agent", "Interface", "Node"
    ));
    for c in &contacts {
        out.push_str(&format!(
            "  {:<19}  {:<3}  {:<11}  {:<10}  {:<24}  {}\n",
            server_time(c.started_at),
            c.direction.as_str(),
            c.disposition.as_str(),
            c.agent.id,
            c.agent.interface,
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

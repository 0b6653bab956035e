//! The `sticky …` CLI commands.

use std::time::Duration;

use crate::asterisk::cli::{CliCommand, CliContext, CliResult};
use crate::asterisk::devstate::device_state;
use crate::config::dsn;
use crate::history::import::read_cdr;
use crate::history::{now_ms, Lookup};
use crate::report::shown;
use crate::routing::contact::Contact;
use crate::routing::decision::classify;
use crate::routing::number::NumberKey;
use crate::routing::vocabulary::Direction;
use crate::service::{self, Rules, Service};
use crate::{asterisk::paths, status, verbose};

pub static CLI_COMMANDS: &[CliCommand] = &[
    CliCommand {
        command: c"sticky show status",
        summary: c"Show res_sticky's configuration and counters",
        usage: c"Usage: sticky show status\n       Shows the loaded sticky.conf, the history database and its pool,\n       the cache, lookup counts with their p50 / p99 time, contacts\n       learned and history writes still pending.\n",
        handler: show_status,
    },
    CliCommand {
        command: c"sticky show agent",
        summary: c"Show the sticky agent of a client number",
        usage: c"Usage: sticky show agent <number> [window]\n       Shows the last agent (either direction, inbound, outbound), the first\n       agent within the window (default: window from sticky.conf), the\n       agent's device state and what STICKY_ROUTE would answer.\n",
        handler: show_agent,
    },
    CliCommand {
        command: c"sticky show history",
        summary: c"Show the contacts of a client number",
        usage: c"Usage: sticky show history <number>\n       Lists the stored and cached contacts of a number, newest first\n       (at most 50).\n",
        handler: show_history,
    },
    CliCommand {
        command: c"sticky cache flush",
        summary: c"Empty res_sticky's in-process cache",
        usage: c"Usage: sticky cache flush\n       Forgets every cached number; the next lookup of each reads the\n       history database again.\n",
        handler: cache_flush,
    },
    CliCommand {
        command: c"sticky import cdr",
        summary: c"Back-fill contact history from the cdr table",
        usage: c"Usage: sticky import cdr [days]\n       Reads the cdr table (import_dsn, default: dsn) for the last <days>\n       (default 1) and stores every call that links a client number and an\n       agent as a contact. The default query reads the FreePBX /\n       cdr_adaptive_odbc layout; set import_query for another.\n",
        handler: import_cdr,
    },
    CliCommand {
        command: c"sticky show notices",
        summary: c"List pending and finished notices",
        usage: c"Usage: sticky show notices\n       Lists the notices SCHEDULE_NOTICE put in the outgoing spool (id, due\n       time, number, operator) and the last finished ones with their status\n       from outgoing_done (Completed, Expired, Failed).\n",
        handler: crate::notices::show_notices,
    },
    CliCommand {
        command: c"sticky notice cancel",
        summary: c"Cancel a pending notice",
        usage: c"Usage: sticky notice cancel <id>\n       Removes the notice's call file from the outgoing spool, so it never\n       rings, and its recording.\n",
        handler: crate::notices::cancel_notice,
    },
    CliCommand {
        command: c"sticky show mobile",
        summary: c"List mobile numbers logged into queues",
        usage: c"Usage: sticky show mobile\n       Lists the numbers MOBILE_AGENT logged into queues: queue, number,\n       member interface, since when, calls answered since the module loaded,\n       and those no longer allowed by sticky.conf.\n",
        handler: crate::mobiles::show_mobile,
    },
];

/// The running service for a command typed with `words` words in all
/// (a range when arguments are optional); the CLI's answer otherwise.
fn begin(context: &CliContext, words: std::ops::RangeInclusive<usize>) -> Result<std::sync::Arc<Service>, CliResult> {
    if !words.contains(&context.argv.len()) {
        return Err(CliResult::ShowUsage);
    }
    service::current().ok_or_else(|| {
        context.write("res_sticky is not running\n");
        CliResult::Failure
    })
}

fn show_status(context: &CliContext) -> CliResult {
    let service = match begin(context, 3..=3) {
        Ok(service) => service,
        Err(answer) => return answer,
    };
    let text = status::render(&service.config(), &service.connection_shown(), &service.node(), &service.snapshot());
    context.write(&text);
    CliResult::Success
}

/// `YYYY-MM-DD HH:MM:SS` in the server's time zone.
pub fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn describe(contact: &Option<Contact>) -> String {
    match contact {
        Some(c) => format!(
            "{} ({}), {}, {}, {}",
            c.agent.id,
            c.agent.interface,
            if c.direction == Direction::Inbound { "inbound" } else { "outbound" },
            c.disposition,
            local_time(c.started_at)
        ),
        None => "(none)".into(),
    }
}

/// As `begin`, for commands whose fourth word is a client number: the
/// service, its rules and the number's key.
fn begin_with_number(
    context: &CliContext,
    words: std::ops::RangeInclusive<usize>,
) -> Result<(std::sync::Arc<Service>, std::sync::Arc<Rules>, NumberKey), CliResult> {
    let service = begin(context, words)?;
    let rules = service.rules();
    let number = context.argv.get(3).ok_or(CliResult::ShowUsage)?;
    match rules.keys().key(number) {
        Ok(key) => Ok((service, rules, key)),
        Err(reason) => {
            context.write(&format!("'{}' is not a usable number: {reason}\n", shown(number)));
            Err(CliResult::Failure)
        }
    }
}

fn show_agent(context: &CliContext) -> CliResult {
    let (service, rules, key) = match begin_with_number(context, 4..=5) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    let general = &rules.config.general;
    let window = match context.argv.get(4) {
        Some(text) => match crate::routing::query::parse_window(text, general.window) {
            Ok(window) => window,
            Err(error) => {
                context.write(&format!("{error}\n"));
                return CliResult::ShowUsage;
            }
        },
        None => general.window,
    };
    let ask = |direction: Option<Direction>, first: bool| {
        service.history.lookup(&Lookup { key: key.clone(), window, filter: rules.filter(direction), first })
    };
    let mut out = format!("Number key {key}, window {}\n", crate::config::value::format_duration(window));
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
        let fill = |name: &str| contact.agent.template_value(name);
        let device = general.state_template.render(fill);
        let state = device_state(&device);
        let status = classify(state, &general.available_states);
        out.push_str(&format!("  {:<21} {device} is {state}\n", "Device state:"));
        out.push_str(&format!("  {:<21} {}", "STICKY_ROUTE:", status.as_str()));
        if status == crate::routing::decision::RouteStatus::Routed {
            out.push_str(&format!(" -> {}", general.dial_template.render(fill)));
        }
        out.push('\n');
    }
    context.write(&out);
    CliResult::Success
}

fn show_history(context: &CliContext) -> CliResult {
    let (service, _, key) = match begin_with_number(context, 4..=4) {
        Ok(begun) => begun,
        Err(answer) => return answer,
    };
    let (contacts, error) = service.history.contacts_of(&key, 50);
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
            local_time(c.started_at),
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

fn cache_flush(context: &CliContext) -> CliResult {
    let service = match begin(context, 3..=3) {
        Ok(service) => service,
        Err(answer) => return answer,
    };
    let flushed = service.history.flush_cache();
    context.write(&format!("Flushed {flushed} cached numbers\n"));
    verbose!(2, "res_sticky: cache flushed ({flushed} numbers)");
    CliResult::Success
}

fn import_cdr(context: &CliContext) -> CliResult {
    let days: i64 = match context.argv.get(3).map(|text| text.parse::<i64>()) {
        None => 1,
        Some(Ok(days)) if (1..=3650).contains(&days) => days,
        Some(_) => return CliResult::ShowUsage,
    };
    let service = match begin(context, 3..=4) {
        Ok(service) => service,
        Err(answer) => return answer,
    };
    let rules = service.rules();
    let general = &rules.config.general;
    let connection = match &general.import_dsn {
        Some(name) => dsn::connection_string(Some(name), &paths::db_dir()),
        None => rules.connection.clone(),
    };
    context.write(&format!("Importing {days} day(s) of cdr from {}...\n", dsn::redacted(&connection)));
    let started = std::time::Instant::now();
    let mut contacts = Vec::new();
    let since = now_ms() - days * 86_400_000;
    let result = read_cdr(&connection, general.import_query.as_deref(), since, &mut |record| {
        if let Some(contact) = rules.learn.contact(&record, &rules.node) {
            contacts.push(contact);
        }
    });
    match result {
        Ok(report) => {
            let imported = service.history.import(contacts);
            let written = service.history.wait_written(Duration::from_secs(120));
            let message = format!(
                "sticky import cdr: {} rows read, {imported} contacts imported{}{} in {:.1} s",
                report.rows,
                if report.unreadable > 0 {
                    format!(", {} rows with an unreadable calldate", report.unreadable)
                } else {
                    String::new()
                },
                if written { "" } else { " (still being written)" },
                started.elapsed().as_secs_f64()
            );
            context.write(&format!("{message}\n"));
            verbose!(2, "res_sticky: {message}");
            CliResult::Success
        }
        Err(error) => {
            context.write(&format!("sticky import cdr failed: {error}\n"));
            crate::log_warning!("res_sticky: sticky import cdr failed: {error}");
            CliResult::Failure
        }
    }
}

//! What Asterisk sees of res_sticky, declared in one place: the dialplan
//! functions and applications, the `sticky …` CLI commands, the CDR backend,
//! and what load, reload and unload do. One file per feature holds that
//! feature's dialplan face, CLI commands and state:
//!
//! - `routing`: LAST_AGENT, STICKY_ROUTE, learning from CDRs, the history commands
//! - `notice`: SCHEDULE_NOTICE and the notice commands
//! - `mobile`: MOBILE_AGENT and `sticky show mobile`
//! - `owners`: account owners set by a CRM (`sticky assign`, STICKY_ASSIGN)
//! - `status`: `sticky show status`
//! - `metrics`: every figure gathered, for the status and Asterisk's `/metrics`
//!
//! `running` is the configuration and history between load and unload;
//! `cli` and `caller` are what the features share. Nothing outside this
//! folder uses it: it is the top of the dependency graph.

mod actions;
mod caller;
mod cli;
mod metrics;
mod mobile;
mod notice;
mod owners;
mod queue;
mod routing;
mod running;
mod status;

use crate::asterisk::application::ApplicationDef;
use crate::asterisk::cli::CliCommand;
use crate::asterisk::function::FunctionDef;
use crate::asterisk::lifecycle::Surface;
use crate::asterisk::prometheus;
use crate::asterisk::stasis::{self, Subscription};
use crate::host::cdr::CdrRecord;
use crate::log_notice;
use parking_lot::Mutex;

/// res_sticky's whole surface.
pub static SURFACE: Surface = Surface {
    functions: FUNCTIONS,
    applications: APPLICATIONS,
    cli: CLI,
    actions: actions::ACTIONS,
    cdr: on_cdr,
    start,
    reload,
    stop,
    exit,
};

crate::declare_module!(SURFACE);

static FUNCTIONS: &[FunctionDef] = &[
    FunctionDef { name: c"LAST_AGENT", read: routing::last_agent },
    FunctionDef { name: c"STICKY_ROUTE", read: routing::sticky_route },
];

static APPLICATIONS: &[ApplicationDef] = &[
    ApplicationDef { name: c"SCHEDULE_NOTICE", execute: notice::schedule_notice },
    ApplicationDef { name: c"MOBILE_AGENT", execute: mobile::mobile_agent },
    ApplicationDef { name: c"STICKY_ASSIGN", execute: owners::sticky_assign },
];

static CLI: &[CliCommand] = &[
    CliCommand {
        command: c"sticky show status",
        summary: c"Show res_sticky's configuration and counters",
        usage: c"Usage: sticky show status\n       Shows the loaded sticky.conf, the history database and its pool,\n       the cache, lookup counts with their p50 / p99 time, contacts\n       learned and history writes still pending.\n",
        handler: status::show_status,
    },
    CliCommand {
        command: c"sticky show agent",
        summary: c"Show the sticky agent of a client number",
        usage: c"Usage: sticky show agent <number> [window [scope]]\n       Shows the last agent (either direction, inbound, outbound), the first\n       agent within the window (default: window from sticky.conf; in one\n       scope if given), the agent's device state and what STICKY_ROUTE\n       would answer.\n",
        handler: routing::show_agent,
    },
    CliCommand {
        command: c"sticky show history",
        summary: c"Show the contacts of a client number",
        usage: c"Usage: sticky show history <number>\n       Lists the stored and cached contacts of a number, newest first\n       (at most 50).\n",
        handler: routing::show_history,
    },
    CliCommand {
        command: c"sticky cache flush",
        summary: c"Empty res_sticky's in-process cache",
        usage: c"Usage: sticky cache flush\n       Forgets every cached number; the next lookup of each reads the\n       history database again.\n",
        handler: routing::cache_flush,
    },
    CliCommand {
        command: c"sticky show stats",
        summary: c"Show STICKY_ROUTE's decisions and outcomes per scope",
        usage: c"Usage: sticky show stats\n       Per scope, for the last hour and the last 24 hours: STICKY_ROUTE's\n       decisions by status, the routed calls the sticky agent answered (the\n       success rate), and the fallbacks (every call that took the usual\n       path). Kept in memory since the module loaded.\n",
        handler: routing::show_stats,
    },
    CliCommand {
        command: c"sticky forget",
        summary: c"Erase a client's contact history",
        usage: c"Usage: sticky forget <number>\n       Erases every contact of the number from the history database, this\n       server's cache and journal, and (within sync_interval) the cache of\n       every server sharing the database. Logged without the number.\n",
        handler: routing::forget,
    },
    CliCommand {
        command: c"sticky assign",
        summary: c"Set the account owner of a client number",
        usage: c"Usage: sticky assign <number> <interface> [scope]\n       Makes the agent of <interface> (as the history stores agents:\n       PJSIP/102, Local/102@agents) the number's owner, in one scope if\n       given. STICKY_ROUTE and LAST_AGENT with option a prefer the owner\n       to the history. Stored in the history database: every server\n       sharing it follows within its sync_interval. sticky forget removes\n       it with the contacts.\n",
        handler: owners::assign_cli,
    },
    CliCommand {
        command: c"sticky unassign",
        summary: c"Remove the account owner of a client number",
        usage: c"Usage: sticky unassign <number> [scope]\n       Removes the owner sticky assign set for the number (in that scope;\n       without one, the owner for every scope). The history's agents\n       route the number again.\n",
        handler: owners::assign_cli,
    },
    CliCommand {
        command: c"sticky import cdr",
        summary: c"Back-fill contact history from the cdr table",
        usage: c"Usage: sticky import cdr [days]\n       Reads the cdr table (import_dsn, default: dsn) for the last <days>\n       (default 1) and stores every call that links a client number and an\n       agent as a contact. The default query reads the FreePBX /\n       cdr_adaptive_odbc layout; set import_query for another.\n",
        handler: routing::import_cdr,
    },
    CliCommand {
        command: c"sticky show notices",
        summary: c"List pending and finished notices",
        usage: c"Usage: sticky show notices\n       Lists the notices SCHEDULE_NOTICE put in the outgoing spool (id, due\n       time, number, operator) and the last finished ones with their status\n       from outgoing_done (Completed, Expired, Failed).\n",
        handler: notice::show_notices,
    },
    CliCommand {
        command: c"sticky notice cancel",
        summary: c"Cancel a pending notice",
        usage: c"Usage: sticky notice cancel <id>\n       Removes the notice's call file from the outgoing spool, so it never\n       rings, and its recording.\n",
        handler: notice::cancel_notice,
    },
    CliCommand {
        command: c"sticky show mobile",
        summary: c"List mobile numbers logged into queues",
        usage: c"Usage: sticky show mobile\n       Lists the numbers MOBILE_AGENT logged into queues: queue, number,\n       member interface, since when, calls answered since the module loaded,\n       and those no longer allowed by sticky.conf.\n",
        handler: mobile::show_mobile,
    },
];

/// Every finished CDR: a contact to learn, or a call a mobile member took.
fn on_cdr(record: CdrRecord) {
    mobile::count_call(&record);
    routing::learn(&record);
}

/// What the module follows on Asterisk's message bus while it runs.
static SUBSCRIPTIONS: Mutex<Vec<Subscription>> = Mutex::new(Vec::new());

/// Load: reads sticky.conf and starts the history; the spool's leftovers
/// are cleaned, mobile members found again, and device states (for callers
/// waiting for an agent) and STICKY_SCOPE (for the scope of contacts)
/// followed.
fn start() -> Result<(), String> {
    let (config, source) = running::read_config()?;
    running::start(config, source)?;
    let followed = stasis::device_states(routing::device_changed).and_then(|states| {
        Ok(vec![
            states,
            stasis::variables_set(crate::routing::scope::is_scope_variable, routing::variable_set)?,
            // res_prometheus loaded, unloaded or reloaded later.
            stasis::module_events(prometheus::module_event)?,
        ])
    });
    match followed {
        Ok(subscriptions) => *SUBSCRIPTIONS.lock() = subscriptions,
        Err(error) => {
            running::stop();
            return Err(error);
        }
    }
    let stale = notice::spool().clean_staging();
    if stale > 0 {
        log_notice!("res_sticky: removed {stale} unfinished call file(s) from the notice staging directory");
    }
    mobile::track_logged_in();
    prometheus::start(metrics::scrape);
    Ok(())
}

/// `module reload res_sticky.so`: a new configuration, checked before it
/// replaces the running one.
fn reload() -> Result<(), String> {
    let (config, source) = running::read_config()?;
    running::apply(config, source)
}

fn stop() {
    // Unsubscribing waits for the last message (never from a callback).
    let subscriptions = std::mem::take(&mut *SUBSCRIPTIONS.lock());
    drop(subscriptions);
    // After it, no scrape calls in.
    prometheus::stop();
    running::stop();
}

fn exit() {
    running::exit();
}

//! The `sticky …` CLI commands.

use crate::asterisk::cli::{CliCommand, CliContext, CliResult};
use crate::service;
use crate::status;

pub static CLI_COMMANDS: &[CliCommand] = &[CliCommand {
    command: c"sticky show status",
    summary: c"Show res_sticky's configuration and counters",
    usage: c"Usage: sticky show status\n       Shows the loaded sticky.conf, the history database and its pool,\n       the cache, lookup counts with their p50 / p99 time, contacts\n       learned and history writes still pending.\n",
    handler: show_status,
}];

fn show_status(context: &CliContext) -> CliResult {
    if context.argv.len() != 3 {
        return CliResult::ShowUsage;
    }
    let Some(service) = service::current() else {
        context.write("res_sticky is not running\n");
        return CliResult::Failure;
    };
    let text = status::render(&service.config(), &service.connection_shown(), &service.node(), &service.snapshot());
    context.write(&text);
    CliResult::Success
}

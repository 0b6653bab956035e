//! `sticky show status`.

use super::cli::begin;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::history::status::render;

/// `sticky show status`.
pub(super) fn show_status(context: &CliContext) -> CliResult {
    let running = match begin(context, 3..=3) {
        Ok(running) => running,
        Err(answer) => return answer,
    };
    let text = render(&running.config(), &running.connection_shown(), &running.node(), &running.snapshot());
    context.write(&text);
    CliResult::Success
}

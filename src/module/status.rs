//! `sticky show status`: the figures `/metrics` exports too, gathered in
//! one place (`metrics::gather`), laid out for a console.

use super::cli::begin;
use super::metrics;
use crate::asterisk::cli::{CliContext, CliResult};
use crate::history::status::render;

/// `sticky show status`.
pub(super) fn show_status(context: &CliContext) -> CliResult {
    let running = match begin(context, 3..=3) {
        Ok(running) => running,
        Err(answer) => return answer,
    };
    let figures = metrics::gather(&running);
    let mut text = render(&running.config(), &running.connection_shown(), &running.node(), &figures.status);
    text.push_str(&crate::metrics::summary(&figures, metrics::last_scrape()));
    context.write(&text);
    CliResult::Success
}

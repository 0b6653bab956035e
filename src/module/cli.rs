//! What the `sticky …` commands share: checking the words typed and finding
//! the running module and the number asked about.

use std::ops::RangeInclusive;
use std::sync::Arc;

use super::running::{self, Rules, Running};
use crate::asterisk::cli::{CliContext, CliResult};
use crate::routing::number::NumberKey;
use crate::text::shown;

/// The running module for a command typed with `words` words in all (a
/// range when arguments are optional); the CLI's answer otherwise.
pub fn begin(context: &CliContext, words: RangeInclusive<usize>) -> Result<Arc<Running>, CliResult> {
    if !words.contains(&context.argv.len()) {
        return Err(CliResult::ShowUsage);
    }
    running::current().ok_or_else(|| {
        context.write("res_sticky is not running\n");
        CliResult::Failure
    })
}

/// As [`begin`], for commands whose fourth word (the third for `sticky
/// forget`) is a client number: the running module, its rules and the
/// number's key.
pub fn begin_with_number(
    context: &CliContext,
    words: RangeInclusive<usize>,
) -> Result<(Arc<Running>, Arc<Rules>, NumberKey), CliResult> {
    let running = begin(context, words)?;
    let rules = running.rules();
    let verb = |word: &String| ["forget", "assign", "unassign"].contains(&word.as_str());
    let at = if context.argv.get(1).is_some_and(verb) { 2 } else { 3 };
    let number = context.argv.get(at).ok_or(CliResult::ShowUsage)?;
    match rules.keys().key(number) {
        Ok(key) => Ok((running, rules, key)),
        Err(reason) => {
            context.write(&format!("'{}' is not a usable number: {reason}\n", shown(number)));
            Err(CliResult::Failure)
        }
    }
}

//! Logging for all of the crate. Domain code logs through these macros; the
//! Asterisk layer installs the sink that forwards to Asterisk's logger at
//! load. Without a sink (unit tests) messages go to standard error.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Notice,
    Warning,
    Error,
    /// A verbose message shown at this console verbosity.
    Verbose(i32),
}

/// Caller-controlled text made safe for a log line: escaped, at most 40
/// characters.
pub fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect::<String>().escape_debug().to_string();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    shown
}

pub type Sink = fn(Severity, &str, u32, &str, &str);

static SINK: OnceLock<Sink> = OnceLock::new();

pub fn install(sink: Sink) {
    let _ = SINK.set(sink);
}

pub fn emit(severity: Severity, file: &str, line: u32, function: &str, message: &str) {
    match SINK.get() {
        Some(sink) => sink(severity, file, line, function, message),
        None => eprintln!("{severity:?} {file}:{line}: {message}"),
    }
}

#[macro_export]
macro_rules! log_at {
    ($severity:expr, $($arg:tt)*) => {
        $crate::report::emit($severity, file!(), line!(), module_path!(), &format!($($arg)*))
    };
}

#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log_at!($crate::report::Severity::Error, $($arg)*) };
}

#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => { $crate::log_at!($crate::report::Severity::Warning, $($arg)*) };
}

#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)*) => { $crate::log_at!($crate::report::Severity::Notice, $($arg)*) };
}

/// `ast_verb(level, ...)`.
#[macro_export]
macro_rules! verbose {
    ($level:expr, $($arg:tt)*) => { $crate::log_at!($crate::report::Severity::Verbose($level), $($arg)*) };
}

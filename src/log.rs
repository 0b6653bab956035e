//! Logging for all of the crate. Every layer logs through these macros; the
//! Asterisk layer installs the sink that forwards to Asterisk's logger at
//! load. Without a sink (unit tests) messages go to standard error.

use once_cell::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Notice,
    Warning,
    Error,
    /// A verbose message shown at this console verbosity.
    Verbose(i32),
}

pub type Sink = fn(Severity, &str, u32, &str, &str);

static SINK: OnceCell<Sink> = OnceCell::new();

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
        $crate::log::emit($severity, file!(), line!(), module_path!(), &format!($($arg)*))
    };
}

#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Severity::Error, $($arg)*) };
}

#[macro_export]
macro_rules! log_warning {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Severity::Warning, $($arg)*) };
}

#[macro_export]
macro_rules! log_notice {
    ($($arg:tt)*) => { $crate::log_at!($crate::log::Severity::Notice, $($arg)*) };
}

/// `ast_verb(level, ...)`.
#[macro_export]
macro_rules! verbose {
    ($level:expr, $($arg:tt)*) => { $crate::log_at!($crate::log::Severity::Verbose($level), $($arg)*) };
}

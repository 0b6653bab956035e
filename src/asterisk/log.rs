//! Logging into Asterisk's logger. The message always travels as the
//! argument of a `"%s"` format (in the shim), never as a format itself.

use crate::sys;

/// The levels of `ast_log` the module writes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `LOG_NOTICE`.
    Notice,
    /// `LOG_WARNING`.
    Warning,
    /// `LOG_ERROR`.
    Error,
}

impl Level {
    /// The level's number for `ast_log`.
    fn code(self) -> i32 {
        (match self {
            Level::Notice => sys::__LOG_NOTICE,
            Level::Warning => sys::__LOG_WARNING,
            Level::Error => sys::__LOG_ERROR,
        }) as i32
    }
}

/// Asterisk's logger expects each message to end its line.
fn with_newline(message: &str) -> String {
    let mut text = message.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The sink the crate's log macros forward to once the module is loaded.
pub fn sink(severity: crate::log::Severity, file: &str, line: u32, function: &str, message: &str) {
    use crate::log::Severity;
    match severity {
        Severity::Notice => write(Level::Notice, file, line, function, message),
        Severity::Warning => write(Level::Warning, file, line, function, message),
        Severity::Error => write(Level::Error, file, line, function, message),
        Severity::Verbose(level) => verbose(level, file, line, function, message),
    }
}

/// Logs `message` at `level`, attributed to `file:line` in `function`.
pub fn write(level: Level, file: &str, line: u32, function: &str, message: &str) {
    let file = super::c_string(file);
    let function = super::c_string(function);
    let message = super::c_string(&with_newline(message));
    // SAFETY: all three are valid NUL-terminated strings for the whole call;
    // the shim passes `message` as the argument of a "%s" format.
    unsafe {
        sys::rs_sticky_shim_log(level.code(), file.as_ptr(), line as i32, function.as_ptr(), message.as_ptr());
    }
}

/// A verbose message, shown when the console's verbosity reaches `level`.
pub fn verbose(level: i32, file: &str, line: u32, function: &str, message: &str) {
    let file = super::c_string(file);
    let function = super::c_string(function);
    let message = super::c_string(&with_newline(message));
    // SAFETY: as in `write`; the shim checks the verbosity itself.
    unsafe {
        sys::rs_sticky_shim_verbose(level, file.as_ptr(), line as i32, function.as_ptr(), message.as_ptr());
    }
}

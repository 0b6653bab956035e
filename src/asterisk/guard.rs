//! The one guard every `extern "C"` entry point runs through: a panic is
//! caught here, logged through Asterisk's logger, and turned into the host's
//! error code. A panic never unwinds into Asterisk's C frames.

use std::panic::{self, AssertUnwindSafe};

use once_cell::sync::OnceCell;

use super::log::{self, Level};

/// Runs `body`; if it panics, logs which entry point failed and returns `on_panic`.
pub fn guard<R>(entry: &str, on_panic: R, body: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            crate::log_error!("{entry}: internal error (reported above); answered with the error result");
            on_panic
        }
    }
}

/// Routes panic messages into Asterisk's log instead of stderr, which a
/// daemonised Asterisk has closed. Installed once, at load.
pub fn install_panic_hook() {
    static INSTALLED: OnceCell<()> = OnceCell::new();
    INSTALLED.get_or_init(|| {
        crate::log::install(log::sink);
        panic::set_hook(Box::new(|info| {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let (file, line) = info.location().map(|l| (l.file(), l.line())).unwrap_or(("?", 0));
            let thread = std::thread::current();
            let message = format!(
                "res_sticky panicked in thread '{}': {payload} ({file}:{line})",
                thread.name().unwrap_or("asterisk")
            );
            log::write(Level::Error, file, line, "panic", &message);
        }));
    });
}

//! CLI commands. The table of commands is Rust data; the shim allocates one
//! `ast_cli_entry` per command (fixed address while registered) and hands
//! every call back to [`rs_sticky_cli_dispatch`] with the command's index.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::{self, NonNull};

use once_cell::sync::OnceCell;

use super::guard::guard;
use crate::sys;

/// What a handler tells Asterisk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliResult {
    /// The command ran.
    Success,
    /// The words were wrong: Asterisk prints the usage.
    ShowUsage,
    /// The command failed (it said why).
    Failure,
}

/// One `sticky …` command.
pub struct CliCommand {
    /// The words, e.g. `c"sticky show status"`.
    pub command: &'static CStr,
    /// One line for `help` (under 60 characters).
    pub summary: &'static CStr,
    /// The full `Usage:` text.
    pub usage: &'static CStr,
    /// Runs the command.
    pub handler: fn(&CliContext) -> CliResult,
}

/// The arguments of one invocation and the console to write to.
pub struct CliContext {
    /// The console's descriptor.
    fd: c_int,
    /// Every word typed, the command's own words included.
    pub argv: Vec<String>,
}

impl CliContext {
    /// Writes `text` to the console that typed the command.
    pub fn write(&self, text: &str) {
        let text = super::c_string(text);
        // SAFETY: `fd` is the console Asterisk handed to this invocation; the
        // shim prints `text` through a "%s" format.
        unsafe { sys::rs_sticky_shim_cli_write(self.fd, text.as_ptr()) }
    }
}

/// The registered table; the shim's entries carry their index into it.
static COMMANDS: OnceCell<&'static [CliCommand]> = OnceCell::new();

/// Owns the registered entries; unregisters them when dropped.
pub struct CliRegistration {
    /// The entries the shim allocated, to unregister.
    entries: Vec<NonNull<sys::ast_cli_entry>>,
}

// SAFETY: the entries are only touched through Asterisk's CLI API, which
// locks its own list; the pointers themselves are plain addresses.
unsafe impl Send for CliRegistration {}
// SAFETY: as for Send: Asterisk's CLI API does its own locking.
unsafe impl Sync for CliRegistration {}

/// Registers `commands`. The table is fixed for the life of the process (the
/// module is pinned in memory), so a second call must pass the same table.
pub fn register(commands: &'static [CliCommand]) -> Result<CliRegistration, String> {
    let table = COMMANDS.get_or_init(|| commands);
    if !ptr::eq(*table, commands) {
        return Err("the CLI table cannot change while Asterisk runs".into());
    }
    let mut registration = CliRegistration { entries: Vec::new() };
    for (index, command) in commands.iter().enumerate() {
        // SAFETY: `summary` is a 'static string; the shim copies the entry
        // template into memory it owns and registers it with this module.
        let entry = unsafe { sys::rs_sticky_shim_cli_register(command.summary.as_ptr(), index as c_int) };
        match NonNull::new(entry) {
            Some(entry) => registration.entries.push(entry),
            None => return Err(format!("could not register CLI command '{}'", command.command.to_string_lossy())),
        }
    }
    Ok(registration)
}

impl Drop for CliRegistration {
    fn drop(&mut self) {
        for entry in self.entries.drain(..) {
            // SAFETY: each entry was registered by `register` and is
            // unregistered once; the shim never frees it (a command running
            // on another console may still hold it).
            unsafe { sys::rs_sticky_shim_cli_unregister(entry.as_ptr()) }
        }
    }
}

/// `CLI_SUCCESS`: a NULL result.
const CLI_SUCCESS: *mut c_char = ptr::null_mut();
// CLI_SHOWUSAGE and CLI_FAILURE are the small integers 1 and 2 cast to pointers.
/// `CLI_SHOWUSAGE`.
const CLI_SHOWUSAGE: *mut c_char = ptr::without_provenance_mut(1);
/// `CLI_FAILURE`.
const CLI_FAILURE: *mut c_char = ptr::without_provenance_mut(2);

/// Called by the shim for `CLI_INIT`, `CLI_GENERATE` and `CLI_HANDLER`.
#[no_mangle]
pub extern "C" fn rs_sticky_cli_dispatch(
    index: c_int,
    entry: *mut sys::ast_cli_entry,
    cmd: c_int,
    args: *mut sys::ast_cli_args,
) -> *mut c_char {
    guard("CLI command", CLI_FAILURE, || {
        let Some(command) = COMMANDS.get().and_then(|table| table.get(index as usize)) else {
            return CLI_FAILURE;
        };
        match cmd {
            sys::CLI_INIT => {
                // SAFETY: `entry` is the live entry being initialised; the
                // strings are 'static.
                unsafe { sys::rs_sticky_shim_cli_set_command(entry, command.command.as_ptr(), command.usage.as_ptr()) };
                ptr::null_mut()
            }
            sys::CLI_GENERATE => ptr::null_mut(),
            _ => {
                if args.is_null() {
                    return CLI_FAILURE;
                }
                // SAFETY: Asterisk passes valid args for CLI_HANDLER; argv has
                // argc NUL-terminated words, all lent for this call only.
                let context = unsafe {
                    let args = &*args;
                    let argv = (0..args.argc.max(0) as usize)
                        .map(|i| super::string_from(*args.argv.add(i)).unwrap_or_default())
                        .collect();
                    CliContext { fd: args.fd, argv }
                };
                match (command.handler)(&context) {
                    CliResult::Success => CLI_SUCCESS,
                    CliResult::ShowUsage => CLI_SHOWUSAGE,
                    CliResult::Failure => CLI_FAILURE,
                }
            }
        }
    })
}

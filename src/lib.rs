//! res_sticky: sticky call routing, scheduled voice notices and mobile queue
//! agents for Asterisk 22.
//!
//! The crate is one Asterisk module. `asterisk` is the only place with
//! `unsafe`; every other module is plain Rust, unit-tested without Asterisk.
//! This file wires them together at load, reload and unload.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod config;
pub mod dialog;
pub mod history;
pub mod mobile;
pub mod notice;
pub mod report;
pub mod routing;
pub mod status;

#[cfg(feature = "module")]
mod asterisk;
#[cfg(feature = "module")]
mod commands;
#[cfg(feature = "module")]
mod functions;
#[cfg(feature = "module")]
mod mobiles;
#[cfg(feature = "module")]
mod notices;
#[cfg(feature = "module")]
mod service;
#[cfg(feature = "module")]
mod sys;

#[cfg(feature = "module")]
use parking_lot::Mutex;

/// What load registered, dropped (and so unregistered) at unload.
#[cfg(feature = "module")]
struct Registrations {
    _cli: asterisk::cli::CliRegistration,
    _functions: asterisk::function::FunctionRegistration,
    _applications: asterisk::application::ApplicationRegistration,
    _cdr: asterisk::cdr::CdrRegistration,
}

#[cfg(feature = "module")]
static APPLICATIONS: &[asterisk::application::ApplicationDef] = &[
    asterisk::application::ApplicationDef { name: c"SCHEDULE_NOTICE", execute: notices::schedule_notice },
    asterisk::application::ApplicationDef { name: c"MOBILE_AGENT", execute: mobiles::mobile_agent },
];

#[cfg(feature = "module")]
static REGISTRATIONS: Mutex<Option<Registrations>> = Mutex::new(None);

#[cfg(feature = "module")]
fn load() -> Result<(), String> {
    let (config, source) = service::read_config()?;
    service::start(config, source)?;
    let registrations = (|| {
        Ok::<_, String>(Registrations {
            _cdr: asterisk::cdr::register(service::on_cdr)?,
            _functions: asterisk::function::register(functions::FUNCTIONS)?,
            _applications: asterisk::application::register(APPLICATIONS)?,
            _cli: asterisk::cli::register(commands::CLI_COMMANDS)?,
        })
    })()
    .inspect_err(|_| service::stop())?;
    *REGISTRATIONS.lock() = Some(registrations);
    verbose!(2, "res_sticky loaded ({})", service::describe());
    Ok(())
}

#[cfg(feature = "module")]
fn reload() -> Result<(), String> {
    let (config, source) = service::read_config()?;
    service::apply(config, source)
}

#[cfg(feature = "module")]
fn unload() {
    // Unregister first so that no new call enters, then stop the workers.
    REGISTRATIONS.lock().take();
    service::stop();
    verbose!(2, "res_sticky unloaded");
}

//! res_sticky: sticky call routing, scheduled voice notices and mobile queue
//! agents for Asterisk 22, as one loadable module.
//!
//! The crate is cut in three layers, and dependencies run downwards only:
//!
//! - `module`: what Asterisk sees (functions, applications, CLI, CDR backend,
//!   load / reload / unload), one file per feature. Nothing imports it.
//! - `routing`, `history`, `notice`, `mobile`, `config`: what the features do,
//!   in plain Rust without Asterisk, unit-tested through small traits, with
//!   the small shared pieces `caller`, `template`, `text`, `time` and `log`.
//! - `asterisk`: the thin safe layer over Asterisk's C API (the only place
//!   with `unsafe`, besides the raw bindings in `sys`), knowing no feature. It
//!   hands Asterisk's values over as the plain types of `host`.
//! - `host`: Asterisk's vocabulary in plain Rust (directions, dispositions,
//!   device states, a CDR's fields, a config file's raw sections), beneath
//!   both the safe layer and the features; it imports nothing of the crate.
//!
//! Without the `module` feature only the middle layer is built, so its unit
//! tests link as an ordinary program (the shim's constructor calls into
//! Asterisk and cannot run outside it).

// Without the module, whatever only the module calls is unused.
#![cfg_attr(not(feature = "module"), allow(dead_code))]

mod caller;
mod config;
mod history;
mod host;
mod log;
mod metrics;
mod mobile;
mod notice;
mod routing;
mod template;
mod text;
mod time;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "module")]
mod asterisk;
#[cfg(feature = "module")]
mod module;
#[cfg(feature = "module")]
mod sys;

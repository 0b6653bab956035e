//! Asterisk's vocabulary in plain Rust, beneath both the safe layer
//! (`asterisk`, which hands these values up) and the features (which
//! convert from them): call directions, CDR dispositions and device states
//! with Asterisk's spellings, a finished CDR's fields, and a configuration
//! file's raw sections. No `unsafe`, no FFI types, nothing of res_sticky's
//! own: it depends on nothing else in the crate.
#![forbid(unsafe_code)]

pub mod cdr;
pub mod config;
pub mod vocabulary;

//! Sticky routing: who last talked to a client, and whether to ring them.
#![forbid(unsafe_code)]

pub mod vocabulary;

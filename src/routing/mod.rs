//! Sticky routing: who last talked to a client, and whether to ring them.

pub mod agent;
pub mod contact;
pub mod decision;
pub mod number;
pub mod query;
pub mod queue;
pub mod scope;
pub mod stats;
pub mod totals;
pub mod waiting;

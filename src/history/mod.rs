//! Contact history: learned live from CDRs, kept in an in-process cache,
//! written to the store in the background and read from it — with a deadline
//! — on a cache miss. This file is the face ([`History`] and its settings);
//! the work is done in:
//!
//! - `learn`: a contact into the cache, the journal and the pending writes
//! - `lookup`: a question answered from the cache or a store read in time
//! - `forget`: `sticky forget`'s notes, applied on every server
//! - `owners`: account owners set by a CRM (`sticky assign`)
//! - `lifecycle`: start, reconfigure, stop; `snapshot`: the figures
//! - `shared`: what every history thread shares; `workers`: those threads
//!   (the writer, store workers, the sync poller, the pruner)
//! - `journal/`: the durable journal; `store`, `odbc`, `pool`, `schema`: the
//!   store and its ODBC implementation; `heal`: dropped tables made again;
//!   `cache`, `pending`, `breaker`, `latency`, `import`, `status`: one job
//!   each, as named

pub mod breaker;
pub mod cache;
mod forget;
mod gaps;
mod heal;
pub mod import;
pub mod journal;
pub mod latency;
mod learn;
mod lifecycle;
mod lookup;
pub mod odbc;
pub mod owners;
pub mod pending;
mod pool;
pub mod schema;
mod shared;
mod snapshot;
pub mod status;
pub mod store;
mod workers;

#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use self::journal::Journal;
use self::store::Store;
use self::workers::{Backend, Crew};
use crate::routing::agent::AgentRule;

// Without the module nothing outside the history asks it a question.
#[cfg_attr(not(feature = "module"), allow(unused_imports))]
pub use self::lookup::{here, Away, Lookup, LookupError};
pub use self::shared::{Counters, Shared};
pub use self::snapshot::Snapshot;

/// Contacts kept in memory for writing while the database is away (about
/// 300 bytes each); past it they wait in the journal only.
pub const MAX_PENDING: usize = 500_000;
/// How many rows a lookup reads past what the cache keeps of a number.
pub const OLDEST_LIMIT: usize = 1000;

/// The part of sticky.conf the history needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window: Duration,
    pub query_timeout: Duration,
    pub pool_size: u32,
    pub cache_size: usize,
    pub sync_interval: Option<Duration>,
    pub node: Arc<str>,
    /// Which agents a contact read back (store, journal) may name.
    pub agents: AgentRule,
    /// Contacts older than this are pruned; `None`: kept.
    pub retention: Option<Duration>,
}

pub struct History {
    shared: Arc<Shared>,
    settings: RwLock<Settings>,
    backend: RwLock<Arc<Backend>>,
    store: RwLock<Arc<dyn Store>>,
    journal: Arc<Journal>,
    /// The journal's commit thread.
    committer: Crew,
    /// Backends replaced by a reload, being shut down.
    retiring: Crew,
    /// Set by stop: nothing starts again.
    stopped: AtomicBool,
}

//! A finished call's record as the CDR engine hands it over: the fields
//! learning and mobile members read, in plain Rust.

use std::sync::Arc;

use super::vocabulary::Disposition;

/// The fields of a finished CDR that learning reads, copied out of Asterisk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrRecord {
    pub src: String,
    pub dst: String,
    pub channel: String,
    pub dstchannel: String,
    pub disposition: Option<Disposition>,
    pub start_ms: i64,
    pub uniqueid: String,
    pub sequence: i64,
    /// Set for records imported from a `cdr` table, whose rows have no
    /// sequence number; live records derive theirs from uniqueid and sequence.
    pub call_id: Option<String>,
    /// The id all channels of one call share.
    pub linkedid: String,
    /// The last application of party A and its data (`Queue`, `support,t`).
    pub lastapp: String,
    pub lastdata: String,
    /// The call's scope (`STICKY_SCOPE`), when the module saw it set.
    pub scope: Option<Arc<str>>,
}

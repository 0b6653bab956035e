//! The history's tables in their SQL dialects, and their versions.
//!
//! - `sticky_history`: one row per contact (version 1 had no `scope`).
//! - `sticky_forget`: numbers forgotten (`sticky forget`), for a short while,
//!   so that every server sharing the database drops them from its cache.
//! - `sticky_owner`: account owners set by a CRM (`sticky assign`), one row
//!   per number and scope: the newest change (an empty agent: removed).
//!   Added within version 2: a module that does not know it leaves it alone.
//! - `sticky_schema`: the version of the layout. A newer module upgrades an
//!   older layout in place; a module meeting a newer version than it knows
//!   refuses to use the tables instead of misreading them.

use std::time::Duration;

use odbc_api::{Connection, Cursor};

use super::pool::terminated;
use super::store::StoreError;

/// The layout this module reads and writes.
pub const VERSION: i64 = 2;

/// The columns of a contact, in the order statements use them.
pub const COLUMNS: &str =
    "number_key, agent_id, agent_interface, direction, disposition, started_at, node, call_id, client_number, scope";
/// How many they are.
pub const COLUMN_COUNT: usize = 10;

/// The columns of an owner row, in the order statements use them.
pub const OWNER_COLUMNS: &str = "number_key, scope, agent_id, agent_interface, assigned_at, node";
const OWNER_COLUMNS_WITH_ID: &str = "id, number_key, scope, agent_id, agent_interface, assigned_at, node";

/// The SQL dialects the tables are created and written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
    /// Anything else: portable SQL, duplicates detected by SQLSTATE.
    Generic,
}

impl Dialect {
    pub fn from_dbms_name(name: &str) -> Dialect {
        let name = name.to_ascii_lowercase();
        if name.contains("sqlite") {
            Dialect::Sqlite
        } else if name.contains("postgres") {
            Dialect::Postgres
        } else if name.contains("mysql") || name.contains("mariadb") {
            Dialect::MySql
        } else {
            Dialect::Generic
        }
    }

    fn id_column(self) -> &'static str {
        match self {
            Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
            Dialect::MySql => "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            Dialect::Generic => "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        }
    }

    fn if_not_exists(self) -> &'static str {
        match self {
            Dialect::Generic => "",
            _ => "IF NOT EXISTS ",
        }
    }

    /// `sticky_history` of the current layout, with its indexes.
    pub fn create_history(self) -> Vec<String> {
        const COLUMNS: &str = "number_key VARCHAR(20) NOT NULL, agent_id VARCHAR(120) NOT NULL, \
             agent_interface VARCHAR(120) NOT NULL, direction VARCHAR(3) NOT NULL, \
             disposition VARCHAR(16) NOT NULL, started_at BIGINT NOT NULL, \
             node VARCHAR(64) NOT NULL, call_id VARCHAR(190) NOT NULL, client_number VARCHAR(24) NOT NULL, \
             scope VARCHAR(40) NOT NULL DEFAULT ''";
        const INDEXES: [(&str, &str, &str); 4] = [
            ("", "sticky_history_number", "number_key, started_at"),
            ("UNIQUE ", "sticky_history_call", "call_id"),
            ("", "sticky_history_agent", "agent_id, started_at"),
            ("", "sticky_history_started", "started_at"),
        ];
        let id = self.id_column();
        if self == Dialect::MySql {
            // MySQL has no CREATE INDEX IF NOT EXISTS: the indexes go inline.
            let inline: Vec<String> =
                INDEXES.iter().map(|(unique, name, columns)| format!("{unique}INDEX {name} ({columns})")).collect();
            return vec![format!(
                "CREATE TABLE IF NOT EXISTS sticky_history ({id}, {COLUMNS}, {}) CHARACTER SET utf8mb4",
                inline.join(", ")
            )];
        }
        let maybe = self.if_not_exists();
        let mut statements = vec![format!("CREATE TABLE {maybe}sticky_history ({id}, {COLUMNS})")];
        for (unique, name, columns) in INDEXES {
            statements.push(format!("CREATE {unique}INDEX {maybe}{name} ON sticky_history ({columns})"));
        }
        statements
    }

    /// Version 1 → 2: the scope column…
    const ADD_SCOPE: &'static str = "ALTER TABLE sticky_history ADD COLUMN scope VARCHAR(40) NOT NULL DEFAULT ''";

    /// …and an index for pruning by age.
    fn started_index(self) -> String {
        let maybe = if self == Dialect::MySql { "" } else { self.if_not_exists() };
        format!("CREATE INDEX {maybe}sticky_history_started ON sticky_history (started_at)")
    }

    /// `sticky_forget`.
    fn create_forget(self) -> String {
        let extra = if self == Dialect::MySql { " CHARACTER SET utf8mb4" } else { "" };
        format!(
            "CREATE TABLE {}sticky_forget ({}, number_key VARCHAR(20) NOT NULL, forgotten_at BIGINT NOT NULL){extra}",
            self.if_not_exists(),
            self.id_column()
        )
    }

    /// `sticky_owner`, with the index its changes are looked up by.
    fn create_owner(self) -> Vec<String> {
        const COLUMNS: &str = "number_key VARCHAR(20) NOT NULL, scope VARCHAR(40) NOT NULL DEFAULT '', \
             agent_id VARCHAR(120) NOT NULL, agent_interface VARCHAR(120) NOT NULL, assigned_at BIGINT NOT NULL, \
             node VARCHAR(64) NOT NULL";
        let (id, maybe) = (self.id_column(), self.if_not_exists());
        if self == Dialect::MySql {
            return vec![format!(
                "CREATE TABLE IF NOT EXISTS sticky_owner ({id}, {COLUMNS}, UNIQUE INDEX sticky_owner_number \
                 (number_key, scope)) CHARACTER SET utf8mb4"
            )];
        }
        vec![
            format!("CREATE TABLE {maybe}sticky_owner ({id}, {COLUMNS})"),
            format!("CREATE UNIQUE INDEX {maybe}sticky_owner_number ON sticky_owner (number_key, scope)"),
        ]
    }

    fn create_version(self) -> String {
        format!("CREATE TABLE {}sticky_schema (version INTEGER NOT NULL)", self.if_not_exists())
    }

    /// The insert of `rows` contacts that skips any whose call id is already
    /// stored (the generic dialect: one row, duplicates seen by SQLSTATE).
    pub fn insert(self, rows: usize) -> String {
        let (verb, tail) = match self {
            Dialect::Sqlite => ("INSERT OR IGNORE INTO", ""),
            Dialect::Postgres => ("INSERT INTO", " ON CONFLICT (call_id) DO NOTHING"),
            Dialect::MySql => ("INSERT IGNORE INTO", ""),
            Dialect::Generic => ("INSERT INTO", ""),
        };
        let row = format!("({})", ["?"; COLUMN_COUNT].join(", "));
        let values = vec![row; rows.max(1)].join(", ");
        format!("{verb} sticky_history ({COLUMNS}) VALUES {values}{tail}")
    }

    /// Contacts one insert statement carries (10 parameters each; SQLite's
    /// oldest limit is 999 parameters).
    pub fn rows_per_insert(self) -> usize {
        match self {
            Dialect::Generic => 1,
            _ => 90,
        }
    }

    /// `LIMIT n` where the dialect has it; the generic form fetches and stops.
    pub fn limit(self, limit: usize) -> String {
        match self {
            Dialect::Generic => String::new(),
            _ => format!(" LIMIT {limit}"),
        }
    }

    /// Deletes up to `limit` contacts older than the one parameter.
    pub fn prune(self, limit: usize) -> String {
        match self {
            // MySQL takes LIMIT on DELETE, and no LIMIT in a subquery of IN.
            Dialect::MySql => format!("DELETE FROM sticky_history WHERE started_at < ? LIMIT {limit}"),
            _ => format!(
                "DELETE FROM sticky_history WHERE id IN (SELECT id FROM sticky_history WHERE started_at < ? \
                 ORDER BY started_at{})",
                self.limit(limit)
            ),
        }
    }
}

fn seconds(timeout: Duration) -> usize {
    timeout.as_secs_f64().ceil().max(1.0) as usize
}

/// A failed statement of the layout's, classified as the store's are, but
/// never as a missing table: the layout check is what makes them.
fn query_error(error: odbc_api::Error) -> StoreError {
    match super::odbc::query_error(error) {
        StoreError::Missing(text) => StoreError::Query(text),
        other => other,
    }
}

/// Whether `SELECT <what> FROM <table>` runs: `Ok(false)` only when the
/// database says the table or the column does not exist; any other error (a
/// timeout, a lock, a lost connection) is an error, never taken for "absent".
fn probe(connection: &Connection<'static>, what: &str, table: &str, timeout: Duration) -> Result<bool, StoreError> {
    let sql = format!("SELECT {what} FROM {table} WHERE 1 = 0");
    match connection.execute(&terminated(sql), (), Some(seconds(timeout))) {
        Ok(_) => Ok(true),
        Err(error) if is_missing(&error) => Ok(false),
        Err(error) => Err(query_error(error)),
    }
}

/// Whether an error says a table or a column does not exist.
pub fn is_missing(error: &odbc_api::Error) -> bool {
    let odbc_api::Error::Diagnostics { record, .. } = error else {
        return false;
    };
    let state = String::from_utf8_lossy(&record.state.0).to_string();
    missing_state(&state, &error.to_string())
}

/// SQLSTATEs for a missing table or column: ODBC's 42S02 and 42S22,
/// PostgreSQL's 42P01 and 42703; the SQLite driver says it in words.
fn missing_state(state: &str, message: &str) -> bool {
    matches!(state, "42S02" | "42S22" | "42P01" | "42703") || {
        let message = message.to_ascii_lowercase();
        message.contains("no such table") || message.contains("no such column")
    }
}

/// [`probe`] for "is the work there already" checks: an error counts as no.
fn runs(connection: &Connection<'static>, what: &str, table: &str, timeout: Duration) -> bool {
    probe(connection, what, table, timeout).unwrap_or(false)
}

/// Runs DDL; an error is harmless when `done` shows the work is there (a
/// statement another server ran at the same moment).
fn execute_unless(
    connection: &Connection<'static>,
    statement: &str,
    timeout: Duration,
    done: impl Fn() -> bool,
) -> Result<(), StoreError> {
    match connection.execute(&terminated(statement), (), Some(seconds(timeout))) {
        Ok(_) => Ok(()),
        Err(_) if done() => Ok(()),
        Err(error) => Err(query_error(error)),
    }
}

/// The version recorded in `sticky_schema`, if any.
fn recorded_version(connection: &Connection<'static>, timeout: Duration) -> Result<Option<i64>, StoreError> {
    let cursor = connection
        .execute(&terminated("SELECT MAX(version) FROM sticky_schema"), (), Some(seconds(timeout)))
        .map_err(query_error)?;
    let Some(mut cursor) = cursor else {
        return Ok(None);
    };
    let mut buffer = Vec::new();
    let Some(mut row) = cursor.next_row().map_err(query_error)? else {
        return Ok(None);
    };
    if !row.get_text(1, &mut buffer).map_err(query_error)? {
        return Ok(None);
    }
    Ok(String::from_utf8_lossy(&buffer).trim().parse().ok())
}

/// Reports, once, that the owners' table cannot be used.
fn owner_trouble(reason: &str) {
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        crate::log_warning!(
            "res_sticky: the table sticky_owner cannot be used: {reason}; the history works without it, but sticky \
             assign and option a have no owners until it can (the database user needs the right to create it once)"
        );
    }
}

/// What [`ensure`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The tables were of this version already, all of them there.
    Current,
    /// They were made here (no history table and no recorded version before).
    Created,
    /// Version 1 (made before versions were recorded), upgraded in place.
    Upgraded,
    /// The recorded version was current, but these were not there (a table
    /// dropped by hand, an older backup restored) and were made again.
    Restored(Vec<&'static str>),
    /// The recorded version was current and only `sticky_owner` was not
    /// there: made (a module from before it existed made the others).
    Added,
}

/// Makes sure the tables exist in the current layout, looking at what is
/// there rather than trusting `sticky_schema` alone: creates what is
/// missing, upgrades version 1 in place (no row lost); refuses a newer
/// version.
pub fn ensure(connection: &Connection<'static>, dialect: Dialect, timeout: Duration) -> Result<Found, StoreError> {
    let versions = || runs(connection, "version", "sticky_schema", timeout);
    execute_unless(connection, &dialect.create_version(), timeout, versions)?;
    let recorded = recorded_version(connection, timeout)?;
    if let Some(newer) = recorded.filter(|version| *version > VERSION) {
        return Err(StoreError::Query(format!(
            "the history tables are of layout version {newer}, newer than this res_sticky knows ({VERSION}): \
             upgrade res_sticky on this server; it will not read or write them meanwhile"
        )));
    }
    let mut made = Vec::new();
    let history = || runs(connection, "id", "sticky_history", timeout);
    if probe(connection, "id", "sticky_history", timeout)? {
        let scoped = || runs(connection, "scope", "sticky_history", timeout);
        if !probe(connection, "scope", "sticky_history", timeout)? {
            execute_unless(connection, Dialect::ADD_SCOPE, timeout, scoped).map_err(|error| {
                StoreError::Query(format!(
                    "cannot add the column scope to sticky_history ({error}): the database user needs the right \
                     to alter the table once (ALTER on MySQL/MariaDB, ownership on PostgreSQL)"
                ))
            })?;
            made.push("the column sticky_history.scope");
            // An index only speeds up pruning: failing here means another
            // server made it a moment ago.
            let _ = connection.execute(&terminated(dialect.started_index()), (), Some(seconds(timeout)));
        }
    } else {
        for statement in dialect.create_history() {
            execute_unless(connection, &statement, timeout, history)?;
        }
        made.push("sticky_history");
    }
    let forget = || runs(connection, "id", "sticky_forget", timeout);
    if !probe(connection, "id, number_key, forgotten_at", "sticky_forget", timeout)? {
        execute_unless(connection, &dialect.create_forget(), timeout, forget)?;
        made.push("sticky_forget");
    }
    // The owners are an addition: a database user who may not create it
    // (or a copy without every column) leaves owners off, not the history.
    let owner = || runs(connection, OWNER_COLUMNS_WITH_ID, "sticky_owner", timeout);
    if !probe(connection, "id", "sticky_owner", timeout)? {
        let created = dialect.create_owner().iter().try_for_each(|statement| {
            execute_unless(connection, statement, timeout, || runs(connection, "id", "sticky_owner", timeout))
        });
        match created {
            Ok(()) => made.push("sticky_owner"),
            Err(error) => owner_trouble(&format!("cannot create it ({error})")),
        }
    } else if !owner() {
        owner_trouble(&format!("it lacks a column res_sticky needs ({OWNER_COLUMNS}): restore it whole or drop it"));
    }
    // Every column the statements name, before anything is recorded.
    if !probe(connection, &format!("id, {COLUMNS}"), "sticky_history", timeout)? {
        return Err(StoreError::Query(format!(
            "sticky_history lacks a column res_sticky needs ({COLUMNS}): restore it whole or drop it, and it is \
             made again"
        )));
    }
    if !probe(connection, "id, number_key, forgotten_at", "sticky_forget", timeout)? {
        return Err(StoreError::Query(
            "sticky_forget lacks a column res_sticky needs (number_key, forgotten_at)".into(),
        ));
    }
    if recorded == Some(VERSION) {
        return Ok(match made.as_slice() {
            [] => Found::Current,
            ["sticky_owner"] => Found::Added,
            _ => Found::Restored(made),
        });
    }
    // The version is recorded only once its layout is really there.
    connection
        .execute(
            &terminated(format!("INSERT INTO sticky_schema (version) VALUES ({VERSION})")),
            (),
            Some(seconds(timeout)),
        )
        .map_err(query_error)?;
    Ok(if made.contains(&"sticky_history") { Found::Created } else { Found::Upgraded })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_table_or_column_counts_as_absent() {
        assert!(missing_state("42S02", ""));
        assert!(missing_state("42P01", "relation \"sticky_history\" does not exist"));
        assert!(missing_state("42703", "column \"scope\" does not exist"));
        assert!(missing_state("HY000", "[SQLite]no such table: sticky_history (1)"));
        assert!(missing_state("HY000", "no such column: scope"));
        assert!(!missing_state("HYT00", "Timeout expired"), "a timeout is not an absent table");
        assert!(!missing_state("08S01", "communication link failure"));
        assert!(!missing_state("40001", "deadlock"));
        assert!(!missing_state("HY000", "database is locked"));
    }

    #[test]
    fn dialects_from_driver_names() {
        assert_eq!(Dialect::from_dbms_name("SQLite"), Dialect::Sqlite);
        assert_eq!(Dialect::from_dbms_name("PostgreSQL"), Dialect::Postgres);
        assert_eq!(Dialect::from_dbms_name("MariaDB"), Dialect::MySql);
        assert_eq!(Dialect::from_dbms_name("MySQL"), Dialect::MySql);
        assert_eq!(Dialect::from_dbms_name("Microsoft SQL Server"), Dialect::Generic);
    }

    #[test]
    fn statements_bind_every_value() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql, Dialect::Generic] {
            assert_eq!(dialect.insert(1).matches('?').count(), COLUMN_COUNT, "{dialect:?}");
            assert_eq!(dialect.insert(3).matches('?').count(), 3 * COLUMN_COUNT, "{dialect:?}");
            assert!(dialect.rows_per_insert() * COLUMN_COUNT <= 999);
            assert!(dialect.create_history().iter().all(|s| !s.contains('?')));
            assert_eq!(dialect.prune(10).matches('?').count(), 1);
        }
        assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
    }
}

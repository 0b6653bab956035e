//! The history table in an ODBC database: SQLite (the embedded default,
//! through libsqliteodbc), PostgreSQL and MariaDB/MySQL.
//!
//! Every statement binds its values as parameters; nothing a caller sent is
//! ever part of the SQL text. Every checkout and statement has a deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use odbc_api::parameter::InputParameter;
use odbc_api::{Connection, Cursor, IntoParameter};
use once_cell::sync::OnceCell;

use super::pool::{one_line, Pool};
use super::store::{Row, Store, StoreError};
use crate::routing::contact::{Contact, StoredRow};
use crate::routing::number::NumberKey;

/// The SQL dialects the table is created and written in.
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

    /// The statements that create the table and its indexes.
    fn schema(self) -> Vec<String> {
        const COLUMNS: &str = "number_key VARCHAR(20) NOT NULL, agent_id VARCHAR(120) NOT NULL, \
             agent_interface VARCHAR(120) NOT NULL, direction VARCHAR(3) NOT NULL, \
             disposition VARCHAR(16) NOT NULL, started_at BIGINT NOT NULL, \
             node VARCHAR(64) NOT NULL, call_id VARCHAR(190) NOT NULL, client_number VARCHAR(24) NOT NULL";
        const NUMBER_INDEX: &str = "sticky_history_number ON sticky_history (number_key, started_at)";
        const CALL_INDEX: &str = "sticky_history_call ON sticky_history (call_id)";
        const AGENT_INDEX: &str = "sticky_history_agent ON sticky_history (agent_id, started_at)";
        let (id, if_not_exists) = match self {
            Dialect::Sqlite => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "IF NOT EXISTS "),
            Dialect::Postgres => ("id BIGSERIAL PRIMARY KEY", "IF NOT EXISTS "),
            Dialect::MySql => ("id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", "IF NOT EXISTS "),
            Dialect::Generic => ("id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", ""),
        };
        if self == Dialect::MySql {
            // MySQL has no CREATE INDEX IF NOT EXISTS: the indexes go inline.
            return vec![format!(
                "CREATE TABLE IF NOT EXISTS sticky_history ({id}, {COLUMNS}, INDEX {}, UNIQUE INDEX {}, INDEX {}) \
                 CHARACTER SET utf8mb4",
                NUMBER_INDEX.replace(" ON sticky_history", ""),
                CALL_INDEX.replace(" ON sticky_history", ""),
                AGENT_INDEX.replace(" ON sticky_history", "")
            )];
        }
        vec![
            format!("CREATE TABLE {if_not_exists}sticky_history ({id}, {COLUMNS})"),
            format!("CREATE INDEX {if_not_exists}{NUMBER_INDEX}"),
            format!("CREATE UNIQUE INDEX {if_not_exists}{CALL_INDEX}"),
            format!("CREATE INDEX {if_not_exists}{AGENT_INDEX}"),
        ]
    }

    /// The insert of `rows` contacts that skips any whose call id is already
    /// stored (the generic dialect: one row, duplicates seen by SQLSTATE).
    fn insert(self, rows: usize) -> String {
        let (verb, tail) = match self {
            Dialect::Sqlite => ("INSERT OR IGNORE INTO", ""),
            Dialect::Postgres => ("INSERT INTO", " ON CONFLICT (call_id) DO NOTHING"),
            Dialect::MySql => ("INSERT IGNORE INTO", ""),
            Dialect::Generic => ("INSERT INTO", ""),
        };
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let values = vec![row; rows.max(1)].join(", ");
        format!("{verb} sticky_history ({COLUMNS}) VALUES {values}{tail}")
    }

    /// Contacts one insert statement carries (9 parameters each; SQLite's
    /// oldest limit is 999 parameters).
    fn rows_per_insert(self) -> usize {
        match self {
            Dialect::Generic => 1,
            _ => 100,
        }
    }

    /// `LIMIT n` where the dialect has it; the generic form fetches and stops.
    fn limit(self, limit: usize) -> String {
        match self {
            Dialect::Generic => String::new(),
            _ => format!(" LIMIT {limit}"),
        }
    }
}

const COLUMNS: &str =
    "number_key, agent_id, agent_interface, direction, disposition, started_at, node, call_id, client_number";

pub struct OdbcStore {
    pool: Pool,
    dialect: OnceCell<Dialect>,
    dbms: OnceCell<String>,
    /// Whether the table is known to exist. Until then every connection
    /// checks (and creates it); nobody waits for another's DDL.
    schema_ready: AtomicBool,
}

fn seconds(timeout: Duration) -> usize {
    timeout.as_secs_f64().ceil().max(1.0) as usize
}

fn query_error(error: odbc_api::Error) -> StoreError {
    StoreError::Query(one_line(&error.to_string()))
}

/// Whether an error is a unique-key violation (SQLSTATE class 23).
fn is_duplicate(error: &odbc_api::Error) -> bool {
    matches!(error, odbc_api::Error::Diagnostics { record, .. } if record.state.as_str().starts_with("23"))
}

impl OdbcStore {
    /// A store over a new pool of `pool_size` connections; nothing
    /// connects until the first use.
    pub fn new(connection_string: &str, pool_size: u32, query_timeout: Duration) -> OdbcStore {
        OdbcStore {
            pool: Pool::new(connection_string, pool_size, query_timeout.max(Duration::from_secs(2))),
            dialect: OnceCell::new(),
            dbms: OnceCell::new(),
            schema_ready: AtomicBool::new(false),
        }
    }

    /// Runs `work` on a pooled connection; a failure marks it broken.
    fn with_connection<T>(
        &self,
        timeout: Duration,
        work: impl FnOnce(&Connection<'static>, Dialect) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let mut link = self.pool.get(timeout)?;
        let result = (|| {
            let dialect = match self.dialect.get() {
                Some(dialect) => *dialect,
                None => {
                    let name = link.connection.database_management_system_name().map_err(query_error)?;
                    let _ = self.dbms.set(name.clone());
                    *self.dialect.get_or_init(|| Dialect::from_dbms_name(&name))
                }
            };
            self.ensure_schema(&link.connection, dialect, timeout.saturating_sub(started.elapsed()))?;
            work(&link.connection, dialect)
        })();
        if result.is_err() {
            link.broken = true;
        }
        result
    }

    fn ensure_schema(
        &self,
        connection: &Connection<'static>,
        dialect: Dialect,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        if self.schema_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if dialect == Dialect::Sqlite {
            // Readers then never wait for the writer.
            let _ = connection.execute("PRAGMA journal_mode=WAL", (), Some(seconds(timeout)));
        }
        if !(dialect == Dialect::Generic && table_exists(connection, timeout)) {
            for statement in dialect.schema() {
                if let Err(error) = connection.execute(&statement, (), Some(seconds(timeout))) {
                    // Another connection or server may have created it at the same moment.
                    if !table_exists(connection, timeout) {
                        return Err(query_error(error));
                    }
                }
            }
        }
        self.schema_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// The contacts of `key` since `since` in `order` (ASC or DESC), at most `limit`.
    fn contacts_of(
        &self,
        key: &NumberKey,
        since: i64,
        order: &str,
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<Contact>, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql = format!(
                "SELECT {COLUMNS} FROM sticky_history WHERE number_key = ? AND started_at >= ? \
                 ORDER BY started_at {order}, id {order}{}",
                dialect.limit(limit)
            );
            let key = key.as_str().into_parameter();
            let cursor = connection.execute(&sql, (&key, &since), Some(seconds(timeout))).map_err(query_error)?;
            let mut contacts = Vec::new();
            if let Some(cursor) = cursor {
                read_rows(cursor, 0, &mut |_, contact| {
                    if contacts.len() < limit {
                        contacts.push(contact)
                    }
                })?;
            }
            Ok(contacts)
        })
    }
}

fn table_exists(connection: &Connection<'static>, timeout: Duration) -> bool {
    connection.execute("SELECT COUNT(*) FROM sticky_history WHERE 1 = 0", (), Some(seconds(timeout))).is_ok()
}

/// The nine values of a contact's row, as bound parameters.
fn row_parameters(contact: &Contact, into: &mut Vec<Box<dyn InputParameter>>) {
    into.push(Box::new(contact.number.as_str().to_string().into_parameter()));
    into.push(Box::new(contact.agent.id.to_string().into_parameter()));
    into.push(Box::new(contact.agent.interface.to_string().into_parameter()));
    into.push(Box::new(contact.direction.as_str().to_string().into_parameter()));
    into.push(Box::new(contact.disposition.as_str().to_string().into_parameter()));
    into.push(Box::new(contact.started_at));
    into.push(Box::new(contact.node.to_string().into_parameter()));
    into.push(Box::new(contact.call_id.clone().into_parameter()));
    into.push(Box::new(contact.client.clone().into_parameter()));
}

/// Inserts the contacts, many per statement; the statement of a full chunk
/// is prepared once and reused.
fn insert_rows(
    connection: &Connection<'static>,
    dialect: Dialect,
    contacts: &[Contact],
    timeout: Duration,
) -> Result<(), StoreError> {
    let per_statement = dialect.rows_per_insert();
    let mut prepared: Option<(usize, odbc_api::Prepared<odbc_api::handles::StatementImpl<'_>>)> = None;
    let mut parameters: Vec<Box<dyn InputParameter>> = Vec::with_capacity(per_statement * 9);
    for chunk in contacts.chunks(per_statement) {
        if prepared.as_ref().is_none_or(|(rows, _)| *rows != chunk.len()) {
            let mut statement = connection.prepare(&dialect.insert(chunk.len())).map_err(query_error)?;
            statement.set_query_timeout_sec(seconds(timeout)).map_err(query_error)?;
            prepared = Some((chunk.len(), statement));
        }
        let (_, statement) = prepared.as_mut().expect("prepared above");
        parameters.clear();
        for contact in chunk {
            row_parameters(contact, &mut parameters);
        }
        match statement.execute(&parameters[..]) {
            Ok(_) => {}
            // Without a dialect's insert-or-ignore, a duplicate call id is
            // a unique-key violation: that contact is stored already.
            Err(error) if dialect == Dialect::Generic && is_duplicate(&error) => {}
            Err(error) => return Err(query_error(error)),
        }
    }
    Ok(())
}

/// Reads rows of `[id,] number_key … call_id`; `offset` is 1 when an id column leads.
fn read_rows(mut cursor: impl Cursor, offset: u16, sink: &mut dyn FnMut(i64, Contact)) -> Result<(), StoreError> {
    let mut fields: Vec<String> = Vec::with_capacity(10);
    let mut buffer = Vec::new();
    while let Some(mut row) = cursor.next_row().map_err(query_error)? {
        fields.clear();
        for column in 1..=(9 + offset) {
            buffer.clear();
            row.get_text(column, &mut buffer).map_err(query_error)?;
            fields.push(String::from_utf8_lossy(&buffer).into_owned());
        }
        let id = if offset == 1 { fields[0].trim().parse().unwrap_or(0) } else { 0 };
        let mut f = fields.drain(offset as usize..);
        let mut next = || f.next().unwrap_or_default();
        let row = StoredRow {
            number: next(),
            agent_id: next(),
            agent_interface: next(),
            direction: next(),
            disposition: next(),
            started_at: next().trim().parse().unwrap_or(i64::MIN),
            node: next(),
            call_id: next(),
            client: next(),
        };
        // A row that fails validation (edited by hand, imported badly) is skipped.
        if let Some(contact) = Contact::from_row(&row) {
            sink(id, contact);
        }
    }
    Ok(())
}

impl Store for OdbcStore {
    fn recent(&self, key: &NumberKey, since: i64, limit: usize, timeout: Duration) -> Result<Vec<Contact>, StoreError> {
        self.contacts_of(key, since, "DESC", limit, timeout)
    }

    fn oldest(&self, key: &NumberKey, since: i64, limit: usize, timeout: Duration) -> Result<Vec<Contact>, StoreError> {
        self.contacts_of(key, since, "ASC", limit, timeout)
    }

    fn last_of_agent(&self, agent_id: &str, node: &str, timeout: Duration) -> Result<Option<Contact>, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql = format!(
                "SELECT {COLUMNS} FROM sticky_history WHERE agent_id = ? AND node = ? \
                 ORDER BY started_at DESC, id DESC{}",
                dialect.limit(1)
            );
            let (agent, node) = (agent_id.into_parameter(), node.into_parameter());
            let cursor = connection.execute(&sql, (&agent, &node), Some(seconds(timeout))).map_err(query_error)?;
            let mut found = None;
            if let Some(cursor) = cursor {
                read_rows(cursor, 0, &mut |_, contact| {
                    found.get_or_insert(contact);
                })?;
            }
            Ok(found)
        })
    }

    fn insert(&self, contacts: &[Contact], timeout: Duration) -> Result<(), StoreError> {
        if contacts.is_empty() {
            return Ok(());
        }
        self.with_connection(timeout, |connection, dialect| {
            let transactional = dialect != Dialect::Generic;
            if !transactional {
                return insert_rows(connection, dialect, contacts, timeout);
            }
            connection.set_autocommit(false).map_err(query_error)?;
            let result = insert_rows(connection, dialect, contacts, timeout);
            let finish = if result.is_ok() { connection.commit() } else { connection.rollback() };
            let restore = connection.set_autocommit(true);
            result?;
            finish.map_err(query_error)?;
            restore.map_err(query_error)
        })
    }

    fn rows_after(&self, after: i64, limit: usize, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql =
                format!("SELECT id, {COLUMNS} FROM sticky_history WHERE id > ? ORDER BY id{}", dialect.limit(limit));
            let cursor = connection.execute(&sql, &after, Some(seconds(timeout))).map_err(query_error)?;
            let mut rows = Vec::new();
            if let Some(cursor) = cursor {
                read_rows(cursor, 1, &mut |id, contact| {
                    if rows.len() < limit {
                        rows.push((id, contact))
                    }
                })?;
            }
            Ok(rows)
        })
    }

    fn last_id(&self, timeout: Duration) -> Result<i64, StoreError> {
        self.with_connection(timeout, |connection, _| {
            let cursor = connection
                .execute("SELECT MAX(id) FROM sticky_history", (), Some(seconds(timeout)))
                .map_err(query_error)?;
            let mut last = 0;
            if let Some(mut cursor) = cursor {
                if let Some(mut row) = cursor.next_row().map_err(query_error)? {
                    let mut buffer = Vec::new();
                    if row.get_text(1, &mut buffer).map_err(query_error)? {
                        last = String::from_utf8_lossy(&buffer).trim().parse().unwrap_or(0);
                    }
                }
            }
            Ok(last)
        })
    }

    fn describe(&self) -> String {
        self.dbms.get().cloned().unwrap_or_else(|| "not connected yet".into())
    }

    fn pool_state(&self) -> (u32, u32) {
        self.pool.state()
    }

    fn close(&self, deadline: Instant) -> bool {
        self.pool.close(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(dialect.insert(1).matches('?').count(), 9, "{dialect:?}");
            assert_eq!(dialect.insert(3).matches('?').count(), 27, "{dialect:?}");
            assert!(dialect.schema().iter().all(|s| !s.contains('?')));
        }
    }
}

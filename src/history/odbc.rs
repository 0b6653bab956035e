//! The history table in an ODBC database: SQLite (the embedded default,
//! through libsqliteodbc), PostgreSQL and MariaDB/MySQL.
//!
//! Every statement binds its values as parameters; nothing a caller sent is
//! ever part of the SQL text. Every checkout and statement has a deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use odbc_api::parameter::InputParameter;
use odbc_api::{Connection, Cursor, IntoParameter, ParameterCollectionRef};
use once_cell::sync::OnceCell;

use super::heal::Healer;
use super::latency::Latency;
use super::owners::{Owner, OwnerPage};
use super::pool::terminated;
use super::pool::{self, one_line, Pool};
use super::schema::{self, Dialect, COLUMNS, COLUMN_COUNT, OWNER_COLUMNS};
use super::store::{Note, Row, Store, StoreError, NOTES_PER_READ};
use crate::routing::contact::{Contact, StoredRow};
use crate::routing::number::NumberKey;
use crate::{log_error, log_notice, log_warning};

pub struct OdbcStore {
    pool: Pool,
    dialect: OnceCell<Dialect>,
    dbms: OnceCell<String>,
    /// Whether the tables are known to be of the current layout. Until then
    /// every connection checks (and creates or upgrades them); nobody waits
    /// for another's DDL.
    schema_ready: AtomicBool,
    /// Whether a newer layout was reported already (it is logged once).
    newer_reported: AtomicBool,
    /// How long taking a connection from the pool took.
    checkout: Latency,
    /// How long the work on a connection took (statements and rows).
    statement: Latency,
    /// Makes the layout again when a statement meets a missing table.
    healer: Healer,
}

/// The least time the layout's statements get when a heal runs.
const HEAL_TIME: Duration = Duration::from_secs(5);

fn seconds(timeout: Duration) -> usize {
    timeout.as_secs_f64().ceil().max(1.0) as usize
}

/// A failed statement as the store tells it: one that met a missing table
/// or column apart, since the layout is then made again.
pub fn query_error(error: odbc_api::Error) -> StoreError {
    let text = one_line(&error.to_string());
    if schema::is_missing(&error) {
        StoreError::Missing(text)
    } else if is_read_only(&error) {
        not_the_primary(&text)
    } else {
        StoreError::Query(text)
    }
}

/// Whether the database would not write because it is read-only: a
/// PostgreSQL hot standby (SQLSTATE 25006, read_only_sql_transaction), or a
/// MariaDB/MySQL server running with `read_only`.
fn is_read_only(error: &odbc_api::Error) -> bool {
    let odbc_api::Error::Diagnostics { record, .. } = error else {
        return false;
    };
    let text = error.to_string();
    record.state.as_str() == "25006" || text.contains("read-only transaction") || text.contains("--read-only option")
}

/// A read-only server answered: a standby, not the primary. Nothing is
/// wrong with the statement; the link is closed (every failure does that)
/// and the contacts wait, as for a database that is down, until a new link
/// reaches a primary (with every host named and
/// `target_session_attrs=read-write`, libpq skips a standby by itself).
fn not_the_primary(text: &str) -> StoreError {
    StoreError::Unavailable(format!("a read-only standby answered, not the primary ({text})"))
}

/// Whether the database refused the values themselves (SQLSTATE class 22,
/// data exception: a value too long, out of range, badly encoded): the same
/// values would be refused again, unlike a timeout, a lost link or a lock.
fn is_refused(error: &odbc_api::Error) -> bool {
    matches!(error, odbc_api::Error::Diagnostics { record, .. } if record.state.as_str().starts_with("22"))
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
            newer_reported: AtomicBool::new(false),
            checkout: Latency::default(),
            statement: Latency::default(),
            healer: Healer::default(),
        }
    }

    /// Runs `work` on a pooled connection; a failure marks it broken.
    fn with_connection<T>(
        &self,
        timeout: Duration,
        mut work: impl FnMut(&Connection<'static>, Dialect) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.on_link(timeout, false, |link, dialect| work(&link.connection(), dialect))
    }

    /// Runs `work` on a pooled link, whose statements it may keep prepared;
    /// `timed`: a read a call waits for, whose steps are clocked. A failure
    /// marks the link broken. Work that met a missing table or column runs
    /// once more (within `timeout` again) once the layout was made again.
    fn on_link<T>(
        &self,
        timeout: Duration,
        timed: bool,
        mut work: impl FnMut(&mut pool::Link, Dialect) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mark = self.healer.mark();
        let first = self.attempt(timeout, timed, &mut work);
        let Err(StoreError::Missing(reason)) = &first else {
            return first;
        };
        // The layout's statements get time enough even after a quick read.
        let ddl = timeout.max(HEAL_TIME);
        let ensure = || self.attempt(ddl, false, &mut |link, dialect| schema::ensure(&link.connection(), dialect, ddl));
        if self.healer.heal(mark, reason, ensure) {
            self.attempt(timeout, timed, &mut work)
        } else {
            first
        }
    }

    /// One run of [`OdbcStore::on_link`]'s work.
    fn attempt<T>(
        &self,
        timeout: Duration,
        timed: bool,
        work: &mut dyn FnMut(&mut pool::Link, Dialect) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let got = self.pool.get(timeout);
        let connected = Instant::now();
        if timed {
            // Failed checkouts too: an exhausted pool shows in the p99.
            self.checkout.record(connected - started);
        }
        let mut link = got?;
        // A panic inside (odbc-api panics when a driver fails to close a
        // cursor) is a failure like any other: the link is not handed out
        // again, and the caller hears an error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let dialect = match self.dialect.get() {
                Some(dialect) => *dialect,
                None => {
                    let name = link.connection().database_management_system_name().map_err(query_error)?;
                    let _ = self.dbms.set(name.clone());
                    *self.dialect.get_or_init(|| Dialect::from_dbms_name(&name))
                }
            };
            self.ensure_schema(&link.connection(), dialect, timeout.saturating_sub(started.elapsed()))?;
            work(&mut link, dialect)
        }))
        .unwrap_or_else(|_| Err(StoreError::Query("the database driver failed unexpectedly (see the log)".into())));
        if timed {
            self.statement.record(connected.elapsed());
        }
        if result.is_err() {
            link.broken = true;
        }
        // Given back inside a guard too: a broken link is closed right here,
        // and a driver failing while it frees the kept statements or
        // disconnects makes odbc-api panic. That panic would otherwise end
        // the calling thread (a writer with a batch on its way, a worker with
        // a caller waiting) instead of being one more failure.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(link))).is_err() {
            log_error!(
                "res_sticky: the database driver failed while closing a connection (see above); it is not used again"
            );
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
            let _ = connection.execute(&terminated("PRAGMA journal_mode=WAL"), (), Some(seconds(timeout)));
        }
        match schema::ensure(connection, dialect, timeout) {
            Ok(found) => {
                match found {
                    schema::Found::Upgraded => {
                        log_notice!("res_sticky: the history table was upgraded to layout version {}", schema::VERSION)
                    }
                    schema::Found::Restored(made) => log_warning!(
                        "res_sticky: sticky_schema records layout version {} but these were not there (dropped by \
                         hand, or restored from an older backup?), made again: {}",
                        schema::VERSION,
                        made.join(", ")
                    ),
                    schema::Found::Added => {
                        log_notice!("res_sticky: made the table sticky_owner (account owners set by sticky assign)")
                    }
                    schema::Found::Current | schema::Found::Created => {}
                }
                self.schema_ready.store(true, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                if error.to_string().contains("newer than this res_sticky")
                    && !self.newer_reported.swap(true, Ordering::Relaxed)
                {
                    log_error!("res_sticky: {error}");
                }
                Err(error)
            }
        }
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
        self.on_link(timeout, true, |link, dialect| {
            let sql = format!(
                "SELECT {COLUMNS} FROM sticky_history WHERE number_key = ? AND started_at >= ? \
                 ORDER BY started_at {order}, id {order}{}",
                dialect.limit(limit)
            );
            let key = key.as_str().into_parameter();
            let mut contacts = Vec::new();
            read(link, dialect, &sql, (&key, &since), timeout, &mut |_, contact| {
                if contacts.len() < limit {
                    contacts.push(contact)
                }
            })?;
            Ok(contacts)
        })
    }
}

/// Runs `work` in one transaction where the dialect has them.
fn in_transaction<T>(
    connection: &Connection<'static>,
    dialect: Dialect,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if dialect == Dialect::Generic {
        return work();
    }
    connection.set_autocommit(false).map_err(query_error)?;
    let result = work();
    let finish = if result.is_ok() { connection.commit() } else { connection.rollback() };
    let restore = connection.set_autocommit(true);
    let value = result?;
    finish.map_err(query_error)?;
    restore.map_err(query_error)?;
    Ok(value)
}

/// Runs a statement with one parameter; the rows it changed.
fn affected(
    connection: &Connection<'static>,
    sql: &str,
    parameter: impl ParameterCollectionRef,
    timeout: Duration,
) -> Result<usize, StoreError> {
    // The limit is set before the driver sees the text: MariaDB/MySQL's
    // driver applies it only while preparing, so a limit set on a prepared
    // statement let the statement run without one (a locked table held the
    // writer until the server's lock_wait_timeout, a year by default).
    let mut statement = connection.preallocate().map_err(query_error)?;
    statement.set_query_timeout_sec(seconds(timeout)).map_err(query_error)?;
    statement.execute(&terminated(sql), parameter).map_err(query_error)?;
    Ok(statement.row_count().map_err(query_error)?.unwrap_or(0))
}

/// The one number a `SELECT COUNT(*) …` answers.
fn count(
    connection: &Connection<'static>,
    sql: &str,
    parameters: impl ParameterCollectionRef,
    timeout: Duration,
) -> Result<i64, StoreError> {
    let mut statement = connection.preallocate().map_err(query_error)?;
    statement.set_query_timeout_sec(seconds(timeout)).map_err(query_error)?;
    // Bound before it is returned: the cursor borrows the statement.
    let number = first_number(statement.execute(&terminated(sql), parameters).map_err(query_error)?);
    number
}

/// The number in the first column of a result's first row (0 without one).
fn first_number(cursor: Option<impl Cursor>) -> Result<i64, StoreError> {
    let Some(mut cursor) = cursor else {
        return Ok(0);
    };
    let Some(mut row) = cursor.next_row().map_err(query_error)? else {
        return Ok(0);
    };
    let mut buffer = Vec::new();
    if !row.get_text(1, &mut buffer).map_err(query_error)? {
        return Ok(0);
    }
    Ok(String::from_utf8_lossy(&buffer).trim().parse().unwrap_or(0))
}

/// The highest id of a table (0 when empty).
fn max_id(connection: &Connection<'static>, table: &str, timeout: Duration) -> Result<i64, StoreError> {
    let cursor = connection
        .execute(&terminated(format!("SELECT MAX(id) FROM {table}")), (), Some(seconds(timeout)))
        .map_err(query_error)?;
    first_number(cursor)
}

/// The values of a contact's row, as bound parameters.
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
    into.push(Box::new(contact.scope.to_string().into_parameter()));
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
    let mut parameters: Vec<Box<dyn InputParameter>> = Vec::with_capacity(per_statement * COLUMN_COUNT);
    for chunk in contacts.chunks(per_statement) {
        if dialect == Dialect::MySql {
            // Each chunk goes whole with its limit there (see `affected`).
            parameters.clear();
            for contact in chunk {
                row_parameters(contact, &mut parameters);
            }
            let mut statement = connection.preallocate().map_err(query_error)?;
            statement.set_query_timeout_sec(seconds(timeout)).map_err(query_error)?;
            let executed = statement.execute(&terminated(dialect.insert(chunk.len())), &parameters[..]).map(|_| ());
            executed.map_err(query_error)?;
            continue;
        }
        if prepared.as_ref().is_none_or(|(rows, _)| *rows != chunk.len()) {
            let mut statement = connection.prepare(&terminated(dialect.insert(chunk.len()))).map_err(query_error)?;
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
            Err(error) if is_refused(&error) => return Err(StoreError::Rejected(one_line(&error.to_string()))),
            Err(error) => return Err(query_error(error)),
        }
    }
    Ok(())
}

/// Runs the read `sql` with `params` within `timeout` and hands each row
/// to `sink`: through a statement kept prepared on the link, except on
/// MariaDB/MySQL, whose driver applies a statement's time limit only while
/// preparing it (a kept statement would run unlimited there): there each
/// read goes whole, with its limit.
fn read(
    link: &mut pool::Link,
    dialect: Dialect,
    sql: &str,
    params: impl ParameterCollectionRef,
    timeout: Duration,
    sink: &mut dyn FnMut(i64, Contact),
) -> Result<(), StoreError> {
    if dialect == Dialect::MySql {
        let connection = link.connection();
        let cursor = connection.execute(&terminated(sql), params, Some(seconds(timeout))).map_err(query_error)?;
        return cursor.map_or(Ok(()), |cursor| read_rows(cursor, 0, sink));
    }
    let statement = link.kept(sql).map_err(query_error)?;
    statement.set_query_timeout_sec(seconds(timeout)).map_err(query_error)?;
    let cursor = statement.execute(params).map_err(query_error)?;
    cursor.map_or(Ok(()), |cursor| read_rows(cursor, 0, sink))
}

/// Reads rows of `[id,] number_key … call_id`; `offset` is 1 when an id column leads.
fn read_rows(mut cursor: impl Cursor, offset: u16, sink: &mut dyn FnMut(i64, Contact)) -> Result<(), StoreError> {
    let mut fields: Vec<String> = Vec::with_capacity(10);
    let mut buffer = Vec::new();
    while let Some(mut row) = cursor.next_row().map_err(query_error)? {
        fields.clear();
        for column in 1..=(COLUMN_COUNT as u16 + offset) {
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
            scope: next(),
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
        self.on_link(timeout, true, |link, dialect| {
            let sql = format!(
                "SELECT {COLUMNS} FROM sticky_history WHERE agent_id = ? AND node = ? \
                 ORDER BY started_at DESC, id DESC{}",
                dialect.limit(1)
            );
            let (agent, node) = (agent_id.into_parameter(), node.into_parameter());
            let mut found = None;
            read(link, dialect, &sql, (&agent, &node), timeout, &mut |_, contact| {
                found.get_or_insert(contact);
            })?;
            Ok(found)
        })
    }

    fn insert(&self, contacts: &[Contact], timeout: Duration) -> Result<(), StoreError> {
        if contacts.is_empty() {
            return Ok(());
        }
        self.with_connection(timeout, |connection, dialect| {
            in_transaction(connection, dialect, || insert_rows(connection, dialect, contacts, timeout))
        })
    }

    fn forget(&self, key: &NumberKey, at: i64, timeout: Duration) -> Result<usize, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            in_transaction(connection, dialect, || {
                let number = key.as_str().into_parameter();
                let erased = affected(
                    connection,
                    "DELETE FROM sticky_history WHERE number_key = ? AND started_at <= ?",
                    (&number, &at),
                    timeout,
                )?;
                connection
                    .execute(
                        &terminated("INSERT INTO sticky_forget (number_key, forgotten_at) VALUES (?, ?)"),
                        (&number, &at),
                        Some(seconds(timeout)),
                    )
                    .map_err(query_error)?;
                Ok(erased)
            })
            .inspect(|_| {
                // Apart, so that a sticky_owner the database user could not
                // make never keeps a client from being forgotten (the note
                // removes the owners from every server's memory anyway).
                // Owners set after the forgetting stay (an erase retried late).
                let number = key.as_str().into_parameter();
                let owners = "DELETE FROM sticky_owner WHERE number_key = ? AND assigned_at <= ?";
                let _ = affected(connection, owners, (&number, &at), timeout);
            })
        })
    }

    fn forgotten_after(&self, after: i64, timeout: Duration) -> Result<Vec<Note>, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql = format!(
                "SELECT id, number_key, forgotten_at FROM sticky_forget WHERE id > ? ORDER BY id{}",
                dialect.limit(NOTES_PER_READ)
            );
            let cursor = connection.execute(&terminated(sql), &after, Some(seconds(timeout))).map_err(query_error)?;
            let mut forgotten = Vec::new();
            if let Some(mut cursor) = cursor {
                let mut buffer = Vec::new();
                while let Some(mut row) = cursor.next_row().map_err(query_error)? {
                    let mut text = |column: u16| -> Result<String, StoreError> {
                        buffer.clear();
                        row.get_text(column, &mut buffer).map_err(query_error)?;
                        Ok(String::from_utf8_lossy(&buffer).trim().to_string())
                    };
                    let id = text(1)?.parse().unwrap_or(0);
                    let key = NumberKey::from_stored(&text(2)?);
                    // A note whose time cannot be read forgets everything up to now.
                    let at = text(3)?.parse().unwrap_or_else(|_| crate::time::now_ms());
                    if let Some(key) = key {
                        forgotten.push(Note { id, key, at });
                    }
                }
            }
            Ok(forgotten)
        })
    }

    fn prune(&self, before: i64, limit: usize, timeout: Duration) -> Result<usize, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let erased = affected(connection, &dialect.prune(limit), &before, timeout)?;
            // What other servers had to see of a forgotten number: a day is plenty.
            let day_ago = crate::time::now_ms() - 86_400_000;
            affected(connection, "DELETE FROM sticky_forget WHERE forgotten_at < ?", &day_ago, timeout)?;
            // Removed owners, once every server had a day to see it; a
            // sticky_owner that could not be made is no reason to stop pruning.
            let removals = "DELETE FROM sticky_owner WHERE agent_id = '' AND assigned_at < ?";
            let _ = affected(connection, removals, &day_ago, timeout);
            Ok(erased)
        })
    }

    fn rows_after(&self, after: i64, limit: usize, timeout: Duration) -> Result<Vec<Row>, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql =
                format!("SELECT id, {COLUMNS} FROM sticky_history WHERE id > ? ORDER BY id{}", dialect.limit(limit));
            let cursor = connection.execute(&terminated(sql), &after, Some(seconds(timeout))).map_err(query_error)?;
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
        self.with_connection(timeout, |connection, _| max_id(connection, "sticky_history", timeout))
    }

    fn set_owner(&self, owner: &Owner, timeout: Duration) -> Result<(), StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            in_transaction(connection, dialect, || {
                let (number, scope) = (owner.key.as_str().into_parameter(), owner.scope.to_string().into_parameter());
                // Written first (the row locked, or the database's write lock
                // taken), read after: the number's older row goes, and one
                // dated past any clock's skew (edited by hand).
                let ahead = crate::time::now_ms() + super::shared::MAX_CLOCK_SKEW_MS;
                let delete = "DELETE FROM sticky_owner WHERE number_key = ? AND scope = ? \
                     AND (assigned_at <= ? OR assigned_at > ?)";
                affected(connection, delete, (&number, &scope, &owner.at, &ahead), timeout)?;
                // A change made later (a retry that landed first, another
                // server) or a forgetting since wins: this one is dropped.
                let newer = count(
                    connection,
                    "SELECT COUNT(*) FROM sticky_owner WHERE number_key = ? AND scope = ? AND assigned_at > ? \
                     AND assigned_at <= ?",
                    (&number, &scope, &owner.at, &ahead),
                    timeout,
                )?;
                let forgotten = count(
                    connection,
                    "SELECT COUNT(*) FROM sticky_forget WHERE number_key = ? AND forgotten_at >= ?",
                    (&number, &owner.at),
                    timeout,
                )?;
                if newer > 0 || forgotten > 0 {
                    return Ok(());
                }
                let (id, interface) = match &owner.agent {
                    Some(agent) => (agent.id.to_string(), agent.interface.to_string()),
                    None => (String::new(), String::new()),
                };
                let (id, interface, node) =
                    (id.into_parameter(), interface.into_parameter(), owner.node.to_string().into_parameter());
                let sql = format!("INSERT INTO sticky_owner ({OWNER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
                affected(connection, &sql, (&number, &scope, &id, &interface, &owner.at, &node), timeout)?;
                Ok(())
            })
        })
    }

    fn owners_after(&self, after: i64, limit: usize, timeout: Duration) -> Result<OwnerPage, StoreError> {
        self.with_connection(timeout, |connection, dialect| {
            let sql = format!(
                "SELECT id, {OWNER_COLUMNS} FROM sticky_owner WHERE id > ? ORDER BY id{}",
                dialect.limit(limit)
            );
            let cursor = connection.execute(&terminated(sql), &after, Some(seconds(timeout))).map_err(query_error)?;
            let mut page = OwnerPage { last_id: after, ..OwnerPage::default() };
            let Some(mut cursor) = cursor else {
                return Ok(page);
            };
            let mut buffer = Vec::new();
            while page.scanned < limit {
                let Some(mut row) = cursor.next_row().map_err(query_error)? else {
                    break;
                };
                let mut fields = Vec::with_capacity(7);
                for column in 1..=7 {
                    buffer.clear();
                    row.get_text(column, &mut buffer).map_err(query_error)?;
                    fields.push(String::from_utf8_lossy(&buffer).trim().to_string());
                }
                page.scanned += 1;
                let id: i64 = fields[0].parse().unwrap_or(0);
                page.last_id = page.last_id.max(id);
                // A row edited by hand into something unusable is skipped.
                if let Some(owner) = Owner::from_row(&fields[1..]) {
                    page.owners.push((id, owner));
                }
            }
            Ok(page)
        })
    }

    fn describe(&self) -> String {
        self.dbms.get().cloned().unwrap_or_else(|| "not connected yet".into())
    }

    fn pool_state(&self) -> (u32, u32) {
        self.pool.state()
    }

    fn steps(&self) -> Option<(&Latency, &Latency)> {
        Some((&self.checkout, &self.statement))
    }

    fn close(&self, deadline: Instant) -> bool {
        self.pool.close(deadline)
    }
}

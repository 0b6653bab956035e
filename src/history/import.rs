//! `sticky import cdr`: back-fills contacts from an existing `cdr` table
//! (FreePBX / cdr_adaptive_odbc layout by default). A batch job: rows are
//! read as a stream and their contacts written to the store in batches, each
//! waited for, so an import of any size never drops a contact and holds
//! one batch in memory.

use std::time::{Duration, Instant};

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use odbc_api::{environment, ConnectionOptions, Cursor, IntoParameter};

use super::pool::terminated;
use super::pool::{driver_of, has_key, with_network_timeouts};
use super::schema::Dialect;
use super::store::Store;
use crate::host::cdr::CdrRecord;
use crate::host::vocabulary::Disposition;
use crate::routing::contact::Contact;

/// The default query for a dialect: seven columns in this order (and two
/// optional ones, `lastapp` and `lastdata`, for `scope_from_queue`), one
/// parameter — the oldest `calldate` to read, as `YYYY-MM-DD HH:MM:SS`.
pub fn default_query(dialect: Dialect) -> String {
    let since = match dialect {
        Dialect::Postgres => "CAST(? AS TIMESTAMP)",
        Dialect::MySql => "CAST(? AS DATETIME)",
        Dialect::Sqlite | Dialect::Generic => "?",
    };
    format!(
        "SELECT calldate, src, dst, channel, dstchannel, disposition, uniqueid, lastapp, lastdata FROM cdr \
         WHERE calldate >= {since} ORDER BY calldate"
    )
}

/// `calldate` as the cdr table stores it (local time) → ms since the epoch.
pub fn parse_calldate(text: &str, zone: &TimeZone) -> Option<i64> {
    let text = text.trim();
    let civil: DateTime = text.get(..19)?.replacen(' ', "T", 1).parse().ok()?;
    civil.to_zoned(zone.clone()).ok().map(|zoned| zoned.timestamp().as_millisecond())
}

/// The local-time text of `ms` for the query parameter.
pub fn calldate_text(ms: i64, zone: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "1970-01-01 00:00:00".into())
}

/// How far an import got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub unreadable: usize,
    /// Rows that were contacts, written to the store.
    pub written: usize,
}

/// Contacts written per store statement batch.
pub const IMPORT_BATCH: usize = 2_000;
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Imports the cdr rows since `since_ms`: each row `contact` turns into a
/// contact is written to `store`. `progress` hears how far it got every few
/// seconds. On a store failure the import stops (after a few tries) with
/// what was written so far; running it again skips what is already stored.
pub fn import(
    connection_string: &str,
    query: Option<&str>,
    since_ms: i64,
    contact: &dyn Fn(&CdrRecord) -> Option<Contact>,
    store: &dyn Store,
    timeout: Duration,
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<ImportReport, (ImportReport, String)> {
    let mut batch: Vec<Contact> = Vec::with_capacity(IMPORT_BATCH);
    let mut written = 0;
    let mut last_report = Instant::now();
    let write = |batch: &mut Vec<Contact>, written: &mut usize| -> Result<(), String> {
        let mut tries = 0;
        loop {
            match store.insert(batch, timeout) {
                Ok(()) => break,
                Err(error) if tries < 3 => {
                    tries += 1;
                    crate::log_warning!("res_sticky: sticky import cdr: {error}; trying again");
                    std::thread::sleep(Duration::from_millis(500 * tries));
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        *written += batch.len();
        batch.clear();
        Ok(())
    };
    let result = read_cdr(connection_string, query, since_ms, &mut |record, report| {
        if let Some(contact) = contact(&record) {
            batch.push(contact);
        }
        if batch.len() >= IMPORT_BATCH {
            write(&mut batch, &mut written)?;
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            progress(&ImportReport { written, ..*report });
        }
        Ok(())
    });
    match result {
        Ok(done) => match write(&mut batch, &mut written) {
            Ok(()) => Ok(ImportReport { written, ..done }),
            Err(error) => Err((ImportReport { written, ..done }, error)),
        },
        Err((partial, error)) => Err((ImportReport { written, ..partial }, error)),
    }
}

/// The cdr connection for an import: drivers that buffer a whole result
/// set by default are told to fetch it in pieces (psqlODBC:
/// `UseDeclareFetch`; MariaDB: `NO_CACHE`), and network timeouts are set,
/// unless the administrator's string says otherwise.
pub fn streaming(connection: &str) -> String {
    let driver = driver_of(connection);
    let mut out = with_network_timeouts(connection, Duration::from_secs(60)).trim_end_matches(';').to_string();
    if driver.contains("postgres") && !has_key(connection, "UseDeclareFetch") {
        out.push_str(";UseDeclareFetch=1;Fetch=10000");
    } else if (driver.contains("mariadb") || driver.contains("mysql")) && !has_key(connection, "NO_CACHE") {
        out.push_str(";NO_CACHE=1");
    }
    out
}

/// Takes each cdr row (with the counts so far); an error stops the reading.
type Sink<'a> = dyn FnMut(CdrRecord, &ImportReport) -> Result<(), String> + 'a;

/// Reads every cdr row since `since_ms` and hands each to `sink`.
fn read_cdr(
    connection_string: &str,
    query: Option<&str>,
    since_ms: i64,
    sink: &mut Sink,
) -> Result<ImportReport, (ImportReport, String)> {
    let fail = |report: ImportReport, error: String| (report, error);
    let mut report = ImportReport::default();
    let options = ConnectionOptions { login_timeout_sec: Some(10), packet_size: None };
    let connection = environment()
        .and_then(|env| env.connect_with_connection_string(&terminated(streaming(connection_string)), options))
        .map_err(|e| fail(report, format!("cannot connect: {e}")))?;
    let dialect = Dialect::from_dbms_name(&connection.database_management_system_name().unwrap_or_default());
    let zone = TimeZone::system();
    let since = calldate_text(since_ms, &zone).into_parameter();
    let timeout = Some(Duration::from_secs(600).as_secs() as usize);
    let failed = |report: ImportReport, e: odbc_api::Error| fail(report, format!("the import query failed: {e}"));
    if query.is_none() && dialect == Dialect::Sqlite {
        // libsqliteodbc holds a whole result set in memory (84 MB for
        // 200,000 rows): the table is read in pages by rowid instead (the
        // date filtered row by row, so that an index on calldate never
        // makes each page a scan of every row since the date).
        let mut after: i64 = 0;
        loop {
            let cursor = connection
                .execute(&terminated(sqlite_page_query()), (&since, &after), timeout)
                .map_err(|e| failed(report, e))?;
            let Some(cursor) = cursor else {
                return Ok(report);
            };
            let (rows, last) = read_rows(cursor, Some(10), &zone, &mut report, sink)?;
            if rows < SQLITE_PAGE {
                return Ok(report);
            }
            after = last;
        }
    }
    let query = query.map(str::to_string).unwrap_or_else(|| default_query(dialect));
    let cursor = connection.execute(&terminated(query), &since, timeout).map_err(|e| failed(report, e))?;
    match cursor {
        Some(cursor) => read_rows(cursor, None, &zone, &mut report, sink).map(|_| report),
        None => Ok(report),
    }
}

/// Rows of a SQLite page.
const SQLITE_PAGE: usize = 10_000;

/// The default query on SQLite, a page of it: the rows after a rowid.
fn sqlite_page_query() -> String {
    format!(
        "SELECT calldate, src, dst, channel, dstchannel, disposition, uniqueid, lastapp, lastdata, rowid FROM cdr \
         WHERE +calldate >= ? AND rowid > ? ORDER BY rowid LIMIT {SQLITE_PAGE}"
    )
}

/// Hands each row of `cursor` to `sink`; the rows read and, when
/// `rowid` names its column, the last row's rowid.
fn read_rows(
    mut cursor: impl Cursor,
    rowid: Option<u16>,
    zone: &TimeZone,
    report: &mut ImportReport,
    sink: &mut Sink,
) -> Result<(usize, i64), (ImportReport, String)> {
    let fail = |report: ImportReport, error: String| (report, error);
    let columns = cursor.num_result_cols().map_err(|e| fail(*report, format!("reading the cdr table: {e}")))?;
    if columns < 7 {
        return Err(fail(*report, format!("the import query gives {columns} columns; it needs at least 7")));
    }
    let mut fields = [const { String::new() }; 9];
    let mut buffer = Vec::new();
    let (mut rows, mut last) = (0, 0);
    while let Some(mut row) = cursor.next_row().map_err(|e| fail(*report, format!("reading the cdr table: {e}")))? {
        report.rows += 1;
        rows += 1;
        for (index, field) in fields.iter_mut().enumerate().take(columns.min(9) as usize) {
            buffer.clear();
            row.get_text(index as u16 + 1, &mut buffer)
                .map_err(|e| fail(*report, format!("reading the cdr table: {e}")))?;
            *field = String::from_utf8_lossy(&buffer).into_owned();
        }
        if let Some(column) = rowid {
            buffer.clear();
            row.get_text(column, &mut buffer).map_err(|e| fail(*report, format!("reading the cdr table: {e}")))?;
            last = String::from_utf8_lossy(&buffer).trim().parse().unwrap_or(last);
        }
        let [calldate, src, dst, channel, dstchannel, disposition, uniqueid, lastapp, lastdata] = &fields;
        let Some(start_ms) = parse_calldate(calldate, zone) else {
            report.unreadable += 1;
            continue;
        };
        let call_id: String = format!("import:{uniqueid}:{dstchannel}:{start_ms}").chars().take(190).collect();
        let record = CdrRecord {
            src: src.clone(),
            dst: dst.clone(),
            channel: channel.clone(),
            dstchannel: dstchannel.clone(),
            disposition: Disposition::parse(disposition),
            start_ms,
            uniqueid: uniqueid.clone(),
            sequence: 0,
            call_id: Some(call_id),
            lastapp: lastapp.clone(),
            lastdata: lastdata.clone(),
            ..CdrRecord::default()
        };
        sink(record, report).map_err(|error| fail(*report, error))?;
    }
    Ok((rows, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calldates_round_trip_in_a_zone() {
        let zone = TimeZone::get("Europe/Moscow").unwrap();
        let ms = parse_calldate("2026-11-22 10:00:00", &zone).unwrap();
        assert_eq!(ms, 1_795_330_800_000, "10:00 in Moscow is 07:00 UTC");
        assert_eq!(calldate_text(ms, &zone), "2026-11-22 10:00:00");
        assert_eq!(parse_calldate("2026-11-22 10:00:00.123456", &zone), Some(ms));
        assert_eq!(parse_calldate("yesterday", &zone), None);
        assert_eq!(parse_calldate("", &zone), None);
    }

    #[test]
    fn imports_fetch_in_pieces() {
        let pg = streaming("Driver=PostgreSQL Unicode;Server=db");
        assert!(pg.contains(";UseDeclareFetch=1;Fetch=10000") && pg.contains("tcp_user_timeout=60000"), "{pg}");
        assert!(streaming("Driver=MariaDB Unicode;Server=db").ends_with(";NO_CACHE=1"));
        assert_eq!(streaming("Driver=PostgreSQL;UseDeclareFetch=0").matches("UseDeclareFetch").count(), 1);
        assert_eq!(streaming("DSN=cdr"), "DSN=cdr");
    }

    #[test]
    fn default_queries_bind_the_date() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            assert_eq!(default_query(dialect).matches('?').count(), 1);
        }
        assert!(default_query(Dialect::Postgres).contains("CAST(? AS TIMESTAMP)"));
        let page = sqlite_page_query();
        assert_eq!(page.matches('?').count(), 2, "the date and the last rowid");
        assert!(page.ends_with(&format!("ORDER BY rowid LIMIT {SQLITE_PAGE}")), "{page}");
    }
}

//! The ODBC connection pool: r2d2 over odbc-api, with deadlines on checkout,
//! timeouts set in the connection itself where the driver takes them, its
//! connection errors in Asterisk's log, and a background thread of its own
//! that closing waits for.

use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use odbc_api::handles::StatementConnection;
use odbc_api::{environment, Connection, ConnectionOptions, ConnectionTransitions, SharedConnection};
use parking_lot::{Mutex, RwLock};
use scheduled_thread_pool::{OnPoolDropBehavior, ScheduledThreadPool};

use super::store::StoreError;
use crate::log_warning;

/// Text handed to the ODBC driver (a connection string, SQL) with a NUL
/// right after its end, in the same allocation. odbc-api passes the length,
/// but psqlODBC reads one byte past it: `make memcheck` showed an invalid
/// read just after the connection string and reads of uninitialised bytes
/// after SQL text. With the NUL there, that byte is ours and ends the text.
pub struct Terminated(String);

pub fn terminated(text: impl AsRef<str>) -> Terminated {
    let text = text.as_ref();
    let mut owned = String::with_capacity(text.len() + 1);
    owned.push_str(text);
    owned.push('\0');
    Terminated(owned)
}

impl std::ops::Deref for Terminated {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0[..self.0.len() - 1]
    }
}

/// Opens connections for the pool.
pub struct Manager {
    connection_string: String,
    login_timeout: u32,
}

/// A statement prepared on a pooled connection, kept with it.
pub type Kept = odbc_api::Prepared<StatementConnection<SharedConnection<'static>>>;

/// How many statements a connection keeps prepared (the reads calls wait
/// for are a handful of texts; anything past this starts the set again).
const KEPT_PER_CONNECTION: usize = 16;

/// A pooled connection. Not every driver reports a lost connection as
/// dead (psqlODBC does not), so one whose statement failed is marked broken
/// and the pool opens a new one instead of handing it out again.
pub struct Link {
    /// The statements of the reads calls wait for, prepared once per
    /// connection: the database parses and plans them once, not on every
    /// read. Each holds the connection too.
    kept: HashMap<String, Kept>,
    pub connection: SharedConnection<'static>,
    pub broken: bool,
}

impl Link {
    /// The connection, for statements run once.
    pub fn connection(&self) -> MutexGuard<'_, Connection<'static>> {
        // A panic while it was held marks nothing here: the statement
        // failed, the link is marked broken by its caller.
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The statement of `sql`, prepared on this connection the first time.
    pub fn kept(&mut self, sql: &str) -> Result<&mut Kept, odbc_api::Error> {
        if !self.kept.contains_key(sql) {
            if self.kept.len() >= KEPT_PER_CONNECTION {
                self.kept.clear();
            }
            let prepared = self.connection.clone().into_prepared(&terminated(sql))?;
            self.kept.insert(sql.to_string(), prepared);
        }
        Ok(self.kept.get_mut(sql).expect("inserted above"))
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Link;
    type Error = odbc_api::Error;

    fn connect(&self) -> Result<Link, odbc_api::Error> {
        let options = ConnectionOptions { login_timeout_sec: Some(self.login_timeout), packet_size: None };
        let connection =
            environment()?.connect_with_connection_string(&terminated(&self.connection_string), options)?;
        Ok(Link { kept: HashMap::new(), connection: Arc::new(StdMutex::new(connection)), broken: false })
    }

    fn is_valid(&self, _: &mut Link) -> Result<(), odbc_api::Error> {
        Ok(())
    }

    fn has_broken(&self, link: &mut Link) -> bool {
        // Poisoned: a panic while it was held; its state is unknown.
        link.broken || link.connection.is_poisoned() || link.connection().is_dead().unwrap_or(true)
    }
}

/// The pool's own connection attempts fail on its thread, away from any
/// caller: their errors go to Asterisk's log, at most one line per
/// [`CONNECT_ERROR_INTERVAL`] (with a count of those left out), so a database
/// that is down for hours does not flood it.
#[derive(Default)]
struct ConnectErrors {
    /// When the last line was written, and errors since then.
    state: Mutex<(Option<Instant>, u64)>,
}

const CONNECT_ERROR_INTERVAL: Duration = Duration::from_secs(30);

impl r2d2::HandleError<odbc_api::Error> for ConnectErrors {
    fn handle_error(&self, error: odbc_api::Error) {
        let mut state = self.state.lock();
        let (last, left_out) = &mut *state;
        if last.is_some_and(|at| at.elapsed() < CONNECT_ERROR_INTERVAL) {
            *left_out += 1;
            return;
        }
        let also = if *left_out > 0 { format!(" ({left_out} more since the last report)") } else { String::new() };
        *last = Some(Instant::now());
        *left_out = 0;
        drop(state);
        log_warning!("res_sticky: cannot connect to the history database: {}{also}", one_line(&error.to_string()));
    }
}

impl std::fmt::Debug for ConnectErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectErrors")
    }
}

/// A driver's message on one line, at most 240 characters.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(240).collect()
}

/// Whether a connection string sets `key` (any case).
pub fn has_key(connection: &str, key: &str) -> bool {
    crate::config::dsn::pairs(connection).iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// The `Driver` of a connection string, lower case (empty for a DSN).
pub fn driver_of(connection: &str) -> String {
    crate::config::dsn::pairs(connection)
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("driver"))
        .map(|(_, value)| value.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The connection string with network timeouts for drivers that take them
/// in the string, unless the administrator set them: a database that stops
/// answering (packets dropped, no reset) then fails a call within about
/// `timeout` instead of whenever TCP gives up. A named DSN keeps what
/// odbc.ini says. PostgreSQL's go into `pqopt` (libpq's own options),
/// beside any the administrator wrote there (`target_session_attrs`, say),
/// each unless already named.
pub fn with_network_timeouts(connection: &str, timeout: Duration) -> String {
    let driver = driver_of(connection);
    let seconds = timeout.as_secs().max(1);
    if driver.contains("postgres") {
        // psqlODBC refuses a pqopt key it also sets from its own keepalive options.
        let driver_keepalives = has_key(connection, "KeepaliveTime") || has_key(connection, "KeepaliveInterval");
        let ours = [
            ("tcp_user_timeout", timeout.as_millis().to_string()),
            ("keepalives", "1".to_string()),
            ("keepalives_idle", seconds.to_string()),
            ("keepalives_interval", "1".to_string()),
            ("keepalives_count", "3".to_string()),
        ];
        let ours = ours.into_iter().filter(|(key, _)| !(driver_keepalives && key.starts_with("keepalives")));
        with_libpq_options(connection, ours)
    } else if (driver.contains("mariadb") || driver.contains("mysql")) && !has_key(connection, "READ_TIMEOUT") {
        format!(
            "{};CONN_TIMEOUT={seconds};READ_TIMEOUT={seconds};WRITE_TIMEOUT={seconds}",
            connection.trim_end_matches(';')
        )
    } else {
        connection.to_string()
    }
}

/// The connection string with `options` added to its `pqopt` (psqlODBC's
/// libpq options), each unless the administrator's `pqopt` names it.
fn with_libpq_options(connection: &str, options: impl Iterator<Item = (&'static str, String)>) -> String {
    let parts = crate::config::dsn::pairs(connection);
    let theirs = parts.iter().find(|(key, _)| key.eq_ignore_ascii_case("pqopt")).map(|(_, value)| value.trim());
    let inside = theirs.map_or("", |value| value.strip_prefix('{').and_then(|v| v.strip_suffix('}')).unwrap_or(value));
    let named = libpq_keys(inside);
    let added: Vec<String> = options
        .filter(|(key, _)| !named.iter().any(|name| name == key))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if added.is_empty() {
        return connection.to_string();
    }
    let merged = match inside.trim() {
        "" => added.join(" "),
        theirs => format!("{theirs} {}", added.join(" ")),
    };
    let mut out: Vec<String> = parts
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("pqopt") && !key.is_empty())
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    out.push(format!("pqopt={{{merged}}}"));
    out.join(";")
}

/// The keys named in libpq options (`key=value key = 'v a l'`), lower case.
fn libpq_keys(options: &str) -> Vec<String> {
    let mut keys = Vec::new();
    // The last word outside a value, and whether blanks followed it.
    let (mut word, mut ended) = (String::new(), false);
    let mut chars = options.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '=' => {
                if !word.is_empty() {
                    keys.push(word.to_ascii_lowercase());
                }
                word.clear();
                // Skip the value: up to the next blank outside quotes.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                let mut quoted = false;
                while let Some(&next) = chars.peek() {
                    match next {
                        '\\' if quoted => {
                            chars.next();
                        }
                        '\'' => quoted = !quoted,
                        blank if blank.is_whitespace() && !quoted => break,
                        _ => {}
                    }
                    chars.next();
                }
            }
            blank if blank.is_whitespace() => ended = true,
            c => {
                if ended {
                    word.clear();
                    ended = false;
                }
                word.push(c);
            }
        }
    }
    keys
}

/// Pools get numbered names, so that closing one waits for its own thread.
static POOLS: AtomicU32 = AtomicU32::new(0);

pub struct Pool {
    pool: RwLock<Option<r2d2::Pool<Manager>>>,
    /// The prefix of the pool thread's name (`stpoolN-`).
    thread_prefix: String,
}

impl Pool {
    /// Builds the pool without connecting: a database that is down at load
    /// must not keep the module from loading; the first use connects.
    pub fn new(connection_string: &str, size: u32, timeout: Duration) -> Pool {
        let number = POOLS.fetch_add(1, Ordering::Relaxed) % 10_000;
        let thread_prefix = format!("stpool{number}-");
        let threads = ScheduledThreadPool::builder()
            .num_threads(1)
            .thread_name_pattern(&format!("{thread_prefix}{{}}"))
            .on_drop_behavior(OnPoolDropBehavior::DiscardPendingScheduled)
            .build();
        let manager = Manager {
            connection_string: with_network_timeouts(connection_string, timeout),
            login_timeout: timeout.as_secs_f64().ceil().max(1.0) as u32,
        };
        let pool = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .idle_timeout(None)
            .max_lifetime(None)
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .error_handler(Box::new(ConnectErrors::default()))
            .thread_pool(Arc::new(threads))
            .build_unchecked(manager);
        Pool { pool: RwLock::new(Some(pool)), thread_prefix }
    }

    /// A connection within `timeout`.
    pub fn get(&self, timeout: Duration) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        let pool = self.pool.read().clone().ok_or_else(|| StoreError::Unavailable("the pool is closed".into()))?;
        pool.get_timeout(timeout).map_err(|error| StoreError::Unavailable(one_line(&error.to_string())))
    }

    /// Connections (in use, open).
    pub fn state(&self) -> (u32, u32) {
        match &*self.pool.read() {
            Some(pool) => {
                let state = pool.state();
                (state.connections - state.idle_connections, state.connections)
            }
            None => (0, 0),
        }
    }

    /// Closes the pool (connections in use close when given back) and waits
    /// until its thread has ended or `deadline` passes.
    pub fn close(&self, deadline: Instant) -> bool {
        drop(self.pool.write().take());
        loop {
            if !thread_running(&self.thread_prefix) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Whether a thread of this process has a name starting with `prefix`.
pub fn thread_running(prefix: &str) -> bool {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return false;
    };
    tasks
        .filter_map(Result::ok)
        .any(|task| fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.trim_end().starts_with(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// psqlODBC reads the byte after the text it is given (found by
    /// `make memcheck`); that byte must be a NUL of our own allocation.
    #[test]
    fn text_for_the_driver_ends_in_a_nul_of_its_own() {
        for text in ["", "SELECT 1", "Driver=PostgreSQL Unicode;pqopt={keepalives=1}"] {
            let handed = terminated(text);
            assert_eq!(&*handed, text);
            assert_eq!(handed.0.as_bytes().get(text.len()), Some(&0), "{text:?}");
        }
        assert_eq!(&*terminated(String::from("x")), "x");
    }

    #[test]
    fn network_timeouts_for_drivers_that_take_them() {
        let second = Duration::from_secs(3);
        let pg = with_network_timeouts("Driver=PostgreSQL Unicode;Server=db;Port=5432", second);
        assert!(pg.ends_with(";pqopt={tcp_user_timeout=3000 keepalives=1 keepalives_idle=3 keepalives_interval=1 keepalives_count=3}"), "{pg}");
        let own = "Driver=PostgreSQL Unicode;Server=db;pqopt={keepalives=0 tcp_user_timeout = 500 keepalives_idle=9 \
                   keepalives_interval=2 keepalives_count=1}";
        assert_eq!(with_network_timeouts(own, second), own, "the administrator's own options win");
        let ha = with_network_timeouts(
            "Driver=PostgreSQL Unicode;Servername=pg1,pg2;Port=5432;pqopt={target_session_attrs=read-write keepalives=0}",
            second,
        );
        assert_eq!(
            ha,
            "Driver=PostgreSQL Unicode;Servername=pg1,pg2;Port=5432;pqopt={target_session_attrs=read-write \
             keepalives=0 tcp_user_timeout=3000 keepalives_idle=3 keepalives_interval=1 keepalives_count=3}",
            "ours beside the administrator's"
        );
        let driver = with_network_timeouts("Driver=PostgreSQL Unicode;KeepaliveTime=30", second);
        assert_eq!(driver, "Driver=PostgreSQL Unicode;KeepaliveTime=30;pqopt={tcp_user_timeout=3000}");
        assert_eq!(libpq_keys(r"a=1 b = 'x y=z' c='it\'s' d="), ["a", "b", "c", "d"]);
        let maria = with_network_timeouts("Driver=MariaDB Unicode;Server=db;", second);
        assert_eq!(maria, "Driver=MariaDB Unicode;Server=db;CONN_TIMEOUT=3;READ_TIMEOUT=3;WRITE_TIMEOUT=3");
        assert_eq!(with_network_timeouts("DSN=asterisk", second), "DSN=asterisk");
        assert_eq!(with_network_timeouts("Driver=SQLite3;Database=/x", second), "Driver=SQLite3;Database=/x");
    }

    #[test]
    fn a_closed_pool_ends_its_thread() {
        let pool = Pool::new("Driver=NoSuchDriver", 1, Duration::from_secs(1));
        let started = Instant::now();
        while !thread_running(&pool.thread_prefix) {
            assert!(started.elapsed() < Duration::from_secs(5), "the pool's thread never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(pool.get(Duration::from_millis(50)).is_err());
        assert!(pool.close(Instant::now() + Duration::from_secs(5)), "the thread ended");
        assert!(!thread_running(&pool.thread_prefix));
        assert!(matches!(pool.get(Duration::from_millis(50)), Err(StoreError::Unavailable(_))));
    }
}

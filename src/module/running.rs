//! The running module: the configuration, the rules derived from it, and the
//! history. Load starts it, reload reconfigures it, unload stops it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use crate::asterisk::config_file::{self, Loaded};
use crate::asterisk::paths;
use crate::config::{self, dsn, fallback_node, Config, General, Severity};
use crate::history::odbc::OdbcStore;
use crate::history::status::Snapshot;
use crate::history::store::Store;
use crate::history::{History, Settings};
use crate::host::vocabulary::Direction;
use crate::routing::agent::AgentRule;
use crate::routing::contact::LearnRule;
use crate::routing::decision::Availability;
use crate::routing::number::KeyRule;
use crate::routing::query::Filter;
use crate::{log_error, log_notice, log_warning, verbose};

const CONFIG_FILE: &str = "sticky.conf";

/// What is derived from the configuration once per load or reload.
pub struct Rules {
    pub config: Config,
    pub learn: LearnRule,
    pub node: Arc<str>,
    pub connection: String,
    pub notice_allow: regex::Regex,
    pub notice_zone: jiff::tz::TimeZone,
}

impl Rules {
    fn from(config: Config) -> Result<Rules, String> {
        let general = &config.general;
        let agents = AgentRule::new(&general.agent_pattern).map_err(|e| format!("agent_pattern: {e}"))?;
        let keys = KeyRule { match_digits: general.match_digits, min_digits: general.min_digits };
        let node: Arc<str> = Arc::from(general.node.clone().unwrap_or_else(|| {
            let (name, changed) = fallback_node(paths::system_name(), paths::host_name());
            if changed {
                log_notice!(
                    "res_sticky: this server's name does not fit a node name (1 to 64 of A-Z a-z 0-9 - _ .); \
                     contacts are stored with node {name} (set node in sticky.conf to choose)"
                );
            }
            name
        }));
        let connection = connection_string(general);
        let notice_allow = crate::notice::allow_pattern(&config.notice)?;
        let notice_zone = crate::notice::zone(&config.notice);
        let learn = LearnRule { keys, agents, scope_from_queue: general.scope_from_queue };
        Ok(Rules { learn, node, connection, notice_allow, notice_zone, config })
    }

    pub fn keys(&self) -> KeyRule {
        self.learn.keys
    }

    /// How STICKY_ROUTE judges whether an agent can take a call.
    pub fn availability(&self) -> Availability<'_> {
        let general = &self.config.general;
        Availability {
            state_template: &general.state_template,
            dial_template: &general.dial_template,
            available: &general.available_states,
        }
    }

    pub fn filter(&self, direction: Option<Direction>, scope: Option<Arc<str>>) -> Filter {
        Filter { direction, outbound_dispositions: self.config.general.outbound_dispositions.clone(), scope }
    }

    fn settings(&self) -> Settings {
        let general = &self.config.general;
        Settings {
            window: general.window,
            query_timeout: general.query_timeout,
            pool_size: general.pool_size,
            cache_size: general.cache_size,
            sync_interval: general.sync_interval,
            node: self.node.clone(),
            agents: self.learn.agents.clone(),
            retention: general.retention,
        }
    }
}

fn connection_string(general: &General) -> String {
    let mut connection = dsn::connection_string(general.dsn.as_deref(), &paths::db_dir());
    if general.dsn.is_none() {
        // SQLite waits this long for the writer's lock instead of failing.
        connection.push_str(";Timeout=2000");
    }
    connection
}

/// The module between load and unload.
pub struct Running {
    rules: RwLock<Arc<Rules>>,
    pub history: History,
    source: RwLock<String>,
    reloads: AtomicU64,
    started: Instant,
}

static RUNNING: RwLock<Option<Arc<Running>>> = RwLock::new(None);

/// Reads and validates sticky.conf, logging every problem with its line.
pub(super) fn read_config() -> Result<(Config, String), String> {
    match config_file::load(CONFIG_FILE) {
        Loaded::Missing => {
            log_notice!("{CONFIG_FILE} not found: running with the defaults (history in the embedded SQLite file)");
            Ok((Config::default(), format!("{CONFIG_FILE} (missing: defaults)")))
        }
        Loaded::Invalid => Err(format!("{CONFIG_FILE} could not be read (see the config loader's message above)")),
        Loaded::File(raw) => match config::parse(&raw) {
            Ok(parsed) => {
                for warning in &parsed.warnings {
                    log_warning!("{warning}");
                }
                Ok((parsed.config, CONFIG_FILE.to_string()))
            }
            Err(diagnostics) => {
                let mut errors = 0;
                for diagnostic in &diagnostics {
                    if diagnostic.severity == Severity::Error {
                        errors += 1;
                        log_error!("{diagnostic}");
                    } else {
                        log_warning!("{diagnostic}");
                    }
                }
                Err(format!("{errors} error(s) in {CONFIG_FILE}"))
            }
        },
    }
}

fn open_store(rules: &Rules) -> Arc<dyn Store> {
    let general = &rules.config.general;
    Arc::new(OdbcStore::new(&rules.connection, general.pool_size, general.query_timeout))
}

/// The journal of contacts not yet stored, next to astdb.
fn journal_dir() -> std::path::PathBuf {
    paths::db_dir().join("sticky-journal")
}

/// Where an earlier version kept contacts unwritten at a graceful stop.
fn legacy_pending() -> std::path::PathBuf {
    paths::db_dir().join("sticky.pending")
}

/// Starts the history with `config`.
pub fn start(config: Config, source: String) -> Result<(), String> {
    let rules = Rules::from(config)?;
    let journal_max = rules.config.general.journal_max;
    let history = History::start(rules.settings(), open_store(&rules), &journal_dir(), journal_max)?;
    let resumed = crate::history::journal::read_legacy(&legacy_pending());
    if !resumed.is_empty() {
        log_notice!("res_sticky: writing {} contacts an earlier version kept at its stop", resumed.len());
        // The old file goes only once its contacts are safe in the journal.
        if history.resume(resumed) {
            let _ = std::fs::remove_file(legacy_pending());
        } else {
            log_warning!("res_sticky: {} kept: the journal did not take its contacts", legacy_pending().display());
        }
    }
    let running = Running {
        rules: RwLock::new(Arc::new(rules)),
        history,
        source: RwLock::new(source),
        reloads: AtomicU64::new(0),
        started: Instant::now(),
    };
    verbose!(2, "res_sticky: history in {}", running.connection_shown());
    *RUNNING.write() = Some(Arc::new(running));
    Ok(())
}

/// Applies a reloaded configuration.
pub fn apply(config: Config, source: String) -> Result<(), String> {
    let running = current().ok_or("the module is not running")?;
    let rules = Rules::from(config)?;
    let old = running.rules();
    let changed = old.config != rules.config;
    let general = &rules.config.general;
    let new_store = (rules.connection != old.connection || general.pool_size != old.config.general.pool_size)
        .then(|| open_store(&rules));
    let keys_changed = rules.keys() != old.keys();
    running.history.reconfigure(rules.settings(), new_store, keys_changed);
    running.history.set_journal_max(rules.config.general.journal_max);
    *running.rules.write() = Arc::new(rules);
    *running.source.write() = source;
    running.reloads.fetch_add(1, Ordering::Relaxed);
    verbose!(
        2,
        "res_sticky: {CONFIG_FILE} {}",
        if changed { "reloaded, changes applied" } else { "reloaded, unchanged" }
    );
    Ok(())
}

/// Stops the history's threads.
pub fn stop() {
    // Taken first: the lock must not be held while the threads stop.
    let taken = RUNNING.write().take();
    if let Some(running) = taken {
        running.history.stop();
    }
}

/// Asterisk exits without unloading: the threads stop, but contacts the CDR
/// engine still posts are journaled as they come.
pub fn exit() {
    if let Some(running) = current() {
        running.history.stop_for_exit();
    }
}

/// The running module, between load and unload.
pub fn current() -> Option<Arc<Running>> {
    RUNNING.read().clone()
}

impl Running {
    pub fn rules(&self) -> Arc<Rules> {
        self.rules.read().clone()
    }

    pub fn config(&self) -> Config {
        self.rules().config.clone()
    }

    pub fn node(&self) -> String {
        self.rules().node.to_string()
    }

    pub fn connection_shown(&self) -> String {
        let rules = self.rules();
        let shown = dsn::redacted(&rules.connection);
        if rules.config.general.dsn.is_none() {
            format!("{shown} (embedded default)")
        } else {
            shown
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let history = self.history.snapshot();
        Snapshot {
            config_source: self.source.read().clone(),
            reloads: self.reloads.load(Ordering::Relaxed),
            uptime: self.started.elapsed(),
            history,
        }
    }
}

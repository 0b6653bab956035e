//! The running module: its configuration and counters, shared by every entry
//! point. Load creates it, reload swaps its configuration, unload stops it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use crate::asterisk::config_file::{self, Loaded};
use crate::asterisk::paths;
use crate::config::{self, dsn, Config, Severity};
use crate::status::Snapshot;
use crate::{log_error, log_notice, log_warning, verbose};

const CONFIG_FILE: &str = "sticky.conf";

pub struct Service {
    config: RwLock<Arc<Config>>,
    source: RwLock<String>,
    reloads: AtomicU64,
    started: Instant,
}

static SERVICE: RwLock<Option<Arc<Service>>> = RwLock::new(None);

/// Reads and validates sticky.conf, logging every problem with its line.
pub fn read_config() -> Result<(Config, String), String> {
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

pub fn start(config: Config, source: String) -> Result<(), String> {
    let service = Service {
        config: RwLock::new(Arc::new(config)),
        source: RwLock::new(source),
        reloads: AtomicU64::new(0),
        started: Instant::now(),
    };
    *SERVICE.write() = Some(Arc::new(service));
    Ok(())
}

/// Applies a reloaded configuration.
pub fn apply(config: Config, source: String) -> Result<(), String> {
    let service = current().ok_or("the module is not running")?;
    let changed = **service.config.read() != config;
    *service.config.write() = Arc::new(config);
    *service.source.write() = source;
    service.reloads.fetch_add(1, Ordering::Relaxed);
    verbose!(
        2,
        "res_sticky: {CONFIG_FILE} {}",
        if changed { "reloaded, changes applied" } else { "reloaded, unchanged" }
    );
    Ok(())
}

pub fn stop() {
    SERVICE.write().take();
}

pub fn current() -> Option<Arc<Service>> {
    SERVICE.read().clone()
}

/// A one-line summary for the load message.
pub fn describe() -> String {
    match current() {
        Some(service) => format!("history in {}", service.connection_shown()),
        None => "not running".into(),
    }
}

impl Service {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().clone()
    }

    pub fn node(&self) -> String {
        let config = self.config();
        config.general.node.clone().or_else(paths::system_name).unwrap_or_else(paths::host_name)
    }

    pub fn connection_shown(&self) -> String {
        let config = self.config();
        let connection = dsn::connection_string(config.general.dsn.as_deref(), &paths::db_dir());
        let shown = dsn::redacted(&connection);
        if config.general.dsn.is_none() {
            format!("{shown} (embedded default)")
        } else {
            shown
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let config = self.config();
        Snapshot {
            config_source: self.source.read().clone(),
            reloads: self.reloads.load(Ordering::Relaxed),
            uptime: self.started.elapsed(),
            database: "not opened yet".into(),
            pool_size: config.general.pool_size,
            ..Snapshot::default()
        }
    }
}

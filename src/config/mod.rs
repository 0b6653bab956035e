//! sticky.conf: the model, its defaults and the parser that validates it.
//!
//! Asterisk's own config loader reads the file (so `#include`, templates and
//! comments behave as in every other Asterisk config); this module turns what
//! it read into a [`Config`], naming the key and the line of every bad value.

pub mod dsn;
mod sections;
pub mod value;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::host::config::{RawConfig, RawEntry, RawSection};
use crate::host::vocabulary::{DeviceState, Disposition};
pub use crate::template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found in the file, located by section, key and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    pub section: String,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: [{}]", self.file, self.line, self.section)?;
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The `[general]` section: history, cache and routing.
#[derive(Debug, Clone, PartialEq)]
pub struct General {
    /// A unixODBC DSN or a full connection string; `None` = the embedded SQLite
    /// file in Asterisk's database directory.
    pub dsn: Option<String>,
    pub pool_size: u32,
    pub query_timeout: Duration,
    pub window: Duration,
    pub match_digits: usize,
    pub min_digits: usize,
    pub cache_size: usize,
    pub outbound_dispositions: Vec<Disposition>,
    pub state_template: Template,
    pub dial_template: Template,
    pub available_states: Vec<DeviceState>,
    /// How this server names itself in shared history; `None` = Asterisk's
    /// `systemname`, else the host name.
    pub node: Option<String>,
    /// Which channel interfaces are agents (a regular expression).
    pub agent_pattern: String,
    /// How often contacts other servers wrote are picked up; `None` = never.
    pub sync_interval: Option<Duration>,
    /// Where `sticky import cdr` reads the `cdr` table; `None` = `dsn`.
    pub import_dsn: Option<String>,
    /// The import query (one `?`: the start date); `None` = the FreePBX layout.
    pub import_query: Option<String>,
    /// The most the journal of contacts not yet stored may hold, in bytes.
    pub journal_max: u64,
    /// A queue call without `STICKY_SCOPE` is learned in the queue's scope.
    pub scope_from_queue: bool,
    /// Contacts older than this are pruned from the store; `None` = kept.
    pub retention: Option<Duration>,
    /// STICKY_ROUTE asks app_queue whether it would ring the agent when the
    /// contact's scope (or `queue`) names one of its queues.
    pub queue_aware: bool,
    /// The queue judged when the contact's scope names none; `None`: none.
    pub queue: Option<std::sync::Arc<str>>,
}

/// The `[notice]` section: SCHEDULE_NOTICE.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// `None` = `<spool>/sticky/notices`.
    pub notice_dir: Option<PathBuf>,
    pub notice_dial: Template,
    /// A regular expression a number must match to be rung.
    pub notice_allow: String,
    /// An IANA time zone name; `None` = the server's.
    pub timezone: Option<String>,
    pub max_ahead: Duration,
    pub max_record: Duration,
    pub retries: u32,
    pub retry_time: Duration,
    pub wait_time: Duration,
    pub max_per_hour: u32,
}

/// One `allow = number[,pin[,queue|queue...]]` line of `[mobile]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileAllow {
    /// The number, digits only.
    pub number: String,
    pub pin: Option<String>,
    /// Empty = any queue.
    pub queues: Vec<String>,
    pub line: u32,
}

/// The `[mobile]` section: MOBILE_AGENT.
#[derive(Debug, Clone, PartialEq)]
pub struct Mobile {
    pub member_template: Template,
    pub member_name: Template,
    pub penalty: u32,
    pub allow: Vec<MobileAllow>,
    pub max_failures: u32,
    pub lockout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub general: General,
    pub notice: Notice,
    pub mobile: Mobile,
}

/// Variables the `[general]` templates may use.
pub const AGENT_VARIABLES: &[&str] = &["AGENT", "INTERFACE"];
/// Variables the number templates (`notice_dial`, `member_template`) may use.
pub const NUMBER_VARIABLES: &[&str] = &["NUMBER"];

impl Default for Config {
    fn default() -> Config {
        Config {
            general: General {
                dsn: None,
                pool_size: 4,
                query_timeout: Duration::from_millis(250),
                window: Duration::from_secs(86_400),
                match_digits: 10,
                min_digits: 7,
                cache_size: 200_000,
                outbound_dispositions: vec![Disposition::Answered, Disposition::NoAnswer, Disposition::Busy],
                state_template: Template::parse("${INTERFACE}", AGENT_VARIABLES).expect("valid default"),
                dial_template: Template::parse("${INTERFACE}", AGENT_VARIABLES).expect("valid default"),
                available_states: vec![DeviceState::NotInUse],
                node: None,
                agent_pattern: crate::routing::agent::DEFAULT_AGENT_PATTERN.to_string(),
                sync_interval: Some(Duration::from_secs(1)),
                import_dsn: None,
                import_query: None,
                journal_max: 100 << 20,
                scope_from_queue: false,
                retention: None,
                queue_aware: true,
                queue: None,
            },
            notice: Notice {
                notice_dir: None,
                notice_dial: Template::parse("Local/${NUMBER}@from-internal", NUMBER_VARIABLES).expect("valid default"),
                notice_allow: r"^\+?[0-9]{7,15}$".to_string(),
                timezone: None,
                max_ahead: Duration::from_secs(30 * 86_400),
                max_record: Duration::from_secs(60),
                retries: 2,
                retry_time: Duration::from_secs(20),
                wait_time: Duration::from_secs(20),
                max_per_hour: 30,
            },
            mobile: Mobile {
                member_template: Template::parse("Local/${NUMBER}@from-internal/n", NUMBER_VARIABLES)
                    .expect("valid default"),
                member_name: Template::parse("Mobile ${NUMBER}", NUMBER_VARIABLES).expect("valid default"),
                penalty: 0,
                allow: Vec::new(),
                max_failures: 3,
                lockout: Duration::from_secs(15 * 60),
            },
        }
    }
}

/// The outcome of a successful parse: the config and what was worth a warning.
#[derive(Debug)]
pub struct Parsed {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Validates a loaded file. Any error makes the whole config unusable: the
/// module then declines to load (or, on reload, keeps its previous config).
pub fn parse(raw: &RawConfig) -> Result<Parsed, Vec<Diagnostic>> {
    let mut config = Config::default();
    let mut diagnostics = Vec::new();
    for section in &raw.sections {
        let mut sink = sections::Sink::new(&raw.file, &section.name, &mut diagnostics);
        match section.name.as_str() {
            "general" => sections::general(section, &mut config.general, &mut sink),
            "notice" => sections::notice(section, &mut config.notice, &mut sink),
            "mobile" => sections::mobile(section, &mut config.mobile, &mut sink),
            _ => sink.warn(first_line(section), None, "unknown section, ignored".into()),
        }
    }
    let mut sink = sections::Sink::new(&raw.file, "general", &mut diagnostics);
    sections::cross_check(raw, &config, &mut sink);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(diagnostics)
    } else {
        Ok(Parsed { config, warnings: diagnostics })
    }
}

fn first_line(section: &RawSection) -> u32 {
    section.entries.first().map(|entry| entry.line.saturating_sub(1)).unwrap_or(0)
}

/// The node name of a server whose sticky.conf names none: Asterisk's
/// `systemname`, else the host name, made to fit what the `node` key accepts
/// (the store's `node` column holds 64 characters: a longer name would
/// make every write fail on PostgreSQL, or be cut by MySQL so that no
/// `node = ?` ever matches). Returns the name, and whether it was changed.
pub fn fallback_node(system_name: Option<String>, host_name: String) -> (String, bool) {
    let wanted = system_name.filter(|name| !name.trim().is_empty()).unwrap_or(host_name);
    if let Ok(name) = sections::node_name(&wanted) {
        return (name, false);
    }
    let fitted: String = wanted
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .take(64)
        .collect();
    (if fitted.is_empty() { "asterisk".to_string() } else { fitted }, true)
}

/// Reads sticky.conf-style text into sections, for tests that run without
/// Asterisk (and for the fuzz targets). Comments start with `;`; `=>` is
/// accepted like `=`.
#[cfg(any(test, feature = "fuzzing"))]
pub fn raw_from_text(file: &str, text: &str) -> RawConfig {
    let mut raw = RawConfig { file: file.to_string(), sections: Vec::new() };
    for (index, line) in text.lines().enumerate() {
        let line_number = index as u32 + 1;
        let content = line.split(';').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if let Some(name) = content.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
            raw.sections.push(RawSection { name: name.trim().to_string(), entries: Vec::new() });
            continue;
        }
        let (key, value) = match content.split_once('=') {
            Some((key, value)) => (key.trim(), value.trim_start_matches('>').trim()),
            None => (content, ""),
        };
        if raw.sections.is_empty() {
            raw.sections.push(RawSection { name: String::new(), entries: Vec::new() });
        }
        let section = raw.sections.last_mut().expect("just ensured");
        section.entries.push(RawEntry { key: key.to_string(), value: value.to_string(), line: line_number });
    }
    raw
}

#[cfg(test)]
mod tests;

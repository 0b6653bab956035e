//! The per-section validators behind [`super::parse`].

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::value::{parse_bool, parse_integer_in, parse_list, parse_size_in};
use super::{
    Config, Diagnostic, General, Mobile, MobileAllow, Notice, RawConfig, RawEntry, RawSection, Severity, Template,
    AGENT_VARIABLES, NUMBER_VARIABLES,
};
use crate::host::vocabulary::{DeviceState, Disposition};
use crate::time::parse_duration_in;

/// Collects diagnostics for one section.
pub(super) struct Sink<'a> {
    file: &'a str,
    section: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(super) fn new(file: &'a str, section: &'a str, out: &'a mut Vec<Diagnostic>) -> Sink<'a> {
        Sink { file, section, out }
    }

    fn push(&mut self, severity: Severity, line: u32, key: Option<&str>, message: String) {
        self.out.push(Diagnostic {
            severity,
            file: self.file.to_string(),
            line,
            section: self.section.to_string(),
            key: key.map(str::to_string),
            message,
        });
    }

    pub(super) fn warn(&mut self, line: u32, key: Option<&str>, message: String) {
        self.push(Severity::Warning, line, key, message);
    }

    pub(super) fn error(&mut self, line: u32, key: Option<&str>, message: String) {
        self.push(Severity::Error, line, key, message);
    }
}

const SECOND: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);

type Apply<T> = fn(&mut T, &RawEntry) -> Result<(), String>;

/// Runs each entry through the setter its key names; `lists` may repeat.
fn apply_section<T>(section: &RawSection, target: &mut T, keys: &[(&str, Apply<T>)], lists: &[&str], sink: &mut Sink) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for entry in &section.entries {
        let key = entry.key.trim().to_ascii_lowercase();
        let Some((_, apply)) = keys.iter().find(|(name, _)| *name == key) else {
            sink.warn(entry.line, Some(&entry.key), "unknown key, ignored".into());
            continue;
        };
        if !lists.contains(&key.as_str()) {
            if let Some(earlier) = seen.insert(key.clone(), entry.line) {
                sink.warn(entry.line, Some(&key), format!("set again; this line overrides line {earlier}"));
            }
        }
        if let Err(message) = apply(target, entry) {
            sink.error(entry.line, Some(&key), message);
        }
    }
}

fn plain_text(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("a value is required".into());
    }
    if value.chars().any(char::is_control) {
        return Err("the value contains a control character".into());
    }
    Ok(value.to_string())
}

fn template_with(value: &str, allowed: &[&'static str], required: Option<&str>) -> Result<Template, String> {
    let template = Template::parse(value, allowed)?;
    if let Some(name) = required {
        if !template.uses(name) {
            return Err(format!("'{}' must use ${{{name}}}", template.source()));
        }
    }
    Ok(template)
}

fn digits_in(value: &str, min: usize, max: usize, what: &str) -> Result<String, String> {
    let value = value.trim();
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !(min..=max).contains(&digits.len()) {
        return Err(format!("'{value}' is not a {what} ({min} to {max} digits)"));
    }
    Ok(digits.to_string())
}

const GENERAL_KEYS: &[(&str, Apply<General>)] = &[
    ("dsn", |g, e| plain_text(&e.value).map(|v| g.dsn = Some(v))),
    ("pool_size", |g, e| parse_integer_in(&e.value, 1, 64).map(|v| g.pool_size = v as u32)),
    ("query_timeout", |g, e| {
        parse_duration_in(&e.value, Duration::from_millis(10), 30 * SECOND).map(|v| g.query_timeout = v)
    }),
    ("window", |g, e| parse_duration_in(&e.value, SECOND, 366 * DAY).map(|v| g.window = v)),
    ("match_digits", |g, e| parse_integer_in(&e.value, 4, 15).map(|v| g.match_digits = v as usize)),
    ("min_digits", |g, e| parse_integer_in(&e.value, 1, 15).map(|v| g.min_digits = v as usize)),
    ("cache_size", |g, e| parse_integer_in(&e.value, 100, 50_000_000).map(|v| g.cache_size = v as usize)),
    ("outbound_dispositions", |g, e| {
        parse_names(&e.value, Disposition::parse, "disposition", "ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION")
            .map(|v| g.outbound_dispositions = v)
    }),
    ("state_template", |g, e| template_with(&e.value, AGENT_VARIABLES, None).map(|v| g.state_template = v)),
    ("dial_template", |g, e| template_with(&e.value, AGENT_VARIABLES, None).map(|v| g.dial_template = v)),
    ("available_states", |g, e| {
        let all = DeviceState::ALL.map(DeviceState::as_str).join(", ");
        parse_names(&e.value, DeviceState::parse, "device state", &all).map(|v| g.available_states = v)
    }),
    ("node", |g, e| node_name(&e.value).map(|v| g.node = Some(v))),
    ("agent_pattern", |g, e| regex_pattern(&e.value).map(|v| g.agent_pattern = v)),
    ("sync_interval", |g, e| {
        let value = parse_duration_in(&e.value, Duration::ZERO, 60 * SECOND)?;
        if !value.is_zero() && value < Duration::from_millis(100) {
            return Err(format!("'{}' is too short (0 to turn the sync off, else at least 100ms)", e.value.trim()));
        }
        g.sync_interval = (!value.is_zero()).then_some(value);
        Ok(())
    }),
    ("scope_from_queue", |g, e| parse_bool(&e.value).map(|v| g.scope_from_queue = v)),
    ("queue_aware", |g, e| parse_bool(&e.value).map(|v| g.queue_aware = v)),
    ("queue", |g, e| crate::routing::scope::parse(&e.value).map(|v| g.queue = v)),
    ("retention", |g, e| {
        let text = e.value.trim();
        g.retention = match text {
            "" | "keep" | "0" => None,
            _ => Some(parse_duration_in(text, DAY, 3650 * DAY)?),
        };
        Ok(())
    }),
    ("journal_max", |g, e| parse_size_in(&e.value, 1 << 20, 1 << 40).map(|v| g.journal_max = v)),
    ("import_dsn", |g, e| plain_text(&e.value).map(|v| g.import_dsn = Some(v))),
    ("import_query", |g, e| {
        let query = plain_text(&e.value)?;
        if query.matches('?').count() != 1 || !query.to_ascii_lowercase().trim_start().starts_with("select") {
            return Err("the import query must be a SELECT with exactly one '?' (the start date)".into());
        }
        g.import_query = Some(query);
        Ok(())
    }),
];

pub(super) fn general(section: &RawSection, general: &mut General, sink: &mut Sink) {
    apply_section(section, general, GENERAL_KEYS, &[], sink);
}

fn parse_names<T: PartialEq>(
    value: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
    known: &str,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for item in parse_list(value) {
        let parsed = parse(&item).ok_or_else(|| format!("'{item}' is not a {what} (known: {known})"))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    if out.is_empty() {
        return Err(format!("at least one {what} is required"));
    }
    Ok(out)
}

pub(super) fn node_name(value: &str) -> Result<String, String> {
    let value = value.trim();
    let good = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !good {
        return Err(format!("'{value}' is not a node name (1 to 64 of A-Z a-z 0-9 - _ .)"));
    }
    Ok(value.to_string())
}

fn absolute_dir(value: &str) -> Result<PathBuf, String> {
    let text = plain_text(value)?;
    let path = Path::new(&text);
    if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("'{text}' must be an absolute path without '..'"));
    }
    Ok(path.to_path_buf())
}

fn regex_pattern(value: &str) -> Result<String, String> {
    let pattern = plain_text(value)?;
    regex::Regex::new(&pattern).map_err(|error| format!("'{pattern}' is not a valid pattern: {error}"))?;
    Ok(pattern)
}

fn time_zone(value: &str) -> Result<String, String> {
    let name = plain_text(value)?;
    jiff::tz::TimeZone::get(&name).map_err(|_| format!("'{name}' is not a known time zone (e.g. Europe/Moscow)"))?;
    Ok(name)
}

const NOTICE_KEYS: &[(&str, Apply<Notice>)] = &[
    ("notice_dir", |n, e| absolute_dir(&e.value).map(|v| n.notice_dir = Some(v))),
    ("notice_dial", |n, e| template_with(&e.value, NUMBER_VARIABLES, Some("NUMBER")).map(|v| n.notice_dial = v)),
    ("notice_allow", |n, e| regex_pattern(&e.value).map(|v| n.notice_allow = v)),
    ("timezone", |n, e| time_zone(&e.value).map(|v| n.timezone = Some(v))),
    ("max_ahead", |n, e| parse_duration_in(&e.value, 60 * SECOND, 366 * DAY).map(|v| n.max_ahead = v)),
    ("max_record", |n, e| parse_duration_in(&e.value, SECOND, 600 * SECOND).map(|v| n.max_record = v)),
    ("retries", |n, e| parse_integer_in(&e.value, 0, 20).map(|v| n.retries = v as u32)),
    ("retry_time", |n, e| parse_duration_in(&e.value, SECOND, DAY).map(|v| n.retry_time = v)),
    ("wait_time", |n, e| parse_duration_in(&e.value, 5 * SECOND, 300 * SECOND).map(|v| n.wait_time = v)),
    ("max_per_hour", |n, e| parse_integer_in(&e.value, 0, 100_000).map(|v| n.max_per_hour = v as u32)),
];

pub(super) fn notice(section: &RawSection, notice: &mut Notice, sink: &mut Sink) {
    apply_section(section, notice, NOTICE_KEYS, &[], sink);
}

fn queue_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let good =
        !name.is_empty() && name.len() <= 80 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !good {
        return Err(format!("'{name}' is not a queue name (A-Z a-z 0-9 - _ .)"));
    }
    Ok(name.to_string())
}

fn mobile_allow(value: &str, line: u32) -> Result<MobileAllow, String> {
    let mut fields = value.splitn(3, ',');
    let number = digits_in(fields.next().unwrap_or(""), 3, 15, "number")?;
    let pin = match fields.next().map(str::trim) {
        None | Some("") => None,
        Some(pin) => Some(digits_in(pin, 1, 16, "PIN").map_err(|_| "the PIN must be 1 to 16 digits".to_string())?),
    };
    let queues = match fields.next().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(list) => list.split('|').map(queue_name).collect::<Result<Vec<_>, _>>()?,
    };
    Ok(MobileAllow { number, pin, queues, line })
}

const MOBILE_KEYS: &[(&str, Apply<Mobile>)] = &[
    ("member_template", |m, e| {
        template_with(&e.value, NUMBER_VARIABLES, Some("NUMBER")).map(|v| m.member_template = v)
    }),
    ("member_name", |m, e| template_with(&e.value, NUMBER_VARIABLES, None).map(|v| m.member_name = v)),
    ("penalty", |m, e| parse_integer_in(&e.value, 0, 1000).map(|v| m.penalty = v as u32)),
    ("allow", |m, e| {
        let allow = mobile_allow(&e.value, e.line)?;
        m.allow.retain(|earlier| earlier.number != allow.number);
        m.allow.push(allow);
        Ok(())
    }),
    ("max_failures", |m, e| parse_integer_in(&e.value, 1, 100).map(|v| m.max_failures = v as u32)),
    ("lockout", |m, e| parse_duration_in(&e.value, SECOND, 7 * DAY).map(|v| m.lockout = v)),
];

pub(super) fn mobile(section: &RawSection, mobile: &mut Mobile, sink: &mut Sink) {
    apply_section(section, mobile, MOBILE_KEYS, &["allow"], sink);
}

/// Checks that span keys: each is valid alone, but not with the other.
pub(super) fn cross_check(raw: &RawConfig, config: &Config, sink: &mut Sink) {
    let line_of = |section: &str, key: &str| {
        raw.sections
            .iter()
            .filter(|s| s.name == section)
            .flat_map(|s| s.entries.iter())
            .filter(|e| e.key.trim().eq_ignore_ascii_case(key))
            .map(|e| e.line)
            .next_back()
            .unwrap_or(0)
    };
    let general = &config.general;
    for (key, value) in [("dsn", &general.dsn), ("import_dsn", &general.import_dsn)] {
        if let Some(why) = value.as_deref().and_then(super::dsn::looks_cut_at_semicolon) {
            sink.warn(line_of("general", key), Some(key), why);
        }
    }
    if general.min_digits > general.match_digits {
        sink.error(
            line_of("general", "min_digits"),
            Some("min_digits"),
            format!("{} is more than match_digits ({})", general.min_digits, general.match_digits),
        );
    }
}

//! Entry points for the fuzz targets in `fuzz/` (built only with the
//! `fuzzing` feature, never into the module).
//!
//! Each function feeds one parser of outside text — dialplan arguments,
//! channel names, sticky.conf, the journal — with the fuzzer's bytes and
//! checks what the module relies on afterwards: a panic here is a crash the
//! fuzzer reports. The parsers stay private to the crate; only these
//! checks are exposed.

use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use once_cell::sync::Lazy;
use regex::Regex;

use crate::config::{self, dsn, value};
use crate::history::journal;
use crate::host::vocabulary::{Direction, Disposition};
use crate::notice::spool::{is_safe_line_value, CallFile};
use crate::notice::{options as notice_options, target, when};
use crate::routing::agent::{self, Agent, AgentRule};
use crate::routing::contact::{Contact, StoredRow};
use crate::routing::number::{KeyRule, NumberKey, MAX_DIGITS};
use crate::routing::query;
use crate::routing::scope;
use crate::template::Template;
use crate::time;

/// The fuzzer's bytes as Asterisk hands text over: invalid UTF-8 replaced.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Splits the input into `N` fields on NUL bytes (missing ones empty).
fn fields<const N: usize>(data: &[u8]) -> [String; N] {
    let mut parts = data.splitn(N, |b| *b == 0);
    std::array::from_fn(|_| parts.next().map(text).unwrap_or_default())
}

fn is_scope(text: &str) -> bool {
    text.len() <= scope::MAX_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Number keys: `KeyRule::parse` (caller ID, dialplan arguments) and
/// `NumberKey::from_stored` (rows read back).
pub fn number(data: &[u8]) {
    let (rule_byte, rest) = data.split_first().unwrap_or((&0, &[]));
    // The ranges sticky.conf allows (match_digits 4–15, min_digits 1–15, min ≤ match).
    let match_digits = 4 + (*rule_byte as usize & 0x0f) % 12;
    let min_digits = 1 + (*rule_byte as usize >> 4) % match_digits;
    let rule = KeyRule { match_digits, min_digits };
    let input = text(rest);
    if let Ok((key, full)) = rule.parse(&input) {
        let key_text = key.as_str();
        assert!(!key_text.is_empty() && key_text.len() <= match_digits, "key {key_text:?} of {input:?}");
        assert!(key_text.bytes().all(|b| b.is_ascii_digit()));
        let digits = full.strip_prefix('+').unwrap_or(&full);
        assert!(digits.len() >= min_digits && digits.len() <= MAX_DIGITS);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "full number {full:?} of {input:?}");
        assert!(digits.ends_with(key_text));
        // A key stored is a key read back, and the full number keys the same.
        assert_eq!(NumberKey::from_stored(key_text).as_ref(), Some(&key));
        assert_eq!(rule.key(&full), Ok(key));
    }
    if let Some(key) = NumberKey::from_stored(&input) {
        assert_eq!(key.as_str(), input);
        assert!(input.bytes().all(|b| b.is_ascii_digit()));
    }
}

/// Windows and durations (dialplan windows, every sticky.conf duration) and
/// the other sticky.conf value syntaxes.
pub fn duration(data: &[u8]) {
    let input = text(data);
    if let Ok(parsed) = time::parse_duration(&input) {
        // What is shown (CLI, logs) reads back as the same duration.
        let shown = time::format_duration(parsed);
        assert_eq!(time::parse_duration(&shown), Ok(parsed), "{input:?} shown as {shown:?}");
    }
    let default = Duration::from_secs(30 * 86_400);
    if let Ok(window) = query::parse_window(&input, default) {
        assert!(window >= Duration::from_secs(1) && window <= Duration::from_secs(366 * 86_400));
    }
    if let Ok(value) = value::parse_integer_in(&input, 1, 64) {
        assert!((1..=64).contains(&value));
    }
    if let Ok(value) = value::parse_size_in(&input, 1 << 20, 1 << 40) {
        assert!(((1 << 20)..=(1 << 40)).contains(&value));
    }
    let _ = value::parse_bool(&input);
    for item in value::parse_list(&input) {
        assert!(!item.is_empty() && !item.contains(',') && item.trim() == item);
    }
}

/// STICKY_ROUTE / LAST_AGENT arguments: `number[,window[,options[,scope]]]`,
/// options with `w(N)`, the scope; a queue's data as a scope.
pub fn route_arguments(data: &[u8]) {
    let input = text(data);
    if let Ok(arguments) = query::parse_arguments(&input, Duration::from_secs(86_400)) {
        assert!(!arguments.number.contains(','));
        assert!(arguments.window >= Duration::from_secs(1));
        if let Some(wait) = arguments.options.wait {
            assert!(wait >= Duration::from_secs(1) && wait <= query::MAX_WAIT);
        }
        if let Some(scope) = &arguments.scope {
            assert!(!scope.is_empty() && is_scope(scope), "scope {scope:?} of {input:?}");
        }
    }
    if let Ok(options) = query::parse_options(&input) {
        if let Some(wait) = options.wait {
            assert!(wait >= Duration::from_secs(1) && wait <= query::MAX_WAIT);
        }
    }
    if let Some(scope) = scope::of_queue(&input) {
        assert!(!scope.is_empty() && is_scope(&scope));
    }
    let _ = scope::is_scope_variable(&input);
}

/// `notice_allow` as a test configuration would set it.
static NOTICE_ALLOW: Lazy<Regex> = Lazy::new(|| Regex::new(r"^\+?7[0-9]{10}$").expect("valid pattern"));

/// SCHEDULE_NOTICE and MOBILE_AGENT arguments and options, and the number a
/// notice would ring.
pub fn app_arguments(data: &[u8]) {
    let input = text(data);
    if let Ok(request) = crate::notice::parse_request(&input) {
        let options = request.options;
        if let Some(retries) = options.retries {
            assert!(retries <= 20);
        }
        if let Some(seconds) = options.retry_time {
            assert!((1..=86_400).contains(&seconds));
        }
        if let Some(seconds) = options.wait_time {
            assert!((5..=300).contains(&seconds));
        }
        if let Some(caller_id) = &options.caller_id {
            // It goes into a call file line.
            assert!(is_safe_line_value(caller_id), "caller id {caller_id:?}");
        }
    }
    let _ = notice_options::parse(&input);
    if let Ok(request) = crate::mobile::parse_request(&input) {
        assert!(!request.queue.contains(',') && !request.number.contains(','));
    }
    let _ = crate::mobile::is_valid_queue(&input);
    for min_digits in [1, 7] {
        if let Ok(number) = target::dialable(&input, min_digits) {
            let digits = number.strip_prefix('+').unwrap_or(&number);
            assert!(digits.len() >= min_digits && digits.len() <= target::MAX_DIGITS);
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "dialable {number:?} of {input:?}");
            assert!(is_safe_line_value(&number));
        }
        if let Ok(number) = target::allowed(&input, min_digits, &NOTICE_ALLOW) {
            assert!(NOTICE_ALLOW.is_match(&number));
        }
    }
}

static ZONES: Lazy<Vec<TimeZone>> = Lazy::new(|| {
    ["UTC", "Europe/Moscow", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
        .iter()
        .map(|name| TimeZone::get(name).unwrap_or(TimeZone::UTC))
        .collect()
});

/// SCHEDULE_NOTICE times: absolute, keypad and relative, in several time
/// zones, from a `now` moved by the first bytes (so DST changes are near).
pub fn notice_time(data: &[u8]) {
    let (head, rest) = if data.len() >= 3 { data.split_at(3) } else { (&[][..], data) };
    let shift_hours = head.first().map_or(0, |b| *b as i64) * 24 * 3 + head.get(1).map_or(0, |b| *b as i64);
    let zone = &ZONES[head.get(2).map_or(0, |b| *b as usize) % ZONES.len()];
    let base: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid timestamp");
    let now = base.checked_add(jiff::SignedDuration::from_hours(shift_hours)).expect("in range");
    let max_ahead = Duration::from_secs(30 * 86_400);
    let input = text(rest);
    if let Ok(due) = when::parse_when(&input, now, zone, max_ahead) {
        assert!(due > now, "{input:?} gave {due} at {now}");
        assert!(due.as_second() <= now.as_second() + max_ahead.as_secs() as i64);
    }
}

/// A sticky.conf as Asterisk's config loader would hand it over, and the
/// DSN forms: connection strings and their redaction.
pub fn config(data: &[u8]) {
    let input = text(data);
    let raw = config::raw_from_text("sticky.conf", &input);
    let _ = config::parse(&raw);
    let connection = dsn::connection_string(Some(&input), std::path::Path::new("/var/lib/asterisk"));
    let redacted = dsn::redacted(&connection);
    // Read back, the redacted string holds no password value but `***`.
    for (key, value) in dsn::pairs(&redacted) {
        if matches!(key.to_ascii_lowercase().as_str(), "pwd" | "password") {
            assert_eq!(value, "***", "{connection:?} redacted as {redacted:?}");
        }
    }
}

const VARIABLES: [&str; 3] = ["AGENT", "INTERFACE", "NUMBER"];

/// Templates (`dial_template`, notice channels): parsed, then rendered.
pub fn template(data: &[u8]) {
    let input = text(data);
    let Ok(template) = Template::parse(&input, &VARIABLES) else { return };
    assert_eq!(template.source(), input.trim());
    assert!(!template.source().chars().any(char::is_control));
    // Rendering each variable as itself gives the source back: no text is
    // lost, reordered or taken for a variable.
    let same = template.render(|name| format!("${{{name}}}"));
    assert_eq!(same, template.source());
    let empty = template.render(|_| String::new());
    for name in VARIABLES {
        assert_eq!(template.uses(name), template.source().contains(&format!("${{{name}}}")));
        if template.uses(name) {
            assert!(empty.len() < template.source().len());
        }
    }
}

static DEFAULT_RULE: Lazy<AgentRule> =
    Lazy::new(|| AgentRule::new(agent::DEFAULT_AGENT_PATTERN).expect("the default pattern compiles"));
static OPEN_RULE: Lazy<AgentRule> = Lazy::new(|| AgentRule::new(".").expect("compiles"));

/// Agents and interfaces read from channel names; an agent a live call
/// gives is one the store's checks accept when it is read back.
pub fn agent(data: &[u8]) {
    let channel = text(data);
    if let Some(interface) = agent::interface_of(&channel) {
        assert!(channel.starts_with(interface) && interface.contains('/'));
    }
    if let Some(id) = agent::id_of(&channel) {
        assert!(!id.is_empty() && !id.contains('/') && !id.contains('@'));
    }
    for rule in [&*DEFAULT_RULE, &*OPEN_RULE] {
        if let Some(found) = rule.agent(&channel) {
            assert!(agent::is_safe_agent_text(&found.id) && agent::is_safe_agent_text(&found.interface));
            assert!(rule.accepts(&found), "{found:?} from {channel:?} refused when read back");
        }
    }
    let _ = agent::is_safe_agent_text(&channel);
}

/// A call file from fields as the notice flow fills them: rendered only
/// when every field is safe, and then exactly the lines and keys expected,
/// each value the field given — nothing in a field adds a line or a key.
pub fn call_file(data: &[u8]) {
    let [id, number, channel, caller_id, recording, operator, counts] = fields::<7>(data);
    let counts = counts.as_bytes();
    let count = |i: usize| counts.get(i).map_or(0, |b| *b as u32);
    let file = CallFile {
        id,
        number,
        channel,
        caller_id: (!caller_id.is_empty() || count(3) % 2 == 1).then_some(caller_id),
        recording,
        retries: count(0),
        retry_time: count(1) * 7,
        wait_time: count(2) + 5,
        operator,
    };
    let Ok(rendered) = file.render() else { return };
    let mut expected = vec![("Channel", file.channel.clone())];
    if let Some(caller_id) = &file.caller_id {
        expected.push(("CallerID", format!("<{caller_id}>")));
    }
    expected.extend([
        ("MaxRetries", file.retries.to_string()),
        ("RetryTime", file.retry_time.to_string()),
        ("WaitTime", file.wait_time.to_string()),
        ("Application", "Playback".to_string()),
        ("Data", file.recording.clone()),
        ("Archive", "yes".to_string()),
        ("Set", format!("NOTICE_ID={}", file.id)),
        ("Set", format!("NOTICE_NUMBER={}", file.number)),
        ("Set", format!("NOTICE_OPERATOR={}", file.operator)),
    ]);
    assert!(rendered.ends_with('\n'));
    assert!(!rendered.contains(['\r', ';', '#', '\0']), "{rendered:?}");
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{rendered:?}");
    for (line, (key, value)) in lines.iter().zip(&expected) {
        assert_eq!(line.split_once(": "), Some((*key, value.as_str())), "{rendered:?}");
    }
    for value in [&file.id, &file.number, &file.operator] {
        // A Set: value never holds a second assignment.
        assert!(!value.contains('='));
    }
}

/// The journal reader over arbitrary segment bytes: every line either a
/// record or counted as skipped, and every record's fields rechecked by
/// `Contact::from_row` as the replay does.
pub fn journal_read(data: &[u8]) {
    let (rows, skipped) = journal::parse(data);
    let lines = data.split(|b| *b == b'\n').count() as u64 - u64::from(data.is_empty() || data.ends_with(b"\n"));
    assert_eq!(rows.len() as u64 + skipped, lines, "{} rows, {skipped} skipped", rows.len());
    for row in &rows {
        if let Some(contact) = Contact::from_row(row) {
            assert!(agent::is_safe_agent_text(&contact.agent.id));
            assert!(agent::is_safe_agent_text(&contact.agent.interface));
            assert!(is_scope(&contact.scope));
        }
    }
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = journal::decode(line);
    }
}

fn pick<T: Copy>(choices: &[T], byte: u8) -> T {
    choices[byte as usize % choices.len()]
}

/// Encode → decode: any contact, its free-text fields (node, call id)
/// holding tabs, newlines and `%`, comes back whole; a record cut anywhere
/// is skipped, never misread; one flipped byte is never read as another
/// contact.
pub fn journal_round_trip(data: &[u8]) {
    let [number, agent_id, interface, node, call_id, client, scope, tail] = fields::<8>(data);
    let tail = tail.as_bytes();
    let byte = |i: usize| tail.get(i).copied().unwrap_or(0);
    let started_at = i64::from_le_bytes(std::array::from_fn(|i| byte(i + 2)));
    let Some(number) = NumberKey::from_stored(&number).or_else(|| NumberKey::from_stored("9123456789")) else {
        unreachable!("a valid key")
    };
    let contact = Contact {
        number,
        agent: Agent { id: Arc::from(agent_id.as_str()), interface: Arc::from(interface.as_str()) },
        direction: pick(&[Direction::Inbound, Direction::Outbound], byte(0)),
        disposition: pick(
            &[
                Disposition::Answered,
                Disposition::NoAnswer,
                Disposition::Busy,
                Disposition::Failed,
                Disposition::Congestion,
            ],
            byte(1),
        ),
        started_at,
        node: Arc::from(node.as_str()),
        call_id,
        client,
        scope: Arc::from(scope.as_str()),
    };
    let record = journal::encode(&contact);
    assert!(record.ends_with(b"\n") && record.iter().filter(|b| **b == b'\n').count() == 1);
    let (rows, skipped) = journal::parse(&record);
    assert_eq!((rows.len(), skipped), (1, 0));
    let row = &rows[0];
    let expected = StoredRow {
        number: contact.number.as_str().to_string(),
        agent_id: contact.agent.id.to_string(),
        agent_interface: contact.agent.interface.to_string(),
        direction: contact.direction.as_str().to_string(),
        disposition: contact.disposition.as_str().to_string(),
        started_at,
        node: contact.node.to_string(),
        call_id: contact.call_id.clone(),
        client: contact.client.clone(),
        scope: contact.scope.to_string(),
    };
    assert_eq!(format!("{row:?}"), format!("{expected:?}"));
    if let Some(back) = Contact::from_row(row) {
        assert_eq!(back.number, contact.number);
        assert_eq!(back.agent, contact.agent);
        assert_eq!(back.started_at, started_at);
    }
    // A torn tail: any prefix of the record reads as nothing.
    let cut = byte(10) as usize * 256 + byte(11) as usize;
    let cut = cut % record.len();
    let (rows, _) = journal::parse(&record[..cut]);
    assert!(rows.is_empty(), "a record cut at {cut} of {} was read", record.len());
    // Damage: one byte changed is never read as a different contact (the
    // CRC-32 catches every single-byte error in the body; the header's
    // damage leaves the line unreadable).
    let at = (byte(12) as usize * 256 + byte(13) as usize) % (record.len() - 1);
    let mut damaged = record.clone();
    damaged[at] ^= byte(14).max(1);
    let (rows, _) = journal::parse(&damaged);
    for row in rows {
        assert_eq!(format!("{row:?}"), format!("{expected:?}"), "damage at {at} misread");
    }
}

//! SCHEDULE_NOTICE: an operator schedules a call that plays a recorded
//! message to a client at a given time (during a call, after it to the last
//! client, or any time with number, time and message given).
//!
//! The flow is written against [`Phone`], the few things it needs from a
//! channel, so that it is tested here with a scripted phone and runs in
//! Asterisk on the real channel.

pub mod limit;
pub mod options;
pub mod spool;
pub mod target;
pub mod when;

#[cfg(test)]
mod tests;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use regex::Regex;

use self::limit::Limiter;
use self::options::NoticeOptions;
use self::spool::{CallFile, Spool};
use self::when::{parse_when, WhenError};
use crate::config::Notice as NoticeConfig;
use crate::text::shown;
use crate::time;
use crate::{log_notice, log_warning, verbose};

/// The values of `NOTICE_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    Scheduled,
    InvalidNumber,
    InvalidTime,
    PastTime,
    NoRecording,
    SpoolError,
    Hangup,
    /// The operator reached `max_per_hour`.
    RateLimited,
    /// The application's arguments are wrong (a dialplan error, logged).
    Error,
}

impl NoticeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStatus::Scheduled => "SCHEDULED",
            NoticeStatus::InvalidNumber => "INVALID_NUMBER",
            NoticeStatus::InvalidTime => "INVALID_TIME",
            NoticeStatus::PastTime => "PAST_TIME",
            NoticeStatus::NoRecording => "NO_RECORDING",
            NoticeStatus::SpoolError => "SPOOL_ERROR",
            NoticeStatus::Hangup => "HANGUP",
            NoticeStatus::RateLimited => "RATE_LIMITED",
            NoticeStatus::Error => "ERROR",
        }
    }
}

pub use crate::caller::{Caller, Hungup};

/// What the flow needs from the operator's channel besides prompts and keys.
pub trait Phone: Caller {
    /// Records into `path` (no extension) until `#` or `max`, after a beep
    /// unless `quiet`; the length recorded.
    fn record(&self, path: &str, quiet: bool, max: Duration) -> Result<Duration, Hungup>;
    /// Says a time: weekday, date and time of day in `zone`. A key in `keys`
    /// pressed meanwhile stops it and is returned.
    fn say_time(&self, due: Timestamp, zone: &str, keys: &str) -> Result<Option<char>, Hungup>;
    fn sound_exists(&self, name: &str) -> bool;
    /// Runs blocking work (disk, database) while the channel goes on being
    /// serviced.
    fn away(&self, work: &mut dyn FnMut()) {
        work()
    }
}

/// `[number][,when[,recording[,options]]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub number: String,
    pub when: String,
    pub recording: String,
    pub options: NoticeOptions,
}

pub fn parse_request(data: &str) -> Result<Request, String> {
    let parts: Vec<&str> = data.splitn(4, ',').collect();
    let part = |i: usize| parts.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
    Ok(Request { number: part(0), when: part(1), recording: part(2), options: options::parse(&part(3))? })
}

/// Everything the flow uses besides the phone.
pub struct Context<'a> {
    pub config: &'a NoticeConfig,
    /// `notice_allow`, compiled once per load or reload.
    pub allow: &'a Regex,
    pub min_digits: usize,
    pub zone: TimeZone,
    pub spool: &'a Spool,
    pub notice_dir: &'a Path,
    pub limiter: &'a Limiter,
    /// Who is scheduling (the interface of the operator's channel).
    pub operator: String,
    /// Numbers of the party bridged to the operator, best first.
    pub bridged: Vec<String>,
    /// The last client this operator talked to (option `l`).
    pub last_client: &'a dyn Fn() -> Option<String>,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: NoticeStatus,
    pub id: Option<String>,
}

impl Outcome {
    fn of(status: NoticeStatus) -> Outcome {
        Outcome { status, id: None }
    }
}

/// A new notice id: ten characters of [a-z0-9] from the system's random source.
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 10];
    let filled = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok();
    if !filled {
        // No random source: time and process make a unique enough id.
        let fallback =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
                ^ u128::from(std::process::id());
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = (fallback >> (i * 7)) as u8;
        }
    }
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Notice ids as the CLI accepts them.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A sound name given to SCHEDULE_NOTICE: a name under Asterisk's sounds
/// directory (`custom/promo`) or a path inside `notice_dir`; no `..`, no
/// extension, nothing a call file or Playback() would read specially.
pub fn checked_recording(name: &str, notice_dir: &Path) -> Result<String, String> {
    let segment =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
    let relative = match name.strip_prefix('/') {
        Some(_) => {
            let inside = Path::new(name)
                .strip_prefix(notice_dir)
                .map_err(|_| format!("'{}' is outside notice_dir", shown(name)))?;
            inside.to_string_lossy().into_owned()
        }
        None => name.to_string(),
    };
    let good = !relative.is_empty() && relative.split('/').count() <= 4 && relative.split('/').all(segment);
    if !good {
        return Err(format!("'{}' is not a sound name", shown(name)));
    }
    Ok(name.to_string())
}

/// Removes a notice's recording (`<id>.<format>` in `notice_dir`).
pub fn remove_recording(notice_dir: &Path, id: &str) {
    if let Ok(entries) = fs::read_dir(notice_dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&format!("{id}.")) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn when_status(error: &WhenError) -> NoticeStatus {
    match error {
        WhenError::Past => NoticeStatus::PastTime,
        WhenError::Invalid(_) => NoticeStatus::InvalidTime,
    }
}

/// Keys the time in, hears it read back and confirms with 1 (2: again).
fn ask_time(phone: &dyn Phone, context: &Context, quiet: bool) -> Result<Result<Timestamp, WhenError>, Hungup> {
    let zone_name = context.zone.iana_name().unwrap_or("UTC").to_string();
    let mut last = Err(WhenError::Invalid("no time keyed in".into()));
    for _attempt in 0..3 {
        let prompt: &[&str] = if quiet { &[] } else { &["beep"] };
        let keyed = phone.read_digits(prompt, 32, Duration::from_secs(20))?;
        last = parse_when(&keyed, context.now, &context.zone, context.config.max_ahead);
        let due = match &last {
            Ok(due) => *due,
            Err(error) => {
                verbose!(3, "SCHEDULE_NOTICE: keyed time '{}' refused: {error:?}", shown(&keyed));
                if !quiet {
                    phone.play(&["pbx-invalid"])?;
                }
                continue;
            }
        };
        if quiet {
            return Ok(last);
        }
        let answer = match phone.say_time(due, &zone_name, "12")? {
            Some(key) => key.to_string(),
            None => phone.read_digits(&["if-correct-press", "digits/1"], 1, Duration::from_secs(8))?,
        };
        if answer == "1" {
            return Ok(last);
        }
        last = Err(WhenError::Invalid("not confirmed".into()));
    }
    Ok(last)
}

/// Schedules one notice. Every path ends in a status; every failure after
/// recording removes the recording.
pub fn schedule(request: &Request, context: &Context, phone: &dyn Phone) -> Outcome {
    let config = context.config;
    let candidates: Vec<String> = if !request.number.is_empty() {
        vec![request.number.clone()]
    } else if request.options.last_client {
        let mut last = None;
        phone.away(&mut || last = (context.last_client)());
        last.into_iter().collect()
    } else {
        context.bridged.clone()
    };
    let number =
        match candidates.iter().map(|n| target::allowed(n, context.min_digits, context.allow)).find(Result::is_ok) {
            Some(Ok(number)) => number,
            _ => {
                let tried: Vec<String> = candidates.iter().map(|n| format!("'{}'", shown(n))).collect();
                log_notice!(
                    "SCHEDULE_NOTICE by {}: no valid number to call ({})",
                    context.operator,
                    if tried.is_empty() { "none given, none bridged".into() } else { tried.join(", ") }
                );
                return Outcome::of(NoticeStatus::InvalidNumber);
            }
        };
    let given_time = if request.when.is_empty() {
        None
    } else {
        match parse_when(&request.when, context.now, &context.zone, config.max_ahead) {
            Ok(due) => Some(due),
            Err(error) => {
                log_notice!(
                    "SCHEDULE_NOTICE by {}: time '{}' refused: {error:?}",
                    context.operator,
                    shown(&request.when)
                );
                return Outcome::of(when_status(&error));
            }
        }
    };
    if !context.limiter.allow(&context.operator, config.max_per_hour, Instant::now()) {
        log_warning!(
            "SCHEDULE_NOTICE by {}: refused, {} notices in the last hour already",
            context.operator,
            config.max_per_hour
        );
        return Outcome::of(NoticeStatus::RateLimited);
    }
    let outcome = schedule_checked(request, context, phone, number, given_time);
    if outcome.status != NoticeStatus::Scheduled {
        context.limiter.release(&context.operator);
    }
    outcome
}

fn schedule_checked(
    request: &Request,
    context: &Context,
    phone: &dyn Phone,
    number: String,
    given_time: Option<Timestamp>,
) -> Outcome {
    let id = new_id();
    let quiet = request.options.quiet;
    let recording = match recording(request, context, phone, &id) {
        Ok(recording) => recording,
        Err(status) => return Outcome::of(status),
    };
    let recorded_here = request.recording.is_empty();
    let cleanup = |status: NoticeStatus| {
        if recorded_here {
            remove_recording(context.notice_dir, &id);
        }
        Outcome::of(status)
    };
    let due = match given_time {
        Some(due) => due,
        None => match ask_time(phone, context, quiet) {
            Err(Hungup) => return cleanup(NoticeStatus::Hangup),
            Ok(Err(error)) => return cleanup(when_status(&error)),
            Ok(Ok(due)) => due,
        },
    };
    if let Err(error) = write_call_file(request, context, phone, &id, &number, recording, due) {
        log_warning!("SCHEDULE_NOTICE by {}: the call file could not be written: {error}", context.operator);
        return cleanup(NoticeStatus::SpoolError);
    }
    log_notice!(
        "SCHEDULE_NOTICE: notice {id} to {number} at {} ({}) scheduled by {}",
        time::local_time(due.as_millisecond(), &context.zone),
        context.zone.iana_name().unwrap_or("local time"),
        context.operator
    );
    if !quiet && request.when.is_empty() {
        let _ = phone.play(&["auth-thankyou"]);
    }
    Outcome { status: NoticeStatus::Scheduled, id: Some(id) }
}

/// The message the notice plays: recorded now (into `notice_dir`, named by
/// the notice's id) or the sound file given, checked.
fn recording(request: &Request, context: &Context, phone: &dyn Phone, id: &str) -> Result<String, NoticeStatus> {
    if !request.recording.is_empty() {
        return match checked_recording(&request.recording, context.notice_dir) {
            Ok(name) if phone.sound_exists(&name) => Ok(name),
            Ok(name) => {
                log_notice!("SCHEDULE_NOTICE by {}: sound '{name}' does not exist", context.operator);
                Err(NoticeStatus::NoRecording)
            }
            Err(error) => {
                log_notice!("SCHEDULE_NOTICE by {}: {error}", context.operator);
                Err(NoticeStatus::NoRecording)
            }
        };
    }
    if spool::ensure_private_dir(context.notice_dir).is_err() {
        log_warning!("SCHEDULE_NOTICE: cannot create notice_dir {}", context.notice_dir.display());
        return Err(NoticeStatus::SpoolError);
    }
    let path = context.notice_dir.join(id).to_string_lossy().into_owned();
    match phone.record(&path, request.options.quiet, context.config.max_record) {
        Ok(length) if !length.is_zero() && phone.sound_exists(&path) => Ok(path),
        result => {
            remove_recording(context.notice_dir, id);
            Err(if result.is_err() { NoticeStatus::Hangup } else { NoticeStatus::NoRecording })
        }
    }
}

/// Writes the notice's call file into the spool, due at `due`.
fn write_call_file(
    request: &Request,
    context: &Context,
    phone: &dyn Phone,
    id: &str,
    number: &str,
    recording: String,
    due: Timestamp,
) -> Result<(), String> {
    let config = context.config;
    let file = CallFile {
        id: id.to_string(),
        number: number.to_string(),
        channel: config.notice_dial.render(|_| number.to_string()),
        caller_id: request.options.caller_id.clone(),
        recording,
        retries: request.options.retries.unwrap_or(config.retries),
        retry_time: request.options.retry_time.unwrap_or(config.retry_time.as_secs() as u32),
        wait_time: request.options.wait_time.unwrap_or(config.wait_time.as_secs() as u32),
        operator: context.operator.clone(),
    };
    let text = file.render()?;
    let mut delivered = Ok(());
    phone.away(&mut || delivered = context.spool.deliver(id, &text, due));
    delivered.map_err(|e| e.to_string())
}

/// The directory recordings go to.
pub fn notice_dir(config: &NoticeConfig, spool_dir: &Path) -> PathBuf {
    config.notice_dir.clone().unwrap_or_else(|| spool_dir.join("sticky/notices"))
}

/// The configured time zone, else the server's.
pub fn zone(config: &NoticeConfig) -> TimeZone {
    config.timezone.as_deref().and_then(|name| TimeZone::get(name).ok()).unwrap_or_else(TimeZone::system)
}

/// `notice_allow` compiled (it was validated when sticky.conf was read).
pub fn allow_pattern(config: &NoticeConfig) -> Result<Regex, String> {
    Regex::new(&config.notice_allow).map_err(|error| format!("notice_allow: {error}"))
}

//! When a notice is due: `2026-11-25 14:30`, the keypad form
//! `2026*11*25**14***30` keyed in on a phone, or relative `+15m`, `+2h`, `+1d`.
//!
//! Absolute times are wall-clock times in the notice time zone. Daylight
//! saving is resolved the way calendars do (RFC 5545, jiff's "compatible"
//! rule): a time that does not exist (in the spring gap) is moved forward by
//! the length of the gap (02:30 → 03:30); a time that exists twice (in the
//! autumn overlap) is the earlier of the two (the one still on summer time).

use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenError {
    /// Unreadable, impossible (31 February, 25:00) or beyond `max_ahead`.
    Invalid(String),
    /// Already past.
    Past,
}

fn number(text: &str, digits: std::ops::RangeInclusive<usize>, what: &str) -> Result<i16, WhenError> {
    if !digits.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WhenError::Invalid(format!("'{text}' is not a {what}")));
    }
    text.parse().map_err(|_| WhenError::Invalid(format!("'{text}' is not a {what}")))
}

fn civil(year: &str, month: &str, day: &str, hour: &str, minute: &str) -> Result<DateTime, WhenError> {
    let date =
        Date::new(number(year, 4..=4, "year")?, number(month, 1..=2, "month")? as i8, number(day, 1..=2, "day")? as i8)
            .map_err(|_| WhenError::Invalid(format!("{year}-{month}-{day} is not a date")))?;
    let time = Time::new(number(hour, 1..=2, "hour")? as i8, number(minute, 1..=2, "minute")? as i8, 0, 0)
        .map_err(|_| WhenError::Invalid(format!("{hour}:{minute} is not a time of day")))?;
    Ok(date.to_datetime(time))
}

/// `Y*M*D**H***M`: stars separate the fields, one between date parts, two
/// before the hour, three before the minute.
fn keypad(text: &str) -> Result<DateTime, WhenError> {
    let bad = || WhenError::Invalid(format!("'{text}' is not Y*M*D**H***M"));
    let (left, minute) = text.split_once("***").ok_or_else(bad)?;
    let (date, hour) = left.split_once("**").ok_or_else(bad)?;
    let parts: Vec<&str> = date.split('*').collect();
    if parts.len() != 3 || minute.contains('*') || hour.contains('*') {
        return Err(bad());
    }
    civil(parts[0], parts[1], parts[2], hour, minute)
}

fn written(text: &str) -> Result<DateTime, WhenError> {
    let bad = || WhenError::Invalid(format!("'{text}' is not YYYY-MM-DD HH:MM"));
    let (date, time) = text.split_once([' ', 'T']).ok_or_else(bad)?;
    let parts: Vec<&str> = date.split('-').collect();
    let (hour, minute) = time.trim().split_once(':').ok_or_else(bad)?;
    if parts.len() != 3 {
        return Err(bad());
    }
    civil(parts[0], parts[1], parts[2], hour, minute)
}

fn relative(text: &str) -> Result<Duration, WhenError> {
    let bad = || WhenError::Invalid(format!("'{text}' is not +N followed by s, m, h or d"));
    let body = text.strip_prefix('+').ok_or_else(bad)?;
    // The unit is the last character, which need not be one byte.
    let (count, unit) = body.split_at(body.char_indices().last().map_or(0, |(at, _)| at));
    let count: u64 = number(count, 1..=6, "count").map_err(|_| bad())? as u64;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(WhenError::Past);
    }
    Ok(Duration::from_secs(count * seconds))
}

/// The instant `text` names, checked against `now` and `max_ahead`.
pub fn parse_when(text: &str, now: Timestamp, zone: &TimeZone, max_ahead: Duration) -> Result<Timestamp, WhenError> {
    let text = text.trim().trim_end_matches('#');
    if text.is_empty() || text.len() > 40 {
        return Err(WhenError::Invalid("no time given".into()));
    }
    let due = if text.starts_with('+') {
        let offset = relative(text)?;
        now.checked_add(jiff::SignedDuration::try_from(offset).map_err(|_| WhenError::Invalid("too far".into()))?)
            .map_err(|_| WhenError::Invalid("too far".into()))?
    } else {
        let civil = if text.contains('*') { keypad(text)? } else { written(text)? };
        civil.to_zoned(zone.clone()).map_err(|e| WhenError::Invalid(e.to_string()))?.timestamp()
    };
    if due <= now {
        return Err(WhenError::Past);
    }
    let limit = now.as_second().saturating_add(max_ahead.as_secs() as i64);
    if due.as_second() > limit {
        return Err(WhenError::Invalid(format!("more than {} days ahead", max_ahead.as_secs() / 86_400)));
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/ target notice_time): a relative time ending
    /// in a character of more than one byte panicked while splitting off
    /// the unit.
    #[test]
    fn a_relative_time_with_a_wide_last_character_is_invalid() {
        for text in ["+2f\u{fffd}", "+1é", "+€", "+15m€", "+\u{10348}"] {
            assert!(
                matches!(parse_when(text, now(), &moscow(), MONTH), Err(WhenError::Invalid(_))),
                "{text:?} accepted"
            );
        }
    }

    const MONTH: Duration = Duration::from_secs(30 * 86_400);

    fn moscow() -> TimeZone {
        TimeZone::get("Europe/Moscow").unwrap()
    }

    /// 2026-11-22 10:00 in Moscow.
    fn now() -> Timestamp {
        "2026-11-22T07:00:00Z".parse().unwrap()
    }

    fn at(text: &str) -> Result<String, WhenError> {
        parse_when(text, now(), &moscow(), MONTH).map(|t| t.to_string())
    }

    #[test]
    fn every_form_names_the_same_instant() {
        let expected = Ok("2026-11-25T11:30:00Z".to_string());
        assert_eq!(at("2026-11-25 14:30"), expected);
        assert_eq!(at("2026-11-25T14:30"), expected);
        assert_eq!(at("2026*11*25**14***30"), expected);
        assert_eq!(at("2026*11*25**14***30#"), expected);
        assert_eq!(at("2026*1*5**9***5").unwrap_err(), WhenError::Past, "single digits are fine; January is past");
        assert_eq!(at("+15m"), Ok("2026-11-22T07:15:00Z".into()));
        assert_eq!(at("+2h"), Ok("2026-11-22T09:00:00Z".into()));
        assert_eq!(at("+1d"), Ok("2026-11-23T07:00:00Z".into()));
        assert_eq!(at("+30s"), Ok("2026-11-22T07:00:30Z".into()));
    }

    #[test]
    fn impossible_and_unreadable_times() {
        for text in [
            "2026-02-31 10:00",
            "2026-11-25 25:00",
            "2026-11-25 14:60",
            "2026*13*01**10***00",
            "2026*11*25*14***30",
            "2026*11*25**14**30",
            "2026*11*25**14***30***",
            "26*11*25**14***30",
            "tomorrow",
            "+",
            "+5x",
            "+-5m",
            "+9999999d",
            "2026-11-25",
            "14:30",
            "2026-11-25 14:30; rm -rf /",
            "2026-11-25\n14:30",
            "",
        ] {
            assert!(matches!(at(text), Err(WhenError::Invalid(_))), "{text:?}: {:?}", at(text));
        }
    }

    #[test]
    fn past_and_too_far() {
        assert_eq!(at("2026-11-22 09:59"), Err(WhenError::Past));
        assert_eq!(at("2026-11-22 10:00"), Err(WhenError::Past), "now is not in the future");
        assert_eq!(at("+0m"), Err(WhenError::Past));
        assert!(matches!(at("2027-01-01 10:00"), Err(WhenError::Invalid(m)) if m.contains("30 days")));
        assert!(at("2026-12-22 09:59").is_ok(), "just inside 30 days");
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let year = Duration::from_secs(366 * 86_400);
        // 2026-03-29 02:30 does not exist in Berlin: moved forward by the gap.
        let gap = parse_when("2026-03-29 02:30", now, &berlin, year).unwrap();
        assert_eq!(gap.to_string(), "2026-03-29T01:30:00Z", "03:30 CEST");
        // 2026-10-25 02:30 happens twice: the earlier, still summer time.
        let overlap = parse_when("2026-10-25 02:30", now, &berlin, year).unwrap();
        assert_eq!(overlap.to_string(), "2026-10-25T00:30:00Z", "02:30 CEST, not CET");
        assert_eq!(crate::time::local_time(overlap.as_millisecond(), &berlin), "2026-10-25 02:30:00");
    }
}

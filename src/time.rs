//! Time as the module reads and shows it: durations (in sticky.conf and in
//! dialplan arguments), the wall clock in milliseconds, and the one format
//! local times are shown in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;

/// Parses `250ms`, `90s`, `30m`, `1h`, `1d`, `1.5h` or plain seconds (`3600`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
        return Err(format!("'{text}' is not a duration (examples: 250ms, 90s, 30m, 1h, 1d)"));
    }
    let millis_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("'{other}' is not a duration unit (use ms, s, m, h or d)")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole.parse().map_err(|_| format!("'{text}' is too large"))?;
    let mut millis = whole.checked_mul(millis_per_unit).ok_or_else(|| format!("'{text}' is too large"))?;
    if !fraction.is_empty() {
        // At most millisecond precision: the digits past it cannot matter.
        let digits: String = fraction.chars().take(9).collect();
        let scale = 10u64.pow(digits.len() as u32);
        let value: u64 = digits.parse().map_err(|_| format!("'{text}' is not a duration"))?;
        millis = millis.saturating_add(value.saturating_mul(millis_per_unit) / scale);
    }
    Ok(Duration::from_millis(millis))
}

/// Formats a duration the way sticky.conf accepts it, in its largest exact unit.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    const UNITS: [(u128, &str); 4] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    for (size, unit) in UNITS {
        if millis >= size && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// A duration bounded to `[min, max]`.
pub fn parse_duration_in(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let value = parse_duration(text)?;
    if value < min || value > max {
        return Err(format!(
            "'{}' is out of range ({} to {})",
            text.trim(),
            format_duration(min),
            format_duration(max)
        ));
    }
    Ok(value)
}

/// Milliseconds since the Unix epoch (UTC), as contacts are stamped.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` of `ms` (since the epoch) in `zone`: how the CLI
/// and the log show a moment.
pub fn local_time(ms: i64, zone: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "?".into())
}

/// [`local_time`] in the server's time zone.
pub fn server_time(ms: i64) -> String {
    local_time(ms, &TimeZone::system())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration(" 1.5h ").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0.25s").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn durations_rejected() {
        for bad in ["", "h", "-5s", "5 y", "1.2.3s", ".5s", "5.s", "1e3", "99999999999999999999d", "1d;drop"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("18446744073709551615d").is_err());
    }

    #[test]
    fn durations_round_trip_through_format() {
        for text in ["250ms", "90s", "30m", "1h", "1d", "36h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn bounded_durations() {
        assert!(parse_duration_in("0s", Duration::from_secs(1), Duration::from_secs(10)).is_err());
        assert!(parse_duration_in("11s", Duration::from_secs(1), Duration::from_secs(10)).is_err());
        assert_eq!(
            parse_duration_in("10s", Duration::from_secs(1), Duration::from_secs(10)),
            Ok(Duration::from_secs(10))
        );
    }

    #[test]
    fn local_times_in_a_zone() {
        let moscow = TimeZone::get("Europe/Moscow").unwrap();
        assert_eq!(local_time(1_795_330_800_000, &moscow), "2026-11-22 10:00:00");
        assert_eq!(local_time(i64::MAX, &moscow), "?");
    }
}

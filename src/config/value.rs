//! Value syntaxes shared by every sticky.conf section: integers in a range
//! and comma-separated lists (durations are in `crate::time`).

/// A whole number bounded to `[min, max]`.
pub fn parse_integer_in(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not a whole number"));
    }
    match text.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(format!("'{text}' is out of range ({min} to {max})")),
    }
}

/// A size in bytes: `100MB`, `512KB`, `2GB` (powers of 1024) or plain bytes,
/// bounded to `[min, max]`.
pub fn parse_size_in(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return Err(format!("'{text}' is not a size (examples: 100MB, 512KB, 2GB)")),
    };
    let value = number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale));
    match value {
        Some(value) if (min..=max).contains(&value) => Ok(value),
        Some(_) => Err(format!("'{text}' is out of range ({} to {} MB)", min >> 20, max >> 20)),
        None => Err(format!("'{text}' is not a size (examples: 100MB, 512KB, 2GB)")),
    }
}

/// `yes`/`no` as Asterisk's configs write them (also `true`/`false`,
/// `on`/`off`, `1`/`0`).
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        other => Err(format!("'{other}' is not yes or no")),
    }
}

/// Splits `a, b ,c` into trimmed non-empty items.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_values() {
        assert_eq!(parse_integer_in("4", 1, 64).unwrap(), 4);
        for bad in ["0", "65", "-1", "4x", "", "+4", "1 2"] {
            assert!(parse_integer_in(bad, 1, 64).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sizes() {
        let (min, max) = (1 << 20, 1 << 40);
        assert_eq!(parse_size_in("100MB", min, max), Ok(100 << 20));
        assert_eq!(parse_size_in("2 GB", min, max), Ok(2 << 30));
        assert_eq!(parse_size_in("1048576", min, max), Ok(1 << 20));
        for bad in ["", "MB", "10XB", "-1MB", "1.5GB", "99999999999999999999GB", "1KB"] {
            assert!(parse_size_in(bad, min, max).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(" Yes "), Ok(true));
        assert_eq!(parse_bool("off"), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list(" ANSWERED, NO ANSWER ,,BUSY "), vec!["ANSWERED", "NO ANSWER", "BUSY"]);
    }
}

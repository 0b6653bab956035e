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
    fn lists() {
        assert_eq!(parse_list(" ANSWERED, NO ANSWER ,,BUSY "), vec!["ANSWERED", "NO ANSWER", "BUSY"]);
    }
}

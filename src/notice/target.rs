//! Who a notice calls: a number that is safe to dial and allowed.

use regex::Regex;

/// Longest number a notice may ring (E.164).
pub const MAX_DIGITS: usize = 15;

/// The number as it will be dialled: digits with an optional leading `+`.
/// The usual separators (spaces, `-`, `.`, parentheses) are dropped; any
/// other character makes the number invalid.
pub fn dialable(number: &str, min_digits: usize) -> Result<String, String> {
    let number = number.trim();
    if number.is_empty() {
        return Err("no number".into());
    }
    if number.len() > 40 {
        return Err("too long".into());
    }
    let mut out = String::with_capacity(number.len());
    for (index, c) in number.chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '+' if index == 0 => out.push('+'),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(format!("'{}' is not allowed in a number", c.escape_debug())),
        }
    }
    let digits = out.trim_start_matches('+').len();
    if digits < min_digits.max(1) || digits > MAX_DIGITS {
        return Err(format!("{digits} digits (allowed: {} to {MAX_DIGITS})", min_digits.max(1)));
    }
    Ok(out)
}

/// `dialable` and also matching `notice_allow`.
pub fn allowed(number: &str, min_digits: usize, allow: &Regex) -> Result<String, String> {
    let number = dialable(number, min_digits)?;
    if !allow.is_match(&number) {
        return Err(format!("{number} does not match notice_allow"));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_dialable() {
        assert_eq!(dialable("+7 (912) 345-67-89", 7).unwrap(), "+79123456789");
        assert_eq!(dialable("89123456789", 7).unwrap(), "89123456789");
        for bad in [
            "",
            "101",
            "7912345678&PJSIP/x",
            "7912/3456789",
            "79123456789\nApplication: System",
            "7912abc",
            "+7+912",
            "1234567890123456",
            "７９１２３４５６７８９",
            "79123456789;",
            "79123456789#",
        ] {
            assert!(dialable(bad, 7).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn notice_allow_limits_where_notices_go() {
        let russian_mobiles = Regex::new(r"^(\+7|8)9[0-9]{9}$").unwrap();
        assert!(allowed("+7 912 345 67 89", 7, &russian_mobiles).is_ok());
        assert!(allowed("+1 900 555 0100", 7, &russian_mobiles).is_err(), "premium-rate abroad");
        let default = Regex::new(r"^\+?[0-9]{7,15}$").unwrap();
        assert!(allowed("+19005550100", 7, &default).is_ok());
    }
}

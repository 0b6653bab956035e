//! Number keys: the last `match_digits` digits of a client number.
//!
//! A number is accepted only in the shapes phone numbers are written in —
//! digits with `+`, spaces, dashes, dots and parentheses — so that anything a
//! caller can put into caller ID beyond that (quotes, `%`, `&`, `/`, letters,
//! newlines, non-ASCII) makes the number invalid instead of being filtered
//! into something that matches.

use std::fmt;

/// Longest number accepted, in digits (E.164 allows 15; dialling prefixes add a few).
pub const MAX_DIGITS: usize = 20;
/// Longest raw text looked at; longer input is refused unread.
const MAX_TEXT: usize = 64;

/// The digits a contact is stored and looked up under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumberKey(String);

impl NumberKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rebuilds a key read back from the history table, checking it again.
    pub fn from_stored(text: &str) -> Option<NumberKey> {
        let good = !text.is_empty() && text.len() <= MAX_DIGITS && text.bytes().all(|b| b.is_ascii_digit());
        good.then(|| NumberKey(text.to_string()))
    }
}

impl fmt::Display for NumberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidNumber {
    Empty,
    TooLong,
    BadCharacter,
    TooFewDigits,
    TooManyDigits,
}

impl fmt::Display for InvalidNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidNumber::Empty => "empty",
            InvalidNumber::TooLong => "too long",
            InvalidNumber::BadCharacter => "not a phone number",
            InvalidNumber::TooFewDigits => "too few digits",
            InvalidNumber::TooManyDigits => "too many digits",
        })
    }
}

/// How numbers become keys (`match_digits`, `min_digits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRule {
    pub match_digits: usize,
    pub min_digits: usize,
}

impl KeyRule {
    pub fn key(&self, number: &str) -> Result<NumberKey, InvalidNumber> {
        self.parse(number).map(|(key, _)| key)
    }

    /// The key and the number itself, digits with an optional leading `+`.
    pub fn parse(&self, number: &str) -> Result<(NumberKey, String), InvalidNumber> {
        let number = number.trim();
        if number.is_empty() {
            return Err(InvalidNumber::Empty);
        }
        if number.len() > MAX_TEXT {
            return Err(InvalidNumber::TooLong);
        }
        let mut digits = String::with_capacity(number.len());
        for (index, c) in number.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if index == 0 => {}
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(InvalidNumber::BadCharacter),
            }
        }
        if digits.len() < self.min_digits || digits.is_empty() {
            return Err(InvalidNumber::TooFewDigits);
        }
        if digits.len() > MAX_DIGITS {
            return Err(InvalidNumber::TooManyDigits);
        }
        let start = digits.len().saturating_sub(self.match_digits);
        let key = NumberKey(digits[start..].to_string());
        let full = if number.starts_with('+') { format!("+{digits}") } else { digits };
        Ok((key, full))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: KeyRule = KeyRule { match_digits: 10, min_digits: 7 };

    #[test]
    fn every_written_form_gives_the_same_key() {
        for number in ["+7 (912) 345-67-89", "89123456789", "79123456789", "9123456789", "8.912.345.67.89"] {
            assert_eq!(RULE.key(number).unwrap().as_str(), "9123456789", "{number}");
        }
        assert_eq!(RULE.key("+1 555 0100").unwrap().as_str(), "15550100");
        assert_eq!(RULE.parse("+7 (912) 345-67-89").unwrap().1, "+79123456789");
        assert_eq!(RULE.parse("8 912 345 67 89").unwrap().1, "89123456789");
    }

    #[test]
    fn short_and_empty_numbers_never_match() {
        assert_eq!(RULE.key(""), Err(InvalidNumber::Empty));
        assert_eq!(RULE.key("   "), Err(InvalidNumber::Empty));
        assert_eq!(RULE.key("101"), Err(InvalidNumber::TooFewDigits));
        assert_eq!(RULE.key("+"), Err(InvalidNumber::TooFewDigits));
        assert_eq!(RULE.key("anonymous"), Err(InvalidNumber::BadCharacter));
    }

    #[test]
    fn hostile_numbers_are_refused() {
        let hostile = [
            "%",
            "_",
            "'",
            "\\",
            "' OR 1=1--",
            "79123456789' OR '1'='1",
            "500&PJSIP/x/1",
            "79123456789&PJSIP/x",
            "../../etc/passwd",
            "7912345678\n9",
            "79123456789;",
            "7912345678٩",
            "７９１２３４５６７８９",
            "+7912345+6789",
            "79123456789%",
        ];
        for number in hostile {
            assert!(RULE.key(number).is_err(), "{number:?} accepted");
        }
        assert_eq!(RULE.key(&"7".repeat(200)), Err(InvalidNumber::TooLong));
        assert_eq!(RULE.key(&"7".repeat(21)), Err(InvalidNumber::TooManyDigits));
        assert_eq!(RULE.key(&"x".repeat(4096)), Err(InvalidNumber::TooLong));
    }

    #[test]
    fn stored_keys_are_checked_again() {
        assert!(NumberKey::from_stored("9123456789").is_some());
        assert!(NumberKey::from_stored("91234' --").is_none());
        assert!(NumberKey::from_stored("").is_none());
    }
}

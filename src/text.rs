//! Text that crosses from callers to logs and from Rust to Asterisk.

/// Caller-controlled text made safe for a log line: escaped, at most 40
/// characters.
pub fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect::<String>().escape_debug().to_string();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    shown
}

/// The longest start of `text` that fits in `bytes` bytes without cutting a
/// character in two.
pub fn fitting(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_text_is_escaped_and_cut() {
        assert_eq!(shown("7912\n' OR 1=1"), "7912\\n\\' OR 1=1");
        assert_eq!(shown(&"7".repeat(50)), format!("{}…", "7".repeat(40)));
    }

    #[test]
    fn answers_are_cut_at_character_boundaries() {
        assert_eq!(fitting("ab\u{e9}cd", 3), "ab", "the two-byte é does not fit in 3 bytes");
        assert_eq!(fitting("ab\u{e9}cd", 4), "ab\u{e9}");
        assert_eq!(fitting("PJSIP/101", 5), "PJSIP");
        assert_eq!(fitting("PJSIP/101", 100), "PJSIP/101");
        assert_eq!(fitting("", 0), "");
    }
}

//! SCHEDULE_NOTICE's options: `r(N)` retries, `t(S)` seconds between
//! retries, `w(S)` ring time, `c(CID)` caller id, `l` last client, `q` quiet.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeOptions {
    pub retries: Option<u32>,
    pub retry_time: Option<u32>,
    pub wait_time: Option<u32>,
    pub caller_id: Option<String>,
    pub last_client: bool,
    pub quiet: bool,
}

fn bounded(value: &str, option: char, min: u32, max: u32) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("{option}({value}): expected {min} to {max}")),
    }
}

pub fn parse(text: &str) -> Result<NoticeOptions, String> {
    let mut options = NoticeOptions::default();
    let mut chars = text.trim().chars().peekable();
    while let Some(option) = chars.next() {
        let argument = if chars.peek() == Some(&'(') {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some(')') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("option {option}: missing ')'")),
                }
            }
            Some(value)
        } else {
            None
        };
        match (option, argument) {
            ('r', Some(v)) => options.retries = Some(bounded(&v, 'r', 0, 20)?),
            ('t', Some(v)) => options.retry_time = Some(bounded(&v, 't', 1, 86_400)?),
            ('w', Some(v)) => options.wait_time = Some(bounded(&v, 'w', 5, 300)?),
            ('c', Some(v)) => {
                let digits = v.strip_prefix('+').unwrap_or(&v);
                if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("c({}): a caller id is digits with an optional +", v.escape_debug()));
                }
                options.caller_id = Some(v);
            }
            ('l', None) => options.last_client = true,
            ('q', None) => options.quiet = true,
            (other, _) => return Err(format!("unknown option '{}'", other.escape_debug())),
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_with_and_without_arguments() {
        let options = parse("r(3)t(60)w(25)c(+74951112233)lq").unwrap();
        assert_eq!(options.retries, Some(3));
        assert_eq!(options.retry_time, Some(60));
        assert_eq!(options.wait_time, Some(25));
        assert_eq!(options.caller_id.as_deref(), Some("+74951112233"));
        assert!(options.last_client && options.quiet);
        assert_eq!(parse("").unwrap(), NoticeOptions::default());
    }

    #[test]
    fn bad_options() {
        for bad in
            ["r(-1)", "r(99)", "r", "t(0)", "w(1)", "c(7\nApplication: System)", "c(anonymous)", "c(123", "x", "r(1)z"]
        {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

//! The arguments of LAST_AGENT / STICKY_ROUTE and which contacts answer them.

use std::sync::Arc;
use std::time::Duration;

use super::contact::Contact;
use crate::host::vocabulary::{Direction, Disposition};
use crate::time::parse_duration_in;

/// What a caller waiting for a busy agent hears (`w(N)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitSound {
    /// Whatever the channel was doing.
    #[default]
    Nothing,
    /// `m`: music on hold.
    Music,
    /// `r`: ringing.
    Ringing,
}

/// The longest a caller may wait for a busy agent.
pub const MAX_WAIT: Duration = Duration::from_secs(600);

/// `options` of the functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `i` or `o`; both or neither means either direction.
    pub direction: Option<Direction>,
    /// `f`: the first agent in the window instead of the last.
    pub first: bool,
    /// `n`: answer with the interface instead of the id.
    pub interface: bool,
    /// `w(N)`: STICKY_ROUTE waits up to this long for a busy agent.
    pub wait: Option<Duration>,
    pub sound: WaitSound,
    /// `l(N)`: STICKY_ROUTE tries the last N distinct agents, newest first.
    pub last: Option<u8>,
    /// `a`: the account owner set by `sticky assign` comes first.
    pub owner: bool,
}

/// The most agents `l(N)` tries.
pub const MAX_LAST: u8 = 10;

pub fn parse_options(text: &str) -> Result<Options, String> {
    let mut options = Options::default();
    let (mut inbound, mut outbound) = (false, false);
    let mut chars = text.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            'i' => inbound = true,
            'o' => outbound = true,
            'f' => options.first = true,
            'n' => options.interface = true,
            'a' => options.owner = true,
            'm' => options.sound = WaitSound::Music,
            'r' => options.sound = WaitSound::Ringing,
            'w' => {
                let rest = chars.as_str();
                let seconds = rest
                    .strip_prefix('(')
                    .and_then(|rest| rest.split_once(')'))
                    .ok_or("option w needs seconds: w(30)")?;
                let (number, after) = seconds;
                let wait = match number.trim().parse::<u64>() {
                    Ok(n)
                        if (1..=MAX_WAIT.as_secs()).contains(&n)
                            && number.trim().bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        Duration::from_secs(n)
                    }
                    _ => return Err(format!("w({}): seconds from 1 to {}", number.escape_debug(), MAX_WAIT.as_secs())),
                };
                options.wait = Some(wait);
                chars = after.chars();
            }
            'l' => {
                let (number, after) = chars
                    .as_str()
                    .strip_prefix('(')
                    .and_then(|rest| rest.split_once(')'))
                    .ok_or("option l needs a count: l(3)")?;
                let count = match number.trim().parse::<u8>() {
                    Ok(n) if (1..=MAX_LAST).contains(&n) && number.trim().bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => return Err(format!("l({}): a count from 1 to {MAX_LAST}", number.escape_debug())),
                };
                options.last = Some(count);
                chars = after.chars();
            }
            other => return Err(format!("unknown option '{}'", other.escape_debug())),
        }
    }
    options.direction = match (inbound, outbound) {
        (true, false) => Some(Direction::Inbound),
        (false, true) => Some(Direction::Outbound),
        _ => None,
    };
    Ok(options)
}

/// An empty window means the configured default.
pub fn parse_window(text: &str, default: Duration) -> Result<Duration, String> {
    if text.trim().is_empty() {
        return Ok(default);
    }
    parse_duration_in(text, Duration::from_secs(1), Duration::from_secs(366 * 86_400))
        .map_err(|error| format!("bad window: {error}"))
}

/// `number[,window[,options[,scope]]]`, split as Asterisk splits function
/// arguments (on commas; a fifth argument is an error rather than ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arguments {
    pub number: String,
    pub window: Duration,
    pub options: Options,
    /// The scope asked for; `None`: the channel's `STICKY_SCOPE`, else all.
    pub scope: Option<Arc<str>>,
}

pub fn parse_arguments(data: &str, default_window: Duration) -> Result<Arguments, String> {
    // Commas inside w(…) are not separators; there are none in valid
    // options, so a plain split is right.
    let parts: Vec<&str> = data.split(',').collect();
    if parts.len() > 4 {
        return Err(format!("expected number[,window[,options[,scope]]], got {} arguments", parts.len()));
    }
    let window = parse_window(parts.get(1).copied().unwrap_or(""), default_window)?;
    let options = parse_options(parts.get(2).copied().unwrap_or(""))?;
    let scope = super::scope::parse(parts.get(3).copied().unwrap_or(""))?;
    Ok(Arguments { number: parts[0].trim().to_string(), window, options, scope })
}

/// What one lookup asks of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub direction: Option<Direction>,
    pub outbound_dispositions: Vec<Disposition>,
    /// Only contacts of this scope; `None`: every scope.
    pub scope: Option<Arc<str>>,
}

impl Filter {
    /// Inbound contacts count when answered; outbound ones with the
    /// configured dispositions; a scope asked for must match.
    pub fn accepts(&self, contact: &impl Kind) -> bool {
        if self.direction.is_some_and(|direction| direction != contact.direction()) {
            return false;
        }
        if self.scope.as_ref().is_some_and(|scope| **scope != *contact.scope()) {
            return false;
        }
        match contact.direction() {
            Direction::Inbound => contact.disposition() == Disposition::Answered,
            Direction::Outbound => self.outbound_dispositions.contains(&contact.disposition()),
        }
    }
}

/// What a filter looks at in a contact (a whole one, or the cache's own
/// compact form).
pub trait Kind {
    fn direction(&self) -> Direction;
    fn disposition(&self) -> Disposition;
    fn scope(&self) -> &str;
    fn started_at(&self) -> i64;
}

impl Kind for Contact {
    fn direction(&self) -> Direction {
        self.direction
    }
    fn disposition(&self) -> Disposition {
        self.disposition
    }
    fn scope(&self) -> &str {
        &self.scope
    }
    fn started_at(&self) -> i64 {
        self.started_at
    }
}

/// The answer among `contacts` (newest first) that started at or after `since`.
pub fn select<'a, C: Kind>(contacts: &'a [C], since: i64, filter: &Filter, first: bool) -> Option<&'a C> {
    let mut matching = contacts.iter().filter(|c| c.started_at() >= since && filter.accepts(*c));
    if first {
        matching.next_back()
    } else {
        matching.next()
    }
}

/// The newest contact of each of the last `count` distinct agents among
/// `contacts` (newest first) that started at or after `since`.
pub fn distinct_agents<'a>(contacts: &'a [Contact], since: i64, filter: &Filter, count: usize) -> Vec<&'a Contact> {
    let mut chosen: Vec<&Contact> = Vec::new();
    for contact in contacts.iter().filter(|c| c.started_at >= since && filter.accepts(*c)) {
        if chosen.len() >= count {
            break;
        }
        if !chosen.iter().any(|c| c.agent.id == contact.agent.id) {
            chosen.push(contact);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn arguments_and_defaults() {
        let args = parse_arguments("+79123456789", DAY).unwrap();
        assert_eq!(args.window, DAY);
        assert_eq!(args.options, Options::default());
        let args = parse_arguments("79123456789,30m,o", DAY).unwrap();
        assert_eq!(args.window, Duration::from_secs(1800));
        assert_eq!(args.options.direction, Some(Direction::Outbound));
        let args = parse_arguments("79123456789,,fn", DAY).unwrap();
        assert!(args.options.first && args.options.interface);
        assert_eq!(parse_options("io").unwrap().direction, None);
    }

    #[test]
    fn scopes_and_waiting() {
        let args = parse_arguments("79123456789,1h,w(20)m,sales", DAY).unwrap();
        assert_eq!(args.options.wait, Some(Duration::from_secs(20)));
        assert_eq!(args.options.sound, WaitSound::Music);
        assert_eq!(args.scope.as_deref(), Some("sales"));
        let args = parse_arguments("79123456789,,rw(5)i", DAY).unwrap();
        assert_eq!((args.options.sound, args.options.wait), (WaitSound::Ringing, Some(Duration::from_secs(5))));
        assert_eq!(args.options.direction, Some(Direction::Inbound));
        for bad in ["1,,w", "1,,w(", "1,,w(0)", "1,,w(601)", "1,,w(x)", "1,,w(5", "1,,w(-1)", "1,,,sales;x", "1,,,a b"]
        {
            assert!(parse_arguments(bad, DAY).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_last_distinct_agents() {
        assert_eq!(parse_options("l(3)w(5)").unwrap().last, Some(3));
        assert!(parse_options("al(3)").unwrap().owner);
        assert!(!parse_options("l(3)").unwrap().owner);
        for bad in ["l", "l(", "l(0)", "l(11)", "l(x)", "l(-1)", "l(3"] {
            assert!(parse_options(bad).is_err(), "{bad:?} accepted");
        }
        let filter = Filter { direction: None, outbound_dispositions: vec![Disposition::Answered], scope: None };
        let history = vec![
            contact("103", Direction::Inbound, Disposition::Answered, 500),
            contact("103", Direction::Inbound, Disposition::Answered, 400),
            contact("102", Direction::Inbound, Disposition::NoAnswer, 350),
            contact("101", Direction::Inbound, Disposition::Answered, 300),
            contact("102", Direction::Outbound, Disposition::Answered, 200),
            contact("104", Direction::Inbound, Disposition::Answered, 100),
        ];
        let ids = |chosen: Vec<&Contact>| chosen.iter().map(|c| c.agent.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(distinct_agents(&history, 0, &filter, 3)), ["103", "101", "102"]);
        assert_eq!(ids(distinct_agents(&history, 250, &filter, 3)), ["103", "101"], "inside the window");
        assert_eq!(ids(distinct_agents(&history, 0, &filter, 1)), ["103"]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse_arguments("1,2,3,4,5", DAY).is_err());
        assert!(parse_arguments("1,forever", DAY).is_err());
        assert!(parse_arguments("1,0", DAY).is_err());
        assert!(parse_arguments("1,1h,x", DAY).is_err());
        assert!(parse_arguments("1,1h,i;", DAY).is_err());
    }

    use crate::routing::contact::test_contact as contact;

    #[test]
    fn selection_by_direction_disposition_window_and_order() {
        let filter = |direction| Filter {
            direction,
            outbound_dispositions: vec![Disposition::Answered, Disposition::NoAnswer, Disposition::Busy],
            scope: None,
        };
        // newest first
        let history = vec![
            contact("104", Direction::Inbound, Disposition::NoAnswer, 500),
            contact("103", Direction::Outbound, Disposition::Failed, 400),
            contact("102", Direction::Outbound, Disposition::Busy, 300),
            contact("101", Direction::Inbound, Disposition::Answered, 200),
            contact("100", Direction::Outbound, Disposition::Answered, 100),
        ];
        let agent = |c: Option<&Contact>| c.map(|c| c.agent.id.to_string());
        assert_eq!(agent(select(&history, 0, &filter(None), false)), Some("102".into()));
        assert_eq!(agent(select(&history, 0, &filter(Some(Direction::Inbound)), false)), Some("101".into()));
        assert_eq!(agent(select(&history, 0, &filter(None), true)), Some("100".into()));
        assert_eq!(agent(select(&history, 150, &filter(None), true)), Some("101".into()));
        assert_eq!(agent(select(&history, 350, &filter(None), false)), None);
        let sales = Filter { scope: Some(Arc::from("sales")), ..filter(None) };
        assert_eq!(agent(select(&history, 0, &sales, false)), None, "no contact of that scope");
        let mut scoped = history.clone();
        scoped[3].scope = Arc::from("sales");
        assert_eq!(agent(select(&scoped, 0, &sales, false)), Some("101".into()));
    }
}

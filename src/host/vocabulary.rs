//! The words history records and routing decisions are made of: call
//! direction, CDR disposition and device state, with the spellings Asterisk
//! uses for them.

use std::fmt;

/// Which party started the call a contact was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The client called and an agent answered.
    Inbound,
    /// An agent called the client.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text.trim() {
            "in" => Some(Direction::Inbound),
            "out" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// A CDR disposition, spelled as `cdr show` and the `cdr` table spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    Answered,
    NoAnswer,
    Busy,
    Failed,
    Congestion,
}

impl Disposition {
    pub const ALL: [Disposition; 5] =
        [Disposition::Answered, Disposition::NoAnswer, Disposition::Busy, Disposition::Failed, Disposition::Congestion];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "ANSWERED",
            Disposition::NoAnswer => "NO ANSWER",
            Disposition::Busy => "BUSY",
            Disposition::Failed => "FAILED",
            Disposition::Congestion => "CONGESTION",
        }
    }

    pub fn parse(text: &str) -> Option<Disposition> {
        let text = text.trim();
        Disposition::ALL.into_iter().find(|d| d.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Asterisk's device states (`enum ast_device_state`), by their `DEVICE_STATE()` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceState {
    Unknown,
    NotInUse,
    InUse,
    Busy,
    Invalid,
    Unavailable,
    Ringing,
    RingInUse,
    OnHold,
}

impl DeviceState {
    pub const ALL: [DeviceState; 9] = [
        DeviceState::Unknown,
        DeviceState::NotInUse,
        DeviceState::InUse,
        DeviceState::Busy,
        DeviceState::Invalid,
        DeviceState::Unavailable,
        DeviceState::Ringing,
        DeviceState::RingInUse,
        DeviceState::OnHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Unknown => "UNKNOWN",
            DeviceState::NotInUse => "NOT_INUSE",
            DeviceState::InUse => "INUSE",
            DeviceState::Busy => "BUSY",
            DeviceState::Invalid => "INVALID",
            DeviceState::Unavailable => "UNAVAILABLE",
            DeviceState::Ringing => "RINGING",
            DeviceState::RingInUse => "RINGINUSE",
            DeviceState::OnHold => "ONHOLD",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceState> {
        let text = text.trim();
        DeviceState::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// The numeric value of `enum ast_device_state`, stable across Asterisk versions.
    pub fn from_code(code: u32) -> DeviceState {
        match code {
            1 => DeviceState::NotInUse,
            2 => DeviceState::InUse,
            3 => DeviceState::Busy,
            4 => DeviceState::Invalid,
            5 => DeviceState::Unavailable,
            6 => DeviceState::Ringing,
            7 => DeviceState::RingInUse,
            8 => DeviceState::OnHold,
            _ => DeviceState::Unknown,
        }
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
        }
        assert_eq!(Disposition::parse("no answer"), Some(Disposition::NoAnswer));
        assert_eq!(Disposition::parse("NOANSWER"), None);
        for s in DeviceState::ALL {
            assert_eq!(DeviceState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Direction::parse(Direction::Outbound.as_str()), Some(Direction::Outbound));
    }

    #[test]
    fn device_state_codes_follow_asterisk() {
        assert_eq!(DeviceState::from_code(1), DeviceState::NotInUse);
        assert_eq!(DeviceState::from_code(5), DeviceState::Unavailable);
        assert_eq!(DeviceState::from_code(8), DeviceState::OnHold);
        assert_eq!(DeviceState::from_code(0), DeviceState::Unknown);
        assert_eq!(DeviceState::from_code(99), DeviceState::Unknown);
    }
}

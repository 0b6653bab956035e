//! Agents: the internal party of a call, read from a channel name.
//!
//! `PJSIP/101-0000002a` → interface `PJSIP/101`, id `101`;
//! `Local/101@from-queue-00000012;1` → `Local/101@from-queue`, `101`.
//! Whether an interface is an agent at all (and not a trunk) is decided by
//! `agent_pattern`, by default an extension number on any technology.

use std::sync::Arc;

use regex::Regex;

/// The default `agent_pattern`: a 2–6 digit extension on any channel
/// technology, optionally in a dialplan context (Local channels).
pub const DEFAULT_AGENT_PATTERN: &str = r"^[A-Za-z0-9]+/[0-9]{2,6}(@[A-Za-z0-9_.-]+)?$";

/// An agent as stored with a contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Agent {
    pub id: Arc<str>,
    pub interface: Arc<str>,
}

impl Agent {
    /// The value of a `${AGENT}` / `${INTERFACE}` template variable.
    pub fn template_value(&self, variable: &str) -> String {
        match variable {
            "AGENT" => self.id.to_string(),
            _ => self.interface.to_string(),
        }
    }
}

/// Characters allowed in an agent id or interface: nothing that means
/// something to Dial() (`&`, `,`, `(`, `)`, `|`), a call file or a shell.
pub fn is_safe_agent_text(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 120
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/@._-+:#*".contains(&b))
}

/// The interface of a channel: the name without the per-call suffix.
pub fn interface_of(channel: &str) -> Option<&str> {
    let (tech, rest) = channel.split_once('/')?;
    if tech.is_empty() || rest.is_empty() {
        return None;
    }
    // Local channels end in ";1" / ";2" after the suffix.
    let without_half = match rest.rsplit_once(';') {
        Some((base, half)) if half == "1" || half == "2" => base,
        _ => rest,
    };
    // The per-call suffix: "-" and a hex or decimal counter (PJSIP/SIP: 8 hex
    // digits, IAX2 a call number, Local 8 hex digits).
    let resource = match without_half.rsplit_once('-') {
        Some((base, suffix))
            if !base.is_empty() && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            base
        }
        _ => without_half,
    };
    let end = tech.len() + 1 + resource.len();
    Some(&channel[..end])
}

/// The agent id of an interface: the resource, up to `@` for Local channels.
pub fn id_of(interface: &str) -> Option<&str> {
    let (_, resource) = interface.split_once('/')?;
    let id = resource.split('@').next().unwrap_or(resource);
    // Dial strings may carry "/n" options; a channel name never does.
    let id = id.split('/').next().unwrap_or(id);
    (!id.is_empty()).then_some(id)
}

/// Decides which channels are agents.
#[derive(Debug, Clone)]
pub struct AgentRule {
    pattern: Regex,
}

impl AgentRule {
    pub fn new(pattern: &str) -> Result<AgentRule, String> {
        Regex::new(pattern).map(|pattern| AgentRule { pattern }).map_err(|e| e.to_string())
    }

    /// Whether an agent read back from the store or the journal is one a
    /// live call could have produced: its interface passes the same checks
    /// and matches the pattern, and its id is the one the interface gives.
    pub fn accepts(&self, agent: &Agent) -> bool {
        is_safe_agent_text(&agent.interface)
            && self.pattern.is_match(&agent.interface)
            && id_of(&agent.interface) == Some(&*agent.id)
    }

    /// The agent on `channel`, if that channel is an agent's.
    pub fn agent(&self, channel: &str) -> Option<Agent> {
        let interface = interface_of(channel.trim())?;
        let id = id_of(interface)?;
        if !is_safe_agent_text(interface) || !is_safe_agent_text(id) || !self.pattern.is_match(interface) {
            return None;
        }
        Some(Agent { id: Arc::from(id), interface: Arc::from(interface) })
    }
}

impl PartialEq for AgentRule {
    fn eq(&self, other: &AgentRule) -> bool {
        self.pattern.as_str() == other.pattern.as_str()
    }
}

impl Default for AgentRule {
    fn default() -> AgentRule {
        AgentRule::new(DEFAULT_AGENT_PATTERN).expect("the default pattern is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(channel: &str) -> Option<(String, String)> {
        AgentRule::default().agent(channel).map(|a| (a.id.to_string(), a.interface.to_string()))
    }

    #[test]
    fn channel_names_of_every_technology() {
        assert_eq!(agent("PJSIP/101-0000002a"), Some(("101".into(), "PJSIP/101".into())));
        assert_eq!(agent("SIP/971-0000006d"), Some(("971".into(), "SIP/971".into())));
        assert_eq!(agent("IAX2/2001-4567"), Some(("2001".into(), "IAX2/2001".into())));
        assert_eq!(agent("Local/101@from-queue-00000012;1"), Some(("101".into(), "Local/101@from-queue".into())));
        assert_eq!(agent("Local/101@from-queue-00000012;2"), Some(("101".into(), "Local/101@from-queue".into())));
        assert_eq!(agent("PJSIP/101"), Some(("101".into(), "PJSIP/101".into())));
    }

    #[test]
    fn trunks_and_garbage_are_not_agents() {
        assert_eq!(agent("SIP/INPUT_MTS-0000006c"), None);
        assert_eq!(agent("PJSIP/4951112233-00000001"), None, "a 10-digit trunk login is not an extension");
        assert_eq!(agent(""), None);
        assert_eq!(agent("PJSIP/"), None);
        assert_eq!(agent("garbage"), None);
        assert_eq!(agent("PJSIP/10&1-0000002a"), None);
        assert_eq!(agent("Local/101@ctx,x-00000001;1"), None);
    }

    #[test]
    fn a_custom_pattern_admits_named_endpoints() {
        let rule = AgentRule::new(r"^PJSIP/(alice|bob)$").unwrap();
        assert_eq!(rule.agent("PJSIP/alice-00000003").map(|a| a.id.to_string()), Some("alice".into()));
        assert_eq!(rule.agent("PJSIP/101-00000003"), None);
    }

    #[test]
    fn agents_read_back_are_checked_like_live_ones() {
        let rule = AgentRule::default();
        let agent = |id: &str, interface: &str| Agent { id: Arc::from(id), interface: Arc::from(interface) };
        assert!(rule.accepts(&agent("101", "PJSIP/101")));
        assert!(rule.accepts(&agent("101", "Local/101@from-queue")));
        for (id, interface) in [
            ("trunk", "PJSIP/trunk/sip:+19005550100@evil.example"),
            ("0090012345", "Local/0090012345@from-internal"),
            ("102:secret@evil", "SIP/102:secret@evil"),
            ("102", "PJSIP/103"),
            ("101", "PJSIP/101-0000002a"),
            ("101", "PJSIP/101&PJSIP/102"),
        ] {
            assert!(!rule.accepts(&agent(id, interface)), "{interface}");
        }
    }

    #[test]
    fn interfaces_and_ids() {
        assert_eq!(interface_of("PJSIP/trunk-a-0000000b"), Some("PJSIP/trunk-a"));
        assert_eq!(id_of("Local/101@from-internal/n"), Some("101"));
        assert_eq!(id_of("PJSIP/101"), Some("101"));
        assert!(!is_safe_agent_text("PJSIP/101&PJSIP/102"));
        assert!(!is_safe_agent_text("PJSIP/101,20"));
    }
}

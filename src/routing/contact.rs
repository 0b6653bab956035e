//! Contacts — one history record each — and how a finished CDR becomes one.
#![forbid(unsafe_code)]

use std::sync::Arc;

use super::agent::{is_safe_agent_text, Agent, AgentRule};
use super::number::{KeyRule, NumberKey};
use super::vocabulary::{Direction, Disposition};

/// Who talked to whom, when. `started_at` is milliseconds since the Unix
/// epoch (UTC), so servers in one database agree on order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub number: NumberKey,
    pub agent: Agent,
    pub direction: Direction,
    pub disposition: Disposition,
    pub started_at: i64,
    pub node: Arc<str>,
    /// Unique per CDR record, so a retried write never duplicates a contact.
    pub call_id: String,
}

impl Contact {
    /// Rebuilds a contact read from the history table, checking every field
    /// again: the table may be shared, imported or edited by hand.
    #[allow(clippy::too_many_arguments)]
    pub fn from_stored(
        number: &str,
        agent_id: &str,
        agent_interface: &str,
        direction: &str,
        disposition: &str,
        started_at: i64,
        node: &str,
        call_id: &str,
    ) -> Option<Contact> {
        if !is_safe_agent_text(agent_id) || !is_safe_agent_text(agent_interface) {
            return None;
        }
        Some(Contact {
            number: NumberKey::from_stored(number)?,
            agent: Agent { id: Arc::from(agent_id), interface: Arc::from(agent_interface) },
            direction: Direction::parse(direction)?,
            disposition: Disposition::parse(disposition)?,
            started_at,
            node: Arc::from(node),
            call_id: call_id.to_string(),
        })
    }
}

/// The fields of a finished CDR that learning reads, copied out of Asterisk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrRecord {
    pub src: String,
    pub dst: String,
    pub channel: String,
    pub dstchannel: String,
    pub disposition: Option<Disposition>,
    pub start_ms: i64,
    pub uniqueid: String,
    pub sequence: i64,
    /// Set for records imported from a `cdr` table, whose rows have no
    /// sequence number; live records derive theirs from uniqueid and sequence.
    pub call_id: Option<String>,
}

/// What makes a CDR a contact.
#[derive(Debug, Clone)]
pub struct LearnRule {
    pub keys: KeyRule,
    pub agents: AgentRule,
}

impl LearnRule {
    /// Outbound: an agent's channel dialled a client number (whatever the
    /// outcome: which dispositions count is decided at lookup, so that a
    /// changed `outbound_dispositions` applies to history already stored).
    /// Inbound: a client number from a non-agent channel was answered by an
    /// agent. Anything else (internal calls, trunk to trunk, unanswered
    /// inbound) is not a contact.
    pub fn contact(&self, record: &CdrRecord, node: &Arc<str>) -> Option<Contact> {
        let disposition = record.disposition?;
        let caller = self.agents.agent(&record.channel);
        let callee = self.agents.agent(&record.dstchannel);
        let (number, agent, direction) = match (caller, callee) {
            // An agent's leg with no party B is the agent alone in the
            // dialplan (Asterisk posts one after a failed Dial, ANSWERED).
            (Some(agent), None) if !record.dstchannel.trim().is_empty() => {
                (self.keys.key(&record.dst).ok()?, agent, Direction::Outbound)
            }
            (None, Some(agent)) => {
                if disposition != Disposition::Answered {
                    return None;
                }
                (self.keys.key(&record.src).ok()?, agent, Direction::Inbound)
            }
            _ => return None,
        };
        let call_id = match &record.call_id {
            Some(call_id) => call_id.clone(),
            None => format!("{node}:{}:{}", record.uniqueid, record.sequence),
        };
        Some(Contact {
            number,
            agent,
            direction,
            disposition,
            started_at: record.start_ms,
            node: node.clone(),
            call_id: call_id.chars().take(190).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> LearnRule {
        LearnRule { keys: KeyRule { match_digits: 10, min_digits: 7 }, agents: AgentRule::default() }
    }

    fn record(src: &str, dst: &str, channel: &str, dstchannel: &str, disposition: Disposition) -> CdrRecord {
        CdrRecord {
            src: src.into(),
            dst: dst.into(),
            channel: channel.into(),
            dstchannel: dstchannel.into(),
            disposition: Some(disposition),
            start_ms: 1_000,
            uniqueid: "1700000000.1".into(),
            sequence: 3,
            call_id: None,
        }
    }

    fn node() -> Arc<str> {
        Arc::from("pbx1")
    }

    #[test]
    fn an_answered_inbound_call() {
        let r = record("+79123456789", "100", "PJSIP/trunk-00000001", "PJSIP/101-00000002", Disposition::Answered);
        let contact = rule().contact(&r, &node()).unwrap();
        assert_eq!(contact.number.as_str(), "9123456789");
        assert_eq!(&*contact.agent.id, "101");
        assert_eq!(contact.direction, Direction::Inbound);
        assert_eq!(contact.call_id, "pbx1:1700000000.1:3");
    }

    #[test]
    fn a_queue_call_answered_by_a_local_member() {
        let r = record(
            "79123456789",
            "s",
            "SIP/INPUT_MTS-0000006c",
            "Local/101@from-queue-0000000a;1",
            Disposition::Answered,
        );
        let contact = rule().contact(&r, &node()).unwrap();
        assert_eq!(&*contact.agent.interface, "Local/101@from-queue");
        assert_eq!(contact.direction, Direction::Inbound);
    }

    #[test]
    fn unanswered_inbound_calls_do_not_count() {
        let r = record("79123456789", "100", "PJSIP/trunk-00000001", "PJSIP/101-00000002", Disposition::NoAnswer);
        assert!(rule().contact(&r, &node()).is_none());
    }

    #[test]
    fn outbound_calls_whatever_their_outcome() {
        for disposition in Disposition::ALL {
            let r = record("101", "89123456789", "PJSIP/101-00000003", "PJSIP/trunk-00000004", disposition);
            let contact = rule().contact(&r, &node()).unwrap();
            assert_eq!(contact.direction, Direction::Outbound);
            assert_eq!(contact.disposition, disposition);
            assert_eq!(contact.number.as_str(), "9123456789");
        }
    }

    #[test]
    fn an_agent_leg_without_a_called_party_is_not_a_contact() {
        let alone = record("103", "79120000003", "PJSIP/103-00000005", "", Disposition::Answered);
        assert!(rule().contact(&alone, &node()).is_none());
    }

    #[test]
    fn internal_and_trunk_calls_are_not_contacts() {
        let internal = record("101", "102", "PJSIP/101-00000001", "PJSIP/102-00000002", Disposition::Answered);
        assert!(rule().contact(&internal, &node()).is_none());
        let transit = record(
            "79123456789",
            "74951112233",
            "PJSIP/trunk-00000001",
            "PJSIP/trunk2-00000002",
            Disposition::Answered,
        );
        assert!(rule().contact(&transit, &node()).is_none());
        let anonymous = record("anonymous", "100", "PJSIP/trunk-00000001", "PJSIP/101-00000002", Disposition::Answered);
        assert!(rule().contact(&anonymous, &node()).is_none());
        let no_disposition = CdrRecord { disposition: None, ..internal };
        assert!(rule().contact(&no_disposition, &node()).is_none());
    }

    #[test]
    fn stored_rows_are_validated() {
        assert!(Contact::from_stored("9123456789", "101", "PJSIP/101", "in", "ANSWERED", 5, "n", "c").is_some());
        assert!(Contact::from_stored("9123456789", "101&x", "PJSIP/101", "in", "ANSWERED", 5, "n", "c").is_none());
        assert!(Contact::from_stored("9123456789", "101", "PJSIP/101", "sideways", "ANSWERED", 5, "n", "c").is_none());
        assert!(Contact::from_stored("x", "101", "PJSIP/101", "in", "ANSWERED", 5, "n", "c").is_none());
    }
}

//! Contacts — one history record each — and how a finished CDR becomes one.

use std::sync::Arc;

use super::agent::{is_safe_agent_text, Agent, AgentRule};
use super::number::{KeyRule, NumberKey};
use crate::host::cdr::CdrRecord;
use crate::host::vocabulary::{Direction, Disposition};

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
    /// The client's number as seen (digits, optional `+`), to call back.
    pub client: String,
    /// The scope of the call it was learned from; empty: none.
    pub scope: Arc<str>,
}

/// One row of the history table, as text.
#[derive(Debug, Clone, Default)]
pub struct StoredRow {
    pub number: String,
    pub agent_id: String,
    pub agent_interface: String,
    pub direction: String,
    pub disposition: String,
    pub started_at: i64,
    pub node: String,
    pub call_id: String,
    pub client: String,
    pub scope: String,
}

/// The longest server name a stored contact may carry.
const MAX_NODE: usize = 128;

/// Whether a server name read back could be one (not too long, no control
/// characters).
pub fn is_node_name(node: &str) -> bool {
    node.len() <= MAX_NODE && !node.chars().any(char::is_control)
}

impl Contact {
    /// Rebuilds a contact read from the history table, checking every field
    /// again: the table may be shared, imported or edited by hand.
    pub fn from_row(row: &StoredRow) -> Option<Contact> {
        if !is_safe_agent_text(&row.agent_id) || !is_safe_agent_text(&row.agent_interface) {
            return None;
        }
        // The server that learned it: its configured or system name.
        if !is_node_name(&row.node) {
            return None;
        }
        let number = NumberKey::from_stored(&row.number)?;
        let scope = super::scope::parse(&row.scope).ok()?.unwrap_or_else(|| Arc::from(""));
        let client = match client_digits(&row.client) {
            Some(client) => client,
            None => number.as_str().to_string(),
        };
        Some(Contact {
            number,
            agent: Agent { id: Arc::from(row.agent_id.as_str()), interface: Arc::from(row.agent_interface.as_str()) },
            direction: Direction::parse(&row.direction)?,
            disposition: Disposition::parse(&row.disposition)?,
            started_at: row.started_at,
            node: Arc::from(row.node.as_str()),
            call_id: row.call_id.clone(),
            client,
            scope,
        })
    }
}

/// A stored client number: digits with an optional leading `+`.
fn client_digits(text: &str) -> Option<String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let good =
        !digits.is_empty() && digits.len() <= super::number::MAX_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    good.then(|| text.to_string())
}

/// A contact for tests: `agent` on PJSIP, number 9123456789 unless changed.
#[cfg(test)]
pub fn test_contact(agent: &str, direction: Direction, disposition: Disposition, at: i64) -> Contact {
    Contact {
        number: NumberKey::from_stored("9123456789").expect("valid"),
        agent: Agent { id: Arc::from(agent), interface: Arc::from(format!("PJSIP/{agent}").as_str()) },
        direction,
        disposition,
        started_at: at,
        node: Arc::from("n"),
        call_id: format!("{agent}:{at}"),
        client: "+79123456789".into(),
        scope: Arc::from(""),
    }
}

/// What makes a CDR a contact.
#[derive(Debug, Clone)]
pub struct LearnRule {
    pub keys: KeyRule,
    pub agents: AgentRule,
    /// A call in a queue without `STICKY_SCOPE` takes the queue's name.
    pub scope_from_queue: bool,
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
        let (client, agent, direction) = match (caller, callee) {
            // An agent's leg with no party B is the agent alone in the
            // dialplan (Asterisk posts one after a failed Dial, ANSWERED).
            (Some(agent), None) if !record.dstchannel.trim().is_empty() => {
                (record.dst.as_str(), agent, Direction::Outbound)
            }
            (None, Some(agent)) => {
                if disposition != Disposition::Answered {
                    return None;
                }
                (record.src.as_str(), agent, Direction::Inbound)
            }
            _ => return None,
        };
        let (number, client) = self.keys.parse(client).ok()?;
        let call_id = match &record.call_id {
            Some(call_id) => call_id.clone(),
            None => format!("{node}:{}:{}", record.uniqueid, record.sequence),
        };
        let queue = || {
            (self.scope_from_queue && record.lastapp.eq_ignore_ascii_case("Queue"))
                .then(|| super::scope::of_queue(&record.lastdata))
        };
        let scope = record.scope.clone().or_else(|| queue().flatten()).unwrap_or_else(|| Arc::from(""));
        Some(Contact {
            number,
            agent,
            direction,
            disposition,
            started_at: record.start_ms,
            node: node.clone(),
            call_id: call_id.chars().take(190).collect(),
            client,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> LearnRule {
        LearnRule {
            keys: KeyRule { match_digits: 10, min_digits: 7 },
            agents: AgentRule::default(),
            scope_from_queue: false,
        }
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
            ..CdrRecord::default()
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
        assert_eq!(contact.client, "+79123456789");
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
    fn contacts_take_the_scope_of_their_call_or_queue() {
        let queued = CdrRecord {
            lastapp: "Queue".into(),
            lastdata: "support,tT,,,30".into(),
            ..record("79123456789", "s", "PJSIP/trunk-1", "Local/101@from-queue-0000000a;1", Disposition::Answered)
        };
        assert_eq!(&*rule().contact(&queued, &node()).unwrap().scope, "", "scope_from_queue is off");
        let from_queue = LearnRule { scope_from_queue: true, ..rule() };
        assert_eq!(&*from_queue.contact(&queued, &node()).unwrap().scope, "support");
        let scoped = CdrRecord { scope: Some(Arc::from("sales")), ..queued };
        assert_eq!(&*from_queue.contact(&scoped, &node()).unwrap().scope, "sales", "STICKY_SCOPE wins");
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
        let row = StoredRow {
            number: "9123456789".into(),
            agent_id: "101".into(),
            agent_interface: "PJSIP/101".into(),
            direction: "in".into(),
            disposition: "ANSWERED".into(),
            started_at: 5,
            node: "n".into(),
            call_id: "c".into(),
            client: "+79123456789".into(),
            scope: String::new(),
        };
        assert_eq!(Contact::from_row(&row).unwrap().client, "+79123456789");
        let old = StoredRow { client: String::new(), ..row.clone() };
        assert_eq!(Contact::from_row(&old).unwrap().client, "9123456789", "the key when the number is missing");
        assert!(Contact::from_row(&StoredRow { agent_id: "101&x".into(), ..row.clone() }).is_none());
        assert!(Contact::from_row(&StoredRow { direction: "sideways".into(), ..row.clone() }).is_none());
        assert!(Contact::from_row(&StoredRow { number: "x".into(), ..row.clone() }).is_none());
        assert!(Contact::from_row(&StoredRow { scope: "sales;x".into(), ..row.clone() }).is_none());
        assert_eq!(&*Contact::from_row(&StoredRow { scope: "sales".into(), ..row.clone() }).unwrap().scope, "sales");
        assert_eq!(Contact::from_row(&StoredRow { client: "7912;x".into(), ..row }).unwrap().client, "9123456789");
    }
}

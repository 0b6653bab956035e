//! Queue-aware availability: whether app_queue itself would ring the sticky
//! agent now, judged from what app_queue answers live (its QUEUE_EXISTS,
//! QUEUE_MEMBER_LIST and QUEUE_MEMBER functions), never from a copy of
//! queues.conf.

use super::agent::{id_of, Agent};

/// What app_queue answers about its queues, read live.
pub trait QueueFacts {
    /// Whether app_queue knows a queue of this name.
    fn exists(&self, queue: &str) -> bool;
    /// The member interfaces of the queue (`QUEUE_MEMBER_LIST`).
    fn members(&self, queue: &str) -> Vec<String>;
    /// Whether the member is paused (`QUEUE_MEMBER(queue,paused,interface)`).
    fn paused(&self, queue: &str, member: &str) -> Option<bool>;
    /// `QUEUE_MEMBER(queue,free)` and `QUEUE_MEMBER(queue,ready)`: members
    /// free and not paused, and of those the ones not in wrap-up.
    fn free_and_ready(&self, queue: &str) -> Option<(u32, u32)>;
}

/// app_queue's view of the sticky agent in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueVerdict {
    /// No queue applies (none named, or app_queue has no queue of that name).
    NoQueue,
    /// The agent is not a member of the queue.
    NotMember,
    /// The member is paused (any reason).
    Paused { member: String },
    /// Every free member of the queue is in wrap-up after a queue call.
    WrapUp { member: String },
    /// app_queue would ring the member as far as pause and wrap-up go.
    Member { member: String },
}

/// A member interface without its Dial options (`Local/101@agents/n` is
/// the agent `Local/101@agents`).
fn without_options(member: &str) -> &str {
    match member.split_once('/') {
        Some((tech, rest)) => match rest.find('/') {
            Some(end) => &member[..tech.len() + 1 + end],
            None => member,
        },
        None => member,
    }
}

/// Characters a member interface may have to be passed back to app_queue's
/// functions (no `,`, `(`, `)` or quotes that would change their arguments).
fn is_safe_member(member: &str) -> bool {
    !member.is_empty()
        && member.len() <= 200
        && member.bytes().all(|b| b.is_ascii_alphanumeric() || b"/@._-+:#*".contains(&b))
}

/// The member of `members` that is `agent`: the same interface (without
/// Dial options), else the only member with the agent's id.
pub fn member_of<'m>(agent: &Agent, members: &'m [String]) -> Option<&'m str> {
    let usable = || members.iter().map(String::as_str).filter(|m| is_safe_member(m));
    if let Some(member) = usable().find(|m| without_options(m).eq_ignore_ascii_case(&agent.interface)) {
        return Some(member);
    }
    let mut same_id = usable().filter(|m| id_of(without_options(m)) == Some(&*agent.id));
    match (same_id.next(), same_id.next()) {
        (Some(member), None) => Some(member),
        _ => None,
    }
}

/// Judges `agent` in `queue` the way app_queue decides whom to ring: a
/// member, not paused, not in wrap-up. Wrap-up is only visible in
/// app_queue's counts (its per-queue `wrapuptime` is not published), so it
/// is reported when every free member is in wrap-up; a queue where only
/// some are lets the call through (it never blocks a free agent wrongly).
pub fn judge(facts: &impl QueueFacts, queue: &str, agent: &Agent) -> QueueVerdict {
    if !facts.exists(queue) {
        return QueueVerdict::NoQueue;
    }
    let members = facts.members(queue);
    let Some(member) = member_of(agent, &members) else {
        return QueueVerdict::NotMember;
    };
    let member = member.to_string();
    match facts.paused(queue, &member) {
        Some(true) => return QueueVerdict::Paused { member },
        Some(false) => {}
        None => return QueueVerdict::NotMember,
    }
    match facts.free_and_ready(queue) {
        Some((free, 0)) if free > 0 => QueueVerdict::WrapUp { member },
        _ => QueueVerdict::Member { member },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;

    #[derive(Default)]
    struct Queues {
        members: HashMap<String, Vec<(String, bool)>>,
        counts: HashMap<String, (u32, u32)>,
    }

    impl QueueFacts for Queues {
        fn exists(&self, queue: &str) -> bool {
            self.members.contains_key(queue)
        }
        fn members(&self, queue: &str) -> Vec<String> {
            self.members.get(queue).map(|m| m.iter().map(|(i, _)| i.clone()).collect()).unwrap_or_default()
        }
        fn paused(&self, queue: &str, member: &str) -> Option<bool> {
            self.members.get(queue)?.iter().find(|(i, _)| i == member).map(|(_, p)| *p)
        }
        fn free_and_ready(&self, queue: &str) -> Option<(u32, u32)> {
            self.counts.get(queue).copied()
        }
    }

    fn agent(interface: &str) -> Agent {
        Agent { id: Arc::from(id_of(interface).unwrap()), interface: Arc::from(interface) }
    }

    #[test]
    fn members_are_found_by_interface_or_by_id() {
        let members = vec!["Local/101@agents/n".to_string(), "PJSIP/102".to_string(), "Local/1,0@x".to_string()];
        assert_eq!(member_of(&agent("Local/101@agents"), &members), Some("Local/101@agents/n"));
        assert_eq!(member_of(&agent("PJSIP/101"), &members), Some("Local/101@agents/n"), "same id");
        assert_eq!(member_of(&agent("pjsip/102"), &members), Some("PJSIP/102"));
        assert_eq!(member_of(&agent("PJSIP/103"), &members), None);
        let twice = vec!["PJSIP/101".to_string(), "SIP/101".to_string()];
        assert_eq!(member_of(&agent("IAX2/101"), &twice), None, "ambiguous");
    }

    #[test]
    fn verdicts_follow_app_queue() {
        let mut queues = Queues::default();
        queues.members.insert("desk".into(), vec![("Local/101@agents/n".into(), false), ("PJSIP/102".into(), true)]);
        queues.counts.insert("desk".into(), (1, 1));
        assert_eq!(judge(&queues, "sales", &agent("PJSIP/101")), QueueVerdict::NoQueue);
        assert_eq!(judge(&queues, "desk", &agent("PJSIP/103")), QueueVerdict::NotMember);
        assert_eq!(judge(&queues, "desk", &agent("PJSIP/102")), QueueVerdict::Paused { member: "PJSIP/102".into() });
        let free = judge(&queues, "desk", &agent("Local/101@agents"));
        assert_eq!(free, QueueVerdict::Member { member: "Local/101@agents/n".into() });
        queues.counts.insert("desk".into(), (1, 0));
        let wrapping = judge(&queues, "desk", &agent("Local/101@agents"));
        assert_eq!(wrapping, QueueVerdict::WrapUp { member: "Local/101@agents/n".into() });
        queues.counts.insert("desk".into(), (2, 1));
        assert!(matches!(judge(&queues, "desk", &agent("Local/101@agents")), QueueVerdict::Member { .. }));
    }
}

//! STICKY_ROUTE's view of an agent through app_queue: whether app_queue
//! would ring them now in the queue the contact was learned in, read live
//! through app_queue's own dialplan functions, joined with the device state.

use std::sync::Arc;

use super::running::Rules;
use crate::asterisk::channel::Channel;
use crate::asterisk::devstate::device_state;
use crate::asterisk::dialplan::{function_exists, read_function};
use crate::routing::contact::Contact;
use crate::routing::decision::{in_queue, verdict, Verdict};
use crate::routing::queue::{judge, QueueFacts, QueueVerdict};

/// app_queue's answers, read live through its dialplan functions (on the
/// caller's channel when there is one; they need none).
struct AppQueue<'c>(Option<&'c Channel<'c>>);

impl AppQueue<'_> {
    fn read(&self, expression: &str) -> Option<String> {
        read_function(self.0, expression)
    }

    fn number(&self, expression: &str) -> Option<u32> {
        self.read(expression)?.trim().parse().ok()
    }
}

impl QueueFacts for AppQueue<'_> {
    fn exists(&self, queue: &str) -> bool {
        // QUEUE_EXISTS is app_queue's: without app_queue no queue applies.
        function_exists("QUEUE_EXISTS") && self.number(&format!("QUEUE_EXISTS({queue})")) == Some(1)
    }

    fn members(&self, queue: &str) -> Vec<String> {
        let list = self.read(&format!("QUEUE_MEMBER_LIST({queue})")).unwrap_or_default();
        list.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_string).collect()
    }

    fn paused(&self, queue: &str, member: &str) -> Option<bool> {
        self.number(&format!("QUEUE_MEMBER({queue},paused,{member})")).map(|paused| paused != 0)
    }

    fn free_and_ready(&self, queue: &str) -> Option<(u32, u32)> {
        Some((
            self.number(&format!("QUEUE_MEMBER({queue},free)"))?,
            self.number(&format!("QUEUE_MEMBER({queue},ready)"))?,
        ))
    }
}

/// The queue app_queue judges the agent in: the contact's scope when
/// app_queue has a queue of that name, else sticky.conf's `queue`.
fn queue_verdict(channel: Option<&Channel>, rules: &Rules, contact: &Contact) -> (Arc<str>, QueueVerdict) {
    let general = &rules.config.general;
    if !general.queue_aware {
        return (Arc::from(""), QueueVerdict::NoQueue);
    }
    let facts = AppQueue(channel);
    let scope = (!contact.scope.is_empty()).then(|| contact.scope.clone());
    for queue in scope.iter().chain(general.queue.iter()) {
        let judged = judge(&facts, queue, &contact.agent);
        if judged != QueueVerdict::NoQueue {
            return (queue.clone(), judged);
        }
    }
    (Arc::from(""), QueueVerdict::NoQueue)
}

/// STICKY_ROUTE's whole verdict: the device state, then app_queue's view.
/// Also the queue judged in (empty: none).
pub(super) fn judge_agent(channel: Option<&Channel>, rules: &Rules, contact: &Contact) -> (Verdict, Arc<str>) {
    let device = verdict(&contact.agent, &rules.availability(), device_state);
    let (queue, judged) = queue_verdict(channel, rules, contact);
    (in_queue(device, &judged), queue)
}

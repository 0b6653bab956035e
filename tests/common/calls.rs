//! Calls over Local channels for the routing dialplan in tests/asterisk/routing:
//! Local/<number>@client is a client behind a trunk, Local/<ext>@agents an
//! agent's phone. Each helper waits for what it caused.

use std::time::Duration;

use super::ami::{Ami, Message};
use super::root::manifest_dir;
use super::{field, wait_for, Asterisk, Options};

pub const WAIT: Duration = Duration::from_secs(20);

/// The routing dialplan, queue and `sticky` as sticky.conf.
pub fn routing_options(sticky: &str) -> Options {
    let dir = manifest_dir().join("tests/asterisk/routing");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    Options::sticky(sticky).file("extensions.conf", &read("extensions.conf")).file("queues.conf", &read("queues.conf"))
}

/// The routing tests' sticky.conf (Custom:agent<ext> device states).
pub fn routing_sticky() -> String {
    std::fs::read_to_string(manifest_dir().join("tests/asterisk/routing/sticky.conf")).unwrap()
}

/// manager.conf: `test` (everything), `crm` (reporting only), `nobody`
/// (call events only).
pub const MANAGER_USERS: &str = "[general]\nenabled = yes\nport = @AMI_PORT@\nbindaddr = 127.0.0.1\n\n\
    [test]\nsecret = test\nread = all\nwrite = all\n\n\
    [crm]\nsecret = crm\nread = reporting\nwrite = reporting\n\n\
    [nobody]\nsecret = nobody\nread = call\nwrite = call\n";

/// Starts an instance with the routing dialplan; agents 101–103 are free.
pub fn start_routing(test: &str, sticky: &str) -> (Asterisk, Ami) {
    start_routing_with(test, routing_options(sticky))
}

/// [`start_routing`] with the AMI users of [`MANAGER_USERS`].
pub fn start_routing_with_users(test: &str, sticky: &str) -> (Asterisk, Ami) {
    start_routing_with(test, routing_options(sticky).file("manager.conf", MANAGER_USERS))
}

fn start_routing_with(test: &str, options: Options) -> (Asterisk, Ami) {
    let asterisk = Asterisk::start(test, options);
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    (asterisk, ami)
}

pub fn set_state(asterisk: &Asterisk, agent: &str, state: &str) {
    asterisk.cli(&format!("devstate change Custom:agent{agent} {state}"));
}

/// The client calls the sticky entry point; returns that call's StickyRoute event.
pub fn client_calls(ami: &Ami, client: &str, variables: &[(&str, &str)]) -> Message {
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    ami.originate(&format!("Local/{client}@client"), "sticky-in", "100", &format!("\"Client\" <{client}>"), variables);
    let events = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("StickyRoute"));
    assert!(events.len() > before, "no StickyRoute event for {client}");
    events[before].clone()
}

/// A client's call answered by `agent` directly (an inbound contact).
pub fn inbound(asterisk: &Asterisk, ami: &Ami, client: &str, agent: &str) {
    let before = learned_count(asterisk);
    ami.originate(&format!("Local/{client}@client"), "direct-in", agent, &format!("<{client}>"), &[]);
    learned(asterisk, before + 1);
}

/// `agent` calls the client (an outbound contact); `context` decides how the
/// client answers (client, client-noanswer, client-busy). Returns DIALSTATUS.
pub fn outbound(asterisk: &Asterisk, ami: &Ami, agent: &str, client: &str, context: &str) -> String {
    let before = learned_count(asterisk);
    let done_before = ami.all(|m| m.is_user_event("OutboundDone")).len();
    ami.originate(
        &format!("Local/{agent}@agents"),
        "agent-out",
        client,
        &format!("<{agent}>"),
        &[("CLIENT_CONTEXT", context), ("DIAL_TIMEOUT", "2"), ("TALK", "4")],
    );
    let done = ami.wait_nth(done_before + 1, WAIT, |m| m.is_user_event("OutboundDone"));
    assert!(done.len() > done_before, "the outbound call did not finish");
    learned(asterisk, before + 1);
    done[done_before].get("DialStatus").unwrap_or_default().to_string()
}

/// Waits until `agent`'s phone has rung `count` times in all.
pub fn agent_rang(ami: &Ami, agent: &str, count: usize) -> bool {
    ami.wait_nth(count, WAIT, |m| m.is_user_event("AgentRang") && m.get("Agent") == Some(agent)).len() >= count
}

pub fn status_field(asterisk: &Asterisk, label: &str) -> String {
    field(&asterisk.cli("sticky show status"), label)
}

pub fn learned_count(asterisk: &Asterisk) -> u64 {
    status_field(asterisk, "Contacts learned").parse().unwrap_or(0)
}

/// Waits until the module has learned `count` contacts in all.
pub fn learned(asterisk: &Asterisk, count: u64) {
    let ok = wait_for(WAIT, || (learned_count(asterisk) >= count).then_some(()));
    assert!(ok.is_some(), "fewer than {count} contacts learned:\n{}", asterisk.cli("sticky show status"));
}

/// Waits until no contact is waiting to be written.
pub fn writes_done(asterisk: &Asterisk) {
    let ok = wait_for(WAIT, || status_field(asterisk, "Writes pending").starts_with("0 ").then_some(()));
    assert!(ok.is_some(), "contacts not written:\n{}", asterisk.cli("sticky show status"));
}

//! Queue-aware availability against a real app_queue: a sticky agent who is
//! paused, in wrap-up after a queue call, or not a member of the contact's
//! queue is not rung (the call takes the usual path), and a caller waiting
//! with `w(N)` is let through when the pause or the wrap-up ends.

mod common;

use std::time::Instant;

use common::ami::{Ami, Message};
use common::calls::*;
use common::root::manifest_dir;
use common::{wait_for, Asterisk, Options};

const CLIENT: &str = "79123456789";
/// The queue's wrap-up after a queue call, in seconds.
const WRAPUP: u64 = 8;

/// The routing dialplan with a queue `desk` whose only member is agent 101
/// (state from Custom:agent101), and a way for a client to call it.
fn start(test: &str) -> (Asterisk, Ami) {
    let dir = manifest_dir().join("tests/asterisk/routing");
    let dialplan = std::fs::read_to_string(dir.join("extensions.conf")).unwrap()
        + "\n[queue-desk]\nexten => _X.,1,Queue(desk,,,,10)\n same => n,Hangup()\n"
        + THROUGH_QUEUE;
    let queues = std::fs::read_to_string(dir.join("queues.conf")).unwrap()
        + &format!(
            "\n[desk]\nstrategy = linear\ntimeout = 5\nretry = 1\nwrapuptime = {WRAPUP}\n\
             member => Local/101@agents/n,0,Agent 101,Custom:agent101\n\n\
             [desk-101]\nstrategy = linear\ntimeout = 5\nretry = 1\nwrapuptime = {WRAPUP}\n\
             member => Local/101@agents/n,0,Agent 101,Custom:agent101\n"
        );
    let options = Options::sticky(&routing_sticky()).file("extensions.conf", &dialplan).file("queues.conf", &queues);
    let asterisk = Asterisk::start(test, options);
    let ami = asterisk.ami();
    for agent in ["101", "102", "103"] {
        set_state(&asterisk, agent, "NOT_INUSE");
    }
    (asterisk, ami)
}

/// The README's recipe for sites that want every call in the queue's own
/// reports: the sticky agent through a queue of their own (`desk-<agent>`,
/// the agent its only member), so that app_queue rings them and writes
/// queue_log; the shared queue otherwise.
const THROUGH_QUEUE: &str = "\n[through-queue]\n\
    exten => 100,1,Set(__STICKY_SCOPE=desk)\n\
     same => n,Set(TARGET=${STICKY_ROUTE(${CALLERID(num)},1h)})\n\
     same => n,UserEvent(StickyRoute,Caller: ${CALLERID(num)},Status: ${STICKY_STATUS},Agent: ${STICKY_AGENT})\n\
     same => n,GotoIf($[\"${TARGET}\" = \"\"]?shared)\n\
     same => n,GotoIf($[${QUEUE_EXISTS(desk-${STICKY_AGENT})}]?own)\n\
     same => n,Dial(${TARGET},20,tT)\n\
     same => n,Hangup()\n\
     same => n(own),Queue(desk-${STICKY_AGENT},,,,15)\n\
     same => n(shared),Queue(desk,,,,10)\n\
     same => n,Hangup()\n";

/// A client's call answered by `agent` in the scope `desk` (the queue's name).
fn contact_in_desk(asterisk: &Asterisk, ami: &Ami, client: &str, agent: &str) {
    let before = learned_count(asterisk);
    ami.originate(
        &format!("Local/{client}@client"),
        "scoped",
        "direct",
        &format!("<{client}>"),
        &[("SCOPE", "desk"), ("AGENT", agent)],
    );
    learned(asterisk, before + 1);
}

/// The client calls the sticky entry point in scope `desk`; the call's
/// StickyRoute UserEvent (after any wait).
fn calls_desk(ami: &Ami, client: &str, variables: &[(&str, &str)]) -> Message {
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    let mut all = vec![("SCOPE", "desk")];
    all.extend_from_slice(variables);
    ami.originate(&format!("Local/{client}@client"), "scoped", "sticky", &format!("<{client}>"), &all);
    let events = ami.wait_nth(before + 1, WAIT * 2, |m| m.is_user_event("StickyRoute"));
    assert!(events.len() > before, "no StickyRoute event for {client}");
    events[before].clone()
}

fn status(message: &Message) -> (Option<&str>, Option<&str>) {
    (message.get("Status"), message.get("Agent"))
}

#[test]
fn a_paused_agent_is_not_rung_until_unpaused() {
    let (asterisk, ami) = start("queuepause");
    contact_in_desk(&asterisk, &ami, CLIENT, "101");
    let free = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(status(&free), (Some("ROUTED"), Some("101")), "{free:?}");
    let paused = asterisk.cli("queue pause member Local/101@agents/n queue desk reason lunch");
    assert!(asterisk.cli("queue show desk").contains("paused"), "{paused}");
    assert!(asterisk.cli("devstate list").contains("agent101"), "the device itself stays free");
    // Paused: the usual path (greeting, then the queue, whose other agent takes it).
    let rang_102 = ami.all(|m| m.is_user_event("AgentRang") && m.get("Agent") == Some("102")).len();
    let lunch = calls_desk(&ami, CLIENT, &[]);
    assert_eq!(status(&lunch), (Some("PAUSED"), Some("101")), "{lunch:?}");
    assert_eq!(lunch.get("Target"), Some(""));
    let greeted = ami.wait(WAIT, |m| m.is_user_event("Greeting") && m.get("Caller") == Some(CLIENT));
    assert!(greeted.is_some(), "the call took the usual path");
    assert!(agent_rang(&ami, "102", rang_102 + 1), "the queue handed the call to 102");
    // A caller who may wait is let through when the pause ends.
    let before = ami.all(|m| m.is_user_event("StickyRoute")).len();
    ami.originate(
        &format!("Local/{CLIENT}@client"),
        "scoped",
        "sticky",
        &format!("<{CLIENT}>"),
        &[("SCOPE", "desk"), ("OPTIONS", "w(30)m"), ("NOQUEUE", "1")],
    );
    assert!(asterisk.wait_for_log("waits up to 30s for Custom:agent101", WAIT), "{}", asterisk.tail_of_log(10));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(ami.all(|m| m.is_user_event("StickyRoute")).len(), before, "still waiting while paused");
    let rang_101 = ami.all(|m| m.is_user_event("AgentRang") && m.get("Agent") == Some("101")).len();
    let unpaused = Instant::now();
    asterisk.cli("queue unpause member Local/101@agents/n queue desk");
    let routed = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("StickyRoute"));
    assert_eq!(status(&routed[before]), (Some("ROUTED"), Some("101")), "{:?}", routed[before]);
    println!("routed {:?} after the unpause", unpaused.elapsed());
    assert!(agent_rang(&ami, "101", rang_101 + 1), "101 rang once unpaused");
    // The next callback goes straight through (once the routed call, now
    // the client's newest contact, is learned: the queue call before it was
    // 102's, who is no member of desk).
    let learned_101 =
        wait_for(WAIT, || (asterisk.eval(&format!("LAST_AGENT({CLIENT},,,desk)")) == "101").then_some(()));
    assert!(learned_101.is_some(), "{}", asterisk.cli(&format!("sticky show history {CLIENT}")));
    let next = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(status(&next), (Some("ROUTED"), Some("101")), "{next:?}");
    let stats = asterisk.cli("sticky show stats");
    assert!(stats.lines().any(|l| l.trim().starts_with("PAUSED:") && l.contains(" 1 /")), "{stats}");
}

#[test]
fn an_agent_in_wrap_up_is_not_rung_until_it_ends() {
    let (asterisk, ami) = start("queuewrapup");
    contact_in_desk(&asterisk, &ami, CLIENT, "101");
    // Another client's call through the queue: 101 answers, then wraps up.
    ami.originate("Local/79120000002@client", "queue-desk", "79120000002", "<79120000002>", &[]);
    let completed = ami.wait(WAIT, |m| m.is_event("AgentComplete") && m.get("Queue") == Some("desk"));
    assert!(completed.is_some(), "the queue call did not complete");
    let ended = Instant::now();
    let wrapping = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert!(ended.elapsed().as_secs() < WRAPUP, "too slow to see the wrap-up: {:?}", ended.elapsed());
    assert_eq!(status(&wrapping), (Some("WRAPUP"), Some("101")), "{wrapping:?}");
    // A waiting caller is routed once the wrap-up is over, not before.
    let routed = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1"), ("OPTIONS", "w(30)")]);
    assert_eq!(status(&routed), (Some("ROUTED"), Some("101")), "{routed:?}");
    let waited = ended.elapsed();
    println!("routed {waited:?} after the queue call ended (wrap-up {WRAPUP} s)");
    assert!(waited.as_secs() + 1 >= WRAPUP, "routed during the wrap-up: {waited:?}");
    let stats = asterisk.cli("sticky show stats");
    assert!(stats.lines().any(|l| l.trim().starts_with("WRAPUP:")), "{stats}");
}

#[test]
fn an_agent_outside_the_queue_is_not_rung_and_other_scopes_are_untouched() {
    let (asterisk, ami) = start("queuemember");
    contact_in_desk(&asterisk, &ami, CLIENT, "103");
    let outside = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(status(&outside), (Some("NOTMEMBER"), Some("103")), "{outside:?}");
    let shown = asterisk.cli(&format!("sticky show agent {CLIENT}"));
    assert!(shown.contains("Queue:") && shown.contains("NOTMEMBER"), "{shown}");
    // A scope that names no queue is judged by the device alone.
    let before = learned_count(&asterisk);
    ami.originate(
        "Local/79120000009@client",
        "scoped",
        "direct",
        "<79120000009>",
        &[("SCOPE", "sales"), ("AGENT", "103")],
    );
    learned(&asterisk, before + 1);
    let sales = client_calls(&ami, "79120000009", &[("NOQUEUE", "1")]);
    assert_eq!(status(&sales), (Some("ROUTED"), Some("103")), "{sales:?}");
    // queue_aware = no: the device alone again.
    let conf = format!("{}queue_aware = no\n", routing_sticky());
    asterisk.write_config("sticky.conf", &conf);
    asterisk.cli("module reload res_sticky.so");
    let judged = wait_for(WAIT, || {
        let event = calls_desk(&ami, CLIENT, &[("NOQUEUE", "1")]);
        (event.get("Status") == Some("ROUTED")).then_some(event)
    });
    assert!(judged.is_some(), "queue_aware = no still judged by the queue");
}

#[test]
fn the_last_three_ring_the_second_agent_when_the_newest_is_busy() {
    let (asterisk, ami) = start_routing("lastthree", &routing_sticky());
    inbound(&asterisk, &ami, CLIENT, "101");
    inbound(&asterisk, &ami, CLIENT, "102");
    set_state(&asterisk, "102", "INUSE");
    let plain = client_calls(&ami, CLIENT, &[("NOQUEUE", "1")]);
    assert_eq!(status(&plain), (Some("BUSY"), Some("102")), "{plain:?}");
    let fallback = client_calls(&ami, CLIENT, &[("NOQUEUE", "1"), ("OPTIONS", "l(3)")]);
    assert_eq!(status(&fallback), (Some("ROUTED"), Some("101")), "{fallback:?}");
    let ranked = ami.wait(WAIT, |m| m.is_event("StickyRoute") && m.get("Rank") == Some("2"));
    assert_eq!(ranked.and_then(|m| m.get("Agent").map(str::to_string)).as_deref(), Some("101"));
    assert!(agent_rang(&ami, "101", 2), "101 rang");
    // Nobody of the last three free: the newest's own status, rank 1.
    set_state(&asterisk, "101", "INUSE");
    let none = client_calls(&ami, CLIENT, &[("NOQUEUE", "1"), ("OPTIONS", "l(3)")]);
    assert_eq!(status(&none), (Some("BUSY"), Some("102")), "{none:?}");
    let stats = asterisk.cli("sticky show stats");
    assert!(stats.lines().any(|l| l.contains("routed to rank 2:") && l.contains(" 1 /")), "{stats}");
    assert_eq!(asterisk.eval(&format!("STICKY_ROUTE({CLIENT},,l(11))")), "", "a bad count is refused");
}

#[test]
fn a_sticky_call_through_the_agents_own_queue_is_in_queue_log() {
    let (asterisk, ami) = start("queuelog");
    contact_in_desk(&asterisk, &ami, CLIENT, "101");
    let rang = ami.all(|m| m.is_user_event("AgentRang") && m.get("Agent") == Some("101")).len();
    ami.originate(&format!("Local/{CLIENT}@client"), "through-queue", "100", &format!("<{CLIENT}>"), &[]);
    let routed = ami.wait(WAIT, |m| m.is_user_event("StickyRoute") && m.get("Caller") == Some(CLIENT));
    assert_eq!(routed.as_ref().map(status), Some((Some("ROUTED"), Some("101"))), "{routed:?}");
    assert!(agent_rang(&ami, "101", rang + 1), "app_queue rang the sticky agent");
    // app_queue's own records of a call it connected: the queue's reports count it.
    let queue_log = asterisk.dir.join("log/queue_log");
    let events = wait_for(WAIT, || {
        let text = std::fs::read_to_string(&queue_log).unwrap_or_default();
        let of_desk: Vec<String> = text.lines().filter(|l| l.contains("|desk-101|")).map(str::to_string).collect();
        of_desk.iter().any(|l| l.contains("|COMPLETE")).then_some(of_desk)
    });
    let events = events.unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&queue_log).unwrap_or_default()));
    let kinds: Vec<&str> = events.iter().filter_map(|l| l.split('|').nth(4)).collect();
    for kind in ["ENTERQUEUE", "CONNECT"] {
        assert!(kinds.contains(&kind), "{kind} missing: {events:#?}");
    }
    assert!(kinds.iter().any(|k| *k == "COMPLETEAGENT" || *k == "COMPLETECALLER"), "{events:#?}");
    let connect = events.iter().find(|l| l.contains("|CONNECT|")).unwrap();
    assert_eq!(connect.split('|').nth(3), Some("Agent 101"), "the member who took it: {connect}");
    assert!(events.iter().find(|l| l.contains("|ENTERQUEUE|")).unwrap().contains(CLIENT), "{events:#?}");
}

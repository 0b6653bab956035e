//! Sticky routing end to end over Local channels (Local/<number>@client
//! stands in for a client behind a trunk, Local/<ext>@agents for agents'
//! phones): live learning from CDRs, STICKY_ROUTE / LAST_AGENT, device
//! states, windows, options, restarts and the CLI.

mod common;

use std::time::Duration;

use common::ami::Ami;
use common::calls::*;
use common::{field, Asterisk};

const CLIENT: &str = "79123456789";

fn start(test: &str) -> (Asterisk, Ami) {
    start_routing(test, &routing_sticky())
}

/// The `Hits / misses` of `sticky show status`.
fn hits_and_misses(asterisk: &Asterisk) -> (u64, u64) {
    let text = status_field(asterisk, "Hits / misses");
    let (hits, misses) = text.split_once(" / ").unwrap_or_else(|| panic!("hits / misses: {text:?}"));
    (hits.parse().unwrap(), misses.parse().unwrap())
}

#[test]
fn a_dropped_caller_reaches_the_same_agent_directly() {
    let (asterisk, ami) = start("lastagent");
    let first = client_calls(&ami, CLIENT, &[]);
    assert_eq!(first.get("Status"), Some("NOHISTORY"), "{first:?}");
    assert!(ami.wait(WAIT, |m| m.is_user_event("Greeting")).is_some(), "the first call hears the greeting");
    assert!(agent_rang(&ami, "102", 1), "the queue hands the call to agent 102");
    learned(&asterisk, 1);
    ami.clear();
    let (hits, misses) = hits_and_misses(&asterisk);
    let second = client_calls(&ami, CLIENT, &[]);
    assert_eq!(second.get("Status"), Some("ROUTED"), "{second:?}");
    assert_eq!(second.get("Agent"), Some("102"));
    assert_eq!(second.get("Interface"), Some("Local/102@agents"));
    assert_eq!(second.get("Target"), Some("Local/102@agents"));
    // Answered from what this process learned: a cache hit, no store read.
    assert_eq!(hits_and_misses(&asterisk), (hits + 1, misses), "{}", asterisk.cli("sticky show status"));
    assert!(agent_rang(&ami, "102", 1), "agent 102's phone rings directly");
    // The greeting would have come before the Dial that rang agent 102.
    assert!(ami.all(|m| m.is_user_event("Greeting")).is_empty(), "no greeting on the callback");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "102");
    assert_eq!(asterisk.eval("LAST_AGENT(+7(912)345-67-89,,n)"), "Local/102@agents");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT(8{},,o)", &CLIENT[1..])), "", "no outbound contact");
}

#[test]
fn an_agent_who_called_the_client_gets_the_callback() {
    let (asterisk, ami) = start("lastcaller");
    for (client, context, dial_status) in [
        ("79120000001", "client", "ANSWER"),
        ("79120000002", "client-noanswer", "NOANSWER"),
        ("79120000003", "client-busy", "BUSY"),
    ] {
        assert_eq!(outbound(&asterisk, &ami, "103", client, context), dial_status);
        let callback = client_calls(&ami, client, &[("WINDOW", "30m"), ("OPTIONS", "o")]);
        assert_eq!(callback.get("Status"), Some("ROUTED"), "{context}: {callback:?}");
        assert_eq!(callback.get("Agent"), Some("103"), "{context}");
        let history = asterisk.cli(&format!("sticky show history {client}"));
        let outbound: Vec<&str> = history.lines().filter(|l| l.contains(" out ")).collect();
        assert_eq!(outbound.len(), 1, "one outbound contact per call: {history}");
        assert!(
            outbound[0].contains(if dial_status == "ANSWER" {
                "ANSWERED"
            } else if dial_status == "BUSY" {
                "BUSY"
            } else {
                "NO ANSWER"
            }),
            "{history}"
        );
    }
    // FAILED outbound calls are not in outbound_dispositions.
    asterisk.write_config("sticky.conf", &format!("{}outbound_dispositions = ANSWERED\n", routing_sticky()));
    asterisk.cli("module reload res_sticky.so");
    assert_eq!(asterisk.eval("LAST_AGENT(79120000003,30m,o)"), "", "BUSY no longer counts");
    assert_eq!(asterisk.eval("LAST_AGENT(79120000001,30m,o)"), "103");
}

#[test]
fn options_choose_direction_and_first_agent() {
    let (asterisk, ami) = start("options");
    outbound(&asterisk, &ami, "101", CLIENT, "client");
    inbound(&asterisk, &ami, CLIENT, "102");
    inbound(&asterisk, &ami, CLIENT, "103");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "103");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},30m,o)")), "101");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},30m,i)")), "103");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,f)")), "101", "the account owner");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,if)")), "102");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,fn)")), "Local/101@agents");
    let routed = client_calls(&ami, CLIENT, &[("OPTIONS", "f")]);
    assert_eq!((routed.get("Status"), routed.get("Agent")), (Some("ROUTED"), Some("101")));
    // Bad arguments are the dialplan's fault: a warning, INVALID, no answer.
    let bad = client_calls(&ami, CLIENT, &[("OPTIONS", "x")]);
    assert_eq!(bad.get("Status"), Some("INVALID"));
    assert!(asterisk.log().contains("STICKY_ROUTE(79123456789,1h,x): unknown option 'x'"));
}

#[test]
fn outside_the_window_the_call_goes_to_the_queue() {
    let (asterisk, ami) = start("window");
    inbound(&asterisk, &ami, CLIENT, "101");
    let inside = client_calls(&ami, CLIENT, &[("WINDOW", "60s")]);
    assert_eq!(inside.get("Status"), Some("ROUTED"));
    // The same client, whose contacts are now older than 2 s: outside a 2 s
    // window (also written as plain seconds) it has no history, while a
    // wider window still finds the agent.
    std::thread::sleep(Duration::from_millis(2100));
    ami.clear();
    for window in ["2s", "2"] {
        let late = client_calls(&ami, CLIENT, &[("WINDOW", window), ("NOQUEUE", "1")]);
        assert_eq!(late.get("Status"), Some("NOHISTORY"), "window {window}: {late:?}");
        assert_eq!(late.get("Agent"), Some(""), "window {window}: {late:?}");
    }
    assert!(ami.wait(WAIT, |m| m.is_user_event("Greeting") && m.get("Caller") == Some(CLIENT)).is_some());
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},60s)")), "101", "inside a wider window");
}

#[test]
fn a_busy_or_unavailable_agent_is_not_rung() {
    let (asterisk, ami) = start("states");
    inbound(&asterisk, &ami, CLIENT, "101");
    for (state, status) in [
        ("INUSE", "BUSY"),
        ("RINGING", "BUSY"),
        ("ONHOLD", "BUSY"),
        ("BUSY", "BUSY"),
        ("UNAVAILABLE", "UNAVAILABLE"),
        ("INVALID", "UNAVAILABLE"),
        ("UNKNOWN", "UNAVAILABLE"),
        ("NOT_INUSE", "ROUTED"),
    ] {
        set_state(&asterisk, "101", state);
        ami.clear();
        let call = client_calls(&ami, CLIENT, &[("NOQUEUE", "1")]);
        assert_eq!(call.get("Status"), Some(status), "{state}: {call:?}");
        assert_eq!(call.get("Agent"), Some("101"), "STICKY_AGENT is set also when not routed");
        if status != "ROUTED" {
            assert_eq!(call.get("Target"), Some(""));
            assert!(ami.wait(WAIT, |m| m.is_user_event("Greeting")).is_some(), "{state}: the fallback runs");
        }
    }
    let agent = asterisk.cli(&format!("sticky show agent {CLIENT}"));
    assert!(agent.contains("Custom:agent101 is NOT_INUSE"), "{agent}");
    assert!(agent.contains("ROUTED -> Local/101@agents"), "{agent}");
}

#[test]
fn history_survives_a_restart() {
    let (mut asterisk, ami) = start("restart");
    inbound(&asterisk, &ami, CLIENT, "102");
    outbound(&asterisk, &ami, "101", "79990001122", "client");
    writes_done(&asterisk);
    drop(ami);
    asterisk.restart();
    let ami = asterisk.ami();
    set_state(&asterisk, "102", "NOT_INUSE");
    let status = asterisk.cli("sticky show status");
    assert_eq!(field(&status, "Cache"), "0 of 200000 numbers", "a fresh process: {status}");
    let call = client_calls(&ami, CLIENT, &[]);
    assert_eq!((call.get("Status"), call.get("Agent")), (Some("ROUTED"), Some("102")), "{call:?}");
    assert_eq!(asterisk.eval("LAST_AGENT(79990001122,,o)"), "101");
    let status = asterisk.cli("sticky show status");
    assert_eq!(field(&status, "Database"), "up (SQLite)", "{status}");
    assert!(field(&status, "Hits / misses").ends_with("/ 2"), "both numbers were read from the store: {status}");
}

#[test]
fn cli_shows_agent_and_history_and_flushes_the_cache() {
    let (asterisk, ami) = start("cli");
    inbound(&asterisk, &ami, CLIENT, "101");
    outbound(&asterisk, &ami, "102", CLIENT, "client");
    let agent = asterisk.cli(&format!("sticky show agent +{CLIENT}"));
    assert!(agent.contains("Number key 9123456789, window 1d"), "{agent}");
    assert!(agent.contains("Last agent:           102 (Local/102@agents), outbound, ANSWERED"), "{agent}");
    assert!(agent.contains("Last inbound agent:   101 (Local/101@agents), inbound, ANSWERED"), "{agent}");
    assert!(agent.contains("First agent:          101"), "{agent}");
    writes_done(&asterisk);
    let history = asterisk.cli(&format!("sticky show history {CLIENT}"));
    assert!(history.contains("2 contacts"), "{history}");
    let lines: Vec<&str> = history.lines().filter(|l| l.contains("Local/10")).collect();
    assert!(lines[0].contains(" out ") && lines[0].contains("102"), "newest first: {history}");
    assert!(lines[1].contains(" in ") && lines[1].contains("101"), "{history}");
    assert!(asterisk.cli("sticky cache flush").contains("Flushed 1 cached numbers"));
    assert_eq!(field(&asterisk.cli("sticky show status"), "Cache"), "0 of 200000 numbers");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "102", "read back from the store");
    assert!(asterisk.cli("sticky show agent 12").contains("is not a usable number: too few digits"));
    let usage = asterisk.try_cli("sticky show agent").unwrap_or_default();
    assert!(usage.contains("Usage: sticky show agent <number> [window [scope]]"), "{usage}");
}

#[test]
fn functions_have_real_help() {
    let (asterisk, _ami) = start("help");
    let help = asterisk.cli("core show function STICKY_ROUTE");
    assert!(help.contains("A ready Dial() string for the client's sticky agent"), "{help}");
    assert!(help.contains("STICKY_STATUS"), "{help}");
    let help = asterisk.cli("core show function LAST_AGENT");
    assert!(help.contains("The agent who last talked to (or called) a client number"), "{help}");
    assert!(help.contains("LAST_AGENT(number[,window[,options[,scope]]])"), "{help}");
    let list = asterisk.cli("core show help sticky");
    for command in ["sticky show agent", "sticky show history", "sticky cache flush", "sticky import cdr"] {
        assert!(list.contains(command), "{command}: {list}");
    }
}

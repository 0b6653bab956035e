//! The dropped-call callback over real SIP: sipp is the client behind a trunk and the agents'
//! phones; Asterisk 22 runs the queue and STICKY_ROUTE.

mod common;

use std::time::Duration;

use common::calls::{learned, WAIT};
use common::sipp::{agent_ports, client_call, sip_options, Agent};
use common::{Asterisk, Options};

const CLIENT: &str = "79123456789";

fn options(ports: (u16, u16)) -> Options {
    sip_options(
        ports,
        "[general]
window = 1d
state_template = PJSIP/${AGENT}
dial_template = PJSIP/${AGENT}
",
    )
}

#[test]
fn a_client_whose_call_dropped_reaches_the_same_agent_over_sip() {
    let ports = agent_ports();
    let asterisk = Asterisk::start("sip", options(ports));
    let _agent101 = Agent::start(&asterisk, ports.0);
    let _agent102 = Agent::start(&asterisk, ports.1);
    let ami = asterisk.ami();
    assert_eq!(asterisk.eval("DEVICE_STATE(PJSIP/102)"), "NOT_INUSE");

    // The first call: no history, the greeting, the queue hands it to 102
    // (linear), and the client's call is cut after two seconds.
    // The greeting takes about 1.5 s before the queue: talk long enough.
    let first = client_call(&asterisk, CLIENT, "100", Duration::from_secs(4));
    assert!(first.status.success(), "the first call failed: {}", String::from_utf8_lossy(&first.stderr));
    let route = ami.wait(WAIT, |m| m.is_user_event("StickyRoute")).expect("StickyRoute");
    assert_eq!(route.get("Status"), Some("NOHISTORY"), "{route:?}");
    assert!(ami.wait(WAIT, |m| m.is_user_event("Greeting")).is_some());
    let connected = ami.wait(WAIT, |m| m.is_event("AgentConnect")).expect("the queue connected an agent");
    assert_eq!(connected.get("Interface"), Some("PJSIP/102"), "{connected:?}");
    learned(&asterisk, 1);
    ami.clear();

    // The callback: straight to 102's phone, no greeting, no queue.
    let second = client_call(&asterisk, CLIENT, "100", Duration::from_secs(1));
    assert!(second.status.success(), "the callback failed: {}", String::from_utf8_lossy(&second.stderr));
    let route = ami.wait(WAIT, |m| m.is_user_event("StickyRoute")).expect("StickyRoute");
    assert_eq!(route.get("Status"), Some("ROUTED"), "{route:?}");
    assert_eq!(route.get("Agent"), Some("102"));
    assert_eq!(route.get("Target"), Some("PJSIP/102"));
    let dial =
        ami.wait(WAIT, |m| m.is_event("DialEnd") && m.get("DialStatus") == Some("ANSWER")).expect("Dial answered");
    assert!(dial.get("DestChannel").unwrap_or_default().starts_with("PJSIP/102-"), "{dial:?}");
    assert!(
        ami.all(|m| m.is_user_event("Greeting") || m.is_event("QueueCallerJoin")).is_empty(),
        "no greeting, no queue"
    );
}

#[test]
fn a_busy_sticky_agent_sends_the_callback_to_the_queue() {
    let ports = agent_ports();
    let asterisk = Asterisk::start("sipbusy", options(ports));
    let _agent101 = Agent::start(&asterisk, ports.0);
    let _agent102 = Agent::start(&asterisk, ports.1);
    let ami = asterisk.ami();
    let first = client_call(&asterisk, CLIENT, "100", Duration::from_secs(4));
    assert!(first.status.success());
    learned(&asterisk, 1);
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "102");

    // Another client keeps agent 102 busy for a while...
    let busy_asterisk = &asterisk;
    std::thread::scope(|scope| {
        let other = scope.spawn(|| client_call(busy_asterisk, "79990000001", "100", Duration::from_secs(10)));
        let in_use = common::wait_for(WAIT, || (asterisk.eval("DEVICE_STATE(PJSIP/102)") == "INUSE").then_some(()));
        assert!(in_use.is_some(), "agent 102 is on the other call");
        ami.clear();
        // ...so our client's callback finds 102 busy and goes to the queue,
        // which hands it to 101.
        let callback = client_call(&asterisk, CLIENT, "100", Duration::from_secs(4));
        assert!(callback.status.success());
        let route = ami.wait(WAIT, |m| m.is_user_event("StickyRoute")).expect("StickyRoute");
        assert_eq!((route.get("Status"), route.get("Agent")), (Some("BUSY"), Some("102")), "{route:?}");
        assert!(ami.wait(WAIT, |m| m.is_user_event("Greeting")).is_some());
        let connected = ami.wait(WAIT, |m| m.is_event("AgentConnect")).expect("the queue connected an agent");
        assert_eq!(connected.get("Interface"), Some("PJSIP/101"), "{connected:?}");
        assert!(other.join().unwrap().status.success());
    });
    learned(&asterisk, 3);
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "101", "101 is the sticky agent now");
}

#[test]
fn a_callback_waits_for_its_busy_agent_over_sip() {
    let ports = agent_ports();
    let asterisk = Asterisk::start("sipwait", options(ports));
    let _agent101 = Agent::start(&asterisk, ports.0);
    let _agent102 = Agent::start(&asterisk, ports.1);
    let ami = asterisk.ami();
    let first = client_call(&asterisk, CLIENT, "100", Duration::from_secs(4));
    assert!(first.status.success());
    learned(&asterisk, 1);
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "102");
    let busy_asterisk = &asterisk;
    std::thread::scope(|scope| {
        // Another client keeps agent 102 busy for six seconds.
        let other = scope.spawn(|| client_call(busy_asterisk, "79990000001", "100", Duration::from_secs(6)));
        let in_use = common::wait_for(WAIT, || (asterisk.eval("DEVICE_STATE(PJSIP/102)") == "INUSE").then_some(()));
        assert!(in_use.is_some(), "agent 102 is on the other call");
        ami.clear();
        // Our client's callback waits (ringing) instead of going to the queue,
        // and reaches 102 when the other call ends.
        let callback = client_call(&asterisk, CLIENT, "101", Duration::from_secs(1));
        assert!(callback.status.success(), "{}", String::from_utf8_lossy(&callback.stderr));
        let route = ami.wait(WAIT, |m| m.is_user_event("StickyRoute")).expect("StickyRoute");
        assert_eq!((route.get("Status"), route.get("Agent")), (Some("ROUTED"), Some("102")), "{route:?}");
        let dial =
            ami.wait(WAIT, |m| m.is_event("DialEnd") && m.get("DialStatus") == Some("ANSWER")).expect("Dial answered");
        assert!(dial.get("DestChannel").unwrap_or_default().starts_with("PJSIP/102-"), "{dial:?}");
        assert!(ami.all(|m| m.is_event("QueueCallerJoin")).is_empty(), "no queue");
        assert!(other.join().unwrap().status.success());
    });
    assert!(asterisk.log().contains("waits up to 20s for PJSIP/102"));
}

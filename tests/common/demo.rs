//! The scripted demo (`make demo`): Asterisk 22 with res_sticky, SQLite
//! history, a queue of two agents behind a greeting, and sipp playing the
//! client and the agents' phones over real SIP. It tells what happens.

use std::fmt::Write;
use std::time::{Duration, Instant};

use super::ami::Ami;
use super::calls::{learned, WAIT};
use super::root::manifest_dir;
use super::sipp::{agent_ports, client_call, sip_options, Agent};
use super::{field, wait_for, Asterisk, Options};

const CLIENT: &str = "+7 912 345-67-89";
const CLIENT_DIGITS: &str = "79123456789";

/// What the demo saw, for `tests/demo.rs` to check.
pub struct Story {
    pub text: String,
    pub statuses: Vec<String>,
    pub agents: Vec<String>,
    /// Whether each of our client's calls heard the greeting (the queue path).
    pub greetings: Vec<bool>,
}

fn options(ports: (u16, u16)) -> Options {
    let sticky = std::fs::read_to_string(manifest_dir().join("conf/sticky.conf.sample")).unwrap()
        + "
[general]
state_template = PJSIP/${AGENT}
dial_template = PJSIP/${AGENT}
; The story is about routing: a test machine loaded far past its cores must
; not turn the first call's store read into the deadline path.
query_timeout = 2s
";
    sip_options(ports, &sticky)
}

/// One call from the client: what STICKY_ROUTE said and who answered.
fn call(asterisk: &Asterisk, ami: &Ami, talk: Duration) -> (String, String, bool) {
    ami.clear();
    let output = client_call(asterisk, CLIENT_DIGITS, "100", talk);
    assert!(output.status.success(), "sipp: {}", String::from_utf8_lossy(&output.stderr));
    let route = ami.wait(WAIT, |m| m.is_user_event("StickyRoute")).expect("StickyRoute");
    let status = route.get("Status").unwrap_or_default().to_string();
    let greetings = ami.all(|m| m.is_user_event("Greeting") && m.get("Caller") == Some(CLIENT_DIGITS)).len();
    assert!(greetings <= 1, "one call, {greetings} greetings");
    let greeting = greetings == 1;
    let answered = ami
        .wait(WAIT, |m| (m.is_event("DialEnd") && m.get("DialStatus") == Some("ANSWER")) || m.is_event("AgentConnect"))
        .and_then(|m| m.get("Interface").or(m.get("DestChannel")).map(|s| s.split('-').next().unwrap_or(s).to_string()))
        .unwrap_or_default();
    (status, answered, greeting)
}

pub fn run() -> Story {
    let started = Instant::now();
    let ports = agent_ports();
    let asterisk = Asterisk::start("demo", options(ports));
    let _agent101 = Agent::start(&asterisk, ports.0);
    let _agent102 = Agent::start(&asterisk, ports.1);
    let ami = asterisk.ami();
    let mut story = Story { text: String::new(), statuses: Vec::new(), agents: Vec::new(), greetings: Vec::new() };
    let version = asterisk.cli("core show version").split_whitespace().nth(1).unwrap_or("?").to_string();
    let out = &mut story.text;
    let _ = writeln!(out, "res_sticky demo — Asterisk {version}, history in embedded SQLite");
    let _ = writeln!(out, "  dialplan: exten 100 = STICKY_ROUTE(caller,1h) ? Dial(agent) : greeting + Queue(support)");
    let _ = writeln!(out, "  queue support: PJSIP/102 (agent B), PJSIP/101 (agent A); sipp plays client and phones\n");

    let step =
        |out: &mut String, story: &mut (&mut Vec<String>, &mut Vec<String>, &mut Vec<bool>), title: &str, talk: u64| {
            let (status, agent, greeting) = call(&asterisk, &ami, Duration::from_secs(talk));
            let path = if greeting { "greeting + queue" } else { "no greeting, no queue" };
            let _ = writeln!(out, "{title}\n  STICKY_STATUS={status:<10} {path:<22} -> answered by {agent}");
            story.0.push(status);
            story.1.push(agent);
            story.2.push(greeting);
        };
    let seen = &mut (&mut story.statuses, &mut story.agents, &mut story.greetings);
    step(out, seen, &format!("1. {CLIENT} calls the hotline for the first time"), 4);
    learned(&asterisk, 1);
    let _ = writeln!(out, "   ...the client's mobile drops the call; res_sticky learned the contact from its CDR\n");
    step(out, seen, "2. The client calls back a moment later", 2);
    let _ = writeln!(out, "   ...rang agent B's phone directly\n");

    // Agent B takes another client's call and stays on it.
    let other_asterisk = &asterisk;
    std::thread::scope(|scope| {
        let other = scope.spawn(|| client_call(other_asterisk, "79990000001", "100", Duration::from_secs(10)));
        let busy = wait_for(WAIT, || (asterisk.eval("DEVICE_STATE(PJSIP/102)") == "INUSE").then_some(()));
        assert!(busy.is_some(), "agent B did not take the other call");
        let _ = writeln!(out, "3. Meanwhile agent B is on a call with another client (PJSIP/102 is INUSE)");
        step(out, seen, "   and our client calls again", 3);
        let _ = writeln!(out, "   ...B was busy, so the call took the usual path\n");
        let other = other.join().expect("the other client's sipp thread");
        assert!(
            other.status.success(),
            "the other client's call failed: {}{}",
            String::from_utf8_lossy(&other.stdout),
            String::from_utf8_lossy(&other.stderr)
        );
    });

    let status = asterisk.cli("sticky show status");
    let _ = writeln!(
        out,
        "*CLI> sticky show agent {CLIENT_DIGITS}\n{}",
        asterisk.cli(&format!("sticky show agent {CLIENT_DIGITS}")).trim_end()
    );
    let _ = writeln!(
        out,
        "\n*CLI> sticky show history {CLIENT_DIGITS}\n{}",
        asterisk.cli(&format!("sticky show history {CLIENT_DIGITS}")).trim_end()
    );
    let _ = writeln!(
        out,
        "\nLookups: {}; contacts learned: {}",
        field(&status, "Lookups"),
        field(&status, "Contacts learned")
    );
    let _ =
        writeln!(out, "(demo took {:.0} s; `sticky show status` has every counter)", started.elapsed().as_secs_f64());
    story
}

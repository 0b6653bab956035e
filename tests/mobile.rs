//! MOBILE_AGENT with app_queue: mobile numbers log in and out of queue 8008,
//! allow-listed, with PINs, lockouts, paused logins and restarts.

mod common;

use common::base64;

use std::fs;
use std::time::Duration;

use common::ami::{Ami, Message};
use common::calls::WAIT;
use common::root::manifest_dir;
use common::{wait_for, Asterisk, Options};

const MOBILE: &str = "79112223344";
const MEMBER: &str = "Local/79112223344@mobile-phone/n";

fn read(name: &str) -> String {
    fs::read_to_string(manifest_dir().join("tests/asterisk/mobile").join(name)).unwrap()
}

fn start(test: &str) -> (Asterisk, Ami) {
    let options = Options::sticky(&read("sticky.conf"))
        .file("extensions.conf", &read("extensions.conf"))
        .file("queues.conf", &read("queues.conf"));
    let asterisk = Asterisk::start(test, options);
    let ami = asterisk.ami();
    (asterisk, ami)
}

/// The number `caller` dials the service code; `keypad` is the PIN its phone keys.
fn service_code(ami: &Ami, index: usize, caller: &str, keypad: &str, variables: &[(&str, &str)]) -> Message {
    let mut all = vec![("INDEX", index.to_string())];
    all.extend(variables.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let channel = if keypad.is_empty() { "Local/s@hold".to_string() } else { format!("Local/{keypad}@keypad") };
    ami.originate(&channel, "mobile-login", "4580", &format!("<{caller}>"), &borrowed);
    ami.wait(WAIT, |m| m.is_user_event("Mobile") && m.get("Index") == Some(&index.to_string()))
        .unwrap_or_else(|| panic!("MOBILE_AGENT did not answer for {caller}"))
}

fn status(ami: &Ami, index: usize, caller: &str, keypad: &str, variables: &[(&str, &str)]) -> String {
    service_code(ami, index, caller, keypad, variables).get("Status").unwrap_or_default().to_string()
}

fn queue_log(asterisk: &Asterisk) -> String {
    fs::read_to_string(asterisk.dir.join("log/queue_log")).unwrap_or_default()
}

/// A caller rings queue 8008 and the queue ends; returns whether the mobile
/// phone rang. The queue's own end (QueueDone, with QUEUESTATUS) is waited
/// for, so "it did not ring" means the queue ran its course without it.
fn call_queue(ami: &Ami) -> bool {
    let before = ami.all(|m| m.is_user_event("MobileRang")).len();
    let done_before = ami.all(|m| m.is_user_event("QueueDone")).len();
    ami.originate("Local/s@hold", "queue-8008", "s", "<79990001122>", &[]);
    let done = ami.wait_nth(done_before + 1, WAIT, |m| m.is_user_event("QueueDone"));
    assert!(done.len() > done_before, "the call into queue 8008 never left the queue");
    let status = done[done_before].get("Status").unwrap_or_default().to_string();
    let rang = ami.all(|m| m.is_user_event("MobileRang")).len() > before;
    if rang {
        assert_ne!(status, "TIMEOUT", "the mobile phone rang and answered: {:?}", done[done_before]);
    } else {
        assert_eq!(status, "TIMEOUT", "the queue waited its full time with nobody to ring: {:?}", done[done_before]);
    }
    rang
}

#[test]
fn an_allowed_number_toggles_in_and_out() {
    let (asterisk, ami) = start("mobile");
    assert_eq!(status(&ami, 1, MOBILE, "", &[]), "LOGGEDIN");
    let queue = asterisk.cli("queue show 8008");
    assert!(queue.contains(&format!("Mobile {MOBILE} ({MEMBER}")), "{queue}");
    assert!(queue.contains("dynamic"), "{queue}");
    assert!(
        wait_for(WAIT, || queue_log(&asterisk).contains(&format!("|8008|{MEMBER}|ADDMEMBER|")).then_some(())).is_some(),
        "{}",
        queue_log(&asterisk)
    );
    assert!(call_queue(&ami), "a call into the queue reaches the mobile phone");
    let mobile = asterisk.cli("sticky show mobile");
    let line = mobile.lines().find(|l| l.contains(MOBILE)).unwrap_or_else(|| panic!("{mobile}"));
    assert!(
        line.contains("8008") && line.contains(MEMBER) && line.trim_end().ends_with('1'),
        "one call taken: {mobile}"
    );
    assert_eq!(status(&ami, 2, MOBILE, "", &[]), "LOGGEDOUT");
    assert!(!asterisk.cli("queue show 8008").contains(MOBILE));
    assert!(wait_for(WAIT, || queue_log(&asterisk).contains("REMOVEMEMBER").then_some(())).is_some());
    assert!(!call_queue(&ami), "no member, nobody rings");
    assert!(asterisk.cli("sticky show mobile").contains("0 mobile member(s)"));
}

#[test]
fn unlisted_numbers_wrong_pins_and_the_lockout() {
    let (asterisk, ami) = start("mobiledeny");
    assert_eq!(status(&ami, 1, "79990000000", "", &[]), "DENIED");
    assert!(asterisk.log().contains("MOBILE_AGENT(8008): refused 79990000000: not allowed in [mobile]"));
    // Three wrong PINs within `lockout` (10 s; quiet, so each try is quick).
    let pinned = "79115556677";
    let quiet = [("OPTS", "q")];
    assert_eq!(status(&ami, 2, pinned, "1111", &quiet), "DENIED");
    assert!(asterisk.log().contains(&format!("refused {pinned}: wrong PIN")));
    assert_eq!(status(&ami, 3, pinned, "2222", &quiet), "DENIED");
    assert_eq!(status(&ami, 4, pinned, "3333", &quiet), "LOCKED", "the third failure locks");
    assert!(asterisk.log().contains(&format!("MOBILE_AGENT(8008): refused {pinned}: wrong PIN; now locked out")));
    assert_eq!(status(&ami, 5, pinned, "4321", &quiet), "LOCKED", "even with the right PIN");
    assert!(
        asterisk.log().contains(&format!("MOBILE_AGENT(8008): refused {pinned}: locked out after repeated failures")),
        "the LOCKED refusal is logged:\n{}",
        asterisk.tail_of_log(20)
    );
    assert!(!asterisk.cli("queue show 8008").contains(pinned));
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(status(&ami, 6, pinned, "4321", &[]), "LOGGEDIN", "after the lockout");
    assert!(asterisk.cli("queue show 8008").contains(pinned));
}

#[test]
fn a_paused_login_gets_no_calls_until_unpaused() {
    let (asterisk, ami) = start("mobilepaused");
    assert_eq!(status(&ami, 1, MOBILE, "", &[("ACTION", "login"), ("OPTS", "pq")]), "LOGGEDIN");
    let queue = asterisk.cli("queue show 8008");
    assert!(queue.contains(MOBILE) && queue.contains("paused"), "{queue}");
    assert!(!call_queue(&ami), "paused: no call");
    asterisk.cli(&format!("queue unpause member {MEMBER} queue 8008"));
    assert!(call_queue(&ami), "unpaused: the call reaches it");
}

#[test]
fn members_survive_a_restart_and_a_reload_revokes_logins() {
    let (mut asterisk, ami) = start("mobilerestart");
    assert_eq!(status(&ami, 1, MOBILE, "", &[("ACTION", "login")]), "LOGGEDIN");
    drop(ami);
    asterisk.restart();
    let ami = asterisk.ami();
    assert!(asterisk.cli("queue show 8008").contains(MEMBER), "persistentmembers kept it");
    assert!(asterisk.cli("sticky show mobile").contains(MOBILE));
    // The number is taken off the list.
    asterisk.write_config("sticky.conf", &read("sticky.conf").replace(&format!("allow = {MOBILE}\n"), ""));
    asterisk.cli("module reload res_sticky.so");
    let mobile = asterisk.cli("sticky show mobile");
    assert!(mobile.contains("NOT ALLOWED any more"), "marked while still a member: {mobile}");
    assert_eq!(status(&ami, 2, MOBILE, "", &[("ACTION", "login")]), "DENIED");
    assert_eq!(status(&ami, 3, MOBILE, "", &[]), "LOGGEDOUT", "it may still log out");
    assert_eq!(status(&ami, 4, MOBILE, "", &[]), "DENIED", "and not back in");
}

#[test]
fn hostile_numbers_never_reach_an_interface() {
    let (asterisk, ami) = start("mobilehostile");
    let hostile = ["7911222&3344", "7911/2223344", "79112223344@evil", "7911222\n3344", &"7".repeat(200)];
    for (index, number) in hostile.iter().enumerate() {
        let b64 = base64(number.as_bytes());
        assert_eq!(
            status(&ami, index, "", "", &[("NUMBER_B64", &b64), ("ACTION", "login"), ("OPTS", "q")]),
            "INVALID",
            "{number:?}"
        );
    }
    assert_eq!(status(&ami, 9, "", "", &[("ACTION", "login"), ("OPTS", "q")]), "INVALID", "no caller number at all");
    let queue = asterisk.cli("queue show 8008");
    assert!(queue.contains("No Members"), "{queue}");
    // Every INVALID refusal is logged with the number, escaped.
    let log = asterisk.log();
    for shown in ["'7911222&3344'", "'7911/2223344'", "'79112223344@evil'", "'7911222\\n3344'", "''"] {
        assert!(log.contains(&format!("MOBILE_AGENT(8008): refused number {shown}: ")), "{shown} logged:\n{log}");
    }
    assert!(log.contains(&format!("MOBILE_AGENT(8008): refused number '{}…': ", "7".repeat(40))), "{log}");
    assert_eq!(log.matches("MOBILE_AGENT(8008): refused number '").count(), hostile.len() + 1, "one line each");
}

/// The line of `queue show 8008` that lists the mobile member.
fn member_line(asterisk: &Asterisk) -> String {
    let queue = asterisk.cli("queue show 8008");
    queue.lines().find(|l| l.contains(MEMBER)).unwrap_or_else(|| panic!("not a member: {queue}")).to_string()
}

#[test]
fn a_mobile_members_state_follows_its_calls() {
    let (asterisk, ami) = start("mobilestate");
    assert_eq!(status(&ami, 1, MOBILE, "", &[("ACTION", "login"), ("OPTS", "q")]), "LOGGEDIN");
    let free = wait_for(WAIT, || Some(member_line(&asterisk)).filter(|l| l.contains("(Not in use)")));
    assert!(free.is_some(), "free at first: {}", member_line(&asterisk));
    // The mobile phone takes a call of its own (not from the queue): the
    // member is in use, and the queue (ringinuse = no) passes it over.
    asterisk.cli("database put test talk 15");
    ami.originate(&format!("Local/{MOBILE}@mobile-phone"), "hold", "s", "<79990003344>", &[]);
    assert!(ami.wait(WAIT, |m| m.is_user_event("MobileRang")).is_some(), "the private call reached the phone");
    let busy = wait_for(WAIT, || Some(member_line(&asterisk)).filter(|l| l.contains("(In use)")));
    assert!(busy.is_some(), "in use during its call: {}", member_line(&asterisk));
    assert!(!call_queue(&ami), "a member in a call of its own is not rung");
    // The call ends: the member is free again and takes the next queue call.
    asterisk.cli("database put test talk 1");
    let free =
        wait_for(Duration::from_secs(30), || Some(member_line(&asterisk)).filter(|l| l.contains("(Not in use)")));
    assert!(free.is_some(), "free after its call: {}", member_line(&asterisk));
    assert!(call_queue(&ami), "a free member is rung");
}

//! MOBILE_AGENT's flow against a fake queue.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use super::*;
use crate::config::{parse, raw_from_text};

#[derive(Default)]
struct FakeDesk {
    caller: Option<String>,
    pins: RefCell<VecDeque<Result<String, Hungup>>>,
    members: RefCell<BTreeSet<(String, String)>>,
    paused: RefCell<BTreeSet<String>>,
    played: RefCell<Vec<String>>,
    queues: Vec<String>,
}

impl Caller for FakeDesk {
    fn number(&self) -> Option<String> {
        self.caller.clone()
    }
    fn read_digits(&self, prompts: &[&str], max_digits: usize, _timeout: Duration) -> Result<String, Hungup> {
        assert_eq!(max_digits, PIN_DIGITS, "only a PIN is read");
        self.played.borrow_mut().extend(prompts.iter().map(|p| p.to_string()));
        self.pins.borrow_mut().pop_front().unwrap_or(Ok(String::new()))
    }
    fn play(&self, prompts: &[&str]) -> Result<(), Hungup> {
        self.played.borrow_mut().extend(prompts.iter().map(|p| p.to_string()));
        Ok(())
    }
    fn say_digits(&self, digits: &str) -> Result<(), Hungup> {
        self.played.borrow_mut().push(format!("digits:{digits}"));
        Ok(())
    }
}

impl Desk for FakeDesk {
    fn is_member(&self, queue: &str, interface: &str) -> bool {
        self.members.borrow().contains(&(queue.to_string(), interface.to_string()))
    }
    fn add(&self, queue: &str, member: &Member) -> QueueReply {
        if !self.queues.iter().any(|q| q == queue) {
            return QueueReply::NoSuchQueue;
        }
        if member.paused {
            self.paused.borrow_mut().insert(member.interface.clone());
        }
        match self.members.borrow_mut().insert((queue.into(), member.interface.clone())) {
            true => QueueReply::Done,
            false => QueueReply::AlreadyOrNotMember,
        }
    }
    fn remove(&self, queue: &str, interface: &str) -> QueueReply {
        match self.members.borrow_mut().remove(&(queue.to_string(), interface.to_string())) {
            true => QueueReply::Done,
            false => QueueReply::AlreadyOrNotMember,
        }
    }
}

fn desk(caller: &str) -> FakeDesk {
    FakeDesk { caller: Some(caller.into()), queues: vec!["8008".into(), "sales".into()], ..FakeDesk::default() }
}

fn config() -> Mobile {
    let text = "[mobile]\nallow = 79112223344\nallow = 79115556677,4321\nallow = 79110000000,,sales\nlockout = 60\n";
    parse(&raw_from_text("sticky.conf", text)).unwrap().config.mobile
}

const KEYS: KeyRule = KeyRule { match_digits: 10, min_digits: 7 };

fn run_with(desk: &FakeDesk, lockouts: &Lockouts, config: &Mobile, request: &str) -> Outcome {
    let context = Context { config, keys: KEYS, lockouts, now: Instant::now() };
    run(&parse_request(request).unwrap(), &context, desk)
}

#[test]
fn toggling_in_and_out() {
    let desk = desk("+7 911 222-33-44");
    let lockouts = Lockouts::default();
    let config = config();
    let login = run_with(&desk, &lockouts, &config, "8008");
    assert_eq!(login.status, MobileStatus::LoggedIn);
    assert_eq!(login.interface.as_deref(), Some("Local/79112223344@from-internal/n"));
    assert!(desk.is_member("8008", "Local/79112223344@from-internal/n"));
    assert_eq!(desk.played.borrow().as_slice(), ["agent-loginok", "digits:79112223344"]);
    assert_eq!(run_with(&desk, &lockouts, &config, "8008").status, MobileStatus::LoggedOut);
    assert!(desk.members.borrow().is_empty());
    assert_eq!(desk.played.borrow().last().map(String::as_str), Some("agent-loggedoff"));
    assert_eq!(run_with(&desk, &lockouts, &config, "8008,,logout,q").status, MobileStatus::LoggedOut, "idempotent");
    assert_eq!(
        run_with(&desk, &lockouts, &config, "8008,89112223344,login,pq").status,
        MobileStatus::LoggedIn,
        "8… is the same number"
    );
    assert!(desk.paused.borrow().contains("Local/79112223344@from-internal/n"));
}

#[test]
fn only_listed_numbers_and_queues() {
    let lockouts = Lockouts::default();
    let config = config();
    let stranger = desk("79990000000");
    assert_eq!(run_with(&stranger, &lockouts, &config, "8008").status, MobileStatus::Denied);
    assert!(stranger.members.borrow().is_empty());
    let sales_only = desk("79110000000");
    assert_eq!(run_with(&sales_only, &lockouts, &config, "8008").status, MobileStatus::Denied, "listed for sales only");
    assert_eq!(run_with(&sales_only, &lockouts, &config, "sales").status, MobileStatus::LoggedIn);
    assert_eq!(run_with(&desk("79112223344"), &lockouts, &config, "nosuch").status, MobileStatus::Invalid);
}

#[test]
fn wrong_pins_lock_the_number_out() {
    let lockouts = Lockouts::default();
    let config = config();
    let desk = desk("79115556677");
    *desk.pins.borrow_mut() = ["1111", "2222", "3333", "4321"].iter().map(|p| Ok(p.to_string())).collect();
    assert_eq!(run_with(&desk, &lockouts, &config, "8008").status, MobileStatus::Denied);
    assert_eq!(run_with(&desk, &lockouts, &config, "8008").status, MobileStatus::Denied);
    assert_eq!(run_with(&desk, &lockouts, &config, "8008").status, MobileStatus::Locked, "the third failure locks");
    assert_eq!(run_with(&desk, &lockouts, &config, "8008").status, MobileStatus::Locked, "even before asking the PIN");
    assert_eq!(desk.pins.borrow().len(), 1, "the right PIN was never asked for");
    let later =
        Context { config: &config, keys: KEYS, lockouts: &lockouts, now: Instant::now() + Duration::from_secs(61) };
    assert_eq!(run(&parse_request("8008").unwrap(), &later, &desk).status, MobileStatus::LoggedIn, "after the lockout");
}

#[test]
fn a_number_removed_from_the_list_can_only_log_out() {
    let lockouts = Lockouts::default();
    let desk = desk("79112223344");
    assert_eq!(run_with(&desk, &lockouts, &config(), "8008").status, MobileStatus::LoggedIn);
    let reloaded = parse(&raw_from_text("sticky.conf", "[mobile]\nallow = 79115556677,4321\n")).unwrap().config.mobile;
    assert_eq!(
        run_with(&desk, &lockouts, &reloaded, "8008,,login").status,
        MobileStatus::Denied,
        "refused though still a member"
    );
    assert!(desk.is_member("8008", "Local/79112223344@from-internal/n"));
    assert_eq!(run_with(&desk, &lockouts, &reloaded, "8008").status, MobileStatus::LoggedOut);
    assert_eq!(run_with(&desk, &lockouts, &reloaded, "8008").status, MobileStatus::Denied, "no new login");
}

#[test]
fn hostile_numbers_never_reach_an_interface() {
    let lockouts = Lockouts::default();
    let config = config();
    for number in ["7911222&3344", "7911/2223344", "79112223344@evil", "7911222\n3344", &"7".repeat(200), ""] {
        let desk = FakeDesk { caller: None, queues: vec!["8008".into()], ..FakeDesk::default() };
        let outcome = run_with(&desk, &lockouts, &config, &format!("8008,{number},login,q"));
        assert_eq!(outcome.status, MobileStatus::Invalid, "{number:?}");
        assert!(outcome.interface.is_none() && desk.members.borrow().is_empty());
    }
    assert!(parse_request("8008,1,sideways").is_err());
    assert!(parse_request("8008,1,login,x").is_err());
    assert!(!is_valid_queue("8008,Local/x"));
}

#[test]
fn member_interfaces_lose_their_options() {
    assert_eq!(base_interface("Local/79112223344@from-internal/n"), "Local/79112223344@from-internal");
    assert_eq!(base_interface("Local/79112223344@from-internal"), "Local/79112223344@from-internal");
    assert_eq!(base_interface("PJSIP/101"), "PJSIP/101");
}

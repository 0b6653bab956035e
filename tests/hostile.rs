//! Hostile numbers through real calls: each gets a clean status, nothing
//! reaches SQL or a dial string, and the history table stays intact.

mod common;

use common::base64;

use common::ami::Ami;
use common::calls::{routing_sticky, start_routing, WAIT};
use common::db::sqlite;
use common::Asterisk;

fn start() -> (Asterisk, Ami) {
    start_routing("hostile", &routing_sticky())
}

fn ask(ami: &Ami, index: usize, variables: &[(&str, &str)]) -> common::ami::Message {
    let mut all = vec![("INDEX", index.to_string())];
    all.extend(variables.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ami.originate("Local/0000@client", "hostile", "s", "<0000>", &borrowed);
    ami.wait(WAIT, |m| m.is_user_event("Hostile") && m.get("Index") == Some(&index.to_string()))
        .unwrap_or_else(|| panic!("no answer for hostile input {index}"))
}

#[test]
fn hostile_numbers_get_a_clean_status() {
    let (asterisk, ami) = start();
    // A real contact first, so that the table exists and has a row to lose.
    ami.originate("Local/79123456789@client", "direct-in", "101", "<79123456789>", &[]);
    let learned = common::wait_for(WAIT, || {
        common::field(&asterisk.cli("sticky show status"), "Writes pending").starts_with("0 (1 written").then_some(())
    });
    assert!(learned.is_some(), "{}", asterisk.cli("sticky show status"));

    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("anonymous", b"anonymous".to_vec()),
        ("percent", b"%".to_vec()),
        ("underscore", b"_".to_vec()),
        ("quote", b"'".to_vec()),
        ("backslash", b"\\".to_vec()),
        ("sql", b"' OR 1=1--".to_vec()),
        ("sql after digits", b"79123456789' OR '1'='1".to_vec()),
        ("dial injection", b"500&PJSIP/x/1".to_vec()),
        ("path", b"../../etc/passwd".to_vec()),
        ("200 digits", vec![b'7'; 200]),
        ("non-ASCII digits", "７９１２３４５６７８９".as_bytes().to_vec()),
        ("Cyrillic", "номер".as_bytes().to_vec()),
        ("newline", b"7912345678\n9".to_vec()),
        ("newline header", b"79123456789\nApplication: System".to_vec()),
        ("wildcard digits", b"%9123456789".to_vec()),
    ];
    for (index, (name, bytes)) in hostile.iter().enumerate() {
        let answer = ask(&ami, index, &[("NUMBER_B64", &base64(bytes))]);
        assert_eq!(answer.get("Status"), Some("INVALID"), "{name}: {answer:?}");
        assert_eq!(answer.get("Target"), Some(""), "{name}");
        assert_eq!(answer.get("Agent"), Some(""), "{name}");
    }
    let long = ask(&ami, 99, &[("LONG", "1")]);
    let length: usize = long.get("Length").unwrap().parse().unwrap();
    assert!(length >= 4000, "a 4 KB string ({length})");
    assert_eq!(long.get("Status"), Some("INVALID"), "{long:?}");

    // The same number written properly still routes, and the table is intact.
    let good = ask(&ami, 100, &[("NUMBER_B64", &base64(b"+7 (912) 345-67-89"))]);
    assert_eq!(good.get("Status"), Some("ROUTED"), "{good:?}");
    assert_eq!(good.get("Agent"), Some("101"));
    assert_eq!(sqlite(&asterisk, "SELECT count(*) FROM sticky_history").trim(), "1");
    let log = asterisk.log();
    assert!(!log.contains("query failed"), "no SQL error");
    assert!(log.contains("STICKY_ROUTE: number '\\' OR 1=1--' unusable (not a phone number)"), "logged, escaped");
}

/// A client's call answered by agent 101, with `caller` as its caller
/// number byte for byte; waits until the call has ended and returns the
/// caller number agent 101's phone saw.
fn direct_call(ami: &Ami, index: usize, caller: &str) -> String {
    ami.originate(
        "Local/79000000000@client",
        "direct-in-cid",
        "101",
        "<79000000000>",
        &[("CALLER_B64", &base64(caller.as_bytes())), ("INDEX", &index.to_string())],
    );
    let done = ami.wait(WAIT, |m| m.is_user_event("DirectDone") && m.get("Index") == Some(&index.to_string()));
    done.unwrap_or_else(|| panic!("call {index} from {caller:?} did not end"));
    let rang = ami.wait_nth(index + 1, WAIT, |m| m.is_user_event("AgentRang") && m.get("Agent") == Some("101"));
    assert_eq!(rang.len(), index + 1, "call {index} from {caller:?} reached agent 101");
    rang[index].get("Caller").unwrap_or_default().to_string()
}

#[test]
fn a_hostile_caller_id_is_never_learned() {
    let (asterisk, ami) = start();
    let hostile = [
        "79123456789' OR 1=1--",
        "7912345678%",
        "../../79123456789",
        "(912) 345-67-89; DROP TABLE sticky_history",
        "7912345678_",
        "7.9.1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0",
    ];
    for (index, caller) in hostile.iter().enumerate() {
        assert_eq!(direct_call(&ami, index, caller), *caller, "the payload reached the call as written");
    }
    // A well-formed caller last: its contact is learned after every hostile
    // call's record has been through the module (records arrive in order).
    assert_eq!(direct_call(&ami, hostile.len(), "79000000001"), "79000000001");
    let learned = || common::field(&asterisk.cli("sticky show status"), "Contacts learned");
    assert!(common::wait_for(WAIT, || (learned() == "1").then_some(())).is_some(), "{}", learned());
    assert_eq!(asterisk.eval("LAST_AGENT(79000000001)"), "101");
    common::calls::writes_done(&asterisk);
    assert_eq!(learned(), "1", "only the well-formed caller");
    let rows = sqlite(&asterisk, "SELECT number_key FROM sticky_history");
    assert_eq!(rows.trim(), "9000000001");
}

//! The AMI actions for CRMs and wallboards over a real AMI TCP connection:
//! StickyShowAgent, StickyForget and StickyStats answer a user with the
//! right class, refuse one without it, and survive hostile headers.

mod common;

use common::ami::Ami;
use common::calls::*;
use common::Asterisk;

const CLIENT: &str = "79123456789";

fn start(test: &str) -> (Asterisk, Ami) {
    start_routing_with_users(test, &routing_sticky())
}

#[test]
fn actions_answer_the_privileged_and_refuse_the_rest() {
    let (asterisk, ami) = start("amiactions");
    inbound(&asterisk, &ami, CLIENT, "101");
    let routed = client_calls(&ami, CLIENT, &[]);
    assert_eq!(routed.get("Status"), Some("ROUTED"));
    let crm = Ami::connect_as(asterisk.ami_port, "crm", "crm", "off");
    let shown = crm.action("StickyShowAgent", &[("Number", "+7 (912) 345-67-89")]);
    assert_eq!(shown.get("Response"), Some("Success"), "{shown:?}");
    assert_eq!(shown.get("Number"), Some("9123456789"));
    assert_eq!((shown.get("LastAgent"), shown.get("LastInboundAgent")), (Some("101"), Some("101")), "{shown:?}");
    assert_eq!(shown.get("LastOutboundAgent"), Some(""));
    assert_eq!((shown.get("Status"), shown.get("Device")), (Some("ROUTED"), Some("Custom:agent101")), "{shown:?}");
    let stats = crm.action("StickyStats", &[]);
    assert_eq!((stats.get("Response"), stats.get("EventList")), (Some("Success"), Some("start")), "{stats:?}");
    let id = stats.get("ActionID").unwrap().to_string();
    let done = crm.wait(WAIT, |m| m.is_event("StickyStatsScopeComplete") && m.get("ActionID") == Some(&id));
    assert_eq!(done.and_then(|m| m.get("ListItems").map(str::to_string)).as_deref(), Some("1"));
    let scope = crm.all(|m| m.is_event("StickyStatsScope") && m.get("ActionID") == Some(&id));
    assert_eq!(scope[0].get("ROUTEDDay"), Some("1"), "{:?}", scope[0]);
    assert_eq!(scope[0].get("PAUSEDDay"), Some("0"));
    // Forgetting needs the system class: crm is refused, test is not.
    let refused = crm.action("StickyForget", &[("Number", CLIENT)]);
    assert_eq!(refused.get("Response"), Some("Error"), "{refused:?}");
    assert!(refused.get("Message").unwrap_or("").contains("Permission denied"), "{refused:?}");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "101", "nothing forgotten");
    // Without the reporting class nothing answers.
    let nobody = Ami::connect_as(asterisk.ami_port, "nobody", "nobody", "off");
    for action in ["StickyShowAgent", "StickyStats", "StickyForget"] {
        let answer = nobody.action(action, &[("Number", CLIENT)]);
        assert_eq!(answer.get("Response"), Some("Error"), "{action}: {answer:?}");
        assert!(answer.get("Message").unwrap_or("").contains("Permission denied"), "{action}: {answer:?}");
    }
    let forgot = ami.action("StickyForget", &[("Number", CLIENT)]);
    assert_eq!(forgot.get("Response"), Some("Success"), "{forgot:?}");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT})")), "", "forgotten");
    assert!(asterisk.log().contains("history was forgotten over AMI"));
    let gone = crm.action("StickyShowAgent", &[("Number", CLIENT)]);
    assert_eq!((gone.get("Status"), gone.get("LastAgent")), (Some("NOHISTORY"), Some("")), "{gone:?}");
}

#[test]
fn hostile_headers_get_a_clean_error() {
    let (asterisk, ami) = start("amihostile");
    inbound(&asterisk, &ami, CLIENT, "101");
    let long = "9".repeat(200);
    let hostile: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("Number", "")],
        vec![("Number", "anonymous")],
        vec![("Number", "'; DROP TABLE sticky_history; --")],
        vec![("Number", "7912%_")],
        vec![("Number", &long)],
        vec![("Number", "٧٩١٢٣٤٥٦٧٨٩")],
        vec![("Number", "79123456789"), ("Window", "forever")],
        vec![("Number", "79123456789"), ("Window", "0")],
        vec![("Number", "79123456789"), ("Scope", "sales;x")],
        vec![("Number", "79123456789"), ("Scope", "../../etc")],
        vec![("Number", "79123456789"), ("Scope", "продажи")],
    ];
    for headers in &hostile {
        for action in ["StickyShowAgent", "StickyForget"] {
            let answer = ami.action(action, headers);
            let response = answer.get("Response");
            let expected = if action == "StickyForget" && headers.len() == 2 { "Success" } else { "Error" };
            assert_eq!(response, Some(expected), "{action} {headers:?}: {answer:?}");
        }
    }
    // A window or scope that is wrong in StickyShowAgent is refused, not ignored.
    let bad = ami.action("StickyShowAgent", &[("Number", CLIENT), ("Window", "1h; x")]);
    assert_eq!(bad.get("Response"), Some("Error"), "{bad:?}");
    let stats = ami.action("StickyStats", &[("Number", "\u{7}")]);
    assert_eq!(stats.get("Response"), Some("Success"));
    assert!(asterisk.cli("core show version").contains("Asterisk"), "still up");
    let help = asterisk.cli("manager show command StickyShowAgent");
    assert!(help.contains("reporting"), "{help}");
}

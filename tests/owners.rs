//! Account owners set by a CRM, in a real Asterisk: `sticky assign` on the
//! CLI, STICKY_ASSIGN in the dialplan and StickyAssign / StickyUnassign over
//! AMI; STICKY_ROUTE with option `a` routes to the owner first, falls back
//! to the history's agents with `l(N)`; an owner set on one server routes on
//! another sharing the database; forgetting a client removes its owner.

mod common;

use std::time::Duration;

use common::ami::{Ami, Message};
use common::calls::*;
use common::db::{sqlite, Kind, Server};
use common::{field, wait_for, Asterisk};

const CLIENT: &str = "79123456789";

/// Runs STICKY_ASSIGN on a channel; its STICKY_ASSIGN_STATUS.
fn assign_in_dialplan(ami: &Ami, number: &str, interface: &str, scope: &str) -> String {
    let before = ami.all(|m| m.is_user_event("Assigned")).len();
    let variables = [("NUMBER", number), ("IFACE", interface), ("SCOPE", scope)];
    ami.originate("Local/79000000000@client", "assign", "s", "<79000000000>", &variables);
    let events = ami.wait_nth(before + 1, WAIT, |m| m.is_user_event("Assigned"));
    assert!(events.len() > before, "STICKY_ASSIGN reported nothing");
    events[before].get("Status").unwrap_or_default().to_string()
}

fn routed_to(event: &Message) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>) {
    (event.get("Status"), event.get("Agent"), event.get("Rank"), event.get("Source"))
}

#[test]
fn the_owner_comes_first_with_option_a_from_every_way_of_setting_it() {
    let (asterisk, ami) = start_routing_with_users("owners", &routing_sticky());
    inbound(&asterisk, &ami, CLIENT, "101");
    writes_done(&asterisk);
    let set = asterisk.cli(&format!("sticky assign {CLIENT} Local/102@agents"));
    assert!(set.contains("is owned by Local/102@agents now"), "{set}");
    assert_eq!(sqlite(&asterisk, "SELECT agent_id, agent_interface FROM sticky_owner").trim(), "102|Local/102@agents");
    let shown = asterisk.cli(&format!("sticky show agent {CLIENT}"));
    let owner_line = shown.lines().find(|line| line.trim_start().starts_with("Owner:")).unwrap_or_default();
    assert!(owner_line.contains("102 (Local/102@agents), since"), "{shown}");
    // Without `a` the history answers; with it, the owner.
    assert_eq!(routed_to(&client_calls(&ami, CLIENT, &[])), (Some("ROUTED"), Some("101"), Some("1"), Some("HISTORY")));
    let owned = client_calls(&ami, CLIENT, &[("OPTIONS", "a")]);
    assert_eq!(routed_to(&owned), (Some("ROUTED"), Some("102"), Some("1"), Some("OWNER")));
    assert!(agent_rang(&ami, "102", 1), "the owner's phone rang");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a)")), "102");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,an)")), "Local/102@agents");
    // The owner busy: alone, BUSY; with l(2), the history's agent as rank 2.
    set_state(&asterisk, "102", "INUSE");
    let busy = client_calls(&ami, CLIENT, &[("OPTIONS", "a"), ("NOQUEUE", "1")]);
    assert_eq!(routed_to(&busy), (Some("BUSY"), Some("102"), Some("1"), Some("OWNER")));
    let second = client_calls(&ami, CLIENT, &[("OPTIONS", "al(2)")]);
    assert_eq!(routed_to(&second), (Some("ROUTED"), Some("101"), Some("2"), Some("HISTORY")));
    set_state(&asterisk, "102", "NOT_INUSE");
    // A client with no history at all is routed to the owner set for them.
    assert_eq!(assign_in_dialplan(&ami, "79120000001", "Local/103@agents", ""), "ASSIGNED");
    let fresh = client_calls(&ami, "79120000001", &[("OPTIONS", "a")]);
    assert_eq!(routed_to(&fresh), (Some("ROUTED"), Some("103"), Some("1"), Some("OWNER")));
    // A scoped owner wins in its scope; the general one elsewhere.
    assert_eq!(assign_in_dialplan(&ami, CLIENT, "Local/103@agents", "sales"), "ASSIGNED");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a,sales)")), "103");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a,support)")), "102");
    // Over AMI: the system class changes owners, reporting is refused.
    let crm = Ami::connect_as(asterisk.ami_port, "crm", "crm", "off");
    let refused = crm.action("StickyAssign", &[("Number", CLIENT), ("Interface", "Local/101@agents")]);
    assert!(refused.get("Message").unwrap_or("").contains("Permission denied"), "{refused:?}");
    let assigned = ami.action("StickyAssign", &[("Number", "+7 912 345-67-89"), ("Interface", "Local/101@agents")]);
    assert_eq!(
        (assigned.get("Response"), assigned.get("Number")),
        (Some("Success"), Some("9123456789")),
        "{assigned:?}"
    );
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a)")), "101");
    let removed = ami.action("StickyUnassign", &[("Number", CLIENT)]);
    assert_eq!(removed.get("Response"), Some("Success"), "{removed:?}");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a)")), "101", "the history again");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a,sales)")), "103", "the scoped owner stays");
    // The figures: routed to the owner, by rank.
    let stats = asterisk.cli("sticky show stats");
    assert_eq!(field(&stats, "routed to the owner"), "2 /        2", "{stats}");
    assert_eq!(field(&stats, "routed to rank 2"), "1 /        1", "{stats}");
    // Forgetting removes every owner of the client, in the database too.
    asterisk.cli(&format!("sticky forget {CLIENT}"));
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a,sales)")), "");
    assert_eq!(sqlite(&asterisk, "SELECT count(*) FROM sticky_owner WHERE number_key = '9123456789'").trim(), "0");
    // Owners survive a restart: read whole from the database at start.
    let mut asterisk = asterisk;
    asterisk.restart();
    let back = wait_for(WAIT, || (asterisk.eval("LAST_AGENT(79120000001,,a)") == "103").then_some(()));
    assert!(back.is_some(), "{}", asterisk.cli("sticky show agent 79120000001"));
}

#[test]
fn hostile_assignments_are_refused_with_a_status_and_a_log_line() {
    let (asterisk, ami) = start_routing_with_users("ownershostile", &routing_sticky());
    for (number, interface, scope) in [
        ("79123456789", "PJSIP/102&PJSIP/103", ""),
        ("79123456789", "Local/102@agents)", ""),
        ("79123456789", "Local/102@agents/n", ""),
        ("79123456789", "SIP/INPUT_MTS", ""),
        ("79123456789", "Local/102@agents", "sa;les"),
        ("7912'; DROP TABLE sticky_owner;--", "Local/102@agents", ""),
        ("", "Local/102@agents", ""),
    ] {
        assert_eq!(assign_in_dialplan(&ami, number, interface, scope), "INVALID", "{number} {interface} {scope}");
    }
    assert!(asterisk.wait_for_log("STICKY_ASSIGN(", WAIT), "{}", asterisk.tail_of_log(5));
    for interface in ["PJSIP/102'; DROP TABLE sticky_owner;--", "PJSIP/trunk-mts", &"9".repeat(5000)] {
        let refused = ami.action("StickyAssign", &[("Number", CLIENT), ("Interface", interface)]);
        assert_eq!(refused.get("Response"), Some("Error"), "{refused:?}");
    }
    let missing = ami.action("StickyAssign", &[("Number", CLIENT)]);
    assert!(missing.get("Message").unwrap_or("").contains("Interface is required"), "{missing:?}");
    let cli = asterisk.cli(&format!("sticky assign {CLIENT} PJSIP/102&PJSIP/103"));
    assert!(cli.contains("is not an agent interface"), "{cli}");
    assert_eq!(sqlite(&asterisk, "SELECT count(*) FROM sticky_owner").trim(), "0", "nothing stored");
    assert!(asterisk.cli("core show application STICKY_ASSIGN").contains("STICKY_ASSIGN_STATUS"));
    assert!(asterisk.cli("core show function STICKY_ROUTE").contains("STICKY_SOURCE"));
}

#[test]
fn an_owner_set_on_one_server_routes_on_another() {
    let server = Server::start(Kind::Postgres, "owners");
    let sticky = format!("{}dsn = {}\nsync_interval = 500ms\n", routing_sticky(), server.dsn_for_conf());
    let (one, one_ami): (Asterisk, Ami) = start_routing_with_users("owners-one", &sticky);
    let (two, two_ami) = start_routing("owners-two", &sticky);
    let assigned = one_ami.action("StickyAssign", &[("Number", CLIENT), ("Interface", "Local/103@agents")]);
    assert_eq!(assigned.get("Response"), Some("Success"), "{assigned:?}");
    let followed =
        wait_for(Duration::from_secs(5), || (two.eval(&format!("LAST_AGENT({CLIENT},,a)")) == "103").then_some(()));
    assert!(followed.is_some(), "the other server follows within its sync_interval");
    let routed = client_calls(&two_ami, CLIENT, &[("OPTIONS", "a")]);
    assert_eq!(routed_to(&routed), (Some("ROUTED"), Some("103"), Some("1"), Some("OWNER")));
    // Removed on the second, gone on the first.
    assert!(two.cli(&format!("sticky unassign {CLIENT}")).contains("has no owner now"));
    let gone =
        wait_for(Duration::from_secs(5), || one.eval(&format!("LAST_AGENT({CLIENT},,a)")).is_empty().then_some(()));
    assert!(gone.is_some(), "{}", one.cli(&format!("sticky show agent {CLIENT}")));
    assert_eq!(
        server.sql("SELECT agent_id FROM sticky_owner WHERE number_key = '9123456789'").trim(),
        "",
        "a removal row"
    );
}

/// The owners' statements on a real server: the later of two changes stays,
/// a change dated before a forgetting is dropped, a row dated ahead of the
/// clock is not believed.
fn owners_are_kept_right_on(kind: Kind, test: &str) {
    let server = Server::start(kind, test);
    // The mariadb client has no default database; psql's is the one used.
    let table = if kind == Kind::MariaDb { "sticky.sticky_owner" } else { "sticky_owner" };
    let sql = |text: &str| server.sql(&text.replace("sticky_owner", table));
    let sticky = format!("{}dsn = {}\nsync_interval = 500ms\n", routing_sticky(), server.dsn_for_conf());
    let (asterisk, _ami) = start_routing(test, &sticky);
    let owner = || sql("SELECT agent_id FROM sticky_owner WHERE number_key = '9123456789' AND scope = ''");
    assert!(asterisk.cli(&format!("sticky assign {CLIENT} Local/102@agents")).contains("owned by"));
    assert_eq!(owner().trim(), "102");
    // Another server's change made later than ours (its clock two minutes on):
    // ours, arriving after it, does not replace it.
    sql("UPDATE sticky_owner SET assigned_at = assigned_at + 120000 WHERE number_key = '9123456789'");
    asterisk.cli(&format!("sticky assign {CLIENT} Local/103@agents"));
    assert_eq!(owner().trim(), "102", "the later change stays");
    sql("UPDATE sticky_owner SET assigned_at = assigned_at - 120000 WHERE number_key = '9123456789'");
    // A row dated an hour ahead (edited by hand) is not believed.
    sql("INSERT INTO sticky_owner (number_key, scope, agent_id, agent_interface, assigned_at, node) \
         VALUES ('9120000002', '', '101', 'Local/101@agents', 99999999999999, 'elsewhere')");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(asterisk.eval("LAST_AGENT(79120000002,,a)"), "");
    // Forgotten: every owner goes, and no earlier change comes back.
    asterisk.cli(&format!("sticky forget {CLIENT}"));
    assert_eq!(owner().trim(), "");
    assert_eq!(asterisk.eval(&format!("LAST_AGENT({CLIENT},,a)")), "");
}

#[test]
fn owners_are_kept_right_on_postgres() {
    owners_are_kept_right_on(Kind::Postgres, "ownerspg");
}

#[test]
fn owners_are_kept_right_on_mariadb() {
    owners_are_kept_right_on(Kind::MariaDb, "ownersmaria");
}

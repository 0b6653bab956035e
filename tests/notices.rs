//! SCHEDULE_NOTICE in a real Asterisk: delivery through pbx_spool, the
//! interactive flow driven by DTMF, the feature code during a call, restarts,
//! spool failures, hostile input and cancelling.

mod common;

use common::base64;

use std::fs;
use std::time::{Duration, Instant};

use common::ami::{Ami, Message};
use common::calls::{inbound, routing_options, WAIT};
use common::root::manifest_dir;
use common::{wait_for, Asterisk, Options};

const CLIENT: &str = "79123456789";

fn notice_file(name: &str) -> String {
    fs::read_to_string(manifest_dir().join("tests/asterisk/notice").join(name)).unwrap()
}

fn options(extra_notice: &str) -> Options {
    let routing = routing_options("");
    let extensions = routing.files.iter().find(|(n, _)| n == "extensions.conf").unwrap().1.clone()
        + "\n"
        + &notice_file("extensions.conf");
    Options::sticky(&format!("{}{extra_notice}", notice_file("sticky.conf")))
        .file("extensions.conf", &extensions)
        .file("queues.conf", &routing.files.iter().find(|(n, _)| n == "queues.conf").unwrap().1)
        .file("features.conf", &notice_file("features.conf"))
}

fn start(test: &str, extra_notice: &str) -> (Asterisk, Ami) {
    let asterisk = Asterisk::start(test, options(extra_notice));
    let ami = asterisk.ami();
    (asterisk, ami)
}

/// Runs SCHEDULE_NOTICE(args) on a channel and returns its NoticeDone event.
fn schedule(ami: &Ami, index: usize, args: &str) -> Message {
    ami.originate(
        "Local/s@client-hold",
        "notice-app",
        "s",
        "<101>",
        &[("ARGS", &base64(args.as_bytes())), ("INDEX", &index.to_string())],
    );
    ami.wait(WAIT, |m| m.is_user_event("NoticeDone") && m.get("Index") == Some(&index.to_string()))
        .unwrap_or_else(|| panic!("SCHEDULE_NOTICE({args}) did not finish"))
}

fn outgoing(asterisk: &Asterisk) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(asterisk.dir.join("spool/outgoing"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn done_file(asterisk: &Asterisk, id: &str) -> Option<String> {
    fs::read_to_string(asterisk.dir.join(format!("spool/outgoing_done/sticky-notice-{id}.call"))).ok()
}

/// The recordings in notice_dir; the directory must exist (so "removed"
/// never looks like "never recorded").
fn recordings(asterisk: &Asterisk) -> Vec<String> {
    let dir = asterisk.dir.join("spool/sticky/notices");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Tomorrow at `hour:minute` in Moscow, as text and as the keypad form.
fn tomorrow(hour: i8, minute: i8) -> (String, String, i64) {
    let zone = jiff::tz::TimeZone::get("Europe/Moscow").unwrap();
    let date = jiff::Zoned::now().with_time_zone(zone.clone()).date().tomorrow().unwrap();
    let civil = date.at(hour, minute, 0, 0);
    let due = civil.to_zoned(zone).unwrap().timestamp().as_second();
    (
        format!("{} {:02}:{:02}", date, hour, minute),
        format!("{}*{}*{}**{}***{}", date.year(), date.month(), date.day(), hour, minute),
        due,
    )
}

fn due_of(asterisk: &Asterisk, id: &str) -> i64 {
    let path = asterisk.dir.join(format!("spool/outgoing/sticky-notice-{id}.call"));
    fs::metadata(path).unwrap().modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn a_notice_rings_the_client_at_its_time_and_plays() {
    let (asterisk, ami) = start("notice", "");
    let scheduled_at = Instant::now();
    let done = schedule(&ami, 1, &format!("{CLIENT},+5s,hello-world,q"));
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}");
    let id = done.get("Id").unwrap().to_string();
    assert_eq!(outgoing(&asterisk), [format!("sticky-notice-{id}.call")]);
    let listed = asterisk.cli("sticky show notices");
    assert!(listed.contains(&id) && listed.contains(CLIENT) && listed.contains("Pending notices: 1"), "{listed}");

    let rang = ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeRang")).expect("the client's phone rang");
    let after = scheduled_at.elapsed();
    assert!(after >= Duration::from_secs(4), "rang {after:?} after scheduling, not before its time");
    assert_eq!(rang.get("Number"), Some(CLIENT));
    let client_leg = format!("Local/{CLIENT}@notice-client-");
    let played = ami.wait(WAIT, |m| {
        m.is_event("VarSet")
            && m.get("Variable") == Some("PLAYBACKSTATUS")
            && m.get("Channel").is_some_and(|c| c.starts_with(&client_leg))
    });
    assert_eq!(
        played.and_then(|m| m.get("Value").map(str::to_string)),
        Some("SUCCESS".into()),
        "the message played on the client's leg"
    );
    assert!(played_on(&asterisk, &client_leg, ";1").iter().any(|f| f == "hello-world"), "hello-world was played");
    let archived = wait_for(WAIT, || done_file(&asterisk, &id).filter(|t| t.contains("Status: Completed")));
    assert!(archived.is_some(), "the archive shows it completed: {:?}", done_file(&asterisk, &id));
    let listed = asterisk.cli("sticky show notices");
    assert!(listed.contains("Pending notices: 0") && listed.contains("Completed"), "{listed}");
}

#[test]
fn recorded_by_the_operator_and_delivered() {
    let (asterisk, ami) = start("noticerec", "");
    ami.originate("Local/s@dtmf-record", "notice-ui", CLIENT, "<101>", &[("WHEN", "+8s"), ("INDEX", "1")]);
    let done = ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeDone")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}");
    let id = done.get("Id").unwrap().to_string();
    assert_eq!(recordings(&asterisk), [format!("{id}.wav")]);
    let call = fs::read_to_string(asterisk.dir.join(format!("spool/outgoing/sticky-notice-{id}.call"))).unwrap();
    assert!(call.contains(&format!("Data: {}/spool/sticky/notices/{id}\n", asterisk.dir_inside)), "{call}");
    assert!(ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeRang")).is_some());
    // The operator's side played hello-world into the recording: only what
    // happened on the client's leg (Local/<client>@notice-client-…;1, where
    // the call file's Playback runs) proves the notice was heard.
    let client_leg = format!("Local/{CLIENT}@notice-client-");
    let played = ami.wait(WAIT, |m| {
        m.is_event("VarSet")
            && m.get("Variable") == Some("PLAYBACKSTATUS")
            && m.get("Channel").is_some_and(|c| c.starts_with(&client_leg))
    });
    let played = played.unwrap_or_else(|| panic!("no playback on the client's leg\n{}", asterisk.tail_of_log(30)));
    assert_eq!(played.get("Value"), Some("SUCCESS"), "the recording played to the client: {played:?}");
    let recording = format!("Playing '{}/spool/sticky/notices/{id}.", asterisk.dir_inside);
    assert!(
        asterisk.log().lines().any(|l| l.contains(&client_leg) && l.contains(&recording)),
        "the client's leg played the operator's recording {id}:\n{}",
        asterisk.tail_of_log(30)
    );
    let archived = wait_for(WAIT, || done_file(&asterisk, &id).filter(|t| t.contains("Status: Completed")));
    assert!(archived.is_some(), "the archive shows it completed: {:?}", done_file(&asterisk, &id));
}

#[test]
fn keyed_in_read_back_and_confirmed() {
    let (asterisk, ami) = start("noticekeys", "");
    let (_, keys, due) = tomorrow(14, 30);
    ami.originate("Local/s@dtmf-confirm", "notice-ui", CLIENT, "<101>", &[("KEYS", &keys), ("INDEX", "1")]);
    let done = ami.wait(Duration::from_secs(45), |m| m.is_user_event("NoticeDone")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}\n{}", asterisk.tail_of_log(30));
    let id = done.get("Id").unwrap();
    assert_eq!(due_of(&asterisk, id), due, "the call file waits until {keys} Moscow time");
    // Read back on the operator's leg, in order: weekday, month, day, (the
    // year), "at", 2 30 p-m.
    let zone = jiff::tz::TimeZone::get("Europe/Moscow").unwrap();
    let date = jiff::Zoned::now().with_time_zone(zone).date().tomorrow().unwrap();
    let expected = [
        format!("digits/day-{}", date.weekday().to_sunday_zero_offset()),
        format!("digits/mon-{}", date.month() - 1),
        format!("digits/h-{}", date.day()),
        "digits/at".to_string(),
        "digits/2".to_string(),
        "digits/30".to_string(),
        "digits/p-m".to_string(),
    ];
    let played = played_on(&asterisk, "Local/s@dtmf-confirm-", ";1");
    let mut rest = played.iter();
    for sound in &expected {
        assert!(rest.any(|p| p == sound), "{sound} read back in order {expected:?}: {played:?}");
    }
}

/// The sound files played on channels named `prefix…suffix`, in order,
/// without their format extension (from the verbose log).
fn played_on(asterisk: &Asterisk, prefix: &str, suffix: &str) -> Vec<String> {
    asterisk
        .log()
        .lines()
        .filter_map(|line| {
            let (_, channel) = line.split_once(&format!("<{prefix}"))?;
            let (channel, rest) = channel.split_once('>')?;
            if !channel.ends_with(suffix) {
                return None;
            }
            let file = rest.strip_prefix(" Playing '")?.split('\'').next()?;
            Some(file.rsplit_once('.').map_or(file, |(name, _)| name).to_string())
        })
        .collect()
}

#[test]
fn re_entering_the_time() {
    let (asterisk, ami) = start("noticereenter", "");
    let (_, first, _) = tomorrow(14, 30);
    let (_, second, due) = tomorrow(9, 5);
    ami.originate(
        "Local/s@dtmf-reenter",
        "notice-ui",
        CLIENT,
        "<101>",
        &[("KEYS", &first), ("KEYS2", &second), ("INDEX", "1")],
    );
    let done = ami.wait(Duration::from_secs(60), |m| m.is_user_event("NoticeDone")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}\n{}", asterisk.tail_of_log(30));
    assert_eq!(due_of(&asterisk, done.get("Id").unwrap()), due, "the second time counts");
}

#[test]
fn hanging_up_before_confirming_leaves_nothing() {
    let (asterisk, ami) = start("noticehangup", "");
    let (_, keys, _) = tomorrow(14, 30);
    ami.originate("Local/s@dtmf-hangup", "notice-ui", CLIENT, "<101>", &[("KEYS", &keys), ("INDEX", "1")]);
    // The message is recorded (the file exists while the time is keyed in)…
    let notices = asterisk.dir.join("spool/sticky/notices");
    let recorded = wait_for(Duration::from_secs(15), || {
        fs::read_dir(&notices).ok()?.filter_map(Result::ok).next().map(|e| e.file_name())
    });
    assert!(recorded.is_some(), "a recording was made");
    let hangup = ami.wait(Duration::from_secs(45), |m| m.is_user_event("NoticeHangup")).expect("NoticeHangup");
    assert_eq!(hangup.get("Status"), Some("HANGUP"), "{hangup:?}");
    // …and removed when the operator hangs up before confirming.
    assert!(outgoing(&asterisk).is_empty());
    assert!(recordings(&asterisk).is_empty(), "the recording {recorded:?} was removed");
}

#[test]
fn the_operator_presses_a_feature_code_during_a_call() {
    let (asterisk, ami) = start("noticefeature", "");
    ami.originate("Local/s@client-hold/n", "op-call", "101", &format!("\"Client\" <{CLIENT}>"), &[]);
    let status = ami.wait(WAIT, |m| m.is_event("VarSet") && m.get("Variable") == Some("NOTICE_STATUS"));
    let status = status.expect("the feature ran SCHEDULE_NOTICE");
    assert_eq!(status.get("Value"), Some("SCHEDULED"), "{status:?}");
    assert!(status.get("Channel").unwrap_or_default().starts_with("Local/101@op-phone-"), "on the operator's channel");
    let files = outgoing(&asterisk);
    assert_eq!(files.len(), 1);
    let call = fs::read_to_string(asterisk.dir.join("spool/outgoing").join(&files[0])).unwrap();
    assert!(call.contains(&format!("Set: NOTICE_NUMBER={CLIENT}\n")), "to the other party: {call}");
    assert!(call.contains("Set: NOTICE_OPERATOR=Local/101@op-phone\n"), "{call}");
}

#[test]
fn the_last_client_of_the_agent() {
    let (asterisk, ami) = start("noticelast", "");
    common::calls::set_state(&asterisk, "101", "NOT_INUSE");
    inbound(&asterisk, &ami, "79161234567", "101");
    // SCHEDULE_NOTICE(,+1h,hello-world,lq) on agent 101's channel (Local/101@notice-last).
    ami.originate("Local/101@notice-last", "client-hold", "s", "<101>", &[]);
    let done = ami.wait(WAIT, |m| m.is_user_event("NoticeDone") && m.get("Index") == Some("last")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}");
    let id = done.get("Id").unwrap();
    let call = fs::read_to_string(asterisk.dir.join(format!("spool/outgoing/sticky-notice-{id}.call"))).unwrap();
    assert!(call.contains("Set: NOTICE_NUMBER=79161234567\n"), "{call}");
}

#[test]
fn a_forgotten_client_is_not_the_last_client_any_more() {
    let (asterisk, ami) = start("noticeforget", "");
    common::calls::set_state(&asterisk, "101", "NOT_INUSE");
    inbound(&asterisk, &ami, "79161234567", "101");
    common::calls::writes_done(&asterisk);
    let forgotten = asterisk.cli("sticky forget 79161234567");
    assert!(forgotten.contains("contact(s) erased"), "{forgotten}");
    ami.originate("Local/101@notice-last", "client-hold", "s", "<101>", &[]);
    let done = ami.wait(WAIT, |m| m.is_user_event("NoticeDone") && m.get("Index") == Some("last")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("INVALID_NUMBER"), "nobody left to call: {done:?}");
    assert!(outgoing(&asterisk).is_empty(), "no call file");
    assert!(asterisk.wait_for_log("no valid number to call (none given", WAIT), "{}", asterisk.tail_of_log(5));
}

#[test]
fn delivered_once_across_a_restart() {
    let (mut asterisk, ami) = start("noticerestart", "");
    let done = schedule(&ami, 1, &format!("{CLIENT},+8s,hello-world,q"));
    let id = done.get("Id").unwrap().to_string();
    drop(ami);
    asterisk.restart();
    let ami = asterisk.ami();
    assert!(
        ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeRang")).is_some(),
        "delivered after the restart"
    );
    let archived = wait_for(WAIT, || done_file(&asterisk, &id).filter(|t| t.contains("Status: Completed")));
    assert!(archived.is_some());
    // pbx_spool is done with it (archived, nothing left to retry), and the
    // log of both runs shows one ring.
    assert!(outgoing(&asterisk).is_empty(), "{:?}", outgoing(&asterisk));
    let rang = asterisk.log().lines().filter(|l| l.contains("UserEvent(") && l.contains("\"NoticeRang,")).count();
    assert_eq!(rang, 1, "exactly once across the restart");
}

#[test]
fn spool_failures_and_leftovers() {
    let (mut asterisk, ami) = start("noticespool", "");
    drop(ami);
    // A writer that died between writing and renaming left a staged file:
    // it never reaches outgoing/ and is removed at the next load.
    let staged = asterisk.dir.join("spool/sticky/tmp");
    fs::create_dir_all(&staged).unwrap();
    fs::write(staged.join("sticky-notice-deadbeef00.call.tmp"), "Channel: Local/1@x\nApplic").unwrap();
    asterisk.restart();
    assert!(!staged.join("sticky-notice-deadbeef00.call.tmp").exists(), "cleaned at load");
    assert!(asterisk.log().contains("removed 1 unfinished call file(s)"));
    assert!(outgoing(&asterisk).is_empty(), "never reached outgoing");
    // An outgoing spool that cannot be written: SPOOL_ERROR, nothing left.
    let ami = asterisk.ami();
    fs::remove_dir_all(asterisk.dir.join("spool/outgoing")).unwrap();
    fs::write(asterisk.dir.join("spool/outgoing"), "not a directory").unwrap();
    let done = schedule(&ami, 1, &format!("{CLIENT},+1h,hello-world,q"));
    assert_eq!(done.get("Status"), Some("SPOOL_ERROR"));
    assert!(asterisk.log().contains("the call file could not be written"));
    assert!(fs::read_dir(&staged).unwrap().next().is_none(), "nothing staged");
}

#[test]
fn hostile_input_gets_a_clean_status() {
    let (asterisk, ami) = start("noticehostile", "notice_allow = ^(\\+7|8)9[0-9]{9}$\nmax_per_hour = 3\n");
    const CLIENT: &str = "89123456789";
    let cases: Vec<(String, &str)> = vec![
        ("7912345678&PJSIP/x,+1h,hello-world,q".into(), "INVALID_NUMBER"),
        ("7912/3456789,+1h,hello-world,q".into(), "INVALID_NUMBER"),
        ("79123456789\nApplication: System,+1h,hello-world,q".into(), "INVALID_NUMBER"),
        ("call-me-maybe,+1h,hello-world,q".into(), "INVALID_NUMBER"),
        ("+19005550100,+1h,hello-world,q".into(), "INVALID_NUMBER"),
        (format!("{CLIENT},2026-02-31 10:00,hello-world,q"), "INVALID_TIME"),
        (format!("{CLIENT},2030-01-01 25:00,hello-world,q"), "INVALID_TIME"),
        (format!("{CLIENT},2020-01-01 10:00,hello-world,q"), "PAST_TIME"),
        (format!("{CLIENT},+400d,hello-world,q"), "INVALID_TIME"),
        (format!("{CLIENT},+1h,../../../etc/passwd,q"), "NO_RECORDING"),
        (format!("{CLIENT},+1h,/etc/asterisk/sticky,q"), "NO_RECORDING"),
        (format!("{CLIENT},+1h,no-such-sound,q"), "NO_RECORDING"),
        (format!("{CLIENT},+1h,hello-world,c(1\nApplication: System)q"), "ERROR"),
        (format!("{CLIENT},+1h,hello-world,q"), "SCHEDULED"),
        (format!("{CLIENT},+1h,hello-world,q"), "SCHEDULED"),
        (format!("{CLIENT},+1h,hello-world,q"), "SCHEDULED"),
        (format!("{CLIENT},+1h,hello-world,q"), "RATE_LIMITED"),
    ];
    for (index, (args, status)) in cases.iter().enumerate() {
        let done = schedule(&ami, index, args);
        assert_eq!(done.get("Status"), Some(*status), "{args:?}: {done:?}");
    }
    let files = outgoing(&asterisk);
    assert_eq!(files.len(), 3);
    for file in files {
        let text = fs::read_to_string(asterisk.dir.join("spool/outgoing").join(file)).unwrap();
        assert!(!text.contains("System") && !text.contains("PJSIP/x"), "{text}");
    }
    assert!(asterisk.log().contains("refused, 3 notices in the last hour already"));
}

#[test]
fn a_cancelled_notice_never_rings() {
    let (asterisk, ami) = start("noticecancel", "");
    const LATER: &str = "79123456700";
    let done = schedule(&ami, 1, &format!("{CLIENT},+4s,hello-world,q"));
    let id = done.get("Id").unwrap().to_string();
    let later = schedule(&ami, 2, &format!("{LATER},+7s,hello-world,q"));
    let output = asterisk.cli(&format!("sticky notice cancel {id}"));
    assert!(output.contains(&format!("Notice {id} cancelled")), "{output}");
    let later_id = later.get("Id").unwrap();
    assert_eq!(outgoing(&asterisk), [format!("sticky-notice-{later_id}.call")], "only the other notice is left");
    // The notice due after the cancelled one rings: by then the cancelled
    // one would have.
    let rang = ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeRang"));
    assert_eq!(
        rang.and_then(|m| m.get("Number").map(str::to_string)),
        Some(LATER.to_string()),
        "the later notice rang"
    );
    assert!(ami.all(|m| m.is_user_event("NoticeRang") && m.get("Number") == Some(CLIENT)).is_empty(), "it never rang");
    assert!(asterisk.cli(&format!("sticky notice cancel {id}")).contains("No pending notice"));
    assert!(asterisk.cli("sticky notice cancel ../../x").contains("is not a notice id"));
}

#[test]
fn cancelling_an_operator_recorded_notice_removes_its_recording() {
    let (asterisk, ami) = start("noticecancelrec", "");
    ami.originate("Local/s@dtmf-record", "notice-ui", CLIENT, "<101>", &[("WHEN", "+1h"), ("INDEX", "1")]);
    let done = ami.wait(Duration::from_secs(30), |m| m.is_user_event("NoticeDone")).expect("NoticeDone");
    assert_eq!(done.get("Status"), Some("SCHEDULED"), "{done:?}");
    let id = done.get("Id").unwrap().to_string();
    assert_eq!(recordings(&asterisk), [format!("{id}.wav")], "recorded by the operator");
    let output = asterisk.cli(&format!("sticky notice cancel {id}"));
    assert!(output.contains(&format!("Notice {id} cancelled")), "{output}");
    assert!(outgoing(&asterisk).is_empty(), "{:?}", outgoing(&asterisk));
    assert!(recordings(&asterisk).is_empty(), "the recording went with it: {:?}", recordings(&asterisk));
    assert!(asterisk.cli("sticky show notices").contains("Pending notices: 0"));
}

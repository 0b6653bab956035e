//! The notice flow with a scripted phone and a spool in a temporary directory.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::*;
use crate::config::Config;

/// A phone that answers from a script and remembers what it was asked.
#[derive(Default)]
struct ScriptedPhone {
    keys: RefCell<VecDeque<Result<String, Hungup>>>,
    record: Option<Result<Duration, Hungup>>,
    said: RefCell<Vec<String>>,
    played: RefCell<Vec<String>>,
    existing: Vec<String>,
}

impl Caller for ScriptedPhone {
    fn number(&self) -> Option<String> {
        Some("101".into())
    }

    fn read_digits(&self, prompts: &[&str], _max: usize, _timeout: Duration) -> Result<String, Hungup> {
        self.played.borrow_mut().extend(prompts.iter().map(|p| p.to_string()));
        self.keys.borrow_mut().pop_front().unwrap_or(Ok(String::new()))
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

impl Phone for ScriptedPhone {
    fn record(&self, path: &str, _quiet: bool, _max: Duration) -> Result<Duration, Hungup> {
        let result = self.record.unwrap_or(Ok(Duration::from_secs(3)));
        if result.is_ok() {
            fs::write(format!("{path}.wav"), b"RIFF").unwrap();
        }
        result
    }

    fn say_time(&self, due: Timestamp, _zone: &str, keys: &str) -> Result<Option<char>, Hungup> {
        self.said.borrow_mut().push(due.to_string());
        // A scripted key starting with '!' is pressed during the read-back.
        let mut script = self.keys.borrow_mut();
        match script.front() {
            Some(Ok(key)) if key.starts_with('!') && keys.contains(&key[1..]) => {
                let key = script.pop_front().unwrap().unwrap();
                Ok(key[1..].chars().next())
            }
            _ => Ok(None),
        }
    }

    fn sound_exists(&self, name: &str) -> bool {
        self.existing.iter().any(|e| e == name) || Path::new(&format!("{name}.wav")).exists()
    }
}

fn keys(script: &[&str]) -> RefCell<VecDeque<Result<String, Hungup>>> {
    RefCell::new(script.iter().map(|k| if *k == "HANGUP" { Err(Hungup) } else { Ok(k.to_string()) }).collect())
}

struct Fixture {
    dir: PathBuf,
    config: NoticeConfig,
    spool: Spool,
    notices: PathBuf,
    limiter: Limiter,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("sticky-notice-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("outgoing")).unwrap();
        let mut config = Config::default().notice;
        config.timezone = Some("Europe/Moscow".into());
        Fixture { spool: Spool::new(&dir), notices: dir.join("notices"), dir, config, limiter: Limiter::default() }
    }

    fn run(&self, request: &str, bridged: &[&str], phone: &ScriptedPhone) -> Outcome {
        let last = || Some("+79160000000".to_string());
        let allow = allow_pattern(&self.config).unwrap();
        let context = Context {
            config: &self.config,
            allow: &allow,
            min_digits: 7,
            zone: TimeZone::get("Europe/Moscow").unwrap(),
            spool: &self.spool,
            notice_dir: &self.notices,
            limiter: &self.limiter,
            operator: "PJSIP/101".into(),
            bridged: bridged.iter().map(|s| s.to_string()).collect(),
            last_client: &last,
            now: "2026-11-22T07:00:00Z".parse().unwrap(),
        };
        schedule(&parse_request(request).unwrap(), &context, phone)
    }

    fn call_files(&self) -> Vec<String> {
        self.spool
            .pending()
            .iter()
            .map(|n| fs::read_to_string(self.spool.outgoing.join(spool::file_name(&n.id))).unwrap())
            .collect()
    }

    fn recordings(&self) -> usize {
        fs::read_dir(&self.notices).map(|d| d.count()).unwrap_or(0)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn sound(name: &str) -> ScriptedPhone {
    ScriptedPhone { existing: vec![name.to_string()], ..ScriptedPhone::default() }
}

#[test]
fn everything_given_writes_one_call_file() {
    let fixture = Fixture::new("given");
    let outcome = fixture.run(
        "+7 (912) 345-67-89,2026-11-25 14:30,custom/promo,r(3)c(74951112233)q",
        &[],
        &sound("custom/promo"),
    );
    assert_eq!(outcome.status, NoticeStatus::Scheduled);
    let files = fixture.call_files();
    assert_eq!(files.len(), 1);
    assert!(files[0].contains("Channel: Local/+79123456789@from-internal\n"), "{}", files[0]);
    assert!(files[0].contains("MaxRetries: 3\n") && files[0].contains("CallerID: <74951112233>\n"));
    assert!(files[0].contains(&format!("Set: NOTICE_ID={}\n", outcome.id.unwrap())));
    let due = fixture.spool.pending()[0].due;
    assert_eq!(due, std::time::UNIX_EPOCH + Duration::from_secs(1_795_606_200), "14:30 Moscow = 11:30 UTC");
}

#[test]
fn the_bridged_party_or_the_last_client() {
    let fixture = Fixture::new("who");
    let phone = sound("custom/promo");
    let outcome = fixture.run(",+1h,custom/promo,q", &["101", "+79123456789"], &phone);
    assert_eq!(outcome.status, NoticeStatus::Scheduled, "the extension is skipped for the client's number");
    assert!(fixture.call_files()[0].contains("Set: NOTICE_NUMBER=+79123456789"));
    assert_eq!(fixture.run(",+1h,custom/promo,q", &[], &phone).status, NoticeStatus::InvalidNumber, "nobody bridged");
    assert_eq!(fixture.run(",+1h,custom/promo,lq", &[], &phone).status, NoticeStatus::Scheduled);
    assert!(fixture.call_files().iter().any(|f| f.contains("NOTICE_NUMBER=+79160000000")));
}

#[test]
fn interactive_record_key_in_and_confirm() {
    let fixture = Fixture::new("interactive");
    let phone = ScriptedPhone { keys: keys(&["2026*11*25**14***30", "1"]), ..ScriptedPhone::default() };
    let outcome = fixture.run("79123456789", &[], &phone);
    assert_eq!(outcome.status, NoticeStatus::Scheduled);
    assert_eq!(phone.said.borrow().as_slice(), ["2026-11-25T11:30:00Z"], "read back before confirming");
    assert_eq!(fixture.recordings(), 1);
    let id = outcome.id.unwrap();
    assert!(fixture.call_files()[0].contains(&format!("Data: {}/{id}\n", fixture.notices.display())));
}

#[test]
fn two_re_enters() {
    let fixture = Fixture::new("reenter");
    let phone = ScriptedPhone {
        keys: keys(&["2026*11*25**14***30", "2", "2026*11*26**09***00", "1"]),
        ..ScriptedPhone::default()
    };
    assert_eq!(fixture.run("79123456789", &[], &phone).status, NoticeStatus::Scheduled);
    assert_eq!(phone.said.borrow().len(), 2);
    assert_eq!(fixture.spool.pending()[0].due, std::time::UNIX_EPOCH + Duration::from_secs(1_795_672_800));
}

#[test]
fn a_key_during_the_read_back_answers_at_once() {
    let fixture = Fixture::new("interrupt");
    let phone = ScriptedPhone {
        keys: keys(&["2026*11*25**14***30", "!2", "2026*11*26**09***00", "!1"]),
        ..ScriptedPhone::default()
    };
    assert_eq!(fixture.run("79123456789", &[], &phone).status, NoticeStatus::Scheduled);
    assert!(!phone.played.borrow().iter().any(|p| p == "if-correct-press"), "no need to ask");
    assert_eq!(fixture.spool.pending()[0].due, std::time::UNIX_EPOCH + Duration::from_secs(1_795_672_800));
}

#[test]
fn a_hang_up_leaves_nothing_behind() {
    let fixture = Fixture::new("hangup");
    let phone = ScriptedPhone { keys: keys(&["2026*11*25**14***30", "HANGUP"]), ..ScriptedPhone::default() };
    assert_eq!(fixture.run("79123456789", &[], &phone).status, NoticeStatus::Hangup);
    let during_recording = ScriptedPhone { record: Some(Err(Hungup)), ..ScriptedPhone::default() };
    assert_eq!(fixture.run("79123456789,+1h", &[], &during_recording).status, NoticeStatus::Hangup);
    assert!(fixture.call_files().is_empty());
    assert_eq!(fixture.recordings(), 0, "the recording is removed");
}

#[test]
fn bad_times_are_refused_before_recording() {
    let fixture = Fixture::new("times");
    for (when, status) in [
        ("2026-02-31 10:00", NoticeStatus::InvalidTime),
        ("2026-11-25 25:00", NoticeStatus::InvalidTime),
        ("2026-11-21 10:00", NoticeStatus::PastTime),
        ("2027-06-01 10:00", NoticeStatus::InvalidTime),
    ] {
        let phone = ScriptedPhone::default();
        assert_eq!(fixture.run(&format!("79123456789,{when}"), &[], &phone).status, status, "{when}");
    }
    assert_eq!(fixture.recordings(), 0, "nothing was recorded for a refused time");
    let keyed = ScriptedPhone {
        keys: keys(&["2026*02*31**10***00", "2026*11*21**10***00", "2026*11*20**10***00"]),
        ..ScriptedPhone::default()
    };
    assert_eq!(fixture.run("79123456789", &[], &keyed).status, NoticeStatus::PastTime);
    assert!(keyed.played.borrow().iter().filter(|p| *p == "pbx-invalid").count() >= 2);
    assert_eq!(fixture.recordings(), 0);
}

#[test]
fn hostile_numbers_recordings_and_limits() {
    let mut fixture = Fixture::new("hostile");
    let phone = sound("custom/promo");
    for number in ["7912345678&PJSIP/x", "7912/3456789", "79123456789\nApplication: System", "call-me", "12345"] {
        assert_eq!(
            fixture.run(&format!("{number},+1h,custom/promo,q"), &[], &phone).status,
            NoticeStatus::InvalidNumber,
            "{number:?}"
        );
    }
    for recording in
        ["../../etc/passwd", "/etc/passwd", "custom/promo.wav", "a&b", "custom/missing", "c\nApplication: System"]
    {
        assert_eq!(
            fixture.run(&format!("79123456789,+1h,{recording},q"), &[], &phone).status,
            NoticeStatus::NoRecording,
            "{recording:?}"
        );
    }
    fixture.config.notice_allow = r"^8[0-9]{10}$".into();
    assert_eq!(fixture.run("+79123456789,+1h,custom/promo,q", &[], &phone).status, NoticeStatus::InvalidNumber);
    assert_eq!(fixture.run("89123456789,+1h,custom/promo,q", &[], &phone).status, NoticeStatus::Scheduled);
    fixture.config.max_per_hour = 2;
    assert_eq!(fixture.run("89123456789,+1h,custom/promo,q", &[], &phone).status, NoticeStatus::Scheduled);
    assert_eq!(fixture.run("89123456789,+1h,custom/promo,q", &[], &phone).status, NoticeStatus::RateLimited);
    assert!(fixture.call_files().iter().all(|f| !f.contains("System")));
    assert_eq!(fixture.call_files().len(), 2);
}

#[test]
fn an_unwritable_spool_is_a_spool_error_and_cleans_up() {
    let fixture = Fixture::new("spoolerror");
    fs::remove_dir_all(&fixture.spool.outgoing).unwrap();
    fs::write(&fixture.spool.outgoing, b"not a directory").unwrap();
    let phone = ScriptedPhone::default();
    assert_eq!(fixture.run("79123456789,+1h", &[], &phone).status, NoticeStatus::SpoolError);
    assert_eq!(fixture.recordings(), 0);
}

#[test]
fn ids_and_recording_names() {
    let id = new_id();
    assert!(is_valid_id(&id), "{id}");
    assert_ne!(new_id(), id);
    assert!(!is_valid_id("../../x"));
    let dir = Path::new("/var/spool/asterisk/sticky/notices");
    assert!(checked_recording("/var/spool/asterisk/sticky/notices/abc", dir).is_ok());
    assert!(checked_recording("/var/spool/asterisk/sticky/notices/../../../etc/passwd", dir).is_err());
    assert!(checked_recording("hello-world", dir).is_ok());
}

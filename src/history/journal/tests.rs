//! Unit tests of the journal.

use std::sync::Arc;

use super::*;
use crate::host::vocabulary::{Direction, Disposition};
use crate::routing::contact::test_contact;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sticky-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn contact(i: i64) -> Contact {
    Contact { call_id: format!("n:{i}\tx%y\n"), ..test_contact("101", Direction::Inbound, Disposition::Answered, i) }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// Runs the commit thread for `journal` while `body` runs.
fn with_commits(journal: &Arc<Journal>, body: impl FnOnce()) {
    let committer = {
        let journal = journal.clone();
        std::thread::spawn(move || journal.run_commits())
    };
    body();
    journal.stop();
    committer.join().unwrap();
}

#[test]
fn records_round_trip_with_any_text() {
    let original = contact(7);
    let line = encode(&original);
    let text = String::from_utf8(line.clone()).unwrap();
    assert_eq!(text.matches('\n').count(), 1, "one line, whatever the fields hold");
    let row = decode(text.trim_end_matches('\n')).unwrap();
    assert_eq!(Contact::from_row(&row), Some(original));
}

#[test]
fn a_record_cut_short_or_damaged_is_skipped_never_misread() {
    let mut bytes = encode(&contact(1));
    bytes.extend(encode(&contact(2)));
    let mut damaged = encode(&contact(3));
    let at = damaged.len() / 2;
    damaged[at] ^= 0x01;
    bytes.extend(damaged);
    bytes.extend(encode(&contact(4)));
    let torn = encode(&contact(5));
    bytes.extend(&torn[..torn.len() / 2]);
    let (rows, skipped) = parse(&bytes);
    let started: Vec<i64> = rows.iter().map(|r| r.started_at).collect();
    assert_eq!(started, vec![1, 2, 4]);
    assert_eq!(skipped, 2, "the damaged record and the torn tail");
    assert_eq!(parse(b"").0.len(), 0);
    assert_eq!(parse(b"garbage\n").1, 1);
    assert_eq!(parse(b"c1 00000000 \n").1, 1);
    // A record of the first format, without a scope, is still read.
    let body = "9123456789\t101\tPJSIP/101\tin\tANSWERED\t5\tn\tc\t+79123456789";
    let old = format!("c1 {:08x} {body}\n", crc32fast::hash(body.as_bytes()));
    let (rows, skipped) = parse(old.as_bytes());
    assert_eq!((rows.len(), skipped, rows[0].scope.as_str()), (1, 0, ""));
}

#[test]
fn contacts_stored_before_their_commit_never_reach_the_disk() {
    let dir = dir("early");
    let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
    with_commits(&journal, || {
        let tickets: Vec<Ticket> = (0..10).map(|i| journal.append(&contact(i), true).unwrap()).collect();
        journal.confirm(tickets);
    });
    assert_eq!(journal.counters.committed.load(Ordering::Relaxed), 0);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn unstored_contacts_survive_a_restart_and_go_once_stored() {
    let dir = dir("restart");
    let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
    with_commits(&journal, || {
        for i in 0..5 {
            journal.append(&contact(i), true).unwrap();
        }
    });
    assert_eq!(journal.counters.committed.load(Ordering::Relaxed), 5);
    drop(journal);
    // A new process: the segment is read back and confirmed.
    let journal = Journal::open(&dir, 1 << 20).unwrap();
    let spilled = journal.spilled();
    assert_eq!(spilled.len(), 1);
    let mut taken = Vec::new();
    journal.read_back(spilled[0], 3, &mut |contact, ticket| taken.push((contact, ticket))).unwrap();
    assert_eq!(taken.len(), 3, "as much as memory has room for");
    assert_eq!(journal.spilled(), spilled, "the rest is still to read");
    journal.confirm(taken.drain(..).map(|(_, t)| t));
    journal.read_back(spilled[0], 10, &mut |contact, ticket| taken.push((contact, ticket))).unwrap();
    assert_eq!(taken.len(), 5, "read again whole (storing twice is harmless)");
    assert_eq!(files(&dir).len(), 1, "kept until stored");
    journal.confirm(taken.drain(..).map(|(_, t)| t));
    assert!(files(&dir).is_empty());
    assert!(journal.spilled().is_empty());
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_forgotten_number_leaves_no_record() {
    let dir = dir("scrub");
    let journal = Arc::new(Journal::open(&dir, 1 << 20).unwrap());
    let other = Contact { number: crate::routing::number::NumberKey::from_stored("9000000001").unwrap(), ..contact(9) };
    with_commits(&journal, || {
        journal.append(&contact(1), true).unwrap();
        journal.append(&other, true).unwrap();
    });
    let numbers = || {
        let (rows, _) = parse(&fs::read(&files(&dir)[0]).unwrap());
        rows.into_iter().map(|row| row.number).collect::<Vec<_>>()
    };
    assert_eq!(numbers(), ["9123456789", "9000000001"]);
    assert_eq!(journal.scrub(&Forgotten::from([("9123456789".to_string(), i64::MAX)])).unwrap(), 1);
    assert_eq!(numbers(), ["9000000001"], "only the other number stays");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn a_full_journal_keeps_new_contacts_in_memory_and_counts_them() {
    let dir = dir("full");
    let one = encode(&contact(0)).len() as u64;
    let journal = Arc::new(Journal::open(&dir, one * 3).unwrap());
    with_commits(&journal, || {
        let kept = (0..5).filter(|i| journal.append(&contact(*i), true).is_some()).count();
        assert_eq!(kept, 3);
    });
    assert_eq!(journal.state().dropped, 2);
    assert_eq!(journal.state().committed, 3);
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn the_legacy_file_is_read_and_left_for_the_caller() {
    let path = dir("legacy");
    let contacts = [test_contact("101", Direction::Inbound, Disposition::Answered, 1_000)];
    let line = |c: &Contact| {
        [
            c.number.as_str().to_string(),
            c.agent.id.to_string(),
            c.agent.interface.to_string(),
            c.direction.as_str().into(),
            c.disposition.as_str().into(),
            c.started_at.to_string(),
            c.node.to_string(),
            c.call_id.clone(),
            c.client.clone(),
        ]
        .join("\t")
    };
    fs::write(&path, format!("{}\ngarbage\n", line(&contacts[0]))).unwrap();
    assert_eq!(read_legacy(&path), contacts);
    assert!(path.exists(), "removed only once the journal holds its contacts");
}

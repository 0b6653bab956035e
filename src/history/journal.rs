//! Contacts still unwritten when the module stops (the database was down)
//! are kept in a file next to astdb and written after the next start.
//! One contact per line, fields separated by tabs; every field is checked
//! again when read back, like a row of the history table.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::routing::contact::{Contact, StoredRow};

fn line(contact: &Contact) -> Option<String> {
    let fields = [
        contact.number.as_str().to_string(),
        contact.agent.id.to_string(),
        contact.agent.interface.to_string(),
        contact.direction.as_str().to_string(),
        contact.disposition.as_str().to_string(),
        contact.started_at.to_string(),
        contact.node.to_string(),
        contact.call_id.clone(),
        contact.client.clone(),
    ];
    // A field with a tab or a line break would shift the others: skip it.
    let clean = fields.iter().all(|f| !f.contains(['\t', '\n', '\r']));
    clean.then(|| fields.join("\t"))
}

/// Writes `contacts` to `path` (replacing it) through a temporary file.
pub fn save(path: &Path, contacts: &[Contact]) -> io::Result<usize> {
    let lines: Vec<String> = contacts.iter().filter_map(line).collect();
    let temporary = path.with_extension("tmp");
    let mut file = fs::File::create(&temporary)?;
    for line in &lines {
        writeln!(file, "{line}")?;
    }
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    Ok(lines.len())
}

/// Reads and removes the journal; contacts that fail validation are dropped.
pub fn take(path: &Path) -> Vec<Contact> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    let _ = fs::remove_file(path);
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 9 {
                return None;
            }
            Contact::from_row(&StoredRow {
                number: f[0].into(),
                agent_id: f[1].into(),
                agent_interface: f[2].into(),
                direction: f[3].into(),
                disposition: f[4].into(),
                started_at: f[5].parse().ok()?,
                node: f[6].into(),
                call_id: f[7].into(),
                client: f[8].into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::contact::test_contact;
    use crate::routing::vocabulary::{Direction, Disposition};

    #[test]
    fn contacts_round_trip_and_bad_lines_are_dropped() {
        let path = std::env::temp_dir().join(format!("sticky-journal-{}", std::process::id()));
        let contacts = vec![
            test_contact("101", Direction::Inbound, Disposition::Answered, 1_000),
            test_contact("102", Direction::Outbound, Disposition::Busy, 2_000),
        ];
        assert_eq!(save(&path, &contacts).unwrap(), 2);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("garbage\nx\t101&\tPJSIP/1\tin\tANSWERED\t5\tn\tc\t+7\n");
        fs::write(&path, text).unwrap();
        assert_eq!(take(&path), contacts);
        assert!(!path.exists(), "taken once");
        assert!(take(&path).is_empty());
    }
}

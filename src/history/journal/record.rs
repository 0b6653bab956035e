//! The journal's record format: one contact a line, a format tag, a CRC-32
//! of the fields, and the fields escaped and tab-separated; and the legacy
//! file of older versions.

use std::fs;
use std::path::Path;

use super::FORMAT;
use crate::routing::contact::{Contact, StoredRow};

/// `%`, tab and line breaks escaped, so that a field never splits a record.
fn escape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for c in field.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\t' => out.push_str("%09"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(field: &str) -> Option<String> {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "09" => '\t',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// One record: `c2 <crc32 of the fields, 8 hex> <fields, tab-separated>\n`.
pub fn encode(contact: &Contact) -> Vec<u8> {
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
        contact.scope.to_string(),
    ];
    let body = fields.iter().map(|f| escape(f)).collect::<Vec<_>>().join("\t");
    format!("{FORMAT} {:08x} {body}\n", crc32fast::hash(body.as_bytes())).into_bytes()
}

/// Reads one record back; `None` for a line cut short, damaged, or of a
/// format this version does not know.
pub fn decode(line: &str) -> Option<StoredRow> {
    let (format, rest) = line.split_once(' ')?;
    let (crc, body) = rest.split_once(' ')?;
    if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32fast::hash(body.as_bytes()) {
        return None;
    }
    let mut fields: Vec<String> = body.split('\t').map(unescape).collect::<Option<_>>()?;
    match (format, fields.len()) {
        ("c1", 9) => fields.push(String::new()),
        ("c2", 10) => {}
        _ => return None,
    }
    let [number, agent_id, agent_interface, direction, disposition, started_at, node, call_id, client, scope]: [String;
        10] = fields.try_into().ok()?;
    Some(StoredRow {
        number,
        agent_id,
        agent_interface,
        direction,
        disposition,
        started_at: started_at.parse().ok()?,
        node,
        call_id,
        client,
        scope,
    })
}

/// Every valid record of a segment's bytes, and how many lines were not.
pub fn parse(bytes: &[u8]) -> (Vec<StoredRow>, u64) {
    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        // The last piece has no line end: empty, or a record cut short.
        let complete = lines.peek().is_some();
        if line.is_empty() && !complete {
            break;
        }
        match std::str::from_utf8(line).ok().filter(|_| complete).and_then(decode) {
            Some(row) => rows.push(row),
            None => skipped += 1,
        }
    }
    (rows, skipped)
}

/// Reads the file in which a previous version kept the contacts unwritten
/// at a graceful stop (one contact per line, tab-separated). The caller
/// removes it once the contacts are safe in the journal.
pub fn read_legacy(path: &Path) -> Vec<Contact> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
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
                scope: String::new(),
            })
        })
        .collect()
}

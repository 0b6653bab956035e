//! Call files in Asterisk's outgoing spool: written atomically, listed and
//! cancelled.
//!
//! pbx_spool reads a call file as soon as it appears in `outgoing/`; one
//! read half-written is deleted as invalid. So a notice is written in a
//! staging directory on the same file system, flushed to disk, given its due
//! time as mtime (pbx_spool waits until then), and only then renamed into
//! `outgoing/` — a rename is atomic, so pbx_spool sees all of it or nothing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;

const PREFIX: &str = "sticky-notice-";

/// What goes into one call file. Every field has been validated: the
/// number is digits with an optional `+`, the id is [a-z0-9], the channel is
/// the admin's template around that number, the recording a path the module
/// chose or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFile {
    pub id: String,
    pub number: String,
    pub channel: String,
    pub caller_id: Option<String>,
    pub recording: String,
    pub retries: u32,
    pub retry_time: u32,
    pub wait_time: u32,
    pub operator: String,
}

/// Characters allowed in anything written into a call file line: no line
/// breaks, no comment starters (`;`, `#`), nothing else pbx_spool parses.
pub fn is_safe_line_value(text: &str) -> bool {
    !text.is_empty() && text.len() <= 200 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/@._-+:".contains(&b))
}

impl CallFile {
    pub fn render(&self) -> Result<String, String> {
        for (name, value) in [
            ("id", &self.id),
            ("number", &self.number),
            ("channel", &self.channel),
            ("recording", &self.recording),
            ("operator", &self.operator),
        ] {
            if !is_safe_line_value(value) {
                return Err(format!("unsafe {name} '{}'", value.escape_debug()));
            }
        }
        let mut text = String::new();
        text.push_str(&format!("Channel: {}\n", self.channel));
        if let Some(caller_id) = &self.caller_id {
            if !is_safe_line_value(caller_id) {
                return Err("unsafe caller id".into());
            }
            text.push_str(&format!("CallerID: <{caller_id}>\n"));
        }
        text.push_str(&format!(
            "MaxRetries: {}\nRetryTime: {}\nWaitTime: {}\nApplication: Playback\nData: {}\nArchive: yes\n",
            self.retries, self.retry_time, self.wait_time, self.recording
        ));
        text.push_str(&format!(
            "Set: NOTICE_ID={}\nSet: NOTICE_NUMBER={}\nSet: NOTICE_OPERATOR={}\n",
            self.id, self.number, self.operator
        ));
        Ok(text)
    }
}

/// Where call files go.
#[derive(Debug, Clone)]
pub struct Spool {
    /// `<astspooldir>/outgoing`
    pub outgoing: PathBuf,
    /// `<astspooldir>/outgoing_done`
    pub done: PathBuf,
    /// `<astspooldir>/sticky/tmp`: same file system as `outgoing`.
    pub staging: PathBuf,
}

pub fn file_name(id: &str) -> String {
    format!("{PREFIX}{id}.call")
}

fn system_time(due: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(due.as_second().max(0) as u64)
}

impl Spool {
    pub fn new(spool_dir: &Path) -> Spool {
        Spool {
            outgoing: spool_dir.join("outgoing"),
            done: spool_dir.join("outgoing_done"),
            staging: spool_dir.join("sticky/tmp"),
        }
    }

    /// Writes the call file atomically: staged, then published.
    pub fn deliver(&self, id: &str, content: &str, due: Timestamp) -> io::Result<()> {
        self.stage(id, content, due)?.publish()
    }

    /// Writes the call file into the staging directory, dated `due` and
    /// flushed to disk with its date. Dropped unpublished, it is removed.
    pub fn stage(&self, id: &str, content: &str, due: Timestamp) -> io::Result<Staged> {
        fs::create_dir_all(&self.staging)?;
        let staged = Staged {
            path: self.staging.join(format!("{}.tmp", file_name(id))),
            target: self.outgoing.join(file_name(id)),
            published: false,
        };
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o640).open(&staged.path)?;
        file.write_all(content.as_bytes())?;
        // The due time is metadata: set it before the flush so that it is
        // on disk with the content.
        let when = system_time(due);
        file.set_times(fs::FileTimes::new().set_accessed(when).set_modified(when))?;
        file.sync_all()?;
        Ok(staged)
    }

    /// Removes staged files a writer left behind (it died before renaming).
    pub fn clean_staging(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.staging) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .filter(|e| fs::remove_file(e.path()).is_ok())
            .count()
    }

    /// Removes a pending notice; `true` if it was there.
    pub fn cancel(&self, id: &str) -> bool {
        fs::remove_file(self.outgoing.join(file_name(id))).is_ok()
    }

    pub fn pending(&self) -> Vec<Listed> {
        list(&self.outgoing)
    }

    pub fn finished(&self) -> Vec<Listed> {
        list(&self.done)
    }
}

/// A call file written and flushed in the staging directory, not yet seen
/// by pbx_spool.
pub struct Staged {
    path: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staged {
    /// Renames the file into `outgoing/`, where pbx_spool picks it up. Once
    /// renamed the notice is live: a failure to flush the directory entry
    /// afterwards is logged, not reported as a failed notice.
    pub fn publish(mut self) -> io::Result<()> {
        fs::rename(&self.path, &self.target)?;
        self.published = true;
        if let Some(dir) = self.target.parent() {
            if let Err(error) = File::open(dir).and_then(|dir| dir.sync_all()) {
                crate::log_warning!(
                    "res_sticky: {} is live, but flushing its directory failed: {error}",
                    self.target.display()
                );
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A notice as found in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub number: String,
    pub operator: String,
    /// pbx_spool's mtime: the due time, or the next retry.
    pub due: SystemTime,
    /// `Status:` from `outgoing_done` (Completed, Expired, Failed).
    pub status: Option<String>,
}

fn list(dir: &Path) -> Vec<Listed> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut listed: Vec<Listed> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.strip_prefix(PREFIX)?.strip_suffix(".call")?.to_string();
            let text = fs::read_to_string(entry.path()).ok()?;
            let value = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().to_string());
            Some(Listed {
                id,
                number: value("Set: NOTICE_NUMBER=").unwrap_or_default(),
                operator: value("Set: NOTICE_OPERATOR=").unwrap_or_default(),
                due: entry.metadata().and_then(|m| m.modified()).unwrap_or(UNIX_EPOCH),
                status: text.lines().rev().find_map(|l| l.strip_prefix("Status: ")).map(|s| s.trim().to_string()),
            })
        })
        .collect();
    listed.sort_by_key(|n| n.due);
    listed
}

/// Makes sure a directory exists, readable by Asterisk only.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut permissions = fs::metadata(dir)?.permissions();
    if permissions.mode() & 0o007 != 0 {
        permissions.set_mode(0o750);
        fs::set_permissions(dir, permissions)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CallFile {
        CallFile {
            id: "ab12cd34ef".into(),
            number: "+79123456789".into(),
            channel: "Local/+79123456789@from-internal".into(),
            caller_id: Some("74951112233".into()),
            recording: "/var/spool/asterisk/sticky/notices/ab12cd34ef".into(),
            retries: 2,
            retry_time: 20,
            wait_time: 20,
            operator: "PJSIP/101".into(),
        }
    }

    fn temp_spool(name: &str) -> (PathBuf, Spool) {
        let dir = std::env::temp_dir().join(format!("sticky-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("outgoing")).unwrap();
        let spool = Spool::new(&dir);
        (dir, spool)
    }

    #[test]
    fn renders_only_validated_lines() {
        let text = sample().render().unwrap();
        assert!(text.starts_with("Channel: Local/+79123456789@from-internal\nCallerID: <74951112233>\n"));
        assert!(
            text.contains("Application: Playback\nData: /var/spool/asterisk/sticky/notices/ab12cd34ef\nArchive: yes\n")
        );
        assert!(text.contains("Set: NOTICE_ID=ab12cd34ef\n"));
        assert_eq!(text.lines().count(), 11);
        for (field, value) in [
            ("number", "7912\nApplication: System"),
            ("channel", "Local/1@x;Application: System"),
            ("recording", "/tmp/x#y"),
            ("operator", "PJSIP/1 01"),
        ] {
            let mut file = sample();
            match field {
                "number" => file.number = value.into(),
                "channel" => file.channel = value.into(),
                "recording" => file.recording = value.into(),
                _ => file.operator = value.into(),
            }
            assert!(file.render().is_err(), "{field} {value:?}");
        }
    }

    #[test]
    fn delivers_atomically_with_the_due_time() {
        let (dir, spool) = temp_spool("deliver");
        let due: Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
        spool.deliver("abc", "Channel: Local/1@x\n", due).unwrap();
        let path = spool.outgoing.join("sticky-notice-abc.call");
        assert_eq!(fs::read_to_string(&path).unwrap(), "Channel: Local/1@x\n");
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(modified, UNIX_EPOCH + Duration::from_secs(due.as_second() as u64));
        assert_eq!(fs::read_dir(&spool.staging).unwrap().count(), 0, "nothing left in staging");
        assert_eq!(spool.pending().len(), 1);
        assert!(spool.cancel("abc"));
        assert!(!spool.cancel("abc"));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_writer_dying_before_the_rename_leaves_nothing_in_outgoing() {
        let (dir, spool) = temp_spool("die");
        let due: Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
        // A process killed between the two steps runs no destructor.
        std::mem::forget(spool.stage("dies", "Channel: Local/1@x\n", due).unwrap());
        assert_eq!(fs::read_dir(&spool.outgoing).unwrap().count(), 0, "pbx_spool never sees a partial file");
        assert_eq!(spool.clean_staging(), 1, "the staged file is cleaned up at the next load");
        drop(spool.stage("dropped", "Channel: Local/1@x\n", due).unwrap());
        assert_eq!(fs::read_dir(&spool.staging).unwrap().count(), 0, "an unpublished file is removed");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_rename_is_an_error_and_cleans_up() {
        let (dir, spool) = temp_spool("fail");
        fs::remove_dir_all(&spool.outgoing).unwrap();
        fs::write(&spool.outgoing, "not a directory").unwrap();
        let due: Timestamp = "2030-01-02T03:04:05Z".parse().unwrap();
        assert!(spool.deliver("x", "Channel: Local/1@x\n", due).is_err());
        assert_eq!(fs::read_dir(&spool.staging).unwrap().count(), 0);
        let _ = fs::remove_dir_all(dir);
    }
}

//! A small AMI client: actions with replies, and every event collected so a
//! test can wait for the one it expects.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One AMI message: its headers in order.
#[derive(Debug, Clone, Default)]
pub struct Message(pub Vec<(String, String)>);

impl Message {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn is_event(&self, name: &str) -> bool {
        self.get("Event").is_some_and(|event| event.eq_ignore_ascii_case(name))
    }

    /// A UserEvent of this name (`UserEvent(Name,...)` in the dialplan).
    pub fn is_user_event(&self, name: &str) -> bool {
        self.is_event("UserEvent") && self.get("UserEvent") == Some(name)
    }
}

type Inbox = Arc<(Mutex<Vec<Message>>, Condvar)>;

pub struct Ami {
    writer: Mutex<TcpStream>,
    inbox: Inbox,
    next_id: AtomicU64,
}

impl Ami {
    pub fn connect(port: u16) -> Ami {
        Ami::connect_for(port, "on")
    }

    /// Connects receiving only the event classes in `events` (e.g. "user").
    pub fn connect_for(port: u16, events: &str) -> Ami {
        Ami::connect_as(port, "test", "test", events)
    }

    /// Connects as the manager.conf user `user`.
    pub fn connect_as(port: u16, user: &str, secret: &str, events: &str) -> Ami {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("AMI on port {port}: {e}"));
        let reader = stream.try_clone().expect("clone AMI stream");
        let inbox: Inbox = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = inbox.clone();
        thread::spawn(move || read_messages(reader, sink));
        let ami = Ami { writer: Mutex::new(stream), inbox, next_id: AtomicU64::new(1) };
        let reply = ami.action("Login", &[("Username", user), ("Secret", secret), ("Events", events)]);
        assert_eq!(reply.get("Response"), Some("Success"), "AMI login: {reply:?}");
        ami
    }

    /// Sends an action and waits for its response.
    pub fn action(&self, action: &str, headers: &[(&str, &str)]) -> Message {
        let id = format!("t{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut text = format!("Action: {action}\r\nActionID: {id}\r\n");
        for (key, value) in headers {
            text.push_str(&format!("{key}: {value}\r\n"));
        }
        text.push_str("\r\n");
        self.writer.lock().unwrap().write_all(text.as_bytes()).expect("AMI write");
        self.wait(Duration::from_secs(15), |m| m.get("ActionID") == Some(&id) && m.get("Response").is_some())
            .unwrap_or_else(|| panic!("no response to AMI {action}"))
    }

    /// Originates a call from `channel` into `exten@context`, asynchronously.
    pub fn originate(&self, channel: &str, context: &str, exten: &str, caller_id: &str, variables: &[(&str, &str)]) {
        let mut headers = vec![
            ("Channel", channel.to_string()),
            ("Context", context.to_string()),
            ("Exten", exten.to_string()),
            ("Priority", "1".to_string()),
            ("CallerID", caller_id.to_string()),
            ("Async", "true".to_string()),
            ("Timeout", "30000".to_string()),
        ];
        for (name, value) in variables {
            headers.push(("Variable", format!("{name}={value}")));
        }
        let borrowed: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = self.action("Originate", &borrowed);
        assert_eq!(reply.get("Response"), Some("Success"), "originate {channel}: {reply:?}");
    }

    /// Waits for a message matching `predicate` (also among those already received).
    pub fn wait(&self, timeout: Duration, predicate: impl Fn(&Message) -> bool) -> Option<Message> {
        let deadline = Instant::now() + timeout * super::asterisk::slowdown();
        let (lock, ready) = &*self.inbox;
        let mut messages = lock.lock().unwrap();
        loop {
            if let Some(found) = messages.iter().find(|m| predicate(m)) {
                return Some(found.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            messages = ready.wait_timeout(messages, left).unwrap().0;
        }
    }

    /// Waits for the `count`-th message matching `predicate`.
    pub fn wait_nth(&self, count: usize, timeout: Duration, predicate: impl Fn(&Message) -> bool) -> Vec<Message> {
        let deadline = Instant::now() + timeout * super::asterisk::slowdown();
        loop {
            let found = self.all(&predicate);
            if found.len() >= count || Instant::now() >= deadline {
                return found;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn all(&self, predicate: impl Fn(&Message) -> bool) -> Vec<Message> {
        self.inbox.0.lock().unwrap().iter().filter(|m| predicate(m)).cloned().collect()
    }

    /// Forgets every message received so far.
    pub fn clear(&self) {
        self.inbox.0.lock().unwrap().clear();
    }
}

fn read_messages(stream: TcpStream, inbox: Inbox) {
    let mut reader = BufReader::new(stream);
    let mut current = Message::default();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !current.0.is_empty() {
                let (lock, ready) = &*inbox;
                lock.lock().unwrap().push(std::mem::take(&mut current));
                ready.notify_all();
            }
            continue;
        }
        if let Some((key, value)) = text.split_once(':') {
            current.0.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
}

//! Scopes: the department, queue or tenant a contact belongs to, so that a
//! client who talked to sales is not routed to a sales agent when calling
//! support. A contact is learned with the scope of its call; a lookup may
//! ask for one scope, or for all.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// The longest scope name.
pub const MAX_LEN: usize = 40;

/// A scope name as given by the dialplan (`STICKY_SCOPE`, the fourth
/// argument) or a queue name: letters, digits, `-`, `_`, `.`; at most 40.
/// Empty means no scope.
pub fn parse(text: &str) -> Result<Option<Arc<str>>, String> {
    // Spaces around are the dialplan's layout; any other character counts.
    let text = text.trim_matches(' ');
    if text.is_empty() {
        return Ok(None);
    }
    let good = text.len() <= MAX_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !good {
        return Err(format!(
            "'{}' is not a scope (letters, digits, - _ . ; at most {MAX_LEN})",
            crate::text::shown(text)
        ));
    }
    Ok(Some(Arc::from(text)))
}

/// The queue of a `Queue(name,options,…)` application's data, as a scope.
pub fn of_queue(data: &str) -> Option<Arc<str>> {
    parse(data.split([',', '|']).next().unwrap_or("")).ok().flatten()
}

/// The scopes of calls in progress, by the id their channels share
/// (`linkedid`), as `STICKY_SCOPE` was set on one of them: the CDR of any
/// leg of the call then finds it. Bounded in size and age: past the bound,
/// the call whose scope was set longest ago goes first.
#[derive(Default)]
pub struct CallScopes {
    calls: HashMap<String, (Arc<str>, i64)>,
    /// Calls in the order their scope was set (an entry is stale when the
    /// call's scope was set again since, or cleared).
    order: VecDeque<(String, i64)>,
}

/// A call's scope is forgotten this long after it was set.
const KEEP_MS: i64 = 12 * 3600 * 1000;
/// The most calls remembered.
const MAX_CALLS: usize = 100_000;

impl CallScopes {
    /// `STICKY_SCOPE` (or `_`/`__STICKY_SCOPE`) was set on a channel of the
    /// call `linkedid` at `now`; an invalid value is ignored (and `Err`).
    pub fn set(&mut self, linkedid: &str, value: &str, now: i64) -> Result<(), String> {
        match parse(value)? {
            Some(scope) => {
                self.calls.insert(linkedid.to_string(), (scope, now));
                self.order.push_back((linkedid.to_string(), now));
            }
            None => {
                self.calls.remove(linkedid);
            }
        }
        self.drop_oldest(|calls, order, _| calls > MAX_CALLS || order > 2 * MAX_CALLS);
        Ok(())
    }

    /// Drops calls from the oldest while `more` says so (given the sizes of
    /// the table and of the order, and the oldest entry's time); stale
    /// entries of the order go on the way.
    fn drop_oldest(&mut self, more: impl Fn(usize, usize, i64) -> bool) {
        while let Some((linkedid, at)) = self.order.front() {
            let current = self.calls.get(linkedid).is_some_and(|(_, set_at)| set_at == at);
            if current && !more(self.calls.len(), self.order.len(), *at) {
                break;
            }
            if current {
                self.calls.remove(linkedid);
            }
            self.order.pop_front();
        }
    }

    /// The scope of the call `linkedid`, if one was set.
    pub fn of(&self, linkedid: &str) -> Option<Arc<str>> {
        self.calls.get(linkedid).map(|(scope, _)| scope.clone())
    }

    /// Forgets calls whose scope was set long ago (they have ended).
    pub fn prune(&mut self, now: i64) {
        self.drop_oldest(|_, _, at| now - at >= KEEP_MS);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.calls.len()
    }
}

/// Whether a channel variable's name is `STICKY_SCOPE`, inherited or not.
pub fn is_scope_variable(name: &str) -> bool {
    name.trim_start_matches('_') == "STICKY_SCOPE"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names() {
        assert_eq!(parse("sales").unwrap().as_deref(), Some("sales"));
        assert_eq!(parse(" tenant-2.support_1 ").unwrap().as_deref(), Some("tenant-2.support_1"));
        assert_eq!(parse("").unwrap(), None);
        for bad in ["sales;x", "a b", "../x", "продажи", "x\n", "'", "%", &"s".repeat(41)] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn calls_remember_their_scope_for_a_while() {
        let mut calls = CallScopes::default();
        assert!(is_scope_variable("__STICKY_SCOPE") && is_scope_variable("STICKY_SCOPE"));
        assert!(!is_scope_variable("STICKY_SCOPES"));
        calls.set("1700.1", "sales", 0).unwrap();
        assert_eq!(calls.of("1700.1").as_deref(), Some("sales"));
        assert!(calls.set("1700.2", "bad scope", 0).is_err());
        assert_eq!(calls.of("1700.2"), None);
        calls.set("1700.1", "", 1).unwrap();
        assert_eq!(calls.of("1700.1"), None, "cleared");
        calls.set("1700.3", "support", 0).unwrap();
        calls.prune(KEEP_MS + 60_000);
        assert_eq!(calls.of("1700.3"), None, "forgotten after a while");
    }

    #[test]
    fn a_full_table_makes_room_by_the_oldest_call() {
        let mut calls = CallScopes::default();
        calls.set("first", "sales", 0).unwrap();
        calls.set("first", "support", 1).unwrap();
        for n in 0..MAX_CALLS + 10 {
            calls.set(&format!("call-{n}"), "sales", 2 + n as i64).unwrap();
        }
        assert_eq!(calls.len(), MAX_CALLS, "bounded");
        assert_eq!(calls.of("first"), None, "the oldest went first");
        assert_eq!(calls.of(&format!("call-{}", MAX_CALLS + 9)).as_deref(), Some("sales"), "the newest stays");
        assert!(calls.order.len() <= MAX_CALLS + 1, "no stale entries pile up: {}", calls.order.len());
    }

    #[test]
    fn queue_names_from_application_data() {
        assert_eq!(of_queue("support,tT,,,30").as_deref(), Some("support"));
        assert_eq!(of_queue("8008").as_deref(), Some("8008"));
        assert_eq!(of_queue(""), None);
        assert_eq!(of_queue("bad queue,t"), None);
    }
}

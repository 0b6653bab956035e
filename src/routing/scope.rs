//! Scopes: the department, queue or tenant a contact belongs to, so that a
//! client who talked to sales is not routed to a sales agent when calling
//! support. A contact is learned with the scope of its call; a lookup may
//! ask for one scope, or for all.

use std::collections::HashMap;
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
/// leg of the call then finds it. Bounded in size and age.
#[derive(Default)]
pub struct CallScopes {
    calls: HashMap<String, (Arc<str>, i64)>,
    /// When old calls were last forgotten.
    pruned_at: i64,
}

/// A call's scope is forgotten this long after it was set.
const KEEP_MS: i64 = 12 * 3600 * 1000;
/// The most calls remembered.
const MAX_CALLS: usize = 100_000;

impl CallScopes {
    /// `STICKY_SCOPE` (or `_`/`__STICKY_SCOPE`) was set on a channel of the
    /// call `linkedid` at `now`; an invalid value is ignored (and `Err`).
    pub fn set(&mut self, linkedid: &str, value: &str, now: i64) -> Result<(), String> {
        if self.calls.len() >= MAX_CALLS {
            self.calls.retain(|_, (_, at)| now - *at < KEEP_MS);
            if self.calls.len() >= MAX_CALLS {
                return Err("too many calls with a scope at once".into());
            }
        }
        match parse(value)? {
            Some(scope) => self.calls.insert(linkedid.to_string(), (scope, now)),
            None => self.calls.remove(linkedid),
        };
        Ok(())
    }

    /// The scope of the call `linkedid`, if one was set.
    pub fn of(&self, linkedid: &str) -> Option<Arc<str>> {
        self.calls.get(linkedid).map(|(scope, _)| scope.clone())
    }

    /// Forgets calls whose scope was set long ago (they have ended); walks
    /// the table at most once a minute.
    pub fn prune(&mut self, now: i64) {
        if now - self.pruned_at >= 60_000 {
            self.pruned_at = now;
            self.calls.retain(|_, (_, at)| now - *at < KEEP_MS);
        }
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
    fn queue_names_from_application_data() {
        assert_eq!(of_queue("support,tT,,,30").as_deref(), Some("support"));
        assert_eq!(of_queue("8008").as_deref(), Some("8008"));
        assert_eq!(of_queue(""), None);
        assert_eq!(of_queue("bad queue,t"), None);
    }
}

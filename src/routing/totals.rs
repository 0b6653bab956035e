//! STICKY_ROUTE's decisions per scope and status, and how its routed calls
//! ended, counted since the module loaded (the counters behind
//! `asterisk_sticky_lookups_total`). Scopes come from callers' calls, so
//! only the first [`MAX_SCOPE_LABELS`] get their own entry; every later
//! one is counted under [`OTHER_SCOPE`]: the table, and the series it
//! becomes, stay bounded whatever names a caller sends. An entry is never
//! given away again, so each total only grows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::decision::RouteStatus;

/// Scopes counted under their own name (calls without a scope aside).
pub const MAX_SCOPE_LABELS: usize = 50;
/// The name shown for calls without a scope (never a valid scope name).
pub const NO_SCOPE: &str = "(none)";
/// The name of every scope past the first [`MAX_SCOPE_LABELS`].
pub const OTHER_SCOPE: &str = "(other)";

/// One scope's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeTotal {
    /// Decisions by `STICKY_STATUS` value; a new status is one more key.
    pub decisions: BTreeMap<&'static str, u64>,
    /// Routed calls the sticky agent answered.
    pub answered: u64,
    /// Routed calls it did not answer (or not within the follow time).
    pub missed: u64,
}

/// The totals of every scope, bounded.
#[derive(Debug, Default)]
pub struct ScopeTotals {
    scopes: HashMap<Arc<str>, ScopeTotal>,
    other: ScopeTotal,
}

impl ScopeTotals {
    fn entry(&mut self, scope: &Arc<str>) -> &mut ScopeTotal {
        if !self.scopes.contains_key(scope) {
            let named = self.scopes.keys().filter(|s| !s.is_empty()).count();
            if !scope.is_empty() && named >= MAX_SCOPE_LABELS {
                return &mut self.other;
            }
            self.scopes.insert(scope.clone(), ScopeTotal::default());
        }
        self.scopes.get_mut(scope).expect("just inserted")
    }

    pub fn decided(&mut self, scope: &Arc<str>, status: RouteStatus) {
        *self.entry(scope).decisions.entry(status.as_str()).or_default() += 1;
    }

    /// A routed call's end: answered by its agent or not.
    pub fn resolved(&mut self, scope: &Arc<str>, answered: bool) {
        let total = self.entry(scope);
        if answered {
            total.answered += 1;
        } else {
            total.missed += 1;
        }
    }

    /// Every scope with its label value, sorted; the overflow last.
    pub fn read(&self) -> Vec<(String, ScopeTotal)> {
        let mut rows: Vec<(String, ScopeTotal)> = self
            .scopes
            .iter()
            .map(|(scope, total)| {
                (if scope.is_empty() { NO_SCOPE.to_string() } else { scope.to_string() }, total.clone())
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if self.other != ScopeTotal::default() {
            rows.push((OTHER_SCOPE.to_string(), self.other.clone()));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_scope_names_share_one_entry() {
        let mut totals = ScopeTotals::default();
        totals.decided(&Arc::from(""), RouteStatus::NoHistory);
        for n in 0..10_000 {
            totals.decided(&Arc::from(format!("hostile-{n}")), RouteStatus::Routed);
        }
        totals.resolved(&Arc::from("hostile-9999"), true);
        let rows = totals.read();
        assert_eq!(rows.len(), MAX_SCOPE_LABELS + 2, "the named scopes, (none) and (other)");
        let (label, other) = rows.last().unwrap();
        assert_eq!(label, OTHER_SCOPE);
        assert_eq!(other.decisions["ROUTED"], 10_000 - MAX_SCOPE_LABELS as u64);
        assert_eq!(other.answered, 1);
        assert!(rows.iter().any(|(label, t)| label == NO_SCOPE && t.decisions["NOHISTORY"] == 1));
        // A scope that had an entry keeps it.
        totals.decided(&Arc::from("hostile-0"), RouteStatus::Busy);
        assert_eq!(totals.read().iter().find(|(l, _)| l == "hostile-0").unwrap().1.decisions["BUSY"], 1);
    }
}

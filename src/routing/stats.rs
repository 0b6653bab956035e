//! What STICKY_ROUTE decided, per scope, over the last 24 hours, and how
//! the routed calls ended: each ROUTED call is followed to its CDRs, and
//! counts as answered when a record shows the sticky agent answering it.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::Arc;

use super::decision::RouteStatus;
use super::totals::ScopeTotals;

/// Minutes kept (24 hours).
const MINUTES: usize = 1440;
/// A routed call not seen answered within this long counts as not answered.
const FOLLOW_MS: i64 = 2 * 3600 * 1000;
/// The most calls followed at once.
const MAX_FOLLOWED: usize = 100_000;

/// The statuses counted, in the order they are shown.
pub const STATUSES: [RouteStatus; 10] = [
    RouteStatus::Routed,
    RouteStatus::NoHistory,
    RouteStatus::Busy,
    RouteStatus::Unavailable,
    RouteStatus::Invalid,
    RouteStatus::Error,
    RouteStatus::Hangup,
    RouteStatus::Paused,
    RouteStatus::WrapUp,
    RouteStatus::NotMember,
];

fn index(status: RouteStatus) -> usize {
    STATUSES.iter().position(|s| *s == status).expect("every status is counted")
}

/// Counts of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub decisions: [u64; STATUSES.len()],
    /// Routed calls the sticky agent answered.
    pub answered: u64,
    /// Routed calls the sticky agent did not answer.
    pub missed: u64,
    /// ROUTED decisions by the rank of the agent routed to: the newest
    /// agent (or the owner, with `a`), the second, the third or later (`l(N)`).
    pub routed_rank: [u64; 3],
    /// ROUTED decisions that went to the account owner (`a`).
    pub routed_owner: u64,
}

/// The labels of [`Counts::routed_rank`], as AMI fields and in `sticky show stats`.
pub const RANKS: [&str; 3] = ["1", "2", "3+"];

impl Counts {
    fn add(&mut self, other: &Counts) {
        for (mine, theirs) in self.decisions.iter_mut().zip(other.decisions) {
            *mine += theirs;
        }
        self.answered += other.answered;
        self.missed += other.missed;
        for (mine, theirs) in self.routed_rank.iter_mut().zip(other.routed_rank) {
            *mine += theirs;
        }
        self.routed_owner += other.routed_owner;
    }

    pub fn total(&self) -> u64 {
        self.decisions.iter().sum()
    }

    /// Calls that took the usual path: every decision but ROUTED, and
    /// routed calls the agent did not answer.
    pub fn fallbacks(&self) -> u64 {
        self.total() - self.decisions[index(RouteStatus::Routed)] + self.missed
    }
}

/// A scope's minutes, newest last.
#[derive(Debug, Default)]
struct Minutes(VecDeque<(i64, Counts)>);

impl Minutes {
    fn at(&mut self, minute: i64) -> &mut Counts {
        while self.0.front().is_some_and(|(m, _)| *m <= minute - MINUTES as i64) {
            self.0.pop_front();
        }
        if self.0.back().is_none_or(|(m, _)| *m != minute) {
            self.0.push_back((minute, Counts::default()));
        }
        &mut self.0.back_mut().expect("just pushed").1
    }

    fn since(&self, minute: i64) -> Counts {
        let mut sum = Counts::default();
        for (_, counts) in self.0.iter().filter(|(m, _)| *m >= minute) {
            sum.add(counts);
        }
        sum
    }
}

struct Followed {
    scope: Arc<str>,
    interface: Arc<str>,
    at: i64,
}

/// The figures of `sticky show stats`.
#[derive(Default)]
pub struct Stats {
    scopes: HashMap<Arc<str>, Minutes>,
    /// Routed calls not yet seen answered, by linkedid.
    followed: HashMap<String, Followed>,
    /// When expired calls and idle scopes were last looked for.
    expired_at: i64,
    /// The same counted since the load, for the metrics.
    pub totals: ScopeTotals,
}

/// The most scopes counted; past it, scopes idle longest go first.
const MAX_SCOPES: usize = 1000;

fn minute(ms: i64) -> i64 {
    ms.div_euclid(60_000)
}

impl Stats {
    /// One decision at `now` (ms). A ROUTED one is followed by its call's
    /// `linkedid` until a CDR shows whether `interface` answered.
    pub fn decided(&mut self, now: i64, scope: &Arc<str>, status: RouteStatus, linkedid: &str, interface: &Arc<str>) {
        self.expire(now);
        self.scopes.entry(scope.clone()).or_default().at(minute(now)).decisions[index(status)] += 1;
        self.totals.decided(scope, status);
        if status == RouteStatus::Routed && !linkedid.is_empty() && self.followed.len() < MAX_FOLLOWED {
            self.followed
                .insert(linkedid.to_string(), Followed { scope: scope.clone(), interface: interface.clone(), at: now });
        }
    }

    /// A ROUTED decision at `now` went to the agent of `rank` (1: the
    /// newest, or the owner when `owner`).
    pub fn routed_at(&mut self, now: i64, scope: &Arc<str>, rank: usize, owner: bool) {
        let counts = self.scopes.entry(scope.clone()).or_default().at(minute(now));
        counts.routed_rank[rank.clamp(1, RANKS.len()) - 1] += 1;
        if owner {
            counts.routed_owner += 1;
        }
    }

    /// A finished CDR of some call: answered by the interface it routed
    /// to, the call counts as answered (in the minute it was routed).
    pub fn call_record(&mut self, now: i64, linkedid: &str, dst_interface: Option<&str>, answered: bool) {
        let matches = self.followed.get(linkedid).is_some_and(|f| dst_interface == Some(&*f.interface));
        if !matches {
            return;
        }
        if let Some(call) = self.followed.remove(linkedid) {
            self.totals.resolved(&call.scope, answered);
            let counts = self.scopes.entry(call.scope.clone()).or_default().at(minute(call.at.min(now)));
            if answered {
                counts.answered += 1;
            } else {
                counts.missed += 1;
            }
        }
    }

    /// Routed calls never seen answered count as missed after a while;
    /// scopes without a decision for a day go. Looks at most once a minute.
    fn expire(&mut self, now: i64) {
        if now.saturating_sub(self.expired_at) < 60_000 && self.scopes.len() <= MAX_SCOPES {
            return;
        }
        self.expired_at = now;
        let late: Vec<String> =
            self.followed.iter().filter(|(_, f)| now - f.at > FOLLOW_MS).map(|(id, _)| id.clone()).collect();
        for id in late {
            if let Some(call) = self.followed.remove(&id) {
                self.totals.resolved(&call.scope, false);
                self.scopes.entry(call.scope.clone()).or_default().at(minute(call.at)).missed += 1;
            }
        }
        let oldest = minute(now) - MINUTES as i64;
        self.scopes.retain(|_, minutes| minutes.0.back().is_some_and(|(m, _)| *m > oldest));
        if self.scopes.len() > MAX_SCOPES {
            let mut last: Vec<(i64, Arc<str>)> = self
                .scopes
                .iter()
                .map(|(scope, minutes)| (minutes.0.back().map_or(0, |(m, _)| *m), scope.clone()))
                .collect();
            last.sort();
            for (_, scope) in last.iter().take(self.scopes.len() - MAX_SCOPES) {
                self.scopes.remove(scope);
            }
        }
    }

    /// Per scope (sorted; `""` is calls without one): the last hour and the
    /// last 24 hours.
    pub fn report(&mut self, now: i64) -> Vec<(Arc<str>, Counts, Counts)> {
        self.expired_at = i64::MIN;
        self.expire(now);
        let hour = minute(now) - 59;
        let day = minute(now) - (MINUTES as i64 - 1);
        let mut rows: Vec<_> = self
            .scopes
            .iter()
            .map(|(scope, minutes)| (scope.clone(), minutes.since(hour), minutes.since(day)))
            .collect();
        rows.retain(|(_, _, day)| day.total() > 0);
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// Calls followed now.
    pub fn following(&self) -> usize {
        self.followed.len()
    }
}

/// `sticky show stats` from a report.
pub fn render(rows: &[(Arc<str>, Counts, Counts)], following: usize) -> String {
    let mut out = String::from("STICKY_ROUTE decisions per scope (last hour / last 24 hours)\n");
    if rows.is_empty() {
        out.push_str("  no decisions in the last 24 hours\n");
    }
    for (scope, hour, day) in rows {
        let name = if scope.is_empty() { "(no scope)" } else { scope };
        let _ = writeln!(out, "Scope {name}");
        for (i, status) in STATUSES.iter().enumerate() {
            if day.decisions[i] > 0 {
                let label = format!("{}:", status.as_str());
                let _ = writeln!(out, "  {label:<23} {:>8} / {:>8}", hour.decisions[i], day.decisions[i]);
            }
        }
        let rate = |c: &Counts| {
            let resolved = c.answered + c.missed;
            if resolved == 0 {
                "-".to_string()
            } else {
                format!("{:.0}%", 100.0 * c.answered as f64 / resolved as f64)
            }
        };
        // Ranks are worth a line once an agent other than the newest was chosen.
        if day.routed_rank[1..].iter().sum::<u64>() > 0 {
            for (i, rank) in RANKS.iter().enumerate() {
                let label = format!("routed to rank {rank}:");
                let _ = writeln!(out, "  {label:<23} {:>8} / {:>8}", hour.routed_rank[i], day.routed_rank[i]);
            }
        }
        if day.routed_owner > 0 {
            let (h, d) = (hour.routed_owner, day.routed_owner);
            let _ = writeln!(out, "  {:<23} {h:>8} / {d:>8}", "routed to the owner:");
        }
        let _ = writeln!(out, "  {:<23} {:>8} / {:>8}", "answered by the agent:", hour.answered, day.answered);
        let _ = writeln!(out, "  {:<23} {:>8} / {:>8}", "success rate:", rate(hour), rate(day));
        let _ = writeln!(out, "  {:<23} {:>8} / {:>8}", "fallbacks:", hour.fallbacks(), day.fallbacks());
    }
    let _ = writeln!(out, "{following} routed call(s) still being followed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn decisions_and_outcomes_per_scope_and_period() {
        let mut stats = Stats::default();
        let (sales, support) = (Arc::from("sales"), Arc::from("support"));
        let agent: Arc<str> = Arc::from("PJSIP/102");
        let start = 1_800_000_000_000;
        stats.decided(start, &sales, RouteStatus::Routed, "call-1", &agent);
        stats.decided(start, &sales, RouteStatus::Routed, "call-2", &agent);
        stats.decided(start, &sales, RouteStatus::Busy, "call-3", &agent);
        stats.decided(start - 3 * 3600 * 1000, &support, RouteStatus::NoHistory, "call-0", &agent);
        // call-1: answered by its agent; call-2: a CDR of another agent, then
        // the sticky agent's leg not answered.
        stats.call_record(start + MINUTE, "call-1", Some("PJSIP/102"), true);
        stats.call_record(start + MINUTE, "call-2", Some("PJSIP/101"), true);
        assert_eq!(stats.following(), 1);
        stats.call_record(start + MINUTE, "call-2", Some("PJSIP/102"), false);
        let rows = stats.report(start + 2 * MINUTE);
        assert_eq!(rows.len(), 2);
        let (scope, hour, day) = &rows[0];
        assert_eq!(&**scope, "sales");
        assert_eq!(hour.decisions[index(RouteStatus::Routed)], 2);
        assert_eq!((hour.answered, hour.missed), (1, 1));
        assert_eq!(hour.fallbacks(), 2, "the busy call and the routed call nobody answered");
        assert_eq!(day, hour);
        let (_, hour, day) = &rows[1];
        assert_eq!((hour.total(), day.total()), (0, 1), "three hours ago: in the day, not the hour");
        let text = render(&rows, stats.following());
        assert!(text.contains("Scope sales") && text.contains("success rate") && text.contains("50%"), "{text}");
    }

    #[test]
    fn routed_calls_are_counted_by_rank_and_owner() {
        let mut stats = Stats::default();
        let (scope, agent): (Arc<str>, Arc<str>) = (Arc::from(""), Arc::from("PJSIP/102"));
        let start = 1_800_000_000_000;
        for (rank, owner) in [(1, true), (1, false), (2, false), (3, false), (7, false)] {
            stats.decided(start, &scope, RouteStatus::Routed, "", &agent);
            stats.routed_at(start, &scope, rank, owner);
        }
        let rows = stats.report(start);
        let (_, hour, _) = &rows[0];
        assert_eq!(hour.routed_rank, [2, 1, 2], "rank 7 counts as 3+");
        assert_eq!(hour.routed_owner, 1);
        let text = render(&rows, 0);
        assert!(text.contains("routed to rank 3+:") && text.contains("routed to the owner:"), "{text}");
    }

    #[test]
    fn scopes_are_bounded() {
        let mut stats = Stats::default();
        let none: Arc<str> = Arc::from("");
        let day = 86_400_000;
        for n in 0..MAX_SCOPES + 50 {
            stats.decided(day + n as i64, &Arc::from(format!("s{n}")), RouteStatus::NoHistory, "", &none);
        }
        assert!(stats.scopes.len() <= MAX_SCOPES + 1, "{}", stats.scopes.len());
        assert!(stats.scopes.contains_key(&Arc::from(format!("s{}", MAX_SCOPES + 49))), "the newest stays");
        // A day later, idle scopes are gone.
        stats.decided(3 * day, &none, RouteStatus::NoHistory, "", &none);
        assert_eq!(stats.report(3 * day).len(), 1);
        assert_eq!(stats.scopes.len(), 1);
    }

    #[test]
    fn unanswered_calls_expire_and_old_minutes_go() {
        let mut stats = Stats::default();
        let scope: Arc<str> = Arc::from("");
        let agent: Arc<str> = Arc::from("PJSIP/102");
        let start = 1_800_000_000_000;
        stats.decided(start, &scope, RouteStatus::Routed, "call-1", &agent);
        let rows = stats.report(start + FOLLOW_MS + MINUTE);
        assert_eq!(rows[0].2.missed, 1, "never seen answered");
        assert_eq!(stats.following(), 0);
        assert!(stats.report(start + 25 * 3600 * 1000).is_empty(), "older than a day");
    }
}

//! Account owners set by a CRM (`sticky assign`): the agent a client is
//! routed to first with option `a`, whoever took the client's last call.
//!
//! An assignment is written to the store at once (`sticky_owner`, one row per
//! number and scope, the newest change only) and kept in memory on every
//! server: read whole when the history starts, then followed by id every
//! `sync_interval` like the contacts. Unassigning writes a row without an
//! agent, so that other servers see the change; those rows go after a day.
//! Forgetting a client removes its owner everywhere with its contacts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lookup::{Away, LookupError};
use super::store::{Store, StoreError};
use super::{History, Shared};
use crate::routing::agent::{is_safe_agent_text, Agent};
use crate::routing::contact::is_node_name;
use crate::routing::number::NumberKey;
use crate::time::now_ms;

/// Owner rows read at a time.
pub const OWNERS_PER_READ: usize = 1000;

/// A page of owner rows: those usable, how many were read, and the
/// highest id read (a row no assignment could have written is skipped, and
/// the reading goes on past it).
#[derive(Debug, Default)]
pub struct OwnerPage {
    pub owners: Vec<(i64, Owner)>,
    pub scanned: usize,
    pub last_id: i64,
}

/// A number's owner in a scope (empty: every scope), or its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub key: NumberKey,
    pub scope: Arc<str>,
    /// `None`: unassigned.
    pub agent: Option<Agent>,
    /// When it was set (ms since the epoch).
    pub at: i64,
    /// The server it was set on.
    pub node: Arc<str>,
}

impl Owner {
    /// An owner row read back (`number_key, scope, agent_id,
    /// agent_interface, assigned_at, node`), checked again; `None` for a
    /// row no assignment could have written.
    pub fn from_row(fields: &[String]) -> Option<Owner> {
        let [number, scope, id, interface, at, node] = fields else {
            return None;
        };
        let key = NumberKey::from_stored(number)?;
        let scope = crate::routing::scope::parse(scope).ok()?.unwrap_or_else(|| Arc::from(""));
        let agent = match (id.is_empty(), interface.is_empty()) {
            (true, true) => None,
            _ if is_safe_agent_text(id) && is_safe_agent_text(interface) => {
                Some(Agent { id: Arc::from(id.as_str()), interface: Arc::from(interface.as_str()) })
            }
            _ => return None,
        };
        if !is_node_name(node) {
            return None;
        }
        Some(Owner { key, scope, agent, at: at.parse().ok()?, node: Arc::from(node.as_str()) })
    }
}

/// How long a removal is remembered (in memory and in the store), so that
/// an older assignment read late does not come back.
pub const REMOVAL_KEPT_MS: i64 = 86_400_000;

/// The owners this server knows, by number and scope.
#[derive(Debug, Default)]
pub struct Owners {
    by_number: HashMap<NumberKey, Vec<Owner>>,
    /// The highest `sticky_owner` id read here.
    pub seen: i64,
    /// Whether the whole table was read once (until then only the changes
    /// made here are known).
    pub loaded: bool,
    /// Raised when the store changes (a reload with another DSN): what a
    /// thread of the old store read or wrote is not applied any more.
    pub generation: u64,
}

impl Owners {
    /// Takes a change unless a newer one of the same number and scope is
    /// known already (two servers changing one owner at once: the later
    /// wins everywhere, whatever order they are read in).
    pub fn apply(&mut self, owner: Owner) {
        let owners = self.by_number.entry(owner.key.clone()).or_default();
        match owners.iter_mut().find(|known| known.scope == owner.scope) {
            Some(known) if known.at > owner.at => {}
            Some(known) => *known = owner,
            None => owners.push(owner),
        }
    }

    /// The owner of `key` in `scope`, else its owner in every scope.
    pub fn of(&self, key: &NumberKey, scope: Option<&str>) -> Option<Owner> {
        let owners = self.by_number.get(key)?;
        let in_scope = |wanted: &str| owners.iter().find(|o| &*o.scope == wanted && o.agent.is_some());
        scope.and_then(in_scope).or_else(|| in_scope("")).cloned()
    }

    /// Every owner of `key` (scopes in order).
    pub fn all_of(&self, key: &NumberKey) -> Vec<Owner> {
        let mut owners: Vec<Owner> =
            self.by_number.get(key).into_iter().flatten().filter(|o| o.agent.is_some()).cloned().collect();
        owners.sort_by(|a, b| a.scope.cmp(&b.scope));
        owners
    }

    /// A client forgotten at `at`: its owners set until then go.
    pub fn forget(&mut self, key: &NumberKey, at: i64) {
        if let Some(owners) = self.by_number.get_mut(key) {
            owners.retain(|owner| owner.at > at);
            if owners.is_empty() {
                self.by_number.remove(key);
            }
        }
    }

    /// Removals older than [`REMOVAL_KEPT_MS`] go.
    pub fn prune_removals(&mut self, now: i64) {
        self.by_number.retain(|_, owners| {
            owners.retain(|owner| owner.agent.is_some() || now - owner.at < REMOVAL_KEPT_MS);
            !owners.is_empty()
        });
    }

    /// Forgets every owner of the store it read them from, for another.
    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = Owners { generation, ..Owners::default() };
    }

    /// Numbers with an owner.
    pub fn owned_numbers(&self) -> usize {
        self.by_number.values().filter(|owners| owners.iter().any(|o| o.agent.is_some())).count()
    }
}

impl Shared {
    /// Reads the owner rows with an id above `from` (all of them the first
    /// time) and applies them, unless the store changed since `generation`
    /// or `stop` is raised; false if the store failed. Rows read again (the
    /// overlap) change nothing: the newest change of a number wins.
    pub(super) fn follow_owners(
        &self,
        store: &dyn Store,
        from: i64,
        generation: u64,
        stop: &AtomicBool,
        timeout: Duration,
    ) -> bool {
        let mut after = from;
        while !stop.load(Ordering::SeqCst) {
            let page = match store.owners_after(after, OWNERS_PER_READ, timeout) {
                Ok(page) => page,
                // Not counted against the breaker: owners are not what
                // calls wait for, and the layout heals on its own.
                Err(_) => return false,
            };
            let mut owners = self.owners.lock();
            if owners.generation != generation {
                return true;
            }
            for (_, owner) in page.owners {
                let forgotten = self.forgotten_at(&owner.key).is_some_and(|at| owner.at <= at);
                if self.trusted_parts(owner.at, owner.agent.as_ref()) && !forgotten {
                    owners.apply(owner);
                }
            }
            after = after.max(page.last_id);
            owners.seen = owners.seen.max(after);
            if page.scanned < OWNERS_PER_READ {
                owners.loaded = true;
                owners.prune_removals(now_ms());
                return true;
            }
        }
        false
    }
}

impl History {
    /// Sets (or, with no agent, removes) the owner of a number in a scope,
    /// in the store first and then here. An error leaves both as they were —
    /// unless the store answers after the deadline, when the change still
    /// lands (the caller is told it may have).
    pub fn assign(
        &self,
        key: &NumberKey,
        scope: Arc<str>,
        agent: Option<Agent>,
        away: Away,
    ) -> Result<(), LookupError> {
        let owner = Owner { key: key.clone(), scope, agent, at: now_ms(), node: self.shared.node() };
        let deadline = Instant::now() + self.settings().query_timeout.max(Duration::from_secs(2));
        let generation = self.shared.owners.lock().generation;
        let answer = self.ask(deadline, away, move |store, shared, timeout| {
            // Only a database out of reach counts against the breaker: one
            // that answered with an error (a table it may not make, a key
            // taken by a concurrent change) keeps lookups going.
            match store.set_owner(&owner, timeout) {
                Err(error @ StoreError::Unavailable(_)) => return Err(error),
                Err(error) => return Ok(Err(error)),
                Ok(()) => {}
            }
            let forgotten = shared.forgotten_at(&owner.key).is_some_and(|at| owner.at <= at);
            let mut owners = shared.owners.lock();
            if owners.generation == generation && !forgotten {
                owners.apply(owner);
            }
            Ok(Ok(()))
        });
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(LookupError::Unavailable(error.to_string())),
            Err(error) => Err(error),
        }
    }

    /// The owner of `key` in `scope` (else in every scope), from memory.
    pub fn owner_of(&self, key: &NumberKey, scope: Option<&str>) -> Option<Owner> {
        self.shared.owners.lock().of(key, scope)
    }

    /// Every owner of `key`, and whether the store's owners were read yet.
    pub fn owners_of(&self, key: &NumberKey) -> (Vec<Owner>, bool) {
        let owners = self.shared.owners.lock();
        (owners.all_of(key), owners.loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::here;
    use crate::history::store::memory::MemoryStore;
    use crate::history::Settings;
    use crate::routing::agent::AgentRule;

    fn server(node: &str, store: &Arc<MemoryStore>) -> History {
        let settings = Settings {
            window: Duration::from_secs(86_400),
            query_timeout: Duration::from_millis(300),
            pool_size: 2,
            cache_size: 100,
            sync_interval: Some(Duration::from_millis(50)),
            node: Arc::from(node),
            agents: AgentRule::default(),
            retention: None,
        };
        let dir = std::env::temp_dir().join(format!("sticky-owner-test-{}-{node}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        History::start(settings, store.clone(), &dir, 1 << 20).expect("started")
    }

    fn owner_id(history: &History, number: &str, scope: Option<&str>) -> Option<String> {
        history.owner_of(&NumberKey::from_stored(number).unwrap(), scope)?.agent.map(|a| a.id.to_string())
    }

    fn soon(check: impl Fn() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        check()
    }

    #[test]
    fn an_owner_set_on_one_server_is_followed_by_the_others_and_forgetting_removes_it() {
        let store = Arc::new(MemoryStore::default());
        let (one, two) = (server("one", &store), server("two", &store));
        let key = NumberKey::from_stored("9123456789").unwrap();
        let agent = |id: &str| Some(Agent { id: Arc::from(id), interface: Arc::from(format!("PJSIP/{id}")) });
        one.assign(&key, Arc::from(""), agent("102"), &here).expect("assigned");
        assert_eq!(owner_id(&one, "9123456789", None), Some("102".into()), "at once where it was set");
        assert!(soon(|| owner_id(&two, "9123456789", None).as_deref() == Some("102")), "the other follows");
        two.assign(&key, Arc::from(""), None, &here).expect("unassigned");
        assert!(soon(|| owner_id(&one, "9123456789", None).is_none()), "a removal is followed too");
        one.assign(&key, Arc::from("sales"), agent("103"), &here).expect("assigned");
        // A server started later reads the owners whole.
        let three = server("three", &store);
        assert!(soon(|| owner_id(&three, "9123456789", Some("sales")).as_deref() == Some("103")));
        assert_eq!(owner_id(&three, "9123456789", Some("support")), None, "no general owner any more");
        two.forget(&key).expect("forgotten");
        assert!(soon(|| owner_id(&one, "9123456789", Some("sales")).is_none()), "forgetting removes the owner");
        assert!(soon(|| owner_id(&three, "9123456789", Some("sales")).is_none()));
        assert_eq!(owner_id(&two, "9123456789", Some("sales")), None);
        // The database away: the change fails, and nothing changes here.
        store.down.store(true, Ordering::SeqCst);
        assert!(one.assign(&key, Arc::from(""), agent("101"), &here).is_err());
        assert_eq!(owner_id(&one, "9123456789", None), None);
        for history in [one, two, three] {
            history.stop();
        }
    }

    fn owner(key: &str, scope: &str, agent: Option<&str>, at: i64) -> Owner {
        Owner {
            key: NumberKey::from_stored(key).unwrap(),
            scope: Arc::from(scope),
            agent: agent.map(|id| Agent { id: Arc::from(id), interface: Arc::from(format!("PJSIP/{id}")) }),
            at,
            node: Arc::from("a"),
        }
    }

    fn id_of(owners: &Owners, key: &str, scope: Option<&str>) -> Option<String> {
        owners.of(&NumberKey::from_stored(key).unwrap(), scope).and_then(|o| o.agent).map(|a| a.id.to_string())
    }

    #[test]
    fn the_newest_change_wins_in_any_order() {
        let mut owners = Owners::default();
        owners.apply(owner("100", "", Some("101"), 10));
        owners.apply(owner("100", "", Some("102"), 20));
        owners.apply(owner("100", "", Some("103"), 15));
        assert_eq!(id_of(&owners, "100", None), Some("102".into()), "an older change read late loses");
        owners.apply(owner("100", "", None, 30));
        assert_eq!(id_of(&owners, "100", None), None, "unassigned");
        assert_eq!(owners.owned_numbers(), 0);
    }

    #[test]
    fn a_scoped_owner_comes_before_the_unscoped_one() {
        let mut owners = Owners::default();
        owners.apply(owner("100", "", Some("101"), 10));
        owners.apply(owner("100", "sales", Some("102"), 10));
        assert_eq!(id_of(&owners, "100", Some("sales")), Some("102".into()));
        assert_eq!(id_of(&owners, "100", Some("support")), Some("101".into()), "no owner in support: the general one");
        assert_eq!(id_of(&owners, "100", None), Some("101".into()));
        assert_eq!(owners.all_of(&NumberKey::from_stored("100").unwrap()).len(), 2);
        assert_eq!(owners.owned_numbers(), 1, "one number");
    }

    #[test]
    fn rows_read_back_are_checked_again() {
        let row = |fields: [&str; 6]| Owner::from_row(&fields.map(String::from));
        let good = row(["9123456789", "sales", "102", "PJSIP/102", "1700000000000", "pbx1"]).unwrap();
        assert_eq!(good.agent.map(|a| a.interface.to_string()), Some("PJSIP/102".into()));
        assert_eq!(row(["9123456789", "", "", "", "5", "pbx1"]).unwrap().agent, None, "a removal");
        for bad in [
            ["91234x", "", "102", "PJSIP/102", "5", "a"],
            ["9123456789", "sa;les", "102", "PJSIP/102", "5", "a"],
            ["9123456789", "", "102", "PJSIP/102&PJSIP/103", "5", "a"],
            ["9123456789", "", "", "PJSIP/102", "5", "a"],
            ["9123456789", "", "102", "PJSIP/102", "soon", "a"],
            ["9123456789", "", "102", "PJSIP/102", "5", "a\nb"],
        ] {
            assert!(row(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn forgetting_removes_the_owners_set_before() {
        let mut owners = Owners::default();
        owners.apply(owner("100", "", Some("101"), 10));
        owners.apply(owner("100", "sales", Some("102"), 30));
        owners.forget(&NumberKey::from_stored("100").unwrap(), 20);
        assert_eq!(id_of(&owners, "100", None), None);
        assert_eq!(id_of(&owners, "100", Some("sales")), Some("102".into()), "set after the forgetting: kept");
    }
}

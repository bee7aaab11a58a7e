//! The typed query `Registry.select/2` and `count_select/2` run: Elixir's match spec
//! `[{{key, pid, value}, guards, body}]` cut down to what registry users write. A [`Query`] is
//! a conjunction of [`Guard`]s over an entry `(key, pid, value)`; a selected entry comes
//! back whole, as a [`Selected`].
//!
//! ```
//! use naming_strategies::{Guard, Query};
//! use naming_strategies::runtime::Name;
//!
//! // `[{{:"$1", :_, :"$3"}, [{:>, :"$3", 10}], [...]}]` on the key `"jobs"`:
//! let q: Query<u32> = Query::all().key(Name::text("jobs")).value_where(|v| *v > 10);
//! assert!(q.guards().len() == 2);
//! ```

use process_runtime::{Name, Pid};

/// A condition an entry must meet.
pub enum Guard<V> {
    /// The key equals this one (lets the registry read one partition, not walk them all).
    Key(Name),
    /// The holder is this process.
    Pid(Pid),
    /// The key satisfies this predicate.
    KeyWhere(Box<dyn Fn(&Name) -> bool + Send + Sync>),
    /// The value satisfies this predicate (Elixir's value pattern plus guards).
    ValueWhere(Box<dyn Fn(&V) -> bool + Send + Sync>),
}

impl<V> Guard<V> {
    fn holds(&self, key: &Name, pid: Pid, value: &V) -> bool {
        match self {
            Guard::Key(k) => k == key,
            Guard::Pid(p) => *p == pid,
            Guard::KeyWhere(f) => f(key),
            Guard::ValueWhere(f) => f(value),
        }
    }
}

/// Entries meeting every guard; no guard selects every entry.
pub struct Query<V> {
    guards: Vec<Guard<V>>,
}

impl<V> Default for Query<V> {
    fn default() -> Self {
        Query::all()
    }
}

impl<V> Query<V> {
    /// Every entry (no guard yet).
    pub fn all() -> Self {
        Query { guards: Vec::new() }
    }

    /// Adds a guard.
    pub fn guard(mut self, guard: Guard<V>) -> Self {
        self.guards.push(guard);
        self
    }

    /// Only entries under `key`.
    pub fn key(self, key: Name) -> Self {
        self.guard(Guard::Key(key))
    }

    /// Only entries held by `pid`.
    pub fn pid(self, pid: Pid) -> Self {
        self.guard(Guard::Pid(pid))
    }

    /// Only entries whose key satisfies `f`.
    pub fn key_where(self, f: impl Fn(&Name) -> bool + Send + Sync + 'static) -> Self {
        self.guard(Guard::KeyWhere(Box::new(f)))
    }

    /// Only entries whose value satisfies `f`.
    pub fn value_where(self, f: impl Fn(&V) -> bool + Send + Sync + 'static) -> Self {
        self.guard(Guard::ValueWhere(Box::new(f)))
    }

    /// The guards, in the order added.
    pub fn guards(&self) -> &[Guard<V>] {
        &self.guards
    }

    /// Whether the entry `(key, pid, value)` meets every guard.
    pub fn matches(&self, key: &Name, pid: Pid, value: &V) -> bool {
        self.guards.iter().all(|g| g.holds(key, pid, value))
    }

    /// The key a [`Guard::Key`] pins, if any: the query then reads that key only.
    pub(crate) fn bound_key(&self) -> Option<&Name> {
        self.guards.iter().find_map(|g| match g {
            Guard::Key(k) => Some(k),
            _ => None,
        })
    }
}

/// One entry a `select` returned: `{key, pid, value}` (the process handle in place of the pid).
#[derive(Clone)]
pub struct Selected<V> {
    /// The key.
    pub key: Name,
    /// The process holding it.
    pub process: process_runtime::ProcessRef,
    /// Its value.
    pub value: V,
}

impl<V: std::fmt::Debug> std::fmt::Debug for Selected<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selected")
            .field("key", &self.key)
            .field("pid", &self.process.pid())
            .field("value", &self.value)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u64) -> Pid {
        Pid::new(0, n)
    }

    #[test]
    fn every_guard_must_hold() {
        let q: Query<u32> = Query::all()
            .key_where(|k| matches!(k, Name::Id(n) if *n < 10))
            .value_where(|v| v % 2 == 0);
        assert!(q.matches(&Name::Id(3), pid(1), &4));
        assert!(!q.matches(&Name::Id(30), pid(1), &4));
        assert!(!q.matches(&Name::Id(3), pid(1), &5));
        assert!(Query::<u32>::all().matches(&Name::text("x"), pid(2), &1));
    }

    #[test]
    fn key_and_pid_guards() {
        let q: Query<()> = Query::all().key(Name::Id(1)).pid(pid(7));
        assert_eq!(q.bound_key(), Some(&Name::Id(1)));
        assert!(q.matches(&Name::Id(1), pid(7), &()));
        assert!(!q.matches(&Name::Id(1), pid(8), &()));
        assert!(!q.matches(&Name::Id(2), pid(7), &()));
        assert_eq!(Query::<()>::all().pid(pid(7)).bound_key(), None);
    }
}

//! Concurrent tables that map unique names to processes: the storage a [`Registry`](crate::Registry) sits on.

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use process_runtime::{Name, Pid, ProcessRef};

/// The hasher every table in the suite uses, so storage variants differ only in the map.
pub type FastHasher = foldhash::fast::RandomState;

/// A concurrent name -> process table with unique keys.
///
/// One small trait, so that each storage crate is one adapter and the registry logic is
/// written once.
pub trait NameTable: Send + Sync + 'static {
    /// Short label used in results, e.g. `dashmap`.
    const LABEL: &'static str;

    /// An empty table sized for about `capacity` names.
    fn with_capacity(capacity: usize) -> Self;

    /// The process under `name`.
    fn get(&self, name: &Name) -> Option<ProcessRef>;

    /// Inserts `process` under `name` unless the name is taken; `Err(holder)` if it is.
    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef>;

    /// Removes `name` if `owner` holds it and returns the removed process;
    /// `Err(Some(holder))` if someone else holds it, `Err(None)` if nobody does.
    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>>;

    /// How many names the table holds.
    fn len(&self) -> usize;

    /// Whether the table is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Storage over [`dashmap::DashMap`] (sharded `RwLock`s around hashbrown tables).
pub struct DashMapTable(DashMap<Name, ProcessRef, FastHasher>);

impl NameTable for DashMapTable {
    const LABEL: &'static str = "dashmap";

    fn with_capacity(capacity: usize) -> Self {
        DashMapTable(DashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.get(name).map(|p| p.value().clone())
    }

    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef> {
        match self.0.entry(name) {
            Entry::Occupied(held) => Err(held.get().clone()),
            Entry::Vacant(free) => {
                free.insert(process);
                Ok(())
            }
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        match self.0.remove_if(name, |_, p| p.pid() == owner) {
            Some((_, p)) => Ok(p),
            None => Err(self.0.get(name).map(|p| p.pid())),
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

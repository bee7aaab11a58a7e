//! Dynamic atoms: `Process.register(self(), :"session_#{id}")`, names made into atoms at
//! run time, which are never freed.
//!
//! **BEAM original**: `String.to_atom/1` (or `:"session_#{id}"`) interns the text in the
//! VM's atom table and the registered-name table maps that atom to the pid. The name is
//! released when the process exits, but the atom is not: atoms are never garbage-collected,
//! and past the atom limit (1,048,576 by default) the whole VM stops with `system_limit`.
//! Every `send(:"session_#{id}", msg)` builds the text and looks it up in the atom table,
//! creating the atom if it is new: a lookup of a name nobody registered leaks too.
//!
//! **Here**: an interner per instance (text -> atom id, never shrinks, with a configurable
//! limit defaulting to [`BEAM_ATOM_LIMIT`]) in front of a registered-name table keyed by
//! atom id (`Name::Id(atom)`, a [`DashMapTable`]), whose entries are released in the
//! process's exit path ([`ProcessRef::hold_name`]) as in [`Registry`](crate::Registry). Past
//! the limit every *new* name is refused with
//! `NamingError::SystemLimit { what: "atoms", limit }` instead of stopping the node; names
//! already interned keep working. [`atom_count`](InternedNames::atom_count) and
//! [`atom_bytes`](InternedNames::atom_bytes) expose the leak. The atom is made from the
//! name's unambiguous text ([`Name::encoded`]: a kind tag, then the content), so names of
//! different kinds that print alike (`Name::text("session_1")` and
//! `Name::tagged("session", 1)`, `Name::Id(5)` and `Name::text("5")`) stay different names,
//! as in every other backend: they are different terms on the BEAM too.
//!
//! **Costs**: a lookup formats the name into a reused per-thread buffer, probes the atom
//! table, then the registry; memory grows by one atom per distinct name ever seen and never
//! comes back. **Choose it** only for a few instances drawn from a small, finite set of
//! names (the advice of seed 003, Saša Jurić's talk "Discovering processes"); never for names built from user input or ids that keep
//! coming. [`lookup_existing`](InternedNames::lookup_existing) is the
//! `String.to_existing_atom` way that does not intern.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::storage::{DashMapTable, FastHasher, NameTable};

/// The BEAM's default atom table limit (`+t`): 1,048,576 atoms.
pub const BEAM_ATOM_LIMIT: usize = 1_048_576;

/// An interned name: its index in the atom table, never reused or freed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(u64);

impl Atom {
    /// The atom's index in its table.
    pub fn id(self) -> u64 {
        self.0
    }

    fn key(self) -> Name {
        Name::Id(self.0)
    }
}

struct AtomTable {
    atoms: DashMap<Box<str>, u64, FastHasher>,
    count: AtomicUsize,
    bytes: AtomicUsize,
    limit: usize,
}

/// Bytes an atom costs beyond its text: the stored key and id.
const PER_ATOM_OVERHEAD: usize = std::mem::size_of::<(Box<str>, u64)>();

impl AtomTable {
    fn existing(&self, text: &str) -> Option<Atom> {
        self.atoms.get(text).map(|id| Atom(*id))
    }

    fn intern(&self, text: &str) -> Result<Atom, NamingError> {
        if let Some(atom) = self.existing(text) {
            return Ok(atom);
        }
        match self.atoms.entry(Box::from(text)) {
            Entry::Occupied(held) => Ok(Atom(*held.get())),
            Entry::Vacant(free) => {
                // Reserve an id under the limit; the shard lock keeps this text unique.
                let id = self
                    .count
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < self.limit).then_some(n + 1)
                    })
                    .map_err(|_| NamingError::SystemLimit {
                        what: "atoms",
                        limit: self.limit,
                    })?;
                self.bytes
                    .fetch_add(text.len() + PER_ATOM_OVERHEAD, Ordering::Relaxed);
                free.insert(id as u64);
                Ok(Atom(id as u64))
            }
        }
    }
}

thread_local! {
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` on the atom text of `name`, its unambiguous [`Name::encoded`] form (a kind tag,
/// then the content), without allocating for it: `Id(5)` and `Text("5")` print alike but
/// are different terms, so they must be different atoms.
fn with_text<R>(name: &Name, f: impl FnOnce(&str) -> R) -> R {
    TEXT.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let _ = name.write_encoded(&mut *buf);
            f(&buf)
        }
        Err(_) => f(&name.encoded()),
    })
}

/// The registered-name table: atom -> process, released on exit.
struct Registered(DashMapTable);

impl ExitObserver for Registered {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        let _ = self.0.remove_if_owner(name, pid);
    }

    /// A table write: no process's lock.
    fn releases_under_process_lock(&self) -> bool {
        true
    }
}

/// A registered-name table keyed by atoms interned from the names' unambiguous text; atoms
/// are never freed and their number is limited.
#[derive(Clone)]
pub struct InternedNames {
    atoms: Arc<AtomTable>,
    registered: Arc<Registered>,
    observer: Arc<dyn ExitObserver>,
}

impl Default for InternedNames {
    fn default() -> Self {
        Self::new()
    }
}

impl InternedNames {
    /// An empty atom table with the BEAM's limit.
    pub fn new() -> Self {
        Self::with_limit(BEAM_ATOM_LIMIT)
    }

    /// An empty atom table that holds at most `limit` atoms.
    pub fn with_limit(limit: usize) -> Self {
        let registered = Arc::new(Registered(DashMapTable::with_capacity(0)));
        let observer: Arc<dyn ExitObserver> = registered.clone();
        InternedNames {
            atoms: Arc::new(AtomTable {
                atoms: DashMap::with_hasher(FastHasher::default()),
                count: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                limit,
            }),
            registered,
            observer,
        }
    }

    #[inline]
    fn lookup_atom(&self, atom: Atom) -> Option<ProcessRef> {
        self.registered
            .0
            .get(&atom.key())
            .filter(ProcessRef::is_alive)
    }

    /// `String.to_atom(text)` of the name's unambiguous text: its atom, created if new;
    /// `SystemLimit` if it is new and the table is full.
    pub fn intern(&self, name: &Name) -> Result<Atom, NamingError> {
        with_text(name, |text| self.atoms.intern(text))
    }

    /// `String.to_existing_atom`: the name's atom if it was ever interned; never creates one.
    pub fn existing(&self, name: &Name) -> Option<Atom> {
        with_text(name, |text| self.atoms.existing(text))
    }

    /// How many atoms the table holds; it never goes down.
    pub fn atom_count(&self) -> usize {
        self.atoms.count.load(Ordering::Acquire)
    }

    /// Bytes the atoms hold: their text (kind tag included) plus the stored key and id of
    /// each (the hash table's
    /// own spare capacity not counted). It never goes down.
    pub fn atom_bytes(&self) -> usize {
        self.atoms.bytes.load(Ordering::Relaxed)
    }

    /// The most atoms the table will hold.
    pub fn atom_limit(&self) -> usize {
        self.atoms.limit
    }

    /// `Process.register(process, String.to_atom(name))`: interns the name (`SystemLimit`
    /// if it is new and the table is full), then registers like any unique registry.
    pub fn register_now(&self, name: &Name, process: &ProcessRef) -> Result<(), NamingError> {
        let key = self.intern(name)?.key();
        let table = &self.registered.0;
        claim_unique(
            process,
            &self.observer,
            &key,
            0,
            || table.insert_new(key.clone(), process.clone()),
            |stale| {
                let _ = table.remove_if_owner(&key, stale);
            },
        )
    }

    /// `Process.whereis(String.to_atom(name))`: interns the name as the BEAM would (a miss
    /// leaks an atom too); `None` if nobody holds it or the atom table is full.
    pub fn lookup(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup_atom(self.intern(name).ok()?)
    }

    /// `Process.whereis(String.to_existing_atom(name))`: never interns.
    pub fn lookup_existing(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup_atom(self.existing(name)?)
    }

    /// `Process.unregister(name)` by its owner, the calling process (`owner` is its own
    /// context); never interns (`NotRegistered` if the name was never an atom).
    pub fn unregister_now(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let key = self.existing(name).ok_or(NamingError::NotRegistered)?.key();
        match self.registered.0.remove_if_owner(&key, owner.pid()) {
            Ok(process) => {
                process.release_name(&self.observer, &key, 0);
                Ok(())
            }
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    /// How many names are registered now (atoms stay after their names are released).
    pub fn registered(&self) -> usize {
        self.registered.0.len()
    }
}

impl SyncNaming for InternedNames {
    const CAPABILITIES: Capabilities = Capabilities {
        dynamic_names: true,
        bounded_memory: false,
        duplicate_keys: false,
        await_name: false,
        register: true,
    };

    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.register_now(&name, process)
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        self.unregister_now(name, owner)
    }

    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.registered()
    }

    /// `atom_count` and `atom_bytes`: the atoms made so far, never freed.
    fn gauges_sync(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("atom_count", self.atom_count() as f64),
            ("atom_bytes", self.atom_bytes() as f64),
        ]
    }
}

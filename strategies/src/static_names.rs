//! Static names: `Process.register(self(), :db_worker)` for a fixed set of names known up
//! front, plus the `:"db_worker_#{n}"` pool of seed 003 (Saša Jurić's talk "Discovering
//! processes").
//!
//! **BEAM original**: the VM's registered-name table. A service registers itself under an
//! atom written in the code (`name: :db_worker`), clients `send(:db_worker, msg)` or
//! `GenServer.call(:db_worker, ...)`, and the name is released when the process exits. The
//! set of names is finite because the atoms are literals in the source.
//!
//! **Here**: the declared names are turned into slot numbers once (a read-only hash index),
//! and each slot is an [`ArcSwapOption`]: a lookup is one hash probe to find the slot and
//! one wait-free atomic load of it, no lock word written; with a [`StaticSlot`] resolved
//! beforehand (the analogue of an atom literal compiled into the caller) it is the load
//! alone. Writers serialise per slot on a small mutex. A name outside the declared set is a
//! typed [`NamingError::Undeclared`]. Names are attached with [`ProcessRef::hold_name`], so a
//! process's exit frees its slot.
//!
//! **Costs**: memory fixed by the declared set (one cache-line-padded slot each); the
//! cheapest lookup in the suite. **Choose it** for a handful of singleton services
//! (`:db_worker`, `:cache`) or a fixed pool ([`WorkerPool`]); not for per-user or
//! per-session names, which a fixed set cannot hold.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::storage::FastHasher;

/// One declared name's slot, on its own cache line so that lookups of neighbouring names
/// never contend.
#[repr(align(128))]
struct Slot {
    current: ArcSwapOption<ProcessRef>,
    write: Mutex<()>,
}

impl Slot {
    #[inline]
    fn load(&self) -> Option<ProcessRef> {
        self.current
            .load()
            .as_deref()
            .filter(|p| p.is_alive())
            .cloned()
    }

    fn insert_new(&self, process: &ProcessRef) -> Result<(), ProcessRef> {
        let _w = self.write.lock();
        if let Some(holder) = self.current.load().as_deref() {
            return Err(holder.clone());
        }
        self.current.store(Some(Arc::new(process.clone())));
        Ok(())
    }

    fn remove_if_owner(&self, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        let _w = self.write.lock();
        let held = self.current.load_full();
        match held {
            Some(p) if p.pid() == owner => {
                self.current.store(None);
                Ok((*p).clone())
            }
            Some(p) => Err(Some(p.pid())),
            None => Err(None),
        }
    }
}

struct Table {
    index: HashMap<Name, u32, FastHasher>,
    names: Box<[Name]>,
    slots: Box<[Slot]>,
}

impl Table {
    #[inline]
    fn slot_of(&self, name: &Name) -> Option<usize> {
        self.index.get(name).map(|&i| i as usize)
    }
}

impl ExitObserver for Table {
    fn process_exited(&self, pid: Pid, _name: &Name, tag: u32) {
        // The tag is the slot number, so the exit path does not hash.
        if let Some(slot) = self.slots.get(tag as usize) {
            let _ = slot.remove_if_owner(pid);
        }
    }

    /// A slot write under the slot's own lock, which registration takes under the
    /// process's lock too: no process's lock.
    fn releases_under_process_lock(&self) -> bool {
        true
    }
}

/// A resolved declared name: its slot in one [`StaticNames`] table, read without hashing.
///
/// Only meaningful for the table that resolved it; used with another it reads whatever
/// that table has in the same slot, or nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaticSlot(u32);

/// A registered-name table for a fixed set of names declared at construction.
#[derive(Clone)]
pub struct StaticNames {
    table: Arc<Table>,
    observer: Arc<dyn ExitObserver>,
}

impl StaticNames {
    /// A table for exactly `declared` (duplicates are merged). At most `u32::MAX` names are
    /// kept; any beyond are treated as undeclared.
    pub fn new(declared: impl IntoIterator<Item = Name>) -> Self {
        let mut index = HashMap::with_hasher(FastHasher::default());
        let mut names = Vec::new();
        for name in declared {
            let Ok(i) = u32::try_from(names.len()) else {
                break;
            };
            if let std::collections::hash_map::Entry::Vacant(free) = index.entry(name.clone()) {
                free.insert(i);
                names.push(name);
            }
        }
        index.shrink_to_fit();
        let slots = names
            .iter()
            .map(|_| Slot {
                current: ArcSwapOption::empty(),
                write: Mutex::new(()),
            })
            .collect();
        let table = Arc::new(Table {
            index,
            names: names.into_boxed_slice(),
            slots,
        });
        let observer: Arc<dyn ExitObserver> = table.clone();
        StaticNames { table, observer }
    }

    /// The declared names, in declaration order.
    pub fn declared(&self) -> &[Name] {
        &self.table.names
    }

    /// Whether `name` is declared.
    pub fn is_declared(&self, name: &Name) -> bool {
        self.table.index.contains_key(name)
    }

    /// Resolves a declared name to its slot once, for [`whereis_slot`](Self::whereis_slot).
    pub fn slot(&self, name: &Name) -> Result<StaticSlot, NamingError> {
        match self.table.slot_of(name) {
            Some(i) => Ok(StaticSlot(i as u32)),
            None => Err(NamingError::Undeclared(name.clone())),
        }
    }

    /// The live process in a resolved slot: one atomic load.
    #[inline]
    pub fn whereis_slot(&self, slot: StaticSlot) -> Option<ProcessRef> {
        self.table.slots.get(slot.0 as usize)?.load()
    }

    /// The live process registered under `name`: one hash probe and one atomic load.
    #[inline]
    pub fn lookup(&self, name: &Name) -> Option<ProcessRef> {
        self.table.slots[self.table.slot_of(name)?].load()
    }

    /// `Process.register(process, name)`: `Undeclared` outside the declared set,
    /// `AlreadyRegistered(owner)` if a live process holds it, `NoProc` if `process` is dead.
    pub fn register_now(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let Some(i) = self.table.slot_of(&name) else {
            return Err(NamingError::Undeclared(name));
        };
        let slot = &self.table.slots[i];
        claim_unique(
            process,
            &self.observer,
            &name,
            i as u32,
            || slot.insert_new(process),
            |stale| {
                let _ = slot.remove_if_owner(stale);
            },
        )
    }

    /// `Process.unregister(name)` by its owner, the calling process (`owner` is its own
    /// context).
    pub fn unregister_now(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let Some(i) = self.table.slot_of(name) else {
            return Err(NamingError::Undeclared(name.clone()));
        };
        match self.table.slots[i].remove_if_owner(owner.pid()) {
            Ok(process) => {
                process.release_name(&self.observer, name, i as u32);
                Ok(())
            }
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    /// How many declared names are held now (`Process.registered/0`, counted).
    pub fn count(&self) -> usize {
        self.table
            .slots
            .iter()
            .filter(|s| s.current.load().is_some())
            .count()
    }
}

impl SyncNaming for StaticNames {
    const CAPABILITIES: Capabilities = Capabilities {
        dynamic_names: false,
        bounded_memory: true,
        duplicate_keys: false,
        await_name: false,
        register: true,
    };

    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.register_now(name, process)
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        self.unregister_now(name, owner)
    }

    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.count()
    }
}

/// A fixed pool of statically named workers, `db_worker_1 ..= db_worker_N`, and the
/// seed's `pick_worker`: `GenServer.call(:"db_worker_#{pick_worker(key)}", ...)`.
#[derive(Clone, Debug)]
pub struct WorkerPool {
    names: Box<[Name]>,
    hasher: foldhash::fast::FixedState,
}

impl WorkerPool {
    /// Names `{prefix}_1 ..= {prefix}_{size}` (at least one worker).
    pub fn new(prefix: &str, size: usize) -> Self {
        let names = (1..=size.max(1))
            .map(|n| Name::text(&format!("{prefix}_{n}")))
            .collect();
        WorkerPool {
            names,
            hasher: foldhash::fast::FixedState::with_seed(0x9001),
        }
    }

    /// The seed's pool: `db_worker_1 ..= db_worker_{size}`.
    pub fn db_workers(size: usize) -> Self {
        Self::new("db_worker", size)
    }

    /// The workers' names, to declare in a [`StaticNames`] and to start the workers under.
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// How many workers the pool has.
    pub fn size(&self) -> usize {
        self.names.len()
    }

    /// The worker for `key`: the same key always picks the same worker.
    pub fn pick_worker<K: Hash + ?Sized>(&self, key: &K) -> Name {
        let i = (self.hasher.hash_one(key) % self.names.len() as u64) as usize;
        self.names[i].clone()
    }
}

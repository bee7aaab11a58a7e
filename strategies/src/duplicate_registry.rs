//! Duplicate keys: Elixir's `Registry` with `keys: :duplicate`, the dispatch / pub-sub use.
//!
//! **BEAM original**: `{Registry, keys: :duplicate, name: My.PubSub}`; a process joins a
//! topic with `Registry.register(My.PubSub, topic, value)` (any number of processes per key,
//! and the same process more than once), `Registry.lookup/2` lists `{pid, value}` entries,
//! `Registry.dispatch/3` runs a function over them (usually `send` to each), and a
//! process's entries vanish when it exits. Partitioning is by key here (Elixir's
//! `{:duplicate, :key}`), so a lookup or dispatch touches one partition.
//!
//! **Here**: per key, a bag of holders indexed by pid (`pid -> values`), so that a leave or
//! an exit removes its entries in `O(1)` however many subscribers the key has (the
//! `duplicate_bag` scan of Elixir PR 15304 does not happen). Storage is chosen by a type
//! parameter, the same marker types as [`Registry`](crate::Registry)'s
//! ([`DashMapTable`], [`FlurryTable`], [`SccTable`], [`RwLockTable`],
//! [`PapayaTable`](crate::PapayaTable)), through one small trait, [`DuplicateTable`]. Every
//! entry is attached to its process with [`ProcessRef::hold_name`], so the process's exit
//! path removes it.
//!
//! **Decisions**: a process may register the same key several times (as in Elixir); each
//! registration is one entry, [`lookup`](DuplicateRegistry::lookup) lists each, and
//! [`dispatch`](DuplicateRegistry::dispatch) sends once per entry.
//! [`unregister`](DuplicateRegistry::unregister) removes all of the caller's entries under
//! the key and none of anyone else's. Through the [`Naming`] trait the registry is used
//! unique-style (`{:via, ...}`): `register` claims a key only while nobody holds it, which
//! Elixir refuses outright for duplicate registries; it lets the conformance suite hold this
//! backend to the same cases.
//!
//! **Costs**: a register is one table write plus the per-process hold lock; a dispatch is
//! one read-locked walk of the key's bag with one mailbox send per entry (no copy of the
//! entry list); `count` walks every key. **Choose it** for topics, events and worker groups:
//! many processes under one key, messages fanned out to all of them.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;

use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::storage::{DashMapTable, DuplicateStorage, DuplicateTable, EntryValue};

struct DupPartitions<Tb> {
    tables: Box<[Tb]>,
    hasher: foldhash::fast::FixedState,
}

impl<Tb> DupPartitions<Tb> {
    #[inline]
    fn of(&self, key: &Name) -> &Tb {
        if self.tables.len() == 1 {
            &self.tables[0]
        } else {
            let h = self.hasher.hash_one(key);
            &self.tables[(h % self.tables.len() as u64) as usize]
        }
    }
}

/// Entries are attached with tag 0; an exit removes one entry per attached registration.
impl<V: EntryValue, Tb: DuplicateTable<V>> ExitObserver for DupPartitionsOf<V, Tb> {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        self.0.of(name).remove_one(name, pid);
    }
}

/// The observer with its value type pinned (a table type may serve several value types).
struct DupPartitionsOf<V, Tb>(Arc<DupPartitions<Tb>>, std::marker::PhantomData<fn() -> V>);

/// How a [`DuplicateRegistry::dispatch`] went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Entries whose process the message was queued to.
    pub delivered: usize,
    /// Entries whose process had exited (its entry not yet removed, or it died mid-send).
    pub no_proc: usize,
}

/// An Elixir-style registry with duplicate keys over the storage `T`, storing a value `V`
/// with each entry.
pub struct DuplicateRegistry<T: DuplicateStorage = DashMapTable, V: EntryValue = ()> {
    partitions: Arc<DupPartitions<T::Table<V>>>,
    observer: Arc<dyn ExitObserver>,
}

impl<T: DuplicateStorage, V: EntryValue> Clone for DuplicateRegistry<T, V> {
    fn clone(&self) -> Self {
        DuplicateRegistry {
            partitions: Arc::clone(&self.partitions),
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<T: DuplicateStorage, V: EntryValue> Default for DuplicateRegistry<T, V> {
    fn default() -> Self {
        Self::new(1)
    }
}

impl<T: DuplicateStorage, V: EntryValue> DuplicateRegistry<T, V> {
    /// A registry with `partitions` tables (at least one), keys spread by hash.
    pub fn new(partitions: usize) -> Self {
        Self::with_capacity(partitions, 0)
    }

    /// A registry sized for about `capacity` keys in all.
    pub fn with_capacity(partitions: usize, capacity: usize) -> Self {
        let n = partitions.max(1);
        let tables = (0..n)
            .map(|_| <T::Table<V> as DuplicateTable<V>>::with_capacity(capacity / n))
            .collect();
        let partitions = Arc::new(DupPartitions {
            tables,
            hasher: foldhash::fast::FixedState::with_seed(0xD0B1E),
        });
        let observer: Arc<dyn ExitObserver> = Arc::new(DupPartitionsOf::<V, _>(
            partitions.clone(),
            std::marker::PhantomData,
        ));
        DuplicateRegistry {
            partitions,
            observer,
        }
    }

    /// How many partitions the registry has.
    pub fn partition_count(&self) -> usize {
        self.partitions.tables.len()
    }

    /// Adds an entry `(process, value)` under `key` (`Registry.register/3`). Other holders
    /// of the key are no obstacle, nor is an earlier entry of the same process.
    ///
    /// `NoProc` if `process` has exited. The entry is removed when the process exits.
    pub fn register(&self, key: Name, process: &ProcessRef, value: V) -> Result<(), NamingError> {
        let table = self.partitions.of(&key);
        process
            .hold_name(&self.observer, key, 0, |k| {
                table.insert(k.clone(), process.clone(), value);
                Ok::<(), ()>(())
            })
            .map_err(|_| NamingError::NoProc)
    }

    /// Adds an entry only while nobody holds `key`: the unique-style registration the
    /// [`Naming`](crate::Naming) impl uses. `AlreadyRegistered(holder)` if a live process holds it.
    pub fn register_unique(
        &self,
        key: Name,
        process: &ProcessRef,
        value: V,
    ) -> Result<(), NamingError> {
        let table = self.partitions.of(&key);
        claim_unique(
            process,
            &self.observer,
            &key,
            0,
            || table.insert_if_vacant(key.clone(), process.clone(), value.clone()),
            |stale| {
                let _ = table.remove_holder(&key, stale);
            },
        )
    }

    /// The live entries under `key`, one per registration (`Registry.lookup/2`).
    pub fn lookup(&self, key: &Name) -> Vec<(ProcessRef, V)> {
        let mut out = Vec::new();
        self.partitions.of(key).for_each(key, |p, v| {
            if p.is_alive() {
                out.push((p.clone(), v.clone()));
            }
        });
        out
    }

    /// A live process holding `key`, if any (for unique-style use).
    pub fn first(&self, key: &Name) -> Option<ProcessRef> {
        let mut found = None;
        self.partitions.of(key).for_each(key, |p, _| {
            if found.is_none() && p.is_alive() {
                found = Some(p.clone());
            }
        });
        found
    }

    /// Removes all of the calling process's entries under `key` (`Registry.unregister/2`;
    /// `owner` is its own context) and returns how many there were. Others' entries are
    /// never touched: `NotOwner { owner: holder }` if only others hold the key,
    /// `NotRegistered` if nobody does.
    pub fn unregister(&self, key: &Name, owner: &Ctx) -> Result<usize, NamingError> {
        match self.partitions.of(key).remove_holder(key, owner.pid()) {
            Ok((process, n)) => {
                for _ in 0..n {
                    process.release_name(&self.observer, key, 0);
                }
                Ok(n)
            }
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    /// Sends a clone of `msg` to every entry under `key` (`Registry.dispatch/3` with a
    /// `send` per entry) and says how many got it and how many had exited.
    ///
    /// Sends happen while the key's bag is read-locked (a mailbox send never blocks), so a
    /// dispatch copies no entry list.
    pub fn dispatch<M: Any + Send + Clone>(&self, key: &Name, msg: M) -> Dispatched {
        let mut report = Dispatched::default();
        self.partitions.of(key).for_each(key, |p, _| {
            if p.is_alive() && p.send(msg.clone()).is_ok() {
                report.delivered += 1;
            } else {
                report.no_proc += 1;
            }
        });
        report
    }

    /// How many entries `key` has, dead holders not yet removed included.
    pub fn count_key(&self, key: &Name) -> usize {
        self.partitions.of(key).key_count(key)
    }

    /// How many entries the registry has in all (`Registry.count/1`; walks every key).
    pub fn count(&self) -> usize {
        self.partitions.tables.iter().map(|t| t.len()).sum()
    }
}

impl<T: DuplicateStorage, V: EntryValue + Default> SyncNaming for DuplicateRegistry<T, V> {
    const CAPABILITIES: Capabilities = Capabilities {
        dynamic_names: true,
        bounded_memory: true,
        duplicate_keys: true,
        await_name: false,
        register: true,
    };

    /// Unique-style: claims `name` only while nobody holds it (see the module doc).
    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.register_unique(name, process, V::default())
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        DuplicateRegistry::unregister(self, name, owner).map(|_| ())
    }

    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.first(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.count()
    }

    /// One more entry under `group`, with the default value.
    fn join_sync(&self, group: Name, process: &ProcessRef) -> Result<(), NamingError> {
        DuplicateRegistry::register(self, group, process, V::default())
    }

    /// `Registry.dispatch/3` with a send per entry: how many entries were reached.
    fn dispatch_sync<M: Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> Result<usize, NamingError> {
        Ok(DuplicateRegistry::dispatch(self, group, msg).delivered)
    }
}

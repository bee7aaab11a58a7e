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
//! **The rest of Elixir's API**: [`values`](DuplicateRegistry::values),
//! [`keys`](DuplicateRegistry::keys), [`match_values`](DuplicateRegistry::match_values) /
//! [`count_match`](DuplicateRegistry::count_match), [`select`](DuplicateRegistry::select) /
//! [`count_select`](DuplicateRegistry::count_select) over a typed [`Query`],
//! [`unregister_match`](DuplicateRegistry::unregister_match),
//! [`dispatch_with`](DuplicateRegistry::dispatch_with) (the callback form of `dispatch/3`),
//! [`meta`](DuplicateRegistry::meta) / [`put_meta`](DuplicateRegistry::put_meta), and
//! listeners ([`with_listeners`](DuplicateRegistry::with_listeners)) told of every
//! registration and removal, one `Unregister` per [`unregister`](DuplicateRegistry::unregister)
//! call and one per entry an exit removes. `update_value` is unique-registry only, as in
//! Elixir (here: absent from this type).
//!
//! **Costs**: a register is one table write plus the per-process hold lock (plus one send
//! per listener); a dispatch is one read-locked walk of the key's bag with one mailbox send
//! per entry (no copy of the entry list); `count`, `keys`, and `select` without a
//! [`Guard::Key`](crate::Guard::Key) walk every key. **Choose it** for topics, events and worker groups:
//! many processes under one key, messages fanned out to all of them.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;

use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::registry_api::{Listeners, Meta, Query, RegistryId, Selected};
use crate::storage::{DashMapTable, DuplicateStorage, DuplicateTable, EntryValue};

/// What a registry's handles share: the partitions first, then listeners and metadata.
struct DupPartitions<Tb> {
    tables: Box<[Tb]>,
    hasher: foldhash::fast::FixedState,
    listeners: Listeners,
    meta: Meta,
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

/// Entries are attached with tag 0; an exit removes one entry per attached registration,
/// and listeners hear of each.
impl<V: EntryValue, Tb: DuplicateTable<V>> ExitObserver for DupPartitionsOf<V, Tb> {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        if self.0.of(name).remove_one(name, pid) && !self.0.listeners.is_empty() {
            self.0.listeners.unregistered::<V>(name, pid);
        }
    }

    /// A table write and, with listeners, message sends: no process's lock.
    fn releases_under_process_lock(&self) -> bool {
        true
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
        Self::with_listeners(partitions, capacity, Vec::new())
    }

    /// A registry whose `listeners` get a [`RegistryEvent<V>`](crate::RegistryEvent) for
    /// every registration and removal (Elixir's `listeners:` option; fixed for the
    /// registry's life), removals by process exit included.
    pub fn with_listeners(partitions: usize, capacity: usize, listeners: Vec<ProcessRef>) -> Self {
        let n = partitions.max(1);
        let tables = (0..n)
            .map(|_| <T::Table<V> as DuplicateTable<V>>::with_capacity(capacity / n))
            .collect();
        let partitions = Arc::new(DupPartitions {
            tables,
            hasher: foldhash::fast::FixedState::with_seed(0xD0B1E),
            listeners: Listeners::new(RegistryId::fresh(), listeners),
            meta: Meta::default(),
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

    /// This registry's id, as its listeners' events name it.
    pub fn id(&self) -> RegistryId {
        self.partitions.listeners.registry()
    }

    /// Adds an entry `(process, value)` under `key` (`Registry.register/3`). Other holders
    /// of the key are no obstacle, nor is an earlier entry of the same process.
    ///
    /// `NoProc` if `process` has exited. The entry is removed when the process exits.
    pub fn register(&self, key: Name, process: &ProcessRef, value: V) -> Result<(), NamingError> {
        let shared = &*self.partitions;
        let table = shared.of(&key);
        process
            .hold_name(&self.observer, key, 0, |k| {
                // Told under the process's exit lock: its exit's unregister comes after.
                if !shared.listeners.is_empty() {
                    shared.listeners.registered(k, process.pid(), &value);
                }
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
        let shared = &*self.partitions;
        let table = shared.of(&key);
        claim_unique(
            process,
            &self.observer,
            &key,
            0,
            || {
                table.insert_if_vacant(key.clone(), process.clone(), value.clone())?;
                if !shared.listeners.is_empty() {
                    shared.listeners.registered(&key, process.pid(), &value);
                }
                Ok(())
            },
            |stale| {
                if table.remove_holder(&key, stale).is_ok() && !shared.listeners.is_empty() {
                    shared.listeners.unregistered::<V>(&key, stale);
                }
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
                if !self.partitions.listeners.is_empty() {
                    self.partitions
                        .listeners
                        .unregistered::<V>(key, owner.pid());
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

    /// Calls `f` once with the live entries under `key` (`Registry.dispatch/3` with a
    /// function): `None`, and `f` not called, if there are none, as Elixir calls it only
    /// with a non-empty list. The entries are copied out first, so `f` may block or use the
    /// registry.
    pub fn dispatch_with<R>(
        &self,
        key: &Name,
        f: impl FnOnce(&[(ProcessRef, V)]) -> R,
    ) -> Option<R> {
        let entries = self.lookup(key);
        (!entries.is_empty()).then(|| f(&entries))
    }

    /// `pid`'s values under `key`, one per registration (`Registry.values/3`); empty once
    /// it has exited.
    pub fn values(&self, key: &Name, pid: Pid) -> Vec<V> {
        let mut out = Vec::new();
        self.partitions.of(key).for_each(key, |p, v| {
            if p.pid() == pid && p.is_alive() {
                out.push(v.clone());
            }
        });
        out
    }

    /// Every key `pid` holds here, once per registration (`Registry.keys/2`): empty once
    /// it has exited. Walks every key.
    pub fn keys(&self, pid: Pid) -> Vec<Name> {
        let mut out = Vec::new();
        for table in self.partitions.tables.iter() {
            table.for_each_entry(|k, p, _| {
                if p.pid() == pid {
                    out.push(k.clone());
                }
            });
        }
        out
    }

    /// The live entries under `key` whose value satisfies `pattern` (`Registry.match/4`).
    pub fn match_values(&self, key: &Name, pattern: impl Fn(&V) -> bool) -> Vec<(ProcessRef, V)> {
        let mut out = Vec::new();
        self.partitions.of(key).for_each(key, |p, v| {
            if p.is_alive() && pattern(v) {
                out.push((p.clone(), v.clone()));
            }
        });
        out
    }

    /// How many live entries under `key` have a value satisfying `pattern`
    /// (`Registry.count_match/4`), without copying them.
    pub fn count_match(&self, key: &Name, pattern: impl Fn(&V) -> bool) -> usize {
        let mut n = 0;
        self.partitions.of(key).for_each(key, |p, v| {
            if p.is_alive() && pattern(v) {
                n += 1;
            }
        });
        n
    }

    /// The live entries meeting `query` (`Registry.select/2`). A
    /// [`Guard::Key`](crate::Guard::Key) reads that key only; otherwise every key is walked.
    pub fn select(&self, query: &Query<V>) -> Vec<Selected<V>> {
        let mut out = Vec::new();
        self.visit(query, |k, p, v| {
            out.push(Selected {
                key: k.clone(),
                process: p.clone(),
                value: v.clone(),
            })
        });
        out
    }

    /// How many live entries meet `query` (`Registry.count_select/2`), without copying them.
    pub fn count_select(&self, query: &Query<V>) -> usize {
        let mut n = 0;
        self.visit(query, |_, _, _| n += 1);
        n
    }

    /// Calls `f` on every live entry meeting `query` (under the table's locks).
    fn visit(&self, query: &Query<V>, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        if let Some(key) = query.bound_key() {
            self.partitions.of(key).for_each(key, |p, v| {
                if p.is_alive() && query.matches(key, p.pid(), v) {
                    f(key, p, v);
                }
            });
            return;
        }
        for table in self.partitions.tables.iter() {
            table.for_each_entry(|k, p, v| {
                if p.is_alive() && query.matches(k, p.pid(), v) {
                    f(k, p, v);
                }
            });
        }
    }

    /// Removes those of the calling process's entries under `key` whose value satisfies
    /// `pattern` (`Registry.unregister_match/4`) and says how many went; its other entries,
    /// and everyone else's, stay. `owner` is the caller's own context: `NotOwner { owner:
    /// holder }` if only others hold `key`, `NotRegistered` if nobody does.
    pub fn unregister_match(
        &self,
        key: &Name,
        owner: &Ctx,
        pattern: impl Fn(&V) -> bool,
    ) -> Result<usize, NamingError> {
        let table = self.partitions.of(key);
        let n = table.remove_matching(key, owner.pid(), |v| pattern(v));
        if n == 0 {
            let mut holder = None;
            let mut mine = false;
            table.for_each(key, |p, _| {
                mine |= p.pid() == owner.pid();
                holder = holder.or(Some(p.pid()));
            });
            return match holder {
                _ if mine => Ok(0),
                Some(other) => Err(NamingError::NotOwner { owner: other }),
                None => Err(NamingError::NotRegistered),
            };
        }
        for _ in 0..n {
            owner.me().release_name(&self.observer, key, 0);
        }
        if !self.partitions.listeners.is_empty() {
            self.partitions
                .listeners
                .unregistered::<V>(key, owner.pid());
        }
        Ok(n)
    }

    /// The metadata under `key` (`Registry.meta/2`): `Ok(None)` if none was put,
    /// `MetaType` if it is not an `M`.
    pub fn meta<M: Any + Clone>(&self, key: &str) -> Result<Option<M>, NamingError> {
        self.partitions.meta.get(key)
    }

    /// Stores registry-wide metadata (`Registry.put_meta/3`), replacing what was under `key`.
    pub fn put_meta<M: Any + Send + Sync>(&self, key: &str, value: M) {
        self.partitions.meta.put(key, value);
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

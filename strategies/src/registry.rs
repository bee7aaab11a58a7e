//! Registry + via: Elixir's `Registry` with unique keys, the recommended default.
//!
//! **BEAM original**: `{Registry, keys: :unique, name: My.Registry}` with
//! `{:via, Registry, {My.Registry, id}}` names and a `DynamicSupervisor` starting workers
//! on demand. Lookups read a partitioned table directly from the caller, registration is
//! done by the caller too, and a process's keys are removed when it exits.
//!
//! **Here**: `partitions` tables over a [`NameTable`] (dashmap by default), chosen by the
//! key's hash. Registration runs in the caller and attaches the name to the process
//! ([`ProcessRef::hold_name`]), so the process's own exit path deletes it: no registry
//! process, no polling, no sweeper. A lookup is one table read plus a liveness check, like
//! `whereis_name` filtering dead pids.
//!
//! **The rest of Elixir's API**: each entry carries a value `V` (`()` by default, so the
//! [`Naming`](crate::Naming) impl is unchanged), stored in the same table entry as the process as
//! ETS stores `{key, {pid, value}}`: [`register_value`](Registry::register_value),
//! [`lookup_entry`](Registry::lookup_entry), [`update_value`](Registry::update_value) (the
//! owner only), [`keys`](Registry::keys), [`values`](Registry::values),
//! [`match_values`](Registry::match_values) / [`count_match`](Registry::count_match),
//! [`select`](Registry::select) / [`count_select`](Registry::count_select) over a typed
//! [`Query`], [`unregister_match`](Registry::unregister_match),
//! [`dispatch_with`](Registry::dispatch_with), [`meta`](Registry::meta) /
//! [`put_meta`](Registry::put_meta), and listeners ([`with_listeners`](Registry::with_listeners))
//! told of every register and unregister, exits included. The plain
//! [`lookup`](Registry::lookup) never reads the value.
//!
//! **Costs**: one hash-table read per lookup, a table insert plus a short per-process lock
//! per registration (plus one send per listener). `keys`, `select` without a
//! [`Guard::Key`](crate::Guard::Key) and `count_select` walk every partition (Elixir reads a
//! pid table for `keys`; here a process's names are known only to its exit path).
//! **Choose it** for many dynamic, short-lived workers keyed by id.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::Arc;

use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::registry_api::{Listeners, Meta, Query, RegistryId, Selected};
use crate::storage::{DashMapTable, EntryValue, NameTable, UniqueTable};

/// What a registry's handles share: the partitions first (what a lookup touches), then
/// the listeners and the metadata.
struct Partitions<Tb> {
    tables: Box<[Tb]>,
    hasher: foldhash::fast::FixedState,
    listeners: Listeners,
    meta: Meta,
}

impl<Tb> Partitions<Tb> {
    #[inline]
    fn of(&self, name: &Name) -> &Tb {
        if self.tables.len() == 1 {
            &self.tables[0]
        } else {
            let h = self.hasher.hash_one(name);
            &self.tables[(h % self.tables.len() as u64) as usize]
        }
    }
}

/// The exit path: the entry goes if the exiting process still holds it, and listeners hear.
struct ExitCleanup<V, Tb>(Arc<Partitions<Tb>>, std::marker::PhantomData<fn() -> V>);

impl<V: EntryValue, Tb: UniqueTable<V>> ExitObserver for ExitCleanup<V, Tb> {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        if self.0.of(name).remove_if_owner(name, pid).is_ok() && !self.0.listeners.is_empty() {
            self.0.listeners.unregistered::<V>(name, pid);
        }
    }

    /// A table write and, with listeners, message sends: no process's lock.
    fn releases_under_process_lock(&self) -> bool {
        true
    }
}

/// An Elixir-style unique-key registry over the storage `T`, keeping a value `V` with each
/// entry (none by default).
pub struct Registry<T: NameTable = DashMapTable, V: EntryValue = ()> {
    partitions: Arc<Partitions<T::Unique<V>>>,
    observer: Arc<dyn ExitObserver>,
}

impl<T: NameTable, V: EntryValue> Clone for Registry<T, V> {
    fn clone(&self) -> Self {
        Registry {
            partitions: Arc::clone(&self.partitions),
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<T: NameTable, V: EntryValue> Default for Registry<T, V> {
    fn default() -> Self {
        Self::new(1)
    }
}

impl<T: NameTable, V: EntryValue> Registry<T, V> {
    /// A registry with `partitions` tables (at least one; Elixir's default is 1).
    pub fn new(partitions: usize) -> Self {
        Self::with_capacity(partitions, 0)
    }

    /// A registry sized for about `capacity` names in all.
    pub fn with_capacity(partitions: usize, capacity: usize) -> Self {
        Self::with_listeners(partitions, capacity, Vec::new())
    }

    /// A registry whose `listeners` get a [`RegistryEvent<V>`](crate::RegistryEvent) for
    /// every register and unregister (Elixir's `listeners:` option; fixed for the registry's
    /// life). Unregisters caused by a process exit are told too.
    pub fn with_listeners(partitions: usize, capacity: usize, listeners: Vec<ProcessRef>) -> Self {
        let n = partitions.max(1);
        let tables = (0..n)
            .map(|_| <T::Unique<V> as UniqueTable<V>>::with_capacity(capacity / n))
            .collect();
        let partitions = Arc::new(Partitions {
            tables,
            hasher: foldhash::fast::FixedState::with_seed(0x5EED),
            listeners: Listeners::new(RegistryId::fresh(), listeners),
            meta: Meta::default(),
        });
        let observer: Arc<dyn ExitObserver> = Arc::new(ExitCleanup::<V, _>(
            partitions.clone(),
            std::marker::PhantomData,
        ));
        Registry {
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

    /// The lookup itself, without the future wrapper (what `whereis` returns at once). The
    /// hot path: the value is not read.
    #[inline]
    pub fn lookup(&self, name: &Name) -> Option<ProcessRef> {
        self.partitions
            .of(name)
            .get(name)
            .filter(ProcessRef::is_alive)
    }

    /// The live process under `name` and its value (`Registry.lookup/2`).
    pub fn lookup_entry(&self, name: &Name) -> Option<(ProcessRef, V)> {
        self.partitions
            .of(name)
            .entry(name)
            .filter(|(p, _)| p.is_alive())
    }

    /// Registers `process` under `name` with `value` (`Registry.register/3`); the entry is
    /// removed when the process exits. `AlreadyRegistered(holder)` if a live process holds
    /// `name`, `NoProc` if `process` has exited.
    ///
    /// Not named `register`: an inherent method of that name would shadow
    /// [`Naming::register`](crate::Naming::register) (two arguments, a future) for every
    /// caller holding a concrete `Registry`.
    pub fn register_value(
        &self,
        name: Name,
        process: &ProcessRef,
        value: V,
    ) -> Result<(), NamingError> {
        let shared = &*self.partitions;
        let table = shared.of(&name);
        claim_unique(
            process,
            &self.observer,
            &name,
            0,
            || {
                table.insert_new(name.clone(), process.clone(), value.clone())?;
                // Told under the process's exit lock: its exit's unregister comes after.
                if !shared.listeners.is_empty() {
                    shared.listeners.registered(&name, process.pid(), &value);
                }
                Ok(())
            },
            |stale| {
                if table.remove_if_owner(&name, stale).is_ok() && !shared.listeners.is_empty() {
                    shared.listeners.unregistered::<V>(&name, stale);
                }
            },
        )
    }

    /// Replaces the calling process's value under `name` with `f(old)` and returns
    /// `(new, old)` (`Registry.update_value/3`). `f` runs once, in the caller. `owner` is the
    /// caller's own context: `NotOwner { owner: holder }` if another process holds `name`,
    /// `NotRegistered` if nobody does.
    pub fn update_value(
        &self,
        name: &Name,
        owner: &Ctx,
        f: impl FnOnce(&V) -> V,
    ) -> Result<(V, V), NamingError> {
        let table = self.partitions.of(name);
        let (holder, old) = table.entry(name).ok_or(NamingError::NotRegistered)?;
        if holder.pid() != owner.pid() {
            return Err(NamingError::NotOwner {
                owner: holder.pid(),
            });
        }
        let new = f(&old);
        // Only the owner writes its value; the entry can only have gone meanwhile.
        match table.replace_if_owner(name, owner.pid(), new.clone()) {
            Ok(replaced) => Ok((new, replaced)),
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    /// Every key `pid` holds here (`Registry.keys/2`): empty once it has exited. Walks
    /// every partition.
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

    /// `pid`'s values under `name` (`Registry.values/3`): at most one here, none if another
    /// process (or nobody) holds it.
    pub fn values(&self, name: &Name, pid: Pid) -> Vec<V> {
        self.partitions
            .of(name)
            .entry(name)
            .filter(|(p, _)| p.pid() == pid && p.is_alive())
            .map(|(_, v)| v)
            .into_iter()
            .collect()
    }

    /// The live entry under `name` if its value satisfies `pattern` (`Registry.match/4`).
    pub fn match_values(&self, name: &Name, pattern: impl Fn(&V) -> bool) -> Vec<(ProcessRef, V)> {
        self.lookup_entry(name)
            .filter(|(_, v)| pattern(v))
            .into_iter()
            .collect()
    }

    /// How many entries [`match_values`](Self::match_values) would return (`count_match/4`).
    pub fn count_match(&self, name: &Name, pattern: impl Fn(&V) -> bool) -> usize {
        self.match_values(name, pattern).len()
    }

    /// The live entries meeting `query` (`Registry.select/2`). A [`Guard::Key`](crate::Guard::Key)
    /// reads that key's partition only; otherwise every partition is walked.
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

    /// Calls `f` on every live entry meeting `query`.
    fn visit(&self, query: &Query<V>, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        if let Some(key) = query.bound_key() {
            if let Some((p, v)) = self.lookup_entry(key) {
                if query.matches(key, p.pid(), &v) {
                    f(key, &p, &v);
                }
            }
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

    /// Unregisters the calling process from `name` if its value satisfies `pattern`
    /// (`Registry.unregister_match/4`) and says how many entries went (0 or 1). `owner` is
    /// the caller's own context: `NotOwner { owner: holder }` if another process holds
    /// `name`, `NotRegistered` if nobody does.
    pub fn unregister_match(
        &self,
        name: &Name,
        owner: &Ctx,
        pattern: impl Fn(&V) -> bool,
    ) -> Result<usize, NamingError> {
        let (holder, value) = self
            .partitions
            .of(name)
            .entry(name)
            .ok_or(NamingError::NotRegistered)?;
        if holder.pid() != owner.pid() {
            return Err(NamingError::NotOwner {
                owner: holder.pid(),
            });
        }
        // Only the owner (the caller) writes its value, so the value checked is the one removed.
        if !pattern(&value) {
            return Ok(0);
        }
        self.remove_own(name, owner).map(|()| 1)
    }

    /// Removes the caller's entry under `name` and tells the listeners (`Registry.unregister/2`).
    fn remove_own(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        match self.partitions.of(name).remove_if_owner(name, owner.pid()) {
            Ok(process) => {
                process.release_name(&self.observer, name, 0);
                if !self.partitions.listeners.is_empty() {
                    self.partitions
                        .listeners
                        .unregistered::<V>(name, owner.pid());
                }
                Ok(())
            }
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    /// Calls `f` with the live entry under `name` (`Registry.dispatch/3`): `None`, and `f`
    /// not called, if there is none, as Elixir calls it only with a non-empty list.
    pub fn dispatch_with<R>(
        &self,
        name: &Name,
        f: impl FnOnce(&[(ProcessRef, V)]) -> R,
    ) -> Option<R> {
        self.lookup_entry(name).map(|entry| f(&[entry]))
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
}

impl<T: NameTable, V: EntryValue + Default> SyncNaming for Registry<T, V> {
    const CAPABILITIES: Capabilities = Capabilities::UNIQUE_DYNAMIC;

    /// Registers with the default value.
    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.register_value(name, process, V::default())
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        self.remove_own(name, owner)
    }

    #[inline]
    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.partitions.tables.iter().map(|t| t.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use process_runtime::{ExitReason, Runtime};

    use super::*;
    use crate::storage::PapayaTable;

    /// Partitions are Elixir's: each key lives in the one table its hash picks, every
    /// table its own map, and the keys spread over all of them.
    async fn keys_live_in_their_partition<T: NameTable>(partitions: usize) {
        let rt = Runtime::new();
        let holder = rt.spawn(|mut ctx: Ctx| async move {
            let _ = ctx.recv().await;
            ExitReason::Normal
        });
        let reg = Registry::<T>::with_capacity(partitions, 1_000);
        assert_eq!(reg.partition_count(), partitions);
        let names: Vec<Name> = (0..1_000u64).map(Name::Id).collect();
        for name in &names {
            reg.register_sync(name.clone(), &holder).unwrap();
        }
        let tables = &reg.partitions.tables;
        for name in &names {
            let home = reg.partitions.of(name);
            for table in tables.iter() {
                assert_eq!(
                    table.get(name).is_some(),
                    std::ptr::eq(table, home),
                    "{name:?} must be in its own partition only"
                );
            }
        }
        let sizes: Vec<usize> = tables.iter().map(|t| t.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), names.len());
        let fair = names.len() / partitions;
        assert!(
            sizes.iter().all(|&n| n > fair / 2 && n < fair * 2),
            "keys spread unevenly over the partitions: {sizes:?}"
        );
        assert_eq!(reg.registered_count_sync(), names.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dashmap_keys_live_in_their_partition() {
        keys_live_in_their_partition::<DashMapTable>(4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn papaya_keys_live_in_their_partition() {
        keys_live_in_their_partition::<PapayaTable>(3).await;
    }

    #[test]
    fn zero_partitions_is_one() {
        assert_eq!(Registry::<DashMapTable>::new(0).partition_count(), 1);
    }
}

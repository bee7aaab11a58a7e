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
//! ([`DashMapTable`], [`FlurryTable`], [`SccTable`], [`RwLockTable`]), through one small
//! trait, [`DuplicateTable`]. Every entry is attached to its process with
//! [`ProcessRef::hold_name`], so the process's exit path removes it.
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
use std::collections::hash_map::Entry as StdEntry;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;
use process_runtime::{ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, Naming, NamingError};
use crate::storage::{DashMapTable, FastHasher};
use crate::tables::{FlurryTable, RwLockTable, SccTable, Shards};

/// What a [`DuplicateRegistry`] can store next to each entry (Elixir's `value`).
pub trait EntryValue: Clone + Send + Sync + 'static {}

impl<V: Clone + Send + Sync + 'static> EntryValue for V {}

/// One process's entries under one key: its handle and the values of its registrations.
struct Holder<V> {
    process: ProcessRef,
    first: V,
    more: Vec<V>,
}

/// All the entries under one key, indexed by pid.
struct Bag<V> {
    holders: HashMap<Pid, Holder<V>, FastHasher>,
    entries: usize,
}

impl<V: EntryValue> Bag<V> {
    fn with(process: ProcessRef, value: V) -> Self {
        let mut bag = Bag {
            holders: HashMap::with_hasher(FastHasher::default()),
            entries: 0,
        };
        bag.push(process, value);
        bag
    }

    fn push(&mut self, process: ProcessRef, value: V) {
        match self.holders.entry(process.pid()) {
            StdEntry::Occupied(held) => held.into_mut().more.push(value),
            StdEntry::Vacant(free) => {
                free.insert(Holder {
                    process,
                    first: value,
                    more: Vec::new(),
                });
            }
        }
        self.entries += 1;
    }

    /// Adds the entry if the bag is empty; `Err(holder)` otherwise. (Tables never keep an
    /// empty bag, so on an occupied key this refuses; it is written to be total anyway.)
    fn push_if_vacant(&mut self, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.any_holder() {
            Some(holder) => Err(holder.clone()),
            None => {
                self.push(process, value);
                Ok(())
            }
        }
    }

    /// Removes one of `pid`'s entries.
    fn pop_one(&mut self, pid: Pid) -> bool {
        match self.holders.entry(pid) {
            StdEntry::Occupied(mut held) => {
                if held.get_mut().more.pop().is_none() {
                    held.remove();
                }
                self.entries -= 1;
                true
            }
            StdEntry::Vacant(_) => false,
        }
    }

    /// Removes all of `pid`'s entries: its handle and how many there were.
    fn remove_holder(&mut self, pid: Pid) -> Option<(ProcessRef, usize)> {
        let holder = self.holders.remove(&pid)?;
        let n = 1 + holder.more.len();
        self.entries -= n;
        Some((holder.process, n))
    }

    /// A holder, a live one if there is one.
    fn any_holder(&self) -> Option<&ProcessRef> {
        let mut any = None;
        for h in self.holders.values() {
            if h.process.is_alive() {
                return Some(&h.process);
            }
            any = Some(&h.process);
        }
        any
    }

    fn for_each(&self, f: &mut impl FnMut(&ProcessRef, &V)) {
        for h in self.holders.values() {
            f(&h.process, &h.first);
            for v in &h.more {
                f(&h.process, v);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// A concurrent key -> bag-of-entries table: the storage of a [`DuplicateRegistry`].
///
/// A key with no entries is never left in the table. `for_each` runs under the table's
/// read lock for that key: the callback must not block (mailbox sends do not).
pub trait DuplicateTable<V: EntryValue>: Send + Sync + 'static {
    /// An empty table sized for about `capacity` keys.
    fn with_capacity(capacity: usize) -> Self;

    /// Adds one entry for `process` under `key`.
    fn insert(&self, key: Name, process: ProcessRef, value: V);

    /// Adds the entry only if `key` has no entries; `Err(holder)` otherwise.
    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef>;

    /// Removes one of `pid`'s entries under `key` (the exit path); whether there was one.
    fn remove_one(&self, key: &Name, pid: Pid) -> bool;

    /// Removes all of `pid`'s entries under `key`: its handle and how many there were;
    /// `Err(Some(holder))` if only others hold the key, `Err(None)` if nobody does.
    fn remove_holder(&self, key: &Name, pid: Pid) -> Result<(ProcessRef, usize), Option<Pid>>;

    /// Calls `f` on every entry under `key`.
    fn for_each(&self, key: &Name, f: impl FnMut(&ProcessRef, &V));

    /// How many entries `key` has.
    fn key_count(&self, key: &Name) -> usize;

    /// How many entries the table has in all (walks every key).
    fn len(&self) -> usize;

    /// Whether the table is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Picks the [`DuplicateTable`] for a storage marker: one type parameter chooses the storage
/// of both registries (`Registry<FlurryTable>`, `DuplicateRegistry<FlurryTable>`).
pub trait DuplicateStorage: Send + Sync + 'static {
    /// Short label used in results, e.g. `dashmap`.
    const LABEL: &'static str;
    /// The duplicate-key table over this storage.
    type Table<V: EntryValue>: DuplicateTable<V>;
}

impl DuplicateStorage for DashMapTable {
    const LABEL: &'static str = "dashmap";
    type Table<V: EntryValue> = DashMapDuplicates<V>;
}

impl DuplicateStorage for SccTable {
    const LABEL: &'static str = "scc";
    type Table<V: EntryValue> = SccDuplicates<V>;
}

impl DuplicateStorage for RwLockTable {
    const LABEL: &'static str = "rwlock";
    type Table<V: EntryValue> = RwLockDuplicates<V>;
}

impl DuplicateStorage for FlurryTable {
    const LABEL: &'static str = "flurry";
    type Table<V: EntryValue> = FlurryDuplicates<V>;
}

/// Duplicate-key storage over dashmap: bags edited in place under the shard lock.
pub struct DashMapDuplicates<V>(DashMap<Name, Bag<V>, FastHasher>);

impl<V: EntryValue> DuplicateTable<V> for DashMapDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        DashMapDuplicates(DashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    fn insert(&self, key: Name, process: ProcessRef, value: V) {
        match self.0.entry(key) {
            dashmap::mapref::entry::Entry::Occupied(mut bag) => bag.get_mut().push(process, value),
            dashmap::mapref::entry::Entry::Vacant(free) => {
                free.insert(Bag::with(process, value));
            }
        }
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(key) {
            dashmap::mapref::entry::Entry::Occupied(mut bag) => {
                bag.get_mut().push_if_vacant(process, value)
            }
            dashmap::mapref::entry::Entry::Vacant(free) => {
                free.insert(Bag::with(process, value));
                Ok(())
            }
        }
    }

    fn remove_one(&self, key: &Name, pid: Pid) -> bool {
        let mut removed = false;
        self.0.remove_if_mut(key, |_, bag| {
            removed = bag.pop_one(pid);
            bag.is_empty()
        });
        removed
    }

    fn remove_holder(&self, key: &Name, pid: Pid) -> Result<(ProcessRef, usize), Option<Pid>> {
        let mut outcome = Err(None);
        self.0.remove_if_mut(key, |_, bag| {
            outcome = take_holder(bag, pid);
            bag.is_empty()
        });
        outcome
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        if let Some(bag) = self.0.get(key) {
            bag.for_each(&mut f);
        }
    }

    fn key_count(&self, key: &Name) -> usize {
        self.0.get(key).map_or(0, |bag| bag.entries)
    }

    fn len(&self) -> usize {
        self.0.iter().map(|bag| bag.entries).sum()
    }
}

/// Duplicate-key storage over scc: bags edited in place under the bucket lock.
pub struct SccDuplicates<V>(scc::HashMap<Name, Bag<V>, FastHasher>);

impl<V: EntryValue> DuplicateTable<V> for SccDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        SccDuplicates(scc::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    fn insert(&self, key: Name, process: ProcessRef, value: V) {
        match self.0.entry(key) {
            scc::hash_map::Entry::Occupied(mut bag) => bag.get_mut().push(process, value),
            scc::hash_map::Entry::Vacant(free) => {
                free.insert_entry(Bag::with(process, value));
            }
        }
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(key) {
            scc::hash_map::Entry::Occupied(mut bag) => bag.get_mut().push_if_vacant(process, value),
            scc::hash_map::Entry::Vacant(free) => {
                free.insert_entry(Bag::with(process, value));
                Ok(())
            }
        }
    }

    fn remove_one(&self, key: &Name, pid: Pid) -> bool {
        let mut removed = false;
        self.0.remove_if(key, |bag| {
            removed = bag.pop_one(pid);
            bag.is_empty()
        });
        removed
    }

    fn remove_holder(&self, key: &Name, pid: Pid) -> Result<(ProcessRef, usize), Option<Pid>> {
        let mut outcome = Err(None);
        self.0.remove_if(key, |bag| {
            outcome = take_holder(bag, pid);
            bag.is_empty()
        });
        outcome
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        self.0.read(key, |_, bag| bag.for_each(&mut f));
    }

    fn key_count(&self, key: &Name) -> usize {
        self.0.read(key, |_, bag| bag.entries).unwrap_or(0)
    }

    fn len(&self) -> usize {
        let mut n = 0;
        self.0.scan(|_, bag| n += bag.entries);
        n
    }
}

/// Duplicate-key storage over hand-sharded `RwLock<hashbrown::HashMap>`s.
pub struct RwLockDuplicates<V>(Shards<Bag<V>>);

impl<V: EntryValue> DuplicateTable<V> for RwLockDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        RwLockDuplicates(Shards::with_capacity(capacity))
    }

    fn insert(&self, key: Name, process: ProcessRef, value: V) {
        let (hash, shard) = self.0.locate(&key);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, &key) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut bag) => {
                bag.get_mut().push(process, value)
            }
            hashbrown::hash_map::RawEntryMut::Vacant(free) => {
                free.insert_hashed_nocheck(hash, key, Bag::with(process, value));
            }
        }
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        let (hash, shard) = self.0.locate(&key);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, &key) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut bag) => {
                bag.get_mut().push_if_vacant(process, value)
            }
            hashbrown::hash_map::RawEntryMut::Vacant(free) => {
                free.insert_hashed_nocheck(hash, key, Bag::with(process, value));
                Ok(())
            }
        }
    }

    fn remove_one(&self, key: &Name, pid: Pid) -> bool {
        let (hash, shard) = self.0.locate(key);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut bag) => {
                let removed = bag.get_mut().pop_one(pid);
                if bag.get().is_empty() {
                    bag.remove();
                }
                removed
            }
            hashbrown::hash_map::RawEntryMut::Vacant(_) => false,
        }
    }

    fn remove_holder(&self, key: &Name, pid: Pid) -> Result<(ProcessRef, usize), Option<Pid>> {
        let (hash, shard) = self.0.locate(key);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut bag) => {
                let outcome = take_holder(bag.get_mut(), pid);
                if bag.get().is_empty() {
                    bag.remove();
                }
                outcome
            }
            hashbrown::hash_map::RawEntryMut::Vacant(_) => Err(None),
        }
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        let (hash, shard) = self.0.locate(key);
        let map = shard.read();
        if let Some((_, bag)) = map.raw_entry().from_key_hashed_nocheck(hash, key) {
            bag.for_each(&mut f);
        }
    }

    fn key_count(&self, key: &Name) -> usize {
        let (hash, shard) = self.0.locate(key);
        let map = shard.read();
        map.raw_entry()
            .from_key_hashed_nocheck(hash, key)
            .map_or(0, |(_, bag)| bag.entries)
    }

    fn len(&self) -> usize {
        self.0
            .all()
            .map(|s| s.read().values().map(|bag| bag.entries).sum::<usize>())
            .sum()
    }
}

/// A flurry bag: flurry values are immutable once published, so each key's bag sits behind
/// its own mutex; a bag emptied by a removal is marked `dead` before it leaves the map, and
/// writers that find a dead bag help remove it and retry.
struct FlurryBag<V> {
    bag: Bag<V>,
    dead: bool,
}

type SharedBag<V> = Arc<Mutex<FlurryBag<V>>>;

/// Duplicate-key storage over flurry: a lock-free index of keys, a mutex per key's bag.
pub struct FlurryDuplicates<V>(flurry::HashMap<Name, SharedBag<V>, FastHasher>);

impl<V: EntryValue> FlurryDuplicates<V> {
    fn fresh(process: ProcessRef, value: V) -> SharedBag<V> {
        Arc::new(Mutex::new(FlurryBag {
            bag: Bag::with(process, value),
            dead: false,
        }))
    }

    /// Takes `bag` (already marked dead) out of the map, unless the key now maps elsewhere.
    fn unlink(
        map: &flurry::HashMapRef<'_, Name, SharedBag<V>, FastHasher>,
        key: &Name,
        bag: &SharedBag<V>,
    ) {
        map.compute_if_present(key, |_, current| {
            if Arc::ptr_eq(current, bag) {
                None
            } else {
                Some(current.clone())
            }
        });
    }

    /// Adds an entry; with `exclusive`, only while the key has no entries.
    fn add(
        &self,
        key: Name,
        process: ProcessRef,
        value: V,
        exclusive: bool,
    ) -> Result<(), ProcessRef> {
        let map = self.0.pin();
        loop {
            if let Some(shared) = map.get(&key) {
                let mut b = shared.lock();
                if !b.dead {
                    if exclusive {
                        return b.bag.push_if_vacant(process, value);
                    }
                    b.bag.push(process, value);
                    return Ok(());
                }
                drop(b);
                Self::unlink(&map, &key, shared);
                continue;
            }
            let fresh = Self::fresh(process.clone(), value.clone());
            if map.try_insert(key.clone(), fresh).is_ok() {
                return Ok(());
            }
        }
    }

    /// Edits the key's bag with `edit`; removes the bag if that emptied it.
    fn edit<R>(&self, key: &Name, absent: R, edit: impl FnOnce(&mut Bag<V>) -> R) -> R {
        let map = self.0.pin();
        let Some(shared) = map.get(key) else {
            return absent;
        };
        let mut b = shared.lock();
        if b.dead {
            return absent;
        }
        let out = edit(&mut b.bag);
        if b.bag.is_empty() {
            b.dead = true;
            drop(b);
            Self::unlink(&map, key, shared);
        }
        out
    }
}

impl<V: EntryValue> DuplicateTable<V> for FlurryDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        FlurryDuplicates(flurry::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    fn insert(&self, key: Name, process: ProcessRef, value: V) {
        // Cannot fail without `exclusive`.
        let _ = self.add(key, process, value, false);
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        self.add(key, process, value, true)
    }

    fn remove_one(&self, key: &Name, pid: Pid) -> bool {
        self.edit(key, false, |bag| bag.pop_one(pid))
    }

    fn remove_holder(&self, key: &Name, pid: Pid) -> Result<(ProcessRef, usize), Option<Pid>> {
        self.edit(key, Err(None), |bag| take_holder(bag, pid))
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        let map = self.0.pin();
        if let Some(shared) = map.get(key) {
            let b = shared.lock();
            if !b.dead {
                b.bag.for_each(&mut f);
            }
        }
    }

    fn key_count(&self, key: &Name) -> usize {
        let map = self.0.pin();
        map.get(key).map_or(0, |shared| shared.lock().bag.entries)
    }

    fn len(&self) -> usize {
        let map = self.0.pin();
        map.values().map(|shared| shared.lock().bag.entries).sum()
    }
}

fn take_holder<V: EntryValue>(
    bag: &mut Bag<V>,
    pid: Pid,
) -> Result<(ProcessRef, usize), Option<Pid>> {
    match bag.remove_holder(pid) {
        Some(removed) => Ok(removed),
        None => Err(bag.any_holder().map(ProcessRef::pid)),
    }
}

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
    /// [`Naming`] impl uses. `AlreadyRegistered(holder)` if a live process holds it.
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

    /// Removes all of `owner`'s entries under `key` (`Registry.unregister/2`) and returns
    /// how many there were. Others' entries are never touched: `NotOwner { owner: holder }`
    /// if only others hold the key, `NotRegistered` if nobody does.
    pub fn unregister(&self, key: &Name, owner: Pid) -> Result<usize, NamingError> {
        match self.partitions.of(key).remove_holder(key, owner) {
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

impl<T: DuplicateStorage, V: EntryValue + Default> Naming for DuplicateRegistry<T, V> {
    fn label(&self) -> &'static str {
        match T::LABEL {
            "dashmap" => "duplicate-dashmap",
            "flurry" => "duplicate-flurry",
            "scc" => "duplicate-scc",
            "rwlock" => "duplicate-rwlock",
            other => other,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            dynamic_names: true,
            bounded_memory: true,
            duplicate_keys: true,
            await_name: false,
            register: true,
        }
    }

    /// Unique-style: claims `name` only while nobody holds it (see the module doc).
    fn register(
        &self,
        name: Name,
        process: &ProcessRef,
    ) -> impl std::future::Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(self.register_unique(name, process, V::default()))
    }

    fn unregister(
        &self,
        name: &Name,
        owner: Pid,
    ) -> impl std::future::Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(DuplicateRegistry::unregister(self, name, owner).map(|_| ()))
    }

    fn whereis(&self, name: &Name) -> impl std::future::Future<Output = Option<ProcessRef>> + Send {
        std::future::ready(self.first(name))
    }

    fn registered_count(&self) -> impl std::future::Future<Output = usize> + Send {
        std::future::ready(self.count())
    }

    fn join(
        &self,
        group: Name,
        process: &ProcessRef,
    ) -> impl std::future::Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(DuplicateRegistry::register(
            self,
            group,
            process,
            V::default(),
        ))
    }

    fn dispatch<M: Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> impl std::future::Future<Output = Result<usize, NamingError>> + Send {
        std::future::ready(Ok(DuplicateRegistry::dispatch(self, group, msg).delivered))
    }
}

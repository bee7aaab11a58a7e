//! The hand-sharded baseline: `parking_lot::RwLock<hashbrown::HashMap>` shards chosen by
//! the key's hash, what dashmap does written out by hand. Holds [`RwLockTable`] (unique
//! keys) and [`RwLockDuplicates`] (duplicate keys), and the `Shards` both sit on.

use std::hash::BuildHasher;

use parking_lot::RwLock;
use process_runtime::{Name, Pid, ProcessRef};

use super::bag::{take_holder, Bag};
use super::{
    name_table_over_unique, DuplicateStorage, DuplicateTable, EntryValue, FastHasher, Slot,
    UniqueTable,
};

/// A cache-line-aligned cell, so that two shards' locks never share a line.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// One shard of a [`Shards`] table.
pub(crate) type Shard<V> = RwLock<hashbrown::HashMap<Name, V, FastHasher>>;

/// Shards of `RwLock<hashbrown::HashMap>`, chosen by the key's hash; the hash is computed
/// once and reused for the probe (hashbrown's raw entry API), as dashmap does.
pub(crate) struct Shards<V> {
    shards: Box<[Padded<Shard<V>>]>,
    hasher: FastHasher,
    shift: u32,
}

impl<V> Shards<V> {
    /// `4 x available cores` shards, rounded up to a power of two (dashmap's default).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let count = (cores * 4).next_power_of_two().max(2);
        let hasher = FastHasher::default();
        let per_shard = capacity.div_ceil(count);
        let shards = (0..count)
            .map(|_| {
                Padded(RwLock::new(hashbrown::HashMap::with_capacity_and_hasher(
                    per_shard, hasher,
                )))
            })
            .collect();
        Shards {
            shards,
            hasher,
            shift: u64::BITS - count.trailing_zeros(),
        }
    }

    /// The key's hash and its shard.
    #[inline]
    pub(crate) fn locate(&self, name: &Name) -> (u64, &Shard<V>) {
        let hash = self.hasher.hash_one(name);
        // Skip the top 7 bits (hashbrown's control byte) so shard and slot stay independent.
        let i = ((hash << 7) >> self.shift) as usize;
        (hash, &self.shards[i].0)
    }

    /// Every shard, for counting.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Shard<V>> {
        self.shards.iter().map(|s| &s.0)
    }
}

/// The baseline: a boxed slice of `parking_lot::RwLock<hashbrown::HashMap>` shards, the
/// shard picked by the key's hash. What dashmap does, written out by hand; `V` is the value
/// kept beside each process (none by default).
pub struct RwLockTable<V = ()>(Shards<Slot<V>>);

name_table_over_unique!(RwLockTable, "rwlock");

impl<V: EntryValue> UniqueTable<V> for RwLockTable<V> {
    fn with_capacity(capacity: usize) -> Self {
        RwLockTable(Shards::with_capacity(capacity))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        let (hash, shard) = self.0.locate(name);
        let map = shard.read();
        map.raw_entry()
            .from_key_hashed_nocheck(hash, name)
            .map(|(_, s)| s.process.clone())
    }

    fn entry(&self, name: &Name) -> Option<(ProcessRef, V)> {
        let (hash, shard) = self.0.locate(name);
        let map = shard.read();
        map.raw_entry()
            .from_key_hashed_nocheck(hash, name)
            .map(|(_, s)| (s.process.clone(), s.value.clone()))
    }

    fn insert_new(&self, name: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        let (hash, shard) = self.0.locate(&name);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, &name) {
            hashbrown::hash_map::RawEntryMut::Occupied(held) => Err(held.get().process.clone()),
            hashbrown::hash_map::RawEntryMut::Vacant(free) => {
                free.insert_hashed_nocheck(hash, name, Slot::new(process, value));
                Ok(())
            }
        }
    }

    fn replace_if_owner(&self, name: &Name, owner: Pid, value: V) -> Result<V, Option<Pid>> {
        let (hash, shard) = self.0.locate(name);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, name) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut held)
                if held.get().process.pid() == owner =>
            {
                Ok(std::mem::replace(&mut held.get_mut().value, value))
            }
            hashbrown::hash_map::RawEntryMut::Occupied(held) => Err(Some(held.get().process.pid())),
            hashbrown::hash_map::RawEntryMut::Vacant(_) => Err(None),
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        let (hash, shard) = self.0.locate(name);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, name) {
            hashbrown::hash_map::RawEntryMut::Occupied(held)
                if held.get().process.pid() == owner =>
            {
                Ok(held.remove().process)
            }
            hashbrown::hash_map::RawEntryMut::Occupied(held) => Err(Some(held.get().process.pid())),
            hashbrown::hash_map::RawEntryMut::Vacant(_) => Err(None),
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        for shard in self.0.all() {
            for (k, s) in shard.read().iter() {
                f(k, &s.process, &s.value);
            }
        }
    }

    fn len(&self) -> usize {
        self.0.all().map(|s| s.read().len()).sum()
    }
}

impl DuplicateStorage for RwLockTable {
    const LABEL: &'static str = "rwlock";
    type Table<V: EntryValue> = RwLockDuplicates<V>;
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

    fn remove_matching(&self, key: &Name, pid: Pid, pattern: impl FnMut(&V) -> bool) -> usize {
        let (hash, shard) = self.0.locate(key);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            hashbrown::hash_map::RawEntryMut::Occupied(mut bag) => {
                let removed = bag.get_mut().remove_matching(pid, pattern);
                if bag.get().is_empty() {
                    bag.remove();
                }
                removed
            }
            hashbrown::hash_map::RawEntryMut::Vacant(_) => 0,
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        for shard in self.0.all() {
            for (key, bag) in shard.read().iter() {
                bag.for_each(&mut |p, v| f(key, p, v));
            }
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

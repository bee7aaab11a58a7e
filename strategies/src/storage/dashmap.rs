//! dashmap (sharded `RwLock`s around hashbrown tables): the default storage. Holds
//! [`DashMapTable`] (unique keys) and [`DashMapDuplicates`] (duplicate keys).

use ::dashmap::mapref::entry::Entry;
use ::dashmap::DashMap;
use process_runtime::{Name, Pid, ProcessRef};

use super::bag::{take_holder, Bag};
use super::{
    name_table_over_unique, DuplicateStorage, DuplicateTable, EntryValue, FastHasher, Slot,
    UniqueTable,
};

/// Storage over [`dashmap::DashMap`] (sharded `RwLock`s around hashbrown tables); `V` is the
/// value kept beside each process (none by default).
pub struct DashMapTable<V = ()>(DashMap<Name, Slot<V>, FastHasher>);

name_table_over_unique!(DashMapTable, "dashmap");

impl<V: EntryValue> UniqueTable<V> for DashMapTable<V> {
    fn with_capacity(capacity: usize) -> Self {
        DashMapTable(DashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.get(name).map(|s| s.value().process.clone())
    }

    fn entry(&self, name: &Name) -> Option<(ProcessRef, V)> {
        self.0
            .get(name)
            .map(|s| (s.value().process.clone(), s.value().value.clone()))
    }

    fn insert_new(&self, name: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(name) {
            Entry::Occupied(held) => Err(held.get().process.clone()),
            Entry::Vacant(free) => {
                free.insert(Slot::new(process, value));
                Ok(())
            }
        }
    }

    fn replace_if_owner(&self, name: &Name, owner: Pid, value: V) -> Result<V, Option<Pid>> {
        match self.0.get_mut(name) {
            Some(mut held) if held.process.pid() == owner => {
                Ok(std::mem::replace(&mut held.value, value))
            }
            Some(held) => Err(Some(held.process.pid())),
            None => Err(None),
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        match self.0.remove_if(name, |_, s| s.process.pid() == owner) {
            Some((_, s)) => Ok(s.process),
            None => Err(self.0.get(name).map(|s| s.process.pid())),
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        for e in self.0.iter() {
            f(e.key(), &e.value().process, &e.value().value);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl DuplicateStorage for DashMapTable {
    const LABEL: &'static str = "dashmap";
    type Table<V: EntryValue> = DashMapDuplicates<V>;
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
            Entry::Occupied(mut bag) => bag.get_mut().push(process, value),
            Entry::Vacant(free) => {
                free.insert(Bag::with(process, value));
            }
        }
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(key) {
            Entry::Occupied(mut bag) => bag.get_mut().push_if_vacant(process, value),
            Entry::Vacant(free) => {
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

    fn remove_matching(&self, key: &Name, pid: Pid, mut pattern: impl FnMut(&V) -> bool) -> usize {
        let mut removed = 0;
        self.0.remove_if_mut(key, |_, bag| {
            removed = bag.remove_matching(pid, &mut pattern);
            bag.is_empty()
        });
        removed
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        if let Some(bag) = self.0.get(key) {
            bag.for_each(&mut f);
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        for e in self.0.iter() {
            let key = e.key();
            e.value().for_each(&mut |p, v| f(key, p, v));
        }
    }

    fn key_count(&self, key: &Name) -> usize {
        self.0.get(key).map_or(0, |bag| bag.entries)
    }

    fn len(&self) -> usize {
        self.0.iter().map(|bag| bag.entries).sum()
    }
}

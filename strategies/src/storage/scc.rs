//! scc (buckets locked one at a time, no shard-wide lock, incremental resizing). Holds
//! [`SccTable`] (unique keys) and [`SccDuplicates`] (duplicate keys).

use process_runtime::{Name, Pid, ProcessRef};

use super::bag::{take_holder, Bag};
use super::{
    name_table_over_unique, DuplicateStorage, DuplicateTable, EntryValue, FastHasher, Slot,
    UniqueTable,
};

/// Storage over [`scc::HashMap`](::scc::HashMap): buckets locked one at a time, no shard-wide
/// lock, and incremental resizing; `V` is the value kept beside each process (none by default).
pub struct SccTable<V = ()>(::scc::HashMap<Name, Slot<V>, FastHasher>);

name_table_over_unique!(SccTable, "scc");

impl<V: EntryValue> UniqueTable<V> for SccTable<V> {
    fn with_capacity(capacity: usize) -> Self {
        SccTable(::scc::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.read(name, |_, s| s.process.clone())
    }

    fn entry(&self, name: &Name) -> Option<(ProcessRef, V)> {
        self.0
            .read(name, |_, s| (s.process.clone(), s.value.clone()))
    }

    fn insert_new(&self, name: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(name) {
            ::scc::hash_map::Entry::Occupied(held) => Err(held.get().process.clone()),
            ::scc::hash_map::Entry::Vacant(free) => {
                free.insert_entry(Slot::new(process, value));
                Ok(())
            }
        }
    }

    fn replace_if_owner(&self, name: &Name, owner: Pid, value: V) -> Result<V, Option<Pid>> {
        self.0
            .update(name, |_, held| {
                if held.process.pid() == owner {
                    Ok(std::mem::replace(&mut held.value, value))
                } else {
                    Err(Some(held.process.pid()))
                }
            })
            .unwrap_or(Err(None))
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        match self.0.remove_if(name, |s| s.process.pid() == owner) {
            Some((_, s)) => Ok(s.process),
            None => Err(self.0.read(name, |_, s| s.process.pid())),
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        self.0.scan(|k, s| f(k, &s.process, &s.value));
    }

    /// `O(capacity)`: scc counts by visiting its buckets.
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl DuplicateStorage for SccTable {
    const LABEL: &'static str = "scc";
    type Table<V: EntryValue> = SccDuplicates<V>;
}

/// Duplicate-key storage over scc: bags edited in place under the bucket lock.
pub struct SccDuplicates<V>(::scc::HashMap<Name, Bag<V>, FastHasher>);

impl<V: EntryValue> DuplicateTable<V> for SccDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        SccDuplicates(::scc::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    fn insert(&self, key: Name, process: ProcessRef, value: V) {
        match self.0.entry(key) {
            ::scc::hash_map::Entry::Occupied(mut bag) => bag.get_mut().push(process, value),
            ::scc::hash_map::Entry::Vacant(free) => {
                free.insert_entry(Bag::with(process, value));
            }
        }
    }

    fn insert_if_vacant(&self, key: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.entry(key) {
            ::scc::hash_map::Entry::Occupied(mut bag) => {
                bag.get_mut().push_if_vacant(process, value)
            }
            ::scc::hash_map::Entry::Vacant(free) => {
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

    fn remove_matching(&self, key: &Name, pid: Pid, mut pattern: impl FnMut(&V) -> bool) -> usize {
        let mut removed = 0;
        self.0.remove_if(key, |bag| {
            removed = bag.remove_matching(pid, &mut pattern);
            bag.is_empty()
        });
        removed
    }

    fn for_each(&self, key: &Name, mut f: impl FnMut(&ProcessRef, &V)) {
        self.0.read(key, |_, bag| bag.for_each(&mut f));
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        self.0
            .scan(|key, bag| bag.for_each(&mut |p, v| f(key, p, v)));
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

//! flurry (a port of Java's `ConcurrentHashMap`: lock-free reads under an epoch guard, a
//! lock per bin for writes). Holds [`FlurryTable`] (unique keys) and [`FlurryDuplicates`]
//! (duplicate keys).

use std::sync::Arc;

use parking_lot::Mutex;
use process_runtime::{Name, Pid, ProcessRef};

use super::bag::{take_holder, Bag};
use super::{
    name_table_over_unique, DuplicateStorage, DuplicateTable, EntryValue, FastHasher, Slot,
    UniqueTable,
};

/// Storage over [`flurry::HashMap`](::flurry::HashMap), a port of Java's `ConcurrentHashMap`: lock-free reads
/// under a pinned epoch guard, a lock per bin for writes; `V` is the value kept beside each
/// process (none by default).
///
/// Each operation pins its own guard and drops it before returning; no guard is ever held
/// across an `.await` or handed out.
pub struct FlurryTable<V = ()>(::flurry::HashMap<Name, Slot<V>, FastHasher>);

name_table_over_unique!(FlurryTable, "flurry");

impl<V: EntryValue> UniqueTable<V> for FlurryTable<V> {
    fn with_capacity(capacity: usize) -> Self {
        FlurryTable(::flurry::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.pin().get(name).map(|s| s.process.clone())
    }

    fn entry(&self, name: &Name) -> Option<(ProcessRef, V)> {
        self.0
            .pin()
            .get(name)
            .map(|s| (s.process.clone(), s.value.clone()))
    }

    fn insert_new(&self, name: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef> {
        match self.0.pin().try_insert(name, Slot::new(process, value)) {
            Ok(_) => Ok(()),
            Err(taken) => Err(taken.current.process.clone()),
        }
    }

    fn replace_if_owner(&self, name: &Name, owner: Pid, value: V) -> Result<V, Option<Pid>> {
        // Values are immutable once published: the entry is replaced under the bin lock,
        // and left as it is if someone else holds the name.
        let map = self.0.pin();
        let mut outcome = Err(None);
        map.compute_if_present(name, |_, held| {
            if held.process.pid() == owner {
                outcome = Ok(held.value.clone());
                Some(Slot::new(held.process.clone(), value))
            } else {
                outcome = Err(Some(held.process.pid()));
                Some(held.clone())
            }
        });
        outcome
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        let map = self.0.pin();
        // Read first: a refusal (the common case of a stale exit notice) writes nothing.
        match map.get(name) {
            None => return Err(None),
            Some(held) if held.process.pid() != owner => return Err(Some(held.process.pid())),
            Some(_) => {}
        }
        // flurry has no conditional remove: `compute_if_present` runs the check under the
        // bin lock; if the holder changed in between, the value is put back unchanged.
        let mut removed = None;
        let after = map.compute_if_present(name, |_, held| {
            if held.process.pid() == owner {
                removed = Some(held.process.clone());
                None
            } else {
                Some(held.clone())
            }
        });
        match removed {
            Some(process) => Ok(process),
            None => Err(after.map(|s| s.process.pid())),
        }
    }

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        for (k, s) in self.0.pin().iter() {
            f(k, &s.process, &s.value);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl DuplicateStorage for FlurryTable {
    const LABEL: &'static str = "flurry";
    type Table<V: EntryValue> = FlurryDuplicates<V>;
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
pub struct FlurryDuplicates<V>(::flurry::HashMap<Name, SharedBag<V>, FastHasher>);

impl<V: EntryValue> FlurryDuplicates<V> {
    fn fresh(process: ProcessRef, value: V) -> SharedBag<V> {
        Arc::new(Mutex::new(FlurryBag {
            bag: Bag::with(process, value),
            dead: false,
        }))
    }

    /// Takes `bag` (already marked dead) out of the map, unless the key now maps elsewhere.
    fn unlink(
        map: &::flurry::HashMapRef<'_, Name, SharedBag<V>, FastHasher>,
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
        FlurryDuplicates(::flurry::HashMap::with_capacity_and_hasher(
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

    fn remove_matching(&self, key: &Name, pid: Pid, pattern: impl FnMut(&V) -> bool) -> usize {
        self.edit(key, 0, |bag| bag.remove_matching(pid, pattern))
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

    fn for_each_entry(&self, mut f: impl FnMut(&Name, &ProcessRef, &V)) {
        let map = self.0.pin();
        for (key, shared) in map.iter() {
            let b = shared.lock();
            if !b.dead {
                b.bag.for_each(&mut |p, v| f(key, p, v));
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

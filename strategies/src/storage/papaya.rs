//! papaya (a lock-free open-addressing table: reads and writes never block, memory freed
//! through `seize`'s reference-counted reclamation). Holds [`PapayaTable`] (unique keys) and
//! [`PapayaDuplicates`] (duplicate keys).

use parking_lot::Mutex;
use process_runtime::{Name, Pid, ProcessRef};

use super::bag::{take_holder, Bag};
use super::{
    name_table_over_unique, DuplicateStorage, DuplicateTable, EntryValue, FastHasher, Slot,
    UniqueTable,
};

/// Storage over [`papaya::HashMap`](::papaya::HashMap): lock-free reads and writes under a
/// pinned guard, incremental resizing (papaya's default, so no insert pays for a whole
/// resize; the registry's names are dynamic); `V` is the value kept beside each process
/// (none by default).
///
/// Each operation pins one guard and drops it before returning; no guard is ever held
/// across an `.await` or handed out.
pub struct PapayaTable<V = ()>(::papaya::HashMap<Name, Slot<V>, FastHasher>);

name_table_over_unique!(PapayaTable, "papaya");

impl<V: EntryValue> UniqueTable<V> for PapayaTable<V> {
    fn with_capacity(capacity: usize) -> Self {
        PapayaTable(::papaya::HashMap::with_capacity_and_hasher(
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
        // papaya's compute checks the very entry it replaces (a lost race re-checks the
        // newer one), so the owner check and the replacement are one atomic step.
        let map = self.0.pin();
        let outcome = map.compute(name.clone(), |entry| match entry {
            Some((_, held)) if held.process.pid() == owner => {
                ::papaya::Operation::Insert(Slot::new(held.process.clone(), value.clone()))
            }
            Some((_, held)) => ::papaya::Operation::Abort(Some(held.process.pid())),
            None => ::papaya::Operation::Abort(None),
        });
        match outcome {
            ::papaya::Compute::Updated { old: (_, old), .. } => Ok(old.value.clone()),
            ::papaya::Compute::Aborted(holder) => Err(holder),
            // Not produced by the operations above; reported as nobody holding the name.
            ::papaya::Compute::Inserted(..) | ::papaya::Compute::Removed(..) => Err(None),
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        // papaya's conditional remove checks the very entry it then removes (a lost race
        // re-checks the newer one), so owner check and removal are one atomic step.
        match self
            .0
            .pin()
            .remove_if(name, |_, held| held.process.pid() == owner)
        {
            Ok(Some((_, removed))) => Ok(removed.process.clone()),
            Ok(None) => Err(None),
            Err((_, held)) => Err(Some(held.process.pid())),
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

impl DuplicateStorage for PapayaTable {
    const LABEL: &'static str = "papaya";
    type Table<V: EntryValue> = PapayaDuplicates<V>;
}

/// A papaya bag: papaya hands out shared references only, so each key's bag sits behind its
/// own mutex, stored in the map's entry itself (no extra allocation). A bag emptied by a
/// removal is marked `dead` before it leaves the map, and writers that find a dead bag help
/// remove it and retry.
struct PapayaBag<V> {
    bag: Bag<V>,
    dead: bool,
}

type LockedBag<V> = Mutex<PapayaBag<V>>;

type Pinned<'m, V> =
    ::papaya::HashMapRef<'m, Name, LockedBag<V>, FastHasher, ::papaya::LocalGuard<'m>>;

/// Duplicate-key storage over papaya: a lock-free index of keys, a mutex per key's bag.
pub struct PapayaDuplicates<V>(::papaya::HashMap<Name, LockedBag<V>, FastHasher>);

impl<V: EntryValue> PapayaDuplicates<V> {
    fn fresh(process: ProcessRef, value: V) -> LockedBag<V> {
        Mutex::new(PapayaBag {
            bag: Bag::with(process, value),
            dead: false,
        })
    }

    /// Takes `bag` (already marked dead) out of the map, unless the key now maps elsewhere.
    fn unlink(map: &Pinned<'_, V>, key: &Name, bag: &LockedBag<V>) {
        let _ = map.remove_if(key, |_, current| std::ptr::eq(current, bag));
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
            // The bag is built only when the key is found vacant.
            let inserted =
                map.try_insert_with(key.clone(), || Self::fresh(process.clone(), value.clone()));
            if inserted.is_ok() {
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

impl<V: EntryValue> DuplicateTable<V> for PapayaDuplicates<V> {
    fn with_capacity(capacity: usize) -> Self {
        PapayaDuplicates(::papaya::HashMap::with_capacity_and_hasher(
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

//! More storage for [`Registry`](crate::Registry): the same unique-key registry over
//! flurry, scc and a hand-sharded `RwLock` baseline, so that only the map differs.
//!
//! **BEAM original**: the ETS `:set` table behind each partition of Elixir's `Registry`
//! (`read_concurrency: true`): callers read it directly, writes are short critical sections.
//! The variants here are different answers to "which concurrent map plays ETS":
//!
//! | storage | reads | writes | choose it |
//! |---|---|---|---|
//! | [`DashMapTable`](crate::DashMapTable) | shard `RwLock` read | shard `RwLock` write | the default; good all round |
//! | [`FlurryTable`] | lock-free (epoch-pinned) | per-bin lock, boxed values | read-heavy, many cores, reads must never wait on a writer |
//! | [`SccTable`] | per-bucket, no global lock | per-bucket lock | write-heavy churn (register/exit storms) |
//! | [`RwLockTable`] | shard `RwLock` read | shard `RwLock` write | the baseline: what a hand-rolled sharded map costs |
//!
//! **Costs**: every variant does one hash (with [`FastHasher`]) and one table probe per
//! lookup plus the clone of a `ProcessRef` (one reference-count increment). flurry
//! allocates a node per insert and frees removed values only after every pinned reader has
//! moved on; scc's `len` visits every bucket, so `registered_count` is `O(capacity)` there.

use std::hash::BuildHasher;

use parking_lot::RwLock;
use process_runtime::{Name, Pid, ProcessRef};

use crate::storage::{FastHasher, NameTable};

/// Storage over [`flurry::HashMap`], a port of Java's `ConcurrentHashMap`: lock-free reads
/// under a pinned epoch guard, a lock per bin for writes.
///
/// Each operation pins its own guard and drops it before returning; no guard is ever held
/// across an `.await` or handed out.
pub struct FlurryTable(flurry::HashMap<Name, ProcessRef, FastHasher>);

impl NameTable for FlurryTable {
    const LABEL: &'static str = "flurry";

    fn with_capacity(capacity: usize) -> Self {
        FlurryTable(flurry::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.pin().get(name).cloned()
    }

    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef> {
        match self.0.pin().try_insert(name, process) {
            Ok(_) => Ok(()),
            Err(taken) => Err(taken.current.clone()),
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        let map = self.0.pin();
        // Read first: a refusal (the common case of a stale exit notice) writes nothing.
        match map.get(name) {
            None => return Err(None),
            Some(held) if held.pid() != owner => return Err(Some(held.pid())),
            Some(_) => {}
        }
        // flurry has no conditional remove: `compute_if_present` runs the check under the
        // bin lock; if the holder changed in between, the value is put back unchanged.
        let mut removed = None;
        let after = map.compute_if_present(name, |_, held| {
            if held.pid() == owner {
                removed = Some(held.clone());
                None
            } else {
                Some(held.clone())
            }
        });
        match removed {
            Some(process) => Ok(process),
            None => Err(after.map(ProcessRef::pid)),
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Storage over [`scc::HashMap`]: buckets locked one at a time, no shard-wide lock, and
/// incremental resizing.
pub struct SccTable(scc::HashMap<Name, ProcessRef, FastHasher>);

impl NameTable for SccTable {
    const LABEL: &'static str = "scc";

    fn with_capacity(capacity: usize) -> Self {
        SccTable(scc::HashMap::with_capacity_and_hasher(
            capacity,
            FastHasher::default(),
        ))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        self.0.read(name, |_, p| p.clone())
    }

    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef> {
        match self.0.entry(name) {
            scc::hash_map::Entry::Occupied(held) => Err(held.get().clone()),
            scc::hash_map::Entry::Vacant(free) => {
                free.insert_entry(process);
                Ok(())
            }
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        match self.0.remove_if(name, |p| p.pid() == owner) {
            Some((_, p)) => Ok(p),
            None => Err(self.0.read(name, |_, p| p.pid())),
        }
    }

    /// `O(capacity)`: scc counts by visiting its buckets.
    fn len(&self) -> usize {
        self.0.len()
    }
}

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
/// shard picked by the key's hash. What dashmap does, written out by hand.
pub struct RwLockTable(Shards<ProcessRef>);

impl NameTable for RwLockTable {
    const LABEL: &'static str = "rwlock";

    fn with_capacity(capacity: usize) -> Self {
        RwLockTable(Shards::with_capacity(capacity))
    }

    #[inline]
    fn get(&self, name: &Name) -> Option<ProcessRef> {
        let (hash, shard) = self.0.locate(name);
        let map = shard.read();
        map.raw_entry()
            .from_key_hashed_nocheck(hash, name)
            .map(|(_, p)| p.clone())
    }

    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef> {
        let (hash, shard) = self.0.locate(&name);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, &name) {
            hashbrown::hash_map::RawEntryMut::Occupied(held) => Err(held.get().clone()),
            hashbrown::hash_map::RawEntryMut::Vacant(free) => {
                free.insert_hashed_nocheck(hash, name, process);
                Ok(())
            }
        }
    }

    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
        let (hash, shard) = self.0.locate(name);
        let mut map = shard.write();
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, name) {
            hashbrown::hash_map::RawEntryMut::Occupied(held) if held.get().pid() == owner => {
                Ok(held.remove())
            }
            hashbrown::hash_map::RawEntryMut::Occupied(held) => Err(Some(held.get().pid())),
            hashbrown::hash_map::RawEntryMut::Vacant(_) => Err(None),
        }
    }

    fn len(&self) -> usize {
        self.0.all().map(|s| s.read().len()).sum()
    }
}

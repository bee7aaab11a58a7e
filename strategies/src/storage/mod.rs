//! The concurrent maps the registries sit on: one file per map, each holding that map's
//! unique-key adapter ([`NameTable`], for [`Registry`](crate::Registry)) and its
//! duplicate-key adapter ([`DuplicateTable`], for
//! [`DuplicateRegistry`](crate::DuplicateRegistry)), so that the registry logic is written
//! once and only the map differs.
//!
//! **BEAM original**: the ETS `:set` table behind each partition of Elixir's `Registry`
//! (`read_concurrency: true`): callers read it directly, writes are short critical sections.
//! The variants here are different answers to "which concurrent map plays ETS":
//!
//! | storage | reads | writes | choose it |
//! |---|---|---|---|
//! | [`DashMapTable`] | shard `RwLock` read | shard `RwLock` write | the default; good all round |
//! | [`FlurryTable`] | lock-free (epoch-pinned) | per-bin lock, boxed values | read-heavy, many cores, reads must never wait on a writer |
//! | [`SccTable`] | per-bucket, no global lock | per-bucket lock | write-heavy churn (register/exit storms) |
//! | [`RwLockTable`] | shard `RwLock` read | shard `RwLock` write | the baseline: what a hand-rolled sharded map costs |
//! | [`PapayaTable`] | lock-free (guard-pinned) | lock-free (CAS), incremental resize | reads and writes must never block; predictable tail latency |
//!
//! **Costs**: every variant does one hash (with [`FastHasher`]) and one table probe per
//! lookup plus the clone of a `ProcessRef` (one reference-count increment). flurry and
//! papaya allocate an entry per insert and free removed values only after every pinned
//! reader has moved on (papaya keeps a duplicate key's bag, with its mutex, in that
//! entry); scc's `len` visits every bucket, so `registered_count` is `O(capacity)` there.
//!
//! | file | unique keys | duplicate keys |
//! |---|---|---|
//! | `dashmap.rs` | [`DashMapTable`] | [`DashMapDuplicates`] |
//! | `flurry.rs` | [`FlurryTable`] | [`FlurryDuplicates`] |
//! | `scc.rs` | [`SccTable`] | [`SccDuplicates`] |
//! | `rwlock.rs` | [`RwLockTable`] | [`RwLockDuplicates`] |
//! | `papaya.rs` | [`PapayaTable`] | [`PapayaDuplicates`] |
//!
//! One marker type chooses the storage of both registries: `Registry<FlurryTable>` and
//! `DuplicateRegistry<FlurryTable>` (through [`DuplicateStorage`]). A registry that keeps a
//! value with each entry sits on the same map holding `(process, value)` entries
//! ([`UniqueTable`], reached as [`NameTable::Unique`]); `FlurryTable` is `FlurryTable<()>`.

mod bag;
mod dashmap;
mod flurry;
mod papaya;
mod rwlock;
mod scc;

pub use dashmap::{DashMapDuplicates, DashMapTable};
pub use flurry::{FlurryDuplicates, FlurryTable};
pub use papaya::{PapayaDuplicates, PapayaTable};
pub use rwlock::{RwLockDuplicates, RwLockTable};
pub use scc::{SccDuplicates, SccTable};

use process_runtime::{Name, Pid, ProcessRef};

/// The hasher every table in the suite uses, so storage variants differ only in the map.
/// Its seed is fixed, so a table places the same keys in the same buckets in every process
/// and a measurement does not depend on a seed draw (foldhash's random seed is no defence
/// against hash flooding either; a deployment that needs one swaps in a keyed hasher).
pub type FastHasher = foldhash::fast::FixedState;

/// A concurrent name -> process table with unique keys.
///
/// One small trait, so that each storage crate is one adapter and the registry logic is
/// written once.
pub trait NameTable: Send + Sync + 'static {
    /// Short label used in results, e.g. `dashmap`.
    const LABEL: &'static str;

    /// The same storage holding a value `V` beside each process (what a
    /// `Registry<Self, V>` sits on); `Self` is this table with `V = ()`.
    type Unique<V: EntryValue>: UniqueTable<V>;

    /// An empty table sized for about `capacity` names.
    fn with_capacity(capacity: usize) -> Self;

    /// The process under `name`.
    fn get(&self, name: &Name) -> Option<ProcessRef>;

    /// Inserts `process` under `name` unless the name is taken; `Err(holder)` if it is.
    fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef>;

    /// Removes `name` if `owner` holds it and returns the removed process;
    /// `Err(Some(holder))` if someone else holds it, `Err(None)` if nobody does.
    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>>;

    /// How many names the table holds.
    fn len(&self) -> usize;

    /// Whether the table is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A concurrent name -> (process, value) table with unique keys: the storage of a
/// [`Registry`](crate::Registry) (Elixir keeps `{key, {pid, value}}` in its ETS `:set`).
///
/// The value sits in the same table entry as the process, so [`get`](Self::get) (the lookup
/// hot path) reads one entry and clones only the [`ProcessRef`]; with `V = ()` an entry is
/// laid out exactly as a bare `ProcessRef`.
pub trait UniqueTable<V: EntryValue>: Send + Sync + 'static {
    /// An empty table sized for about `capacity` names.
    fn with_capacity(capacity: usize) -> Self;

    /// The process under `name` (the hot path: the value is not read).
    fn get(&self, name: &Name) -> Option<ProcessRef>;

    /// The process under `name` and its value.
    fn entry(&self, name: &Name) -> Option<(ProcessRef, V)>;

    /// Inserts `(process, value)` under `name` unless the name is taken; `Err(holder)` if it is.
    fn insert_new(&self, name: Name, process: ProcessRef, value: V) -> Result<(), ProcessRef>;

    /// Replaces the value under `name` if `owner` holds it and returns the value replaced;
    /// `Err(Some(holder))` if someone else holds it, `Err(None)` if nobody does.
    fn replace_if_owner(&self, name: &Name, owner: Pid, value: V) -> Result<V, Option<Pid>>;

    /// Removes `name` if `owner` holds it and returns the removed process;
    /// `Err(Some(holder))` if someone else holds it, `Err(None)` if nobody does.
    fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>>;

    /// Calls `f` on every entry (a walk of the whole table, for `select` and `keys`). `f`
    /// may run under a lock of the table: it must not block or touch the table.
    fn for_each_entry(&self, f: impl FnMut(&Name, &ProcessRef, &V));

    /// How many names the table holds.
    fn len(&self) -> usize;

    /// Whether the table is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One entry of a [`UniqueTable`]: the process and its value side by side.
#[derive(Clone)]
pub(crate) struct Slot<V> {
    pub(crate) process: ProcessRef,
    pub(crate) value: V,
}

impl<V> Slot<V> {
    pub(crate) fn new(process: ProcessRef, value: V) -> Self {
        Slot { process, value }
    }
}

/// Implements [`NameTable`] for a storage's `UniqueTable<()>`: the unit-valued table is the
/// plain name table, so the raw-table floors and every existing user keep working.
macro_rules! name_table_over_unique {
    ($table:ident, $label:literal) => {
        impl $crate::storage::NameTable for $table {
            const LABEL: &'static str = $label;
            type Unique<V: $crate::storage::EntryValue> = $table<V>;

            fn with_capacity(capacity: usize) -> Self {
                <Self as $crate::storage::UniqueTable<()>>::with_capacity(capacity)
            }

            #[inline]
            fn get(&self, name: &Name) -> Option<ProcessRef> {
                <Self as $crate::storage::UniqueTable<()>>::get(self, name)
            }

            fn insert_new(&self, name: Name, process: ProcessRef) -> Result<(), ProcessRef> {
                <Self as $crate::storage::UniqueTable<()>>::insert_new(self, name, process, ())
            }

            fn remove_if_owner(&self, name: &Name, owner: Pid) -> Result<ProcessRef, Option<Pid>> {
                <Self as $crate::storage::UniqueTable<()>>::remove_if_owner(self, name, owner)
            }

            fn len(&self) -> usize {
                <Self as $crate::storage::UniqueTable<()>>::len(self)
            }
        }
    };
}
pub(crate) use name_table_over_unique;

/// What a registry can store next to each entry (Elixir's `value`).
pub trait EntryValue: Clone + Send + Sync + 'static {}

impl<V: Clone + Send + Sync + 'static> EntryValue for V {}

/// A concurrent key -> bag-of-entries table: the storage of a
/// [`DuplicateRegistry`](crate::DuplicateRegistry).
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

    /// Removes those of `pid`'s entries under `key` whose value satisfies `pattern`; how
    /// many were removed (the key's other entries, and others' entries, stay).
    fn remove_matching(&self, key: &Name, pid: Pid, pattern: impl FnMut(&V) -> bool) -> usize;

    /// Calls `f` on every entry under `key`.
    fn for_each(&self, key: &Name, f: impl FnMut(&ProcessRef, &V));

    /// Calls `f` on every entry of every key (a walk of the whole table, for `select` and
    /// `keys`). `f` runs under the table's locks: it must not block or touch the table.
    fn for_each_entry(&self, f: impl FnMut(&Name, &ProcessRef, &V));

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

//! Gproc: a rich local registry with unique names, properties, counters and aggregated counters.
//!
//! **BEAM original** (`uwiger/gproc`, as presented in seed 003, Saša Jurić's talk
//! "Discovering processes"): keys `{Type, Scope, Key}` with types `n`
//! (unique name), `p` (property: any number of processes under one key, each with its own
//! value), `c` (counter: a per-process integer under a key) and `a` (aggregated counter: the
//! sum of the `c` of that key, kept current). One public `ordered_set` holds the entries and
//! reverse entries `{Pid, Key}`; writes of `n`/`c`/`a` go through the gproc server (`p` is
//! inserted by the caller, then a cast has the server monitor it), reads
//! (`where`, `lookup_pids`, `lookup_values`, `send`, `select`) go straight to the table, the
//! server monitors every registered process and on `DOWN` deletes its keys through the reverse
//! entries (adjusting aggregated counters), and `await(Key, Timeout)` parks the caller until
//! the name appears. Only local scope (`l`) is modelled here.
//!
//! **Here, and why there is no server**: gproc needs its server for four things that this
//! runtime and concurrent tables give more cheaply, so every operation runs in the caller
//! and no write waits behind another key's:
//! - *Uniqueness*: ETS has `insert_new`, but gproc also has to write the reverse entry and
//!   set up the monitor, so it funnels `n` through one process. Here a unique name is one
//!   atomic insert-if-absent into a concurrent ordered tree (`scc::TreeIndex`, standing in for
//!   the `ordered_set`, so key-prefix selects are range scans), done while holding the
//!   registering process's reverse-index entry.
//! - *Cleanup*: instead of a monitor and a `DOWN` handled later, the first key a process takes
//!   attaches one exit hook to it ([`ProcessRef::hold_name`]); the process's own exit path
//!   runs it, and it deletes every key listed in the process's reverse-index entry before
//!   any monitor or link hears of the exit. So there is no window in which a lookup sees a
//!   dead holder's key (reads still filter by liveness, as gproc's do, for the instant
//!   between the process stopping and its hook running), and no single process to fall
//!   behind. The reverse index (pid -> its keys) is gproc's `{Pid, Key}` entries; an entry
//!   is marked exited under its own lock, so a registration racing the exit either lands
//!   before it (and is cleaned) or fails with `NoProc`.
//! - *Counters and aggregates*: gproc serialises `c`/`a` writes to keep the `a` equal to the
//!   sum of its `c`s. Here all counters of one key and its aggregate live in one entry of a
//!   sharded map and every change to any of them (update, registration, unregistration,
//!   exit) is made under that entry's shard write lock: per key the sum is exact at every
//!   instant a reader can observe, while updates to different keys do not wait on each other.
//! - *Await*: a waiter records itself in a waiter table, then re-reads the names; a
//!   registration inserts the name, then takes the waiter table's lock for that name and
//!   wakes whoever is there. The waiter table's lock orders the two, so a wake-up cannot be
//!   lost; a waiter that times out or is dropped removes itself.
//! - *Name writes, values and monitors*: every write to a unique name (register, unregister,
//!   exit cleanup, give-away, value change, monitor set-up) holds a lock striped by the name,
//!   taken after the process's reverse-index lock; reads take no lock. That makes
//!   `reg_or_locate` (one winner, everyone told the same holder), `mreg` (all names or none:
//!   every stripe involved is held, in order, across the check and the inserts), a give-away
//!   (writers see one step) and monitor notices (sent under the stripe, so a watcher sees
//!   `unreg` and `registered` in the order they happened) what gproc's server makes them.
//!   Name values (`reg/2`) live beside the names; a name without one is gproc's `undefined`.
//!   Monitors (`info`: until the name is unregistered; `follow`: until demonitored, told of
//!   every unregistration and registration) put a [`NameEvent`] in the watcher's mailbox;
//!   a watcher that died is dropped at its name's next notice, not by a `DOWN`.
//!
//! **Costs**: a lookup is a lock-free ordered-tree read (`O(log n)`) plus a liveness check;
//! a name registration is that insert plus a reverse-index entry update (a shard lock and a
//! mutex; the first key of a process also attaches its exit hook) and the name's stripe lock;
//! property and counter operations take one shard lock of their key; an exit costs one
//! delete per key held.
//! Selects by tag or text prefix are range scans, by predicate full scans.
//! **Choose it** when names are not enough: pub/sub style properties, per-process metrics
//! with live totals, waiting for a service to appear, or queries over key patterns
//! (`{:session, _}`).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use parking_lot::Mutex;
use process_runtime::{CallError, Ctx, ExitObserver, Name, Pid, ProcessRef};
use scc::TreeIndex;
use tokio::sync::oneshot;

use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::storage::FastHasher;

/// One key a process holds, by type (gproc's `n`, `p`, `c`, `a`; local scope).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GprocKey {
    /// A unique name (`{:n, :l, name}`).
    Name(Name),
    /// A property (`{:p, :l, key}`): many holders, each with a value.
    Property(Name),
    /// A counter (`{:c, :l, key}`): a per-process integer.
    Counter(Name),
    /// An aggregated counter (`{:a, :l, key}`): the sum of the key's counters, one holder.
    Aggregated(Name),
}

/// Which names a select returns.
#[derive(Clone, Copy)]
pub enum KeyPattern<'a> {
    /// Every key.
    All,
    /// Every `Name::Tagged(tag, _)`, e.g. all `{:session, _}` (a range scan).
    Tagged(&'static str),
    /// Every `Name::Text` starting with this prefix (a range scan).
    TextPrefix(&'a str),
    /// Every key the predicate accepts (a full scan).
    Where(&'a (dyn Fn(&Name) -> bool + Sync)),
}

impl KeyPattern<'_> {
    /// Whether `name` matches.
    pub fn matches(&self, name: &Name) -> bool {
        match self {
            KeyPattern::All => true,
            KeyPattern::Tagged(tag) => matches!(name, Name::Tagged(t, _) if t.as_str() == *tag),
            KeyPattern::TextPrefix(prefix) => {
                matches!(name, Name::Text(s) if s.starts_with(prefix))
            }
            KeyPattern::Where(pred) => pred(name),
        }
    }
}

/// One process's counter under a key: its value and the value it was registered with
/// (what [`Gproc::reset_counter`] returns it to).
struct Counter {
    process: ProcessRef,
    value: i64,
    initial: i64,
}

/// The counters of one key and its aggregate, changed together under one lock.
struct CounterGroup {
    counters: HashMap<Pid, Counter, FastHasher>,
    /// The sum of `counters` (wrapping), kept whether or not an aggregate is registered.
    total: i64,
    aggregate: Option<ProcessRef>,
}

impl CounterGroup {
    fn new() -> Self {
        CounterGroup {
            counters: HashMap::default(),
            total: 0,
            aggregate: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.aggregate.is_none()
    }
}

type Holders<V> = HashMap<Pid, (ProcessRef, V), FastHasher>;

/// The reverse-index entry of one process: the keys it holds.
#[derive(Default)]
struct ProcKeys {
    exited: bool,
    keys: Vec<GprocKey>,
}

type ProcEntry = Arc<Mutex<ProcKeys>>;

/// What a name monitor reports (gproc's `{gproc, Event, Ref, Key}` messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameEventKind {
    /// The name was unregistered, by its owner or by its owner's exit, or it was not
    /// registered when a monitor was set (`{gproc, unreg, Ref, Key}`).
    Unreg,
    /// A process registered the name again (`{gproc, registered, Ref, Key}`; `Follow` only).
    Registered,
    /// The name was given away to this process (`{gproc, {migrated, To}, Ref, Key}`).
    Migrated(Pid),
}

/// Names one monitor, to tell its notices apart and to remove it ([`Gproc::demonitor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorRef(pub u64);

/// The message a name monitor puts in its watcher's mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameEvent {
    /// What happened.
    pub kind: NameEventKind,
    /// The monitor that reports it.
    pub monitor: MonitorRef,
    /// The name it happened to.
    pub name: Name,
}

/// How long a name monitor lasts (gproc's monitor types `info` and `follow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMode {
    /// Until the name is unregistered: one `Unreg` notice (at once if it is not registered),
    /// `Migrated` notices before that.
    Info,
    /// Until demonitored: `Unreg` on every unregistration (and at once if it is not
    /// registered) and `Registered` on every registration.
    Follow,
}

/// One watcher of one name.
struct NameMonitor {
    reference: MonitorRef,
    watcher: ProcessRef,
    mode: MonitorMode,
}

/// How many stripes the unique-name write locks have.
const NAME_STRIPES: usize = 64;

struct Inner<V> {
    names: TreeIndex<Name, ProcessRef>,
    name_count: AtomicUsize,
    /// Every write to `names` (and to `name_values` and `monitors`) holds its name's stripe:
    /// reads stay lock-free, while a registration's check, insert and notices, a give-away's
    /// move and a removal's notices are one step each to every other writer.
    name_locks: Box<[Mutex<()>]>,
    /// The values of unique names registered with one (`gproc:reg({n, l, Name}, Value)`).
    name_values: DashMap<Name, V, FastHasher>,
    /// The name monitors (`gproc:monitor/2`) of each name.
    monitors: DashMap<Name, Vec<NameMonitor>, FastHasher>,
    /// How many monitors there are, so that writes skip the table when there are none.
    monitor_count: AtomicUsize,
    next_monitor: AtomicU64,
    props: DashMap<Name, Holders<V>, FastHasher>,
    counters: DashMap<Name, CounterGroup, FastHasher>,
    procs: DashMap<Pid, ProcEntry, FastHasher>,
    waiters: DashMap<Name, Vec<oneshot::Sender<ProcessRef>>, FastHasher>,
}

impl<V> Inner<V> {
    /// The write lock of `name`'s stripe.
    fn name_lock(&self, name: &Name) -> &Mutex<()> {
        let h = FastHasher::default().hash_one(name);
        &self.name_locks[h as usize % NAME_STRIPES]
    }

    fn remove_name(&self, name: &Name, owner: Pid) -> bool {
        let _stripe = self.name_lock(name).lock();
        self.remove_name_locked(name, owner)
    }

    /// Removes `name` if `owner` holds it, with its value, and tells its monitors; the
    /// caller holds the name's stripe.
    fn remove_name_locked(&self, name: &Name, owner: Pid) -> bool {
        let removed = self.names.remove_if(name, |p| p.pid() == owner);
        if removed {
            self.name_count.fetch_sub(1, Ordering::AcqRel);
            self.name_values.remove(name);
            self.notify(name, NameEventKind::Unreg);
        }
        removed
    }

    /// Sends `kind` to every live monitor of `name`; drops dead monitors, and `Info`
    /// monitors on `Unreg` (they end there). The caller holds the name's stripe.
    fn notify(&self, name: &Name, kind: NameEventKind) {
        if self.monitor_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut dropped = 0;
        self.monitors.remove_if_mut(name, |_, list| {
            list.retain(|m| {
                if kind == NameEventKind::Registered && m.mode == MonitorMode::Info {
                    return true;
                }
                let event = NameEvent {
                    kind,
                    monitor: m.reference,
                    name: name.clone(),
                };
                let keep = m.watcher.send(event).is_ok()
                    && !(kind == NameEventKind::Unreg && m.mode == MonitorMode::Info);
                if !keep {
                    dropped += 1;
                }
                keep
            });
            list.is_empty()
        });
        self.monitor_count.fetch_sub(dropped, Ordering::AcqRel);
    }

    /// Wakes every `await_name` of `name` with `process`, its new holder.
    fn wake_waiters(&self, name: &Name, process: &ProcessRef) {
        // After the insert, under the waiter table's lock: see the module doc.
        if let Some((_, senders)) = self.waiters.remove(name) {
            for s in senders {
                let _ = s.send(process.clone());
            }
        }
    }

    fn remove_property(&self, key: &Name, owner: Pid) -> bool {
        let mut removed = false;
        self.props.remove_if_mut(key, |_, holders| {
            removed = holders.remove(&owner).is_some();
            holders.is_empty()
        });
        removed
    }

    fn remove_counter(&self, key: &Name, owner: Pid) -> bool {
        let mut removed = false;
        self.counters.remove_if_mut(key, |_, group| {
            if let Some(c) = group.counters.remove(&owner) {
                group.total = group.total.wrapping_sub(c.value);
                removed = true;
            }
            group.is_empty()
        });
        removed
    }

    fn remove_aggregated(&self, key: &Name, owner: Pid) -> bool {
        let mut removed = false;
        self.counters.remove_if_mut(key, |_, group| {
            if group.aggregate.as_ref().is_some_and(|a| a.pid() == owner) {
                group.aggregate = None;
                removed = true;
            }
            group.is_empty()
        });
        removed
    }

    fn remove_key(&self, key: &GprocKey, owner: Pid) -> bool {
        match key {
            GprocKey::Name(n) => self.remove_name(n, owner),
            GprocKey::Property(k) => self.remove_property(k, owner),
            GprocKey::Counter(k) => self.remove_counter(k, owner),
            GprocKey::Aggregated(k) => self.remove_aggregated(k, owner),
        }
    }
}

impl<V: Send + Sync + 'static> ExitObserver for Inner<V> {
    fn process_exited(&self, pid: Pid, _name: &Name, _tag: u32) {
        let Some((_, entry)) = self.procs.remove(&pid) else {
            return;
        };
        let keys = {
            let mut held = entry.lock();
            held.exited = true;
            std::mem::take(&mut held.keys)
        };
        for key in &keys {
            self.remove_key(key, pid);
        }
    }
}

/// Removes a waiter's sender when the waiter is done (resolved, timed out, or dropped).
struct Waiter<'a, V> {
    inner: &'a Inner<V>,
    name: &'a Name,
    rx: Option<oneshot::Receiver<ProcessRef>>,
}

impl<V> Drop for Waiter<'_, V> {
    fn drop(&mut self) {
        // Close ours first, so that the sweep below recognises it.
        drop(self.rx.take());
        self.inner.waiters.remove_if_mut(self.name, |_, senders| {
            senders.retain(|s| !s.is_closed());
            senders.is_empty()
        });
    }
}

/// A gproc-style registry: unique names, properties, counters and aggregated counters,
/// cleaned up in each process's exit path. Cheap to clone (a shared handle).
///
/// `V` is the type of property values (gproc's values are any term).
pub struct Gproc<V = ()> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for Gproc<V> {
    fn clone(&self) -> Self {
        Gproc {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V: Clone + Send + Sync + 'static> Default for Gproc<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + Send + Sync + 'static> Gproc<V> {
    /// An empty registry.
    pub fn new() -> Self {
        Gproc {
            inner: Arc::new(Inner {
                names: TreeIndex::new(),
                name_count: AtomicUsize::new(0),
                name_locks: (0..NAME_STRIPES).map(|_| Mutex::new(())).collect(),
                name_values: DashMap::default(),
                monitors: DashMap::default(),
                monitor_count: AtomicUsize::new(0),
                next_monitor: AtomicU64::new(1),
                props: DashMap::default(),
                counters: DashMap::default(),
                procs: DashMap::default(),
                waiters: DashMap::default(),
            }),
        }
    }

    /// `process`'s reverse-index entry, created (with its exit hook) on its first key.
    fn proc_entry(&self, process: &ProcessRef) -> Result<ProcEntry, NamingError> {
        let pid = process.pid();
        if let Some(entry) = self.inner.procs.get(&pid) {
            return Ok(Arc::clone(entry.value()));
        }
        match self.inner.procs.entry(pid) {
            Entry::Occupied(entry) => Ok(Arc::clone(entry.get())),
            Entry::Vacant(slot) => {
                let observer: Arc<dyn ExitObserver> = self.inner.clone();
                process
                    .hold_name(&observer, Name::Id(pid.serial()), 0, |_| {
                        Ok::<(), NamingError>(())
                    })
                    .map_err(|_| NamingError::NoProc)?;
                Ok(Arc::clone(slot.insert(ProcEntry::default()).value()))
            }
        }
    }

    /// Runs `add` (the forward-table insert) under `process`'s reverse-index lock and
    /// records `key` there if it succeeds.
    fn hold(
        &self,
        process: &ProcessRef,
        key: GprocKey,
        add: impl FnOnce() -> Result<(), NamingError>,
    ) -> Result<(), NamingError> {
        let entry = self.proc_entry(process)?;
        let mut held = entry.lock();
        // A killed process is dead at once, before its exit hook has run: no new keys.
        if held.exited || !process.is_alive() {
            return Err(NamingError::NoProc);
        }
        add()?;
        held.keys.push(key);
        Ok(())
    }

    /// Removes `key` held by `owner` from the forward tables and from its reverse-index entry.
    fn release(&self, key: &GprocKey, owner: Pid) -> bool {
        let entry = self.inner.procs.get(&owner).map(|e| Arc::clone(e.value()));
        match entry {
            Some(entry) => {
                let mut held = entry.lock();
                let removed = self.inner.remove_key(key, owner);
                if removed {
                    if let Some(i) = held.keys.iter().position(|k| k == key) {
                        held.keys.swap_remove(i);
                    }
                }
                removed
            }
            // Exiting right now: its exit hook owns the cleanup; removing early is harmless.
            None => self.inner.remove_key(key, owner),
        }
    }

    // ---- n: unique names ----

    /// Registers `process` under the unique name `name` (`gproc:reg({n, l, Name})`).
    ///
    /// `AlreadyRegistered(holder)` if a live process holds it (a dead holder not yet cleaned
    /// is taken over), `NoProc` if `process` is dead. Wakes every [`await_name`](Self::await_name)
    /// and tells the name's `Follow` monitors.
    pub fn reg_name(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.reg_name_inner(name, process, None)
    }

    /// Registers `process` under the unique name `name` with `value`
    /// (`gproc:reg({n, l, Name}, Value)`); errors as [`reg_name`](Self::reg_name).
    pub fn reg_name_with_value(
        &self,
        name: Name,
        process: &ProcessRef,
        value: V,
    ) -> Result<(), NamingError> {
        self.reg_name_inner(name, process, Some(value))
    }

    fn reg_name_inner(
        &self,
        name: Name,
        process: &ProcessRef,
        value: Option<V>,
    ) -> Result<(), NamingError> {
        self.hold(process, GprocKey::Name(name.clone()), || {
            let _stripe = self.inner.name_lock(&name).lock();
            self.insert_name_locked(&name, process, value)
        })?;
        self.inner.wake_waiters(&name, process);
        Ok(())
    }

    /// Whether `name` may be taken now: `AlreadyRegistered(holder)` if a live process holds
    /// it; a dead holder whose exit hook has not run yet is removed. The caller holds the
    /// name's stripe.
    fn vacate_locked(&self, name: &Name) -> Result<(), NamingError> {
        match self.inner.names.peek_with(name, |_, p| p.clone()) {
            Some(holder) if holder.is_alive() => Err(NamingError::AlreadyRegistered(holder.pid())),
            Some(stale) => {
                self.inner.remove_name_locked(name, stale.pid());
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Inserts `name` for `process` with `value` and tells its monitors. The caller holds
    /// the name's stripe (so no other writer changes the name meanwhile).
    fn insert_name_locked(
        &self,
        name: &Name,
        process: &ProcessRef,
        value: Option<V>,
    ) -> Result<(), NamingError> {
        self.vacate_locked(name)?;
        // The value first, so that a reader who sees the name also sees its value.
        if let Some(v) = value {
            self.inner.name_values.insert(name.clone(), v);
        }
        if self
            .inner
            .names
            .insert(name.clone(), process.clone())
            .is_err()
        {
            // Cannot happen: every writer of this name holds its stripe.
            self.inner.name_values.remove(name);
            return Err(NamingError::AlreadyRegistered(process.pid()));
        }
        self.inner.name_count.fetch_add(1, Ordering::AcqRel);
        self.inner.notify(name, NameEventKind::Registered);
        Ok(())
    }

    /// Registers `process` under `name` with `value`, or, if a live process holds it
    /// already, returns that holder and its value (`gproc:reg_or_locate/2`): of any number
    /// of racing callers exactly one registers, and every one gets the same holder (unless
    /// that holder dies in between, in which case the race is run again).
    ///
    /// `NoProc` if `process` is dead (checked first, as for [`reg_name`](Self::reg_name)).
    pub fn reg_or_locate(
        &self,
        name: Name,
        process: &ProcessRef,
        value: Option<V>,
    ) -> Result<(ProcessRef, Option<V>), NamingError> {
        loop {
            match self.reg_name_inner(name.clone(), process, value.clone()) {
                Ok(()) => return Ok((process.clone(), value)),
                Err(NamingError::AlreadyRegistered(_)) => {
                    let _stripe = self.inner.name_lock(&name).lock();
                    let holder = self.inner.names.peek_with(&name, |_, p| p.clone());
                    if let Some(holder) = holder.filter(ProcessRef::is_alive) {
                        let value = self.inner.name_values.get(&name).map(|v| v.clone());
                        return Ok((holder, value));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Registers every name of `entries` for `process`, each with its value, or none of
    /// them (`gproc:mreg(n, l, KVL)`): `AlreadyRegistered(holder)` of the first name a live
    /// process holds (or `AlreadyRegistered(process)` if a name is listed twice), `NoProc`
    /// if `process` is dead.
    pub fn mreg(
        &self,
        entries: Vec<(Name, Option<V>)>,
        process: &ProcessRef,
    ) -> Result<(), NamingError> {
        let mut names: Vec<&Name> = entries.iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(NamingError::AlreadyRegistered(process.pid()));
        }
        let entry = self.proc_entry(process)?;
        {
            let mut held = entry.lock();
            if held.exited || !process.is_alive() {
                return Err(NamingError::NoProc);
            }
            // Every stripe involved, in index order (so two `mreg`s cannot deadlock).
            let mut stripes: Vec<usize> = entries
                .iter()
                .map(|(n, _)| FastHasher::default().hash_one(n) as usize % NAME_STRIPES)
                .collect();
            stripes.sort_unstable();
            stripes.dedup();
            let _guards: Vec<_> = stripes
                .iter()
                .map(|&i| self.inner.name_locks[i].lock())
                .collect();
            for (name, _) in &entries {
                self.vacate_locked(name)?;
            }
            for (name, value) in &entries {
                self.insert_name_locked(name, process, value.clone())?;
                held.keys.push(GprocKey::Name(name.clone()));
            }
        }
        for (name, _) in &entries {
            self.inner.wake_waiters(name, process);
        }
        Ok(())
    }

    /// The value `owner` registered `name` with (`gproc:get_value({n, l, Name}, Pid)`):
    /// `None` if it gave none. `NotRegistered` if no live process holds the name,
    /// `NotOwner` if another does.
    pub fn get_value(&self, name: &Name, owner: Pid) -> Result<Option<V>, NamingError> {
        let _stripe = self.inner.name_lock(name).lock();
        match self.live_holder(name) {
            None => Err(NamingError::NotRegistered),
            Some(h) if h != owner => Err(NamingError::NotOwner { owner: h }),
            Some(_) => Ok(self.inner.name_values.get(name).map(|v| v.clone())),
        }
    }

    /// The value of the unique name `name`, whoever holds it (`gproc:lookup_value/1`):
    /// `None` if it was registered without one, `NotRegistered` if no live process holds it.
    pub fn lookup_value(&self, name: &Name) -> Result<Option<V>, NamingError> {
        let _stripe = self.inner.name_lock(name).lock();
        match self.live_holder(name) {
            None => Err(NamingError::NotRegistered),
            Some(_) => Ok(self.inner.name_values.get(name).map(|v| v.clone())),
        }
    }

    /// Replaces the value of the unique name `name`, which `owner` must hold
    /// (`gproc:set_value/2`): `NotRegistered` or `NotOwner` otherwise.
    pub fn set_value(&self, name: &Name, owner: Pid, value: V) -> Result<(), NamingError> {
        let _stripe = self.inner.name_lock(name).lock();
        match self.live_holder(name) {
            None => Err(NamingError::NotRegistered),
            Some(h) if h != owner => Err(NamingError::NotOwner { owner: h }),
            Some(_) => {
                self.inner.name_values.insert(name.clone(), value);
                Ok(())
            }
        }
    }

    /// The pid of the live holder of `name`.
    fn live_holder(&self, name: &Name) -> Option<Pid> {
        self.where_(name).map(|p| p.pid())
    }

    /// Moves the unique name `name` (with its value) from `from` to the live process `to`
    /// (`gproc:give_away/2`), telling the name's monitors `Migrated(to)`.
    ///
    /// `NotRegistered` if no live process holds it, `NotOwner` if another than `from` does,
    /// `NoProc` if `to` is dead. Giving a name to its holder changes nothing.
    ///
    /// Writers see the move as one step; a lookup at the same instant may find the name
    /// absent (gproc overwrites its table row in place; this tree only inserts and removes).
    pub fn give_away(&self, name: &Name, from: Pid, to: &ProcessRef) -> Result<(), NamingError> {
        if !to.is_alive() {
            return Err(NamingError::NoProc);
        }
        let check = |holder: Option<Pid>| match holder {
            None => Err(NamingError::NotRegistered),
            Some(h) if h != from => Err(NamingError::NotOwner { owner: h }),
            Some(_) => Ok(()),
        };
        if to.pid() == from {
            return check(self.live_holder(name));
        }
        let from_entry = self.inner.procs.get(&from).map(|e| Arc::clone(e.value()));
        let Some(from_entry) = from_entry else {
            // `from` holds no key at all (or is exiting right now).
            check(self.live_holder(name))?;
            return Err(NamingError::NotRegistered);
        };
        let to_entry = self.proc_entry(to)?;
        // Both reverse-index entries, in pid order (so two give-aways cannot deadlock).
        let (mut from_keys, mut to_keys) = if from < to.pid() {
            let f = from_entry.lock();
            (f, to_entry.lock())
        } else {
            let t = to_entry.lock();
            (from_entry.lock(), t)
        };
        if to_keys.exited || !to.is_alive() {
            return Err(NamingError::NoProc);
        }
        if from_keys.exited {
            return Err(NamingError::NotRegistered);
        }
        let _stripe = self.inner.name_lock(name).lock();
        check(self.live_holder(name))?;
        self.inner.names.remove_if(name, |p| p.pid() == from);
        if self.inner.names.insert(name.clone(), to.clone()).is_err() {
            // Cannot happen: every writer of this name holds its stripe.
            return Err(NamingError::NotRegistered);
        }
        let key = GprocKey::Name(name.clone());
        if let Some(i) = from_keys.keys.iter().position(|k| *k == key) {
            from_keys.keys.swap_remove(i);
        }
        to_keys.keys.push(key);
        self.inner.notify(name, NameEventKind::Migrated(to.pid()));
        drop((from_keys, to_keys));
        self.inner.wake_waiters(name, to);
        Ok(())
    }

    /// Watches the unique name `name` for `watcher` (`gproc:monitor/2`): [`NameEvent`]s
    /// arrive in its mailbox as `mode` says; if the name is not registered now, an `Unreg`
    /// comes at once (and an `Info` monitor ends there). `NoProc` if `watcher` is dead.
    ///
    /// A monitor whose watcher has died is dropped at the next notice of its name (gproc's
    /// server drops it on the watcher's `DOWN`).
    pub fn monitor(
        &self,
        name: &Name,
        watcher: &ProcessRef,
        mode: MonitorMode,
    ) -> Result<MonitorRef, NamingError> {
        if !watcher.is_alive() {
            return Err(NamingError::NoProc);
        }
        let reference = MonitorRef(self.inner.next_monitor.fetch_add(1, Ordering::Relaxed));
        let _stripe = self.inner.name_lock(name).lock();
        if self.live_holder(name).is_none() {
            let event = NameEvent {
                kind: NameEventKind::Unreg,
                monitor: reference,
                name: name.clone(),
            };
            watcher.send(event).map_err(|_| NamingError::NoProc)?;
            if mode == MonitorMode::Info {
                return Ok(reference);
            }
        }
        self.inner
            .monitors
            .entry(name.clone())
            .or_default()
            .push(NameMonitor {
                reference,
                watcher: watcher.clone(),
                mode,
            });
        self.inner.monitor_count.fetch_add(1, Ordering::AcqRel);
        Ok(reference)
    }

    /// Removes the monitor `reference` of `name` (`gproc:demonitor/2`); no notice of it
    /// arrives after this returns. `NotRegistered` if there is no such monitor (gproc
    /// answers `ok` either way).
    pub fn demonitor(&self, name: &Name, reference: MonitorRef) -> Result<(), NamingError> {
        let _stripe = self.inner.name_lock(name).lock();
        let mut removed = false;
        self.inner.monitors.remove_if_mut(name, |_, list| {
            let before = list.len();
            list.retain(|m| m.reference != reference);
            removed = list.len() < before;
            list.is_empty()
        });
        if removed {
            self.inner.monitor_count.fetch_sub(1, Ordering::AcqRel);
            Ok(())
        } else {
            Err(NamingError::NotRegistered)
        }
    }

    /// How many name monitors are set (for leak checks).
    pub fn monitors(&self) -> usize {
        self.inner.monitor_count.load(Ordering::Acquire)
    }

    /// Every live holder of a unique name matching `pattern` that was registered with a
    /// value `accept` takes, with that value, in key order (`gproc:select/1` with a match on
    /// the value).
    pub fn select_names_by_value(
        &self,
        pattern: KeyPattern<'_>,
        accept: &dyn Fn(&V) -> bool,
    ) -> Vec<(Name, ProcessRef, V)> {
        let mut found: Vec<(Name, ProcessRef, V)> = self
            .inner
            .name_values
            .iter()
            .filter(|e| pattern.matches(e.key()) && accept(e.value()))
            .filter_map(|e| {
                let holder = self.where_(e.key())?;
                Some((e.key().clone(), holder, e.value().clone()))
            })
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// Releases the unique name `name`, which the calling process must hold
    /// (`gproc:unreg/1`; `owner` is its own context, so no other process can release it).
    pub fn unreg_name(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let owner = owner.pid();
        match self.inner.names.peek_with(name, |_, p| p.pid()) {
            None => Err(NamingError::NotRegistered),
            Some(holder) if holder != owner => Err(NamingError::NotOwner { owner: holder }),
            Some(_) => {
                if self.release(&GprocKey::Name(name.clone()), owner) {
                    Ok(())
                } else {
                    Err(NamingError::NotRegistered)
                }
            }
        }
    }

    /// The live process registered under `name` (`gproc:where/1`, `gproc:lookup_pid/1`).
    #[inline]
    pub fn where_(&self, name: &Name) -> Option<ProcessRef> {
        self.inner
            .names
            .peek_with(name, |_, p| p.clone())
            .filter(ProcessRef::is_alive)
    }

    /// Same as [`where_`](Self::where_), by its other gproc name.
    #[inline]
    pub fn lookup_pid(&self, name: &Name) -> Option<ProcessRef> {
        self.where_(name)
    }

    /// Sends `msg` to the live process registered under `name` (`gproc:send({n, l, Name}, Msg)`).
    pub fn send_name<M: std::any::Any + Send>(&self, name: &Name, msg: M) -> Result<(), CallError> {
        self.where_(name).ok_or(CallError::NoProc)?.send(msg)
    }

    /// Waits up to `timeout` (`Duration::MAX`: no limit) for `name` to be registered by a
    /// live process and returns it (`gproc:await/2`); at once if it already is. `Timeout`
    /// otherwise.
    ///
    /// The process returned was alive when this returned; like any pid it may die right after.
    pub async fn await_name(
        &self,
        name: &Name,
        timeout: Duration,
    ) -> Result<ProcessRef, NamingError> {
        // `Duration::MAX` means wait forever: the deadline saturates instead of overflowing.
        let deadline = tokio::time::Instant::from_std(process_runtime::deadline_after(timeout));
        loop {
            if let Some(p) = self.where_(name) {
                return Ok(p);
            }
            let (tx, rx) = oneshot::channel();
            self.inner.waiters.entry(name.clone()).or_default().push(tx);
            let mut waiter = Waiter {
                inner: &self.inner,
                name,
                rx: Some(rx),
            };
            // Registered after our check but before we queued: it is in the table now.
            if let Some(p) = self.where_(name) {
                return Ok(p);
            }
            let Some(rx) = waiter.rx.as_mut() else {
                return Err(NamingError::Timeout);
            };
            match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(p)) if p.is_alive() => return Ok(p),
                // Its registrant died already (or the wake-up was lost to a sweep): wait on.
                Ok(_) => continue,
                Err(_elapsed) => return Err(NamingError::Timeout),
            }
        }
    }

    /// How many `await_name` calls are waiting now (for leak checks).
    pub fn awaiting(&self) -> usize {
        self.inner.waiters.iter().map(|e| e.value().len()).sum()
    }

    /// Every live holder of a unique name matching `pattern`, in key order (`gproc:select/1`).
    pub fn select_names(&self, pattern: KeyPattern<'_>) -> Vec<(Name, ProcessRef)> {
        let guard = scc::ebr::Guard::new();
        let live = |(n, p): (&Name, &ProcessRef)| p.is_alive().then(|| (n.clone(), p.clone()));
        match pattern {
            KeyPattern::Tagged(tag) => self
                .inner
                .names
                .range(Name::tagged(tag, 0)..=Name::tagged(tag, u64::MAX), &guard)
                .filter_map(live)
                .collect(),
            KeyPattern::TextPrefix(prefix) => self
                .inner
                .names
                .range(Name::text(prefix).., &guard)
                .take_while(|(n, _)| pattern.matches(n))
                .filter_map(live)
                .collect(),
            KeyPattern::All | KeyPattern::Where(_) => self
                .inner
                .names
                .iter(&guard)
                .filter(|(n, _)| pattern.matches(n))
                .filter_map(live)
                .collect(),
        }
    }

    // ---- p: properties ----

    /// Adds `process` as a holder of the property `key` with `value` (`gproc:reg({p, l, Key}, Value)`).
    ///
    /// `AlreadyRegistered(pid)` if it already holds it, `NoProc` if it is dead.
    pub fn reg_property(
        &self,
        key: Name,
        process: &ProcessRef,
        value: V,
    ) -> Result<(), NamingError> {
        let props = &self.inner.props;
        self.hold(process, GprocKey::Property(key.clone()), || {
            let mut holders = props.entry(key).or_default();
            match holders.entry(process.pid()) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    Err(NamingError::AlreadyRegistered(process.pid()))
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert((process.clone(), value));
                    Ok(())
                }
            }
        })
    }

    /// Replaces `owner`'s value of the property `key` (`gproc:set_value/2`).
    pub fn set_property_value(&self, key: &Name, owner: Pid, value: V) -> Result<(), NamingError> {
        let mut holders = self
            .inner
            .props
            .get_mut(key)
            .ok_or(NamingError::NotRegistered)?;
        let (_, v) = holders.get_mut(&owner).ok_or(NamingError::NotRegistered)?;
        *v = value;
        Ok(())
    }

    /// Removes `owner` from the holders of the property `key`.
    pub fn unreg_property(&self, key: &Name, owner: Pid) -> Result<(), NamingError> {
        if self.release(&GprocKey::Property(key.clone()), owner) {
            Ok(())
        } else {
            Err(NamingError::NotRegistered)
        }
    }

    /// The live holders of the property `key`, in pid order (`gproc:lookup_pids/1`).
    pub fn lookup_pids(&self, key: &Name) -> Vec<ProcessRef> {
        let mut pids: Vec<ProcessRef> = match self.inner.props.get(key) {
            Some(holders) => holders
                .values()
                .filter(|(p, _)| p.is_alive())
                .map(|(p, _)| p.clone())
                .collect(),
            None => Vec::new(),
        };
        pids.sort_unstable_by_key(ProcessRef::pid);
        pids
    }

    /// The live holders of the property `key` with their values, in pid order
    /// (`gproc:lookup_values/1`).
    pub fn lookup_values(&self, key: &Name) -> Vec<(ProcessRef, V)> {
        let mut values: Vec<(ProcessRef, V)> = match self.inner.props.get(key) {
            Some(holders) => holders
                .values()
                .filter(|(p, _)| p.is_alive())
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        values.sort_unstable_by_key(|(p, _)| p.pid());
        values
    }

    /// Every live (key, holder, value) of a property whose key matches `pattern`, in key then
    /// pid order (a full scan).
    pub fn select_properties(&self, pattern: KeyPattern<'_>) -> Vec<(Name, ProcessRef, V)> {
        let mut found = Vec::new();
        for entry in self.inner.props.iter() {
            if !pattern.matches(entry.key()) {
                continue;
            }
            for (p, v) in entry.value().values() {
                if p.is_alive() {
                    found.push((entry.key().clone(), p.clone(), v.clone()));
                }
            }
        }
        found.sort_unstable_by(|a, b| (&a.0, a.1.pid()).cmp(&(&b.0, b.1.pid())));
        found
    }

    /// Every live (key, holder, value) of a property whose key matches `pattern` and whose
    /// value `accept` takes, in key then pid order (`gproc:select/1` with a match on the
    /// value; a full scan).
    pub fn select_properties_by_value(
        &self,
        pattern: KeyPattern<'_>,
        accept: &dyn Fn(&V) -> bool,
    ) -> Vec<(Name, ProcessRef, V)> {
        let mut found = self.select_properties(pattern);
        found.retain(|(_, _, v)| accept(v));
        found
    }

    /// Every live (key, holder, value) of a counter whose key matches `pattern` and whose
    /// value `accept` takes, in key then pid order (a full scan).
    pub fn select_counters_by_value(
        &self,
        pattern: KeyPattern<'_>,
        accept: &dyn Fn(i64) -> bool,
    ) -> Vec<(Name, ProcessRef, i64)> {
        let mut found = Vec::new();
        for entry in self.inner.counters.iter() {
            if !pattern.matches(entry.key()) {
                continue;
            }
            for c in entry.value().counters.values() {
                if c.process.is_alive() && accept(c.value) {
                    found.push((entry.key().clone(), c.process.clone(), c.value));
                }
            }
        }
        found.sort_unstable_by(|a, b| (&a.0, a.1.pid()).cmp(&(&b.0, b.1.pid())));
        found
    }

    /// Sends `msg` to every holder of the property `key` (`gproc:send({p, l, Key}, Msg)`);
    /// returns how many it was queued to (live holders).
    pub fn send_property<M: Clone + std::any::Any + Send>(&self, key: &Name, msg: M) -> usize {
        match self.inner.props.get(key) {
            Some(holders) => holders
                .values()
                .filter(|(p, _)| p.send(msg.clone()).is_ok())
                .count(),
            None => 0,
        }
    }

    // ---- c: counters, a: aggregated counters ----

    /// Registers a counter for `process` under `key`, starting at `initial`
    /// (`gproc:reg({c, l, Key}, Initial)`); the key's aggregate grows by `initial`.
    pub fn reg_counter(
        &self,
        key: Name,
        process: &ProcessRef,
        initial: i64,
    ) -> Result<(), NamingError> {
        let counters = &self.inner.counters;
        self.hold(process, GprocKey::Counter(key.clone()), || {
            let mut group = counters.entry(key).or_insert_with(CounterGroup::new);
            let group = &mut *group;
            match group.counters.entry(process.pid()) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    Err(NamingError::AlreadyRegistered(process.pid()))
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(Counter {
                        process: process.clone(),
                        value: initial,
                        initial,
                    });
                    group.total = group.total.wrapping_add(initial);
                    Ok(())
                }
            }
        })
    }

    /// Adds `incr` (may be negative; wrapping) to `owner`'s counter `key` and returns its new
    /// value (`gproc:update_counter/2`); the aggregate moves with it, atomically.
    pub fn update_counter(&self, key: &Name, owner: Pid, incr: i64) -> Result<i64, NamingError> {
        let mut group = self
            .inner
            .counters
            .get_mut(key)
            .ok_or(NamingError::NotRegistered)?;
        let group = &mut *group;
        let counter = group
            .counters
            .get_mut(&owner)
            .ok_or(NamingError::NotRegistered)?;
        counter.value = counter.value.wrapping_add(incr);
        group.total = group.total.wrapping_add(incr);
        Ok(counter.value)
    }

    /// Sets `owner`'s counter `key` back to the value it was registered with and returns the
    /// value it had (`gproc:reset_counter/1`); the aggregate moves with it, atomically, so no
    /// concurrent update is lost. `NotRegistered` if `owner` has no such counter.
    pub fn reset_counter(&self, key: &Name, owner: Pid) -> Result<i64, NamingError> {
        let mut group = self
            .inner
            .counters
            .get_mut(key)
            .ok_or(NamingError::NotRegistered)?;
        let group = &mut *group;
        let counter = group
            .counters
            .get_mut(&owner)
            .ok_or(NamingError::NotRegistered)?;
        let old = counter.value;
        counter.value = counter.initial;
        group.total = group.total.wrapping_sub(old).wrapping_add(counter.initial);
        Ok(old)
    }

    /// `owner`'s counter `key`, if it has one.
    pub fn counter_value(&self, key: &Name, owner: Pid) -> Option<i64> {
        self.inner
            .counters
            .get(key)
            .and_then(|g| g.counters.get(&owner).map(|c| c.value))
    }

    /// The live holders of counter `key` with their values, in pid order.
    pub fn lookup_counters(&self, key: &Name) -> Vec<(ProcessRef, i64)> {
        let mut found: Vec<(ProcessRef, i64)> = match self.inner.counters.get(key) {
            Some(g) => g
                .counters
                .values()
                .filter(|c| c.process.is_alive())
                .map(|c| (c.process.clone(), c.value))
                .collect(),
            None => Vec::new(),
        };
        found.sort_unstable_by_key(|(p, _)| p.pid());
        found
    }

    /// Removes `owner`'s counter `key`; the aggregate drops by its value.
    pub fn unreg_counter(&self, key: &Name, owner: Pid) -> Result<(), NamingError> {
        if self.release(&GprocKey::Counter(key.clone()), owner) {
            Ok(())
        } else {
            Err(NamingError::NotRegistered)
        }
    }

    /// Registers `process` as the holder of the aggregated counter `key`
    /// (`gproc:reg({a, l, Key})`); its value is the sum of the key's counters, from now on.
    ///
    /// `AlreadyRegistered(holder)` if a live process holds it.
    pub fn reg_aggregated(&self, key: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let counters = &self.inner.counters;
        self.hold(process, GprocKey::Aggregated(key.clone()), || {
            let mut group = counters
                .entry(key.clone())
                .or_insert_with(CounterGroup::new);
            match &group.aggregate {
                Some(holder) if holder.is_alive() => {
                    return Err(NamingError::AlreadyRegistered(holder.pid()))
                }
                // A dead holder whose exit hook has not run: its removal will find us instead
                // and leave us alone (removal is by pid).
                _ => {}
            }
            group.aggregate = Some(process.clone());
            Ok(())
        })
    }

    /// The value of the aggregated counter `key` (the sum of its counters), if a live process
    /// holds it.
    pub fn aggregated_value(&self, key: &Name) -> Option<i64> {
        self.inner.counters.get(key).and_then(|g| {
            g.aggregate
                .as_ref()
                .filter(|a| a.is_alive())
                .map(|_| g.total)
        })
    }

    /// Releases the aggregated counter `key`, which `owner` must hold.
    pub fn unreg_aggregated(&self, key: &Name, owner: Pid) -> Result<(), NamingError> {
        if self.release(&GprocKey::Aggregated(key.clone()), owner) {
            Ok(())
        } else {
            Err(NamingError::NotRegistered)
        }
    }

    // ---- per process ----

    /// Every key `pid` holds, from the reverse index (`gproc:info(Pid, gproc)`), sorted.
    pub fn keys_of(&self, pid: Pid) -> Vec<GprocKey> {
        let mut keys = match self.inner.procs.get(&pid).map(|e| Arc::clone(e.value())) {
            Some(entry) => entry.lock().keys.clone(),
            None => Vec::new(),
        };
        keys.sort_unstable();
        keys
    }

    /// How many processes have a reverse-index entry (for leak checks: every process that
    /// ever took a key keeps one until it exits).
    pub fn tracked_processes(&self) -> usize {
        self.inner.procs.len()
    }
}

/// Groups are properties: [`join`](crate::Naming::join) registers one with the default value.
impl<V: Clone + Default + Send + Sync + 'static> SyncNaming for Gproc<V> {
    const CAPABILITIES: Capabilities = Capabilities {
        dynamic_names: true,
        bounded_memory: true,
        duplicate_keys: true,
        await_name: true,
        register: true,
    };

    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.reg_name(name, process)
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        self.unreg_name(name, owner)
    }

    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.where_(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.inner.name_count.load(Ordering::Acquire)
    }

    /// `tracked_processes` (reverse-index entries) and `awaiting` (parked `await_name`s).
    fn gauges_sync(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("tracked_processes", self.tracked_processes() as f64),
            ("awaiting", self.awaiting() as f64),
        ]
    }

    /// A property `p` under `group`, with the default value.
    fn join_sync(&self, group: Name, process: &ProcessRef) -> Result<(), NamingError> {
        self.reg_property(group, process, V::default())
    }

    /// `gproc:send/2` to the property `group`.
    fn dispatch_sync<M: std::any::Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> Result<usize, NamingError> {
        Ok(self.send_property(group, msg))
    }
}

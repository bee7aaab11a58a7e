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
//!
//! **Costs**: a lookup is a lock-free ordered-tree read (`O(log n)`) plus a liveness check;
//! a name registration is that insert plus a reverse-index entry update (a shard lock and a
//! mutex; the first key of a process also attaches its exit hook); property and counter
//! operations take one shard lock of their key; an exit costs one delete per key held.
//! Selects by tag or text prefix are range scans, by predicate full scans.
//! **Choose it** when names are not enough: pub/sub style properties, per-process metrics
//! with live totals, waiting for a service to appear, or queries over key patterns
//! (`{:session, _}`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
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
            KeyPattern::Tagged(tag) => matches!(name, Name::Tagged(t, _) if t == tag),
            KeyPattern::TextPrefix(prefix) => {
                matches!(name, Name::Text(s) if s.starts_with(prefix))
            }
            KeyPattern::Where(pred) => pred(name),
        }
    }
}

/// The counters of one key and its aggregate, changed together under one lock.
struct CounterGroup {
    counters: HashMap<Pid, (ProcessRef, i64), FastHasher>,
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

struct Inner<V> {
    names: TreeIndex<Name, ProcessRef>,
    name_count: AtomicUsize,
    props: DashMap<Name, Holders<V>, FastHasher>,
    counters: DashMap<Name, CounterGroup, FastHasher>,
    procs: DashMap<Pid, ProcEntry, FastHasher>,
    waiters: DashMap<Name, Vec<oneshot::Sender<ProcessRef>>, FastHasher>,
}

impl<V> Inner<V> {
    fn remove_name(&self, name: &Name, owner: Pid) -> bool {
        let removed = self.names.remove_if(name, |p| p.pid() == owner);
        if removed {
            self.name_count.fetch_sub(1, Ordering::AcqRel);
        }
        removed
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
            if let Some((_, value)) = group.counters.remove(&owner) {
                group.total = group.total.wrapping_sub(value);
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
    /// is taken over), `NoProc` if `process` is dead. Wakes every [`await_name`](Self::await_name).
    pub fn reg_name(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let names = &self.inner.names;
        let count = &self.inner.name_count;
        self.hold(process, GprocKey::Name(name.clone()), || loop {
            // Counted before the insert, so that a racing removal never takes it below zero.
            count.fetch_add(1, Ordering::AcqRel);
            if names.insert(name.clone(), process.clone()).is_ok() {
                return Ok(());
            }
            count.fetch_sub(1, Ordering::AcqRel);
            match names.peek_with(&name, |_, p| p.clone()) {
                Some(holder) if holder.is_alive() => {
                    return Err(NamingError::AlreadyRegistered(holder.pid()))
                }
                // Its exit hook has not run yet: take the name over.
                Some(stale) => {
                    self.inner.remove_name(&name, stale.pid());
                }
                None => {}
            }
        })?;
        // After the insert, under the waiter table's lock: see the module doc.
        if let Some((_, senders)) = self.inner.waiters.remove(&name) {
            for s in senders {
                let _ = s.send(process.clone());
            }
        }
        Ok(())
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
                .range(Name::Tagged(tag, 0)..=Name::Tagged(tag, u64::MAX), &guard)
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
                    slot.insert((process.clone(), initial));
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
        let (_, value) = group
            .counters
            .get_mut(&owner)
            .ok_or(NamingError::NotRegistered)?;
        *value = value.wrapping_add(incr);
        group.total = group.total.wrapping_add(incr);
        Ok(*value)
    }

    /// `owner`'s counter `key`, if it has one.
    pub fn counter_value(&self, key: &Name, owner: Pid) -> Option<i64> {
        self.inner
            .counters
            .get(key)
            .and_then(|g| g.counters.get(&owner).map(|(_, v)| *v))
    }

    /// The live holders of counter `key` with their values, in pid order.
    pub fn lookup_counters(&self, key: &Name) -> Vec<(ProcessRef, i64)> {
        let mut found: Vec<(ProcessRef, i64)> = match self.inner.counters.get(key) {
            Some(g) => g
                .counters
                .values()
                .filter(|(p, _)| p.is_alive())
                .cloned()
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

//! Hash-ring ownership (Swarm / `libring`): the owner node of a name is picked by consistent
//! hashing over the live members, and a lookup asks that node.
//!
//! **BEAM original**: Swarm places each name on a node of a consistent-hash ring (libring)
//! over the connected nodes; a lookup goes to that node; when nodes join or leave, names
//! whose owner moved are handed off. Duplicates after netsplit heals were its known
//! complaint.
//!
//! **Here**: every node builds the same ring (64 points per live member, on the stable
//! key hash the shard routers use) from the gossip layer's live membership. A registration
//! is sent to the owner node, which keeps `name -> (pid, stamp)` in a local table; the
//! process's own node keeps the name tied to the process's exit path and tells the owner
//! when it exits. When membership changes, each owner hands the entries it no longer owns
//! to their new owner, drops entries of departed nodes (their processes are gone), and
//! every node re-asserts its own live names with their (possibly new) owners. Handoffs and
//! re-assertions merge by syn's rule: the more recent registration wins, the other process
//! is killed (the loser is told). Lookups that reach an owner before its entries arrive
//! miss; they are counted. A node that was frozen past failure detection answers no lookup
//! until it has re-synchronised ([`NodeCore::resyncing`]).
//!
//! **Costs**: a lookup is one round trip unless the owner is local (1/N of names); nothing
//! is replicated, so memory per node is names/N; consistency follows membership, which is
//! only as good as failure detection.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use naming_strategies::shard::{key_hash_bytes, mix64};
use naming_strategies::{Capabilities, Naming, NamingError};
use parking_lot::RwLock;
use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};
use tokio::sync::watch;

use crate::node::NodeCore;
use crate::wire::{WireNamingError, WirePid};

/// Points per member on the ring: enough for an even spread over 3-5 nodes.
pub const VNODES: u64 = 64;

/// How often ownership is reconciled even without a membership change.
const RECONCILE_EVERY: Duration = Duration::from_millis(500);

/// Deadline of one ring RPC.
const RING_RPC_DEADLINE: Duration = Duration::from_secs(2);

/// A consistent-hash ring over node ids.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    points: Vec<(u64, u32)>,
}

impl Ring {
    /// The ring over `members` (node ids).
    pub fn new(members: &[u32]) -> Self {
        let mut points: Vec<(u64, u32)> = members
            .iter()
            .flat_map(|&m| (0..VNODES).map(move |v| (mix64(((m as u64) << 32) | v), m)))
            .collect();
        points.sort_unstable();
        Ring { points }
    }

    /// The node that owns `name`, or `None` on an empty ring.
    pub fn owner(&self, name: &str) -> Option<u32> {
        if self.points.is_empty() {
            return None;
        }
        let h = key_hash_bytes(name.as_bytes());
        let i = self.points.partition_point(|&(p, _)| p < h);
        Some(self.points[i % self.points.len()].1)
    }
}

/// Now by this machine's clock, in unix nanoseconds (a node stamps registrations with
/// [`NodeCore::stamp`], which adds its clock offset).
pub fn now_stamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct RingInner {
    core: Arc<NodeCore>,
    members: RwLock<Vec<u32>>,
    ring: RwLock<Ring>,
    /// As owner: name -> (pid, stamp).
    owned: DashMap<String, (Pid, u64)>,
    /// This node's own registered processes: name -> (pid, stamp), re-asserted on changes.
    mine: DashMap<String, (Pid, u64)>,
}

/// The hash-ring ownership backend of one node.
#[derive(Clone)]
pub struct RingNames {
    inner: Arc<RingInner>,
    observer: Arc<dyn ExitObserver>,
}

struct RingObserver(Arc<RingInner>);

impl ExitObserver for RingObserver {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        let text = name.encoded();
        self.0.mine.remove_if(&text, |_, (p, _)| *p == pid);
        let inner = Arc::clone(&self.0);
        // The exit path is synchronous; the owner is told from a task.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { inner.release_at_owner(&text, pid).await });
        }
    }
}

impl RingInner {
    fn me(&self) -> u32 {
        self.core.id()
    }

    fn owner_of(&self, name: &str) -> Option<u32> {
        self.ring.read().owner(name)
    }

    /// As owner: a fresh registration, unique.
    fn owner_claim(&self, name: &str, pid: Pid, stamp: u64) -> Result<(), WireNamingError> {
        match self.owned.entry(name.to_string()) {
            dashmap::Entry::Occupied(mut e) => {
                let (holder, _) = *e.get();
                // A fresh registration: even the holder itself registering again is refused,
                // as `Registry.register/3` does (re-assertions go through `owner_merge`).
                if self.is_live(holder) {
                    return Err(WireNamingError::AlreadyRegistered(holder.into()));
                }
                e.insert((pid, stamp));
                Ok(())
            }
            dashmap::Entry::Vacant(v) => {
                v.insert((pid, stamp));
                Ok(())
            }
        }
    }

    /// Whether the owner should believe `pid` is alive: local ones are checked, remote
    /// ones count while their node is a member (their node releases them on exit).
    fn is_live(&self, pid: Pid) -> bool {
        if pid.node() == self.me() {
            self.core.runtime().process(pid).is_some()
        } else {
            self.members.read().contains(&pid.node())
        }
    }

    /// As owner: takes over `entries`, merging by syn's rule (the more recent stamp wins;
    /// the loser is killed). Returns the losers.
    async fn owner_merge(&self, entries: Vec<(String, Pid, u64)>) -> Vec<(String, Pid)> {
        let mut losers = Vec::new();
        for (name, pid, stamp) in entries {
            let loser = match self.owned.entry(name.clone()) {
                dashmap::Entry::Vacant(v) => {
                    v.insert((pid, stamp));
                    None
                }
                dashmap::Entry::Occupied(mut e) => {
                    let (holder, held_stamp) = *e.get();
                    if holder == pid {
                        None
                    } else if !self.is_live(holder) || wins((pid, stamp), (holder, held_stamp)) {
                        e.insert((pid, stamp));
                        self.is_live(holder).then_some(holder)
                    } else {
                        Some(pid)
                    }
                }
            };
            if let Some(loser) = loser {
                losers.push((name, loser));
            }
        }
        for (name, loser) in &losers {
            if self
                .core
                .kill(*loser, Some(format!("name conflict: {name}")))
                .await
            {
                self.core
                    .counters
                    .conflict_kills
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        losers
    }

    async fn release_at_owner(&self, name: &str, pid: Pid) {
        match self.owner_of(name) {
            Some(owner) if owner == self.me() => {
                self.owned.remove_if(name, |_, (p, _)| *p == pid);
            }
            Some(owner) => {
                let (n, w) = (name.to_string(), WirePid::from(pid));
                let _ = self
                    .core
                    .rpc(owner, RING_RPC_DEADLINE, |c, ctx| async move {
                        c.ring_release(ctx, n, w).await
                    })
                    .await;
            }
            None => {}
        }
    }

    /// After a membership change (or periodically): hand off what moved, drop what died,
    /// and re-assert this node's own names with their owners.
    async fn reconcile(&self) {
        let members = self.members.read().clone();
        // Entries of departed nodes: their processes are gone with them.
        self.owned
            .retain(|_, (pid, _)| members.contains(&pid.node()) || pid.node() == self.me());
        // Hand off what this node no longer owns, grouped by new owner.
        let mut moves: std::collections::HashMap<u32, Vec<(String, WirePid, u64)>> =
            std::collections::HashMap::new();
        for e in self.owned.iter() {
            if let Some(owner) = self.owner_of(e.key()) {
                if owner != self.me() {
                    let (pid, stamp) = *e.value();
                    moves
                        .entry(owner)
                        .or_default()
                        .push((e.key().clone(), pid.into(), stamp));
                }
            }
        }
        let handoffs = moves.into_iter().map(|(owner, batch)| async move {
            let names: Vec<(String, WirePid)> =
                batch.iter().map(|(n, p, _)| (n.clone(), *p)).collect();
            let sent = self
                .core
                .rpc(owner, RING_RPC_DEADLINE, |c, ctx| async move {
                    c.ring_handoff(ctx, batch).await
                })
                .await;
            (names, sent.is_ok())
        });
        for (names, sent) in futures_util::future::join_all(handoffs).await {
            if sent {
                self.core
                    .counters
                    .handoffs_out
                    .fetch_add(names.len() as u64, Ordering::Relaxed);
                for (n, p) in names {
                    let pid = Pid::from(p);
                    self.owned.remove_if(&n, |_, (q, _)| *q == pid);
                }
            }
        }
        // Re-assert this node's own live names (idempotent for unchanged owners).
        let mut asserts: std::collections::HashMap<u32, Vec<(String, Pid, u64)>> =
            std::collections::HashMap::new();
        for e in self.mine.iter() {
            if let Some(owner) = self.owner_of(e.key()) {
                let (pid, stamp) = *e.value();
                asserts
                    .entry(owner)
                    .or_default()
                    .push((e.key().clone(), pid, stamp));
            }
        }
        let asserts = asserts.into_iter().map(|(owner, batch)| async move {
            if owner == self.me() {
                self.owner_merge(batch).await;
            } else {
                let batch: Vec<(String, WirePid, u64)> = batch
                    .into_iter()
                    .map(|(n, p, s)| (n, p.into(), s))
                    .collect();
                let _ = self
                    .core
                    .rpc(owner, RING_RPC_DEADLINE, |c, ctx| async move {
                        c.ring_handoff(ctx, batch).await
                    })
                    .await;
            }
        });
        futures_util::future::join_all(asserts).await;
    }
}

/// syn's rule: the more recent registration wins; ties go to the higher pid, so every node
/// picks the same winner.
pub fn wins(a: (Pid, u64), b: (Pid, u64)) -> bool {
    (a.1, a.0) > (b.1, b.0)
}

impl RingNames {
    /// The ring backend of node `core`, following live membership from `members`.
    pub fn start(core: Arc<NodeCore>, mut members: watch::Receiver<Vec<u32>>) -> Self {
        let initial = members.borrow_and_update().clone();
        let inner = Arc::new(RingInner {
            core,
            ring: RwLock::new(Ring::new(&initial)),
            members: RwLock::new(initial),
            owned: DashMap::new(),
            mine: DashMap::new(),
        });
        // Membership is applied at once (no network on this path), so lookups and
        // registrations follow the live set even while a reconcile waits on a dead peer.
        let changed = Arc::new(tokio::sync::Notify::new());
        let weak = Arc::downgrade(&inner);
        let notify = Arc::clone(&changed);
        tokio::spawn(async move {
            while members.changed().await.is_ok() {
                let Some(inner) = weak.upgrade() else { return };
                let now = members.borrow_and_update().clone();
                let before = std::mem::replace(&mut *inner.members.write(), now.clone());
                *inner.ring.write() = Ring::new(&now);
                for gone in before.iter().filter(|n| !now.contains(n)) {
                    inner.core.node_down(*gone);
                }
                notify.notify_one();
            }
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = changed.notified() => {}
                    _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.reconcile().await;
            }
        });
        let observer: Arc<dyn ExitObserver> = Arc::new(RingObserver(Arc::clone(&inner)));
        RingNames { inner, observer }
    }

    /// The owner node of `name` under the current membership.
    pub fn owner_of(&self, name: &Name) -> Option<u32> {
        self.inner.owner_of(&name.encoded())
    }

    /// Names this node holds as owner, with their pids.
    pub fn owned(&self) -> Vec<(String, Pid)> {
        if self.inner.core.resyncing() {
            return Vec::new();
        }
        self.inner
            .owned
            .iter()
            .map(|e| (e.key().clone(), e.value().0))
            .collect()
    }

    /// RPC handler: a registration sent to this node as owner.
    pub fn handle_claim(&self, name: &str, pid: Pid, stamp: u64) -> Result<(), WireNamingError> {
        self.inner.owner_claim(name, pid, stamp)
    }

    /// RPC handler: a release sent to this node as owner.
    pub fn handle_release(&self, name: &str, pid: Pid) -> bool {
        self.inner
            .owned
            .remove_if(name, |_, (p, _)| *p == pid)
            .is_some()
    }

    /// RPC handler: a lookup sent to this node as owner; misses are counted.
    pub fn handle_lookup(&self, name: &str) -> Option<Pid> {
        if self.inner.core.resyncing() {
            return None;
        }
        let found = self.inner.owned.get(name).map(|e| e.value().0);
        if found.is_none() {
            self.inner
                .core
                .counters
                .ring_misses
                .fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// RPC handler: entries handed to this node as their new owner.
    pub async fn handle_handoff(&self, entries: Vec<(String, Pid, u64)>) -> Vec<(String, Pid)> {
        self.inner.owner_merge(entries).await
    }

    /// While this node re-synchronises after a freeze its ring and owner table may be stale,
    /// so it answers nothing (see [`NodeCore::resyncing`]).
    async fn lookup_pid(&self, text: &str) -> Option<Pid> {
        if self.inner.core.resyncing() {
            return None;
        }
        let owner = self.inner.owner_of(text)?;
        if owner == self.inner.me() {
            return self.handle_lookup(text);
        }
        let n = text.to_string();
        self.inner
            .core
            .rpc(owner, RING_RPC_DEADLINE, |c, ctx| async move {
                c.ring_lookup(ctx, n).await
            })
            .await
            .ok()
            .flatten()
            .map(Pid::from)
    }
}

impl Naming for RingNames {
    fn capabilities(&self) -> Capabilities {
        Capabilities::UNIQUE_DYNAMIC
    }

    async fn register(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let inner = &self.inner;
        let pid = process.pid();
        let text = name.encoded();
        let stamp = inner.core.stamp();
        inner
            .core
            .hold_local(process, &self.observer, name.clone(), 0)?;
        let claimed = match inner.owner_of(&text) {
            None => Err(WireNamingError::RegistryDown),
            Some(owner) if owner == inner.me() => inner.owner_claim(&text, pid, stamp),
            Some(owner) => {
                let (n, w) = (text.clone(), WirePid::from(pid));
                match inner
                    .core
                    .rpc(owner, RING_RPC_DEADLINE, |c, ctx| async move {
                        c.ring_claim(ctx, n, w, stamp).await
                    })
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(WireNamingError::NoConnection),
                }
            }
        };
        match claimed {
            Ok(()) => {
                inner.mine.insert(text.clone(), (pid, stamp));
                if !process.is_alive() {
                    // It died during the claim: its exit path may have run before the owner
                    // had the entry, so release once more.
                    inner.mine.remove_if(&text, |_, (p, _)| *p == pid);
                    inner.release_at_owner(&text, pid).await;
                    return Err(NamingError::NoProc);
                }
                Ok(())
            }
            Err(e) => {
                process.release_name(&self.observer, &name, 0);
                Err(e.into())
            }
        }
    }

    async fn unregister(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let owner = owner.pid();
        let text = name.encoded();
        match self.lookup_pid(&text).await {
            None => Err(NamingError::NotRegistered),
            Some(holder) if holder != owner => Err(NamingError::NotOwner { owner: holder }),
            Some(holder) => {
                if let Some(p) = self.inner.core.runtime().process(holder) {
                    p.release_name(&self.observer, name, 0);
                }
                self.inner.mine.remove_if(&text, |_, (p, _)| *p == holder);
                self.inner.release_at_owner(&text, holder).await;
                Ok(())
            }
        }
    }

    async fn whereis(&self, name: &Name) -> Option<ProcessRef> {
        let pid = self.lookup_pid(&name.encoded()).await?;
        self.inner.core.resolve(pid)
    }

    async fn registered_count(&self) -> usize {
        self.inner.owned.len()
    }
}

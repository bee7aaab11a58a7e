//! The replicated, eventually consistent registry (`pg` / syn), over the gossip layer.
//!
//! **BEAM original**: syn (and `pg` for groups): every node is the authority for its own
//! processes' names; the table is replicated to every node, so lookups are local reads.
//! During a netsplit both sides accept registrations; after the heal syn keeps the more
//! recent registration and kills the other process (the loser is told by its exit reason).
//!
//! **Here**: a node keeps its own processes in a local table tied to their exit paths and
//! publishes each as a gossip key (`n/{name}` -> `creation.serial:stamp`, groups as
//! `g/{group}/{creation}.{serial}`); chitchat replicates the keys, and a refresh task rebuilds the
//! replicated index from the live members' keys. A lookup reads the local table, then the
//! index: no network on the read path. The same task applies syn's rule: a local process
//! whose name another live node also claims with a more recent stamp is killed with
//! reason `name conflict`, which unpublishes it through its exit path. A dead node's names
//! vanish when failure detection declares it dead. A node that was frozen past failure
//! detection (its watchdog saw the gap) does not answer for its own processes until it has
//! re-synchronised ([`NodeCore::resyncing`](crate::node::NodeCore::resyncing)).
//!
//! **Costs**: reads are local; a registration is visible elsewhere after a gossip round or
//! a few; memory per node holds every node's names; during a split a name can have two
//! owners (the price of availability), resolved after the heal.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use naming_strategies::{Capabilities, Naming, NamingError};
use parking_lot::RwLock;
use process_runtime::{CallError, Ctx, ExitObserver, HoldError, Name, Pid, ProcessRef};

use crate::gossip::Gossip;
use crate::node::NodeCore;
use crate::replicated::{
    encode_value, local_pid_text, parse_local_pid, Claim, ReplicatedIndex, NAME_PREFIX,
};

/// How often the replicated index is rebuilt from gossip state.
pub const REFRESH_EVERY: Duration = Duration::from_millis(50);

const NAME_TAG: u32 = 0;
const GROUP_TAG: u32 = 1;

const GROUP_PREFIX: &str = "g/";

struct Inner {
    core: Arc<NodeCore>,
    gossip: Arc<Gossip>,
    /// This node's own named processes: name -> (process, stamp).
    local: DashMap<String, (ProcessRef, u64)>,
    /// Every live node's names, as last rebuilt from gossip.
    index: RwLock<ReplicatedIndex>,
    /// Every live node's group members: group -> pids.
    groups: RwLock<std::collections::HashMap<String, Vec<Pid>>>,
}

/// The gossip-replicated registry of one node.
#[derive(Clone)]
pub struct GossipNames {
    inner: Arc<Inner>,
    observer: Arc<dyn ExitObserver>,
}

struct Observer(Arc<Inner>);

impl ExitObserver for Observer {
    fn process_exited(&self, pid: Pid, name: &Name, tag: u32) {
        let text = name.encoded();
        let key = if tag == GROUP_TAG {
            format!("{GROUP_PREFIX}{text}/{}", local_pid_text(pid))
        } else {
            if self
                .0
                .local
                .remove_if(&text, |_, (p, _)| p.pid() == pid)
                .is_none()
            {
                return;
            }
            format!("{NAME_PREFIX}{text}")
        };
        let inner = Arc::clone(&self.0);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                // A new local holder may have published the name meanwhile: keep its key.
                if tag == GROUP_TAG || !inner.local.contains_key(&text) {
                    inner.gossip.delete(&key).await;
                }
            });
        }
    }
}

impl Inner {
    /// Rebuilds the index and groups from the live members' keys, then resolves conflicts.
    async fn refresh(&self) {
        let index = ReplicatedIndex::from_scan(self.gossip.scan(NAME_PREFIX).await);
        // Self-healing: every live local name is published, whatever order a racing delete
        // (of an exited holder) and a re-registration reached gossip in.
        let me = self.core.id();
        let missing: Vec<(String, String)> = self
            .local
            .iter()
            .filter(|e| e.value().0.is_alive())
            .filter(|e| index.claims(e.key()).iter().all(|c| c.pid.node() != me))
            .map(|e| {
                let (p, stamp) = e.value();
                (
                    format!("{NAME_PREFIX}{}", e.key()),
                    encode_value(p.pid(), *stamp),
                )
            })
            .collect();
        for (key, value) in missing {
            self.gossip.set(&key, &value).await;
        }
        let mut groups: std::collections::HashMap<String, Vec<Pid>> =
            std::collections::HashMap::new();
        for (node, key, _) in self.gossip.scan(GROUP_PREFIX).await {
            if let Some((group, pid)) = key
                .strip_prefix(GROUP_PREFIX)
                .and_then(|rest| rest.rsplit_once('/'))
            {
                if let Some(pid) = parse_local_pid(node, pid) {
                    groups.entry(group.to_string()).or_default().push(pid);
                }
            }
        }
        let lost = index.conflicts_lost_by(self.core.id());
        *self.index.write() = index;
        *self.groups.write() = groups;
        for (name, loser, _winner) in lost {
            if let Some(entry) = self.local.get(&name) {
                let (p, _) = &*entry;
                if p.pid() == loser.pid {
                    let p = p.clone();
                    drop(entry);
                    if p.exit(process_runtime::ExitReason::error(format!(
                        "name conflict: {name}"
                    ))) {
                        self.core
                            .counters
                            .conflict_kills
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    fn remote_claim(&self, text: &str) -> Option<Claim> {
        self.index
            .read()
            .lookup(text)
            .filter(|c| c.pid.node() != self.core.id())
    }
}

impl GossipNames {
    /// The replicated registry of node `core`, publishing through `gossip`.
    pub fn start(core: Arc<NodeCore>, gossip: Arc<Gossip>) -> Self {
        let inner = Arc::new(Inner {
            core,
            gossip,
            local: DashMap::new(),
            index: RwLock::new(ReplicatedIndex::default()),
            groups: RwLock::new(Default::default()),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                inner.refresh().await;
            }
        });
        let observer: Arc<dyn ExitObserver> = Arc::new(Observer(Arc::clone(&inner)));
        GossipNames { inner, observer }
    }

    /// Every name this node sees, with the owner its index picks.
    pub fn names(&self) -> Vec<(String, Pid)> {
        let mut out: std::collections::BTreeMap<String, Pid> = self
            .inner
            .index
            .read()
            .winners()
            .into_iter()
            .map(|(n, c)| (n, c.pid))
            .collect();
        for e in self.inner.local.iter() {
            out.entry(e.key().clone()).or_insert(e.value().0.pid());
        }
        let me = self.inner.core.id();
        let withheld = self.inner.core.resyncing();
        out.into_iter()
            .filter(|(_, p)| !(withheld && p.node() == me))
            .collect()
    }

    /// The members of `group` on every live node.
    pub fn members(&self, group: &Name) -> Vec<Pid> {
        self.inner
            .groups
            .read()
            .get(&group.encoded())
            .cloned()
            .unwrap_or_default()
    }

    /// Takes `process` out of `group` (`pg:leave`); `false` if it was not a member here.
    pub async fn leave(&self, group: &Name, process: &ProcessRef) -> bool {
        if !process.release_name(&self.observer, group, GROUP_TAG) {
            return false;
        }
        let key = format!(
            "{GROUP_PREFIX}{}/{}",
            group.encoded(),
            local_pid_text(process.pid())
        );
        self.inner.gossip.delete(&key).await;
        true
    }

    /// The owner of `text`: a live local holder, else the index's winner. While this node
    /// re-synchronises after a freeze it does not answer for its own processes (the cluster
    /// may have given their names away meanwhile; see [`NodeCore::resyncing`]).
    fn lookup_pid(&self, text: &str) -> Option<Pid> {
        let me = self.inner.core.id();
        let withheld = self.inner.core.resyncing();
        if let Some(e) = self.inner.local.get(text) {
            if e.value().0.is_alive() && !withheld {
                return Some(e.value().0.pid());
            }
        }
        let pid = self.inner.index.read().lookup(text).map(|c| c.pid)?;
        (!(withheld && pid.node() == me)).then_some(pid)
    }
}

impl Naming for GossipNames {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            dynamic_names: true,
            bounded_memory: true,
            duplicate_keys: true,
            await_name: false,
            register: true,
        }
    }

    async fn register(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let inner = &self.inner;
        inner.core.check_local(process)?;
        let text = name.encoded();
        if let Some(c) = inner.remote_claim(&text) {
            return Err(NamingError::AlreadyRegistered(c.pid));
        }
        let stamp = self.inner.core.stamp();
        let held = process.hold_name(&self.observer, name, NAME_TAG, |_| {
            match inner.local.entry(text.clone()) {
                dashmap::Entry::Occupied(mut e) => {
                    if e.get().0.is_alive() {
                        Err(e.get().0.pid())
                    } else {
                        e.insert((process.clone(), stamp));
                        Ok(())
                    }
                }
                dashmap::Entry::Vacant(v) => {
                    v.insert((process.clone(), stamp));
                    Ok(())
                }
            }
        });
        match held {
            Ok(()) => {}
            Err(HoldError::NoProc) => return Err(NamingError::NoProc),
            Err(HoldError::Rejected(holder)) => return Err(NamingError::AlreadyRegistered(holder)),
        }
        let key = format!("{NAME_PREFIX}{text}");
        inner
            .gossip
            .set(&key, &encode_value(process.pid(), stamp))
            .await;
        if !process.is_alive() && inner.local.get(&text).is_none() {
            // It died while being published: its exit path may have run first.
            inner.gossip.delete(&key).await;
            return Err(NamingError::NoProc);
        }
        Ok(())
    }

    async fn unregister(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let owner = owner.pid();
        let text = name.encoded();
        match self.lookup_pid(&text) {
            None => Err(NamingError::NotRegistered),
            Some(holder) if holder != owner => Err(NamingError::NotOwner { owner: holder }),
            Some(holder) => {
                let Some((_, (p, _))) = self
                    .inner
                    .local
                    .remove_if(&text, |_, (p, _)| p.pid() == holder)
                else {
                    // Held on another node: only its own node may unregister it.
                    return Err(NamingError::NotOwner { owner: holder });
                };
                p.release_name(&self.observer, name, NAME_TAG);
                self.inner
                    .gossip
                    .delete(&format!("{NAME_PREFIX}{text}"))
                    .await;
                Ok(())
            }
        }
    }

    async fn whereis(&self, name: &Name) -> Option<ProcessRef> {
        let pid = self.lookup_pid(&name.encoded())?;
        self.inner.core.resolve(pid)
    }

    async fn registered_count(&self) -> usize {
        self.names().len()
    }

    async fn join(&self, group: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let key = format!(
            "{GROUP_PREFIX}{}/{}",
            group.encoded(),
            local_pid_text(process.pid())
        );
        self.inner
            .core
            .hold_local(process, &self.observer, group, GROUP_TAG)?;
        self.inner.gossip.set(&key, "").await;
        Ok(())
    }

    async fn dispatch<M: std::any::Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> Result<usize, NamingError> {
        let mut reached = 0;
        for pid in self.members(group) {
            if let Some(p) = self.inner.core.resolve(pid) {
                match p.send(msg.clone()) {
                    Ok(()) => reached += 1,
                    Err(CallError::BadRequest) => {
                        return Err(NamingError::Unsupported(
                            "only Payload messages cross nodes",
                        ))
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(reached)
    }
}

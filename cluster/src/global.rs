//! Consistent global names (`:global`), over etcd.
//!
//! **BEAM original**: `:global.register_name/2` takes a cluster-wide lock so that a name has
//! one owner across all connected nodes; the table is replicated, so `whereis_name` is a
//! local read; a node's names go when the node goes.
//!
//! **Here**: the consensus is etcd's. A registration is one etcd transaction that creates
//! the key only if it is absent, bound to the owning node's lease; every node keeps a
//! local copy of the table fed by an etcd watch, so lookups are local reads. The name is
//! tied to the process's exit path (which deletes the key), and a dead node's names are
//! deleted by etcd when its lease expires. If a node's lease lapses while it lives (a
//! partition longer than the TTL), it re-claims its names; those someone else took
//! meanwhile lose, and their processes are killed with reason `name conflict` (the loser
//! is told). A node does not answer as owner of its own names while its lease may have
//! lapsed (no keepalive answered within the TTL: frozen, or cut off from etcd), so a zombie
//! never serves names etcd may have handed to another node.
//!
//! **Costs**: a registration is a consensus round trip (milliseconds), lookups are local;
//! never two owners; a node that cannot reach etcd cannot register (`RegistryDown`);
//! release after a node crash takes the lease TTL.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use naming_strategies::{Capabilities, Naming, NamingError};
use process_runtime::{Ctx, ExitObserver, ExitReason, Name, Pid, ProcessRef};

use crate::global_names::{ClaimError, EtcdNames};
use crate::node::NodeCore;

struct Inner {
    core: Arc<NodeCore>,
    table: EtcdNames,
}

/// The etcd-backed global names of one node.
#[derive(Clone)]
pub struct GlobalNames {
    inner: Arc<Inner>,
    observer: Arc<dyn ExitObserver>,
}

struct Observer(Arc<Inner>);

impl ExitObserver for Observer {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        let inner = Arc::clone(&self.0);
        let text = name.encoded();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = inner.table.release(&text, pid).await;
            });
        }
    }
}

impl GlobalNames {
    /// Global names for node `core` over an etcd table already connected.
    pub fn start(core: Arc<NodeCore>, table: EtcdNames) -> Self {
        let lost = table.lost();
        let inner = Arc::new(Inner { core, table });
        if let Some(mut lost) = lost {
            let weak = Arc::downgrade(&inner);
            tokio::spawn(async move {
                while let Some((name, pid)) = lost.recv().await {
                    let Some(inner) = weak.upgrade() else { return };
                    inner
                        .core
                        .counters
                        .lease_losses
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(p) = inner.core.runtime().process(pid) {
                        if p.exit(ExitReason::error(format!("name conflict: {name}"))) {
                            inner
                                .core
                                .counters
                                .conflict_kills
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        let observer: Arc<dyn ExitObserver> = Arc::new(Observer(Arc::clone(&inner)));
        GlobalNames { inner, observer }
    }

    /// Every name in this node's copy of the table, with its owner.
    pub fn names(&self) -> Vec<(String, Pid)> {
        self.inner.table.snapshot()
    }

    /// Stops the lease keepalive without revoking it: what a crash looks like to etcd.
    pub fn crash(&self) {
        self.inner.table.crash();
    }
}

impl Naming for GlobalNames {
    fn capabilities(&self) -> Capabilities {
        Capabilities::UNIQUE_DYNAMIC
    }

    async fn register(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let inner = &self.inner;
        let pid = process.pid();
        inner
            .core
            .hold_local(process, &self.observer, name.clone(), 0)?;
        let text = name.encoded();
        match inner.table.claim(&text, pid).await {
            Ok(()) => {
                if !process.is_alive() {
                    // Died during the claim; its exit path may have released first.
                    let _ = inner.table.release(&text, pid).await;
                    return Err(NamingError::NoProc);
                }
                Ok(())
            }
            Err(e) => {
                process.release_name(&self.observer, &name, 0);
                Err(match e {
                    ClaimError::Held(owner) => NamingError::AlreadyRegistered(owner),
                    ClaimError::Unavailable(_) => NamingError::RegistryDown,
                })
            }
        }
    }

    async fn unregister(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        let owner = owner.pid();
        let text = name.encoded();
        match self.inner.table.lookup(&text) {
            None => Err(NamingError::NotRegistered),
            Some(holder) if holder != owner => Err(NamingError::NotOwner { owner: holder }),
            Some(holder) => {
                if let Some(p) = self.inner.core.runtime().process(holder) {
                    p.release_name(&self.observer, name, 0);
                }
                match self.inner.table.release(&text, holder).await {
                    Ok(_) => Ok(()),
                    Err(_) => Err(NamingError::RegistryDown),
                }
            }
        }
    }

    async fn whereis(&self, name: &Name) -> Option<ProcessRef> {
        let pid = self.inner.table.lookup(&name.encoded())?;
        self.inner.core.resolve(pid)
    }

    async fn registered_count(&self) -> usize {
        self.inner.table.len()
    }
}

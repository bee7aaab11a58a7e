//! Startup discovery (seed 003, Saša Jurić's talk "Discovering processes"): no registry at all; a client is handed the pids it needs
//! when it starts, or finds them by asking the supervisor for its children.
//!
//! **BEAM original**: `{:ok, db_worker_pid} = DbWorker.start(...)` then
//! `HttpServer.start(db_worker_pid, ...)`; or, under a supervisor,
//! `Supervisor.which_children(sup) |> Enum.find(...)` in the client's `init`. Nothing is
//! registered, so nothing needs cleaning up; but a handed pid is the pid of one
//! incarnation: once the supervisor restarts the worker, the client's pid points at a dead
//! process, and only a fresh `which_children` finds the new one.
//!
//! **Here**: two modes behind one type.
//! - [`StartupDiscovery::handed`] / [`StartupDiscovery::handed_from`]: the refs handed at
//!   start, never refreshed. After a restart the held ref is stale: a call through it
//!   answers `CallError::NoProc` at once (never a silent success, never a timeout), and
//!   `whereis` gives `None` from then on (it filters dead refs, like every backend here).
//!   [`handed_ref`](StartupDiscovery::handed_ref) gives the raw, possibly stale ref.
//! - [`StartupDiscovery::scanning`]: every `whereis` calls
//!   [`Supervisor::which_children`] and picks the child whose id equals the name's text
//!   (`Name`'s `Display`), so it always finds the current incarnation.
//!
//! `register` is refused with `NamingError::Unsupported("register")`: the set of services
//! is the supervisor's child list, fixed in code.
//!
//! **Costs**: handed refs cost nothing to use and nothing to keep, until a restart makes
//! them wrong; a scan is a call to the supervisor process (a round trip through its
//! mailbox, serialised with its restarts) plus a copy of the whole child list, `O(children)`
//! per lookup. **Choose it** for a small, fixed system whose parts are wired together once
//! (seed 003: small scope, high coupling, all-or-nothing restarts, e.g. `:one_for_all`).

use std::collections::HashMap;
use std::sync::Arc;

use process_runtime::{Ctx, Name, ProcessRef, Supervisor, SupervisorError};

use crate::naming::{Capabilities, Naming, NamingError};
use crate::storage::FastHasher;

enum Source {
    Handed(HashMap<Name, ProcessRef, FastHasher>),
    Scan(Supervisor),
}

/// A naming "backend" without registration: handed refs, or a `which_children` scan.
#[derive(Clone)]
pub struct StartupDiscovery {
    source: Arc<Source>,
}

impl StartupDiscovery {
    /// Mode (a): the client was handed these refs at start and keeps them as they are.
    pub fn handed(pids: impl IntoIterator<Item = (Name, ProcessRef)>) -> Self {
        let mut map = HashMap::with_hasher(FastHasher::default());
        map.extend(pids);
        StartupDiscovery {
            source: Arc::new(Source::Handed(map)),
        }
    }

    /// Mode (a) as the seed's `init` does it: one `which_children` now, each running
    /// child's ref kept under its id, never looked at again.
    pub async fn handed_from(supervisor: &Supervisor) -> Result<Self, SupervisorError> {
        let children = supervisor.which_children().await?;
        Ok(Self::handed(children.into_iter().filter_map(|c| {
            let id = c.id?;
            let process = c.process?;
            Some((Name::text(&id), process))
        })))
    }

    /// Mode (b): every lookup scans `supervisor`'s children for the id equal to the name.
    pub fn scanning(supervisor: Supervisor) -> Self {
        StartupDiscovery {
            source: Arc::new(Source::Scan(supervisor)),
        }
    }

    /// Whether lookups scan the supervisor (mode b) rather than read handed refs (mode a).
    pub fn is_scanning(&self) -> bool {
        matches!(*self.source, Source::Scan(_))
    }

    /// The ref handed at start for `name`, dead or alive (mode a; `None` in mode b).
    pub fn handed_ref(&self, name: &Name) -> Option<ProcessRef> {
        match &*self.source {
            Source::Handed(map) => map.get(name).cloned(),
            Source::Scan(_) => None,
        }
    }

    /// One `which_children` scan for the child with id `name` (mode b; `Ok(None)` in
    /// mode a): its current process if it is running. The supervisor's failure is typed.
    pub async fn scan(&self, name: &Name) -> Result<Option<ProcessRef>, SupervisorError> {
        let Source::Scan(supervisor) = &*self.source else {
            return Ok(None);
        };
        let id = name.to_text();
        let children = supervisor.which_children().await?;
        Ok(children
            .into_iter()
            .find(|c| c.id.as_deref() == Some(id.as_str()))
            .and_then(|c| c.process))
    }

    /// How many of the known services run now.
    pub async fn running(&self) -> usize {
        match &*self.source {
            Source::Handed(map) => map.values().filter(|p| p.is_alive()).count(),
            Source::Scan(supervisor) => supervisor.which_children().await.map_or(0, |cs| {
                cs.iter()
                    .filter(|c| c.process.as_ref().is_some_and(ProcessRef::is_alive))
                    .count()
            }),
        }
    }
}

impl Naming for StartupDiscovery {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            dynamic_names: false,
            bounded_memory: true,
            duplicate_keys: false,
            await_name: false,
            register: false,
        }
    }

    /// Always `Unsupported("register")`: there is no registry to register in.
    fn register(
        &self,
        _name: Name,
        _process: &ProcessRef,
    ) -> impl std::future::Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(Err(NamingError::Unsupported("register")))
    }

    /// Always `Unsupported("unregister")`.
    fn unregister(
        &self,
        _name: &Name,
        _owner: &Ctx,
    ) -> impl std::future::Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(Err(NamingError::Unsupported("unregister")))
    }

    /// The handed ref if it is still alive (mode a), or a fresh scan (mode b).
    async fn whereis(&self, name: &Name) -> Option<ProcessRef> {
        match &*self.source {
            Source::Handed(map) => map.get(name).filter(|p| p.is_alive()).cloned(),
            Source::Scan(_) => self
                .scan(name)
                .await
                .ok()
                .flatten()
                .filter(ProcessRef::is_alive),
        }
    }

    /// How many of the known services run now.
    fn registered_count(&self) -> impl std::future::Future<Output = usize> + Send {
        self.running()
    }
}

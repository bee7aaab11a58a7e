//! Monitor registry: the fixed `KV.Registry`, one registry process that owns every name.
//!
//! **BEAM original** (seed 002: notes on the Elixir getting-started guide's `KV.Registry`): one `GenServer` whose state
//! is `names` (name -> pid) and `refs` (monitor ref -> name). Registration monitors the
//! process (a monitor only: the seed's link-and-monitor version is a bug, a crashing bucket
//! would take the registry down) and `handle_info({:DOWN, ref, ...})` removes both entries.
//! The guide's later version kept every write in the server but let lookups read a
//! `:protected` ETS table with `read_concurrency: true`.
//!
//! **Here**: a [`GenServer`] in the runtime owns the `names` and `refs` maps; every
//! registration and unregistration is a `call` to it, and it cleans up when it handles the
//! [`Info::Down`]. Two configurations of the same backend ([`ReadPath`]):
//! - [`ReadPath::Call`] (`monitor-registry`): lookups are calls too, so reads and writes
//!   share one mailbox and are serialised together;
//! - [`ReadPath::Table`] (`monitor-registry-ets`): the server still does all writes and all
//!   cleanup, but into a concurrent table (a dashmap, sharded `RwLock`s, like ETS with
//!   `read_concurrency`) that callers read directly, so reads are no longer serialised.
//!
//! Between an owner's death and the server handling its `Down`, a lookup can return the dead
//! process: that window is the price of cleanup-by-message, and it is kept, not filtered.
//! [`MonitorRegistry::stale_lookups`] counts lookups that returned a dead process and
//! [`MonitorRegistry::stale_window`] measures one window. (In the `Call` configuration a
//! lookup issued after the `Down` was queued is answered after it, so stale answers only go
//! to lookups already queued, or issued during the exit itself.)
//!
//! **Costs**: `Call`: every operation is a message round trip to one process (a mailbox
//! send, a task wake-up, a oneshot reply), so throughput is bounded by one core whatever the
//! number of callers. `Table`: a lookup is one table read (plus a liveness check of the
//! registry process); writes still take the round trip. A registration that finds a dead
//! holder whose `Down` is still queued takes the name over.
//! **Choose it** when you want the whole registry in one place you can reason about (one
//! owner of all state, no locks in your own code), with modest registration rates; prefer
//! `Table` when lookups dominate. For many short-lived workers prefer [`Registry`](crate::Registry).
//!
//! A dead registry process answers [`NamingError::RegistryDown`] (and `whereis` gives `None`,
//! as reading an ETS table whose owner died fails); a registry that does not answer within
//! the call timeout answers [`NamingError::Timeout`]. The registry process is shut down when
//! the last handle to it is dropped, or by [`MonitorRegistry::stop`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use process_runtime::{
    CallError, Ctx, ExitReason, GenServer, Info, MonitorRef, Name, Pid, ProcessRef, Runtime,
    StartError, DEFAULT_CALL_TIMEOUT,
};

use crate::naming::{Capabilities, Naming, NamingError};
use crate::storage::FastHasher;

/// Where lookups of a [`MonitorRegistry`] are served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    /// Lookups are calls to the registry process (the original `KV.Registry`).
    Call,
    /// Lookups read a table that only the registry process writes (ETS `:protected`,
    /// `read_concurrency: true`).
    Table,
}

/// One registered name, as the registry process keeps it.
#[derive(Clone)]
struct Entry {
    process: ProcessRef,
    monitor: MonitorRef,
}

type SharedTable = DashMap<Name, Entry, FastHasher>;

/// The `names` map: private to the server, or a table the server writes and callers read.
enum Names {
    Private(HashMap<Name, Entry, FastHasher>),
    Shared(Arc<SharedTable>),
}

impl Names {
    fn get(&self, name: &Name) -> Option<Entry> {
        match self {
            Names::Private(m) => m.get(name).cloned(),
            Names::Shared(t) => t.get(name).map(|e| e.value().clone()),
        }
    }

    fn insert(&mut self, name: Name, entry: Entry) {
        match self {
            Names::Private(m) => {
                m.insert(name, entry);
            }
            Names::Shared(t) => {
                t.insert(name, entry);
            }
        }
    }

    fn remove(&mut self, name: &Name) -> Option<Entry> {
        match self {
            Names::Private(m) => m.remove(name),
            Names::Shared(t) => t.remove(name).map(|(_, e)| e),
        }
    }

    /// Removes `name` only if it is still the registration `monitor` watches.
    fn remove_if_monitor(&mut self, name: &Name, monitor: MonitorRef) {
        match self {
            Names::Private(m) => {
                if m.get(name).is_some_and(|e| e.monitor == monitor) {
                    m.remove(name);
                }
            }
            Names::Shared(t) => {
                t.remove_if(name, |_, e| e.monitor == monitor);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Names::Private(m) => m.len(),
            Names::Shared(t) => t.len(),
        }
    }
}

/// The registry process's requests.
enum Request {
    Register(Name, ProcessRef),
    Unregister(Name, Pid),
    Lookup(Name),
    Count,
}

/// The registry process's replies.
enum Reply {
    Done(Result<(), NamingError>),
    Found(Option<ProcessRef>),
    Count(usize),
}

/// The registry process: `names` and `refs`, as in `KV.Registry`.
struct Server {
    names: Names,
    refs: HashMap<MonitorRef, Name, FastHasher>,
}

impl Server {
    fn register(&mut self, name: Name, process: ProcessRef, ctx: &Ctx) -> Result<(), NamingError> {
        if let Some(held) = self.names.get(&name) {
            if held.process.is_alive() {
                return Err(NamingError::AlreadyRegistered(held.process.pid()));
            }
            // The holder is dead and its Down is queued behind this call: take the name over
            // now (the Down will find its monitor gone and do nothing).
            self.names.remove(&name);
            self.refs.remove(&held.monitor);
            ctx.demonitor(&held.process, held.monitor);
        }
        // A killed process is dead at once, even before its exit path runs: no new names.
        if !process.is_alive() {
            return Err(NamingError::NoProc);
        }
        // A monitor, never a link: a crashing process must not take the registry down.
        let monitor = ctx.monitor(&process).map_err(|_| NamingError::NoProc)?;
        self.refs.insert(monitor, name.clone());
        self.names.insert(name, Entry { process, monitor });
        Ok(())
    }

    fn unregister(&mut self, name: &Name, owner: Pid, ctx: &Ctx) -> Result<(), NamingError> {
        match self.names.get(name) {
            None => Err(NamingError::NotRegistered),
            Some(held) if held.process.pid() != owner => Err(NamingError::NotOwner {
                owner: held.process.pid(),
            }),
            Some(held) => {
                self.names.remove(name);
                self.refs.remove(&held.monitor);
                // A Down already queued for this monitor finds no ref and is ignored.
                ctx.demonitor(&held.process, held.monitor);
                Ok(())
            }
        }
    }
}

impl GenServer for Server {
    type Call = Request;
    type Reply = Reply;
    type Cast = Infallible;

    async fn handle_call(&mut self, request: Request, ctx: &mut Ctx) -> Reply {
        match request {
            Request::Register(name, process) => Reply::Done(self.register(name, process, ctx)),
            Request::Unregister(name, owner) => Reply::Done(self.unregister(&name, owner, ctx)),
            // No liveness filter: between a death and its Down this answers the dead process.
            Request::Lookup(name) => Reply::Found(self.names.get(&name).map(|e| e.process)),
            Request::Count => Reply::Count(self.names.len()),
        }
    }

    async fn handle_info(&mut self, info: Info, _ctx: &mut Ctx) {
        if let Info::Down(down) = info {
            if let Some(name) = self.refs.remove(&down.monitor) {
                self.names.remove_if_monitor(&name, down.monitor);
            }
        }
    }
}

/// What one stale window looked like (see [`MonitorRegistry::stale_window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleWindow {
    /// From ending the owner to the first lookup that no longer returned it.
    pub window: Duration,
    /// Lookups in that time that returned the owner after it had died.
    pub stale_lookups: u64,
    /// All lookups made after ending the owner.
    pub lookups: u64,
}

/// The registry process and what its handles share; the last handle dropped stops it.
struct Shared {
    server: ProcessRef,
    table: Option<Arc<SharedTable>>,
    stale_lookups: AtomicU64,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.server.exit(ExitReason::Shutdown);
    }
}

/// A `KV.Registry`-style registry: one registry process owns every name and monitors its
/// holders. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct MonitorRegistry {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl MonitorRegistry {
    /// Starts the registry process in `rt`, with lookups served as `reads` says.
    pub async fn start(rt: &Runtime, reads: ReadPath) -> Result<Self, StartError> {
        let (names, table) = match reads {
            ReadPath::Call => (Names::Private(HashMap::default()), None),
            ReadPath::Table => {
                let table = Arc::new(SharedTable::default());
                (Names::Shared(Arc::clone(&table)), Some(table))
            }
        };
        let server = rt
            .start(Server {
                names,
                refs: HashMap::default(),
            })
            .await?;
        Ok(MonitorRegistry {
            shared: Arc::new(Shared {
                server: server.process().clone(),
                table,
                stale_lookups: AtomicU64::new(0),
            }),
            timeout: DEFAULT_CALL_TIMEOUT,
        })
    }

    /// The same registry, with calls to its process timing out after `timeout`
    /// (default [`DEFAULT_CALL_TIMEOUT`], 5 s).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where lookups are served from.
    pub fn read_path(&self) -> ReadPath {
        match self.shared.table {
            Some(_) => ReadPath::Table,
            None => ReadPath::Call,
        }
    }

    /// The registry process (to monitor it, or to kill it in a test).
    pub fn process(&self) -> &ProcessRef {
        &self.shared.server
    }

    /// Shuts the registry process down; every later operation answers `RegistryDown`.
    pub fn stop(&self) {
        self.shared.server.exit(ExitReason::Shutdown);
    }

    async fn call(&self, request: Request) -> Result<Reply, NamingError> {
        self.shared
            .server
            .call::<Request, Reply>(request, self.timeout)
            .await
            .map_err(|e| match e {
                CallError::NoProc => NamingError::RegistryDown,
                CallError::Timeout => NamingError::Timeout,
                CallError::BadRequest => NamingError::Unsupported("registry protocol mismatch"),
            })
    }

    /// The process registered under `name`, possibly dead (see the module doc);
    /// `RegistryDown` or `Timeout` if the registry process cannot answer.
    pub async fn lookup(&self, name: &Name) -> Result<Option<ProcessRef>, NamingError> {
        let found = match &self.shared.table {
            Some(table) => {
                if !self.shared.server.is_alive() {
                    return Err(NamingError::RegistryDown);
                }
                table.get(name).map(|e| e.process.clone())
            }
            None => match self.call(Request::Lookup(name.clone())).await? {
                Reply::Found(found) => found,
                _ => return Err(NamingError::Unsupported("registry protocol mismatch")),
            },
        };
        if found.as_ref().is_some_and(|p| !p.is_alive()) {
            self.shared.stale_lookups.fetch_add(1, Ordering::Relaxed);
        }
        Ok(found)
    }

    /// How many names are registered; `RegistryDown` or `Timeout` if the registry process
    /// cannot answer.
    pub async fn count(&self) -> Result<usize, NamingError> {
        match &self.shared.table {
            Some(table) if self.shared.server.is_alive() => Ok(table.len()),
            Some(_) => Err(NamingError::RegistryDown),
            None => match self.call(Request::Count).await? {
                Reply::Count(n) => Ok(n),
                _ => Err(NamingError::Unsupported("registry protocol mismatch")),
            },
        }
    }

    /// How many lookups so far (through any handle) returned a process that was already dead.
    pub fn stale_lookups(&self) -> u64 {
        self.shared.stale_lookups.load(Ordering::Relaxed)
    }

    /// Measures one stale window: checks that `owner` holds `name`, ends `owner` with
    /// `reason` (as [`ProcessRef::exit`] does; `ExitReason::Killed` is a kill), then looks
    /// `name` up back to back until it no longer returns `owner`.
    ///
    /// `NotRegistered` / `NotOwner` if `owner` does not hold `name` to begin with, `Timeout`
    /// if the name still points at `owner` after `timeout`.
    pub async fn stale_window(
        &self,
        name: &Name,
        owner: &ProcessRef,
        reason: ExitReason,
        timeout: Duration,
    ) -> Result<StaleWindow, NamingError> {
        match self.lookup(name).await? {
            None => return Err(NamingError::NotRegistered),
            Some(p) if p.pid() != owner.pid() => {
                return Err(NamingError::NotOwner { owner: p.pid() })
            }
            Some(_) => {}
        }
        let start = Instant::now();
        owner.exit(reason);
        let mut stale_lookups = 0;
        let mut lookups = 0;
        loop {
            let found = self.lookup(name).await?;
            lookups += 1;
            match found {
                Some(p) if p.pid() == owner.pid() => {
                    if !p.is_alive() {
                        stale_lookups += 1;
                    }
                }
                _ => {
                    return Ok(StaleWindow {
                        window: start.elapsed(),
                        stale_lookups,
                        lookups,
                    })
                }
            }
            if start.elapsed() > timeout {
                return Err(NamingError::Timeout);
            }
            tokio::task::yield_now().await;
        }
    }
}

impl Naming for MonitorRegistry {
    fn capabilities(&self) -> Capabilities {
        Capabilities::UNIQUE_DYNAMIC
    }

    async fn register(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        match self.call(Request::Register(name, process.clone())).await? {
            Reply::Done(r) => r,
            _ => Err(NamingError::Unsupported("registry protocol mismatch")),
        }
    }

    async fn unregister(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        // The proof is checked here: the request type is private, so only a caller holding
        // the owner's own `Ctx` can put the owner's pid in it.
        let owner = owner.pid();
        match self.call(Request::Unregister(name.clone(), owner)).await? {
            Reply::Done(r) => r,
            _ => Err(NamingError::Unsupported("registry protocol mismatch")),
        }
    }

    async fn whereis(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup(name).await.ok().flatten()
    }

    async fn registered_count(&self) -> usize {
        self.count().await.unwrap_or(0)
    }

    /// `stale_lookups`: lookups so far that returned a dead process (see the module doc).
    fn gauges(&self) -> Vec<(&'static str, f64)> {
        vec![("stale_lookups", self.stale_lookups() as f64)]
    }
}

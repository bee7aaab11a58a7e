//! The one interface every naming strategy implements.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use process_runtime::{
    CallError, Ctx, ExitObserver, HoldError, Name, Pid, ProcessRef, RegisterHook, StartError,
};

/// Why a naming operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    /// The name is held by this (live) process.
    #[error("already registered by {0}")]
    AlreadyRegistered(Pid),
    /// The process to register is dead, or no live process has the name.
    #[error("no process")]
    NoProc,
    /// Only the owner may unregister a name; it is held by `owner`.
    #[error("not the owner: held by {owner}")]
    NotOwner {
        /// The process that holds the name.
        owner: Pid,
    },
    /// The name is not held by anyone.
    #[error("not registered")]
    NotRegistered,
    /// The backend only knows a fixed set of names and this is not one of them.
    #[error("name {0:?} is not among the declared names")]
    Undeclared(Name),
    /// A hard limit of the backend is reached (the BEAM's atom table: `system_limit`).
    #[error("system limit reached: {what} (limit {limit})")]
    SystemLimit {
        /// What ran out.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The backend cannot do this by design.
    #[error("unsupported by this strategy: {0}")]
    Unsupported(&'static str),
    /// A registry's metadata under `key` is not of the type asked for.
    #[error("registry metadata {key:?} is not a {expected}")]
    MetaType {
        /// The metadata key.
        key: Arc<str>,
        /// The type asked for.
        expected: &'static str,
    },
    /// A registry process did not answer in time.
    #[error("the registry timed out")]
    Timeout,
    /// The registry process a server-based backend relies on is not running.
    #[error("the registry process is down")]
    RegistryDown,
}

impl From<NamingError> for StartError {
    fn from(e: NamingError) -> Self {
        match e {
            NamingError::AlreadyRegistered(pid) => StartError::AlreadyStarted(pid),
            other => StartError::Name(Arc::from(other.to_string())),
        }
    }
}

/// What a backend can do, so a workload can skip what it lacks and say why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Any number of names made up at run time (not a fixed declared set).
    pub dynamic_names: bool,
    /// Names are released without limit when processes exit (atoms, for one, are not).
    pub bounded_memory: bool,
    /// Many processes under one key (properties, duplicate keys, groups).
    pub duplicate_keys: bool,
    /// Waiting for a name to be registered.
    pub await_name: bool,
    /// Registration at all (startup discovery has none).
    pub register: bool,
}

/// A capability a workload needs, to say which one is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// See [`Capabilities::dynamic_names`].
    DynamicNames,
    /// See [`Capabilities::bounded_memory`].
    BoundedMemory,
    /// See [`Capabilities::duplicate_keys`].
    DuplicateKeys,
    /// See [`Capabilities::await_name`].
    AwaitName,
    /// See [`Capabilities::register`].
    Register,
}

impl Capabilities {
    /// A unique-key registry of any number of run-time names, each released when its
    /// process exits (Elixir's `Registry`, `KV.Registry`, `:global`, a hash ring).
    pub const UNIQUE_DYNAMIC: Capabilities = Capabilities {
        dynamic_names: true,
        bounded_memory: true,
        duplicate_keys: false,
        await_name: false,
        register: true,
    };

    /// Whether `cap` is present.
    pub fn has(&self, cap: Capability) -> bool {
        match cap {
            Capability::DynamicNames => self.dynamic_names,
            Capability::BoundedMemory => self.bounded_memory,
            Capability::DuplicateKeys => self.duplicate_keys,
            Capability::AwaitName => self.await_name,
            Capability::Register => self.register,
        }
    }
}

/// A way to find a running process by name: the trait every strategy implements.
///
/// Workloads are generic over `N: Naming` (static dispatch): the benches measure the
/// backend, not a virtual call. Methods return `Send` futures so that a backend whose
/// lookups are calls to a registry process fits as well as one that reads a shared table;
/// the trait assumes nothing about where a registered process lives, only that a
/// [`ProcessRef`] reaches it.
///
/// A backend has no label of its own: the name it goes by in results is given once, by
/// whoever measures it (the root crate's contender list), so one type can appear under
/// several configurations without the trait guessing which.
pub trait Naming: Clone + Send + Sync + 'static {
    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Registers `process` under `name`; the name is released when the process exits.
    ///
    /// `AlreadyRegistered(owner)` if a live process holds it, `NoProc` if `process` is dead.
    fn register(
        &self,
        name: Name,
        process: &ProcessRef,
    ) -> impl Future<Output = Result<(), NamingError>> + Send;

    /// Releases `name`, which the calling process must hold (`Registry.unregister/2`,
    /// `Process.unregister/1` from the owner).
    ///
    /// `owner` is the caller's own [`Ctx`]: only a process holds its `Ctx` (it is not
    /// `Clone` and cannot be built outside the runtime), so ownership cannot be claimed by
    /// handing in someone else's [`Pid`]. `NotOwner { owner }` if another process holds the
    /// name, `NotRegistered` if nobody does.
    ///
    /// A pid is no proof of ownership; this does not compile:
    ///
    /// ```compile_fail,E0308
    /// # use naming_strategies::{Naming, Registry};
    /// # use naming_strategies::runtime::{Name, ProcessRef};
    /// async fn forge(registry: Registry, victim: ProcessRef) {
    ///     let _ = registry.unregister(&Name::Id(1), victim.pid()).await;
    /// }
    /// ```
    fn unregister(
        &self,
        name: &Name,
        owner: &Ctx,
    ) -> impl Future<Output = Result<(), NamingError>> + Send;

    /// The process registered under `name`, if any.
    fn whereis(&self, name: &Name) -> impl Future<Output = Option<ProcessRef>> + Send;

    /// How many names are registered now (for leak checks).
    fn registered_count(&self) -> impl Future<Output = usize> + Send;

    /// Backend-specific gauges for the results, e.g. `("atom_count", 1234.0)` for interned
    /// names that are never freed. Empty by default.
    fn gauges(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// Adds `process` to the group `group` (a gproc property, a duplicate Registry key, a
    /// `pg` group): many processes under one key, each released when it exits.
    /// `Unsupported("duplicate_keys")` where the backend has only unique names.
    fn join(
        &self,
        group: Name,
        process: &ProcessRef,
    ) -> impl Future<Output = Result<(), NamingError>> + Send {
        let _ = (group, process);
        std::future::ready(Err(NamingError::Unsupported("duplicate_keys")))
    }

    /// Sends `msg` to every member of `group` (`gproc:send/2` to a property,
    /// `Registry.dispatch/3`); returns how many members it reached.
    fn dispatch<M: std::any::Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> impl Future<Output = Result<usize, NamingError>> + Send {
        let _ = (group, msg);
        std::future::ready(Err(NamingError::Unsupported("duplicate_keys")))
    }

    /// Sends a plain message to the process named `name` (`NoProc` if none).
    fn send<M: std::any::Any + Send>(
        &self,
        name: &Name,
        msg: M,
    ) -> impl Future<Output = Result<(), CallError>> + Send {
        async move {
            match self.whereis(name).await {
                Some(p) => p.send(msg),
                None => Err(CallError::NoProc),
            }
        }
    }

    /// Calls the process named `name`: `GenServer.call({:via, ...}, request, timeout)`.
    fn call<Req: Send + 'static, Rep: Send + 'static>(
        &self,
        name: &Name,
        request: Req,
        timeout: Duration,
    ) -> impl Future<Output = Result<Rep, CallError>> + Send {
        async move {
            match self.whereis(name).await {
                Some(p) => p.call(request, timeout).await,
                None => Err(CallError::NoProc),
            }
        }
    }
}

/// A backend whose every operation completes in the caller, without waiting: a shared
/// table read or written in place.
///
/// Implement this instead of [`Naming`] and the blanket impl below makes it a [`Naming`]
/// whose futures are ready at once (`std::future::ready`), so the synchronous code is
/// written once and the async surface cannot drift from it. Backends that wait on
/// something (a registry process, a supervisor scan) implement [`Naming`] directly.
///
/// The methods carry a `_sync` suffix so that they never clash with [`Naming`]'s when both
/// traits are in scope.
pub trait SyncNaming: Clone + Send + Sync + 'static {
    /// What this backend can do ([`Naming::capabilities`]).
    const CAPABILITIES: Capabilities;

    /// [`Naming::register`], done now.
    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError>;

    /// [`Naming::unregister`], done now: `owner` is the calling process's own context.
    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError>;

    /// [`Naming::whereis`], done now.
    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef>;

    /// [`Naming::registered_count`], done now.
    fn registered_count_sync(&self) -> usize;

    /// [`Naming::gauges`]. Empty by default.
    fn gauges_sync(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// [`Naming::join`], done now. `Unsupported("duplicate_keys")` by default.
    fn join_sync(&self, group: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let _ = (group, process);
        Err(NamingError::Unsupported("duplicate_keys"))
    }

    /// [`Naming::dispatch`], done now. `Unsupported("duplicate_keys")` by default.
    fn dispatch_sync<M: std::any::Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> Result<usize, NamingError> {
        let _ = (group, msg);
        Err(NamingError::Unsupported("duplicate_keys"))
    }
}

/// Every [`SyncNaming`] backend is a [`Naming`] whose futures are ready at once; `send` and
/// `call` keep the trait's defaults (a lookup, then the message or the call).
impl<T: SyncNaming> Naming for T {
    fn capabilities(&self) -> Capabilities {
        T::CAPABILITIES
    }

    fn register(
        &self,
        name: Name,
        process: &ProcessRef,
    ) -> impl Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(self.register_sync(name, process))
    }

    fn unregister(
        &self,
        name: &Name,
        owner: &Ctx,
    ) -> impl Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(self.unregister_sync(name, owner))
    }

    fn whereis(&self, name: &Name) -> impl Future<Output = Option<ProcessRef>> + Send {
        std::future::ready(self.whereis_sync(name))
    }

    fn registered_count(&self) -> impl Future<Output = usize> + Send {
        std::future::ready(self.registered_count_sync())
    }

    fn gauges(&self) -> Vec<(&'static str, f64)> {
        self.gauges_sync()
    }

    fn join(
        &self,
        group: Name,
        process: &ProcessRef,
    ) -> impl Future<Output = Result<(), NamingError>> + Send {
        std::future::ready(self.join_sync(group, process))
    }

    fn dispatch<M: std::any::Any + Send + Sync + Clone>(
        &self,
        group: &Name,
        msg: M,
    ) -> impl Future<Output = Result<usize, NamingError>> + Send {
        std::future::ready(self.dispatch_sync(group, msg))
    }
}

/// A `{:via, module, name}` start: registers the starting process under `name` before its
/// `init` runs, so a clash fails the start with `AlreadyStarted(owner)`.
pub fn via<N: Naming>(naming: &N, name: Name) -> RegisterHook {
    let naming = naming.clone();
    Box::new(move |process: ProcessRef| {
        Box::pin(async move {
            naming
                .register(name, &process)
                .await
                .map_err(StartError::from)
        })
    })
}

/// Claims a unique `name` for `process` in a backend's table, tied to the process's exit
/// path (`hold_name`): `insert` adds it if free (else gives back the holder), and a holder
/// that has died but whose exit path has not yet removed it is evicted with `evict` and the
/// claim retried, as Elixir's `Registry` does with a dead pid. The one claim loop every
/// hold-based backend shares.
pub(crate) fn claim_unique(
    process: &ProcessRef,
    observer: &Arc<dyn ExitObserver>,
    name: &Name,
    tag: u32,
    insert: impl Fn() -> Result<(), ProcessRef>,
    evict: impl Fn(Pid),
) -> Result<(), NamingError> {
    loop {
        match process.hold_name(observer, name.clone(), tag, |_| insert()) {
            Ok(()) => return Ok(()),
            Err(HoldError::NoProc) => return Err(NamingError::NoProc),
            Err(HoldError::Rejected(holder)) if holder.is_alive() => {
                return Err(NamingError::AlreadyRegistered(holder.pid()))
            }
            Err(HoldError::Rejected(stale)) => evict(stale.pid()),
        }
    }
}

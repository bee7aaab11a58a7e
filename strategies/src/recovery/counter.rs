//! The counter worker of seed 001 (the Elixir Forum thread "Supervision strategy for a
//! stateful web client?" and its `DontLose` demo) and its three ways of surviving (or not)
//! a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use process_runtime::{
    CallError, ChildSpec, Ctx, ExitReason, GenServer, Info, Intensity, MonitorRef, Name, Pid,
    ProcessRef, Restart, Runtime, StartError, Strategy, Supervisor,
};

use super::table::{Table, TableError};
use crate::naming::{via, Naming};

/// The table key the counter is backed up under (`:counter` in the seed).
pub const COUNTER_KEY: &str = "counter";

/// How the counter's state is kept across a restart of its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backup {
    /// (a) A public table created on the supervisor's side and handed to every new worker
    /// (seed 001's first answer: `:ets.new(..., [:public])` in `Supervisor.init`).
    SupervisorTable,
    /// (b) A keeper process owns a protected table, gives it away to the worker and gets it
    /// back as heir when the worker dies; `rest_for_one` with the keeper first (seed 001's
    /// second answer).
    KeeperHeir,
    /// (c) No backup: a restarted worker starts from zero.
    None,
}

impl Backup {
    /// All three, in the seed's order, then the control.
    pub const ALL: [Backup; 3] = [Backup::SupervisorTable, Backup::KeeperHeir, Backup::None];

    /// A short name for results.
    pub fn label(self) -> &'static str {
        match self {
            Backup::SupervisorTable => "supervisor-table",
            Backup::KeeperHeir => "keeper-heir",
            Backup::None => "no-backup",
        }
    }
}

/// Options of a [`CounterService`].
#[derive(Clone, Debug)]
pub struct CounterOpts {
    /// Distinguishes services sharing one naming backend: names are `{:counter, id}` and
    /// `{:keeper, id}`.
    pub id: u64,
    /// Restart intensity of the service's supervisor. The default (100 000 in 1 s) lets a
    /// workload kill the worker on purpose thousands of times.
    pub intensity: Intensity,
    /// Extra time the handover takes, to widen the window a kill can land in: the keeper
    /// waits this long between accepting a table request and giving the table away (b); the
    /// worker waits this long in `init` before reading its table (a, c). Zero by default.
    pub handover_delay: Duration,
    /// Timeout of each call to the counter (and of the worker's table request to the keeper).
    pub call_timeout: Duration,
}

impl Default for CounterOpts {
    fn default() -> Self {
        CounterOpts {
            id: 0,
            intensity: Intensity {
                max_restarts: 100_000,
                max_seconds: Duration::from_secs(1),
            },
            handover_delay: Duration::ZERO,
            call_timeout: process_runtime::DEFAULT_CALL_TIMEOUT,
        }
    }
}

/// Why a counter operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// The call did not get through (no worker, worker died, timeout).
    #[error("call failed: {0}")]
    Call(#[from] CallError),
    /// The worker refused to write: it does not own its table.
    #[error("write refused: {0}")]
    Refused(#[from] TableError),
    /// No worker is registered now.
    #[error("no counter worker is running")]
    NoWorker,
    /// The service did not start.
    #[error("start failed: {0}")]
    Start(#[from] StartError),
    /// No new worker served within the deadline.
    #[error("not serving again within {0:?}")]
    NotServing(Duration),
}

/// A request to the counter worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterRequest {
    /// Add one and answer the new value (`{:count, value}` in the seed).
    Increment,
    /// Answer the current value.
    Get,
}

/// Where a starting worker gets its table from.
#[derive(Clone)]
enum Source<N> {
    Supervisor(Table),
    Keeper { naming: N, keeper: Name },
    Nothing,
}

/// The counter worker (seed 001's `DontLose.Counter`).
struct Counter<N> {
    source: Source<N>,
    table: Option<Table>,
    count: u64,
    handover_delay: Duration,
    call_timeout: Duration,
}

impl<N: Naming> GenServer for Counter<N> {
    type Call = CounterRequest;
    type Reply = Result<u64, TableError>;
    type Cast = ();

    async fn init(&mut self, ctx: &mut Ctx) -> Result<(), ExitReason> {
        match &self.source {
            Source::Supervisor(table) => {
                if !self.handover_delay.is_zero() {
                    tokio::time::sleep(self.handover_delay).await;
                }
                // Retrieve the value from the backup.
                self.count = table.lookup(COUNTER_KEY).unwrap_or(0);
                self.table = Some(table.clone());
            }
            Source::Keeper { naming, keeper } => {
                // The seed finds the keeper with `Supervisor.which_children`; here the keeper
                // is registered under its own name. The table arrives with the reply, after
                // the keeper has given it away to this process.
                let keeper = naming
                    .whereis(keeper)
                    .await
                    .ok_or_else(|| ExitReason::error("no_keeper"))?;
                let request = KeeperRequest::RequestTable(ctx.me().clone());
                let table = keeper
                    .call::<KeeperRequest, Result<Table, KeeperError>>(request, self.call_timeout)
                    .await
                    .map_err(|e| ExitReason::error(format!("keeper call failed: {e}")))?
                    .map_err(|e| ExitReason::error(format!("keeper refused: {e}")))?;
                self.count = table.lookup(COUNTER_KEY).unwrap_or(0);
                self.table = Some(table);
            }
            Source::Nothing => {
                if !self.handover_delay.is_zero() {
                    tokio::time::sleep(self.handover_delay).await;
                }
                self.count = 0;
            }
        }
        Ok(())
    }

    async fn handle_call(&mut self, request: CounterRequest, ctx: &mut Ctx) -> Self::Reply {
        match request {
            CounterRequest::Get => Ok(self.count),
            CounterRequest::Increment => {
                let new = self.count + 1;
                // Back the value up first; a refused write is not acknowledged.
                if let Some(table) = &self.table {
                    table.insert(ctx.pid(), COUNTER_KEY, new)?;
                }
                self.count = new;
                Ok(new)
            }
        }
    }
}

/// A request to the keeper.
pub enum KeeperRequest {
    /// Give the table away to this (starting) worker.
    RequestTable(ProcessRef),
}

/// Why the keeper did not hand the table over.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeeperError {
    /// A live worker holds the table.
    #[error("the table is held by {0}")]
    Busy(Pid),
    /// The requesting worker died before the handover.
    #[error("the requester is dead")]
    RequesterDown,
    /// The table refused the transfer.
    #[error("transfer refused: {0}")]
    Transfer(TableError),
}

/// Seed 001's `DontLose.Keeper`: owns a protected table, lends it to one worker at a time,
/// and is its heir.
struct Keeper {
    table: Option<Table>,
    /// Where the service can see the keeper's table (observation only; never written through).
    slot: Arc<Mutex<Option<Table>>>,
    /// The worker the table is given to, and the monitor that brings it back.
    lent: Option<(Pid, MonitorRef)>,
    handover_delay: Duration,
}

impl Keeper {
    fn take_back(&mut self, me: Pid, holder: Pid) {
        if let Some(table) = &self.table {
            // The heir transfer: refused only if the table is not the dead holder's any more.
            let _ = table.claim_as_heir(me, holder);
        }
        self.lent = None;
    }
}

impl GenServer for Keeper {
    type Call = KeeperRequest;
    type Reply = Result<Table, KeeperError>;
    type Cast = ();

    async fn init(&mut self, ctx: &mut Ctx) -> Result<(), ExitReason> {
        // Create and initialise the table, with this process as owner and heir.
        let table = Table::protected(ctx.pid(), Some(ctx.pid()));
        table
            .insert(ctx.pid(), COUNTER_KEY, 0)
            .map_err(|e| ExitReason::error(e.to_string()))?;
        *self.slot.lock() = Some(table.clone());
        self.table = Some(table);
        Ok(())
    }

    async fn handle_call(&mut self, request: KeeperRequest, ctx: &mut Ctx) -> Self::Reply {
        let KeeperRequest::RequestTable(worker) = request;
        let me = ctx.pid();
        if let Some((holder, _)) = self.lent {
            // A holder whose exit path has run but whose `Down` is still queued is dead:
            // take the table back now (the `Down` will then be ignored).
            if ctx.runtime().process(holder).is_some() {
                return Err(KeeperError::Busy(holder));
            }
            self.take_back(me, holder);
        }
        let table = self.table.clone().ok_or(KeeperError::RequesterDown)?;
        // Monitor before giving away, so the table comes back whenever the worker dies.
        let mref = ctx
            .monitor(&worker)
            .map_err(|_| KeeperError::RequesterDown)?;
        if !self.handover_delay.is_zero() {
            tokio::time::sleep(self.handover_delay).await;
        }
        if let Err(e) = table.give_away(me, worker.pid()) {
            ctx.demonitor(&worker, mref);
            return Err(KeeperError::Transfer(e));
        }
        self.lent = Some((worker.pid(), mref));
        Ok(table)
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx) {
        if let Info::Down(down) = info {
            if let Some((holder, mref)) = self.lent {
                if down.monitor == mref && down.pid == holder {
                    self.take_back(ctx.pid(), holder);
                }
            }
        }
    }
}

/// A supervised counter registered as `{:counter, id}`, backed up per [`Backup`].
pub struct CounterService<N: Naming> {
    naming: N,
    backup: Backup,
    name: Name,
    keeper_name: Option<Name>,
    table: Arc<Mutex<Option<Table>>>,
    supervisor: Supervisor,
    call_timeout: Duration,
}

impl<N: Naming> CounterService<N> {
    /// Starts the supervisor and its children, names registered through `naming`:
    /// (a) `[counter]` one-for-one, the table created here and captured by the child spec;
    /// (b) `[keeper, counter]` rest-for-one; (c) `[counter]` one-for-one.
    pub async fn start(
        rt: &Runtime,
        naming: &N,
        backup: Backup,
        opts: CounterOpts,
    ) -> Result<Self, CounterError> {
        let name = Name::tagged("counter", opts.id);
        let keeper_name = Name::tagged("keeper", opts.id);
        let mut children = Vec::new();
        let (source, table, strategy) = match backup {
            Backup::SupervisorTable => {
                let table = Table::public(None);
                // Public: anyone may write, so the `Pid` passed here is not checked.
                table.insert(Pid::new(rt.node(), 0), COUNTER_KEY, 0)?;
                (
                    Source::Supervisor(table.clone()),
                    Arc::new(Mutex::new(Some(table))),
                    Strategy::OneForOne,
                )
            }
            Backup::KeeperHeir => {
                let slot = Arc::new(Mutex::new(None));
                let (k_naming, k_name, k_slot, delay) = (
                    naming.clone(),
                    keeper_name.clone(),
                    slot.clone(),
                    opts.handover_delay,
                );
                children.push(ChildSpec::new(
                    "keeper",
                    Restart::Permanent,
                    move |rt: Runtime, mut start| {
                        start.register = Some(via(&k_naming, k_name.clone()));
                        let keeper = Keeper {
                            table: None,
                            slot: k_slot.clone(),
                            lent: None,
                            handover_delay: delay,
                        };
                        async move {
                            rt.start_opts(keeper, start)
                                .await
                                .map(|s| s.process().clone())
                        }
                    },
                ));
                let source = Source::Keeper {
                    naming: naming.clone(),
                    keeper: keeper_name.clone(),
                };
                (source, slot, Strategy::RestForOne)
            }
            Backup::None => (
                Source::Nothing,
                Arc::new(Mutex::new(None)),
                Strategy::OneForOne,
            ),
        };
        let (counter_naming, counter_name) = (naming.clone(), name.clone());
        let (delay, timeout) = (opts.handover_delay, opts.call_timeout);
        children.push(ChildSpec::new(
            "counter",
            Restart::Permanent,
            move |rt: Runtime, mut start| {
                start.register = Some(via(&counter_naming, counter_name.clone()));
                let counter = Counter {
                    source: source.clone(),
                    table: None,
                    count: 0,
                    handover_delay: delay,
                    call_timeout: timeout,
                };
                async move {
                    rt.start_opts(counter, start)
                        .await
                        .map(|s| s.process().clone())
                }
            },
        ));
        let supervisor = Supervisor::start(rt, children, strategy, opts.intensity).await?;
        Ok(CounterService {
            naming: naming.clone(),
            backup,
            name,
            keeper_name: (backup == Backup::KeeperHeir).then_some(keeper_name),
            table,
            supervisor,
            call_timeout: opts.call_timeout,
        })
    }

    /// Which backup this service uses.
    pub fn backup(&self) -> Backup {
        self.backup
    }

    /// The counter's registered name, `{:counter, id}`.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Adds one and returns the new value (`DontLose.Counter.increment/0`).
    pub async fn increment(&self) -> Result<u64, CounterError> {
        self.request(CounterRequest::Increment).await
    }

    /// The current value.
    pub async fn get(&self) -> Result<u64, CounterError> {
        self.request(CounterRequest::Get).await
    }

    async fn request(&self, request: CounterRequest) -> Result<u64, CounterError> {
        let reply: Result<u64, TableError> = self
            .naming
            .call(&self.name, request, self.call_timeout)
            .await?;
        Ok(reply?)
    }

    /// The worker registered now (`Process.whereis(DontLose.Counter)`).
    pub async fn worker(&self) -> Option<ProcessRef> {
        self.naming.whereis(&self.name).await
    }

    /// The keeper, for [`Backup::KeeperHeir`].
    pub async fn keeper(&self) -> Option<ProcessRef> {
        match &self.keeper_name {
            Some(name) => self.naming.whereis(name).await,
            None => None,
        }
    }

    /// The backup table, to observe its value and owner: (a) the supervisor-side table,
    /// (b) the table of the latest keeper, (c) none.
    pub fn table(&self) -> Option<Table> {
        self.table.lock().clone()
    }

    /// The service's supervisor.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Kills the current worker (`Process.exit(pid, :kill)`) and returns it, so the caller
    /// can wait for its exit.
    pub async fn kill_worker(&self) -> Result<ProcessRef, CounterError> {
        let worker = self.worker().await.ok_or(CounterError::NoWorker)?;
        worker.kill();
        Ok(worker)
    }

    /// Waits until a worker other than `old` is registered (it may still be in `init`).
    pub async fn await_new_worker(
        &self,
        old: Pid,
        deadline: Duration,
    ) -> Result<ProcessRef, CounterError> {
        let start = Instant::now();
        loop {
            if let Some(w) = self.worker().await {
                if w.pid() != old && w.is_alive() {
                    return Ok(w);
                }
            }
            if start.elapsed() > deadline {
                return Err(CounterError::NotServing(deadline));
            }
            tokio::task::yield_now().await;
        }
    }

    /// Waits until a worker other than `old` answers a call; returns the time waited.
    pub async fn await_serving(
        &self,
        old: Pid,
        deadline: Duration,
    ) -> Result<Duration, CounterError> {
        let start = Instant::now();
        loop {
            if let Some(w) = self.worker().await {
                if w.pid() != old {
                    let served = w
                        .call::<CounterRequest, Result<u64, TableError>>(
                            CounterRequest::Get,
                            self.call_timeout,
                        )
                        .await;
                    if served.is_ok() {
                        return Ok(start.elapsed());
                    }
                }
            }
            if start.elapsed() > deadline {
                return Err(CounterError::NotServing(deadline));
            }
            tokio::task::yield_now().await;
        }
    }

    /// Stops the supervisor and its children and waits for it to exit.
    pub async fn shutdown(self) {
        let sup = self.supervisor.process().clone();
        sup.exit(ExitReason::Shutdown);
        sup.exited().await;
    }
}

//! `Supervisor`: a fixed list of children, restarted by strategy, policy and intensity.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    CallError, ChildCounts, Ctx, ExitReason, GenServer, Info, Pid, ProcessRef, Runtime, ServerRef,
    StartError, StartOpts, DEFAULT_CALL_TIMEOUT,
};

/// When a child is restarted (OTP's `:restart` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit (not `Normal` or `Shutdown`).
    Transient,
    /// Never restarted; forgotten when it exits.
    Temporary,
}

impl Restart {
    /// Whether a child with this policy is restarted after exiting with `reason`.
    pub fn restarts_after(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => !reason.is_normal(),
            Restart::Temporary => false,
        }
    }
}

/// Which siblings restart with a crashed child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Only the crashed child.
    OneForOne,
    /// The crashed child and every child started after it.
    RestForOne,
    /// Every child.
    OneForAll,
}

/// Restart intensity: more than `max_restarts` restarts within `max_seconds` stops the
/// supervisor with an error (OTP defaults: 3 in 5 seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts allowed within the window.
    pub max_restarts: u32,
    /// The window.
    pub max_seconds: Duration,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity {
            max_restarts: 3,
            max_seconds: Duration::from_secs(5),
        }
    }
}

/// Errors of supervisor operations.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    /// No child with this pid.
    #[error("no such child")]
    NotFound,
    /// `max_children` reached.
    #[error("max children reached")]
    MaxChildren,
    /// The child failed to start.
    #[error("start failed: {0}")]
    Start(StartError),
    /// The supervisor did not answer.
    #[error("supervisor call failed: {0}")]
    Call(CallError),
}

type StartFuture = Pin<Box<dyn Future<Output = Result<ProcessRef, StartError>> + Send>>;
type StartFn = Arc<dyn Fn(Runtime, StartOpts) -> StartFuture + Send + Sync>;

/// How to start (and restart) one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// The child's id among its siblings (what `which_children` reports).
    pub id: Arc<str>,
    /// When it is restarted.
    pub restart: Restart,
    start: StartFn,
}

impl ChildSpec {
    /// A child started by `start`, which must pass the given [`StartOpts`] on (they link the
    /// child to its supervisor) and may add a name to register.
    pub fn new<F, Fut>(id: impl Into<Arc<str>>, restart: Restart, start: F) -> Self
    where
        F: Fn(Runtime, StartOpts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ProcessRef, StartError>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            restart,
            start: Arc::new(move |rt, opts| Box::pin(start(rt, opts))),
        }
    }

    /// A [`GenServer`] child, built afresh by `make` at every (re)start.
    pub fn server<S: GenServer>(
        id: impl Into<Arc<str>>,
        restart: Restart,
        make: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        ChildSpec::new(id, restart, move |rt: Runtime, opts| {
            let server = make();
            async move {
                rt.start_opts(server, opts)
                    .await
                    .map(|s| s.process().clone())
            }
        })
    }

    pub(crate) async fn start_under(
        &self,
        rt: &Runtime,
        supervisor: &ProcessRef,
    ) -> Result<ProcessRef, StartError> {
        let opts = StartOpts {
            link: Some(supervisor.clone()),
            ..StartOpts::default()
        };
        (self.start)(rt.clone(), opts).await
    }
}

/// One child as `which_children` reports it.
#[derive(Clone, Debug)]
pub struct ChildInfo {
    /// Its id (`None` under a `DynamicSupervisor`, OTP's `:undefined`).
    pub id: Option<Arc<str>>,
    /// The running process, `None` while it is not running.
    pub process: Option<ProcessRef>,
    /// Its restart policy.
    pub restart: Restart,
}

/// Counts restarts in a sliding window.
pub(crate) struct RestartWindow {
    intensity: Intensity,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(intensity: Intensity) -> Self {
        RestartWindow {
            intensity,
            times: VecDeque::new(),
        }
    }

    /// Records a restart; `false` if it goes beyond the intensity.
    pub(crate) fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.times.push_back(now);
        while let Some(&t) = self.times.front() {
            if now.duration_since(t) > self.intensity.max_seconds {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.len() <= self.intensity.max_restarts as usize
    }
}

/// The exit reason of a supervisor that gave up restarting.
pub(crate) fn intensity_reached() -> ExitReason {
    ExitReason::error("reached_max_restart_intensity")
}

/// Ends `child` with `Shutdown` and waits until its exit path has run.
pub(crate) async fn shut_down(child: &ProcessRef) {
    child.exit(ExitReason::Shutdown);
    child.exited().await;
}

struct Child {
    spec: ChildSpec,
    process: Option<ProcessRef>,
}

/// The supervisor's server process.
pub struct SupervisedChildren {
    children: Vec<Child>,
    strategy: Strategy,
    window: RestartWindow,
    parent: Option<Pid>,
}

/// Requests a [`Supervisor`] answers.
pub enum SupervisorRequest {
    /// List the children.
    WhichChildren,
}

impl GenServer for SupervisedChildren {
    type Call = SupervisorRequest;
    type Reply = Vec<ChildInfo>;
    type Cast = ();

    async fn init(&mut self, ctx: &mut Ctx) -> Result<(), ExitReason> {
        for i in 0..self.children.len() {
            let spec = self.children[i].spec.clone();
            match spec.start_under(ctx.runtime(), ctx.me()).await {
                Ok(p) => self.children[i].process = Some(p),
                Err(e) => {
                    self.shut_down_all().await;
                    return Err(ExitReason::error(format!(
                        "child {} failed to start: {e}",
                        spec.id
                    )));
                }
            }
        }
        Ok(())
    }

    async fn handle_call(&mut self, request: SupervisorRequest, _ctx: &mut Ctx) -> Vec<ChildInfo> {
        match request {
            SupervisorRequest::WhichChildren => self
                .children
                .iter()
                .map(|c| ChildInfo {
                    id: Some(c.spec.id.clone()),
                    process: c.process.clone(),
                    restart: c.spec.restart,
                })
                .collect(),
        }
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx) {
        let Info::Exit(signal) = info else { return };
        if Some(signal.from) == self.parent {
            self.shut_down_all().await;
            ctx.stop(signal.reason);
            return;
        }
        let Some(i) = self
            .children
            .iter()
            .position(|c| c.process.as_ref().map(|p| p.pid()) == Some(signal.from))
        else {
            return; // a child we already replaced or terminated
        };
        self.children[i].process = None;
        if !self.children[i].spec.restart.restarts_after(&signal.reason) {
            return;
        }
        self.restart(i, ctx).await;
    }

    fn terminate(&mut self, _reason: &ExitReason) {
        for c in self.children.iter().rev() {
            if let Some(p) = &c.process {
                p.exit(ExitReason::Shutdown);
            }
        }
    }
}

impl SupervisedChildren {
    async fn shut_down_all(&mut self) {
        for c in self.children.iter_mut().rev() {
            if let Some(p) = c.process.take() {
                shut_down(&p).await;
            }
        }
    }

    async fn restart(&mut self, mut crashed: usize, ctx: &mut Ctx) {
        loop {
            if !self.window.allow() {
                self.shut_down_all().await;
                ctx.stop(intensity_reached());
                return;
            }
            let range = match self.strategy {
                Strategy::OneForOne => crashed..crashed + 1,
                Strategy::RestForOne => crashed..self.children.len(),
                Strategy::OneForAll => 0..self.children.len(),
            };
            for j in range.clone().rev() {
                if let Some(p) = self.children[j].process.take() {
                    shut_down(&p).await;
                }
            }
            let mut failed = None;
            for j in range {
                let spec = self.children[j].spec.clone();
                if j != crashed && spec.restart == Restart::Temporary {
                    continue;
                }
                match spec.start_under(ctx.runtime(), ctx.me()).await {
                    Ok(p) => self.children[j].process = Some(p),
                    Err(_) => {
                        failed = Some(j);
                        break;
                    }
                }
            }
            match failed {
                None => return,
                Some(j) => crashed = j,
            }
        }
    }
}

/// A supervisor of a fixed list of children (OTP's `Supervisor`).
#[derive(Clone, Debug)]
pub struct Supervisor {
    server: ServerRef<SupervisedChildren>,
}

impl Supervisor {
    /// Starts the children in order; fails (stopping those started) if any fails to start.
    pub async fn start(
        rt: &Runtime,
        children: Vec<ChildSpec>,
        strategy: Strategy,
        intensity: Intensity,
    ) -> Result<Supervisor, StartError> {
        Self::start_opts(rt, children, strategy, intensity, StartOpts::default()).await
    }

    /// As [`start`](Self::start), with start options (e.g. a link to a parent supervisor).
    pub async fn start_opts(
        rt: &Runtime,
        children: Vec<ChildSpec>,
        strategy: Strategy,
        intensity: Intensity,
        mut opts: StartOpts,
    ) -> Result<Supervisor, StartError> {
        opts.trap_exit = true;
        let server = SupervisedChildren {
            children: children
                .into_iter()
                .map(|spec| Child {
                    spec,
                    process: None,
                })
                .collect(),
            strategy,
            window: RestartWindow::new(intensity),
            parent: opts.link.as_ref().map(|p| p.pid()),
        };
        Ok(Supervisor {
            server: rt.start_opts(server, opts).await?,
        })
    }

    /// The children in start order (`Supervisor.which_children`).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.server
            .call(SupervisorRequest::WhichChildren, DEFAULT_CALL_TIMEOUT)
            .await
            .map_err(SupervisorError::Call)
    }

    /// How many children there are and how many run (`Supervisor.count_children`).
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        let children = self.which_children().await?;
        Ok(ChildCounts {
            specs: children.len(),
            active: children.iter().filter(|c| c.process.is_some()).count(),
        })
    }

    /// The supervisor's own process.
    pub fn process(&self) -> &ProcessRef {
        self.server.process()
    }
}

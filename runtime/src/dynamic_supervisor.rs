//! `DynamicSupervisor`: children started on demand, restarted one for one.

use std::collections::HashMap;

use crate::supervisor::{intensity_reached, shut_down, RestartWindow};
use crate::{
    ChildInfo, ChildSpec, Ctx, ExitReason, GenServer, Info, Intensity, Pid, ProcessRef, Runtime,
    ServerRef, StartError, StartOpts, SupervisorError, DEFAULT_CALL_TIMEOUT,
};

/// Child counts (OTP's `count_children`: specs and active).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildCounts {
    /// Children known to the supervisor.
    pub specs: usize,
    /// Children running now.
    pub active: usize,
}

/// Options of a [`DynamicSupervisor`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DynamicSupervisorOpts {
    /// Restart intensity; beyond it the supervisor stops with an error.
    pub intensity: Intensity,
    /// At most this many children (`None`: no limit).
    pub max_children: Option<usize>,
}

struct DynChild {
    spec: ChildSpec,
    process: ProcessRef,
}

/// The dynamic supervisor's server process.
pub struct DynamicChildren {
    children: HashMap<Pid, DynChild, foldhash::fast::RandomState>,
    window: RestartWindow,
    max_children: Option<usize>,
    parent: Option<Pid>,
}

/// Requests a [`DynamicSupervisor`] answers.
pub enum DynamicRequest {
    StartChild(ChildSpec),
    TerminateChild(Pid),
    WhichChildren,
    CountChildren,
}

/// Replies of a [`DynamicSupervisor`].
pub enum DynamicReply {
    Started(Result<ProcessRef, SupervisorError>),
    Terminated(Result<(), SupervisorError>),
    Children(Vec<ChildInfo>),
    Counts(ChildCounts),
}

impl GenServer for DynamicChildren {
    type Call = DynamicRequest;
    type Reply = DynamicReply;
    type Cast = ();

    async fn handle_call(&mut self, request: DynamicRequest, ctx: &mut Ctx) -> DynamicReply {
        match request {
            DynamicRequest::StartChild(spec) => {
                if self
                    .max_children
                    .is_some_and(|max| self.children.len() >= max)
                {
                    return DynamicReply::Started(Err(SupervisorError::MaxChildren));
                }
                let started = spec.start_under(ctx.runtime(), ctx.me()).await;
                DynamicReply::Started(match started {
                    Ok(p) => {
                        self.children.insert(
                            p.pid(),
                            DynChild {
                                spec,
                                process: p.clone(),
                            },
                        );
                        Ok(p)
                    }
                    Err(e) => Err(SupervisorError::Start(e)),
                })
            }
            DynamicRequest::TerminateChild(pid) => match self.children.remove(&pid) {
                Some(child) => {
                    shut_down(&child.process).await;
                    DynamicReply::Terminated(Ok(()))
                }
                None => DynamicReply::Terminated(Err(SupervisorError::NotFound)),
            },
            DynamicRequest::WhichChildren => DynamicReply::Children(
                self.children
                    .values()
                    .map(|c| ChildInfo {
                        id: None,
                        process: Some(c.process.clone()),
                        restart: c.spec.restart,
                    })
                    .collect(),
            ),
            DynamicRequest::CountChildren => DynamicReply::Counts(ChildCounts {
                specs: self.children.len(),
                active: self.children.len(),
            }),
        }
    }

    async fn handle_info(&mut self, info: Info, ctx: &mut Ctx) {
        let Info::Exit(signal) = info else { return };
        if Some(signal.from) == self.parent {
            self.shut_down_all().await;
            ctx.stop(signal.reason);
            return;
        }
        let Some(child) = self.children.remove(&signal.from) else {
            return; // terminated on request, or already replaced
        };
        if !child.spec.restart.restarts_after(&signal.reason) {
            return;
        }
        loop {
            if !self.window.allow() {
                self.shut_down_all().await;
                ctx.stop(intensity_reached());
                return;
            }
            if let Ok(p) = child.spec.start_under(ctx.runtime(), ctx.me()).await {
                self.children.insert(
                    p.pid(),
                    DynChild {
                        spec: child.spec,
                        process: p,
                    },
                );
                return;
            }
        }
    }

    fn terminate(&mut self, _reason: &ExitReason) {
        for c in self.children.values() {
            c.process.exit(ExitReason::Shutdown);
        }
    }
}

impl DynamicChildren {
    async fn shut_down_all(&mut self) {
        for (_, c) in self.children.drain() {
            shut_down(&c.process).await;
        }
    }
}

/// A supervisor of children started on demand (Elixir's `DynamicSupervisor`, one_for_one).
#[derive(Clone, Debug)]
pub struct DynamicSupervisor {
    server: ServerRef<DynamicChildren>,
}

impl DynamicSupervisor {
    /// Starts an empty dynamic supervisor.
    pub async fn start(
        rt: &Runtime,
        opts: DynamicSupervisorOpts,
    ) -> Result<DynamicSupervisor, StartError> {
        Self::start_opts(rt, opts, StartOpts::default()).await
    }

    /// As [`start`](Self::start), with start options (e.g. a link to a parent supervisor).
    pub async fn start_opts(
        rt: &Runtime,
        opts: DynamicSupervisorOpts,
        mut start: StartOpts,
    ) -> Result<DynamicSupervisor, StartError> {
        start.trap_exit = true;
        let server = DynamicChildren {
            children: HashMap::default(),
            window: RestartWindow::new(opts.intensity),
            max_children: opts.max_children,
            parent: start.link.as_ref().map(|p| p.pid()),
        };
        Ok(DynamicSupervisor {
            server: rt.start_opts(server, start).await?,
        })
    }

    async fn request(&self, request: DynamicRequest) -> Result<DynamicReply, SupervisorError> {
        self.server
            .call(request, DEFAULT_CALL_TIMEOUT)
            .await
            .map_err(SupervisorError::Call)
    }

    /// Starts a child under this supervisor and returns it once its `init` has run.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<ProcessRef, SupervisorError> {
        match self.request(DynamicRequest::StartChild(spec)).await? {
            DynamicReply::Started(r) => r,
            _ => Err(SupervisorError::Call(crate::CallError::BadRequest)),
        }
    }

    /// Stops a child (without restarting it) and waits until it has exited.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        match self.request(DynamicRequest::TerminateChild(pid)).await? {
            DynamicReply::Terminated(r) => r,
            _ => Err(SupervisorError::Call(crate::CallError::BadRequest)),
        }
    }

    /// The running children.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        match self.request(DynamicRequest::WhichChildren).await? {
            DynamicReply::Children(c) => Ok(c),
            _ => Err(SupervisorError::Call(crate::CallError::BadRequest)),
        }
    }

    /// How many children there are.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        match self.request(DynamicRequest::CountChildren).await? {
            DynamicReply::Counts(c) => Ok(c),
            _ => Err(SupervisorError::Call(crate::CallError::BadRequest)),
        }
    }

    /// The supervisor's own process.
    pub fn process(&self) -> &ProcessRef {
        self.server.process()
    }
}

//! GenServer: a process that serves calls, casts and info messages one at a time.

use std::any::TypeId;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::envelope::{CallRequest, Protocol};
use crate::{
    CallError, Ctx, Down, Envelope, ExitReason, ExitSignal, Msg, Pid, ProcessRef, Runtime,
    SpawnOpts, StartError,
};

/// A non-call, non-cast message, as `handle_info` receives it.
pub enum Info {
    /// A plain message sent with [`ProcessRef::send`].
    Message(Msg),
    /// A monitored process exited.
    Down(Down),
    /// A linked process exited and this server traps exits.
    Exit(ExitSignal),
}

/// A server process in the shape of OTP's `GenServer`: state in `self`, one message at a time.
///
/// `init` runs in the new process before `start` returns (as `GenServer.start_link` waits
/// for it). A handler may end the server with [`Ctx::stop`].
pub trait GenServer: Send + Sized + 'static {
    /// The requests `handle_call` answers.
    type Call: Send + 'static;
    /// The replies `handle_call` gives.
    type Reply: Send + 'static;
    /// The one-way requests `handle_cast` takes.
    type Cast: Send + 'static;

    /// Runs in the new process before `start` returns; an error ends it and fails the start.
    fn init(&mut self, _ctx: &mut Ctx) -> impl Future<Output = Result<(), ExitReason>> + Send {
        async { Ok(()) }
    }

    /// Answers one call.
    fn handle_call(
        &mut self,
        request: Self::Call,
        ctx: &mut Ctx,
    ) -> impl Future<Output = Self::Reply> + Send;

    /// Handles one cast.
    fn handle_cast(
        &mut self,
        _request: Self::Cast,
        _ctx: &mut Ctx,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Handles a plain message, a `Down`, or a trapped exit signal.
    fn handle_info(&mut self, _info: Info, _ctx: &mut Ctx) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs when a handler stopped the server (not when it is killed).
    fn terminate(&mut self, _reason: &ExitReason) {}
}

/// Registers a starting process under a name before its `init` runs (the `{:via, ...}` start).
pub type RegisterHook = Box<
    dyn FnOnce(ProcessRef) -> Pin<Box<dyn Future<Output = Result<(), StartError>> + Send>> + Send,
>;

/// Options for [`Runtime::start_opts`].
#[derive(Default)]
pub struct StartOpts {
    /// Link the server to this process (its supervisor) before it runs.
    pub link: Option<ProcessRef>,
    /// Trap exits from the start (supervisors do).
    pub trap_exit: bool,
    /// Register a name for the server before `init`; a clash fails the start.
    pub register: Option<RegisterHook>,
}

/// A typed handle to a running [`GenServer`].
pub struct ServerRef<S> {
    process: ProcessRef,
    _server: PhantomData<fn() -> S>,
}

impl<S> Clone for ServerRef<S> {
    fn clone(&self) -> Self {
        ServerRef {
            process: self.process.clone(),
            _server: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for ServerRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.process.fmt(f)
    }
}

impl<S: GenServer> ServerRef<S> {
    /// Calls the server and waits up to `timeout` for the reply.
    pub async fn call(&self, request: S::Call, timeout: Duration) -> Result<S::Reply, CallError> {
        self.process.call(request, timeout).await
    }

    /// Casts to the server.
    pub fn cast(&self, request: S::Cast) -> Result<(), CallError> {
        self.process.cast(request)
    }

    /// The untyped handle.
    pub fn process(&self) -> &ProcessRef {
        &self.process
    }

    /// The server's pid.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }
}

impl Runtime {
    /// Starts a server and waits for its `init`.
    pub async fn start<S: GenServer>(&self, server: S) -> Result<ServerRef<S>, StartError> {
        self.start_opts(server, StartOpts::default()).await
    }

    /// Starts a server with options (link, trap exits, a name) and waits for its `init`.
    pub async fn start_opts<S: GenServer>(
        &self,
        server: S,
        opts: StartOpts,
    ) -> Result<ServerRef<S>, StartError> {
        let (ack_tx, ack_rx) = oneshot::channel();
        let spawn = SpawnOpts {
            link: opts.link,
            trap_exit: opts.trap_exit,
            protocol: const {
                &Protocol {
                    call: Some(TypeId::of::<CallRequest<S::Call, S::Reply>>()),
                    cast: Some(TypeId::of::<S::Cast>()),
                    info: None,
                }
            },
        };
        let register = opts.register;
        let process = self.spawn_opts(spawn, move |ctx| serve(server, ctx, ack_tx, register));
        match ack_rx.await {
            Ok(Ok(())) => Ok(ServerRef {
                process,
                _server: PhantomData,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StartError::Init(process.exited().await)),
        }
    }
}

async fn serve<S: GenServer>(
    mut server: S,
    mut ctx: Ctx,
    ack: oneshot::Sender<Result<(), StartError>>,
    register: Option<RegisterHook>,
) -> ExitReason {
    if let Some(register) = register {
        if let Err(e) = register(ctx.me().clone()).await {
            let _ = ack.send(Err(e));
            return ExitReason::Normal;
        }
    }
    if let Err(reason) = server.init(&mut ctx).await {
        let _ = ack.send(Err(StartError::Init(reason.clone())));
        return reason;
    }
    let _ = ack.send(Ok(()));
    loop {
        if let Some(reason) = ctx.stop.take() {
            server.terminate(&reason);
            return reason;
        }
        match ctx.recv().await {
            Envelope::Call(call) => match call.downcast::<S::Call, S::Reply>() {
                Ok(CallRequest { request, reply_to }) => {
                    let reply = server.handle_call(request, &mut ctx).await;
                    reply_to.reply(reply);
                }
                Err(other) => other.reject(),
            },
            Envelope::Cast(msg) => {
                // The sender checked the type, so a mismatch cannot reach here.
                if let Ok(msg) = msg.downcast::<S::Cast>() {
                    server.handle_cast(*msg, &mut ctx).await;
                }
            }
            Envelope::Info(msg) => server.handle_info(Info::Message(msg), &mut ctx).await,
            Envelope::Down(down) => server.handle_info(Info::Down(*down), &mut ctx).await,
            Envelope::Exit(signal) => server.handle_info(Info::Exit(*signal), &mut ctx).await,
        }
    }
}

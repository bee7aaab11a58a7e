//! An agent: a process that acts on its own behalf when asked. Some operations only the
//! process itself may do (unregistering its own names takes its own `Ctx`, which nothing
//! outside the process holds); a test asks the agent to do them and waits for the answer.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;

use naming_strategies::runtime::{Ctx, Envelope, ExitReason, Name, ProcessRef, Runtime};
use naming_strategies::{Naming, NamingError};
use tokio::sync::oneshot;

/// What running a [`Job`] gives: a future borrowing the agent's `Ctx`.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Something an agent does with its own `Ctx`.
pub trait Job: Send {
    /// Runs the job in the agent, as the agent.
    fn run<'a>(self: Box<Self>, ctx: &'a Ctx) -> JobFuture<'a>;
}

/// A synchronous job: a closure given the agent's `Ctx`, its result sent back.
struct Now<F, T> {
    f: F,
    reply: oneshot::Sender<T>,
}

impl<F, T> Job for Now<F, T>
where
    F: FnOnce(&Ctx) -> T + Send,
    T: Send,
{
    fn run<'a>(self: Box<Self>, ctx: &'a Ctx) -> JobFuture<'a> {
        let _ = self.reply.send((self.f)(ctx));
        Box::pin(std::future::ready(()))
    }
}

/// `naming.unregister(name, ctx)`, as the agent.
struct Unregister<N> {
    naming: N,
    name: Name,
    reply: oneshot::Sender<Result<(), NamingError>>,
}

impl<N: Naming> Job for Unregister<N> {
    fn run<'a>(self: Box<Self>, ctx: &'a Ctx) -> JobFuture<'a> {
        Box::pin(async move {
            let r = self.naming.unregister(&self.name, ctx).await;
            let _ = self.reply.send(r);
        })
    }
}

/// An agent: runs every [`Job`] it is sent, one at a time; answers a `u64` call with
/// `n + 1`; `()` ends it normally and the text `"panic"` makes it panic.
pub fn agent(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        loop {
            match ctx.recv().await {
                Envelope::Info(m) => {
                    if m.is::<()>() {
                        return ExitReason::Normal;
                    }
                    if m.downcast_ref::<&str>() == Some(&"panic") {
                        panic!("asked to");
                    }
                    if let Ok(job) = m.downcast::<Box<dyn Job>>() {
                        job.run(&ctx).await;
                    }
                }
                Envelope::Call(call) => match call.downcast::<u64, u64>() {
                    Ok(c) => c.reply_to.reply(c.request + 1),
                    Err(other) => other.reject(),
                },
                _ => {}
            }
        }
    })
}

/// Runs `f` in `agent` with the agent's own `Ctx`; its result. Panics if the agent is dead.
pub async fn as_agent<T, F>(agent: &ProcessRef, f: F) -> T
where
    F: FnOnce(&Ctx) -> T + Send + 'static,
    T: Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let job: Box<dyn Job> = Box::new(Now { f, reply });
    agent.send(job).expect("the agent is alive");
    rx.await.expect("the agent ran the job")
}

/// `naming.unregister(name)` done by `agent` itself.
pub async fn unregister_as<N: Naming>(
    agent: &ProcessRef,
    naming: &N,
    name: &Name,
) -> Result<(), NamingError> {
    let (reply, rx) = oneshot::channel();
    let job: Box<dyn Job> = Box::new(Unregister {
        naming: naming.clone(),
        name: name.clone(),
        reply,
    });
    agent.send(job).expect("the agent is alive");
    rx.await.expect("the agent ran the job")
}

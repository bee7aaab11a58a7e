//! kameo's registry as a contender behind [`ActorSystem`]: an actor is spawned
//! (`Actor::spawn`), then named (`ActorRef::register`), found by `ActorRef::lookup`, and its
//! name is removed when it exits.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::{RegistryError, SendError};
use kameo::message::{Context, Message};

use super::actor_system::{ActorSystem, ForeignError, Receipt};

/// The label of [`KameoRegistry`].
pub const KAMEO_REGISTRY: &str = "kameo-registry";

/// The worker: answers calls, panics on request.
pub struct Worker;

impl Actor for Worker {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(args: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(args)
    }
}

/// A call: the worker answers `n + 1`.
pub struct Call(u64);

/// Panic in the handler (a crash).
pub struct Panic;

impl Message<Call> for Worker {
    type Reply = u64;

    async fn handle(&mut self, Call(n): Call, _: &mut Context<Self, u64>) -> u64 {
        n.wrapping_add(1)
    }
}

impl Message<Panic> for Worker {
    type Reply = ();

    async fn handle(&mut self, _: Panic, _: &mut Context<Self, ()>) {
        panic!("worker asked to crash")
    }
}

fn registry_error(e: RegistryError, name: &str) -> ForeignError {
    match e {
        RegistryError::NameAlreadyRegistered => ForeignError::AlreadyRegistered(name.to_string()),
        other => ForeignError::Failed(other.to_string()),
    }
}

/// kameo's registry: one global map of names (behind a mutex) to actor refs; a name is
/// given to a running actor and removed when it exits (by its id, a scan of the map).
#[derive(Clone, Copy, Debug, Default)]
pub struct KameoRegistry;

impl ActorSystem for KameoRegistry {
    type Handle = ActorRef<Worker>;

    fn label(&self) -> &'static str {
        KAMEO_REGISTRY
    }

    fn unique_names(&self) -> bool {
        true
    }

    async fn start_named(&self, name: &str) -> Result<Self::Handle, ForeignError> {
        let actor = self.start().await?;
        if let Err(e) = self.register(&actor, name) {
            actor.kill();
            actor.wait_for_shutdown().await;
            return Err(e);
        }
        Ok(actor)
    }

    async fn start(&self) -> Result<Self::Handle, ForeignError> {
        let actor = Worker::spawn(Worker);
        actor.wait_for_startup().await;
        Ok(actor)
    }

    fn register(&self, h: &Self::Handle, name: &str) -> Result<(), ForeignError> {
        if name.is_empty() {
            return Err(ForeignError::BadName(String::new()));
        }
        h.register(name.to_string())
            .map_err(|e| registry_error(e, name))
    }

    fn unregister(&self, h: &Self::Handle, name: &str) -> Result<(), ForeignError> {
        let mut registry = kameo::registry::ACTOR_REGISTRY
            .lock()
            .map_err(|_| ForeignError::Failed("kameo's registry lock is poisoned".into()))?;
        // Only the holder's own name is removed.
        match registry.get::<Worker, str>(name) {
            Ok(Some(held)) if held.id() == h.id() => {
                registry.remove(name);
                Ok(())
            }
            Ok(_) => Err(ForeignError::NoProc),
            Err(e) => Err(registry_error(e, name)),
        }
    }

    fn whereis(&self, name: &str) -> Option<Self::Handle> {
        ActorRef::<Worker>::lookup(name).ok().flatten()
    }

    async fn call(&self, h: &Self::Handle, n: u64, timeout: Duration) -> Result<u64, ForeignError> {
        match h.ask(Call(n)).reply_timeout(timeout).await {
            Ok(v) => Ok(v),
            Err(SendError::Timeout(_)) => Err(ForeignError::Timeout),
            Err(SendError::ActorNotRunning(_)) | Err(SendError::ActorStopped) => {
                Err(ForeignError::NoProc)
            }
            Err(e) => Err(ForeignError::Failed(e.to_string())),
        }
    }

    fn id(&self, h: &Self::Handle) -> u64 {
        h.id().sequence_id()
    }

    fn is_alive(&self, h: &Self::Handle) -> bool {
        h.is_alive()
    }

    fn stop(&self, h: &Self::Handle) {
        let h = h.clone();
        // A stop is a message to the actor; it is sent from a task so this never blocks.
        tokio::spawn(async move {
            let _ = h.stop_gracefully().await;
        });
    }

    fn kill(&self, h: &Self::Handle) {
        h.kill();
    }

    fn crash(&self, h: &Self::Handle) -> Result<(), ForeignError> {
        h.tell(Panic).try_send().map_err(|_| ForeignError::NoProc)
    }

    async fn exited(&self, h: &Self::Handle) {
        h.wait_for_shutdown().await;
    }

    fn registered_count(&self, prefix: &str) -> usize {
        kameo::registry::ACTOR_REGISTRY
            .lock()
            .map(|r| r.names().filter(|n| n.starts_with(prefix)).count())
            .unwrap_or(0)
    }

    async fn start_member(&self, _: &str, _: Arc<Receipt>) -> Result<Self::Handle, ForeignError> {
        Err(ForeignError::Unsupported(
            "kameo's local registry has one actor per name and no groups",
        ))
    }

    fn broadcast(&self, _: &str) -> Result<usize, ForeignError> {
        Err(ForeignError::Unsupported(
            "kameo's local registry has one actor per name and no groups",
        ))
    }
}

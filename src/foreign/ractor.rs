//! ractor as a contender, two ways: its registry of named actors (`Actor::spawn(Some(name),
//! ..)`, `ractor::registry::where_is`, the name freed when the actor exits) and its process
//! groups (`ractor::pg`: join, members, one message to each member), each behind
//! [`ActorSystem`].

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use ractor::{pg, registry, Actor, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort};

use super::actor_system::{ActorSystem, ForeignError, Receipt};

/// What a worker is sent.
pub enum WorkerMsg {
    /// Answer `n + 1`.
    Call(u64, RpcReplyPort<u64>),
    /// A broadcast: report it to the worker's receipt.
    Ping,
    /// Panic in the handler (a crash).
    Panic,
}

/// The worker: answers calls, reports broadcasts, panics on request.
struct Worker;

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = Option<Arc<Receipt>>;
    type Arguments = Option<Arc<Receipt>>;

    async fn pre_start(
        &self,
        _me: ActorRef<WorkerMsg>,
        receipt: Option<Arc<Receipt>>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(receipt)
    }

    async fn handle(
        &self,
        _me: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        receipt: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Call(n, reply) => {
                let _ = reply.send(n.wrapping_add(1));
            }
            WorkerMsg::Ping => {
                if let Some(r) = receipt {
                    r.received();
                }
            }
            WorkerMsg::Panic => panic!("worker asked to crash"),
        }
        Ok(())
    }
}

fn spawn_error(e: ractor::SpawnErr) -> ForeignError {
    match e {
        ractor::SpawnErr::ActorAlreadyRegistered(name) => ForeignError::AlreadyRegistered(name),
        other => ForeignError::Failed(other.to_string()),
    }
}

async fn spawn(
    name: Option<String>,
    receipt: Option<Arc<Receipt>>,
) -> Result<ActorRef<WorkerMsg>, ForeignError> {
    if name.as_deref() == Some("") {
        return Err(ForeignError::BadName(String::new()));
    }
    // The join handle is not kept: the actor runs until stopped, and `exited` waits on it.
    Actor::spawn(name, Worker, receipt)
        .await
        .map(|(actor, _join)| actor)
        .map_err(spawn_error)
}

async fn call(actor: &ActorRef<WorkerMsg>, n: u64, timeout: Duration) -> Result<u64, ForeignError> {
    match actor
        .call(|reply| WorkerMsg::Call(n, reply), Some(timeout))
        .await
    {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        Ok(ractor::rpc::CallResult::Timeout) => Err(ForeignError::Timeout),
        Ok(ractor::rpc::CallResult::SenderError) | Err(_) => Err(ForeignError::NoProc),
    }
}

fn id(actor: &ActorRef<WorkerMsg>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    actor.get_id().hash(&mut h);
    h.finish()
}

fn is_alive(actor: &ActorRef<WorkerMsg>) -> bool {
    matches!(
        actor.get_status(),
        ActorStatus::Starting | ActorStatus::Running | ActorStatus::Upgrading
    )
}

fn crash(actor: &ActorRef<WorkerMsg>) -> Result<(), ForeignError> {
    actor
        .send_message(WorkerMsg::Panic)
        .map_err(|_| ForeignError::NoProc)
}

async fn exited(actor: &ActorRef<WorkerMsg>) {
    let _ = actor.wait(None).await;
}

/// ractor's registry: an actor is named when it is spawned and its name is freed when it
/// exits; `where_is` reads the registry's map.
#[derive(Clone, Copy, Debug, Default)]
pub struct RactorRegistry;

/// The label of [`RactorRegistry`].
pub const RACTOR_REGISTRY: &str = "ractor-registry";
/// The label of [`RactorPg`].
pub const RACTOR_PG: &str = "ractor-pg";

impl ActorSystem for RactorRegistry {
    type Handle = ActorRef<WorkerMsg>;

    fn label(&self) -> &'static str {
        RACTOR_REGISTRY
    }

    fn unique_names(&self) -> bool {
        true
    }

    async fn start_named(&self, name: &str) -> Result<Self::Handle, ForeignError> {
        spawn(Some(name.to_string()), None).await
    }

    async fn start(&self) -> Result<Self::Handle, ForeignError> {
        spawn(None, None).await
    }

    fn register(&self, _: &Self::Handle, _: &str) -> Result<(), ForeignError> {
        Err(ForeignError::Unsupported(
            "ractor names an actor only when it spawns it (see the named start time)",
        ))
    }

    fn unregister(&self, _: &Self::Handle, _: &str) -> Result<(), ForeignError> {
        Err(ForeignError::Unsupported(
            "ractor frees a name only when its actor exits",
        ))
    }

    fn whereis(&self, name: &str) -> Option<Self::Handle> {
        registry::where_is(name).map(ActorRef::from)
    }

    async fn call(&self, h: &Self::Handle, n: u64, timeout: Duration) -> Result<u64, ForeignError> {
        call(h, n, timeout).await
    }

    fn id(&self, h: &Self::Handle) -> u64 {
        id(h)
    }

    fn is_alive(&self, h: &Self::Handle) -> bool {
        is_alive(h)
    }

    fn stop(&self, h: &Self::Handle) {
        h.stop(None);
    }

    fn kill(&self, h: &Self::Handle) {
        h.kill();
    }

    fn crash(&self, h: &Self::Handle) -> Result<(), ForeignError> {
        crash(h)
    }

    async fn exited(&self, h: &Self::Handle) {
        exited(h).await;
    }

    fn registered_count(&self, prefix: &str) -> usize {
        registry::registered()
            .iter()
            .filter(|n| n.starts_with(prefix))
            .count()
    }

    async fn start_member(&self, _: &str, _: Arc<Receipt>) -> Result<Self::Handle, ForeignError> {
        Err(ForeignError::Unsupported(
            "a registry name has one actor: groups are ractor-pg",
        ))
    }

    fn broadcast(&self, _: &str) -> Result<usize, ForeignError> {
        Err(ForeignError::Unsupported(
            "a registry name has one actor: groups are ractor-pg",
        ))
    }
}

/// ractor's process groups used for names: a worker joins the group named after it, a
/// lookup takes the group's first member, a member leaves when it exits. A group takes any
/// number of members, so it never refuses a second holder of a name.
#[derive(Clone, Copy, Debug, Default)]
pub struct RactorPg;

impl ActorSystem for RactorPg {
    type Handle = ActorRef<WorkerMsg>;

    fn label(&self) -> &'static str {
        RACTOR_PG
    }

    fn unique_names(&self) -> bool {
        false
    }

    async fn start_named(&self, name: &str) -> Result<Self::Handle, ForeignError> {
        let actor = self.start().await?;
        if let Err(e) = self.register(&actor, name) {
            actor.kill();
            return Err(e);
        }
        Ok(actor)
    }

    async fn start(&self) -> Result<Self::Handle, ForeignError> {
        spawn(None, None).await
    }

    fn register(&self, h: &Self::Handle, name: &str) -> Result<(), ForeignError> {
        if name.is_empty() {
            return Err(ForeignError::BadName(String::new()));
        }
        pg::join(name.to_string(), vec![h.get_cell()]);
        Ok(())
    }

    fn unregister(&self, h: &Self::Handle, name: &str) -> Result<(), ForeignError> {
        pg::leave(name.to_string(), vec![h.get_cell()]);
        Ok(())
    }

    fn whereis(&self, name: &str) -> Option<Self::Handle> {
        pg::get_members(&name.to_string())
            .into_iter()
            .next()
            .map(ActorRef::from)
    }

    async fn call(&self, h: &Self::Handle, n: u64, timeout: Duration) -> Result<u64, ForeignError> {
        call(h, n, timeout).await
    }

    fn id(&self, h: &Self::Handle) -> u64 {
        id(h)
    }

    fn is_alive(&self, h: &Self::Handle) -> bool {
        is_alive(h)
    }

    fn stop(&self, h: &Self::Handle) {
        h.stop(None);
    }

    fn kill(&self, h: &Self::Handle) {
        h.kill();
    }

    fn crash(&self, h: &Self::Handle) -> Result<(), ForeignError> {
        crash(h)
    }

    async fn exited(&self, h: &Self::Handle) {
        exited(h).await;
    }

    fn registered_count(&self, prefix: &str) -> usize {
        pg::which_groups()
            .iter()
            .filter(|g| g.starts_with(prefix))
            .filter(|g| !pg::get_members(g).is_empty())
            .count()
    }

    async fn start_member(
        &self,
        group: &str,
        receipt: Arc<Receipt>,
    ) -> Result<Self::Handle, ForeignError> {
        let actor = spawn(None, Some(receipt)).await?;
        pg::join(group.to_string(), vec![actor.get_cell()]);
        Ok(actor)
    }

    fn broadcast(&self, group: &str) -> Result<usize, ForeignError> {
        let mut sent = 0;
        for member in pg::get_members(&group.to_string()) {
            if member.send_message(WorkerMsg::Ping).is_ok() {
                sent += 1;
            }
        }
        Ok(sent)
    }
}

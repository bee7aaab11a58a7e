//! The few operations the per-backend workloads need from an in-process actor framework's
//! naming, as one trait ([`ActorSystem`]): start a worker under a name (it answers a call
//! `n -> n + 1`), look a name up, call a handle with a timeout, stop or kill it, wait for
//! its exit; optionally register an already running actor, and groups (join, broadcast).
//! The drivers in [`drive`](super::drive) are written once over it; each framework
//! contender is one small adapter ([`ractor`](super::ractor), [`kameo`](super::kameo)).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Why a framework operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForeignError {
    /// The actor is not running (it stopped, was killed or panicked).
    #[error("no process")]
    NoProc,
    /// No reply came within the timeout.
    #[error("timed out")]
    Timeout,
    /// Another live actor already holds this name.
    #[error("name {0:?} is already registered")]
    AlreadyRegistered(String),
    /// A name the framework refuses (e.g. empty).
    #[error("bad name {0:?}")]
    BadName(String),
    /// The framework has no such operation; says what it lacks.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The framework failed in another way (its own message).
    #[error("{0}")]
    Failed(String),
}

/// Counts down group members' receipts of a broadcast and wakes the sender when the last
/// one has received it (fan-out).
#[derive(Debug, Default)]
pub struct Receipt {
    remaining: AtomicUsize,
    done: Notify,
}

impl Receipt {
    /// Expects `members` receipts from now on.
    pub fn expect(&self, members: usize) {
        self.remaining.store(members, Ordering::Release);
    }

    /// One member received; the last one wakes [`all_received`](Self::all_received).
    pub fn received(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Waits until every expected member has received.
    pub async fn all_received(&self) {
        self.done.notified().await;
    }
}

/// One framework's naming, as the workloads use it. Every operation returns a typed error
/// rather than panicking or hanging; what the framework cannot do is
/// [`ForeignError::Unsupported`].
pub trait ActorSystem: Send + Sync + 'static {
    /// A handle to one running actor (cheap to clone).
    type Handle: Clone + Send + Sync + 'static;

    /// The contender's label in rows.
    fn label(&self) -> &'static str;

    /// Whether the framework lets at most one live actor hold a name (a registry); a group
    /// (`pg`) does not.
    fn unique_names(&self) -> bool;

    /// Starts a worker and names it `name`: [`ForeignError::AlreadyRegistered`] if another
    /// live actor holds the name (for a unique registry), and then nothing is left running.
    fn start_named(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Self::Handle, ForeignError>> + Send;

    /// Starts an unnamed worker (to be [`register`](Self::register)ed later).
    fn start(&self) -> impl Future<Output = Result<Self::Handle, ForeignError>> + Send;

    /// Names an already running actor; [`ForeignError::Unsupported`] where the framework
    /// names an actor only when it starts.
    fn register(&self, handle: &Self::Handle, name: &str) -> Result<(), ForeignError>;

    /// Takes `name` from `handle` while it keeps running; [`ForeignError::Unsupported`]
    /// where the framework cannot.
    fn unregister(&self, handle: &Self::Handle, name: &str) -> Result<(), ForeignError>;

    /// The actor named `name`, if any (it may have just exited).
    fn whereis(&self, name: &str) -> Option<Self::Handle>;

    /// Calls the worker with `n`; it answers `n + 1`. [`ForeignError::NoProc`] if it is not
    /// running, [`ForeignError::Timeout`] if no answer came within `timeout`.
    fn call(
        &self,
        handle: &Self::Handle,
        n: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<u64, ForeignError>> + Send;

    /// A number that tells this actor apart from every other one of the framework.
    fn id(&self, handle: &Self::Handle) -> u64;

    /// Whether the actor still runs (has not begun to stop).
    fn is_alive(&self, handle: &Self::Handle) -> bool;

    /// Asks the actor to stop after the message it is handling.
    fn stop(&self, handle: &Self::Handle);

    /// Kills the actor at once.
    fn kill(&self, handle: &Self::Handle);

    /// Makes the worker's message handler panic (a crash, not a stop).
    fn crash(&self, handle: &Self::Handle) -> Result<(), ForeignError>;

    /// Resolves when the actor has exited.
    fn exited(&self, handle: &Self::Handle) -> impl Future<Output = ()> + Send;

    /// How many names beginning with `prefix` are registered now.
    fn registered_count(&self, prefix: &str) -> usize;

    /// Starts a worker that joins group `group` and reports each broadcast it receives to
    /// `receipt`; [`ForeignError::Unsupported`] without groups.
    fn start_member(
        &self,
        group: &str,
        receipt: std::sync::Arc<Receipt>,
    ) -> impl Future<Output = Result<Self::Handle, ForeignError>> + Send;

    /// Sends one message to every member of `group`; returns how many it was sent to.
    fn broadcast(&self, group: &str) -> Result<usize, ForeignError>;
}

/// Waits (polling, yielding between tries) until `name` no longer names the actor `old`
/// (by [`ActorSystem::id`]), at most `limit`; whether it was released.
pub async fn released<S: ActorSystem>(system: &S, name: &str, old: u64, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match system.whereis(name) {
            Some(h) if system.id(&h) == old => {}
            _ => return true,
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_micros(100)).await;
    }
}

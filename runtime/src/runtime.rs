//! The runtime: hands out pids, spawns processes, and finds them by pid.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::envelope::Protocol;
use crate::process_table::ProcessTable;
use crate::process_task::ProcessTask;
use crate::{CallError, Ctx, ExitReason, Pid, ProcessRef};

pub(crate) struct RuntimeInner {
    node: u32,
    creation: u32,
    next_serial: AtomicU64,
    next_ref: AtomicU64,
    table: ProcessTable,
}

impl RuntimeInner {
    /// Takes `process` out of the table as it exits.
    pub(crate) fn remove(&self, process: &ProcessRef) {
        let pid = process.pid();
        // A proxy for a remote process shares no serial space with local ones.
        if pid.node() == self.node && pid.creation() == self.creation {
            self.table.remove(pid.serial(), process);
        }
    }
}

/// Options for [`Runtime::spawn_opts`].
#[derive(Clone)]
pub struct SpawnOpts {
    /// Link the new process to this one before it runs (OTP's `spawn_link`).
    pub link: Option<ProcessRef>,
    /// Start with exits trapped (exit signals arrive as messages).
    pub trap_exit: bool,
    pub(crate) protocol: &'static Protocol,
}

impl Default for SpawnOpts {
    fn default() -> Self {
        SpawnOpts {
            link: None,
            trap_exit: false,
            protocol: Protocol::ANY,
        }
    }
}

impl SpawnOpts {
    /// Links the new process to `parent`.
    pub fn linked_to(parent: &ProcessRef) -> Self {
        SpawnOpts {
            link: Some(parent.clone()),
            ..SpawnOpts::default()
        }
    }

    /// Sets whether the new process traps exits.
    pub fn trapping_exits(mut self, on: bool) -> Self {
        self.trap_exit = on;
        self
    }
}

/// A node's process runtime, running on the ambient tokio runtime.
///
/// Cloning is cheap (a shared handle). Pids are unique for the life of the `Runtime` and
/// never reused. A `Runtime` needs a tokio runtime to spawn on, multi-threaded or not.
#[derive(Clone)]
pub struct Runtime(pub(crate) Arc<RuntimeInner>);

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime for the local node (node `0`).
    pub fn new() -> Self {
        Self::with_node(0)
    }

    /// A runtime whose pids name `node` (creation `0`).
    pub fn with_node(node: u32) -> Self {
        Self::with_creation(node, 0)
    }

    /// A runtime whose pids name incarnation `creation` of `node`: a node restarted under
    /// the same id takes a new creation, so pids of the old incarnation are not its own.
    pub fn with_creation(node: u32, creation: u32) -> Self {
        Runtime(Arc::new(RuntimeInner {
            node,
            creation,
            next_serial: AtomicU64::new(1),
            next_ref: AtomicU64::new(1),
            table: ProcessTable::new(),
        }))
    }

    /// The node this runtime's pids name.
    pub fn node(&self) -> u32 {
        self.0.node
    }

    /// The incarnation of the node this runtime's pids name.
    pub fn creation(&self) -> u32 {
        self.0.creation
    }

    /// Spawns a process running `body`; it exits with the reason `body` returns.
    pub fn spawn<F, Fut>(&self, body: F) -> ProcessRef
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        self.spawn_opts(SpawnOpts::default(), body)
    }

    /// Spawns a process with options (link to a parent, trap exits).
    ///
    /// If the parent to link to has already exited, the new process is killed at once with
    /// the parent's exit reason, as an exit signal would.
    pub fn spawn_opts<F, Fut>(&self, opts: SpawnOpts, body: F) -> ProcessRef
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        let serial = self.0.next_serial.fetch_add(1, Ordering::Relaxed);
        let pid = Pid::with_creation(self.0.node, self.0.creation, serial);
        let (me, task) =
            ProcessTask::create(pid, opts.protocol, opts.trap_exit, body, self.clone());
        self.0.table.insert(serial, &me);
        Self::run_task(me, task, opts.link.as_ref())
    }

    /// Links (if asked), then runs process `me`'s task.
    fn run_task<F, Fut>(
        me: ProcessRef,
        task: ProcessTask<F, Fut>,
        link: Option<&ProcessRef>,
    ) -> ProcessRef
    where
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        if let Some(parent) = link {
            if ProcessRef::link(&me, parent).is_err() {
                me.exit(parent.exit_reason().unwrap_or(ExitReason::Killed));
            }
        }
        // The join handle is dropped: a kill ends the task through `ProcessTask` itself.
        drop(tokio::spawn(task));
        me
    }

    /// Spawns a local stand-in for the process `remote` on another node: a process with that
    /// pid whose mailbox `body` drains and forwards (over a socket, say), so a remote process
    /// is reached through the same [`ProcessRef`] as a local one, as on the BEAM.
    ///
    /// It takes only calls, casts and sends of types `Req`/`Rep`/`Req` (what the transport
    /// can carry); others fail with `BadRequest` at the sender (a call whose type shares
    /// the expected one's fingerprint, when `body` takes it and refuses it). It is not in
    /// the process table (its pid is not this node's). `BadRequest` if `remote` names this
    /// node.
    pub fn spawn_remote_proxy<Req, Rep, F, Fut>(
        &self,
        remote: Pid,
        body: F,
    ) -> Result<ProcessRef, CallError>
    where
        Req: Send + 'static,
        Rep: Send + 'static,
        F: FnOnce(Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = ExitReason> + Send + 'static,
    {
        if remote.node() == self.0.node {
            return Err(CallError::BadRequest);
        }
        let protocol = const {
            &Protocol {
                call: Some(std::any::TypeId::of::<crate::CallRequest<Req, Rep>>()),
                cast: Some(std::any::TypeId::of::<Req>()),
                info: Some(std::any::TypeId::of::<Req>()),
            }
        };
        let (me, task) = ProcessTask::create(remote, protocol, false, body, self.clone());
        Ok(Self::run_task(me, task, None))
    }

    /// The live process with this pid, if any: not a killed one (even before its exit path
    /// has removed it from the table), nor a pid of another creation of this node (a
    /// previous incarnation).
    pub fn process(&self, pid: Pid) -> Option<ProcessRef> {
        if pid.node() != self.0.node || pid.creation() != self.0.creation {
            return None;
        }
        self.0.table.get(pid.serial()).filter(ProcessRef::is_alive)
    }

    /// Sends a plain message to `pid`; `NoProc` if no such process is alive.
    pub fn send<M: std::any::Any + Send>(&self, pid: Pid, msg: M) -> Result<(), CallError> {
        self.process(pid).ok_or(CallError::NoProc)?.send(msg)
    }

    /// Kills `pid` (untrappable); `NoProc` if no such process is alive.
    pub fn kill(&self, pid: Pid) -> Result<(), CallError> {
        let p = self.process(pid).ok_or(CallError::NoProc)?;
        if p.kill() {
            Ok(())
        } else {
            Err(CallError::NoProc)
        }
    }

    /// How many processes are alive in this runtime.
    pub fn process_count(&self) -> usize {
        self.0.table.len()
    }

    pub(crate) fn next_ref(&self) -> u64 {
        self.0.next_ref.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod creation_tests {
    use super::*;

    #[tokio::test]
    async fn a_pid_of_a_previous_creation_is_not_alive_in_the_new_one() {
        let old = Runtime::with_creation(2, 1);
        let stale = old.spawn(|mut ctx: Ctx| async move {
            ctx.recv().await;
            ExitReason::Normal
        });
        let new = Runtime::with_creation(2, 2);
        let fresh = new.spawn(|mut ctx: Ctx| async move {
            ctx.recv().await;
            ExitReason::Normal
        });
        // Same node, same serial: only the creation tells them apart.
        assert_eq!(
            (stale.pid().node(), stale.pid().serial()),
            (fresh.pid().node(), fresh.pid().serial())
        );
        assert_eq!(fresh.pid().creation(), 2);
        assert!(new.process(stale.pid()).is_none());
        assert_eq!(new.send(stale.pid(), 1u32), Err(CallError::NoProc));
        assert!(new.process(fresh.pid()).is_some());
        stale.kill();
        fresh.kill();
    }
}

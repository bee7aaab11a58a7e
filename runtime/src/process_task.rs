//! The tokio task a process runs as: builds the body when it first runs, ends when the
//! process is killed, turns a panic into an exit reason, and runs the exit path however the
//! task ends.
//!
//! The task itself is three words (the process, its runtime, where its body is): the body
//! lives in room after the process's cell, in the allocation the cell needs anyway. tokio
//! copies a task's future into its own allocation at spawn and moves its stage again when
//! the task ends, so a spawn + abort costs more the larger the future: on the 2-core host,
//! 296 ns with a 16-byte future against 376 ns with the 176 bytes this task took while it
//! held the body itself (a body that waits for one message, its closure, the exit guard).
//!
//! The body is built inside the task, on its first poll, rather than at spawn: a spawn then
//! writes only the closure (usually a few words) into the room instead of the whole body
//! future, and a process killed before it ever ran never builds its body or its [`Ctx`].
//!
//! A kill needs no abort handle: it marks the process dead and wakes the task (whose waker
//! the first poll leaves in the cell), and the task, polled next, ends without polling the
//! body again. A spawn thus keeps no handle to its task and a kill of a process that never
//! ran touches no task at all.

use std::future::Future;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::envelope::Protocol;
use crate::process::RECV_BUDGET;
use crate::{Ctx, ExitReason, Pid, ProcessRef, Runtime};

/// Where the body is: not built yet, running, gone (finished or dropped) with the exit path
/// still to run, or gone with the exit path run.
enum Stage<F, Fut> {
    Start(F),
    Run(Fut),
    Ended,
    Exited,
}

/// A process's task: its body, then its exit path (run when the body finishes, panics or
/// is killed, or when the task is dropped unfinished, e.g. with its tokio runtime).
pub(crate) struct ProcessTask<F, Fut> {
    process: ProcessRef,
    runtime: Runtime,
    /// The body's stage, in the room after the process's cell: this task alone reads,
    /// writes and drops it, and its reference to the cell keeps the room alive.
    stage: NonNull<Stage<F, Fut>>,
    _owns: PhantomData<Stage<F, Fut>>,
}

// SAFETY: the task owns its stage outright (no other pointer to it is ever used), so
// sending the task to another thread sends the body with it: `Send` when the body is.
unsafe impl<F: Send, Fut: Send> Send for ProcessTask<F, Fut> {}

// The task's own fields are never pinned: the body is pinned in the room, which does not
// move when the task does.
impl<F, Fut> Unpin for ProcessTask<F, Fut> {}

impl<F, Fut> ProcessTask<F, Fut> {
    /// A new process `pid` of `runtime`, with `body` in the room after its cell, and the
    /// task that will run it.
    pub(crate) fn create(
        pid: Pid,
        protocol: &'static Protocol,
        trap_exit: bool,
        body: F,
        runtime: Runtime,
    ) -> (ProcessRef, Self) {
        let (process, room) =
            ProcessRef::new_cell_with_room::<Stage<F, Fut>>(pid, protocol, trap_exit);
        // SAFETY: the room is ours to fill, aligned for a stage and valid while the cell is.
        unsafe { room.as_ptr().write(MaybeUninit::new(Stage::Start(body))) };
        let task = ProcessTask {
            process: process.clone(),
            runtime,
            stage: room.cast(),
            _owns: PhantomData,
        };
        (process, task)
    }

    /// The body's stage.
    fn stage(&mut self) -> &mut Stage<F, Fut> {
        // SAFETY: see `stage`: written at creation, used only through this task, and alive
        // while `process` (this task's own reference) is.
        unsafe { self.stage.as_mut() }
    }

    /// Drops the body in place, then runs the exit path with the body's own `reason` if it
    /// finished (none: killed, or dropped unfinished); once.
    fn finish(&mut self, reason: Option<ExitReason>) {
        let stage = self.stage();
        if matches!(stage, Stage::Exited) {
            return;
        }
        // The body (and its `Ctx`) goes before the exit path runs; a panic in its drop is
        // its last act, and the exit path runs regardless. An assignment whose old value
        // panics in its drop still writes the new one.
        let dropped = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Exited));
        let reason = match (reason, dropped) {
            (Some(reason), _) => Some(reason),
            (None, Err(payload)) => Some(ExitReason::Panic(panic_message(payload.as_ref()).into())),
            (None, Ok(())) => None,
        };
        self.process.run_exit(reason, &self.runtime.0);
    }
}

impl<F, Fut> Future for ProcessTask<F, Fut>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ExitReason>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // Killed: end here, without polling the body again (its drop and the exit path
        // follow, as they would after a tokio abort).
        if !this.process.is_running() {
            this.finish(None);
            return Poll::Ready(());
        }
        let (process, runtime) = (&this.process, &this.runtime);
        // SAFETY: as in `stage()`; `process` and `runtime` are other fields.
        let stage = unsafe { this.stage.as_mut() };
        let polled = catch_unwind(AssertUnwindSafe(|| {
            if matches!(stage, Stage::Start(_)) {
                // First run: leave the task's waker where a kill finds it, unless one came.
                if !process.start_task(cx.waker()) {
                    return Poll::Ready(None);
                }
                if let Stage::Start(body) = std::mem::replace(stage, Stage::Ended) {
                    let ctx = Ctx {
                        me: process.clone(),
                        runtime: runtime.clone(),
                        budget: RECV_BUDGET,
                        stop: None,
                    };
                    *stage = Stage::Run(body(ctx));
                }
            }
            match stage {
                // SAFETY: the body is written in place before its first poll, polled in
                // place, and dropped in place; the room it lies in never moves.
                Stage::Run(body) => unsafe { Pin::new_unchecked(body) }.poll(cx).map(Some),
                Stage::Start(_) | Stage::Ended | Stage::Exited => Poll::Ready(None),
            }
        }));
        let reason = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(reason)) => reason,
            Err(payload) => Some(ExitReason::Panic(panic_message(payload.as_ref()).into())),
        };
        this.finish(reason);
        Poll::Ready(())
    }
}

impl<F, Fut> Drop for ProcessTask<F, Fut> {
    fn drop(&mut self) {
        // Dropped unfinished (its tokio runtime shut down, or the spawn itself failed):
        // the body goes and the exit path runs now. A no-op after `finish`.
        self.finish(None);
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn idle(mut ctx: Ctx) -> ExitReason {
        ctx.recv().await;
        ExitReason::Normal
    }

    fn task_size<F, Fut>(_: &F) -> usize
    where
        F: FnOnce(Ctx) -> Fut,
    {
        std::mem::size_of::<ProcessTask<F, Fut>>()
    }

    #[test]
    fn a_task_is_three_words_whatever_its_body() {
        let big = |mut ctx: Ctx| async move {
            let pad = [1u8; 512];
            ctx.recv().await;
            std::hint::black_box(&pad);
            ExitReason::Normal
        };
        assert_eq!(task_size(&idle), 3 * std::mem::size_of::<usize>());
        assert_eq!(task_size(&big), 3 * std::mem::size_of::<usize>());
    }

    #[tokio::test]
    async fn a_body_in_the_room_runs_finishes_and_is_dropped_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let rt = Runtime::new();
        let drops = Arc::new(AtomicUsize::new(0));
        // A body holding an aligned, large state: finishes normally, killed while running,
        // and killed before it ran.
        let spawn = |d: Arc<AtomicUsize>| {
            rt.spawn(move |mut ctx: Ctx| async move {
                let held = Counted(d);
                let wide = [7u64; 40];
                let reason = match ctx.recv().await {
                    crate::Envelope::Info(_) => ExitReason::Normal,
                    _ => ExitReason::error("unexpected"),
                };
                assert_eq!(std::hint::black_box(wide)[39], 7);
                drop(held);
                reason
            })
        };
        let done = spawn(drops.clone());
        done.send(1u8).unwrap();
        assert_eq!(done.into_exited().await, ExitReason::Normal);
        let running = spawn(drops.clone());
        tokio::task::yield_now().await;
        running.kill();
        assert_eq!(running.into_exited().await, ExitReason::Killed);
        let never_ran = spawn(drops.clone());
        never_ran.kill();
        assert_eq!(never_ran.into_exited().await, ExitReason::Killed);
        // The first two built their bodies (and dropped `held` once each); the third
        // dropped its closure, whose captured counter is not a `Counted`.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        assert_eq!(rt.process_count(), 0);
    }
}

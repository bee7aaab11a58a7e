//! The tokio task a process runs as: builds the body when it first runs, ends when the
//! process is killed, turns a panic into an exit reason, and runs the exit path however the
//! task ends.
//!
//! The body is built inside the task, on its first poll, rather than at spawn: a spawn then
//! copies only the closure (usually a few words) into the task instead of the whole body
//! future, and a process killed before it ever ran never builds its body or its [`Ctx`].
//!
//! A kill needs no abort handle: it marks the process dead and wakes the task (whose waker
//! the first poll leaves in the cell), and the task, polled next, ends without polling the
//! body again. A spawn thus keeps no handle to its task and a kill of a process that never
//! ran touches no task at all.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::process::{ExitGuard, RECV_BUDGET};
use crate::{Ctx, ExitReason};

/// Where the body is: not built yet, running, or finished (and dropped).
enum Stage<F, Fut> {
    Start(F),
    Run(Fut),
    Done,
}

/// A process's task: its body, then its exit path (the guard runs it when the task is
/// dropped, after the body: on return, on panic, or when killed).
pub(crate) struct ProcessTask<F, Fut> {
    stage: Stage<F, Fut>,
    guard: ExitGuard,
}

impl<F, Fut> ProcessTask<F, Fut> {
    pub(crate) fn new(body: F, guard: ExitGuard) -> Self {
        ProcessTask {
            stage: Stage::Start(body),
            guard,
        }
    }
}

impl<F, Fut> Future for ProcessTask<F, Fut>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ExitReason>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only the body future in `Stage::Run` is pinned, and it is never moved: it
        // is written in place before its first poll, polled in place, and dropped in place
        // (by assignment, or with the task). The closure in `Stage::Start` and the guard
        // are never pinned and may move.
        let this = unsafe { self.get_unchecked_mut() };
        let stage = &mut this.stage;
        let guard = &mut this.guard;
        // Killed: end here, without polling the body again (its drop and the exit path
        // follow, as they would after a tokio abort).
        if !guard.process.is_running() {
            return Poll::Ready(());
        }
        let polled = catch_unwind(AssertUnwindSafe(|| {
            if matches!(stage, Stage::Start(_)) {
                // First run: leave the task's waker where a kill finds it, unless one came.
                if !guard.process.start_task(cx.waker()) {
                    return Poll::Ready(None);
                }
                if let Stage::Start(body) = std::mem::replace(stage, Stage::Done) {
                    let ctx = Ctx {
                        me: guard.process.clone(),
                        runtime: guard.runtime.clone(),
                        budget: RECV_BUDGET,
                        stop: None,
                    };
                    *stage = Stage::Run(body(ctx));
                }
            }
            match stage {
                // SAFETY: see above.
                Stage::Run(body) => unsafe { Pin::new_unchecked(body) }.poll(cx).map(Some),
                Stage::Start(_) | Stage::Done => Poll::Ready(None),
            }
        }));
        let reason = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(reason)) => reason,
            Err(payload) => Some(ExitReason::Panic(panic_message(payload.as_ref()).into())),
        };
        // The body (and its `Ctx`) goes before the exit path runs; a panic in its drop
        // is its last act, and the exit path runs regardless (the guard's own drop).
        let dropped = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Done));
        guard.reason = match (reason, dropped) {
            (Some(reason), _) => Some(reason),
            (None, Err(payload)) => Some(ExitReason::Panic(panic_message(payload.as_ref()).into())),
            (None, Ok(())) => None,
        };
        Poll::Ready(())
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

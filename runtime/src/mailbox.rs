//! A process's mailbox: a queue inside the process's own cell.
//!
//! Kept in the cell rather than behind a channel of its own, so a spawn allocates nothing
//! for it until the first message arrives (the queue grows then and keeps its buffer), and
//! a send touches the cell it already holds instead of a second object. One lock guards
//! the queue, the receiver's waker and the closed flag, so a message pushed while the owner
//! is going to sleep always wakes it.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::Envelope;

/// Messages queued for one process, in arrival order.
#[derive(Default)]
pub(crate) struct Mailbox(Mutex<Queue>);

#[derive(Default)]
struct Queue {
    items: VecDeque<Envelope>,
    /// The owner, parked on an empty queue.
    waker: Option<Waker>,
    /// The owner is gone: nothing more is accepted.
    closed: bool,
}

impl Mailbox {
    /// Queues `env` and wakes the owner if it waits; gives it back if the mailbox is closed.
    #[inline]
    pub(crate) fn push(&self, env: Envelope) -> Result<(), Envelope> {
        let waker = {
            let mut q = self.0.lock();
            if q.closed {
                return Err(env);
            }
            q.items.push_back(env);
            q.waker.take()
        };
        // Woken outside the lock: the owner's first act is to take it.
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The next item, or `Pending` with the owner's waker kept for the next push.
    #[inline]
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Envelope> {
        let mut q = self.0.lock();
        if let Some(env) = q.items.pop_front() {
            return Poll::Ready(env);
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item if one is queued now.
    pub(crate) fn try_pop(&self) -> Option<Envelope> {
        self.0.lock().items.pop_front()
    }

    /// Refuses every later push and drops what is queued (as the BEAM drops a dead
    /// process's messages: a queued call's caller then hears its request was dropped).
    pub(crate) fn close(&self) {
        let dropped = {
            let mut q = self.0.lock();
            q.closed = true;
            q.waker = None;
            std::mem::take(&mut q.items)
        };
        // Dropped outside the lock: dropping a call answers its caller.
        drop(dropped);
    }
}

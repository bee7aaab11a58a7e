//! A process's mailbox: a queue inside the process's own cell.
//!
//! Kept in the cell rather than behind a channel of its own, so a spawn allocates nothing
//! for it until the first message arrives (the queue grows then and keeps its buffer), and
//! a send touches the cell it already holds instead of a second object. One lock guards
//! the queue and the receiver's waker, so a message pushed while the owner is going to
//! sleep always wakes it; a push reads the owner's liveness under that lock, so nothing is
//! queued after the exit path has emptied the queue.
//!
//! A mailbox that was never sent to is not locked at all when its process exits: the first
//! send marks it used before it looks at the process's liveness, and the exit path marks
//! the process dead before it looks at that mark, so one of the two always sees the other
//! (a send either finds the process dead or its message is dropped by the exit path).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::Envelope;

/// Messages queued for one process, in arrival order.
#[derive(Default)]
pub(crate) struct Mailbox {
    queue: Mutex<Queue>,
    /// A sender has reached this mailbox, or its owner has parked in it: its exit must lock
    /// it to drop what is queued and the owner's waker.
    used: AtomicBool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Envelope>,
    /// The owner, parked on an empty queue.
    waker: Option<Waker>,
}

impl Mailbox {
    /// Queues `env` and wakes the owner if it waits; gives it back if the owner is dead
    /// (`alive` is the owner's liveness flag, read under the queue's lock).
    #[inline]
    pub(crate) fn push(&self, env: Envelope, alive: &AtomicBool) -> Result<(), Envelope> {
        // Marked before liveness is read: see the module's documentation.
        if !self.used.load(Ordering::SeqCst) {
            self.used.store(true, Ordering::SeqCst);
        }
        let waker = {
            let mut q = self.queue.lock();
            if !alive.load(Ordering::SeqCst) {
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
        let mut q = self.queue.lock();
        if let Some(env) = q.items.pop_front() {
            return Poll::Ready(env);
        }
        match &q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                q.waker = Some(cx.waker().clone());
                // The exit path (later on this same task) must drop the kept waker.
                self.used.store(true, Ordering::Relaxed);
            }
        }
        Poll::Pending
    }

    /// The next item if one is queued now.
    pub(crate) fn try_pop(&self) -> Option<Envelope> {
        self.queue.lock().items.pop_front()
    }

    /// Drops what is queued and the owner's waker (as the BEAM drops a dead process's
    /// messages: a queued call's caller then hears its request was dropped); later pushes
    /// find the owner dead and are refused.
    ///
    /// Called by the exit path once the owner is marked dead (with a sequentially
    /// consistent store); a mailbox no sender ever reached and its owner never waited in has
    /// nothing to drop and is left unlocked.
    pub(crate) fn close(&self) {
        if !self.used.load(Ordering::SeqCst) {
            return;
        }
        let dropped = {
            let mut q = self.queue.lock();
            q.waker = None;
            std::mem::take(&mut q.items)
        };
        // Dropped outside the lock: dropping a call answers its caller.
        drop(dropped);
    }
}

//! A process's mailbox: a queue inside the process's own cell.
//!
//! Kept in the cell rather than behind a channel of its own, so a spawn allocates nothing
//! for it until a second message waits (a backlog queue is allocated then and kept), and a
//! send touches the cell it already holds instead of a second object. One lock guards the
//! queue and the receiver's waker, so a message pushed while the owner is going to sleep
//! always wakes it; a push reads the owner's liveness under that lock, so nothing is queued
//! after the exit path has emptied the queue.
//!
//! The oldest waiting message sits in a slot inside the mailbox itself, next to the lock
//! and the waker: a message sent to an idle process (the usual case: a call to a server
//! that waits for it) touches no memory outside the mailbox's one cache line (see
//! `ProcessCell`'s layout). Only messages that arrive while another waits go to the
//! backlog, in order behind the slot.
//!
//! A mailbox that was never sent to is not locked at all when its process exits: the first
//! send marks it used before it looks at the process's liveness, and the exit path marks
//! the process dead before it looks at that mark, so one of the two always sees the other
//! (a send either finds the process dead or its message is dropped by the exit path).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use lock_api::RawMutex as _;

use crate::cell_lock::RawCellLock;
use crate::Envelope;

/// Messages queued for one process, in arrival order, with the two facts every sender
/// reads before it queues: whether the owner lives and which call type it takes.
///
/// Laid out so that all of it, the lock, the flags, the oldest message and the waker fill
/// 56 bytes (checked by a test), within the cell's first cache line.
#[repr(C)]
pub(crate) struct Mailbox {
    lock: RawCellLock,
    /// A sender has reached this mailbox, or its owner has parked in it: its exit must lock
    /// it to drop what is queued and the owner's waker.
    used: AtomicBool,
    /// The backlog holds messages (read and written only under the lock), so that an owner
    /// finding the slot empty need not touch the backlog's own memory.
    backlogged: AtomicBool,
    /// The owner lives: set until a kill or the exit path; cleared with sequentially
    /// consistent operations, which this mailbox's and the task's handshakes rely on. Kept
    /// here because every push reads it, under the lock.
    alive: AtomicBool,
    /// The fingerprint of the call type the owner takes (0: any), checked by callers.
    accepts: u32,
    queue: UnsafeCell<Queue>,
}

// SAFETY: `queue` is only reached through `locked`, which holds `lock` for the whole access;
// everything it holds is `Send`.
unsafe impl Sync for Mailbox {}

#[derive(Default)]
#[repr(C)]
struct Queue {
    /// The oldest waiting message; empty only if the backlog is empty too.
    first: Option<Envelope>,
    /// The owner, parked on an empty queue.
    waker: Option<Waker>,
    /// Messages behind `first`, in order; allocated at the first one and kept. Boxed: one
    /// word of the cell's first line instead of four.
    #[allow(clippy::box_collection)]
    backlog: Option<Box<VecDeque<Envelope>>>,
}

/// Unlocks on drop, so that the lock is freed however the locked code ends.
struct Unlock<'a>(&'a RawCellLock);

impl Drop for Unlock<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: created only by `locked`, right after taking the lock.
        unsafe { self.0.unlock() }
    }
}

impl Mailbox {
    /// An empty mailbox of a live owner that takes calls with fingerprint `accepts`.
    pub(crate) fn new(accepts: u32) -> Self {
        Mailbox {
            lock: <RawCellLock as lock_api::RawMutex>::INIT,
            used: AtomicBool::new(false),
            backlogged: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            accepts,
            queue: UnsafeCell::new(Queue::default()),
        }
    }

    /// The owner's liveness flag.
    #[inline]
    pub(crate) fn alive(&self) -> &AtomicBool {
        &self.alive
    }

    /// The fingerprint of the call type the owner takes (0: any).
    #[inline]
    pub(crate) fn accepts(&self) -> u32 {
        self.accepts
    }

    /// Runs `f` on the queue under the lock.
    #[inline]
    fn locked<R>(&self, f: impl FnOnce(&mut Queue, &AtomicBool) -> R) -> R {
        self.lock.lock();
        let _unlock = Unlock(&self.lock);
        // SAFETY: the lock is held until `_unlock` drops, after `f` returns: no other
        // reference to the queue exists meanwhile.
        f(unsafe { &mut *self.queue.get() }, &self.backlogged)
    }

    /// Queues `env` and wakes the owner if it waits; gives it back if the owner is dead
    /// (its liveness is read under the queue's lock).
    #[inline]
    pub(crate) fn push(&self, env: Envelope) -> Result<(), Envelope> {
        let alive = &self.alive;
        // Marked before liveness is read: see the module's documentation.
        if !self.used.load(Ordering::SeqCst) {
            self.used.store(true, Ordering::SeqCst);
        }
        let waker = self.locked(|q, backlogged| {
            if !alive.load(Ordering::SeqCst) {
                return Err(env);
            }
            if q.first.is_none() {
                q.first = Some(env);
            } else {
                q.backlog.get_or_insert_with(Box::default).push_back(env);
                backlogged.store(true, Ordering::Relaxed);
            }
            Ok(q.waker.take())
        })?;
        // Woken outside the lock: the owner's first act is to take it.
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The oldest message, moving the next one from the backlog into the slot.
    #[inline]
    fn pop(q: &mut Queue, backlogged: &AtomicBool) -> Option<Envelope> {
        let env = q.first.take()?;
        if backlogged.load(Ordering::Relaxed) {
            if let Some(backlog) = &mut q.backlog {
                q.first = backlog.pop_front();
                if backlog.is_empty() {
                    backlogged.store(false, Ordering::Relaxed);
                }
            }
        }
        Some(env)
    }

    /// The next item, or `Pending` with the owner's waker kept for the next push.
    #[inline]
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Envelope> {
        let popped = self.locked(|q, backlogged| {
            let env = Self::pop(q, backlogged);
            if env.is_none() && !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                q.waker = Some(cx.waker().clone());
                // The exit path (later on this same task) must drop the kept waker.
                self.used.store(true, Ordering::Relaxed);
            }
            env
        });
        match popped {
            Some(env) => Poll::Ready(env),
            None => Poll::Pending,
        }
    }

    /// The next item if one is queued now.
    pub(crate) fn try_pop(&self) -> Option<Envelope> {
        self.locked(Self::pop)
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
        let dropped = self.locked(|q, backlogged| {
            q.waker = None;
            backlogged.store(false, Ordering::Relaxed);
            (q.first.take(), q.backlog.take())
        });
        // Dropped outside the lock: dropping a call answers its caller.
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_flags_slot_and_waker_fill_56_bytes() {
        assert_eq!(std::mem::size_of::<Mailbox>(), 56);
        assert_eq!(std::mem::offset_of!(Mailbox, alive), 3);
        assert_eq!(std::mem::offset_of!(Mailbox, accepts), 4);
        assert_eq!(std::mem::offset_of!(Mailbox, queue), 8);
    }

    #[test]
    fn messages_come_out_in_arrival_order_across_the_slot_and_the_backlog() {
        let mb = Mailbox::new(0);
        let info = |n: u32| Envelope::Info(Box::new(n));
        let take = |mb: &Mailbox| match mb.try_pop() {
            Some(Envelope::Info(m)) => m.downcast::<u32>().ok().map(|b| *b),
            _ => None,
        };
        for n in 0..3 {
            assert!(mb.push(info(n)).is_ok());
        }
        assert_eq!(take(&mb), Some(0));
        assert!(mb.push(info(3)).is_ok());
        assert_eq!(take(&mb), Some(1));
        assert_eq!(take(&mb), Some(2));
        assert_eq!(take(&mb), Some(3));
        assert_eq!(take(&mb), None);
        // Empty again: the next message takes the slot, then the backlog follows it.
        assert!(mb.push(info(4)).is_ok());
        assert!(mb.push(info(5)).is_ok());
        assert_eq!(take(&mb), Some(4));
        assert_eq!(take(&mb), Some(5));
        assert_eq!(take(&mb), None);
        mb.alive().store(false, Ordering::SeqCst);
        assert!(mb.push(info(6)).is_err(), "refused once the owner is dead");
    }
}

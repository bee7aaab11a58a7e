//! A process: its cell (mailbox, links, monitors, held names), its handle, and its exit path.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use crate::cell_lock::CellMutex as Mutex;
use tokio::sync::oneshot;

use crate::envelope::{CallRequest, Down, Envelope, ExitSignal, MonitorRef, Protocol, ReplyTo};
use crate::line_rc::{Counted, LineRc};
use crate::mailbox::Mailbox;
use crate::runtime::RuntimeInner;
use crate::{CallError, ExitReason, Msg, Name, Pid, Runtime};

/// Told when a process that holds one of its names exits, so the name is released in the
/// process's own exit path (no polling, no sweeper).
pub trait ExitObserver: Send + Sync + 'static {
    /// `pid` exited while holding `name` (with the observer's own `tag`).
    fn process_exited(&self, pid: Pid, name: &Name, tag: u32);

    /// Whether [`process_exited`](Self::process_exited) may run under the exiting
    /// process's own lock: `true` only if it takes no process's lock and waits for nothing
    /// (it writes its own tables and at most queues messages). An exit whose names all go
    /// this way, with no monitor to tell, then releases them and publishes itself under
    /// one lock instead of two. `false` unless said.
    fn releases_under_process_lock(&self) -> bool {
        false
    }
}

/// Why [`ProcessRef::hold_name`] did not attach a name.
#[derive(Debug, PartialEq, Eq)]
pub enum HoldError<E> {
    /// The process has already exited.
    NoProc,
    /// The observer's own insert refused (e.g. the name is taken).
    Rejected(E),
}

struct Hold {
    observer: Arc<dyn ExitObserver>,
    name: Name,
    tag: u32,
}

/// Where a monitor's `Down` goes: the watching process's mailbox.
struct Watcher(ProcessRef);

/// The names a process holds: the first inline (most processes hold one name or none, and
/// a spawn should not allocate for it), the rest in a list.
#[derive(Default)]
struct Holds {
    first: Option<Hold>,
    more: Vec<Hold>,
}

impl Holds {
    fn push(&mut self, hold: Hold) {
        match self.first {
            None => self.first = Some(hold),
            Some(_) => self.more.push(hold),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    /// Whether every hold's observer may release it under the process's lock.
    fn release_under_lock(&self) -> bool {
        let quick = |h: &Hold| h.observer.releases_under_process_lock();
        self.first.as_ref().is_none_or(quick) && self.more.iter().all(quick)
    }

    /// Removes the first hold matching `f`; whether there was one.
    fn remove(&mut self, f: impl Fn(&Hold) -> bool) -> bool {
        if self.first.as_ref().is_some_and(&f) {
            self.first = self.more.pop();
            return true;
        }
        match self.more.iter().position(f) {
            Some(i) => {
                self.more.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Tells every hold's observer that `pid` exited holding its name.
    fn release_all(self, pid: Pid) {
        // Plain loops, not a chain of iterators, and the list only when it has any: this
        // runs once per exit, and an iterator's drop glue cost more than the one release
        // most exits do.
        if let Some(hold) = self.first {
            hold.observer.process_exited(pid, &hold.name, hold.tag);
        }
        if !self.more.is_empty() {
            for hold in self.more {
                hold.observer.process_exited(pid, &hold.name, hold.tag);
            }
        }
    }
}

#[derive(Default)]
struct CellState {
    exited: Option<ExitReason>,
    /// Why an [`exit`](ProcessRef::exit) ended the process, unless it was a plain kill
    /// (which leaves this empty: dead without a reason means `Killed`).
    kill_reason: Option<ExitReason>,
    /// The process's task, woken by a kill so that it ends at its next poll; left here by
    /// its first poll (before that the task is scheduled anyway).
    task: Option<Waker>,
    trap_exit: bool,
    monitors: Vec<(MonitorRef, Watcher)>,
    /// Keyed by pid: a supervisor links to every child, so this must not be a list scan.
    /// Allocated at the first link: most processes have none.
    links: Option<Box<Links>>,
    holds: Holds,
    /// Tasks waiting in [`ProcessRef::exited`], woken once the exit path is done.
    exit_waiters: ExitWaiters,
}

type Links = HashMap<Pid, ProcessRef, foldhash::fast::RandomState>;

/// The exit reason, published once the exit path has released the held names and queued
/// every monitor's `Down`: from then on [`ProcessRef::exited`] answers without a lock, and
/// watchers added later hear at once.
#[derive(Default)]
struct Released {
    done: AtomicBool,
    reason: std::cell::UnsafeCell<Option<ExitReason>>,
}

// SAFETY: `reason` is written once, by `publish` under the cell's state lock before `done`
// is set (release), and read only by `get` after `done` is seen set (acquire); it is never
// written again, so readers never race the one writer.
unsafe impl Sync for Released {}

impl Released {
    /// Publishes `reason` (once; later calls are ignored). Called under the state lock.
    fn publish(&self, reason: ExitReason) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: not yet published, and publishers hold the state lock: no other access.
        unsafe { *self.reason.get() = Some(reason) };
        self.done.store(true, Ordering::Release);
    }

    /// The published reason, if the exit path is done.
    #[inline]
    fn get(&self) -> Option<&ExitReason> {
        if !self.done.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: published, so written once and never again (see `publish`).
        unsafe { (*self.reason.get()).as_ref() }
    }
}

/// The wakers of tasks waiting for a process's exit: a slot per waiting future (emptied when
/// it is dropped, reused by the next), the first inline, since most exits have one waiter
/// or none and a spawn should not allocate for it.
#[derive(Default)]
struct ExitWaiters {
    first: Option<Waker>,
    more: Vec<Option<Waker>>,
}

impl ExitWaiters {
    /// Keeps `waker` in the caller's slot, taking a free one if it has none yet.
    fn park(&mut self, slot: &mut Option<usize>, waker: &Waker) {
        let i = match *slot {
            Some(i) => i,
            None if self.first.is_none() => 0,
            None => match self.more.iter().position(Option::is_none) {
                Some(j) => j + 1,
                None => {
                    self.more.push(None);
                    self.more.len()
                }
            },
        };
        *slot = Some(i);
        let kept = if i == 0 {
            &mut self.first
        } else {
            &mut self.more[i - 1]
        };
        match kept {
            Some(w) if w.will_wake(waker) => {}
            w => *w = Some(waker.clone()),
        }
    }

    /// Empties slot `i` (its future is gone).
    fn leave(&mut self, i: usize) {
        if i == 0 {
            self.first = None;
        } else if let Some(w) = self.more.get_mut(i - 1) {
            *w = None;
        }
    }

    /// Every waiting waker, to wake once the lock is let go; the list is left empty.
    fn take_all(&mut self) -> Waiters {
        Waiters(std::mem::take(self))
    }
}

/// The wakers [`ExitWaiters::take_all`] hands over.
struct Waiters(ExitWaiters);

impl Waiters {
    /// Wakes each one.
    fn wake_all(self) {
        let ExitWaiters { first, more } = self.0;
        if let Some(waker) = first {
            waker.wake();
        }
        // Most exits have one waiter or none: an empty list is not iterated (its
        // iterator's drop glue cost more than the wake-up itself).
        if !more.is_empty() {
            for waker in more.into_iter().flatten() {
                waker.wake();
            }
        }
    }
}

/// Laid out so that what a call and a send touch (liveness, the call type, the mailbox's
/// lock, oldest message and waker) fill the cell's first cache line: a call to a process
/// whose cell is cold in the cache costs one miss on it, not one per field (checked by a
/// test). Held through [`LineRc`], which places it on a line boundary.
///
/// What a registry's lookup touches (the reference count it takes and a mirror of the
/// liveness flag it checks) lies in the second line, beside the pid, on purpose: with the
/// count in the first line (`2d414d8`) calls in the `runtime` workload cost 1.39-1.48x
/// their floor instead of 1.30-1.35x, lookups and calls then writing the same line; with
/// the count alone in the second (`75ee61e`) a lookup touched two lines.
#[repr(C, align(64))]
pub(crate) struct ProcessCell {
    /// Also holds the process's liveness flag and its call type's fingerprint (see
    /// [`call_fingerprint`]): every sender reads both.
    mailbox: Mailbox,
    /// The task has left its waker in the state: a kill must take it and wake it.
    started: AtomicBool,
    pid: Pid,
    refs: AtomicUsize,
    /// The liveness flag as [`ProcessRef::is_alive`] reads it: cleared right after the
    /// flag itself by whoever clears or finds it cleared, before that returns.
    alive_mirror: AtomicBool,
    protocol: &'static Protocol,
    state: Mutex<CellState>,
    released: Released,
}

// SAFETY: `refs` is the cell's one counter, created at 1 by `ProcessRef::new_cell`.
unsafe impl Counted for ProcessCell {
    #[inline]
    fn refs(&self) -> &AtomicUsize {
        &self.refs
    }
}

impl ProcessCell {
    /// Set until a kill or the exit path; cleared with sequentially consistent operations,
    /// which the mailbox's and the task's handshakes rely on.
    #[inline]
    fn alive(&self) -> &AtomicBool {
        self.mailbox.alive()
    }
}

/// A call type's 32-bit fingerprint, never 0 (0 stands for "any call").
///
/// Two types may share one; a request whose fingerprint matches but whose type does not is
/// still refused, by the server's own type check when it takes the request (`BadRequest`
/// either way), so the fingerprint only decides how early a mismatch is told.
fn call_fingerprint(protocol: &Protocol) -> u32 {
    match protocol.call {
        None => 0,
        Some(t) => fingerprint(t),
    }
}

#[inline]
fn fingerprint(t: TypeId) -> u32 {
    let mut h = TypeIdHasher(0);
    t.hash(&mut h);
    (h.0 ^ (h.0 >> 32)) as u32 | 1
}

/// Keeps what a `TypeId` writes (already a hash): no mixing needed.
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 ^= n as u64 ^ (n >> 64) as u64;
    }
}

/// A handle to a process: its [`Pid`] plus the way to reach its mailbox.
///
/// Cloning is one reference-count increment. Registries store `ProcessRef`s so that a
/// call through a name costs the lookup plus the same send a direct call costs.
#[derive(Clone)]
pub struct ProcessRef(LineRc<ProcessCell>);

/// A process table's pointer to a cell it does not own (see `process_table`).
#[derive(Clone, Copy)]
pub(crate) struct CellPtr(*const ProcessCell);

// SAFETY: a `CellPtr` is only dereferenced by `ProcessRef::from_cell_ptr` and `serial`,
// whose callers guarantee the cell is alive; `ProcessCell` itself is `Send + Sync`.
unsafe impl Send for CellPtr {}
unsafe impl Sync for CellPtr {}

impl CellPtr {
    /// The pointer itself, for a table that keeps it in an atomic word.
    #[inline]
    pub(crate) fn raw(self) -> *mut () {
        self.0.cast_mut().cast()
    }

    /// Back from [`raw`](Self::raw).
    #[inline]
    pub(crate) fn from_raw(raw: *mut ()) -> CellPtr {
        CellPtr(raw.cast_const().cast())
    }

    /// The serial of the process whose cell this is.
    ///
    /// # Safety
    /// The cell is alive for the whole call (as for [`ProcessRef::from_cell_ptr`]).
    #[inline]
    pub(crate) unsafe fn serial(self) -> u64 {
        // SAFETY: per the contract.
        unsafe { (*self.0).pid.serial() }
    }
}

impl ProcessRef {
    /// The cell's address, for a table that does not count a reference.
    pub(crate) fn cell_ptr(&self) -> CellPtr {
        CellPtr(self.0.as_ptr())
    }

    /// A new reference to the cell at `ptr`.
    ///
    /// # Safety
    /// `ptr` came from [`cell_ptr`](Self::cell_ptr) and some reference to that cell is
    /// alive for the whole call.
    pub(crate) unsafe fn from_cell_ptr(ptr: CellPtr) -> ProcessRef {
        // SAFETY: per the contract, the count is at least one while we add ours.
        ProcessRef(unsafe { LineRc::clone_from_ptr(ptr.0) })
    }

    #[cfg(test)]
    pub(crate) fn new_cell(pid: Pid, protocol: &'static Protocol, trap_exit: bool) -> ProcessRef {
        Self::new_cell_with_room::<()>(pid, protocol, trap_exit).0
    }

    /// A new cell with room for a `U` after it in the same allocation (see
    /// [`LineRc::with_room`]): where the process's task keeps its body.
    pub(crate) fn new_cell_with_room<U>(
        pid: Pid,
        protocol: &'static Protocol,
        trap_exit: bool,
    ) -> (ProcessRef, std::ptr::NonNull<std::mem::MaybeUninit<U>>) {
        let (cell, room) = LineRc::with_room::<U>(|| ProcessCell {
            mailbox: Mailbox::new(call_fingerprint(protocol)),
            started: AtomicBool::new(false),
            pid,
            refs: AtomicUsize::new(1),
            alive_mirror: AtomicBool::new(true),
            protocol,
            state: Mutex::new(CellState {
                trap_exit,
                ..CellState::default()
            }),
            released: Released::default(),
        });
        (ProcessRef(cell), room)
    }

    /// This process's pid.
    #[inline]
    pub fn pid(&self) -> Pid {
        self.0.pid
    }

    /// Whether the process is still running (it may die right after this returns).
    ///
    /// `false` from the moment a [`kill`](Self::kill) or [`exit`](Self::exit) of it
    /// returns, and before its exit path releases its names.
    #[inline]
    pub fn is_alive(&self) -> bool {
        self.0.alive_mirror.load(Ordering::Acquire)
    }

    /// The liveness flag itself, which the mailbox's and the task's handshakes use.
    #[inline]
    pub(crate) fn is_running(&self) -> bool {
        self.0.alive().load(Ordering::Acquire)
    }

    /// Says in the mirror what the flag already says. A release store (a plain one on
    /// x86): its readers load with acquire, so a stronger order would give them nothing
    /// more, and it would cost a locked exchange on the kill and exit paths.
    #[inline]
    fn mirror_death(&self) {
        self.0.alive_mirror.store(false, Ordering::Release);
    }

    /// Sends a plain message (handled by `handle_info`, or `recv` in a raw process).
    ///
    /// Returns `NoProc` when the process is known to be dead. As on the BEAM, `Ok` means the
    /// message was queued, not that it was handled: a process that dies with it queued drops it.
    pub fn send<M: Any + Send>(&self, msg: M) -> Result<(), CallError> {
        if let Some(expected) = self.0.protocol.info {
            if expected != TypeId::of::<M>() {
                return Err(CallError::BadRequest);
            }
        }
        self.send_envelope(Envelope::Info(Box::new(msg)))
    }

    /// Sends an already boxed plain message.
    pub fn send_boxed(&self, msg: Msg) -> Result<(), CallError> {
        if let Some(expected) = self.0.protocol.info {
            if expected != (*msg).type_id() {
                return Err(CallError::BadRequest);
            }
        }
        self.send_envelope(Envelope::Info(msg))
    }

    /// Sends a one-way request to a server; `BadRequest` if the server takes another cast type.
    pub fn cast<M: Any + Send>(&self, msg: M) -> Result<(), CallError> {
        if let Some(expected) = self.0.protocol.cast {
            if expected != TypeId::of::<M>() {
                return Err(CallError::BadRequest);
            }
        }
        self.send_envelope(Envelope::Cast(Box::new(msg)))
    }

    /// Sends a request and waits up to `timeout` for its reply (`Duration::MAX`: no limit).
    ///
    /// `NoProc` if the process is dead or dies before replying, `Timeout` if no reply came in
    /// time (a late reply is discarded), `BadRequest` if the server speaks other types.
    ///
    /// As `gen_server:call` on the BEAM: if the process drops the request without replying
    /// but lives on, the caller is not told it is dead; it waits until the timeout
    /// (`Timeout`) or until the process exits (`NoProc`), whichever comes first.
    pub async fn call<Req, Rep>(&self, request: Req, timeout: Duration) -> Result<Rep, CallError>
    where
        Req: Send + 'static,
        Rep: Send + 'static,
    {
        let expected = self.0.mailbox.accepts();
        if expected != 0 && expected != fingerprint(TypeId::of::<CallRequest<Req, Rep>>()) {
            return Err(CallError::BadRequest);
        }
        let (tx, mut rx) = oneshot::channel();
        let call = CallRequest {
            request,
            reply_to: ReplyTo(tx),
        };
        self.send_envelope(Envelope::Call(Box::new(call)))?;
        // Most replies arrive while the caller yields once (the callee runs next on this
        // worker): wait that long without a timer, which would cost more than the call.
        // The yield is tokio's deferred one: the worker wakes the caller again once it has
        // run its ready tasks (the callee among them) or at its next maintenance tick. A
        // self-wake would queue the caller at the back and notify an idle worker thread, a
        // wake-up the reply's own wake (through the worker's LIFO slot) does not cost.
        let mut turn = std::pin::pin!(tokio::task::yield_now());
        let first = std::future::poll_fn(|cx| {
            use std::future::Future;
            if let std::task::Poll::Ready(answer) = std::pin::Pin::new(&mut rx).poll(cx) {
                return std::task::Poll::Ready(Some(answer));
            }
            // Still pending after the yield: late.
            turn.as_mut().poll(cx).map(|()| None)
        });
        let answer = match first.await {
            Some(answer) => answer,
            None if timeout == Duration::MAX => rx.await,
            None => {
                // Late: from here the timeout runs (counted from this second turn, once
                // the caller's worker has run its ready tasks or reached its next tick).
                let deadline = tokio::time::Instant::from_std(crate::deadline_after(timeout));
                match tokio::time::timeout_at(deadline, &mut rx).await {
                    Ok(answer) => answer,
                    Err(_elapsed) => return Err(CallError::Timeout),
                }
            }
        };
        match answer {
            Ok(reply) => reply,
            // The request was dropped unanswered: by the exit path if the process died, or
            // by the process itself if it lives on. Only its exit makes it NoProc.
            Err(_closed) => {
                let deadline = tokio::time::Instant::from_std(crate::deadline_after(timeout));
                match tokio::time::timeout_at(deadline, self.exited()).await {
                    Ok(_reason) => Err(CallError::NoProc),
                    Err(_elapsed) => Err(CallError::Timeout),
                }
            }
        }
    }

    #[inline]
    fn send_envelope(&self, env: Envelope) -> Result<(), CallError> {
        // Once the exit path has begun the message could only be dropped: say so.
        if !self.is_running() {
            return Err(CallError::NoProc);
        }
        self.0.mailbox.push(env).map_err(|_| CallError::NoProc)
    }

    /// Ends the process at once with reason `Killed` (untrappable, like `Process.exit(pid, :kill)`).
    ///
    /// Returns `false` if it had already exited or is already being killed.
    ///
    /// When `kill` returns the process is already unreachable, as after `exit(pid, :kill)`:
    /// [`is_alive`](Self::is_alive) is `false`, so every registry's liveness check filters
    /// it out, and `send`, `cast` and `call` to it answer `NoProc`; [`Runtime::process`]
    /// no longer finds it, and it can take no new name.
    ///
    /// What remains until its exit path has run (on the worker thread that polls it next):
    /// - code of the process already running on another thread goes on until its next
    ///   `.await` (it may still send messages or reply to a call in that time);
    /// - a send to it that passed the liveness check just before `kill` took effect may
    ///   still answer `Ok`, its message then dropped;
    /// - its names stay in the registries' tables (filtered as dead) until the exit path
    ///   releases them, and monitors, links and [`exited`](Self::exited) hear of the exit
    ///   only then; a backend that does not filter by liveness (the monitor registry, by
    ///   design) can answer the dead process until it handles the `Down`.
    pub fn kill(&self) -> bool {
        self.exit(ExitReason::Killed)
    }

    /// Ends the process at once with `reason` (untrappable, like a supervisor's brutal kill).
    ///
    /// Returns `false` if it had already exited or an earlier kill is already ending it (the
    /// first reason stands), so that whoever counts kills counts each process once. The
    /// process is unreachable when this returns; see [`kill`](Self::kill) for what remains.
    pub fn exit(&self, reason: ExitReason) -> bool {
        // Dead to the world from now on, before the task has even been told; whoever
        // clears the flag first (a kill or the exit path) ends the process.
        if reason == ExitReason::Killed {
            // A plain kill needs no lock: the exit path reads a dead process with no reason
            // as killed.
            let won = self.0.alive().swap(false, Ordering::SeqCst);
            self.mirror_death();
            if !won {
                return false;
            }
        } else {
            // The reason is recorded under the lock the exit path reads it under.
            let st = &mut *self.0.state.lock();
            let won = self.0.alive().swap(false, Ordering::SeqCst);
            self.mirror_death();
            if !won {
                return false;
            }
            st.kill_reason = Some(reason);
        }
        // A task that has run left its waker (and said so before it looked at the flag
        // again); woken outside the lock, polled next, it sees the kill and ends without
        // polling the body again. A task that never ran is already scheduled.
        if self.0.started.load(Ordering::SeqCst) {
            let task = self.0.state.lock().task.take();
            if let Some(task) = task {
                task.wake();
            }
        }
        true
    }

    /// Resolves with the exit reason once the process has exited, its held names are
    /// released and every monitor's `Down` is queued (at once if that is done already): a
    /// caller who has seen the exit cannot get ahead of a registry that cleans up on `Down`.
    pub fn exited(&self) -> impl std::future::Future<Output = ExitReason> + Send + 'static {
        self.clone().into_exited()
    }

    /// [`exited`](Self::exited) for a caller done with this handle (as a tokio `JoinHandle`
    /// is awaited by value): the future keeps this reference instead of taking another.
    pub fn into_exited(self) -> impl std::future::Future<Output = ExitReason> + Send + 'static {
        Exited {
            cell: self.0,
            slot: None,
        }
    }

    /// The reason the process exited with, or `None` while it runs.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.0.state.lock().exited.clone()
    }

    /// Attaches `name` to this process so that `observer` is told when the process exits,
    /// running `insert` (the observer's own table write) under the process's exit lock.
    ///
    /// Because the insert and the liveness check happen under one lock, a registration can
    /// never outlive its process: either the insert happens before the exit (and the exit
    /// path releases it) or the process is already dead or killed and nothing is inserted.
    pub fn hold_name<T, E>(
        &self,
        observer: &Arc<dyn ExitObserver>,
        name: Name,
        tag: u32,
        insert: impl FnOnce(&Name) -> Result<T, E>,
    ) -> Result<T, HoldError<E>> {
        let st = &mut *self.0.state.lock();
        // Cleared by a kill, or by the exit path under this lock before it takes the holds.
        if !self.0.alive().load(Ordering::SeqCst) {
            return Err(HoldError::NoProc);
        }
        let value = insert(&name).map_err(HoldError::Rejected)?;
        st.holds.push(Hold {
            observer: Arc::clone(observer),
            name,
            tag,
        });
        Ok(value)
    }

    /// Detaches a name attached by [`hold_name`](Self::hold_name); `false` if it was not held.
    pub fn release_name(&self, observer: &Arc<dyn ExitObserver>, name: &Name, tag: u32) -> bool {
        let st = &mut *self.0.state.lock();
        let wanted = Arc::as_ptr(observer) as *const ();
        st.holds.remove(|h| {
            h.tag == tag && Arc::as_ptr(&h.observer) as *const () == wanted && h.name == *name
        })
    }

    /// How many names this process holds through [`hold_name`](Self::hold_name).
    pub fn held_names(&self) -> usize {
        self.0.state.lock().holds.len()
    }

    pub(crate) fn add_monitor(
        &self,
        id: u64,
        watcher: ProcessRef,
    ) -> Result<MonitorRef, CallError> {
        let st = &mut *self.0.state.lock();
        if self.0.released.get().is_some() {
            return Err(CallError::NoProc);
        }
        let mref = MonitorRef {
            id,
            target: self.pid(),
        };
        st.monitors.push((mref, Watcher(watcher)));
        Ok(mref)
    }

    pub(crate) fn remove_monitor(&self, mref: MonitorRef) -> bool {
        let st = &mut *self.0.state.lock();
        match st.monitors.iter().position(|(m, _)| *m == mref) {
            Some(i) => {
                st.monitors.swap_remove(i);
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_trap_exit(&self, on: bool) {
        self.0.state.lock().trap_exit = on;
    }

    /// At the task's first poll: leaves its waker for a later kill; `false` if a kill came
    /// first (the task then ends without running the body).
    pub(crate) fn start_task(&self, task: &Waker) -> bool {
        {
            let st = &mut *self.0.state.lock();
            if !self.0.alive().load(Ordering::SeqCst) {
                return false;
            }
            st.task = Some(task.clone());
        }
        // Said before liveness is read again, as a kill clears liveness before it reads
        // this: either the kill finds the waker, or this finds the kill.
        self.0.started.store(true, Ordering::SeqCst);
        self.0.alive().load(Ordering::SeqCst)
    }

    /// Links two processes both ways; `NoProc` if either has exited.
    pub(crate) fn link(a: &ProcessRef, b: &ProcessRef) -> Result<(), CallError> {
        if a.pid() == b.pid() {
            return Ok(());
        }
        // Lock in pid order so two concurrent links cannot deadlock.
        let (first, second) = if a.pid() < b.pid() { (a, b) } else { (b, a) };
        let s1 = &mut *first.0.state.lock();
        let s2 = &mut *second.0.state.lock();
        if s1.exited.is_some() || s2.exited.is_some() {
            return Err(CallError::NoProc);
        }
        s1.links
            .get_or_insert_with(Box::default)
            .insert(second.pid(), second.clone());
        s2.links
            .get_or_insert_with(Box::default)
            .insert(first.pid(), first.clone());
        Ok(())
    }

    /// Removes a link both ways.
    pub(crate) fn unlink(a: &ProcessRef, b: &ProcessRef) {
        if let Some(links) = &mut a.0.state.lock().links {
            links.remove(&b.pid());
        }
        if let Some(links) = &mut b.0.state.lock().links {
            links.remove(&a.pid());
        }
    }

    /// An exit signal from linked process `from`.
    fn linked_exit(&self, from: Pid, reason: &ExitReason) {
        let deliver = {
            let st = &mut *self.0.state.lock();
            if st.exited.is_some() {
                return;
            }
            if let Some(links) = &mut st.links {
                links.remove(&from);
            }
            st.trap_exit
        };
        if !deliver {
            if *reason != ExitReason::Normal {
                self.exit(reason.clone());
            }
        } else {
            let _ = self.0.mailbox.push(Envelope::Exit(Box::new(ExitSignal {
                from,
                reason: reason.clone(),
            })));
        }
    }

    /// The exit path: runs exactly once, when the process's task ends for any reason.
    pub(crate) fn run_exit(&self, finished_with: Option<ExitReason>, runtime: &RuntimeInner) {
        let pid = self.pid();
        // Dead from here on unless a kill made it so (sequentially consistent either way,
        // for the mailbox's handshake in `close` below). Clearing it before the state lock
        // is taken is enough for `hold_name`, which checks it under that lock: the holds
        // are taken under the lock below, after the clear.
        let was_alive =
            self.0.alive().load(Ordering::SeqCst) && self.0.alive().swap(false, Ordering::SeqCst);
        self.mirror_death();
        runtime.remove(self);
        // Its mailbox refuses messages from now on and drops those queued (a queued call's
        // caller hears its request was dropped, then waits for this exit).
        self.0.mailbox.close();
        let (reason, links, waiters) = {
            let st = &mut *self.0.state.lock();
            if st.exited.is_some() {
                return;
            }
            // A body's own end wins; else the kill's reason (none: a plain kill; an `exit`
            // that cleared the flag first wrote its reason under this lock before); a task
            // dropped while the process lived was shut down with its tokio runtime.
            let reason = finished_with
                .or_else(|| st.kill_reason.take())
                .unwrap_or(if was_alive {
                    ExitReason::Shutdown
                } else {
                    ExitReason::Killed
                });
            st.exited = Some(reason.clone());
            st.task = None;
            let waiters = if st.monitors.is_empty() && st.holds.release_under_lock() {
                // No monitor to tell, and names (if any) whose observers only write their
                // own tables: they are released and the exit published under this lock.
                std::mem::take(&mut st.holds).release_all(pid);
                self.0.released.publish(reason.clone());
                Ok(st.exit_waiters.take_all())
            } else {
                Err((
                    std::mem::take(&mut st.holds),
                    std::mem::take(&mut st.monitors),
                ))
            };
            (reason, st.links.take(), waiters)
        };
        let waiters = match waiters {
            Ok(waiters) => waiters,
            Err((holds, monitors)) => self.release_and_publish(pid, &reason, holds, monitors),
        };
        // Only now are `exited()` waiters told: whoever has seen the exit finds the names
        // released and every monitor's `Down` already in its mailbox, ahead of anything
        // sent next.
        waiters.wake_all();
        if let Some(links) = links {
            for (_, linked) in *links {
                linked.linked_exit(pid, &reason);
            }
        }
    }

    /// The exit path's middle for a process that held names or had monitors: releases the
    /// names, queues every `Down`, publishes the exit, and returns the waiters to wake.
    fn release_and_publish(
        &self,
        pid: Pid,
        reason: &ExitReason,
        holds: Holds,
        monitors: Vec<(MonitorRef, Watcher)>,
    ) -> Waiters {
        // Names first, so that whoever hears of the exit finds them released.
        holds.release_all(pid);
        let down = |mref: MonitorRef| Down {
            monitor: mref,
            pid,
            reason: reason.clone(),
        };
        // Then every monitor's `Down` is queued (a monitor registry cleans up on it) ...
        for (mref, Watcher(w)) in monitors {
            w.push_down(down(mref));
        }
        // ... including monitors that arrived meanwhile: queued under the lock, so that
        // once `released` is set no monitor's `Down` is still to be sent.
        let st = &mut *self.0.state.lock();
        for (mref, Watcher(w)) in std::mem::take(&mut st.monitors) {
            w.push_down(down(mref));
        }
        self.0.released.publish(reason.clone());
        st.exit_waiters.take_all()
    }

    /// Queues a monitor's `Down` (dropped if this watcher has exited).
    fn push_down(&self, down: Down) {
        let _ = self.0.mailbox.push(Envelope::Down(Box::new(down)));
    }
}

impl PartialEq for ProcessRef {
    fn eq(&self, other: &Self) -> bool {
        self.pid() == other.pid()
    }
}

impl Eq for ProcessRef {}

impl Hash for ProcessRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pid().hash(state)
    }
}

impl fmt::Debug for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.pid(), f)
    }
}

/// What [`ProcessRef::exited`] returns: ready once the exit path is done; waits in a slot
/// of the process's waiter list (one lock per poll, nothing allocated per waiter once the
/// list has room).
struct Exited {
    cell: LineRc<ProcessCell>,
    /// This future's slot in the waiter list, once it has waited.
    slot: Option<usize>,
}

impl std::future::Future for Exited {
    type Output = ExitReason;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<ExitReason> {
        let this = &mut *self;
        // Once the exit path has released the names and queued every `Down`: no lock.
        if let Some(reason) = this.cell.released.get() {
            this.slot = None;
            return std::task::Poll::Ready(reason.clone());
        }
        let st = &mut *this.cell.state.lock();
        // Until then, wait (looking again under the lock the exit path publishes under).
        if let Some(reason) = this.cell.released.get() {
            this.slot = None;
            return std::task::Poll::Ready(reason.clone());
        }
        st.exit_waiters.park(&mut this.slot, cx.waker());
        std::task::Poll::Pending
    }
}

impl Drop for Exited {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            // Gone before the exit: free the slot (after the exit the list is empty).
            self.cell.state.lock().exit_waiters.leave(i);
        }
    }
}

/// A running process's view of itself: its mailbox, its pid, and the runtime.
///
/// Only the process itself holds its `Ctx`: it is not `Clone` and cannot be built outside
/// the runtime, so `&Ctx` is proof of being that process, unlike a [`Pid`] anyone can copy.
/// Operations only the owner may do (unregistering its own name) take it.
pub struct Ctx {
    pub(crate) me: ProcessRef,
    pub(crate) runtime: Runtime,
    pub(crate) stop: Option<ExitReason>,
    /// Items left to take before [`recv`](Ctx::recv) yields once to the scheduler.
    pub(crate) budget: u8,
}

/// How many queued items [`Ctx::recv`] takes in a row before it yields once, so a process
/// whose mailbox never empties cannot keep its worker thread from other tasks (as tokio's
/// own channels do with their cooperative budget, and the BEAM with reductions).
pub(crate) const RECV_BUDGET: u8 = 128;

// Owner-only operations hold `&Ctx` across an `.await` in a `Send` future.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Ctx>();
};

impl Ctx {
    /// This process's pid.
    pub fn pid(&self) -> Pid {
        self.me.pid()
    }

    /// A handle to this process.
    pub fn me(&self) -> &ProcessRef {
        &self.me
    }

    /// The runtime this process runs in.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The next item in the mailbox, in arrival order.
    pub async fn recv(&mut self) -> Envelope {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Envelope> {
        use std::task::Poll;
        if self.budget == 0 {
            self.budget = RECV_BUDGET;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.me.0.mailbox.poll_pop(cx) {
            Poll::Ready(env) => {
                self.budget -= 1;
                Poll::Ready(env)
            }
            Poll::Pending => {
                self.budget = RECV_BUDGET;
                Poll::Pending
            }
        }
    }

    /// The next item if one is queued now.
    pub fn try_recv(&mut self) -> Option<Envelope> {
        self.me.0.mailbox.try_pop()
    }

    /// Exit signals from links arrive as [`Envelope::Exit`] messages instead of killing us.
    pub fn trap_exit(&self, on: bool) {
        self.me.set_trap_exit(on);
    }

    /// Links this process to `other` both ways; `NoProc` if `other` has exited.
    pub fn link(&self, other: &ProcessRef) -> Result<(), CallError> {
        ProcessRef::link(&self.me, other)
    }

    /// Removes a link.
    pub fn unlink(&self, other: &ProcessRef) {
        ProcessRef::unlink(&self.me, other)
    }

    /// Monitors `target`: a [`Down`] arrives in this mailbox when it exits.
    /// `NoProc` at once if it has already exited.
    pub fn monitor(&self, target: &ProcessRef) -> Result<MonitorRef, CallError> {
        target.add_monitor(self.runtime.next_ref(), self.me.clone())
    }

    /// Removes a monitor; `false` if it had already fired or was removed.
    pub fn demonitor(&self, target: &ProcessRef, mref: MonitorRef) -> bool {
        target.remove_monitor(mref)
    }

    /// Asks a server loop to stop with `reason` after the current handler.
    pub fn stop(&mut self, reason: ExitReason) {
        self.stop = Some(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An observer whose release takes a while, to hold the exit path open; it counts its
    /// releases, and says whether it may release under the process's lock.
    struct SlowRelease {
        released: Arc<AtomicUsize>,
        under_lock: bool,
    }

    impl ExitObserver for SlowRelease {
        fn process_exited(&self, _pid: Pid, _name: &Name, _tag: u32) {
            std::thread::sleep(Duration::from_millis(100));
            self.released.fetch_add(1, Ordering::SeqCst);
        }

        fn releases_under_process_lock(&self) -> bool {
            self.under_lock
        }
    }

    /// Waiters that come while the exit path is releasing names hear of the exit only after
    /// every name is released, whether the observers release under the process's lock
    /// (one lock for the whole exit), outside it, or some of each.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiters_arriving_mid_exit_hear_after_names_are_released() {
        for kinds in [&[false][..], &[true], &[true, true], &[true, false]] {
            let rt = Runtime::new();
            let p = rt.spawn(|mut ctx: Ctx| async move {
                let _ = ctx.recv().await;
                ExitReason::Normal
            });
            let released = Arc::new(AtomicUsize::new(0));
            for (i, &under_lock) in kinds.iter().enumerate() {
                let observer: Arc<dyn ExitObserver> = Arc::new(SlowRelease {
                    released: released.clone(),
                    under_lock,
                });
                p.hold_name(&observer, Name::Id(i as u64), 0, |_| Ok::<(), ()>(()))
                    .unwrap();
            }
            p.send(()).unwrap();
            // Wait until the exit path has begun: it is now inside the slow release.
            while p.is_alive() {
                tokio::task::yield_now().await;
            }
            assert_eq!(p.exited().await, ExitReason::Normal);
            assert_eq!(
                released.load(Ordering::SeqCst),
                kinds.len(),
                "exited() resolved before every name was released ({kinds:?})"
            );
            // Once released, late waiters hear at once.
            assert_eq!(p.exited().await, ExitReason::Normal);
            assert_eq!(released.load(Ordering::SeqCst), kinds.len(), "{kinds:?}");
        }
    }

    /// A process that takes every call and drops it unanswered, then exits after `linger`
    /// (never, if `None`).
    fn dropper(rt: &Runtime, linger: Option<Duration>) -> ProcessRef {
        rt.spawn(move |mut ctx: Ctx| async move {
            if let Envelope::Call(call) = ctx.recv().await {
                drop(call);
            }
            match linger {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
            ExitReason::Normal
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_request_of_a_live_process_times_out() {
        let rt = Runtime::new();
        let p = dropper(&rt, None);
        let t0 = std::time::Instant::now();
        let r: Result<u64, CallError> = p.call(1u64, Duration::from_millis(50)).await;
        assert_eq!(
            r,
            Err(CallError::Timeout),
            "the process is alive: not NoProc"
        );
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert!(p.is_alive());
        p.kill();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_request_then_exit_is_noproc() {
        let rt = Runtime::new();
        for timeout in [Duration::from_secs(5), Duration::MAX] {
            let p = dropper(&rt, Some(Duration::from_millis(30)));
            let t0 = std::time::Instant::now();
            let r: Result<u64, CallError> = p.call(1u64, timeout).await;
            assert_eq!(r, Err(CallError::NoProc));
            assert!(
                t0.elapsed() >= Duration::from_millis(30),
                "answered before the exit"
            );
            assert!(
                t0.elapsed() < Duration::from_secs(4),
                "waited for the timeout"
            );
            assert!(!p.is_alive());
        }
    }

    /// A process that answers each call `n` with `n + 1` after sleeping `n` milliseconds.
    fn sleeper(rt: &Runtime) -> ProcessRef {
        rt.spawn(|mut ctx: Ctx| async move {
            loop {
                if let Envelope::Call(call) = ctx.recv().await {
                    if let Ok(CallRequest { request, reply_to }) = call.downcast::<u64, u64>() {
                        tokio::time::sleep(Duration::from_millis(request)).await;
                        reply_to.reply(request + 1);
                    }
                }
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_later_than_the_first_turn_still_arrives_and_a_late_one_is_dropped() {
        let rt = Runtime::new();
        let p = sleeper(&rt);
        // Past the caller's first turn, within the timeout: the reply arrives.
        let r: Result<u64, CallError> = p.call(20u64, Duration::from_secs(2)).await;
        assert_eq!(r, Ok(21));
        // Past the timeout: Timeout, and the late reply is dropped, not delivered to the
        // next call, which gets its own.
        let t0 = std::time::Instant::now();
        let r: Result<u64, CallError> = p.call(80u64, Duration::from_millis(20)).await;
        assert_eq!(r, Err(CallError::Timeout));
        assert!(t0.elapsed() >= Duration::from_millis(20));
        assert!(
            t0.elapsed() < Duration::from_millis(80),
            "waited for the reply"
        );
        let r: Result<u64, CallError> = p.call(0u64, Duration::from_secs(2)).await;
        assert_eq!(r, Ok(1));
        // Zero timeout on a reply that takes a while: Timeout, not a hang.
        let r: Result<u64, CallError> = p.call(30u64, Duration::ZERO).await;
        assert_eq!(r, Err(CallError::Timeout));
        p.kill();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn calls_answer_on_a_single_threaded_runtime() {
        let rt = Runtime::new();
        let p = sleeper(&rt);
        for n in 0..3u64 {
            let r: Result<u64, CallError> = p.call(n, Duration::from_secs(2)).await;
            assert_eq!(r, Ok(n + 1));
        }
        let r: Result<u64, CallError> = p.call(50u64, Duration::from_millis(5)).await;
        assert_eq!(r, Err(CallError::Timeout));
        p.kill();
        p.exited().await;
        let r: Result<u64, CallError> = p.call(1u64, Duration::from_secs(1)).await;
        assert_eq!(r, Err(CallError::NoProc));
    }

    /// A task that wakes itself on every poll, so its worker never runs out of ready
    /// tasks, until `stop` is set.
    fn busy_loop(stop: Arc<AtomicBool>) -> impl std::future::Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            if stop.load(Ordering::Relaxed) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
    }

    /// The caller's first turn is a deferred yield, which its worker only wakes once it runs
    /// out of ready tasks or reaches a maintenance tick: on a worker kept busy the call must
    /// still time out, and still get its reply when one comes.
    #[tokio::test(flavor = "current_thread")]
    async fn a_call_times_out_on_a_worker_that_never_runs_out_of_tasks() {
        let rt = Runtime::new();
        let silent = rt.spawn(|mut ctx: Ctx| async move {
            // Keeps every request, so that no reply sender is dropped and no reply comes.
            let mut kept = Vec::new();
            loop {
                kept.push(ctx.recv().await);
            }
        });
        let p = sleeper(&rt);
        let stop = Arc::new(AtomicBool::new(false));
        let busy = tokio::spawn(busy_loop(Arc::clone(&stop)));
        let t0 = std::time::Instant::now();
        let call = silent.call::<u64, u64>(1, Duration::from_millis(30));
        let r = tokio::time::timeout(Duration::from_secs(10), call).await;
        assert_eq!(r, Ok(Err(CallError::Timeout)), "the call hung");
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the timeout came late"
        );
        let r: Result<u64, CallError> = p.call(5u64, Duration::from_secs(2)).await;
        assert_eq!(r, Ok(6));
        stop.store(true, Ordering::Relaxed);
        busy.await.unwrap();
        silent.kill();
        p.kill();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn call_with_duration_max_answers() {
        let rt = Runtime::new();
        let p = rt.spawn(|mut ctx: Ctx| async move {
            loop {
                if let Envelope::Call(call) = ctx.recv().await {
                    if let Ok(CallRequest { request, reply_to }) = call.downcast::<u64, u64>() {
                        reply_to.reply(request + 1);
                    }
                }
            }
        });
        let r: Result<u64, CallError> = p.call(1u64, Duration::MAX).await;
        assert_eq!(r, Ok(2));
        p.kill();
        p.exited().await;
        let r: Result<u64, CallError> = p.call(1u64, Duration::MAX).await;
        assert_eq!(r, Err(CallError::NoProc));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_process_is_unreachable_when_kill_returns() {
        let rt = Runtime::new();
        for i in 0..500 {
            // Busy on another worker thread when the kill comes.
            let p = rt.spawn(|_ctx: Ctx| async move {
                loop {
                    tokio::task::yield_now().await;
                }
            });
            tokio::task::yield_now().await;
            assert!(p.kill());
            assert!(!p.is_alive(), "round {i}: alive after kill() returned");
            assert_eq!(p.send(1u64), Err(CallError::NoProc), "round {i}");
            assert_eq!(p.cast(1u64), Err(CallError::NoProc), "round {i}");
            let r: Result<u64, CallError> = p.call(1u64, Duration::from_secs(1)).await;
            assert_eq!(r, Err(CallError::NoProc), "round {i}");
            assert!(
                rt.process(p.pid()).is_none(),
                "round {i}: still in the table"
            );
            assert!(!p.kill(), "round {i}: a second kill counts");
            assert_eq!(p.exited().await, ExitReason::Killed);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_down_is_queued_before_exited_resolves() {
        let rt = Runtime::new();
        for i in 0..2_000 {
            let p = rt.spawn(|mut ctx: Ctx| async move {
                let _ = ctx.recv().await;
                ExitReason::Normal
            });
            // The waiter comes first, the monitors after it.
            let exited = p.exited();
            let mut watchers = Vec::new();
            for id in 0..32 {
                // A watcher that never reads its mailbox, so the test can look into it.
                let w = rt.spawn(|ctx: Ctx| async move {
                    let _keep_the_mailbox_open = ctx;
                    std::future::pending::<ExitReason>().await
                });
                p.add_monitor(id, w.clone()).unwrap();
                watchers.push(w);
            }
            if i % 2 == 0 {
                p.send(()).unwrap();
            } else {
                p.kill();
            }
            exited.await;
            for (id, w) in watchers.iter().enumerate() {
                assert!(
                    matches!(w.0.mailbox.try_pop(), Some(Envelope::Down(_))),
                    "iteration {i}: exited() resolved before monitor {id}'s Down was queued"
                );
                w.kill();
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exit_waiters_are_all_woken_and_those_that_gave_up_leave_no_slot_behind() {
        let rt = Runtime::new();
        let p = rt.spawn(|mut ctx: Ctx| async move {
            let _ = ctx.recv().await;
            ExitReason::Normal
        });
        // Waiters that give up, from many tasks: their slots are freed and reused.
        for _ in 0..500 {
            let w = p.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_micros(50), w.exited()).await;
            })
            .await
            .unwrap();
        }
        {
            let st = p.0.state.lock();
            let waiters = &st.exit_waiters;
            assert!(waiters.first.is_none() && waiters.more.iter().all(Option::is_none));
            assert!(
                waiters.more.is_empty(),
                "one waiter at a time needs no list"
            );
        }
        // Waiters that stay: every one hears the reason.
        let waiting: Vec<_> = (0..16).map(|_| tokio::spawn(p.exited())).collect();
        tokio::task::yield_now().await;
        assert!(p.kill());
        for w in waiting {
            assert_eq!(w.await.unwrap(), ExitReason::Killed);
        }
        {
            let st = p.0.state.lock();
            assert!(st.exit_waiters.first.is_none() && st.exit_waiters.more.is_empty());
        }
        // After the exit, a new waiter is answered at once.
        assert_eq!(p.exited().await, ExitReason::Killed);
    }
}
#[cfg(test)]
mod layout {
    use super::*;

    #[test]
    fn what_a_call_touches_fills_the_first_cache_line() {
        assert_eq!(std::mem::align_of::<ProcessCell>(), 64);
        assert_eq!(std::mem::offset_of!(ProcessCell, mailbox), 0);
        assert_eq!(std::mem::offset_of!(ProcessCell, started), 56);
        assert_eq!(std::mem::offset_of!(ProcessCell, refs), 80);
        assert_eq!(std::mem::offset_of!(ProcessCell, alive_mirror), 88);
        let cells: Vec<_> = (0..64)
            .map(|i| ProcessRef::new_cell(Pid::new(0, i), Protocol::ANY, false))
            .collect();
        assert!(cells
            .iter()
            .all(|p| (p.0.as_ptr() as usize).is_multiple_of(64)));
        // Six lines in all: the protocol is a pointer to a constant, not three `TypeId`s.
        assert_eq!(std::mem::size_of::<ProcessCell>(), 6 * 64);
    }

    #[test]
    fn a_call_type_fingerprint_is_never_the_any_marker() {
        assert_ne!(fingerprint(TypeId::of::<CallRequest<u64, u64>>()), 0);
        assert_ne!(
            fingerprint(TypeId::of::<CallRequest<u64, u64>>()),
            fingerprint(TypeId::of::<CallRequest<u64, String>>())
        );
    }
}

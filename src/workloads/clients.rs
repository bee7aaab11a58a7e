//! Concurrent clients that really run at the same time: OS threads released together by a
//! barrier, each driving its own current-thread tokio runtime, each timing itself.
//!
//! Client tasks on a shared tokio runtime are not enough: a client whose calls never yield
//! runs all of them in one poll, so two "concurrent" clients may run one after the other and
//! the number measured is the scheduler's, not the backend's. Here every client is its own
//! thread, and [`overlap`] says how much of a measurement all clients were actually running
//! together, so that a measurement where they were not can be thrown away and retried
//! ([`until_overlapping`]).

use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The least [`overlap`] a measurement with several clients must reach to be kept.
pub const MIN_OVERLAP: f64 = 0.8;

/// How many more attempts a measurement gets after the first falls short of
/// [`MIN_OVERLAP`].
pub const EXTRA_ATTEMPTS: usize = 5;

/// One client's run: when it started and ended, by its own clock, and what it returned.
#[derive(Clone, Debug)]
pub struct ClientRun<T> {
    /// Taken by the client just after the barrier released it.
    pub start: Instant,
    /// Taken by the client when its work was done.
    pub end: Instant,
    /// What the client's future returned.
    pub result: T,
}

/// Why [`run_clients`] measured nothing: a client could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    /// The OS refused a thread (e.g. `ulimit -u`); the clients already started were
    /// released without running and joined.
    #[error("starting client thread {client} of {clients}: {source}")]
    Spawn {
        /// The client (0-based) whose thread was refused.
        client: usize,
        /// How many were asked for.
        clients: usize,
        /// The OS's error.
        source: std::io::Error,
    },
    /// A client's tokio runtime could not be built.
    #[error("building client {client}'s tokio runtime: {source}")]
    Runtime {
        /// The client.
        client: usize,
        /// The error.
        source: std::io::Error,
    },
}

/// The start line of [`run_clients`]: every started client waits at it until the caller
/// says go (all started) or abort (one could not be).
struct Gate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default)]
struct GateState {
    /// Clients waiting at the gate.
    ready: usize,
    /// `Some(true)`: go; `Some(false)`: abort.
    open: Option<bool>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client arrives and waits for the decision: whether to run.
    fn arrive(&self) -> bool {
        let mut st = self.lock();
        st.ready += 1;
        self.cv.notify_all();
        loop {
            if let Some(go) = st.open {
                return go;
            }
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The caller waits for `n` clients, then opens the gate.
    fn go_when(&self, n: usize) {
        let mut st = self.lock();
        while st.ready < n {
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.open = Some(true);
        self.cv.notify_all();
    }

    /// Releases every waiting client without running.
    fn abort(&self) {
        self.lock().open = Some(false);
        self.cv.notify_all();
    }
}

/// Runs `clients` clients at once, each on its own OS thread with its own current-thread
/// tokio runtime (time and I/O enabled). `client(i)` makes client `i`'s future on its
/// thread; every runtime is built and every future made before a gate releases the clients
/// together, so only the work itself is timed. Returns the runs in client order, or an
/// error (never a panic or a hang) if a thread or a runtime could not be made: the clients
/// already started are then released without running and joined. A client that panics
/// panics the caller.
pub fn run_clients<T, F, Fut>(clients: usize, client: F) -> Result<Vec<ClientRun<T>>, ClientsError>
where
    T: Send,
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = T>,
{
    run_clients_with(clients, client, |_| Ok(()))
}

/// [`run_clients`], with `before_spawn(i)` asked before client `i`'s thread is made (a
/// test stands in for the OS refusing it).
fn run_clients_with<T, F, Fut>(
    clients: usize,
    client: F,
    before_spawn: impl Fn(usize) -> std::io::Result<()>,
) -> Result<Vec<ClientRun<T>>, ClientsError>
where
    T: Send,
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = T>,
{
    let gate = Gate {
        state: Mutex::new(GateState::default()),
        cv: Condvar::new(),
    };
    let (gate, client) = (&gate, &client);
    std::thread::scope(|s| {
        let mut threads = Vec::with_capacity(clients);
        let mut refused = None;
        for i in 0..clients {
            let spawned = before_spawn(i).and_then(|()| {
                std::thread::Builder::new()
                    .name(format!("client-{i}"))
                    .spawn_scoped(s, move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        let rt = match rt {
                            Ok(rt) => rt,
                            Err(source) => {
                                gate.arrive();
                                return Err(ClientsError::Runtime { client: i, source });
                            }
                        };
                        let fut = client(i);
                        if !gate.arrive() {
                            return Ok(None);
                        }
                        let start = Instant::now();
                        let result = rt.block_on(fut);
                        let end = Instant::now();
                        Ok(Some(ClientRun { start, end, result }))
                    })
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(source) => {
                    refused = Some(ClientsError::Spawn {
                        client: i,
                        clients,
                        source,
                    });
                    break;
                }
            }
        }
        match refused {
            Some(_) => gate.abort(),
            None => gate.go_when(clients),
        }
        let mut runs = Vec::with_capacity(clients);
        let mut failed = refused;
        for t in threads {
            match t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                Ok(Some(run)) => runs.push(run),
                Ok(None) => {}
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(runs),
        }
    })
}

/// The `(start, end)` of each run, for [`overlap`].
pub fn spans<T>(runs: &[ClientRun<T>]) -> Vec<(Instant, Instant)> {
    runs.iter().map(|r| (r.start, r.end)).collect()
}

/// The whole span of `runs`, from the first start to the last end (zero if none): the
/// denominator of a throughput over all clients together.
pub fn elapsed<T>(runs: &[ClientRun<T>]) -> Duration {
    let first = runs.iter().map(|r| r.start).min();
    let last = runs.iter().map(|r| r.end).max();
    match (first, last) {
        (Some(f), Some(l)) => l.saturating_duration_since(f),
        _ => Duration::ZERO,
    }
}

/// The fraction of the whole span `[first start, last end]` during which every client was
/// running: `(min end - max start) / (max end - min start)`, clamped to `0..=1`. 1.0 when
/// they ran side by side throughout, 0.0 when some never ran beside another. Fewer than two
/// spans, or a span of zero length, overlap fully (1.0) by definition.
pub fn overlap(spans: &[(Instant, Instant)]) -> f64 {
    if spans.len() < 2 {
        return 1.0;
    }
    let min_start = spans.iter().map(|s| s.0).min().expect("not empty");
    let max_start = spans.iter().map(|s| s.0).max().expect("not empty");
    let min_end = spans.iter().map(|s| s.1).min().expect("not empty");
    let max_end = spans.iter().map(|s| s.1).max().expect("not empty");
    let whole = max_end.saturating_duration_since(min_start).as_secs_f64();
    if whole == 0.0 {
        return 1.0;
    }
    let together = min_end.saturating_duration_since(max_start).as_secs_f64();
    (together / whole).clamp(0.0, 1.0)
}

/// A measurement kept by [`until_overlapping`].
#[derive(Clone, Debug)]
pub struct Kept<T> {
    /// The clients' runs.
    pub runs: Vec<ClientRun<T>>,
    /// Their [`overlap`].
    pub overlap: f64,
    /// Attempts thrown away before it, for overlapping too little.
    pub discarded: usize,
}

/// Why [`until_overlapping`] kept nothing: no attempt reached the least overlap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoOverlap {
    /// Attempts made (all thrown away).
    pub attempts: usize,
    /// The best overlap any of them reached.
    pub best: f64,
}

impl std::fmt::Display for NoOverlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "clients did not run together: best overlap {:.2} in {} attempts, below {MIN_OVERLAP}",
            self.best, self.attempts
        )
    }
}

/// Calls `attempt` (one measurement, e.g. a [`run_clients`]) until its runs overlap by at
/// least `min` ([`MIN_OVERLAP`]), at most `1 + extra` times ([`EXTRA_ATTEMPTS`]), so that no
/// number is kept from clients that ran one after another. One client always overlaps.
pub fn until_overlapping<T>(
    min: f64,
    extra: usize,
    mut attempt: impl FnMut() -> Vec<ClientRun<T>>,
) -> Result<Kept<T>, NoOverlap> {
    let mut best = 0.0f64;
    for discarded in 0..=extra {
        let runs = attempt();
        let o = overlap(&spans(&runs));
        if runs.len() < 2 || o >= min {
            return Ok(Kept {
                runs,
                overlap: o,
                discarded,
            });
        }
        best = best.max(o);
    }
    Err(NoOverlap {
        attempts: 1 + extra,
        best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_run_and_time_themselves() {
        let runs = run_clients(3, |i| async move { i * 2 }).unwrap();
        assert_eq!(runs.iter().map(|r| r.result).collect::<Vec<_>>(), [0, 2, 4]);
        assert!(runs.iter().all(|r| r.end >= r.start));
        assert!(elapsed(&runs) >= runs.iter().map(|r| r.end - r.start).max().unwrap());
    }

    #[test]
    fn a_refused_thread_is_an_error_and_the_started_clients_exit() {
        let ran = std::sync::atomic::AtomicUsize::new(0);
        let t = Instant::now();
        let err = run_clients_with(
            8,
            |_| {
                let ran = &ran;
                async move {
                    ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            },
            |i| {
                if i == 5 {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        "Resource temporarily unavailable",
                    ))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10), "no hang");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0, "none ran");
        let msg = err.to_string();
        assert!(msg.contains("client thread 5 of 8"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn retries_until_overlapping_then_gives_up() {
        let t = Instant::now();
        let s = Duration::from_millis;
        let run = |a: u64, b: u64| ClientRun {
            start: t + s(a),
            end: t + s(b),
            result: (),
        };
        let mut n = 0;
        let kept = until_overlapping(MIN_OVERLAP, 5, || {
            n += 1;
            if n < 3 {
                vec![run(0, 10), run(10, 20)]
            } else {
                vec![run(0, 10), run(0, 10)]
            }
        })
        .unwrap();
        assert_eq!((kept.discarded, kept.overlap), (2, 1.0));
        let none = until_overlapping(MIN_OVERLAP, 2, || vec![run(0, 10), run(5, 15)]);
        let none = none.unwrap_err();
        assert_eq!(none.attempts, 3);
        assert!((none.best - 1.0 / 3.0).abs() < 1e-9);
    }
}

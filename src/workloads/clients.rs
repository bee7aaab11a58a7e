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
use std::sync::Barrier;
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

/// Runs `clients` clients at once, each on its own OS thread with its own current-thread
/// tokio runtime (time and I/O enabled). `client(i)` makes client `i`'s future on its
/// thread; every runtime is built and every future made before a [`Barrier`] releases the
/// clients together, so only the work itself is timed. Returns the runs in client order.
/// A client that panics panics the caller.
pub fn run_clients<T, F, Fut>(clients: usize, client: F) -> Vec<ClientRun<T>>
where
    T: Send,
    F: Fn(usize) -> Fut + Sync,
    Fut: Future<Output = T>,
{
    let barrier = Barrier::new(clients);
    let (barrier, client) = (&barrier, &client);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a tokio runtime can be built");
                    let fut = client(i);
                    barrier.wait();
                    let start = Instant::now();
                    let result = rt.block_on(fut);
                    let end = Instant::now();
                    ClientRun { start, end, result }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
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
        let runs = run_clients(3, |i| async move { i * 2 });
        assert_eq!(runs.iter().map(|r| r.result).collect::<Vec<_>>(), [0, 2, 4]);
        assert!(runs.iter().all(|r| r.end >= r.start));
        assert!(elapsed(&runs) >= runs.iter().map(|r| r.end - r.start).max().unwrap());
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

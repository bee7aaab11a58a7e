//! gproc: the parts of gproc that designs lean on beyond unique names, measured on the
//! suite's gproc alone (no other backend has them):
//!
//! - *counters under concurrency*: 1 and 2 client OS threads, each updating its own counter
//!   `c` under one key whose aggregated counter `a` sums them, while one more thread reads
//!   the aggregate; updates/s (median over rounds, min..max whiskers) and aggregate reads/s,
//!   with the aggregate checked against the sum of its counters after every round;
//! - *await wake-up*: a task awaits a name, another registers it; the time from the
//!   registration call to the waiter running again, as percentiles over many rounds.
//!
//! The whole workload is one unit: it compares no backends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use naming_schema::{
    Bars, Better, Chart, Column, Family, Filter, Identity, Line, Metric, Params, Row, Subject,
    Sweep, Unit, Workload, YScale,
};
use naming_strategies::runtime::{Name, ProcessRef, Runtime};
use naming_strategies::Gproc;

use super::common::{histogram, run_on, spread, start_workers, tokio_runtime};
use super::Progress;

/// The suite's gproc: the same identity its contender has in the per-backend workloads.
pub const GPROC: Identity = Identity::new("gproc", Family::RichRegistry);

/// Counter updates per second over all client threads: the median of the rounds, with the
/// slowest and the fastest round as its interval.
pub const COUNTER_UPDATES_PER_S: Metric = Metric::new(
    "counter_updates_per_s",
    "counter updates under an aggregate",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Reads of the aggregated counter per second while the updates run.
pub const AGGREGATE_READS_PER_S: Metric = Metric::new(
    "aggregate_reads_per_s",
    "aggregated counter reads during updates",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Rounds after which the aggregate differed from the sum of its counters.
pub const AGGREGATE_DRIFT: Metric = Metric::must_be_zero(
    "aggregate_drift",
    "rounds whose aggregate missed the sum of its counters",
);
/// Register-to-woken latency of an `await`, median.
pub const AWAIT_WAKE_P50_NS: Metric = Metric::new(
    "await_wake_p50_ns",
    "await woken after register, p50",
    Unit::Ns,
    Better::Lower,
);
/// The 90th percentile.
pub const AWAIT_WAKE_P90_NS: Metric = Metric::new(
    "await_wake_p90_ns",
    "await woken after register, p90",
    Unit::Ns,
    Better::Lower,
);
/// The 99th percentile.
pub const AWAIT_WAKE_P99_NS: Metric = Metric::new(
    "await_wake_p99_ns",
    "await woken after register, p99",
    Unit::Ns,
    Better::Lower,
);
/// The slowest wake-up.
pub const AWAIT_WAKE_MAX_NS: Metric = Metric::new(
    "await_wake_max_ns",
    "await woken after register, max",
    Unit::Ns,
    Better::Lower,
);
/// Awaits that were not woken (within 5 s) or woke with another process.
pub const AWAIT_MISSED: Metric = Metric::must_be_zero("await_missed", "awaits not woken");

/// The gproc-features workload.
pub const GPROC_FEATURES: Workload = Workload {
    metrics: &[
        &COUNTER_UPDATES_PER_S,
        &AGGREGATE_READS_PER_S,
        &AGGREGATE_DRIFT,
        &AWAIT_WAKE_P50_NS,
        &AWAIT_WAKE_P90_NS,
        &AWAIT_WAKE_P99_NS,
        &AWAIT_WAKE_MAX_NS,
        &AWAIT_MISSED,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Counter updates per second over all client OS threads, each updating its own counter under one aggregated counter (median of the rounds, min..max whiskers), and, dashed, reads of the aggregate per second by one more thread while the updates run, against the client threads.",
            x_desc: "client threads (count)",
            y_desc: "operations per second",
            y: YScale::Log,
            ..Sweep::new(
                "gproc-counters",
                "gproc counters under an aggregated counter",
                "threads",
                &[
                    Line::solid(&COUNTER_UPDATES_PER_S),
                    Line::dashed(&AGGREGATE_READS_PER_S),
                ],
            )
        }),
        Chart::Bars(Bars {
            id: "gproc-await",
            title: "gproc await: from register to the waiter woken",
            caption: "Time from the registration call to the awaiting task running again, in nanoseconds, as percentiles over the rounds (one fresh name and one waiter per round).",
            y_desc: "register to woken (ns)",
            groups: &[
                (&AWAIT_WAKE_P50_NS, "p50"),
                (&AWAIT_WAKE_P90_NS, "p90"),
                (&AWAIT_WAKE_P99_NS, "p99"),
                (&AWAIT_WAKE_MAX_NS, "max"),
            ],
            filter: Filter::All,
            y: YScale::Log,
        }),
    ],
    columns: &[
        Column::new(&COUNTER_UPDATES_PER_S, "counter updates"),
        Column::new(&AWAIT_WAKE_P50_NS, "await wake p50"),
    ],
    judges: &[],
    ..Workload::new(
        "gproc",
        "gproc's own features",
        "What designs built on gproc lean on beyond unique names: per-process counters under a live aggregated counter, updated from 1 and 2 OS threads while another reads the aggregate, and await's wake-up latency from a registration to the waiter.",
        Subject::NamingBackends,
    )
};

/// What the gproc-features workload measures.
#[derive(Clone, Debug)]
pub struct GprocFeaturesSpec {
    /// Client thread counts for the counter updates.
    pub threads: Vec<usize>,
    /// Rounds per thread count.
    pub rounds: usize,
    /// How long each round's updates run.
    pub slice: Duration,
    /// Await rounds (one name and one waiter each).
    pub awaits: usize,
}

impl GprocFeaturesSpec {
    /// The full run (about 10 s).
    pub fn full() -> Self {
        GprocFeaturesSpec {
            threads: vec![1, 2],
            rounds: 15,
            slice: Duration::from_millis(250),
            awaits: 20_000,
        }
    }

    /// The quick run (about 2 s).
    pub fn quick() -> Self {
        GprocFeaturesSpec {
            threads: vec![1, 2],
            rounds: 5,
            slice: Duration::from_millis(100),
            awaits: 2_000,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        GprocFeaturesSpec {
            threads: vec![1, 2],
            rounds: 2,
            slice: Duration::from_millis(10),
            awaits: 50,
        }
    }
}

/// One round of counter updates: updates/s over all clients, aggregate reads/s, and whether
/// the aggregate equalled the sum of the counters afterwards.
struct CounterRound {
    updates_per_s: f64,
    reads_per_s: f64,
    exact: bool,
}

/// `clients` OS threads each add 1 to its own counter under `key` for `slice`, while one
/// more thread reads the aggregate.
fn counter_round(g: &Gproc, key: &Name, clients: &[ProcessRef], slice: Duration) -> CounterRound {
    let stop = AtomicBool::new(false);
    let updates = AtomicU64::new(0);
    let reads = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in clients {
            let (stop, updates) = (&stop, &updates);
            s.spawn(move || {
                let pid = c.pid();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Checked in batches, so the flag costs little beside the update.
                    for _ in 0..64 {
                        if g.update_counter(key, pid, 1).is_ok() {
                            n += 1;
                        }
                    }
                }
                updates.fetch_add(n, Ordering::Relaxed);
            });
        }
        s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    if std::hint::black_box(g.aggregated_value(key)).is_some() {
                        n += 1;
                    }
                }
            }
            reads.fetch_add(n, Ordering::Relaxed);
        });
        std::thread::sleep(slice);
        stop.store(true, Ordering::Relaxed);
    });
    let secs = started.elapsed().as_secs_f64();
    let sum: i64 = g.lookup_counters(key).iter().map(|(_, v)| v).sum();
    CounterRound {
        updates_per_s: updates.load(Ordering::Relaxed) as f64 / secs,
        reads_per_s: reads.load(Ordering::Relaxed) as f64 / secs,
        exact: g.aggregated_value(key) == Some(sum),
    }
}

/// Rows for the counter updates at each thread count.
fn counters(
    spec: &GprocFeaturesSpec,
    tokio: &tokio::runtime::Runtime,
    rt: &Runtime,
    progress: &dyn Progress,
) -> Vec<Row> {
    let w = &GPROC_FEATURES;
    let mut rows = Vec::new();
    for &threads in &spec.threads {
        let params = Params::new().with("threads", threads);
        progress.step(&format!("gproc: counters, {threads} client threads"));
        let g: Gproc = Gproc::new();
        let key = Name::text("hits");
        let procs = tokio.block_on(start_workers(rt, threads + 1));
        let (aggregate, clients) = match procs.split_first() {
            Some((a, c)) if c.len() == threads => (a, c),
            _ => {
                rows.push(w.skip(GPROC.label, &params, "could not start the processes"));
                continue;
            }
        };
        let setup = g.reg_aggregated(key.clone(), aggregate).and_then(|()| {
            clients
                .iter()
                .try_for_each(|c| g.reg_counter(key.clone(), c, 0))
        });
        if let Err(e) = setup {
            rows.push(w.skip(GPROC.label, &params, &format!("setup failed: {e}")));
            continue;
        }
        let mut updates = Vec::with_capacity(spec.rounds);
        let mut reads = Vec::with_capacity(spec.rounds);
        let mut drift = 0usize;
        for _ in 0..spec.rounds {
            let r = counter_round(&g, &key, clients, spec.slice);
            updates.push(r.updates_per_s);
            reads.push(r.reads_per_s);
            drift += usize::from(!r.exact);
        }
        for p in &procs {
            p.kill();
        }
        let (med, lo, hi) = spread(&mut updates);
        rows.push(
            w.row(GPROC.label, &params, &COUNTER_UPDATES_PER_S, med)
                .over(spec.rounds as u32, (lo, hi)),
        );
        let (med, lo, hi) = spread(&mut reads);
        rows.push(
            w.row(GPROC.label, &params, &AGGREGATE_READS_PER_S, med)
                .over(spec.rounds as u32, (lo, hi)),
        );
        rows.push(w.row(GPROC.label, &params, &AGGREGATE_DRIFT, drift as f64));
    }
    rows
}

/// Register-to-woken latencies (ns) of `rounds` awaits, and how many were missed.
async fn await_latencies(g: Gproc, registrant: ProcessRef, rounds: usize) -> (Vec<u64>, usize) {
    let limit = Duration::from_secs(5);
    let mut out = Vec::with_capacity(rounds);
    let mut missed = 0;
    for i in 0..rounds {
        let name = Name::tagged("awaited", i as u64);
        let waiter = {
            let (g, name) = (g.clone(), name.clone());
            tokio::spawn(async move {
                let found = g.await_name(&name, limit).await;
                (Instant::now(), found.map(|p| p.pid()))
            })
        };
        // Register only once the waiter is parked.
        let parked = Instant::now();
        while g.awaiting() == 0 && parked.elapsed() < limit {
            tokio::task::yield_now().await;
        }
        let registered = Instant::now();
        if g.reg_name(name, &registrant).is_err() {
            missed += 1;
            waiter.abort();
            continue;
        }
        match waiter.await {
            Ok((woken, Ok(pid))) if pid == registrant.pid() => {
                out.push(woken.saturating_duration_since(registered).as_nanos() as u64);
            }
            _ => missed += 1,
        }
    }
    (out, missed)
}

/// Rows for the await wake-up latency.
fn awaits(
    spec: &GprocFeaturesSpec,
    tokio: &tokio::runtime::Runtime,
    rt: &Runtime,
    progress: &dyn Progress,
) -> Vec<Row> {
    let w = &GPROC_FEATURES;
    let params = Params::new().with("awaits", spec.awaits);
    progress.step(&format!("gproc: {} awaits", spec.awaits));
    let g: Gproc = Gproc::new();
    let Some(registrant) = tokio.block_on(start_workers(rt, 1)).pop() else {
        return vec![w.skip(GPROC.label, &params, "could not start the registrant")];
    };
    let (latencies, missed) = run_on(tokio, await_latencies(g, registrant.clone(), spec.awaits));
    registrant.kill();
    let mut rows = vec![w.row(GPROC.label, &params, &AWAIT_MISSED, missed as f64)];
    let mut h = histogram();
    for ns in &latencies {
        // Below the histogram's 1 ns floor only on a coarse clock: counted as 1 ns.
        let _ = h.record((*ns).max(1));
    }
    if h.is_empty() {
        rows.push(w.skip(GPROC.label, &params, "no await was woken"));
        return rows;
    }
    for (m, q) in [
        (&AWAIT_WAKE_P50_NS, 0.50),
        (&AWAIT_WAKE_P90_NS, 0.90),
        (&AWAIT_WAKE_P99_NS, 0.99),
    ] {
        let mut row = w.row(GPROC.label, &params, m, h.value_at_quantile(q) as f64);
        row.repeats = h.len() as u32;
        rows.push(row);
    }
    let mut row = w.row(GPROC.label, &params, &AWAIT_WAKE_MAX_NS, h.max() as f64);
    row.repeats = h.len() as u32;
    rows.push(row);
    rows
}

/// Runs the workload: counters at each thread count, then the awaits.
pub fn gproc_features(spec: &GprocFeaturesSpec, progress: &dyn Progress) -> Vec<Row> {
    let tokio = tokio_runtime(2);
    let rt = Runtime::new();
    let mut rows = counters(spec, &tokio, &rt, progress);
    rows.extend(awaits(spec, &tokio, &rt, progress));
    rows
}

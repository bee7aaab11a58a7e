//! routing: resolve a name and call the worker (`GenServer.call(via(id), ...)`), closed loop
//! and open loop, against a call to a pid already held and a bare tokio mpsc + oneshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Bars, Better, Chart, Column, Extreme, Filter, Identity, Judge, Line, Metric, Outcome, Params,
    Row, Situation, Subject, Sweep, Unit, Workload, YScale,
};
use naming_strategies::runtime::{instant_after, CallError, Name, ProcessRef, Runtime};
use naming_strategies::Naming;
use tokio::sync::{mpsc, oneshot, Barrier};

use super::common::{
    adopt_workers, histogram, kill_all, make_or_skip, median_of_rounds, run_on, start_workers,
    tokio_runtime, SplitMix64, CALL_TIMEOUT,
};
use super::Progress;
use crate::contenders::Contender;

/// The floor of a call through a name: a call to a pid already held (no lookup at all).
pub const DIRECT_CALL: Identity = Identity::floor("floor-direct-call");
/// The floor under any process call: a bare tokio mpsc send and oneshot reply.
pub const TOKIO_MPSC_ONESHOT: Identity = Identity::floor("floor-tokio-mpsc-oneshot");
/// Every floor the routing workload measures.
pub const FLOORS: [Identity; 2] = [DIRECT_CALL, TOKIO_MPSC_ONESHOT];

/// Calls per second, all clients together (closed loop), or completed per second at the
/// offered rate (open loop).
pub const OPS_PER_SEC: Metric = Metric::new(
    "ops_per_sec",
    "routed calls per second",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Median latency of one call through a name.
pub const P50_NS: Metric = Metric::new("p50_ns", "routed call p50", Unit::Ns, Better::Lower);
/// 99th percentile latency.
pub const P99_NS: Metric = Metric::new("p99_ns", "routed call p99", Unit::Ns, Better::Lower);
/// 99.9th percentile latency.
pub const P999_NS: Metric = Metric::new("p999_ns", "routed call p99.9", Unit::Ns, Better::Lower);
/// The slowest call (closed loop: of a round, the median over the rounds, the slowest of
/// all being the top of its interval).
pub const MAX_NS: Metric = Metric::new("max_ns", "routed call max", Unit::Ns, Better::Lower);
/// Calls that failed or were answered wrongly: every name is held throughout, so any is a
/// failure.
pub const ERRORS: Metric = Metric::must_be_zero("errors", "failed or wrong calls");
/// Calls completed per second in an open-loop run (against the offered `rate`).
pub const ACHIEVED_RATE: Metric = Metric::new(
    "achieved_rate",
    "calls completed per second at the offered rate",
    Unit::PerSec,
    Better::Higher,
);
/// A backend's calls per second over a call to a held pid's ([`DIRECT_CALL`]) at the same
/// parameters, measured right after it in the same process: a lookup can only add cost, so
/// at best 1.0.
pub const OPS_VS_DIRECT: Metric = Metric::new(
    "ops_vs_direct",
    "routed calls over direct calls",
    Unit::Ratio,
    Better::Higher,
)
.with_ideal(1.0);
/// How late the open-loop pacer issued calls behind their due times, median: the pacer's
/// own error, included in every open-loop latency.
pub const PACER_LAG_P50_NS: Metric = Metric::new(
    "pacer_lag_p50_ns",
    "open-loop pacer lag p50",
    Unit::Ns,
    Better::Lower,
);
/// How late the open-loop pacer issued calls, 99th percentile.
pub const PACER_LAG_P99_NS: Metric = Metric::new(
    "pacer_lag_p99_ns",
    "open-loop pacer lag p99",
    Unit::Ns,
    Better::Lower,
);
/// The pacer's self-check: the bare floor's open-loop p50 at the lowest offered rate over
/// its closed-loop p50 with the fewest clients, same run. At low load both time the same
/// round trip, so about 1.0; past [`SELF_CHECK_FACTOR`] the pacer, not the system, sets the
/// open-loop latencies, and every open-loop row of the run becomes a skip saying so.
pub const OPEN_VS_CLOSED_P50: Metric = Metric::new(
    "open_vs_closed_p50",
    "open-loop p50 over closed-loop p50 (pacer self-check)",
    Unit::Ratio,
    Better::Lower,
);

/// The self-check's limit on [`OPEN_VS_CLOSED_P50`].
pub const SELF_CHECK_FACTOR: f64 = 2.0;
/// Above this much time to a due time the pacer sleeps until this long before it (tokio's
/// timer wheel has millisecond resolution); below it, it yields in a loop.
const PACER_SLEEP: Duration = Duration::from_millis(2);
/// Below this much time to a due time the pacer spins without yielding (a yield costs a
/// driver poll, about half a microsecond).
const PACER_SPIN: Duration = Duration::from_micros(3);

const PERCENTILES: &[(&Metric, &str)] = &[
    (&P50_NS, "p50"),
    (&P99_NS, "p99"),
    (&P999_NS, "p99.9"),
    (&MAX_NS, "max"),
];

/// The routing workload: `GenServer.call(via(id), ...)`, closed and open loop, beside a
/// call to a held pid and a bare tokio round trip.
pub const ROUTING: Workload = Workload {
    metrics: &[
        &OPS_PER_SEC,
        &P50_NS,
        &P99_NS,
        &P999_NS,
        &MAX_NS,
        &ERRORS,
        &ACHIEVED_RATE,
        &OPS_VS_DIRECT,
        &PACER_LAG_P50_NS,
        &PACER_LAG_P99_NS,
        &OPEN_VS_CLOSED_P50,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "What a name costs per call: calls per second through a name over calls to a held pid (the direct-call floor) at the same workers and clients, closed loop; whiskers: range over repeats. 1.0 is as fast as a direct call.",
            x_desc: "concurrent clients (tasks)",
            y_desc: "calls/s through a name / direct calls/s (ratio)",
            split_by: &["workers"],
            filter: Filter::Not("mode", "open"),
            refs: &[("direct call 1.0", 1.0)],
            ..Sweep::new(
                "routing-vs-direct",
                "A call through a name over a direct call",
                "clients",
                &[Line::solid(&OPS_VS_DIRECT)],
            )
        }),
        Chart::Bars(Bars {
            id: "routing-latency",
            title: "Routed call latency, closed loop",
            caption: "Latency percentiles of a call through a name, in nanoseconds, closed loop; outlined bars: floors (a call to a held pid, a bare tokio mpsc + oneshot round trip).",
            y_desc: "latency per call (ns)",
            groups: PERCENTILES,
            filter: Filter::Not("mode", "open"),
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "routing-latency-open",
            title: "Routed call latency, open loop",
            caption: "Latency percentiles of a call through a name at a fixed offered rate (open loop, so queueing shows), in nanoseconds; outlined bars: floors.",
            y_desc: "latency per call (ns)",
            groups: PERCENTILES,
            filter: Filter::Is("mode", "open"),
            y: YScale::Fit,
        }),
        Chart::Sweep(Sweep {
            caption: "Calls through a name per second (ops/s) against concurrent clients, closed loop; dashed: floors.",
            x_desc: "concurrent clients (tasks)",
            y_desc: "calls per second (ops/s)",
            split_by: &["workers"],
            filter: Filter::Not("mode", "open"),
            floors: true,
            min_x: 2,
            ..Sweep::new(
                "routing-threads",
                "Routing thread scaling",
                "clients",
                &[Line::solid(&OPS_PER_SEC)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "p99 latency of a call through a name (ns) against the offered rate (calls/s), open loop; dashed: floors.",
            x_desc: "offered rate (calls/s)",
            y_desc: "p99 latency (ns)",
            split_by: &["workers", "clients"],
            filter: Filter::Is("mode", "open"),
            floors: true,
            min_x: 2,
            ..Sweep::new(
                "routing-open-p99",
                "Routed call p99 vs offered rate",
                "rate",
                &[Line::solid(&P99_NS)],
            )
        }),
    ],
    columns: &[
        Column {
            filter: Filter::Not("mode", "open"),
            ..Column::new(&OPS_PER_SEC, "routed calls")
        },
        Column {
            filter: Filter::Not("mode", "open"),
            ..Column::new(&P99_NS, "routed call p99")
        },
    ],
    judges: &[Judge {
        situation: Situation::FewFixedServices,
        rank: 1,
        metric: &OPS_PER_SEC,
        at: ("workers", Extreme::Min),
        prefer: &[("mode", "closed")],
        tiebreak: None,
    }],
    ..Workload::new(
        "routing",
        "Routing",
        "Named workers called through their names (`GenServer.call(via(id), ...)`) by concurrent clients, closed loop (each client waits for its reply; 5 rounds, round-robin over the client counts, each figure the median of its rounds with their range, errors summed) and open loop (calls due at a fixed total rate, latency counted from when each was due; the pacer sleeps until 2 ms before a due time, yields in a loop until 3 µs before it and spins the rest, so it keeps a 40 µs period, and records its own lag). Self-check: the bare floor's open-loop p50 at the lowest rate must be within 2x its closed-loop p50 with the fewest clients, else the run's open-loop rows are skips saying so; floors: a call to a pid already held and a bare tokio mpsc + oneshot round trip.",
        Subject::NamingBackends,
    )
};

/// How requests are issued.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Each client sends its next request when the last one is answered.
    Closed,
    /// Requests are due at a fixed total rate (per second); latency counts from when each
    /// was due, so a slow reply delays the measurement of those behind it (no coordinated
    /// omission).
    Open(f64),
}

/// What the routing workload measures.
#[derive(Clone, Debug)]
pub struct RoutingSpec {
    /// Named workers.
    pub workers: usize,
    /// Numbers of concurrent clients.
    pub clients: Vec<usize>,
    /// Closed-loop calls per client.
    pub calls_per_client: usize,
    /// Open-loop rates (calls per second, all clients together) and how long each runs.
    pub open_rates: Vec<f64>,
    /// Duration of each open-loop run.
    pub open_duration: Duration,
}

impl RoutingSpec {
    /// The full run.
    pub fn full(clients: Vec<usize>) -> Self {
        RoutingSpec {
            workers: 10_000,
            clients,
            calls_per_client: 200_000,
            open_rates: vec![50_000.0, 200_000.0],
            open_duration: Duration::from_millis(1500),
        }
    }

    /// The quick run.
    pub fn quick(clients: Vec<usize>) -> Self {
        RoutingSpec {
            workers: 1_000,
            clients,
            calls_per_client: 50_000,
            open_rates: vec![50_000.0],
            open_duration: Duration::from_millis(700),
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        RoutingSpec {
            workers: 20,
            clients: vec![2],
            calls_per_client: 500,
            open_rates: vec![5_000.0],
            open_duration: Duration::from_millis(100),
        }
    }
}

/// Something a client calls by key.
pub(crate) trait CallTarget: Clone + Send + Sync + 'static {
    fn call(
        &self,
        key: usize,
        n: u64,
    ) -> impl std::future::Future<Output = Result<u64, CallError>> + Send;
}

#[derive(Clone)]
struct ViaName<N> {
    naming: N,
    names: Arc<Vec<Name>>,
}

impl<N: Naming> CallTarget for ViaName<N> {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        self.naming.call(&self.names[key], n, CALL_TIMEOUT).await
    }
}

#[derive(Clone)]
struct HeldPid(Arc<Vec<ProcessRef>>);

impl CallTarget for HeldPid {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        self.0[key].call(n, CALL_TIMEOUT).await
    }
}

type RawRequest = (u64, oneshot::Sender<u64>);

#[derive(Clone)]
struct RawTokio(Arc<Vec<mpsc::UnboundedSender<RawRequest>>>);

impl RawTokio {
    fn start(n: usize) -> Self {
        let senders = (0..n)
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<RawRequest>();
                tokio::spawn(async move {
                    while let Some((n, reply)) = rx.recv().await {
                        let _ = reply.send(n.wrapping_add(1));
                    }
                });
                tx
            })
            .collect();
        RawTokio(Arc::new(senders))
    }
}

impl CallTarget for RawTokio {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        let (tx, rx) = oneshot::channel();
        self.0[key].send((n, tx)).map_err(|_| CallError::NoProc)?;
        rx.await.map_err(|_| CallError::NoProc)
    }
}

/// Waits until `due` and returns when it woke: sleeps on tokio's timer (millisecond
/// resolution) until [`PACER_SLEEP`] before it, then yields in a loop, letting the other
/// tasks of this worker (callees, replies) run between checks, and spins for the last
/// [`PACER_SPIN`].
async fn pace_until(due: Instant) -> Instant {
    loop {
        let now = Instant::now();
        if now >= due {
            return now;
        }
        let left = due - now;
        if left > PACER_SLEEP {
            tokio::time::sleep_until((due - PACER_SLEEP).into()).await;
        } else if left > PACER_SPIN {
            tokio::task::yield_now().await;
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Runs one measurement and returns its rows.
async fn measure<T: CallTarget>(
    label: &str,
    target: &T,
    workers: usize,
    clients: usize,
    calls: usize,
    load: Load,
    duration: Duration,
) -> Vec<Row> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let per_client_calls = match load {
        Load::Closed => calls,
        Load::Open(rate) => ((rate * duration.as_secs_f64()) / clients as f64).max(1.0) as usize,
    };
    let period = match load {
        Load::Closed => Duration::ZERO,
        Load::Open(rate) => Duration::from_secs_f64(clients as f64 / rate),
    };
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (target, barrier) = (target.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(0xBEEF + c as u64);
                let mut hist = histogram();
                let mut lag = histogram();
                let mut errors = 0u64;
                barrier.wait().await;
                let start = Instant::now();
                for i in 0..per_client_calls {
                    let due = match load {
                        Load::Closed => Instant::now(),
                        Load::Open(_) => {
                            // Stagger clients within one period.
                            let offset = period
                                .saturating_mul(i as u32)
                                .saturating_add(period.saturating_mul(c as u32) / clients as u32);
                            let due = instant_after(start, offset);
                            let sent = pace_until(due).await;
                            let _ = lag.record(sent.duration_since(due).as_nanos().max(1) as u64);
                            due
                        }
                    };
                    match target.call(rng.below(workers), i as u64).await {
                        Ok(r) if r == (i as u64).wrapping_add(1) => {}
                        _ => errors += 1,
                    }
                    let _ = hist.record(due.elapsed().as_nanos().max(1) as u64);
                }
                (hist, lag, errors, start, Instant::now())
            })
        })
        .collect();
    barrier.wait().await;
    let mut hist = histogram();
    let mut lag = histogram();
    let mut errors = 0;
    // From the first client's start to the last client's end, as the clients saw them.
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for t in tasks {
        match t.await {
            Ok((h, l, e, s, end)) => {
                let _ = hist.add(&h);
                let _ = lag.add(&l);
                errors += e;
                first = Some(first.map_or(s, |f| f.min(s)));
                last = Some(last.map_or(end, |l| l.max(end)));
            }
            Err(_) => errors += per_client_calls as u64,
        }
    }
    let secs = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(1e-9),
        _ => f64::NAN,
    };
    let mut p = Params::new()
        .with("workers", workers)
        .with("clients", clients);
    match load {
        Load::Closed => p = p.with("mode", "closed"),
        Load::Open(rate) => p = p.with("mode", "open").with("rate", rate),
    }
    let total = (per_client_calls * clients) as f64;
    let mut rows = vec![
        ROUTING.row(label, &p, &OPS_PER_SEC, total / secs),
        ROUTING.row(label, &p, &P50_NS, hist.value_at_quantile(0.5) as f64),
        ROUTING.row(label, &p, &P99_NS, hist.value_at_quantile(0.99) as f64),
        ROUTING.row(label, &p, &P999_NS, hist.value_at_quantile(0.999) as f64),
        ROUTING.row(label, &p, &MAX_NS, hist.max() as f64),
        ROUTING.row(label, &p, &ERRORS, errors as f64),
    ];
    if let Load::Open(_) = load {
        rows.push(ROUTING.row(label, &p, &ACHIEVED_RATE, total / secs));
        rows.push(ROUTING.row(
            label,
            &p,
            &PACER_LAG_P50_NS,
            lag.value_at_quantile(0.5) as f64,
        ));
        rows.push(ROUTING.row(
            label,
            &p,
            &PACER_LAG_P99_NS,
            lag.value_at_quantile(0.99) as f64,
        ));
    }
    rows
}

/// Every client count closed-loop (after a warm-up), then every open-loop rate, for one
/// target (also a foreign system's, see [`foreign::drive`](crate::foreign::drive)).
pub(crate) async fn measure_all<T: CallTarget>(
    label: &str,
    target: T,
    spec: &RoutingSpec,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for &clients in &spec.clients {
        // A warm-up at every client count first.
        let _ = measure(
            label,
            &target,
            spec.workers,
            clients,
            spec.calls_per_client / 10,
            Load::Closed,
            Duration::ZERO,
        )
        .await;
    }
    // The closed loop in rounds, round-robin over the client counts, so that a slow spell
    // of the host costs a point one round rather than its whole figure.
    let per_round = (spec.calls_per_client / CLOSED_ROUNDS).max(1);
    let mut rounds = Vec::new();
    for _ in 0..CLOSED_ROUNDS {
        let mut round = Vec::new();
        for &clients in &spec.clients {
            round.extend(
                measure(
                    label,
                    &target,
                    spec.workers,
                    clients,
                    per_round,
                    Load::Closed,
                    Duration::ZERO,
                )
                .await,
            );
        }
        rounds.push(round);
    }
    rows.extend(closed_figures(rounds));
    let clients = spec.clients.iter().copied().max().unwrap_or(1);
    for &rate in &spec.open_rates {
        rows.extend(
            measure(
                label,
                &target,
                spec.workers,
                clients,
                0,
                Load::Open(rate),
                spec.open_duration,
            )
            .await,
        );
    }
    rows
}

/// Rounds of the closed loop at each client count: each point's figures are the median of
/// its rounds, with the range over the rounds as their interval.
pub const CLOSED_ROUNDS: usize = 5;

/// One row per point from the closed loop's rounds: the median of the rounds (with their
/// range) for every figure but [`ERRORS`], which is the sum over the rounds (a failure in
/// any round counts).
fn closed_figures(rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let (errors, figures): (Vec<Row>, Vec<Row>) = rounds
        .into_iter()
        .flatten()
        .partition(|r| r.metric == ERRORS.name);
    let mut rows = median_of_rounds(vec![figures]);
    let mut summed: Vec<Row> = Vec::new();
    for r in errors {
        match summed
            .iter_mut()
            .find(|s| s.backend == r.backend && s.params == r.params)
        {
            Some(s) => {
                if let (Some(a), Some(b)) = (s.value(), r.value()) {
                    s.outcome = Outcome::Value(a + b);
                }
            }
            None => summed.push(r),
        }
    }
    rows.extend(summed);
    rows
}

/// Calls workers through their names.
pub fn routing<C: Contender>(
    contender: &C,
    spec: &RoutingSpec,
    progress: &dyn Progress,
) -> Vec<Row> {
    let label = contender.label();
    progress.step(&format!("routing {label}"));
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt_tokio = tokio_runtime(threads);
    let rt = Runtime::new();
    let p = Params::new().with("workers", spec.workers);
    let naming = match make_or_skip(&ROUTING, contender, &rt_tokio, &rt, spec.workers, &p) {
        Ok(n) => n,
        Err(skip) => return vec![*skip],
    };
    let spec = spec.clone();
    run_on(&rt_tokio, async move {
        let opened = match adopt_workers::<C>(&ROUTING, label, naming, &rt, spec.workers, &p).await
        {
            Ok(o) => o,
            Err(skip) => return vec![*skip],
        };
        let target = ViaName {
            naming: opened.naming,
            names: opened.names,
        };
        let rows = measure_all(label, target, &spec).await;
        kill_all(&opened.workers).await;
        rows
    })
}

/// The floors ([`FLOORS`]): a call to a held pid, and a bare tokio mpsc send + oneshot
/// reply.
pub fn routing_floors(spec: &RoutingSpec, progress: &dyn Progress) -> Vec<Row> {
    progress.step("routing floors");
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt_tokio = tokio_runtime(threads);
    let spec = spec.clone();
    run_on(&rt_tokio, async move {
        let rt = Runtime::new();
        let workers = start_workers(&rt, spec.workers).await;
        let mut rows =
            measure_all(DIRECT_CALL.label, HeldPid(Arc::new(workers.clone())), &spec).await;
        let bare = measure_all(
            TOKIO_MPSC_ONESHOT.label,
            RawTokio::start(spec.workers),
            &spec,
        )
        .await;
        rows.extend(open_vs_closed(&bare, &spec));
        rows.extend(bare);
        kill_all(&workers).await;
        rows
    })
}

/// `rows` (one backend's, measured in this process) with their [`OPS_VS_DIRECT`] ratios
/// to a direct-call floor measured right after them in this same process, so the ratio
/// never crosses processes; the floor's own rows are dropped (the floors' unit measures
/// them).
pub fn with_direct_ratio(
    mut rows: Vec<Row>,
    spec: &RoutingSpec,
    progress: &dyn Progress,
) -> Vec<Row> {
    progress.step("routing direct-call floor, same process");
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt_tokio = tokio_runtime(threads);
    let closed_only = RoutingSpec {
        open_rates: Vec::new(),
        ..spec.clone()
    };
    let floor = run_on(&rt_tokio, async move {
        let rt = Runtime::new();
        let workers = start_workers(&rt, closed_only.workers).await;
        let rows = measure_all(
            DIRECT_CALL.label,
            HeldPid(Arc::new(workers.clone())),
            &closed_only,
        )
        .await;
        kill_all(&workers).await;
        rows
    });
    let both: Vec<Row> = rows.iter().cloned().chain(floor).collect();
    rows.extend(ops_vs_direct(&both));
    rows
}

/// The pacer's self-check row ([`OPEN_VS_CLOSED_P50`]) from the bare floor's `rows`: its
/// open-loop p50 at the lowest rate over its closed-loop p50 with the fewest clients.
fn open_vs_closed(rows: &[Row], spec: &RoutingSpec) -> Option<Row> {
    let clients = spec.clients.iter().copied().min()?;
    let rate = spec.open_rates.iter().copied().reduce(f64::min)?;
    let p50 = |mode: &str, key: &str, at: f64| {
        rows.iter().find(|r| {
            r.metric == P50_NS.name
                && r.params.text("mode").as_deref() == Some(mode)
                && r.params.num(key) == Some(at)
        })
    };
    let open = p50("open", "rate", rate)?;
    let closed = p50("closed", "clients", clients as f64)?.value()?;
    (closed > 0.0).then(|| {
        let ratio = open.value()? / closed;
        Some(ROUTING.row(
            TOKIO_MPSC_ONESHOT.label,
            &open.params,
            &OPEN_VS_CLOSED_P50,
            ratio,
        ))
    })?
}

/// Completes a run's routing rows: when the pacer's self-check failed (an
/// [`OPEN_VS_CLOSED_P50`] median past [`SELF_CHECK_FACTOR`]), every open-loop row becomes
/// one skip per backend and point saying so (the check row itself is kept); then the
/// [`ops_vs_direct`] rows are added.
pub fn finish(rows: Vec<Row>) -> Vec<Row> {
    let failed = rows
        .iter()
        .filter(|r| r.metric == OPEN_VS_CLOSED_P50.name)
        .filter_map(Row::value)
        .find(|v| *v > SELF_CHECK_FACTOR);
    let mut rows = match failed {
        None => rows,
        Some(ratio) => {
            let reason = format!(
                "pacer self-check failed: the bare floor's open-loop p50 was {ratio:.2}x its closed-loop p50 (limit {SELF_CHECK_FACTOR}x), so open-loop latencies here would time the pacer, not the system"
            );
            eprintln!("naming-bench: routing: {reason}; open-loop rows withheld");
            let open = |r: &Row| {
                r.params.text("mode").as_deref() == Some("open")
                    && r.metric != OPEN_VS_CLOSED_P50.name
            };
            let mut skipped: Vec<Row> = Vec::new();
            for r in rows.iter().filter(|r| open(r)) {
                if !skipped
                    .iter()
                    .any(|s| s.backend == r.backend && s.params == r.params)
                {
                    skipped.push(ROUTING.skip(&r.backend, &r.params, &reason));
                }
            }
            let mut kept: Vec<Row> = rows.into_iter().filter(|r| !open(r)).collect();
            kept.extend(skipped);
            kept
        }
    };
    // Ratios already taken beside their floor in the backend's own process stay; only the
    // others are taken here (in-process runs, where the floors ran in this process too).
    let derived: Vec<Row> = ops_vs_direct(&rows)
        .into_iter()
        .filter(|d| {
            !rows.iter().any(|r| {
                r.metric == OPS_VS_DIRECT.name && r.backend == d.backend && r.params == d.params
            })
        })
        .collect();
    rows.extend(derived);
    rows
}

/// [`OPS_VS_DIRECT`] for every backend's calls per second in `rows`, over the
/// [`DIRECT_CALL`] floor's at the same parameters (measured in the same run, so `rows`
/// holds both); floors get none.
fn ops_vs_direct(rows: &[Row]) -> Vec<Row> {
    let floors: Vec<&'static str> = crate::contenders::identities()
        .into_iter()
        .filter(|i| i.is_floor())
        .map(|i| i.label)
        .collect();
    let ops = |r: &&Row| r.metric == OPS_PER_SEC.name && r.value().is_some();
    let direct: Vec<&Row> = rows
        .iter()
        .filter(ops)
        .filter(|r| r.backend == DIRECT_CALL.label)
        .collect();
    rows.iter()
        .filter(ops)
        .filter(|r| !floors.contains(&r.backend.as_str()))
        .filter_map(|r| {
            let f = direct.iter().find(|d| d.params == r.params)?.value()?;
            let v = r.value()?;
            (f > 0.0).then(|| ROUTING.row(&r.backend, &r.params, &OPS_VS_DIRECT, v / f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_rounds_give_medians_with_ranges_and_summed_errors() {
        let p = Params::new().with("workers", 10).with("clients", 1);
        let round = |ops: f64, p50: f64, errors: f64| {
            vec![
                ROUTING.row("b", &p, &OPS_PER_SEC, ops),
                ROUTING.row("b", &p, &P50_NS, p50),
                ROUTING.row("b", &p, &ERRORS, errors),
            ]
        };
        let rows = closed_figures(vec![
            round(100.0, 900.0, 0.0),
            round(300.0, 700.0, 2.0),
            round(200.0, 800.0, 1.0),
        ]);
        let get = |m: &Metric| rows.iter().find(|r| r.metric == m.name).cloned().unwrap();
        let ops = get(&OPS_PER_SEC);
        assert_eq!(
            (ops.value(), ops.interval, ops.repeats),
            (Some(200.0), Some((100.0, 300.0)), 3)
        );
        assert_eq!(get(&P50_NS).value(), Some(800.0));
        // A failure in any round counts: errors are summed, never a median.
        assert_eq!(get(&ERRORS).value(), Some(3.0));
        assert_eq!(rows.iter().filter(|r| r.metric == ERRORS.name).count(), 1);
    }
}

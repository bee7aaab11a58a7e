//! Pieces every workload shares: the opening (make the backend, adopt the workers, or the
//! skip row that says why not), the worker, key distributions, runtimes, statistics, and
//! the backends' own gauges as declared metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use naming_schema::{Better, Metric, Params, Row, Unit, Workload};
use naming_strategies::runtime::{
    ChildSpec, Ctx, ExitReason, GenServer, Name, Pid, ProcessRef, Restart, Runtime, StartOpts,
};
use naming_strategies::{via, Naming};

use crate::contenders::Contender;

/// The call timeout workloads use (the BEAM default).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The worker every workload names: answers a call with its argument plus one.
pub struct Worker {
    claim: Option<(Name, Claims)>,
}

impl Worker {
    /// A worker that records nothing.
    pub fn plain() -> Self {
        Worker { claim: None }
    }
}

impl GenServer for Worker {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn init(&mut self, ctx: &mut Ctx) -> Result<(), ExitReason> {
        if let Some((name, claims)) = &self.claim {
            claims.claim(name.clone(), ctx.me().clone());
        }
        Ok(())
    }

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n.wrapping_add(1)
    }
}

/// Who believes it owns each name: every worker records itself when it starts, so two live
/// owners of one name are seen whatever the backend says.
#[derive(Clone, Default)]
pub struct Claims {
    owners: Arc<DashMap<Name, ProcessRef, naming_strategies::FastHasher>>,
    duplicates: Arc<std::sync::atomic::AtomicU64>,
}

impl Claims {
    fn claim(&self, name: Name, me: ProcessRef) {
        if let Some(previous) = self.owners.insert(name, me) {
            if previous.is_alive() {
                self.duplicates
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Live processes that started under a name another live process also held.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Names whose last claimant is alive but which `naming` does not resolve to it, plus
    /// names `naming` resolves to a dead process.
    pub async fn mismatches<N: Naming>(&self, naming: &N) -> (u64, u64) {
        let entries: Vec<(Name, ProcessRef)> = self
            .owners
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        let (mut unresolved, mut dead) = (0, 0);
        for (name, owner) in entries {
            match naming.whereis(&name).await {
                Some(p) if !p.is_alive() => dead += 1,
                Some(p) if owner.is_alive() && p.pid() != owner.pid() => unresolved += 1,
                None if owner.is_alive() => unresolved += 1,
                _ => {}
            }
        }
        (unresolved, dead)
    }
}

/// A child spec for a worker started under `name` through `naming` (the `via` start).
pub fn named_worker<N: Naming>(naming: &N, name: Name, claims: &Claims) -> ChildSpec {
    let naming = naming.clone();
    let claims = claims.clone();
    ChildSpec::new(
        "worker",
        Restart::Permanent,
        move |rt: Runtime, mut opts: StartOpts| {
            opts.register = Some(via(&naming, name.clone()));
            let worker = Worker {
                claim: Some((name.clone(), claims.clone())),
            };
            async move {
                rt.start_opts(worker, opts)
                    .await
                    .map(|s| s.process().clone())
            }
        },
    )
}

/// Starts `n` plain workers (not named), many `init`s in flight at once.
pub async fn start_workers(rt: &Runtime, n: usize) -> Vec<ProcessRef> {
    let mut out = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let batch = left.min(1024);
        let started =
            futures_util::future::join_all((0..batch).map(|_| rt.start(Worker::plain()))).await;
        out.extend(
            started
                .into_iter()
                .filter_map(|s| s.ok().map(|s| s.process().clone())),
        );
        left -= batch;
    }
    out
}

/// Names `0..n` as integer ids, built once so that lookups do not build names.
pub fn id_names(n: usize) -> Vec<Name> {
    (0..n as u64).map(Name::Id).collect()
}

/// Registers `names[i]` for `workers[i]`; the first error, as text, if any.
pub async fn register_all<N: Naming>(
    naming: &N,
    names: &[Name],
    workers: &[ProcessRef],
) -> Result<(), String> {
    for (name, w) in names.iter().zip(workers) {
        naming
            .register(name.clone(), w)
            .await
            .map_err(|e| format!("register: {e}"))?;
    }
    Ok(())
}

/// Kills every process and waits until each has exited.
pub async fn kill_all(workers: &[ProcessRef]) {
    for w in workers {
        w.kill();
    }
    for w in workers {
        w.exited().await;
    }
}

/// Polls `check` (yielding between tries) until it holds or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = naming_strategies::runtime::deadline_after(limit);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// A multi-threaded tokio runtime with `threads` workers.
pub fn tokio_runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

/// Runs `fut` on a worker thread of `rt` (not on the blocked caller), like a client process.
pub fn run_on<F>(rt: &tokio::runtime::Runtime, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(fut).await.expect("workload task panicked") })
}

/// SplitMix64: a small, fast, deterministic generator (Steele, Lea, Flood 2014).
#[derive(Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How keys are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDist {
    /// Every name equally likely.
    Uniform,
    /// Zipf with exponent 1.0: name rank `r` has weight `1/r`.
    Zipf,
}

impl KeyDist {
    /// The label in params.
    pub fn label(self) -> &'static str {
        match self {
            KeyDist::Uniform => "uniform",
            KeyDist::Zipf => "zipf",
        }
    }

    /// `count` indices into `0..n`, drawn with this distribution from `seed`.
    pub fn sample(self, n: usize, count: usize, seed: u64) -> Vec<u32> {
        let mut rng = SplitMix64::new(seed);
        match self {
            KeyDist::Uniform => (0..count).map(|_| rng.below(n) as u32).collect(),
            KeyDist::Zipf => {
                let mut cdf = Vec::with_capacity(n);
                let mut acc = 0.0;
                for r in 1..=n {
                    acc += 1.0 / r as f64;
                    cdf.push(acc);
                }
                // Scatter ranks over ids so hot keys are not neighbours in any table.
                let scatter =
                    |rank: usize| ((rank as u64).wrapping_mul(0x9E37_79B9) % n as u64) as u32;
                (0..count)
                    .map(|_| {
                        let u = rng.unit() * acc;
                        scatter(cdf.partition_point(|&c| c < u).min(n - 1))
                    })
                    .collect()
            }
        }
    }
}

/// Median, minimum and maximum of some samples.
pub fn spread(samples: &mut [f64]) -> (f64, f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let mid = samples.len() / 2;
    let median = if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    };
    (median, samples[0], samples[samples.len() - 1])
}

/// A latency histogram in nanoseconds, 1 ns to 60 s, 3 significant digits.
pub fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

/// The pids of `workers`.
pub fn pids(workers: &[ProcessRef]) -> Vec<Pid> {
    workers.iter().map(|w| w.pid()).collect()
}

/// Makes `contender`'s backend for about `names` names on `tokio`, or the skip row of
/// `workload` at `params` that says why it cannot (boxed: rows are large beside a backend
/// handle): the opening every workload shares.
pub fn make_or_skip<C: Contender>(
    workload: &Workload,
    contender: &C,
    tokio: &tokio::runtime::Runtime,
    rt: &Runtime,
    names: usize,
    params: &Params,
) -> Result<C::N, Box<Row>> {
    tokio
        .block_on(contender.make(rt, names))
        .map_err(|reason| Box::new(workload.skip(contender.label(), params, &reason)))
}

/// A backend with `workers[i]` found under `names[i]`.
pub struct Adopted<N> {
    /// The backend.
    pub naming: N,
    /// The named workers.
    pub workers: Vec<ProcessRef>,
    /// Their names, ids `0..n`.
    pub names: Arc<Vec<Name>>,
}

/// Starts `n` workers that `naming` finds under ids `0..n` ([`Contender::start_found`]);
/// if it cannot, returns the skip row of `workload`
/// at `params` with the reason.
pub async fn adopt_workers<C: Contender>(
    workload: &Workload,
    label: &str,
    naming: C::N,
    rt: &Runtime,
    n: usize,
    params: &Params,
) -> Result<Adopted<C::N>, Box<Row>> {
    let names = Arc::new(id_names(n));
    match C::start_found(naming, rt, &names).await {
        Ok((naming, workers)) => Ok(Adopted {
            naming,
            workers,
            names,
        }),
        Err(reason) => Err(Box::new(workload.skip(label, params, &reason))),
    }
}

/// Gauge `atom_count` of the dynamic-atom backend: atoms in its never-collected table.
pub const ATOM_COUNT: Metric = Metric::new(
    "atom_count",
    "atoms in the atom table",
    Unit::Count,
    Better::Lower,
)
.leaks_if_grows_along("phase");
/// Gauge `atom_bytes` of the dynamic-atom backend: bytes its atom table holds.
pub const ATOM_BYTES: Metric = Metric::new(
    "atom_bytes",
    "bytes held by the atom table",
    Unit::Bytes,
    Better::Lower,
);
/// Gauge `stale_lookups` of the monitor registry: lookups answered with a dead pid.
pub const STALE_LOOKUPS: Metric = Metric::new(
    "stale_lookups",
    "lookups answered with a dead pid",
    Unit::Count,
    Better::Lower,
);
/// Gauge `tracked_processes` of gproc: processes its server monitors.
pub const TRACKED_PROCESSES: Metric = Metric::new(
    "tracked_processes",
    "processes gproc monitors",
    Unit::Count,
    Better::Neither,
);
/// Gauge `awaiting` of gproc: callers waiting for a name to be registered.
pub const AWAITING: Metric = Metric::new(
    "awaiting",
    "callers awaiting a name",
    Unit::Count,
    Better::Neither,
);

/// A counted heap reading as a row of `metric`; below zero (frees of allocations made
/// outside the counted window landed in it) a skip row saying so, at `params` plus
/// `(key, metric.name)`: a measurement error is never a figure.
pub fn heap_row(
    workload: &Workload,
    label: &str,
    params: &Params,
    key: &str,
    metric: &Metric,
    bytes: isize,
) -> Row {
    if bytes < 0 {
        workload.skip(
            label,
            &params.clone().with(key, metric.name),
            &format!(
                "measurement error: {} below zero ({bytes} bytes)",
                metric.title
            ),
        )
    } else {
        workload.row(label, params, metric, bytes as f64)
    }
}

/// The rows of a backend's own gauges ([`Naming::gauges`]), each through the metric
/// `workload` declares under the gauge's name. A gauge the workload does not declare is a
/// bug (a backend grew a gauge): it fails debug builds and the workload tests, and is left
/// out of release runs rather than written undeclared.
pub fn gauge_rows(
    workload: &Workload,
    label: &str,
    params: &Params,
    gauges: Vec<(&'static str, f64)>,
) -> Vec<Row> {
    gauges
        .into_iter()
        .filter_map(|(name, v)| {
            let metric = workload.metric(name);
            debug_assert!(
                metric.is_some(),
                "{}: gauge {name} of {label} is not declared",
                workload.name
            );
            metric.map(|m| workload.row(label, params, m, v))
        })
        .collect()
}

/// The rows of several in-process rounds of one measurement as one row per point, with the
/// median of the rounds' values: a one-shot timing (registering a thousand names takes well
/// under a millisecond) is repeated so that one slow moment of a shared host does not become
/// the figure. Each row keeps the range (min..max) of its rounds as its interval, so a
/// figure is drawn and judged with the spread behind it. A point skipped in any round stays
/// a skip (its first reason): a failure is a finding, not an outlier.
pub fn median_of_rounds(rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let key = |r: &Row| (r.backend.clone(), r.params.to_string(), r.metric.clone());
    let all: Vec<Row> = rounds.into_iter().flatten().collect();
    let skipped: std::collections::HashSet<_> =
        all.iter().filter(|r| r.is_skip()).map(key).collect();
    let (skips, measured): (Vec<Row>, Vec<Row>) = all.into_iter().partition(|r| r.is_skip());
    let mut out: Vec<Row> = naming_schema::row::aggregate(
        measured
            .into_iter()
            .filter(|r| !skipped.contains(&key(r)))
            .collect(),
    );
    let mut seen = std::collections::HashSet::new();
    out.extend(skips.into_iter().filter(|r| seen.insert(key(r))));
    out
}

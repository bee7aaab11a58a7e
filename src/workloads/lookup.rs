//! lookup: `whereis` throughput alone, against the raw `get` of the storage map (the floor).

use std::sync::Arc;

use naming_schema::{
    Better, Chart, Column, Extreme, Filter, Judge, Line, Metric, Params, Pick, Row, Situation,
    Subject, Sweep, Unit, Workload,
};
use naming_strategies::runtime::{Name, Runtime};
use naming_strategies::{DashMapTable, NameTable, Naming};

use super::clients::{
    elapsed, run_clients, until_overlapping, ClientRun, ClientsError, NoOverlap, EXTRA_ATTEMPTS,
    MIN_OVERLAP,
};
use super::common::{
    adopt_workers, kill_all, make_or_skip, run_on, spread, tokio_runtime, KeyDist,
};
use super::Progress;
use crate::contenders::{self, Contender, FloorTable, TableVisitor};

/// Lookups per second, all clients together: the median of the repeats, with the slowest
/// and the fastest repeat as its interval.
pub const OPS_PER_SEC: Metric = Metric::new(
    "ops_per_sec",
    "lookup throughput",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Nanoseconds per lookup as one client sees it (clients / median ops/s; its interval from
/// the fastest and the slowest repeat).
pub const NS_PER_OP: Metric = Metric::new("ns_per_op", "time per lookup", Unit::Ns, Better::Lower);
/// The floor's ops/s over the backend's (its cost over the raw `get` of its own table,
/// measured beside it): 1.0 is no naming cost at all, so that is its ideal.
pub const COST_VS_FLOOR: Metric = Metric::new(
    "cost_vs_floor",
    "lookup cost over the raw get",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// The backend's ops/s over its floor's, measured beside it: at best 1.0.
pub const OPS_VS_FLOOR: Metric = Metric::new(
    "ops_vs_floor",
    "lookup throughput over the raw get",
    Unit::Ratio,
    Better::Higher,
)
.with_ideal(1.0);
/// The fraction of a measurement during which every client was running (see
/// [`overlap`](super::clients::overlap)), median over the repeats of the measurements kept:
/// below 1.0 some clients ran alone, so 1.0 is its ideal.
pub const OVERLAP: Metric = Metric::new(
    "overlap",
    "time all clients ran together",
    Unit::Fraction,
    Better::Higher,
)
.with_ideal(1.0);
/// Measurements thrown away, over all repeats of a point, because their clients
/// overlapped less than [`MIN_OVERLAP`].
pub const DISCARDED_RUNS: Metric = Metric::new(
    "discarded_runs",
    "measurements discarded for too little overlap",
    Unit::Count,
    Better::Lower,
);

/// The lookup workload: `whereis` throughput at several sizes, key distributions and
/// client counts, each backend beside the raw `get` of its own storage table.
pub const LOOKUP: Workload = Workload {
    metrics: &[
        &OPS_PER_SEC,
        &NS_PER_OP,
        &COST_VS_FLOOR,
        &OPS_VS_FLOOR,
        &OVERLAP,
        &DISCARDED_RUNS,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "What the naming layer costs: a backend's time per lookup over the raw `get` of its own storage table, measured beside it on the same keys (uniform), against the number of registered names; whiskers: range over repeats. 1.0 is no cost over the bare map.",
            x_desc: "registered names N (count)",
            y_desc: "time per lookup / raw get (ratio)",
            split_by: &["clients"],
            filter: Filter::Is("keys", "uniform"),
            refs: &[("raw get 1.0", 1.0)],
            pick: Pick::EndsOf("clients"),
            ..Sweep::new(
                "lookup-vs-floor",
                "Lookup cost over the raw table get",
                "names",
                &[Line::solid(&COST_VS_FLOOR)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "`whereis` throughput, median of runs with min..max whiskers, in lookups per second (ops/s) against the number of registered names; dashed: the raw `get` of the backend's own table (the floor).",
            x_desc: "registered names N (count)",
            y_desc: "lookups per second (ops/s)",
            split_by: &["keys", "clients"],
            floors: true,
            pick: Pick::EndsOf("clients"),
            ..Sweep::new(
                "lookup-ops",
                "Lookup throughput vs registered names",
                "names",
                &[Line::solid(&OPS_PER_SEC)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Lookup throughput (ops/s) against the number of concurrent clients, at the largest name count, uniform keys; dashed: floors.",
            x_desc: "concurrent clients (OS threads)",
            y_desc: "lookups per second (ops/s)",
            split_by: &["names", "keys"],
            filter: Filter::Is("keys", "uniform"),
            floors: true,
            min_x: 2,
            pick: Pick::Largest,
            ..Sweep::new(
                "lookup-threads",
                "Lookup thread scaling",
                "clients",
                &[Line::solid(&OPS_PER_SEC)],
            )
        }),
    ],
    columns: &[
        Column::new(&OPS_PER_SEC, "lookup"),
        Column::new(&OPS_VS_FLOOR, "lookup vs raw get"),
    ],
    judges: &[Judge {
        situation: Situation::FewFixedServices,
        rank: 0,
        metric: &OPS_PER_SEC,
        at: ("names", Extreme::Min),
        prefer: &[("keys", "uniform")],
        tiebreak: None,
    }],
    ..Workload::new(
        "lookup",
        "Lookup",
        "Workers registered under integer ids; clients, each an OS thread with its own current-thread tokio runtime, are released together by a barrier and call `whereis` on keys drawn uniformly or Zipf-distributed; the backend's storage table's raw `get` is measured beside it, repeat by repeat, on the same processes and keys. Every client looks up until one deadline shared by all (25 ms after the first started in quick mode, 100 ms in full) and times itself; throughput is all lookups over the first start to the last end. Repeats (6) go round-robin over a process's points, so a slow spell of the host costs a point one repeat rather than all. A measurement is kept only if all clients ran together for at least 80% of that span (up to 5 retries, else the point is skipped, never reported).",
        Subject::NamingBackends,
    )
};

/// What the lookup workload measures.
#[derive(Clone, Debug)]
pub struct LookupSpec {
    /// Numbers of registered names.
    pub sizes: Vec<usize>,
    /// Key distributions.
    pub dists: Vec<KeyDist>,
    /// Numbers of concurrent clients (each an OS thread with its own tokio runtime).
    pub clients: Vec<usize>,
    /// Length of the key sequence the clients cycle through (`ns_per_op` is per lookup as
    /// one client sees it).
    pub ops_per_client: usize,
    /// How long one measurement runs: every client looks up until the same deadline, this
    /// long after the first one started, so clients overlap and a backend whose lookup is a
    /// call to another thread (a registry process) takes as long as any other.
    pub max_client_time: std::time::Duration,
    /// Repeats per point (the spread is their min and max).
    pub repeats: usize,
}

impl LookupSpec {
    /// The full run.
    pub fn full(clients: Vec<usize>) -> Self {
        LookupSpec {
            sizes: vec![100, 10_000, 100_000, 1_000_000],
            dists: vec![KeyDist::Uniform, KeyDist::Zipf],
            clients,
            ops_per_client: 150_000,
            max_client_time: std::time::Duration::from_millis(100),
            repeats: 6,
        }
    }

    /// The quick run.
    pub fn quick(clients: Vec<usize>) -> Self {
        LookupSpec {
            sizes: vec![100, 1_000, 10_000],
            dists: vec![KeyDist::Uniform, KeyDist::Zipf],
            clients,
            ops_per_client: 100_000,
            max_client_time: std::time::Duration::from_millis(25),
            repeats: 6,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        LookupSpec {
            sizes: vec![50],
            dists: vec![KeyDist::Zipf],
            clients: vec![1, 2],
            // Long enough that waking two threads from the barrier takes a small part of
            // the run, so two clients can overlap even in a debug build.
            ops_per_client: 20_000,
            max_client_time: std::time::Duration::from_millis(50),
            repeats: 1,
        }
    }

    /// Steps for progress.
    pub fn steps(&self) -> u64 {
        self.sizes.len() as u64
    }
}

/// Something looked up by name, by many clients at once (also a foreign system's lookup,
/// see [`foreign::drive`](crate::foreign::drive)).
pub(crate) trait Lookup: Clone + Send + Sync + 'static {
    fn find(&self, name: &Name) -> impl std::future::Future<Output = bool> + Send;
}

#[derive(Clone)]
struct ViaNaming<N>(N);

impl<N: Naming> Lookup for ViaNaming<N> {
    async fn find(&self, name: &Name) -> bool {
        self.0.whereis(name).await.is_some()
    }
}

struct RawTable<T>(Arc<T>);

impl<T> Clone for RawTable<T> {
    fn clone(&self) -> Self {
        RawTable(Arc::clone(&self.0))
    }
}

impl<T: NameTable> Lookup for RawTable<T> {
    async fn find(&self, name: &Name) -> bool {
        self.0.get(name).is_some()
    }
}

/// One kept measurement: ops/s of all clients together (`None` if a lookup missed), how
/// much the clients overlapped, and how many attempts were thrown away before it.
struct Measured {
    ops: Option<f64>,
    overlap: f64,
    discarded: usize,
}

/// `clients` OS-thread clients ([`run_clients`]) looking up keys from the key sequence
/// (each from its own offset, cycling) until one shared deadline, `max_time` after the
/// first client started: they all stop together, so only the spread of their starts keeps
/// them from overlapping completely.
fn attempt<L: Lookup>(
    target: &L,
    names: &[Name],
    keys: &[u32],
    clients: usize,
    max_time: std::time::Duration,
) -> Result<Vec<ClientRun<(bool, usize)>>, ClientsError> {
    let deadline = std::sync::OnceLock::new();
    let deadline = &deadline;
    run_clients(clients, |c| async move {
        let (mut found, mut done) = (0usize, 0usize);
        let offset = c * keys.len() / clients.max(1);
        let stop = *deadline.get_or_init(|| naming_strategies::runtime::deadline_after(max_time));
        for i in 0.. {
            if i % 256 == 0 && std::time::Instant::now() >= stop {
                break;
            }
            let k = keys[(i + offset) % keys.len()] as usize;
            found += target.find(&names[k]).await as usize;
            done += 1;
        }
        (found == done, done)
    })
}

/// A measurement of `target` whose clients overlapped by at least [`MIN_OVERLAP`], retried
/// up to [`EXTRA_ATTEMPTS`] times. Throughput is all lookups over the span from the first
/// client's start to the last client's end, each taken by the client itself.
fn measure<L: Lookup>(
    target: &L,
    names: &[Name],
    keys: &[u32],
    clients: usize,
    max_time: std::time::Duration,
) -> Result<Measured, Unmeasured> {
    let mut refused = None;
    let kept = until_overlapping(MIN_OVERLAP, EXTRA_ATTEMPTS, || {
        attempt(target, names, keys, clients, max_time).unwrap_or_else(|e| {
            refused = Some(e);
            Vec::new()
        })
    })
    .map_err(Unmeasured::NoOverlap)?;
    if let Some(e) = refused {
        return Err(Unmeasured::Clients(e.to_string()));
    }
    let secs = elapsed(&kept.runs).as_secs_f64();
    let all_found = kept.runs.iter().all(|r| r.result.0);
    let done: usize = kept.runs.iter().map(|r| r.result.1).sum();
    Ok(Measured {
        ops: (all_found && secs > 0.0).then(|| done as f64 / secs),
        overlap: kept.overlap,
        discarded: kept.discarded,
    })
}

/// Why a measurement kept nothing.
enum Unmeasured {
    /// The clients never ran together enough.
    NoOverlap(NoOverlap),
    /// The clients could not be started (threads refused).
    Clients(String),
}

/// The samples of one backend at one point, repeat by repeat.
#[derive(Default)]
struct Samples {
    ops: Vec<f64>,
    overlaps: Vec<f64>,
    discarded: usize,
    missed: bool,
    no_overlap: Option<NoOverlap>,
    no_clients: Option<String>,
}

impl Samples {
    fn add(&mut self, m: Result<Measured, Unmeasured>) {
        match m {
            Ok(m) => {
                self.discarded += m.discarded;
                self.overlaps.push(m.overlap);
                match m.ops {
                    Some(ops) => self.ops.push(ops),
                    None => self.missed = true,
                }
            }
            Err(Unmeasured::NoOverlap(e)) => {
                self.discarded += e.attempts;
                self.no_overlap = Some(e);
            }
            Err(Unmeasured::Clients(e)) => self.no_clients = Some(e),
        }
    }

    /// Why this point has no number, if it has none.
    fn skip_reason(&self) -> Option<String> {
        if let Some(e) = &self.no_clients {
            Some(e.clone())
        } else if self.missed {
            Some("a registered name was not found".to_string())
        } else if let Some(e) = &self.no_overlap {
            Some(e.to_string())
        } else if self.ops.is_empty() {
            Some("no measurement".to_string())
        } else {
            None
        }
    }
}

/// Measures `target` (and, interleaved repeat by repeat, `floor` on the same processes and
/// keys) at every distribution and client count, so that the two are compared under the
/// same conditions. The repeats go round-robin over all the points (one repeat of every
/// point, then the next), so each point's repeats are spread over the whole measurement
/// rather than taken back to back: on a shared machine, a slow spell of the host (they last
/// a few hundred milliseconds) then costs a point one repeat, not all of them. Runs on the
/// caller's thread, outside any tokio runtime: the clients are threads of their own.
pub(crate) fn measure_all<L: Lookup, F: Lookup>(
    label: &str,
    target: &L,
    floor: Option<(&'static str, &F)>,
    names: &[Name],
    size: usize,
    spec: &LookupSpec,
) -> Vec<Row> {
    struct Point {
        params: Params,
        keys: Vec<u32>,
        clients: usize,
        target: Samples,
        floor: Samples,
    }
    let mut points = Vec::new();
    for dist in &spec.dists {
        let keys = dist.sample(size, spec.ops_per_client, 0xC0FFEE + size as u64);
        for &clients in &spec.clients {
            points.push(Point {
                params: Params::new()
                    .with("names", size)
                    .with("keys", dist.label())
                    .with("clients", clients),
                keys: keys.clone(),
                clients,
                target: Samples::default(),
                floor: Samples::default(),
            });
        }
    }
    let cap = spec.max_client_time;
    // One untimed warm-up pass each, then the repeats, round-robin, target and floor
    // alternating within each.
    for pt in &points {
        let _ = attempt(target, names, &pt.keys, pt.clients, cap);
        if let Some((_, f)) = floor {
            let _ = attempt(f, names, &pt.keys, pt.clients, cap);
        }
    }
    for _ in 0..spec.repeats {
        for pt in &mut points {
            pt.target
                .add(measure(target, names, &pt.keys, pt.clients, cap));
            if let Some((_, f)) = floor {
                pt.floor.add(measure(f, names, &pt.keys, pt.clients, cap));
            }
        }
    }
    let mut rows = Vec::new();
    for mut pt in points {
        let clients = pt.clients;
        let mut push = |who: &str, s: &mut Samples, p: &Params| {
            if let Some(reason) = s.skip_reason() {
                rows.push(LOOKUP.skip(who, p, &reason));
                return None;
            }
            let (median, min, max) = spread(&mut s.ops);
            let n = s.ops.len() as u32;
            // The figure is the median of the repeats; the slowest and the fastest repeat
            // are its interval, as drawn and as the guide judges ties.
            let ns = |ops: f64| 1e9 * clients as f64 / ops;
            rows.push(LOOKUP.row(who, p, &OPS_PER_SEC, median).over(n, (min, max)));
            rows.push(
                LOOKUP
                    .row(who, p, &NS_PER_OP, ns(median))
                    .over(n, (ns(max), ns(min))),
            );
            rows.push(LOOKUP.row(who, p, &OVERLAP, spread(&mut s.overlaps).0));
            rows.push(LOOKUP.row(who, p, &DISCARDED_RUNS, s.discarded as f64));
            Some(median)
        };
        let p = pt.params.clone();
        let target_ops = push(label, &mut pt.target, &p);
        if let Some((floor_label, _)) = floor {
            // The floor of this backend, measured beside it: `of=` names the backend.
            let fp = p.clone().with("of", label);
            let floor_ops = push(floor_label, &mut pt.floor, &fp);
            if let (Some(target_ops), Some(floor_ops)) = (target_ops, floor_ops) {
                rows.push(LOOKUP.row(label, &p, &COST_VS_FLOOR, floor_ops / target_ops));
                if floor_ops > 0.0 {
                    rows.push(LOOKUP.row(label, &p, &OPS_VS_FLOOR, target_ops / floor_ops));
                }
            }
        }
    }
    rows
}

/// Registers `size` workers under ids and measures `whereis` throughput; where the backend
/// declares a floor (its storage table's raw `get`), that table is measured beside it.
pub fn lookup<C: Contender>(contender: &C, spec: &LookupSpec, progress: &dyn Progress) -> Vec<Row> {
    struct WithFloor<'a, C> {
        contender: &'a C,
        spec: &'a LookupSpec,
        progress: &'a dyn Progress,
        rows: Option<Vec<Row>>,
    }
    impl<C: Contender> TableVisitor for WithFloor<'_, C> {
        fn visit<T: FloorTable>(&mut self) {
            if self.rows.is_none() && self.contender.identity().floor == Some(T::FLOOR.label) {
                self.rows = Some(lookup_paired::<C, T>(
                    self.contender,
                    self.spec,
                    self.progress,
                    true,
                ));
            }
        }
    }
    let mut v = WithFloor {
        contender,
        spec,
        progress,
        rows: None,
    };
    contenders::for_each_table(&mut v);
    match v.rows {
        Some(rows) => rows,
        None => lookup_paired::<C, DashMapTable>(contender, spec, progress, false),
    }
}

fn lookup_paired<C: Contender, T: FloorTable>(
    contender: &C,
    spec: &LookupSpec,
    progress: &dyn Progress,
    with_floor: bool,
) -> Vec<Row> {
    let label = contender.label();
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let mut rows = Vec::new();
    for &size in &spec.sizes {
        progress.step(&format!("lookup {label} names={size}"));
        // The backend's own processes run here; the clients are threads of their own.
        let rt_tokio = tokio_runtime(threads);
        let rt = Runtime::new();
        let p = Params::new().with("names", size);
        let naming = match make_or_skip(&LOOKUP, contender, &rt_tokio, &rt, size, &p) {
            Ok(n) => n,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        let rt2 = rt.clone();
        let opened = match run_on(&rt_tokio, async move {
            adopt_workers::<C>(&LOOKUP, label, naming, &rt2, size, &p).await
        }) {
            Ok(o) => o,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        let floor = with_floor.then(|| {
            let table = T::with_capacity(size);
            for (n, w) in opened.names.iter().zip(&opened.workers) {
                let _ = table.insert_new(n.clone(), w.clone());
            }
            RawTable(Arc::new(table))
        });
        let target = ViaNaming(opened.naming);
        rows.extend(measure_all(
            label,
            &target,
            floor.as_ref().map(|f| (T::FLOOR.label, f)),
            &opened.names,
            size,
            spec,
        ));
        let workers = opened.workers;
        run_on(&rt_tokio, async move {
            kill_all(&workers).await;
            // The backend's handle goes with its processes, inside the runtime.
            drop(target);
        });
    }
    rows
}

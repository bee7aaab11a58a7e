//! lookup: `whereis` throughput alone, against the raw `get` of the storage map (the floor).

use std::sync::Arc;
use std::time::Instant;

use naming_schema::{
    Better, Chart, Column, Extreme, Judge, Line, Metric, Params, Pick, Row, Situation, Subject,
    Sweep, Unit, Workload,
};
use naming_strategies::runtime::{Name, Runtime};
use naming_strategies::{DashMapTable, NameTable, Naming};
use tokio::sync::Barrier;

use super::common::{
    adopt_workers, kill_all, make_or_skip, run_on, spread, tokio_runtime, KeyDist,
};
use super::Progress;
use crate::contenders::{self, Contender, FloorTable, TableVisitor};

/// Lookups per second, all clients together: the median of the repeats.
pub const OPS_PER_SEC: Metric = Metric::new(
    "ops_per_sec",
    "lookup throughput",
    Unit::OpsPerSec,
    Better::Higher,
);
/// The slowest repeat's lookups per second (the lower whisker).
pub const OPS_PER_SEC_MIN: Metric = Metric::new(
    "ops_per_sec_min",
    "lookup throughput, slowest repeat",
    Unit::OpsPerSec,
    Better::Higher,
);
/// The fastest repeat's lookups per second (the upper whisker).
pub const OPS_PER_SEC_MAX: Metric = Metric::new(
    "ops_per_sec_max",
    "lookup throughput, fastest repeat",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Nanoseconds per lookup as one client sees it (clients / median ops/s).
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

/// The lookup workload: `whereis` throughput at several sizes, key distributions and
/// client counts, each backend beside the raw `get` of its own storage table.
pub const LOOKUP: Workload = Workload {
    metrics: &[
        &OPS_PER_SEC,
        &OPS_PER_SEC_MIN,
        &OPS_PER_SEC_MAX,
        &NS_PER_OP,
        &COST_VS_FLOOR,
        &OPS_VS_FLOOR,
    ],
    charts: &[
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
                &[Line::solid(&OPS_PER_SEC).with_whisker(&OPS_PER_SEC_MIN, &OPS_PER_SEC_MAX)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Lookup throughput (ops/s) against the number of concurrent clients, at the largest name count; dashed: floors.",
            x_desc: "concurrent clients (tasks)",
            y_desc: "lookups per second (ops/s)",
            split_by: &["names", "keys"],
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
        "Workers registered under integer ids; client tasks (one per worker thread) call `whereis` on keys drawn uniformly or Zipf-distributed, and the backend's storage table's raw `get` is measured beside it, repeat by repeat, on the same processes and keys.",
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
    /// Numbers of concurrent client tasks (each on its own worker thread).
    pub clients: Vec<usize>,
    /// Lookups per client per repeat (`ns_per_op` is per lookup as one client sees it).
    pub ops_per_client: usize,
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
            ops_per_client: 300_000,
            repeats: 3,
        }
    }

    /// The quick run.
    pub fn quick(clients: Vec<usize>) -> Self {
        LookupSpec {
            sizes: vec![100, 10_000],
            dists: vec![KeyDist::Uniform, KeyDist::Zipf],
            clients,
            ops_per_client: 200_000,
            repeats: 3,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        LookupSpec {
            sizes: vec![50],
            dists: vec![KeyDist::Zipf],
            clients: vec![1, 2],
            ops_per_client: 2_000,
            repeats: 1,
        }
    }

    /// Steps for progress.
    pub fn steps(&self) -> u64 {
        self.sizes.len() as u64
    }
}

/// Something looked up by name, by many clients at once.
trait Lookup: Clone + Send + Sync + 'static {
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

/// ops/s of `clients` tasks each doing `keys.len()` lookups; `None` if a lookup missed.
async fn measure<L: Lookup>(
    target: &L,
    names: &Arc<Vec<Name>>,
    keys: &Arc<Vec<u32>>,
    clients: usize,
) -> Option<f64> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (target, names, keys, barrier) =
                (target.clone(), names.clone(), keys.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let start = Instant::now();
                let mut found = 0usize;
                // Each client walks the key sequence from its own offset.
                let offset = c * keys.len() / clients.max(1);
                for i in 0..keys.len() {
                    let k = keys[(i + offset) % keys.len()] as usize;
                    found += target.find(&names[k]).await as usize;
                }
                (start, Instant::now(), found == keys.len())
            })
        })
        .collect();
    barrier.wait().await;
    // The clock runs from the first client's start to the last client's end, each taken
    // by the client itself (the coordinator may be descheduled meanwhile).
    let mut all_found = true;
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for t in tasks {
        match t.await {
            Ok((s, e, ok)) => {
                all_found &= ok;
                first = Some(first.map_or(s, |f| f.min(s)));
                last = Some(last.map_or(e, |l| l.max(e)));
            }
            Err(_) => all_found = false,
        }
    }
    let secs = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => return None,
    };
    all_found.then(|| (clients * keys.len()) as f64 / secs)
}

/// Measures `target` (and, interleaved repeat by repeat, `floor` on the same processes and
/// keys) at every distribution and client count, so that the two are compared under the
/// same conditions.
async fn measure_all<L: Lookup, F: Lookup>(
    label: &str,
    target: L,
    floor: Option<(&'static str, F)>,
    names: Arc<Vec<Name>>,
    size: usize,
    spec: &LookupSpec,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for dist in &spec.dists {
        let keys = Arc::new(dist.sample(size, spec.ops_per_client, 0xC0FFEE + size as u64));
        for &clients in &spec.clients {
            let p = Params::new()
                .with("names", size)
                .with("keys", dist.label())
                .with("clients", clients);
            let (mut samples, mut floor_samples) = (Vec::new(), Vec::new());
            let mut missed = false;
            // One untimed warm-up pass each, then the repeats, alternating.
            let _ = measure(&target, &names, &keys, clients).await;
            if let Some((_, f)) = &floor {
                let _ = measure(f, &names, &keys, clients).await;
            }
            for _ in 0..spec.repeats {
                match measure(&target, &names, &keys, clients).await {
                    Some(ops) => samples.push(ops),
                    None => missed = true,
                }
                if let Some((_, f)) = &floor {
                    if let Some(ops) = measure(f, &names, &keys, clients).await {
                        floor_samples.push(ops);
                    }
                }
            }
            if missed {
                rows.push(LOOKUP.skip(label, &p, "a registered name was not found"));
                continue;
            }
            let mut push = |who: &str, samples: &mut Vec<f64>, p: &Params| {
                let (median, min, max) = spread(samples);
                rows.push(LOOKUP.row(who, p, &OPS_PER_SEC, median));
                rows.push(LOOKUP.row(who, p, &OPS_PER_SEC_MIN, min));
                rows.push(LOOKUP.row(who, p, &OPS_PER_SEC_MAX, max));
                rows.push(LOOKUP.row(who, p, &NS_PER_OP, 1e9 * clients as f64 / median));
                median
            };
            let target_ops = push(label, &mut samples, &p);
            if let Some((floor_label, _)) = &floor {
                if !floor_samples.is_empty() {
                    // The floor of this backend, measured beside it: `of=` names the backend.
                    let fp = p.clone().with("of", label);
                    let floor_ops = push(floor_label, &mut floor_samples, &fp);
                    rows.push(LOOKUP.row(label, &p, &COST_VS_FLOOR, floor_ops / target_ops));
                    if floor_ops > 0.0 {
                        rows.push(LOOKUP.row(label, &p, &OPS_VS_FLOOR, target_ops / floor_ops));
                    }
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
        let rt_tokio = tokio_runtime(threads);
        let spec2 = spec.clone();
        let rt = Runtime::new();
        let p = Params::new().with("names", size);
        let naming = match make_or_skip(&LOOKUP, contender, &rt_tokio, &rt, size, &p) {
            Ok(n) => n,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        rows.extend(run_on(&rt_tokio, async move {
            let opened = match adopt_workers::<C>(&LOOKUP, label, naming, &rt, size, &p).await {
                Ok(o) => o,
                Err(skip) => return vec![*skip],
            };
            let floor = with_floor.then(|| {
                let table = T::with_capacity(size);
                for (n, w) in opened.names.iter().zip(&opened.workers) {
                    let _ = table.insert_new(n.clone(), w.clone());
                }
                (T::FLOOR.label, RawTable(Arc::new(table)))
            });
            let rows = measure_all(
                label,
                ViaNaming(opened.naming),
                floor,
                opened.names,
                size,
                &spec2,
            )
            .await;
            kill_all(&opened.workers).await;
            rows
        }));
    }
    rows
}

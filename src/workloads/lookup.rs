//! lookup: `whereis` throughput alone, against the raw `get` of the storage map (the floor).

use std::sync::Arc;
use std::time::Instant;

use naming_strategies::runtime::{Name, Runtime};
use naming_strategies::{DashMapTable, NameTable, Naming};
use tokio::sync::Barrier;

use super::common::{
    id_names, kill_all, params, run_on, spread, start_workers, tokio_runtime, KeyDist,
};
use super::Progress;
use crate::contenders::{self, Contender, TableVisitor};
use crate::results::Row;

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
    floor: Option<(String, F)>,
    names: Arc<Vec<Name>>,
    size: usize,
    spec: &LookupSpec,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for dist in &spec.dists {
        let keys = Arc::new(dist.sample(size, spec.ops_per_client, 0xC0FFEE + size as u64));
        for &clients in &spec.clients {
            let p = params(&[
                ("names", size.to_string()),
                ("keys", dist.label().to_string()),
                ("clients", clients.to_string()),
            ]);
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
                rows.push(Row::skipped(
                    label,
                    "lookup",
                    &p,
                    "a registered name was not found",
                ));
                continue;
            }
            let mut push = |who: &str, samples: &mut Vec<f64>, p: &str| {
                let (median, min, max) = spread(samples);
                rows.push(Row::new(who, "lookup", p, "ops_per_sec", median, "ops/s"));
                rows.push(Row::new(who, "lookup", p, "ops_per_sec_min", min, "ops/s"));
                rows.push(Row::new(who, "lookup", p, "ops_per_sec_max", max, "ops/s"));
                rows.push(Row::new(
                    who,
                    "lookup",
                    p,
                    "ns_per_op",
                    1e9 * clients as f64 / median,
                    "ns",
                ));
            };
            push(label, &mut samples, &p);
            if let Some((floor_label, _)) = &floor {
                if !floor_samples.is_empty() {
                    let (target_ops, _, _) = spread(&mut samples);
                    let (floor_ops, _, _) = spread(&mut floor_samples);
                    // The floor of this backend, measured beside it: `of=` names the backend.
                    let fp = format!("{p};of={label}");
                    push(floor_label, &mut floor_samples, &fp);
                    rows.push(Row::new(
                        label,
                        "lookup",
                        &p,
                        "cost_vs_floor",
                        floor_ops / target_ops,
                        "ratio",
                    ));
                }
            }
        }
    }
    rows
}

/// Registers `size` workers under ids and measures `whereis` throughput; where the backend
/// names a storage map (`Contender::floor`), that map's raw `get` is measured beside it.
pub fn lookup<C: Contender>(contender: &C, spec: &LookupSpec, progress: &dyn Progress) -> Vec<Row> {
    struct WithFloor<'a, C> {
        contender: &'a C,
        spec: &'a LookupSpec,
        progress: &'a dyn Progress,
        rows: Option<Vec<Row>>,
    }
    impl<C: Contender> TableVisitor for WithFloor<'_, C> {
        fn visit<T: NameTable>(&mut self) {
            if self.rows.is_none() && self.contender.floor() == Some(T::LABEL) {
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

fn lookup_paired<C: Contender, T: NameTable>(
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
        let naming = match rt_tokio.block_on(contender.make(&rt, size)) {
            Ok(n) => n,
            Err(reason) => {
                rows.push(Row::skipped(
                    label,
                    "lookup",
                    &params(&[("names", size.to_string())]),
                    &reason,
                ));
                continue;
            }
        };
        rows.extend(run_on(&rt_tokio, async move {
            let workers = start_workers(&rt, size).await;
            let names = Arc::new(id_names(size));
            let naming = match C::adopt(naming, &names, &workers).await {
                Ok(n) => n,
                Err(reason) => {
                    kill_all(&workers).await;
                    return vec![Row::skipped(
                        label,
                        "lookup",
                        &params(&[("names", size.to_string())]),
                        &reason,
                    )];
                }
            };
            let floor = with_floor.then(|| {
                let table = T::with_capacity(size);
                for (n, w) in names.iter().zip(&workers) {
                    let _ = table.insert_new(n.clone(), w.clone());
                }
                (format!("floor-{}-get", T::LABEL), RawTable(Arc::new(table)))
            });
            let rows = measure_all(label, ViaNaming(naming), floor, names, size, &spec2).await;
            kill_all(&workers).await;
            rows
        }));
    }
    rows
}

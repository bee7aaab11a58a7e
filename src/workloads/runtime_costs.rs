//! runtime: what the suite's own runtime costs on the paths every strategy stands on,
//! each beside its floor in the same process, round by round, the two sides' batches taking
//! turns within a round, so that the ratio says whether the runtime hides the strategies:
//!
//! - a call to a held pid beside a bare tokio mpsc send + oneshot reply, each side visiting
//!   its 10,000 servers in the same shuffled order ([`visiting_order`]);
//! - `whereis` through the dashmap-backed `Registry` beside the same dashmap's get on
//!   integer keys (and on the registry's own name keys);
//! - spawning a named worker and stopping it (until its name is released) beside a tokio
//!   spawn + abort (until the task has ended), both from inside a worker task, and both
//!   again from a thread outside the runtime (which mostly measures thread wake-ups);
//! - the same spawn + stop without the name, beside the same floor: what the runtime
//!   itself costs, apart from the registry's insert and its release at the exit.
//!
//! The same loops back the criterion bench `runtime_costs`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use naming_schema::{
    Bars, Better, Chart, Column, Family, Filter, Identity, Metric, Params, Row, Subject, Unit,
    Workload, YScale,
};
use naming_strategies::runtime::{Ctx, ExitReason, Name, ProcessRef, Runtime};
use naming_strategies::{DashMapTable, FastHasher, NameTable, Registry, SyncNaming};
use tokio::sync::{mpsc, oneshot};

use super::common::{id_names, run_on, start_workers, tokio_runtime, SplitMix64};
use super::Progress;
use crate::contenders::FloorTable;

/// The suite's runtime, as the backend of this workload's rows.
pub const PROCESS_RUNTIME: Identity = Identity::new("process-runtime", Family::Runtime);
/// A bare tokio unbounded mpsc send with a oneshot reply: routing's floor of the same name.
pub const MPSC_ONESHOT: Identity = super::routing::TOKIO_MPSC_ONESHOT;
/// The same dashmap the registry uses, keyed by `u64`.
pub const DASHMAP_U64: Identity = Identity::floor("floor-dashmap-u64-get");
/// A bare `tokio::spawn` + `abort`, awaited until the task has ended.
pub const TOKIO_SPAWN_ABORT: Identity = Identity::floor("floor-tokio-spawn-abort");

/// Every backend label this workload writes that no other workload declares (the bare
/// mpsc + oneshot is routing's floor).
pub const IDENTITIES: [Identity; 3] = [PROCESS_RUNTIME, DASHMAP_U64, TOKIO_SPAWN_ABORT];

/// One call to a held pid (request + reply), or the bare round trip beside it.
pub const CALL_NS: Metric = Metric::new("call_ns", "call round trip", Unit::Ns, Better::Lower);
/// The call over the bare round trip, per round: at best 1.
pub const CALL_VS_FLOOR: Metric = Metric::new(
    "call_vs_floor",
    "call / bare mpsc + oneshot",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0)
.with_target(1.5);
/// One `whereis` through the dashmap `Registry`, or the map's own get beside it.
pub const LOOKUP_NS: Metric = Metric::new("lookup_ns", "lookup", Unit::Ns, Better::Lower);
/// `whereis` over the same dashmap's get on `u64` keys, per round: at best 1.
///
/// What the registry adds over its map, plus what a name key costs over an integer key.
pub const WHEREIS_VS_U64_GET: Metric = Metric::new(
    "whereis_vs_u64_get",
    "whereis / dashmap get on u64 keys",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0)
.with_target(1.3);
/// `whereis` over the registry's own table's get on the same name keys, per round: what
/// the registry layer alone adds (the liveness check, the partition choice), at best 1.
/// Beside [`WHEREIS_VS_U64_GET`] it splits that ratio into the registry layer's part and
/// the name key's part (the name-keyed table's get over the `u64`-keyed one's).
pub const WHEREIS_VS_NAME_GET: Metric = Metric::new(
    "whereis_vs_name_get",
    "whereis / the same dashmap's get on name keys",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// Spawn + stop, inside a worker task.
pub const SPAWN_STOP_NS: Metric = Metric::new(
    "spawn_stop_ns",
    "spawn + stop (inside a task)",
    Unit::Ns,
    Better::Lower,
);
/// Spawn named + stop over tokio spawn + abort, inside a worker task: at best 1.
pub const SPAWN_VS_FLOOR: Metric = Metric::new(
    "spawn_vs_floor",
    "spawn named + stop / tokio spawn + abort",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0)
.with_target(2.0);
/// Spawn + stop of a worker without a name, inside a worker task (and its floor beside it).
pub const SPAWN_UNNAMED_NS: Metric = Metric::new(
    "spawn_unnamed_ns",
    "spawn + stop, no name (inside a task)",
    Unit::Ns,
    Better::Lower,
);
/// Spawn + stop without a name over tokio spawn + abort, inside a worker task: the
/// runtime's own share of [`SPAWN_VS_FLOOR`] (the rest is the registry's).
pub const SPAWN_UNNAMED_VS_FLOOR: Metric = Metric::new(
    "spawn_unnamed_vs_floor",
    "spawn + stop, no name / tokio spawn + abort",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// Spawn + stop, driven from a thread outside the runtime.
pub const SPAWN_STOP_OUTSIDE_NS: Metric = Metric::new(
    "spawn_stop_outside_ns",
    "spawn + stop (from outside)",
    Unit::Ns,
    Better::Lower,
);
/// The same ratio from outside the runtime.
pub const SPAWN_OUTSIDE_VS_FLOOR: Metric = Metric::new(
    "spawn_outside_vs_floor",
    "spawn named + stop / tokio spawn + abort, from outside",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);

/// The runtime-costs workload.
pub const RUNTIME: Workload = Workload {
    metrics: &[
        &CALL_NS,
        &CALL_VS_FLOOR,
        &LOOKUP_NS,
        &WHEREIS_VS_U64_GET,
        &WHEREIS_VS_NAME_GET,
        &SPAWN_STOP_NS,
        &SPAWN_VS_FLOOR,
        &SPAWN_UNNAMED_NS,
        &SPAWN_UNNAMED_VS_FLOOR,
        &SPAWN_STOP_OUTSIDE_NS,
        &SPAWN_OUTSIDE_VS_FLOOR,
    ],
    charts: &[
        Chart::Bars(Bars {
            id: "runtime-costs",
            title: "The runtime's own costs beside their floors",
            caption: "Median time per operation in nanoseconds, with min..max whiskers over the rounds: a call to a held pid beside a bare tokio mpsc + oneshot round trip; whereis through the dashmap Registry beside the same dashmap's get on u64 keys and on name keys; spawning a named worker and stopping it until its name is released beside tokio spawn + abort until the task ended, inside a worker task and from a thread outside the runtime; the same spawn + stop without a name, inside a task.",
            y_desc: "time per operation (ns)",
            groups: &[
                (&CALL_NS, "call"),
                (&LOOKUP_NS, "lookup"),
                (&SPAWN_STOP_NS, "spawn + stop"),
                (&SPAWN_UNNAMED_NS, "spawn + stop, no name"),
                (&SPAWN_STOP_OUTSIDE_NS, "spawn + stop, outside"),
            ],
            filter: Filter::All,
            y: YScale::Log,
        }),
        Chart::Bars(Bars {
            id: "runtime-ratios",
            title: "The runtime over its floors (1 = no overhead)",
            caption: "Each ratio is taken round by round in one process (the runtime's operation over its floor, their batches taking turns within the round), median with min..max whiskers; the red lines are the suite's targets (call <= 1.5, whereis over the u64 get <= 1.3, spawn named + stop <= 2). Whereis over the same table's get on name keys is what the registry layer alone adds; the rest of the u64 ratio is what a lookup on a name key costs over one on an integer key in the same table type. Spawn + stop without a name is the runtime's own share of the named one; the registry's insert and release make the rest.",
            y_desc: "ratio to the floor (×)",
            groups: &[
                (&CALL_VS_FLOOR, "call"),
                (&WHEREIS_VS_U64_GET, "whereis / u64 get"),
                (&WHEREIS_VS_NAME_GET, "whereis / name get"),
                (&SPAWN_VS_FLOOR, "spawn + stop"),
                (&SPAWN_UNNAMED_VS_FLOOR, "spawn + stop, no name"),
                (&SPAWN_OUTSIDE_VS_FLOOR, "spawn + stop, outside"),
            ],
            filter: Filter::All,
            y: YScale::Linear,
        }),
    ],
    columns: &[
        Column::new(&CALL_VS_FLOOR, "call / floor"),
        Column::new(&WHEREIS_VS_U64_GET, "whereis / u64 get"),
        Column::new(&WHEREIS_VS_NAME_GET, "whereis / name get"),
        Column::new(&SPAWN_VS_FLOOR, "spawn / floor"),
        Column::new(&SPAWN_UNNAMED_VS_FLOOR, "spawn, no name / floor"),
    ],
    judges: &[],
    ..Workload::new(
        "runtime",
        "The runtime's own costs",
        "The operations every strategy stands on, each beside the bare tokio or dashmap operation it is built from, measured in the same process round by round: does the runtime hide the strategies?",
        Subject::NamingBackends,
    )
};

/// What the runtime-costs workload measures.
#[derive(Clone, Debug)]
pub struct RuntimeCostsSpec {
    /// Named workers (and names) the calls and lookups cycle over.
    pub workers: usize,
    /// Rounds; each measures every pair once, its sides' batches taking turns.
    pub rounds: usize,
    /// About how long the floor of each pair runs per round (the other side runs as many
    /// operations, in batches taking turns with the floor's).
    pub slice: Duration,
}

impl RuntimeCostsSpec {
    /// The full run.
    pub fn full() -> Self {
        RuntimeCostsSpec {
            workers: 10_000,
            rounds: 15,
            slice: Duration::from_millis(40),
        }
    }

    /// The quick run.
    pub fn quick() -> Self {
        RuntimeCostsSpec {
            workers: 10_000,
            rounds: 7,
            slice: Duration::from_millis(20),
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        RuntimeCostsSpec {
            workers: 64,
            rounds: 2,
            slice: Duration::from_millis(2),
        }
    }
}

/// `items` in the order the call loops visit their servers: one fixed shuffle, the same for
/// every list of the same length, so that the runtime's workers and the bare servers are
/// visited in the same order.
///
/// Not in the order they were started: the servers of each kind were allocated one after
/// another, so a sequential sweep walks memory at a fixed stride, and whether the hardware
/// prefetcher hides a side's cache misses then depends on that stride. On the 2-core host
/// it did for the bare servers and, depending on a worker's state size, for the runtime's
/// workers or not: the same call read 1.25x its floor with one gen_server and 2.3x with
/// one whose state was 64 bytes larger. A client calling the worker its request is for
/// visits them in no such order either.
pub fn visiting_order<T: Clone>(items: &[T]) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut rng = SplitMix64::new(0x5EED_CA11);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order.into_iter().map(|i| items[i].clone()).collect()
}

/// Calls a held pid `iters` times, cycling over `workers`, inside a task.
pub async fn held_calls(workers: &[ProcessRef], iters: u64) -> Duration {
    let t = Instant::now();
    let n = workers.len();
    for i in 0..iters as usize {
        let r = workers[i % n]
            .call::<u64, u64>(i as u64, Duration::from_secs(5))
            .await;
        black_box(r.ok());
    }
    t.elapsed()
}

/// A bare tokio round trip: a request with a oneshot reply channel over an unbounded mpsc.
pub type BareRequest = (u64, oneshot::Sender<u64>);

/// Tasks that answer `n` with `n + 1` over a bare mpsc, one per worker.
pub fn bare_servers(n: usize) -> Vec<mpsc::UnboundedSender<BareRequest>> {
    (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::unbounded_channel::<BareRequest>();
            tokio::spawn(async move {
                while let Some((n, reply)) = rx.recv().await {
                    let _ = reply.send(n + 1);
                }
            });
            tx
        })
        .collect()
}

/// `iters` bare round trips, cycling over `servers`, inside a task.
pub async fn bare_calls(servers: &[mpsc::UnboundedSender<BareRequest>], iters: u64) -> Duration {
    let t = Instant::now();
    let n = servers.len();
    for i in 0..iters as usize {
        let (tx, rx) = oneshot::channel();
        let _ = servers[i % n].send((i as u64, tx));
        black_box(rx.await.ok());
    }
    t.elapsed()
}

/// `iters` gets on the registry's own table type with name keys, cycling over `names`:
/// [`registry_lookups`] without the registry layer.
pub fn table_gets(table: &DashMapTable, names: &[Name], iters: u64) -> Duration {
    let t = Instant::now();
    let n = names.len();
    for i in 0..iters as usize {
        black_box(table.get(black_box(&names[i % n])));
    }
    t.elapsed()
}

/// `iters` registry lookups cycling over `names`.
pub fn registry_lookups(registry: &Registry<DashMapTable>, names: &[Name], iters: u64) -> Duration {
    let t = Instant::now();
    let n = names.len();
    for i in 0..iters as usize {
        black_box(registry.whereis_sync(black_box(&names[i % n])));
    }
    t.elapsed()
}

/// The registry's dashmap with `u64` keys, holding the same processes.
pub type U64Map = DashMap<u64, ProcessRef, FastHasher>;

/// `iters` gets on the `u64`-keyed dashmap cycling over `keys`, cloning the process as
/// `whereis` does: the same loop as [`registry_lookups`] (keys read from a list), so the
/// ratio holds only what the registry adds.
pub fn u64_gets(map: &U64Map, keys: &[u64], iters: u64) -> Duration {
    let t = Instant::now();
    let n = keys.len();
    for i in 0..iters as usize {
        black_box(map.get(black_box(&keys[i % n])).map(|p| p.value().clone()));
    }
    t.elapsed()
}

/// A named worker's body: waits for a message, then exits.
async fn idle(mut ctx: Ctx) -> ExitReason {
    ctx.recv().await;
    ExitReason::Normal
}

/// Spawns a worker named `base + i`, kills it and waits until its name is released,
/// `iters` times.
pub async fn spawn_named_stops(
    rt: &Runtime,
    registry: &Registry<DashMapTable>,
    base: u64,
    iters: u64,
) -> Duration {
    let t = Instant::now();
    for i in 0..iters {
        let p = rt.spawn(idle);
        let name = Name::Id(base + i);
        let _ = registry.register_sync(name, &p);
        p.kill();
        p.into_exited().await;
    }
    t.elapsed()
}

/// Spawns a worker without a name, kills it and waits until it has exited, `iters` times.
pub async fn spawn_stops(rt: &Runtime, iters: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        let p = rt.spawn(idle);
        p.kill();
        p.into_exited().await;
    }
    t.elapsed()
}

/// `tokio::spawn` + `abort`, awaited until the task has ended, `iters` times.
pub async fn tokio_spawn_aborts(iters: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        let h = tokio::spawn(std::future::pending::<()>());
        h.abort();
        black_box(h.await.is_err());
    }
    t.elapsed()
}

/// Batches per side in a round: the sides' batches take turns, so that a change in the
/// machine's speed within the round (another tenant, an idle worker thread waking up to
/// steal) falls on every side alike instead of on whichever ran through it.
const TURNS: u32 = 8;

/// Runs each of `sides` for the same number of iterations, in `TURNS` batches that take
/// turns, the first side (the floor) taking about `slice` in all; returns each side's ns
/// per operation, in order. Every side first runs one untimed batch, so that none is timed
/// from cold caches while the others are warm.
fn interleaved<const N: usize>(
    slice: Duration,
    mut sides: [&mut dyn FnMut(u64) -> Duration; N],
) -> [f64; N] {
    // Size a batch on the floor: the smallest power of two taking a TURNS-th of the slice.
    // The sizing warms the floor; one batch of each other side warms it alike.
    let mut iters = 16u64;
    while sides[0](iters) < slice / TURNS && iters < 1 << 32 {
        iters *= 2;
    }
    for side in sides.iter_mut().skip(1) {
        side(iters);
    }
    let mut spent = [Duration::ZERO; N];
    for _ in 0..TURNS {
        for (side, spent) in sides.iter_mut().zip(spent.iter_mut()) {
            *spent += side(iters);
        }
    }
    let ops = (iters * u64::from(TURNS)) as f64;
    spent.map(|d| d.as_nanos() as f64 / ops)
}

/// Median, min and max of `v` (empty: NaN).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Runs the workload: every pair, round by round, each side in the same process, their
/// batches taking turns.
pub fn runtime_costs(spec: &RuntimeCostsSpec, progress: &dyn Progress) -> Vec<Row> {
    let w = &RUNTIME;
    let tokio = tokio_runtime(2);
    let rt = Runtime::new();
    let registry: Registry<DashMapTable> = Registry::with_capacity(1, spec.workers);
    let names = Arc::new(id_names(spec.workers));
    let workers = tokio.block_on(start_workers(&rt, spec.workers));
    let u64_map: U64Map = DashMap::with_capacity_and_hasher(spec.workers, FastHasher::default());
    let keys: Vec<u64> = (0..spec.workers as u64).collect();
    // The spawn paths churn names through a registry of their own, holding the same
    // names: churn leaves tombstones in a table's buckets, and `whereis` is compared with
    // a map that has seen none, so its registry must not see any either.
    let spawn_registry: Registry<DashMapTable> = Registry::with_capacity(1, spec.workers);
    let name_table = DashMapTable::with_capacity(spec.workers);
    for (i, (name, p)) in names.iter().zip(&workers).enumerate() {
        let _ = registry.register_sync(name.clone(), p);
        let _ = spawn_registry.register_sync(name.clone(), p);
        let _ = name_table.insert_new(name.clone(), p.clone());
        u64_map.insert(i as u64, p.clone());
    }
    let servers = tokio.block_on(async { bare_servers(spec.workers) });
    // Both call loops visit their servers in the same shuffled order (see `visiting_order`).
    let callees = Arc::new(visiting_order(&workers));
    let servers = Arc::new(visiting_order(&servers));
    let base = AtomicU64::new(1 << 40);

    let mut series: [Vec<f64>; 17] = Default::default();
    for round in 0..spec.rounds {
        progress.step(&format!(
            "runtime costs: round {} of {}",
            round + 1,
            spec.rounds
        ));
        // Each operation runs inside a worker task of the runtime ([`run_on`]), its
        // batches taking turns with its floor's.
        let [bare, call] = interleaved(
            spec.slice,
            [
                &mut |n| {
                    let s = Arc::clone(&servers);
                    run_on(&tokio, async move { bare_calls(&s, n).await })
                },
                &mut |n| {
                    let ws = Arc::clone(&callees);
                    run_on(&tokio, async move { held_calls(&ws, n).await })
                },
            ],
        );
        // whereis, beside its two floors.
        let [get, name_get, whereis] = interleaved(
            spec.slice,
            [
                &mut |n| u64_gets(&u64_map, &keys, n),
                &mut |n| table_gets(&name_table, &names, n),
                &mut |n| registry_lookups(&registry, &names, n),
            ],
        );
        // Spawn + stop inside a task, beside its floor.
        let [tspawn, spawn] = interleaved(
            spec.slice,
            [&mut |n| run_on(&tokio, tokio_spawn_aborts(n)), &mut |n| {
                let (rt, reg) = (rt.clone(), spawn_registry.clone());
                let b = base.fetch_add(n, Ordering::Relaxed);
                run_on(
                    &tokio,
                    async move { spawn_named_stops(&rt, &reg, b, n).await },
                )
            }],
        );
        // Without the name, beside a floor of its own.
        let [tspawn_unnamed, spawn_unnamed] = interleaved(
            spec.slice,
            [&mut |n| run_on(&tokio, tokio_spawn_aborts(n)), &mut |n| {
                let rt = rt.clone();
                run_on(&tokio, async move { spawn_stops(&rt, n).await })
            }],
        );
        // The same from outside the runtime.
        let [tspawn_out, spawn_out] = interleaved(
            spec.slice,
            [&mut |n| tokio.block_on(tokio_spawn_aborts(n)), &mut |n| {
                let b = base.fetch_add(n, Ordering::Relaxed);
                tokio.block_on(spawn_named_stops(&rt, &spawn_registry, b, n))
            }],
        );
        for (i, v) in [
            bare,
            call,
            call / bare,
            get,
            whereis,
            whereis / get,
            name_get,
            whereis / name_get,
            tspawn,
            spawn,
            spawn / tspawn,
            tspawn_unnamed,
            spawn_unnamed,
            spawn_unnamed / tspawn_unnamed,
            tspawn_out,
            spawn_out,
            spawn_out / tspawn_out,
        ]
        .into_iter()
        .enumerate()
        {
            series[i].push(v);
        }
    }
    for p in workers.iter() {
        p.kill();
    }
    drop(servers);

    let params = Params::new().with("workers", spec.workers);
    let mut rows = Vec::new();
    let mut put = |id: &Identity, m: &Metric, v: &mut Vec<f64>| {
        let (med, lo, hi) = stats(v);
        rows.push(
            w.row(id.label, &params, m, med)
                .over(v.len() as u32, (lo, hi)),
        );
    };
    let [bare, call, call_r, get, whereis, whereis_r, name_get, whereis_name_r, tspawn, spawn, spawn_r, tspawn_unnamed, spawn_unnamed, spawn_unnamed_r, tspawn_out, spawn_out, spawn_out_r] =
        &mut series;
    put(&MPSC_ONESHOT, &CALL_NS, bare);
    put(&PROCESS_RUNTIME, &CALL_NS, call);
    put(&PROCESS_RUNTIME, &CALL_VS_FLOOR, call_r);
    put(&DASHMAP_U64, &LOOKUP_NS, get);
    put(&PROCESS_RUNTIME, &LOOKUP_NS, whereis);
    put(&PROCESS_RUNTIME, &WHEREIS_VS_U64_GET, whereis_r);
    put(&DashMapTable::FLOOR, &LOOKUP_NS, name_get);
    put(&PROCESS_RUNTIME, &WHEREIS_VS_NAME_GET, whereis_name_r);
    put(&TOKIO_SPAWN_ABORT, &SPAWN_STOP_NS, tspawn);
    put(&PROCESS_RUNTIME, &SPAWN_STOP_NS, spawn);
    put(&PROCESS_RUNTIME, &SPAWN_VS_FLOOR, spawn_r);
    put(&TOKIO_SPAWN_ABORT, &SPAWN_UNNAMED_NS, tspawn_unnamed);
    put(&PROCESS_RUNTIME, &SPAWN_UNNAMED_NS, spawn_unnamed);
    put(&PROCESS_RUNTIME, &SPAWN_UNNAMED_VS_FLOOR, spawn_unnamed_r);
    put(&TOKIO_SPAWN_ABORT, &SPAWN_STOP_OUTSIDE_NS, tspawn_out);
    put(&PROCESS_RUNTIME, &SPAWN_STOP_OUTSIDE_NS, spawn_out);
    put(&PROCESS_RUNTIME, &SPAWN_OUTSIDE_VS_FLOOR, spawn_out_r);
    rows
}

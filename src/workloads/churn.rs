//! churn: clients offer calls at a fixed rate while, on a thread of its own, workers are
//! killed at a fixed rate and restarted by their `DynamicSupervisor`, for a fixed time; every
//! call's outcome is counted once, and release and re-registration after each kill timed.
//! Startup discovery, which registers nothing, runs the same schedule around a supervisor of
//! its own ([`super::stale_pids`]): calls through stale pids counted, rediscovery timed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Better, Chart, Column, Extreme, Judge, Line, Metric, Params, Row, Situation, Subject, Sweep,
    Unit, Workload,
};
use naming_strategies::runtime::{
    instant_after, CallError, DynamicSupervisor, DynamicSupervisorOpts, Intensity, Name, Runtime,
};
use naming_strategies::Naming;

use super::common::{
    heap_row, histogram, id_names, make_or_skip, named_worker, run_on, tokio_runtime, wait_until,
    Claims, SplitMix64, CALL_TIMEOUT,
};
use super::Progress;
use crate::alloc::{counted_bytes, flush_deferred_frees, Counting};
use crate::contenders::Contender;

/// Calls issued per second, all clients together (the offered rate is the `call_rate`
/// param; a backend that cannot keep up issues fewer).
pub const OPS_PER_SEC: Metric = Metric::new(
    "ops_per_sec",
    "calls issued per second under churn",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Calls issued: each ends in exactly one of `calls_ok`, `calls_noproc`, `calls_timeout`,
/// `calls_not_found`, `calls_bad_request` and `stale_deliveries`.
pub const CALLS: Metric = Metric::new("calls", "calls issued", Unit::Count, Better::Neither);
/// Workers killed (the churn itself, at the `kill_rate` param, recorded for context).
pub const KILLS: Metric = Metric::new("kills", "workers killed", Unit::Count, Better::Neither);
/// Calls answered.
pub const CALLS_OK: Metric = Metric::new("calls_ok", "calls answered", Unit::Count, Better::Higher);
/// Calls to a process that had exited (`:noproc`).
pub const CALLS_NOPROC: Metric = Metric::new(
    "calls_noproc",
    "calls to an exited process",
    Unit::Count,
    Better::Lower,
);
/// Calls that timed out.
pub const CALLS_TIMEOUT: Metric = Metric::new(
    "calls_timeout",
    "calls timed out",
    Unit::Count,
    Better::Lower,
);
/// Lookups that found no process (the name not yet re-registered).
pub const CALLS_NOT_FOUND: Metric = Metric::new(
    "calls_not_found",
    "names not found",
    Unit::Count,
    Better::Lower,
);
/// Calls the worker could not take as its request type.
pub const CALLS_BAD_REQUEST: Metric = Metric::new(
    "calls_bad_request",
    "calls refused as bad requests",
    Unit::Count,
    Better::Lower,
);
/// Lookups that returned a process already dead: the call is counted here only (not also
/// as `calls_noproc`), and not sent.
pub const STALE_DELIVERIES: Metric = Metric::new(
    "stale_deliveries",
    "calls resolved to a dead pid",
    Unit::Count,
    Better::Lower,
);
/// Median time from a kill until the name no longer names the dead pid.
pub const RELEASE_P50_NS: Metric = Metric::new(
    "release_p50_ns",
    "name release p50",
    Unit::Ns,
    Better::Lower,
);
/// 99th percentile of the same.
pub const RELEASE_P99_NS: Metric = Metric::new(
    "release_p99_ns",
    "name release p99",
    Unit::Ns,
    Better::Lower,
);
/// Median time from a kill until the restarted worker is found under the name.
pub const REREGISTER_P50_NS: Metric = Metric::new(
    "reregister_p50_ns",
    "re-registration p50",
    Unit::Ns,
    Better::Lower,
);
/// 99th percentile of the same.
pub const REREGISTER_P99_NS: Metric = Metric::new(
    "reregister_p99_ns",
    "re-registration p99",
    Unit::Ns,
    Better::Lower,
);
/// Killed workers whose name still named the dead pid two seconds later.
pub const NEVER_RELEASED: Metric = Metric::new(
    "never_released",
    "names not released within 2 s",
    Unit::Count,
    Better::Lower,
);
/// Killed workers whose name had no new holder two seconds later.
pub const NEVER_REREGISTERED: Metric = Metric::new(
    "never_reregistered",
    "names not re-registered within 2 s",
    Unit::Count,
    Better::Lower,
);
/// Startup discovery: calls that reached a dead pid (a handed pid after its worker's
/// restart answering `noproc`, or a scanned pid killed before the call), each also counted
/// as `calls_noproc` or `stale_deliveries`.
pub const STALE_CALLS: Metric = Metric::new(
    "stale_calls",
    "calls through a dead pid",
    Unit::Count,
    Better::Lower,
);
/// Startup discovery: `stale_calls` per kill, what one restart costs the clients that hold
/// pids.
pub const STALE_CALLS_PER_KILL: Metric = Metric::new(
    "stale_calls_per_kill",
    "calls through a dead pid per kill",
    Unit::Count,
    Better::Lower,
)
.with_ideal(0.0);
/// Startup discovery: median time from a kill until a client holds the restarted worker's
/// pid (handed: its first `noproc`, then a fresh `which_children`; scan: its next scan),
/// over every client that called the worker again.
pub const REDISCOVER_P50_NS: Metric = Metric::new(
    "rediscover_p50_ns",
    "rediscovery p50",
    Unit::Ns,
    Better::Lower,
);
/// 99th percentile of the same.
pub const REDISCOVER_P99_NS: Metric = Metric::new(
    "rediscover_p99_ns",
    "rediscovery p99",
    Unit::Ns,
    Better::Lower,
);
/// Processes that started under a name another live process also held.
pub const DUPLICATE_OWNERS: Metric =
    Metric::must_be_zero("duplicate_owners", "two live owners of one name");
/// After settling, names whose live owner the backend does not resolve to.
pub const NAMES_UNRESOLVED_AFTER: Metric = Metric::must_be_zero(
    "names_unresolved_after",
    "live owners not resolved after settling",
);
/// After settling, names the backend resolves to a dead process.
pub const DEAD_NAMES_LEFT: Metric =
    Metric::must_be_zero("dead_names_left", "names of dead processes left");
/// 1 if every worker was back and named within 5 s of the clients stopping, else 0.
pub const SETTLED: Metric = Metric::new(
    "settled",
    "every worker back and named",
    Unit::Count,
    Better::Higher,
)
.with_ideal(1.0);
/// Heap bytes the backend, its supervisor and its named workers took to set up (counting
/// allocator, on only for the set-up, deferred frees flushed before each reading).
pub const BYTES_BEFORE: Metric = Metric::new(
    "bytes_before",
    "heap of the set-up",
    Unit::Bytes,
    Better::Neither,
);
/// `bytes_before` plus the net heap an untimed, counted pass after settling left behind:
/// every worker killed once more and restarted, deferred frees flushed (the timed run
/// itself is never counted).
pub const BYTES_AFTER: Metric = Metric::new(
    "bytes_after",
    "heap after a counted kill of every worker",
    Unit::Bytes,
    Better::Neither,
);
/// Every unsuccessful call (not found, stale, `noproc`, timed out, bad request), each
/// counted once, over calls issued.
pub const FAILED_PER_CALL: Metric = Metric::new(
    "failed_per_call",
    "failed calls per call",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);
/// The same unsuccessful calls per kill: what one kill costs the callers.
pub const FAILED_PER_KILL: Metric = Metric::new(
    "failed_per_kill",
    "failed calls per kill",
    Unit::Count,
    Better::Lower,
)
.with_ideal(0.0);
/// Calls answered `noproc`, timed out or not found, plus calls resolved to a dead pid,
/// each counted once, over calls issued
/// (`(calls_noproc + calls_timeout + calls_not_found + stale_deliveries) / calls`).
pub const FAILED_STALE_PER_CALL: Metric = Metric::new(
    "failed_stale_per_call",
    "failed + stale calls per call",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);

/// The churn workload: calls through names while workers are killed and restarted.
pub const CHURN: Workload = Workload {
    metrics: &[
        &OPS_PER_SEC,
        &CALLS,
        &KILLS,
        &CALLS_OK,
        &CALLS_NOPROC,
        &CALLS_TIMEOUT,
        &CALLS_NOT_FOUND,
        &CALLS_BAD_REQUEST,
        &STALE_DELIVERIES,
        &RELEASE_P50_NS,
        &RELEASE_P99_NS,
        &REREGISTER_P50_NS,
        &REREGISTER_P99_NS,
        &NEVER_RELEASED,
        &NEVER_REREGISTERED,
        &DUPLICATE_OWNERS,
        &NAMES_UNRESOLVED_AFTER,
        &DEAD_NAMES_LEFT,
        &SETTLED,
        &BYTES_BEFORE,
        &BYTES_AFTER,
        &FAILED_STALE_PER_CALL,
        &FAILED_PER_CALL,
        &FAILED_PER_KILL,
        &STALE_CALLS,
        &STALE_CALLS_PER_KILL,
        &REDISCOVER_P50_NS,
        &REDISCOVER_P99_NS,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Calls answered `noproc`, timed out or not found, plus calls resolved to a stale process (each counted once), as a fraction of calls issued, against the kill rate at a fixed offered call rate.",
            x_desc: "kill rate (kills/s)",
            y_desc: "failed + stale calls (fraction of calls)",
            split_by: &["workers", "clients", "call_rate"],
            ..Sweep::new(
                "churn-failed",
                "Failed and stale calls under churn",
                "kill_rate",
                &[Line::solid(&FAILED_STALE_PER_CALL)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Unsuccessful calls per kill (not found, stale, `noproc`, timed out, bad request), against the kill rate at a fixed offered call rate.",
            x_desc: "kill rate (kills/s)",
            y_desc: "failed calls per kill (count)",
            split_by: &["workers", "clients", "call_rate"],
            ..Sweep::new(
                "churn-failed-per-kill",
                "Failed calls per kill",
                "kill_rate",
                &[Line::solid(&FAILED_PER_KILL)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time from a worker's exit until its name is free, in nanoseconds: solid p50, dashed p99.",
            x_desc: "kill rate (kills/s)",
            y_desc: "latency (ns)",
            split_by: &["workers", "clients", "call_rate"],
            notes: &["solid: p50, dashed: p99"],
            ..Sweep::new(
                "churn-release",
                "Name release after exit",
                "kill_rate",
                &[Line::solid(&RELEASE_P50_NS), Line::dashed(&RELEASE_P99_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time from a worker's exit until its restarted successor is found under the same name, in nanoseconds: solid p50, dashed p99.",
            x_desc: "kill rate (kills/s)",
            y_desc: "latency (ns)",
            split_by: &["workers", "clients", "call_rate"],
            notes: &["solid: p50, dashed: p99"],
            ..Sweep::new(
                "churn-reregister",
                "Re-registration after restart",
                "kill_rate",
                &[Line::solid(&REREGISTER_P50_NS), Line::dashed(&REREGISTER_P99_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Startup discovery (no registry): time from a worker's kill until a client holds its restarted successor's pid, in nanoseconds: solid p50, dashed p99. A client with handed pids learns of the restart only from a call answered `noproc`, then asks the supervisor again; a scanning client finds it at its next scan. Compare with the registries' re-registration above.",
            x_desc: "kill rate (kills/s)",
            y_desc: "latency (ns)",
            split_by: &["workers", "clients", "call_rate"],
            notes: &["solid: p50, dashed: p99"],
            ..Sweep::new(
                "churn-rediscover",
                "Rediscovery after restart (startup discovery)",
                "kill_rate",
                &[Line::solid(&REDISCOVER_P50_NS), Line::dashed(&REDISCOVER_P99_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Startup discovery (no registry): calls that reached a dead pid per kill, against the kill rate. Handed pids go stale at every restart, each client's next call to the worker failing; a scan per call is reached dead only when the kill falls between scan and call.",
            x_desc: "kill rate (kills/s)",
            y_desc: "calls through a dead pid per kill (count)",
            split_by: &["workers", "clients", "call_rate"],
            ..Sweep::new(
                "churn-stale-calls",
                "Calls through stale pids per kill (startup discovery)",
                "kill_rate",
                &[Line::solid(&STALE_CALLS_PER_KILL)],
            )
        }),
    ],
    columns: &[
        Column::new(&FAILED_STALE_PER_CALL, "churn failed+stale"),
        Column::new(&REREGISTER_P99_NS, "re-register p99"),
        Column::new(&DUPLICATE_OWNERS, "duplicate owners"),
    ],
    judges: &[
        Judge {
            situation: Situation::HeavyChurn,
            rank: 0,
            metric: &FAILED_STALE_PER_CALL,
            at: ("kill_rate", Extreme::Max),
            prefer: &[],
            tiebreak: Some(&REREGISTER_P99_NS),
        },
        Judge {
            situation: Situation::HeavyChurn,
            rank: 1,
            metric: &REREGISTER_P99_NS,
            at: ("kill_rate", Extreme::Max),
            prefer: &[],
            tiebreak: None,
        },
    ],
    ..Workload::new(
        "churn",
        "Churn",
        "Named workers under one `DynamicSupervisor`; for a fixed time, clients offer calls to random names at a fixed total rate (`call_rate`, calls/s) while a thread of its own kills random named workers at a fixed rate (`kill_rate`, kills/s), the same for every backend, and the supervisor restarts them under the same name; every call's outcome is counted once, release and re-registration after each kill are timed (p50, p99), and after settling every name must have exactly one live owner. Startup discovery registers nothing: its workers are the children of one `Supervisor` (ids the names' text), killed on the same schedule; its clients call handed pids (asking the supervisor again after a `noproc`) or scan `which_children` per call, and the calls through dead pids and the time until each client holds the restarted worker's pid are measured instead.",
        Subject::NamingBackends,
    )
};

/// What the churn workload measures.
#[derive(Clone, Debug)]
pub struct ChurnSpec {
    /// Named workers under one `DynamicSupervisor`.
    pub workers: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Offered calls per second, all clients together (each client offers its share on a
    /// fixed schedule), the same for every backend.
    pub call_rate: f64,
    /// Kills per second, one point each, on a schedule of their own (a thread apart from
    /// the clients, so a slow backend is not killed less often).
    pub kill_rates: Vec<f64>,
    /// How long each point runs.
    pub duration: Duration,
}

impl ChurnSpec {
    /// The full run.
    pub fn full(clients: usize) -> Self {
        ChurnSpec {
            workers: 1_000,
            clients,
            call_rate: 50_000.0,
            kill_rates: vec![10.0, 100.0, 1_000.0],
            duration: Duration::from_secs(4),
        }
    }

    /// The quick run.
    pub fn quick(clients: usize) -> Self {
        ChurnSpec {
            workers: 200,
            clients,
            call_rate: 20_000.0,
            kill_rates: vec![5.0, 50.0, 500.0],
            duration: Duration::from_secs(1),
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        ChurnSpec {
            workers: 16,
            clients: 2,
            call_rate: 4_000.0,
            kill_rates: vec![200.0],
            duration: Duration::from_millis(300),
        }
    }
}

/// What one churn run saw. Every call issued lands in exactly one of `ok`, `not_found`,
/// `stale`, `noproc`, `timeout` and `other`.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) calls: AtomicU64,
    pub(crate) ok: AtomicU64,
    pub(crate) noproc: AtomicU64,
    pub(crate) timeout: AtomicU64,
    pub(crate) not_found: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) other: AtomicU64,
    pub(crate) kills: AtomicU64,
    never_released: AtomicU64,
    never_reregistered: AtomicU64,
}

/// Watches one killed name: how long until it no longer names the dead pid, and until a
/// new process holds it.
async fn track<N: Naming>(
    naming: N,
    name: Name,
    old: u64,
    killed_at: Instant,
) -> (Option<u64>, Option<u64>) {
    let deadline = instant_after(killed_at, Duration::from_secs(2));
    let mut released = None;
    loop {
        let now_holder = naming.whereis(&name).await.map(|p| p.pid().serial());
        let elapsed = killed_at.elapsed().as_nanos() as u64;
        match now_holder {
            Some(pid) if pid == old => {}
            None => {
                released.get_or_insert(elapsed);
            }
            Some(_) => {
                released.get_or_insert(elapsed);
                return (released, Some(elapsed));
            }
        }
        if Instant::now() > deadline {
            return (released, None);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs the churn workload for one contender.
pub fn churn<C: Contender>(contender: &C, spec: &ChurnSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = contender.label();
    let mut rows = Vec::new();
    for &kill_rate in &spec.kill_rates {
        progress.step(&format!("churn {label} kill_rate={kill_rate}/s"));
        let p = Params::new()
            .with("workers", spec.workers)
            .with("clients", spec.clients)
            .with("call_rate", spec.call_rate)
            .with("kill_rate", kill_rate);
        let rt_tokio = tokio_runtime(spec.clients);
        let rt = Runtime::new();
        // The set-up is counted (nothing in it is timed): deferred frees of earlier points
        // land first, then counting goes on before the backend is made.
        run_on(&rt_tokio, flush_deferred_frees());
        let counting = Counting::start();
        let before = counted_bytes();
        let naming = match make_or_skip(&CHURN, contender, &rt_tokio, &rt, spec.workers, &p) {
            Ok(n) => n,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        if let Some(mode) = contender.discovery() {
            // No registry to count: the set-up's heap is not measured.
            drop(counting);
            drop(naming);
            let (spec, p2) = (spec.clone(), p.clone());
            rows.extend(run_on(&rt_tokio, async move {
                super::stale_pids::run_one(label, &p2, mode, rt, spec, kill_rate).await
            }));
            continue;
        }
        let spec = spec.clone();
        let p2 = p.clone();
        rows.extend(run_on(&rt_tokio, async move {
            run_one(label, &p2, naming, rt, spec, kill_rate, (counting, before)).await
        }));
    }
    rows
}

/// Kills random named workers at `kill_rate` per second from `t0` until `end`, on the
/// calling thread (its own, with a runtime of its own), so the schedule does not depend
/// on how fast calls complete; each kill's release and re-registration are tracked by a
/// task on `clients`, the clients' runtime.
#[allow(clippy::too_many_arguments)]
fn kill_on_schedule<N: Naming>(
    naming: N,
    names: Arc<Vec<Name>>,
    kill_rate: f64,
    t0: Instant,
    end: Instant,
    tally: Arc<Tally>,
    clients: tokio::runtime::Handle,
) -> Vec<tokio::task::JoinHandle<(Option<u64>, Option<u64>)>> {
    let krt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    krt.block_on(async move {
        let mut trackers = Vec::new();
        if kill_rate <= 0.0 || names.is_empty() {
            return trackers;
        }
        let interval = 1.0 / kill_rate;
        let mut rng = SplitMix64::new(0x0C4A_7000 ^ kill_rate.to_bits());
        for k in 0u64.. {
            let due = instant_after(t0, Duration::from_secs_f64(interval * k as f64));
            if due >= end {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            // A name between holders (its worker restarting) is passed over for another.
            for _ in 0..8 {
                let name = &names[rng.below(names.len())];
                let Some(victim) = naming.whereis(name).await else {
                    continue;
                };
                let killed_at = Instant::now();
                if victim.is_alive() && victim.kill() {
                    tally.kills.fetch_add(1, Ordering::Relaxed);
                    trackers.push(clients.spawn(track(
                        naming.clone(),
                        name.clone(),
                        victim.pid().serial(),
                        killed_at,
                    )));
                    break;
                }
            }
        }
        trackers
    })
}

/// One client: offers `rate` calls per second from `t0` until `end` on a fixed schedule
/// (a call late on its schedule goes at once), counting each call's outcome once.
async fn client<N: Naming>(
    naming: N,
    names: Arc<Vec<Name>>,
    rate: f64,
    t0: Instant,
    end: Instant,
    seed: u64,
    tally: Arc<Tally>,
) {
    let mut rng = SplitMix64::new(seed);
    let interval = 1.0 / rate;
    for i in 0u64.. {
        let due = instant_after(t0, Duration::from_secs_f64(interval * i as f64));
        if due >= end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let name = &names[rng.below(names.len())];
        tally.calls.fetch_add(1, Ordering::Relaxed);
        let counter = match naming.whereis(name).await {
            None => &tally.not_found,
            // Resolved to a dead pid: counted as stale only, and not sent.
            Some(target) if !target.is_alive() => &tally.stale,
            Some(target) => match target.call::<u64, u64>(i, CALL_TIMEOUT).await {
                Ok(_) => &tally.ok,
                Err(CallError::NoProc) => &tally.noproc,
                Err(CallError::Timeout) => &tally.timeout,
                Err(CallError::BadRequest) => &tally.other,
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits (up to 5 s) until every worker is back and named.
async fn settle<N: Naming>(naming: &N, names: &Arc<Vec<Name>>) -> bool {
    let workers = names.len();
    wait_until(Duration::from_secs(5), || {
        let (naming, names) = (naming.clone(), names.clone());
        async move {
            if naming.registered_count().await != workers {
                return false;
            }
            for n in names.iter() {
                if !naming.whereis(n).await.is_some_and(|p| p.is_alive()) {
                    return false;
                }
            }
            true
        }
    })
    .await
}

async fn run_one<N: Naming>(
    label: &'static str,
    p: &Params,
    naming: N,
    rt: Runtime,
    spec: ChurnSpec,
    kill_rate: f64,
    (counting, before): (Counting, Option<isize>),
) -> Vec<Row> {
    let row = |metric: &Metric, value: f64| CHURN.row(label, p, metric, value);
    let opts = DynamicSupervisorOpts {
        intensity: Intensity {
            max_restarts: u32::MAX,
            max_seconds: Duration::from_secs(1),
        },
        max_children: None,
    };
    let Ok(sup) = DynamicSupervisor::start(&rt, opts).await else {
        return vec![CHURN.skip(label, p, "the supervisor did not start")];
    };
    let claims = Claims::default();
    let names = Arc::new(id_names(spec.workers));
    for name in names.iter() {
        if let Err(e) = sup
            .start_child(named_worker(&naming, name.clone(), &claims))
            .await
        {
            sup.process().kill();
            return vec![CHURN.skip(label, p, &format!("cannot start named workers: {e}"))];
        }
    }
    flush_deferred_frees().await;
    let bytes_before = before.zip(counted_bytes()).map(|(b, a)| a - b);
    // Counting off: the timed run is never counted.
    drop(counting);

    let tally = Arc::new(Tally::default());
    let t0 = instant_after(Instant::now(), Duration::from_millis(5));
    let end = t0 + spec.duration;
    let per_client = spec.call_rate / spec.clients.max(1) as f64;
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            tokio::spawn(client(
                naming.clone(),
                names.clone(),
                per_client,
                t0,
                end,
                0xC4A7 + c as u64,
                tally.clone(),
            ))
        })
        .collect();
    let killer = {
        let (naming, names, tally) = (naming.clone(), names.clone(), tally.clone());
        let handle = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            kill_on_schedule(naming, names, kill_rate, t0, end, tally, handle)
        })
    };
    for c in clients {
        let _ = c.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let trackers = tokio::task::spawn_blocking(move || killer.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (release, rereg) =
        latencies(trackers, &tally.never_released, &tally.never_reregistered).await;
    // Settle: every worker back and named, then check the invariants.
    let settled = settle(&naming, &names).await;
    let (unresolved, dead) = claims.mismatches(&naming).await;

    // Memory after churn, in an untimed, counted pass: every worker killed once more and
    // restarted; what the pass leaves on the heap is added to the set-up's bytes.
    let bytes_after = match bytes_before {
        Some(b) => {
            flush_deferred_frees().await;
            let _counting = Counting::start();
            let n0 = counted_bytes();
            for name in names.iter() {
                if let Some(w) = naming.whereis(name).await {
                    w.kill();
                }
            }
            settle(&naming, &names).await;
            flush_deferred_frees().await;
            n0.zip(counted_bytes()).map(|(n0, n1)| b + (n1 - n0))
        }
        None => None,
    };

    let t = &tally;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let q = |h: &hdrhistogram::Histogram<u64>, at: f64| h.value_at_quantile(at) as f64;
    let mut rows = tally_rows(label, p, t, secs);
    if !release.is_empty() {
        rows.push(row(&RELEASE_P50_NS, q(&release, 0.5)));
        rows.push(row(&RELEASE_P99_NS, q(&release, 0.99)));
    }
    if !rereg.is_empty() {
        rows.push(row(&REREGISTER_P50_NS, q(&rereg, 0.5)));
        rows.push(row(&REREGISTER_P99_NS, q(&rereg, 0.99)));
    }
    rows.extend([
        row(&NEVER_RELEASED, g(&t.never_released)),
        row(&NEVER_REREGISTERED, g(&t.never_reregistered)),
        row(&DUPLICATE_OWNERS, claims.duplicates() as f64),
        row(&NAMES_UNRESOLVED_AFTER, unresolved as f64),
        row(&DEAD_NAMES_LEFT, dead as f64),
        row(&SETTLED, if settled { 1.0 } else { 0.0 }),
    ]);
    rows.extend(failure_rows(label, p, t));
    if let (Some(b), Some(a)) = (bytes_before, bytes_after) {
        // Buffers grown in the timed run and freed in the counted pass can take a reading
        // below zero: a skip row, never a figure.
        for (metric, bytes) in [(&BYTES_BEFORE, b), (&BYTES_AFTER, a)] {
            rows.push(heap_row(&CHURN, label, p, "phase", metric, bytes));
        }
    }
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
    rows
}

/// The rows of `t`'s counts over a run of `secs` seconds: calls issued (and per second),
/// kills, and each outcome.
pub(crate) fn tally_rows(label: &str, p: &Params, t: &Tally, secs: f64) -> Vec<Row> {
    let row = |metric: &Metric, value: f64| CHURN.row(label, p, metric, value);
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let calls = g(&t.calls);
    vec![
        row(&OPS_PER_SEC, calls / secs),
        row(&CALLS, calls),
        row(&KILLS, g(&t.kills)),
        row(&CALLS_OK, g(&t.ok)),
        row(&CALLS_NOPROC, g(&t.noproc)),
        row(&CALLS_TIMEOUT, g(&t.timeout)),
        row(&CALLS_NOT_FOUND, g(&t.not_found)),
        row(&CALLS_BAD_REQUEST, g(&t.other)),
        row(&STALE_DELIVERIES, g(&t.stale)),
    ]
}

/// The failure ratios of `t`: per call issued and per kill, each unsuccessful call counted
/// once (failed without reaching a live process, or failed on it).
pub(crate) fn failure_rows(label: &str, p: &Params, t: &Tally) -> Vec<Row> {
    let row = |metric: &Metric, value: f64| CHURN.row(label, p, metric, value);
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let (calls, kills) = (g(&t.calls), g(&t.kills));
    let failed_stale = g(&t.noproc) + g(&t.timeout) + g(&t.not_found) + g(&t.stale);
    let failed = failed_stale + g(&t.other);
    let mut rows = Vec::new();
    if calls > 0.0 {
        rows.push(row(&FAILED_STALE_PER_CALL, failed_stale / calls));
        rows.push(row(&FAILED_PER_CALL, failed / calls));
    }
    if kills > 0.0 {
        rows.push(row(&FAILED_PER_KILL, failed / kills));
    }
    rows
}

/// Waits for every kill's tracker (kill -> released, kill -> re-registered, in ns, `None`
/// if it never happened) and gathers them into two histograms, counting the kills whose
/// name was never released or never taken again.
pub(crate) async fn latencies(
    trackers: Vec<tokio::task::JoinHandle<(Option<u64>, Option<u64>)>>,
    never_released: &AtomicU64,
    never_reregistered: &AtomicU64,
) -> (hdrhistogram::Histogram<u64>, hdrhistogram::Histogram<u64>) {
    let (mut release, mut rereg) = (histogram(), histogram());
    for t in trackers {
        if let Ok((released, reregistered)) = t.await {
            match released {
                Some(ns) => {
                    let _ = release.record(ns.max(1));
                }
                None => {
                    never_released.fetch_add(1, Ordering::Relaxed);
                }
            }
            match reregistered {
                Some(ns) => {
                    let _ = rereg.record(ns.max(1));
                }
                None => {
                    never_reregistered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    (release, rereg)
}

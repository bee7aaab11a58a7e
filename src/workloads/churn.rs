//! churn: clients route calls while workers are killed and restarted by their
//! `DynamicSupervisor`; counts every outcome and times release and re-registration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Better, Chart, Column, Extreme, Judge, Line, Metric, Params, Row, Situation, Subject, Sweep,
    Unit, Workload,
};
use naming_strategies::runtime::{
    CallError, DynamicSupervisor, DynamicSupervisorOpts, Intensity, Name, Runtime,
};
use naming_strategies::Naming;
use parking_lot::Mutex;
use tokio::sync::Barrier;

use super::common::{
    histogram, id_names, make_or_skip, named_worker, run_on, tokio_runtime, wait_until, Claims,
    SplitMix64, CALL_TIMEOUT,
};
use super::Progress;
use crate::alloc::live_bytes;
use crate::contenders::Contender;

/// Operations (calls and kills) per second, all clients together.
pub const OPS_PER_SEC: Metric = Metric::new(
    "ops_per_sec",
    "operations per second under churn",
    Unit::OpsPerSec,
    Better::Higher,
);
/// Workers killed (the churn itself, recorded for context).
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
/// Lookups that returned a process already dead (the call was sent to a stale pid).
pub const STALE_DELIVERIES: Metric = Metric::new(
    "stale_deliveries",
    "calls sent to a dead pid",
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
/// Live heap bytes before the clients start.
pub const BYTES_BEFORE: Metric = Metric::new(
    "bytes_before",
    "live heap before",
    Unit::Bytes,
    Better::Neither,
);
/// Live heap bytes after settling.
pub const BYTES_AFTER: Metric = Metric::new(
    "bytes_after",
    "live heap after",
    Unit::Bytes,
    Better::Neither,
);
/// Calls answered `noproc`, timed out or not found, plus deliveries to a dead pid, over
/// all calls (`calls_ok + calls_noproc + calls_timeout + calls_not_found`).
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
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Calls answered `noproc`, timed out or not found, plus deliveries to a stale process, as a fraction of all calls, against the kill rate.",
            x_desc: "kill rate (fraction of workers killed per tick)",
            y_desc: "failed + stale calls (fraction of calls)",
            split_by: &["workers", "clients"],
            ..Sweep::new(
                "churn-failed",
                "Failed and stale calls under churn",
                "kill_rate",
                &[Line::solid(&FAILED_STALE_PER_CALL)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time from a worker's exit until its name is free, in nanoseconds: solid p50, dashed p99.",
            x_desc: "kill rate (fraction of workers killed per tick)",
            y_desc: "latency (ns)",
            split_by: &["workers", "clients"],
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
            x_desc: "kill rate (fraction of workers killed per tick)",
            y_desc: "latency (ns)",
            split_by: &["workers", "clients"],
            notes: &["solid: p50, dashed: p99"],
            ..Sweep::new(
                "churn-reregister",
                "Re-registration after restart",
                "kill_rate",
                &[Line::solid(&REREGISTER_P50_NS), Line::dashed(&REREGISTER_P99_NS)],
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
        "Named workers under one `DynamicSupervisor`; clients call random names while a fraction of operations (the kill rate) kills the named worker instead, which the supervisor restarts under the same name; every outcome is counted, release and re-registration are timed, and after settling every name must have exactly one live owner.",
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
    /// Operations per client per kill rate.
    pub ops_per_client: usize,
    /// Fractions of operations that kill a worker instead of calling it.
    pub kill_rates: Vec<f64>,
}

impl ChurnSpec {
    /// The full run.
    pub fn full(clients: usize) -> Self {
        ChurnSpec {
            workers: 1_000,
            clients,
            ops_per_client: 50_000,
            kill_rates: vec![0.001, 0.01, 0.1],
        }
    }

    /// The quick run.
    pub fn quick(clients: usize) -> Self {
        ChurnSpec {
            workers: 200,
            clients,
            ops_per_client: 10_000,
            kill_rates: vec![0.01, 0.1],
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        ChurnSpec {
            workers: 16,
            clients: 2,
            ops_per_client: 400,
            kill_rates: vec![0.05],
        }
    }
}

/// What one churn run saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    noproc: AtomicU64,
    timeout: AtomicU64,
    not_found: AtomicU64,
    stale: AtomicU64,
    other: AtomicU64,
    kills: AtomicU64,
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
    let deadline = killed_at + Duration::from_secs(2);
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
    for &rate in &spec.kill_rates {
        progress.step(&format!("churn {label} kill_rate={rate}"));
        let p = Params::new()
            .with("workers", spec.workers)
            .with("clients", spec.clients)
            .with("kill_rate", rate);
        let rt_tokio = tokio_runtime(spec.clients);
        let rt = Runtime::new();
        let naming = match make_or_skip(&CHURN, contender, &rt_tokio, &rt, spec.workers, &p) {
            Ok(n) => n,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        let spec = spec.clone();
        let p2 = p.clone();
        rows.extend(run_on(&rt_tokio, async move {
            run_one(label, &p2, naming, rt, spec, rate).await
        }));
    }
    rows
}

async fn run_one<N: Naming>(
    label: &'static str,
    p: &Params,
    naming: N,
    rt: Runtime,
    spec: ChurnSpec,
    rate: f64,
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
    let bytes_before = live_bytes();
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(Mutex::new((histogram(), histogram())));
    let trackers = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(spec.clients + 1));
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            let (naming, names, tally, barrier, trackers) = (
                naming.clone(),
                names.clone(),
                tally.clone(),
                barrier.clone(),
                trackers.clone(),
            );
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(0xC4A7 + c as u64);
                barrier.wait().await;
                for i in 0..spec.ops_per_client {
                    let name = &names[rng.below(names.len())];
                    if rng.unit() < rate {
                        if let Some(victim) = naming.whereis(name).await {
                            let killed_at = Instant::now();
                            if victim.kill() {
                                tally.kills.fetch_add(1, Ordering::Relaxed);
                                let t = tokio::spawn(track(
                                    naming.clone(),
                                    name.clone(),
                                    victim.pid().serial(),
                                    killed_at,
                                ));
                                trackers.lock().push(t);
                            }
                        }
                        continue;
                    }
                    let Some(target) = naming.whereis(name).await else {
                        tally.not_found.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    if !target.is_alive() {
                        tally.stale.fetch_add(1, Ordering::Relaxed);
                    }
                    let counter = match target.call::<u64, u64>(i as u64, CALL_TIMEOUT).await {
                        Ok(_) => &tally.ok,
                        Err(CallError::NoProc) => &tally.noproc,
                        Err(CallError::Timeout) => &tally.timeout,
                        Err(CallError::BadRequest) => &tally.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    barrier.wait().await;
    let start = Instant::now();
    for c in clients {
        let _ = c.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let tracker_handles: Vec<_> = std::mem::take(&mut *trackers.lock());
    for t in tracker_handles {
        if let Ok((released, rereg)) = t.await {
            let mut l = latencies.lock();
            match released {
                Some(ns) => {
                    let _ = l.0.record(ns.max(1));
                }
                None => {
                    tally.never_released.fetch_add(1, Ordering::Relaxed);
                }
            }
            match rereg {
                Some(ns) => {
                    let _ = l.1.record(ns.max(1));
                }
                None => {
                    tally.never_reregistered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    // Settle: every worker back and named, then check the invariants.
    let workers = spec.workers;
    let settled = wait_until(Duration::from_secs(5), || {
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
    .await;
    let (unresolved, dead) = claims.mismatches(&naming).await;
    let bytes_after = live_bytes();
    let (release, rereg) = {
        let l = latencies.lock();
        (l.0.clone(), l.1.clone())
    };
    let t = &tally;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let total_ops = (spec.ops_per_client * spec.clients) as f64;
    let q = |h: &hdrhistogram::Histogram<u64>, at: f64| h.value_at_quantile(at) as f64;
    let mut rows = vec![
        row(&OPS_PER_SEC, total_ops / secs),
        row(&KILLS, g(&t.kills)),
        row(&CALLS_OK, g(&t.ok)),
        row(&CALLS_NOPROC, g(&t.noproc)),
        row(&CALLS_TIMEOUT, g(&t.timeout)),
        row(&CALLS_NOT_FOUND, g(&t.not_found)),
        row(&CALLS_BAD_REQUEST, g(&t.other)),
        row(&STALE_DELIVERIES, g(&t.stale)),
        row(&RELEASE_P50_NS, q(&release, 0.5)),
        row(&RELEASE_P99_NS, q(&release, 0.99)),
        row(&REREGISTER_P50_NS, q(&rereg, 0.5)),
        row(&REREGISTER_P99_NS, q(&rereg, 0.99)),
        row(&NEVER_RELEASED, g(&t.never_released)),
        row(&NEVER_REREGISTERED, g(&t.never_reregistered)),
        row(&DUPLICATE_OWNERS, claims.duplicates() as f64),
        row(&NAMES_UNRESOLVED_AFTER, unresolved as f64),
        row(&DEAD_NAMES_LEFT, dead as f64),
        row(&SETTLED, if settled { 1.0 } else { 0.0 }),
    ];
    // Failed (noproc, timeout, not found) and stale calls over every call made.
    let failed = g(&t.noproc) + g(&t.timeout) + g(&t.not_found);
    let calls = g(&t.ok) + failed;
    if calls > 0.0 {
        rows.push(row(&FAILED_STALE_PER_CALL, (failed + g(&t.stale)) / calls));
    }
    if let (Some(b), Some(a)) = (bytes_before, bytes_after) {
        rows.push(row(&BYTES_BEFORE, b as f64));
        rows.push(row(&BYTES_AFTER, a as f64));
    }
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
    rows
}

//! churn: clients route calls while workers are killed and restarted by their
//! `DynamicSupervisor`; counts every outcome and times release and re-registration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    CallError, DynamicSupervisor, DynamicSupervisorOpts, Intensity, Name, Runtime,
};
use naming_strategies::Naming;
use parking_lot::Mutex;
use tokio::sync::Barrier;

use super::common::{
    histogram, id_names, named_worker, params, run_on, tokio_runtime, wait_until, Claims,
    SplitMix64, CALL_TIMEOUT,
};
use super::Progress;
use crate::alloc::live_bytes;
use crate::contenders::Contender;
use crate::results::Row;

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
        let p = params(&[
            ("workers", spec.workers.to_string()),
            ("clients", spec.clients.to_string()),
            ("kill_rate", format!("{rate}")),
        ]);
        let rt_tokio = tokio_runtime(spec.clients);
        let rt = Runtime::new();
        let naming = match rt_tokio.block_on(contender.make(&rt, spec.workers)) {
            Ok(n) => n,
            Err(reason) => {
                rows.push(Row::skipped(label, "churn", &p, &reason));
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
    p: &str,
    naming: N,
    rt: Runtime,
    spec: ChurnSpec,
    rate: f64,
) -> Vec<Row> {
    let row =
        |metric: &str, value: f64, unit: &str| Row::new(label, "churn", p, metric, value, unit);
    let opts = DynamicSupervisorOpts {
        intensity: Intensity {
            max_restarts: u32::MAX,
            max_seconds: Duration::from_secs(1),
        },
        max_children: None,
    };
    let Ok(sup) = DynamicSupervisor::start(&rt, opts).await else {
        return vec![Row::skipped(
            label,
            "churn",
            p,
            "the supervisor did not start",
        )];
    };
    let claims = Claims::default();
    let names = Arc::new(id_names(spec.workers));
    for name in names.iter() {
        if let Err(e) = sup
            .start_child(named_worker(&naming, name.clone(), &claims))
            .await
        {
            sup.process().kill();
            return vec![Row::skipped(
                label,
                "churn",
                p,
                &format!("cannot start named workers: {e}"),
            )];
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
    let mut rows = vec![
        row("ops_per_sec", total_ops / secs, "ops/s"),
        row("kills", g(&t.kills), "kills"),
        row("calls_ok", g(&t.ok), "calls"),
        row("calls_noproc", g(&t.noproc), "calls"),
        row("calls_timeout", g(&t.timeout), "calls"),
        row("calls_not_found", g(&t.not_found), "calls"),
        row("calls_bad_request", g(&t.other), "calls"),
        row("stale_deliveries", g(&t.stale), "calls"),
        row(
            "release_p50_ns",
            release.value_at_quantile(0.5) as f64,
            "ns",
        ),
        row(
            "release_p99_ns",
            release.value_at_quantile(0.99) as f64,
            "ns",
        ),
        row(
            "reregister_p50_ns",
            rereg.value_at_quantile(0.5) as f64,
            "ns",
        ),
        row(
            "reregister_p99_ns",
            rereg.value_at_quantile(0.99) as f64,
            "ns",
        ),
        row("never_released", g(&t.never_released), "kills"),
        row("never_reregistered", g(&t.never_reregistered), "kills"),
        row("duplicate_owners", claims.duplicates() as f64, "names"),
        row("names_unresolved_after", unresolved as f64, "names"),
        row("dead_names_left", dead as f64, "names"),
        row("settled", if settled { 1.0 } else { 0.0 }, "bool"),
    ];
    if let (Some(b), Some(a)) = (bytes_before, bytes_after) {
        rows.push(row("bytes_before", b as f64, "bytes"));
        rows.push(row("bytes_after", a as f64, "bytes"));
    }
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
    rows
}

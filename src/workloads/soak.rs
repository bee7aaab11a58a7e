//! soak: sessions keyed by fresh ids come and go for many operations; after every phase the
//! invariants are checked and memory is recorded, so a leak (interned atoms) shows as drift.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use naming_strategies::runtime::{Name, ProcessRef, Runtime, StartOpts};
use naming_strategies::{via, Naming};
use parking_lot::Mutex;

use super::common::{
    kill_all, params, run_on, tokio_runtime, wait_until, SplitMix64, Worker, CALL_TIMEOUT,
};
use super::Progress;
use crate::alloc::live_bytes;
use crate::contenders::Contender;
use crate::results::Row;

/// What the soak workload measures.
#[derive(Clone, Debug)]
pub struct SoakSpec {
    /// Sessions alive at any time.
    pub sessions: usize,
    /// Phases (invariants are checked after each).
    pub phases: usize,
    /// Operations per phase, all clients together.
    pub ops_per_phase: usize,
    /// Fraction of operations that end a session and start a new one under a fresh id.
    pub replace_rate: f64,
    /// Concurrent clients.
    pub clients: usize,
}

impl SoakSpec {
    /// The full run: 1e6 operations.
    pub fn full(clients: usize) -> Self {
        SoakSpec {
            sessions: 1_000,
            phases: 10,
            ops_per_phase: 100_000,
            replace_rate: 0.02,
            clients,
        }
    }

    /// The quick run.
    pub fn quick(clients: usize) -> Self {
        SoakSpec {
            sessions: 200,
            phases: 5,
            ops_per_phase: 20_000,
            replace_rate: 0.02,
            clients,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        SoakSpec {
            sessions: 16,
            phases: 3,
            ops_per_phase: 600,
            replace_rate: 0.05,
            clients: 2,
        }
    }
}

/// Live sessions: slot -> (session id, process). Ids only ever grow.
type Slots = Arc<Vec<Mutex<(u64, Option<ProcessRef>)>>>;

fn session_name(id: u64) -> Name {
    Name::Tagged("session", id)
}

async fn start_session<N: Naming>(rt: &Runtime, naming: &N, id: u64) -> Result<ProcessRef, String> {
    let opts = StartOpts {
        register: Some(via(naming, session_name(id))),
        ..StartOpts::default()
    };
    rt.start_opts(Worker::plain(), opts)
        .await
        .map(|s| s.process().clone())
        .map_err(|e| e.to_string())
}

/// Runs the soak workload for one contender.
pub fn soak<C: Contender>(contender: &C, spec: &SoakSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = contender.label();
    let rt_tokio = tokio_runtime(spec.clients);
    let rt = Runtime::new();
    let p0 = params(&[("sessions", spec.sessions.to_string())]);
    let naming = match rt_tokio.block_on(contender.make(&rt, spec.sessions)) {
        Ok(n) => n,
        Err(reason) => return vec![Row::skipped(label, "soak", &p0, &reason)],
    };
    let spec = spec.clone();
    let mut rows = Vec::new();
    // Live sessions: slot -> (id, process). Fresh ids only ever grow.
    let slots: Slots = Arc::new((0..spec.sessions).map(|_| Mutex::new((0, None))).collect());
    let next_id = Arc::new(AtomicU64::new(0));
    let started = run_on(&rt_tokio, {
        let (naming, rt, slots, next_id) =
            (naming.clone(), rt.clone(), slots.clone(), next_id.clone());
        async move {
            for slot in slots.iter() {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let p = start_session(&rt, &naming, id).await?;
                *slot.lock() = (id, Some(p));
            }
            Ok::<(), String>(())
        }
    });
    if let Err(reason) = started {
        return vec![Row::skipped(
            label,
            "soak",
            &p0,
            &format!("cannot start sessions: {reason}"),
        )];
    }
    for phase in 0..=spec.phases {
        let p = params(&[
            ("sessions", spec.sessions.to_string()),
            ("phase", phase.to_string()),
            ("ops", (phase * spec.ops_per_phase).to_string()),
        ]);
        if phase > 0 {
            progress.step(&format!("soak {label} phase {phase}/{}", spec.phases));
            let failure = run_on(&rt_tokio, {
                let (naming, rt, slots, next_id, spec) = (
                    naming.clone(),
                    rt.clone(),
                    slots.clone(),
                    next_id.clone(),
                    spec.clone(),
                );
                async move { run_phase(naming, rt, slots, next_id, spec, phase).await }
            });
            if let Some(reason) = failure {
                rows.push(Row::skipped(label, "soak", &p, &reason));
                break;
            }
        }
        // Invariants after the phase.
        let (registered, dead_left, wrong_owner) = run_on(&rt_tokio, {
            let (naming, slots, next_id) = (naming.clone(), slots.clone(), next_id.clone());
            let sessions = spec.sessions;
            async move {
                let settled = {
                    let naming = naming.clone();
                    wait_until(Duration::from_secs(5), move || {
                        let naming = naming.clone();
                        async move { naming.registered_count().await == sessions }
                    })
                    .await
                };
                let _ = settled;
                let live: Vec<(u64, Option<ProcessRef>)> =
                    slots.iter().map(|s| s.lock().clone()).collect();
                let mut wrong_owner = 0u64;
                for (id, p) in &live {
                    let owner = naming.whereis(&session_name(*id)).await.map(|q| q.pid());
                    if owner != p.as_ref().map(|p| p.pid()) {
                        wrong_owner += 1;
                    }
                }
                // Every id ever used that is not live must be released.
                let live_ids: std::collections::HashSet<u64> =
                    live.iter().map(|(id, _)| *id).collect();
                let mut dead_left = 0u64;
                for id in 0..next_id.load(Ordering::Relaxed) {
                    if !live_ids.contains(&id) && naming.whereis(&session_name(id)).await.is_some()
                    {
                        dead_left += 1;
                    }
                }
                (naming.registered_count().await, dead_left, wrong_owner)
            }
        });
        let row =
            |metric: &str, value: f64, unit: &str| Row::new(label, "soak", &p, metric, value, unit);
        rows.push(row("registered", registered as f64, "names"));
        rows.push(row("dead_names_left", dead_left as f64, "names"));
        rows.push(row("wrong_owner", wrong_owner as f64, "names"));
        rows.push(row(
            "sessions_started",
            next_id.load(Ordering::Relaxed) as f64,
            "sessions",
        ));
        if let Some(b) = live_bytes() {
            rows.push(row("live_bytes", b as f64, "bytes"));
        }
        for (g, v) in naming.gauges() {
            rows.push(row(g, v, "count"));
        }
    }
    let procs: Vec<ProcessRef> = slots.iter().filter_map(|s| s.lock().1.clone()).collect();
    run_on(&rt_tokio, async move { kill_all(&procs).await });
    rows
}

/// One phase: calls to random sessions; some operations end a session and start another.
async fn run_phase<N: Naming>(
    naming: N,
    rt: Runtime,
    slots: Slots,
    next_id: Arc<AtomicU64>,
    spec: SoakSpec,
    phase: usize,
) -> Option<String> {
    let per_client = spec.ops_per_phase / spec.clients.max(1);
    let handles: Vec<_> = (0..spec.clients)
        .map(|c| {
            let (naming, rt, slots, next_id) =
                (naming.clone(), rt.clone(), slots.clone(), next_id.clone());
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(((phase as u64) << 32) ^ c as u64 ^ 0x50A4);
                for i in 0..per_client {
                    let slot = &slots[rng.below(slots.len())];
                    if rng.unit() < spec.replace_rate {
                        // Taking the process claims the slot; another client replacing it
                        // already leaves it empty, and this one moves on.
                        let old = slot.lock().1.take();
                        let Some(old) = old else { continue };
                        let exited = old.exited();
                        old.kill();
                        exited.await;
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        match start_session(&rt, &naming, id).await {
                            Ok(p) => *slot.lock() = (id, Some(p)),
                            Err(reason) => return Some(reason),
                        }
                    } else {
                        let id = slot.lock().0;
                        let _: Result<u64, _> =
                            naming.call(&session_name(id), i as u64, CALL_TIMEOUT).await;
                    }
                }
                None
            })
        })
        .collect();
    let mut failure = None;
    for h in handles {
        if let Ok(Some(reason)) = h.await {
            failure = Some(reason);
        }
    }
    failure
}

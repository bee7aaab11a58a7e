//! soak: sessions keyed by fresh ids come and go for many operations; after every phase the
//! invariants are checked and memory is recorded, so a leak (interned atoms) shows as drift.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use naming_schema::{
    Better, Chart, Column, Line, Metric, Params, Row, Subject, Sweep, Unit, Workload,
};
use naming_strategies::runtime::{Name, ProcessRef, Runtime, StartOpts};
use naming_strategies::{via, Naming};
use parking_lot::Mutex;

use super::common::{
    self, gauge_rows, heap_row, kill_all, make_or_skip, run_on, tokio_runtime, wait_until,
    SplitMix64, Worker, CALL_TIMEOUT,
};
use super::Progress;
use crate::alloc::{counted_bytes, flush_deferred_frees, Counting};
use crate::contenders::Contender;

/// Names the backend holds after the phase (must stay at the number of live sessions).
pub const REGISTERED: Metric = Metric::new(
    "registered",
    "registered names",
    Unit::Count,
    Better::Neither,
);
/// Names of ended sessions the backend still resolves after the phase.
pub const DEAD_NAMES_LEFT: Metric =
    Metric::must_be_zero("dead_names_left", "names of ended sessions left");
/// Live sessions whose name the backend resolves to another process, or to none.
pub const WRONG_OWNER: Metric =
    Metric::must_be_zero("wrong_owner", "live sessions resolved to the wrong owner");
/// Sessions started so far (fresh ids used).
pub const SESSIONS_STARTED: Metric = Metric::new(
    "sessions_started",
    "sessions started",
    Unit::Count,
    Better::Neither,
);
/// Heap bytes the soak holds after the phase: counted (the counting allocator is on for
/// the whole soak, which times nothing) from just before the backend was made, deferred
/// frees flushed before each reading. Not the process heap.
pub const LIVE_BYTES: Metric = Metric::new(
    "live_bytes",
    "heap held since the soak began",
    Unit::Bytes,
    Better::Lower,
);
/// Growth of the same since phase 0 (`live_bytes` at phase i minus at phase 0): flat is
/// good, growth a leak; negative where the heap shrank.
pub const LIVE_BYTES_GROWTH: Metric = Metric::new(
    "live_bytes_growth",
    "heap growth since phase 0",
    Unit::Bytes,
    Better::Lower,
)
.signed();

/// The soak workload: sessions under fresh ids coming and going for many operations, the
/// invariants and the heap checked after every phase.
pub const SOAK: Workload = Workload {
    metrics: &[
        &REGISTERED,
        &DEAD_NAMES_LEFT,
        &WRONG_OWNER,
        &SESSIONS_STARTED,
        &LIVE_BYTES,
        &LIVE_BYTES_GROWTH,
        &common::ATOM_COUNT,
        &common::ATOM_BYTES,
        &common::STALE_LOOKUPS,
        &common::TRACKED_PROCESSES,
        &common::AWAITING,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Heap growth since phase 0 (counting allocator, deferred frees flushed before each reading) at the end of each soak phase: flat is good, growth is a leak.",
            x_desc: "soak phase (index)",
            y_desc: "heap growth since phase 0 (bytes)",
            split_by: &["sessions"],
            ..Sweep::new(
                "soak-memory",
                "Heap growth over soak phases",
                "phase",
                &[Line::solid(&LIVE_BYTES_GROWTH)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Names registered at the end of each phase.",
            x_desc: "soak phase (index)",
            y_desc: "registered names (count)",
            split_by: &["sessions"],
            ..Sweep::new(
                "soak-registered",
                "Registered names over soak phases",
                "phase",
                &[Line::solid(&REGISTERED)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Atoms in the (never collected) atom table at the end of each phase, dynamic-atom backends only.",
            x_desc: "soak phase (index)",
            y_desc: "atoms in the table (count)",
            split_by: &["sessions"],
            ..Sweep::new(
                "soak-atoms",
                "Atoms created over soak phases",
                "phase",
                &[Line::solid(&common::ATOM_COUNT)],
            )
        }),
    ],
    columns: &[
        Column::new(&LIVE_BYTES_GROWTH, "soak heap growth"),
        Column::new(&DEAD_NAMES_LEFT, "dead names left"),
    ],
    ..Workload::new(
        "soak",
        "Soak",
        "Sessions keyed by fresh ids: a fraction of operations end a session and start another under a new id, the rest call a live one; after every phase each live session must resolve to its own process, no ended session may resolve at all, and the heap the soak holds is counted (deferred frees flushed first) and its growth since phase 0 recorded, so a leak (interned atoms) shows as drift.",
        Subject::NamingBackends,
    )
};

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
    Name::tagged("session", id)
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
    let p0 = Params::new().with("sessions", spec.sessions);
    // Counting on for the whole soak (it times nothing), from after the set-up's deferred
    // frees have landed: every reading is a difference from `start`.
    run_on(&rt_tokio, flush_deferred_frees());
    let _counting = Counting::start();
    let start = counted_bytes();
    let mut phase0: Option<isize> = None;
    let naming = match make_or_skip(&SOAK, contender, &rt_tokio, &rt, spec.sessions, &p0) {
        Ok(n) => n,
        Err(skip) => return vec![*skip],
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
        return vec![SOAK.skip(label, &p0, &format!("cannot start sessions: {reason}"))];
    }
    for phase in 0..=spec.phases {
        let p = p0
            .clone()
            .with("phase", phase)
            .with("ops", phase * spec.ops_per_phase);
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
                rows.push(SOAK.skip(label, &p, &reason));
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
        let check = PhaseCheck {
            registered,
            dead_left,
            wrong_owner,
            sessions_started: next_id.load(Ordering::Relaxed),
        };
        rows.extend(check.rows(label, &p));
        let now = run_on(&rt_tokio, async {
            flush_deferred_frees().await;
            counted_bytes()
        });
        if let (Some(start), Some(now)) = (start, now) {
            rows.extend(heap_rows(label, &p, now - start, &mut phase0));
        }
        rows.extend(gauge_rows(&SOAK, label, &p, naming.gauges()));
    }
    let procs: Vec<ProcessRef> = slots.iter().filter_map(|s| s.lock().1.clone()).collect();
    run_on(&rt_tokio, async move { kill_all(&procs).await });
    rows
}

/// What the invariants say after one phase.
#[derive(Clone, Copy, Debug)]
pub struct PhaseCheck {
    /// Names the backend holds.
    pub registered: usize,
    /// Names of ended sessions it still resolves.
    pub dead_left: u64,
    /// Live sessions it resolves to another process, or to none.
    pub wrong_owner: u64,
    /// Sessions started so far.
    pub sessions_started: u64,
}

impl PhaseCheck {
    /// The phase's invariant rows for `label` at `p`.
    pub fn rows(&self, label: &str, p: &Params) -> Vec<Row> {
        let row = |metric: &Metric, value: f64| SOAK.row(label, p, metric, value);
        vec![
            row(&REGISTERED, self.registered as f64),
            row(&DEAD_NAMES_LEFT, self.dead_left as f64),
            row(&WRONG_OWNER, self.wrong_owner as f64),
            row(&SESSIONS_STARTED, self.sessions_started as f64),
        ]
    }
}

/// The heap rows of one phase from `held`, the bytes counted since the soak began: the
/// reading (a skip row below zero, which frees of allocations made before the soak can
/// cause) and its growth since the first phase that read at or above zero (`phase0`).
pub fn heap_rows(label: &str, p: &Params, held: isize, phase0: &mut Option<isize>) -> Vec<Row> {
    let mut rows = vec![heap_row(&SOAK, label, p, "reading", &LIVE_BYTES, held)];
    if held >= 0 {
        let first = *phase0.get_or_insert(held);
        rows.push(SOAK.row(label, p, &LIVE_BYTES_GROWTH, (held - first) as f64));
    }
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

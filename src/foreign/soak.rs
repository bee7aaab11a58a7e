//! The soak workload over [`ActorSystem`], for in-process actor frameworks: the suite's soak
//! (`workloads::soak`) with the framework's own operations. Sessions named by fresh ids
//! come and go for many operations; after every phase each live session must resolve to its
//! own actor, no ended session may resolve at all, and the heap the soak holds is counted
//! (deferred frees flushed first), so a registry that keeps something per name ever used
//! shows as drift. Same metrics, parameters and phases as the suite's backends.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use naming_schema::{Params, Row};
use parking_lot::Mutex;

use super::actor_system::ActorSystem;
use crate::alloc::{counted_bytes, flush_deferred_frees, Counting};
use crate::workloads::common::CALL_TIMEOUT;
use crate::workloads::common::{run_on, tokio_runtime, wait_until, SplitMix64};
use crate::workloads::soak::{self, heap_rows, PhaseCheck, SoakSpec, SOAK};
use crate::workloads::Progress;

/// Live sessions: slot -> (session id, actor). Ids only ever grow.
type Slots<H> = Arc<Vec<Mutex<(u64, Option<H>)>>>;

/// The framework's name for session `id` under this soak's `prefix`.
fn session_name(prefix: &str, id: u64) -> String {
    format!("{prefix}session-{id}")
}

/// Runs the soak workload for `system`; names carry `prefix` (fresh for this run, the
/// frameworks' registries being global to the process).
pub fn soak<S: ActorSystem>(
    system: Arc<S>,
    prefix: String,
    spec: &SoakSpec,
    progress: &dyn Progress,
) -> Vec<Row> {
    let label = system.label();
    let rt = tokio_runtime(spec.clients);
    let p0 = Params::new().with("sessions", spec.sessions);
    // Counting on for the whole soak (it times nothing); every reading is a difference
    // from `start`, taken after the set-up's deferred frees have landed.
    run_on(&rt, flush_deferred_frees());
    let _counting = Counting::start();
    let start = counted_bytes();
    let mut phase0: Option<isize> = None;
    let prefix = Arc::new(prefix);
    let slots: Slots<S::Handle> =
        Arc::new((0..spec.sessions).map(|_| Mutex::new((0, None))).collect());
    let next_id = Arc::new(AtomicU64::new(0));
    let started = run_on(&rt, {
        let (system, prefix, slots, next_id) = (
            system.clone(),
            prefix.clone(),
            slots.clone(),
            next_id.clone(),
        );
        async move {
            for slot in slots.iter() {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let h = system
                    .start_named(&session_name(&prefix, id))
                    .await
                    .map_err(|e| e.to_string())?;
                *slot.lock() = (id, Some(h));
            }
            Ok::<(), String>(())
        }
    });
    if let Err(reason) = started {
        stop_sessions(&rt, &system, &slots);
        return vec![SOAK.skip(label, &p0, &format!("cannot start sessions: {reason}"))];
    }
    let mut rows = Vec::new();
    for phase in 0..=spec.phases {
        let p = p0
            .clone()
            .with("phase", phase)
            .with("ops", phase * spec.ops_per_phase);
        if phase > 0 {
            progress.step(&format!("soak {label} phase {phase}/{}", spec.phases));
            let failure = run_on(
                &rt,
                run_phase(
                    system.clone(),
                    prefix.clone(),
                    slots.clone(),
                    next_id.clone(),
                    spec.clone(),
                    phase,
                ),
            );
            if let Some(reason) = failure {
                rows.push(SOAK.skip(label, &p, &reason));
                break;
            }
        }
        let (registered, dead_left, wrong_owner) = run_on(
            &rt,
            check_invariants(
                system.clone(),
                prefix.clone(),
                slots.clone(),
                next_id.load(Ordering::Relaxed),
            ),
        );
        let check = PhaseCheck {
            registered,
            dead_left,
            wrong_owner,
            sessions_started: next_id.load(Ordering::Relaxed),
        };
        rows.extend(check.rows(label, &p));
        let now = run_on(&rt, async {
            flush_deferred_frees().await;
            counted_bytes()
        });
        match (start, now) {
            (Some(start), Some(now)) => rows.extend(heap_rows(label, &p, now - start, &mut phase0)),
            _ => rows.push(SOAK.skip(
                label,
                &p.clone().with("reading", soak::LIVE_BYTES.name),
                "heap not measured: this process has no counting allocator",
            )),
        }
    }
    stop_sessions(&rt, &system, &slots);
    rows
}

/// Kills every live session and waits for each to exit.
fn stop_sessions<S: ActorSystem>(
    rt: &tokio::runtime::Runtime,
    system: &Arc<S>,
    slots: &Slots<S::Handle>,
) {
    let live: Vec<S::Handle> = slots.iter().filter_map(|s| s.lock().1.take()).collect();
    let system = system.clone();
    run_on(rt, async move {
        for h in &live {
            system.kill(h);
        }
        for h in &live {
            system.exited(h).await;
        }
    });
}

/// After a phase: (names registered, names of ended sessions still resolving, live
/// sessions resolving to another actor or none).
async fn check_invariants<S: ActorSystem>(
    system: Arc<S>,
    prefix: Arc<String>,
    slots: Slots<S::Handle>,
    ids_used: u64,
) -> (usize, u64, u64) {
    let sessions = slots.len();
    let settled = {
        let (system, prefix) = (system.clone(), prefix.clone());
        wait_until(Duration::from_secs(5), move || {
            let done = system.registered_count(&prefix) == sessions;
            async move { done }
        })
        .await
    };
    let _ = settled;
    let live: Vec<(u64, Option<S::Handle>)> = slots.iter().map(|s| s.lock().clone()).collect();
    let mut wrong_owner = 0u64;
    for (id, h) in &live {
        let owner = system
            .whereis(&session_name(&prefix, *id))
            .map(|q| system.id(&q));
        if owner != h.as_ref().map(|h| system.id(h)) {
            wrong_owner += 1;
        }
    }
    let live_ids: HashSet<u64> = live.iter().map(|(id, _)| *id).collect();
    let dead_left = (0..ids_used)
        .filter(|id| !live_ids.contains(id))
        .filter(|id| system.whereis(&session_name(&prefix, *id)).is_some())
        .count() as u64;
    (system.registered_count(&prefix), dead_left, wrong_owner)
}

/// One phase: calls (a lookup by name, then a call) to random sessions; a share of the
/// operations kill a session and start another under a fresh id. The first failure to
/// start a session, as text.
async fn run_phase<S: ActorSystem>(
    system: Arc<S>,
    prefix: Arc<String>,
    slots: Slots<S::Handle>,
    next_id: Arc<AtomicU64>,
    spec: SoakSpec,
    phase: usize,
) -> Option<String> {
    let per_client = spec.ops_per_phase / spec.clients.max(1);
    let handles: Vec<_> = (0..spec.clients)
        .map(|c| {
            let (system, prefix, slots, next_id) = (
                system.clone(),
                prefix.clone(),
                slots.clone(),
                next_id.clone(),
            );
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(((phase as u64) << 32) ^ c as u64 ^ 0x50A4);
                for i in 0..per_client {
                    let slot = &slots[rng.below(slots.len())];
                    if rng.unit() < spec.replace_rate {
                        // Taking the actor claims the slot; another client replacing it
                        // already leaves it empty, and this one moves on.
                        let old = slot.lock().1.take();
                        let Some(old) = old else { continue };
                        system.kill(&old);
                        system.exited(&old).await;
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        match system.start_named(&session_name(&prefix, id)).await {
                            Ok(h) => *slot.lock() = (id, Some(h)),
                            Err(e) => return Some(format!("cannot start a session: {e}")),
                        }
                    } else {
                        let id = slot.lock().0;
                        if let Some(h) = system.whereis(&session_name(&prefix, id)) {
                            let _ = system.call(&h, i as u64, CALL_TIMEOUT).await;
                        }
                    }
                }
                None
            })
        })
        .collect();
    let mut failure = None;
    for h in handles {
        match h.await {
            Ok(Some(reason)) => failure = Some(reason),
            Ok(None) => {}
            Err(e) => failure = Some(format!("a soak client failed: {e}")),
        }
    }
    failure
}

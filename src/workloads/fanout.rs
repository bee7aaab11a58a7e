//! fan-out: send to every holder of a property / duplicate key with M members; time until
//! all have received it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{Ctx, Envelope, Name, Runtime};
use naming_strategies::{Capability, Naming};
use tokio::sync::Notify;

use super::common::{kill_all, params, run_on, spread, tokio_runtime};
use super::Progress;
use crate::contenders::Contender;
use crate::results::Row;

/// What the fan-out workload measures.
#[derive(Clone, Debug)]
pub struct FanOutSpec {
    /// Group sizes.
    pub members: Vec<usize>,
    /// Dispatches per size.
    pub repeats: usize,
    /// Worker threads.
    pub threads: usize,
}

impl FanOutSpec {
    /// The full run.
    pub fn full(threads: usize) -> Self {
        FanOutSpec {
            members: vec![1, 10, 100, 1_000, 10_000],
            repeats: 30,
            threads,
        }
    }

    /// The quick run.
    pub fn quick(threads: usize) -> Self {
        FanOutSpec {
            members: vec![1, 10, 100, 1_000, 10_000],
            repeats: 7,
            threads,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        FanOutSpec {
            members: vec![1, 8],
            repeats: 2,
            threads: 2,
        }
    }
}

#[derive(Clone)]
struct Ping;

/// Runs the fan-out workload for one contender.
pub fn fanout<C: Contender>(contender: &C, spec: &FanOutSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = contender.label();
    let mut rows = Vec::new();
    for &members in &spec.members {
        progress.step(&format!("fanout {label} members={members}"));
        let p = params(&[("members", members.to_string())]);
        let rt_tokio = tokio_runtime(spec.threads);
        let rt = Runtime::new();
        let naming = match rt_tokio.block_on(contender.make(&rt, members)) {
            Ok(n) => n,
            Err(reason) => {
                rows.push(Row::skipped(label, "fanout", &p, &reason));
                continue;
            }
        };
        if !naming.capabilities().has(Capability::DuplicateKeys) {
            rows.push(Row::skipped(
                label,
                "fanout",
                &p,
                "no duplicate keys or properties: one process per name",
            ));
            continue;
        }
        let repeats = spec.repeats;
        rows.extend(run_on(&rt_tokio, async move {
            measure(label, &p, naming, rt, members, repeats).await
        }));
    }
    rows
}

async fn measure<N: Naming>(
    label: &str,
    p: &str,
    naming: N,
    rt: Runtime,
    members: usize,
    repeats: usize,
) -> Vec<Row> {
    let remaining = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let group = Name::Tagged("group", 1);
    let mut procs = Vec::with_capacity(members);
    for _ in 0..members {
        let (remaining, done) = (remaining.clone(), done.clone());
        let member = rt.spawn(move |mut ctx: Ctx| async move {
            loop {
                if let Envelope::Info(m) = ctx.recv().await {
                    if m.is::<Ping>() && remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                        done.notify_one();
                    }
                }
            }
        });
        if let Err(e) = naming.join(group.clone(), &member).await {
            kill_all(&procs).await;
            member.kill();
            return vec![Row::skipped(
                label,
                "fanout",
                p,
                &format!("join failed: {e}"),
            )];
        }
        procs.push(member);
    }
    let mut samples = Vec::new();
    let mut short = 0;
    for _ in 0..repeats {
        remaining.store(members, Ordering::Release);
        let start = Instant::now();
        match naming.dispatch(&group, Ping).await {
            Ok(n) if n == members => {}
            Ok(_) | Err(_) => short += 1,
        }
        if tokio::time::timeout(Duration::from_secs(10), done.notified())
            .await
            .is_err()
        {
            short += 1;
            continue;
        }
        samples.push(start.elapsed().as_nanos() as f64);
    }
    kill_all(&procs).await;
    let (median, min, max) = spread(&mut samples);
    vec![
        Row::new(label, "fanout", p, "dispatch_all_received_ns", median, "ns"),
        Row::new(
            label,
            "fanout",
            p,
            "dispatch_all_received_ns_min",
            min,
            "ns",
        ),
        Row::new(
            label,
            "fanout",
            p,
            "dispatch_all_received_ns_max",
            max,
            "ns",
        ),
        Row::new(
            label,
            "fanout",
            p,
            "short_dispatches",
            short as f64,
            "dispatches",
        ),
    ]
}

//! fan-out: send to every holder of a property / duplicate key with M members; time until
//! all have received it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Better, Chart, Column, Extreme, Judge, Line, Metric, Params, Row, Situation, Subject, Sweep,
    Unit, Workload,
};
use naming_strategies::runtime::{Ctx, Envelope, Name, Runtime};
use naming_strategies::{Capability, Naming};
use tokio::sync::Notify;

use super::common::{kill_all, make_or_skip, run_on, spread, tokio_runtime};
use super::Progress;
use crate::contenders::Contender;

/// Time from dispatch to the last member's receipt: the median of the repeats, with the
/// fastest and the slowest as its interval.
pub const DISPATCH_ALL_RECEIVED_NS: Metric = Metric::new(
    "dispatch_all_received_ns",
    "time until every member received",
    Unit::Ns,
    Better::Lower,
);
/// Dispatches that reached fewer than every member (or not within 10 s).
pub const SHORT_DISPATCHES: Metric =
    Metric::must_be_zero("short_dispatches", "dispatches that missed members");

/// The fan-out workload: one message to every member of a group.
pub const FANOUT: Workload = Workload {
    metrics: &[
        &DISPATCH_ALL_RECEIVED_NS,
        &SHORT_DISPATCHES,
    ],
    charts: &[Chart::Sweep(Sweep {
        caption: "Time from dispatch to the last member's receipt, median with min..max whiskers, in nanoseconds, against the group size.",
        x_desc: "group members M (count)",
        y_desc: "time until all received (ns)",
        ..Sweep::new(
            "fanout",
            "Dispatch to a group until every member received",
            "members",
            &[Line::solid(&DISPATCH_ALL_RECEIVED_NS)],
        )
    })],
    columns: &[Column::new(&DISPATCH_ALL_RECEIVED_NS, "fan-out to all")],
    judges: &[Judge {
        situation: Situation::PubSubGroups,
        rank: 0,
        metric: &DISPATCH_ALL_RECEIVED_NS,
        at: ("members", Extreme::Max),
        prefer: &[],
        tiebreak: None,
    }],
    ..Workload::new(
        "fanout",
        "Fan-out",
        "M processes join one group (a gproc property, a duplicate Registry key); one dispatch sends to all of them, timed until the last one has received it. Backends with one process per name skip, saying so.",
        Subject::NamingBackends,
    )
};

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
        let p = Params::new().with("members", members);
        let rt_tokio = tokio_runtime(spec.threads);
        let rt = Runtime::new();
        let naming = match make_or_skip(&FANOUT, contender, &rt_tokio, &rt, members, &p) {
            Ok(n) => n,
            Err(skip) => {
                rows.push(*skip);
                continue;
            }
        };
        if !naming.capabilities().has(Capability::DuplicateKeys) {
            rows.push(FANOUT.skip(
                label,
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
    p: &Params,
    naming: N,
    rt: Runtime,
    members: usize,
    repeats: usize,
) -> Vec<Row> {
    let remaining = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let group = Name::tagged("group", 1);
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
            return vec![FANOUT.skip(label, p, &format!("join failed: {e}"))];
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
    let n = samples.len() as u32;
    vec![
        FANOUT
            .row(label, p, &DISPATCH_ALL_RECEIVED_NS, median)
            .over(n, (min, max)),
        FANOUT.row(label, p, &SHORT_DISPATCHES, short as f64),
    ]
}

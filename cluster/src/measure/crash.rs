//! `multinode-crash`: a node holding names in every distributed backend is killed with
//! SIGKILL; how long until a surviving node no longer finds its names, and whether a
//! survivor can then register them again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use naming_schema::{Bars, Better, Chart, Column, Filter, Metric, Params, Row};
use naming_schema::{Extreme, Judge, Situation, Subject, Unit, Workload, YScale};

use super::{spawn_named, whereis, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::Backend;

/// Time from the SIGKILL until no survivor finds any of the dead node's names.
pub const RELEASE_MS: Metric = Metric::new(
    "release_ms",
    "names released after a node crash",
    Unit::Ms,
    Better::Lower,
);
/// Fraction of the dead node's names a survivor could register again afterwards.
pub const REREGISTERED_RATIO: Metric = Metric::new(
    "reregistered_ratio",
    "names registered again on a survivor",
    Unit::Fraction,
    Better::Higher,
)
.with_ideal(1.0);

/// A node crashes: release of its names and their re-registration elsewhere.
pub const MULTINODE_CRASH: Workload = Workload {
    metrics: &[&RELEASE_MS, &REREGISTERED_RATIO],
    charts: &[Chart::Bars(Bars {
        id: "multinode-crash",
        title: "Node killed: time until its names are released elsewhere",
        caption: "A node holding names in every backend is killed with SIGKILL; time until a surviving node no longer finds any of them, in milliseconds. etcd releases with the lease TTL, gossip and the ring with failure detection.",
        y_desc: "time from SIGKILL until no survivor finds the names (ms)",
        groups: &[(&RELEASE_MS, "names released")],
        filter: Filter::All,
        y: YScale::Fit,
    })],
    columns: &[Column::new(&RELEASE_MS, "release after a crash")],
    judges: &[Judge {
        situation: Situation::NodeCrash,
        rank: 0,
        metric: &RELEASE_MS,
        at: ("nodes", Extreme::Max),
        prefer: &[],
        tiebreak: None,
    }],
    ..Workload::new(
        "multinode-crash",
        "Multi-node: a node crashes",
        "A node registers names in every distributed backend and is killed with SIGKILL; a survivor polls `whereis` until none of them is found, then registers them again.",
        Subject::Distributed,
    )
};

/// What a node crash did to one backend's names.
#[derive(Clone, Debug)]
pub struct CrashOutcome {
    /// The backend.
    pub backend: Backend,
    /// Names the crashed node held.
    pub names: usize,
    /// Time from the crash until no survivor saw any of them; `None`: not within the deadline.
    pub released_after: Option<Duration>,
    /// How many of them a survivor could then register again.
    pub reregistered: usize,
}

/// Registers `names` names per backend on `victim`, kills its OS process, and measures on
/// `observer` how long until the names are released and whether they can be taken again.
pub async fn crash_release(
    cluster: &mut Cluster,
    backends: &[Backend],
    victim: u32,
    observer: u32,
    names: usize,
    deadline: Duration,
) -> Result<Vec<CrashOutcome>, ClusterError> {
    let mut held: Vec<(Backend, Vec<String>)> = Vec::new();
    for &b in backends {
        let mut list = Vec::new();
        for i in 0..names {
            let name = format!("crash-{}-{i}", b.label());
            if let Ok(pid) = spawn_named(cluster, victim, b, &name).await? {
                // Known on the observer before the crash, so the release is what is timed.
                let t0 = Instant::now();
                while t0.elapsed() < deadline
                    && whereis(cluster, observer, b, &name).await? != Some(pid)
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                list.push(name);
            }
        }
        held.push((b, list));
    }
    let t0 = Instant::now();
    cluster.crash(victim).await?;
    let mut released: HashMap<Backend, Duration> = HashMap::new();
    while released.len() < held.len() && t0.elapsed() < deadline {
        for (b, list) in &held {
            if released.contains_key(b) {
                continue;
            }
            let mut any = false;
            for name in list {
                if whereis(cluster, observer, *b, name).await?.is_some() {
                    any = true;
                    break;
                }
            }
            if !any {
                released.insert(*b, t0.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut out = Vec::new();
    for (b, list) in held {
        let mut again = 0;
        for name in &list {
            if spawn_named(cluster, observer, b, name).await?.is_ok() {
                again += 1;
            }
        }
        out.push(CrashOutcome {
            backend: b,
            names: list.len(),
            released_after: released.get(&b).copied(),
            reregistered: again,
        });
    }
    Ok(out)
}

/// The rows of [`MULTINODE_CRASH`]: `victim` holds `spec.crash_names` names in each of
/// `backends` and is killed; `observer` times the release and registers the names again.
pub(super) async fn crash_rows(
    cluster: &mut Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    (victim, observer): (u32, u32),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_CRASH;
    let outcomes = crash_release(
        cluster,
        backends,
        victim,
        observer,
        spec.crash_names,
        spec.deadline,
    )
    .await?;
    let params = base.clone().with("names", spec.crash_names);
    let mut rows = vec![w.skip(
        Backend::Local.label(),
        &params,
        "a single-node registry: a crashed node takes its registry with it",
    )];
    for o in outcomes {
        let b = o.backend.label();
        match o.released_after {
            Some(d) => rows.push(w.row(b, &params, &RELEASE_MS, d.as_secs_f64() * 1e3)),
            None => rows.push(w.skip(b, &params, "names not released within the deadline")),
        }
        let again = o.reregistered as f64 / o.names.max(1) as f64;
        rows.push(w.row(b, &params, &REREGISTERED_RATIO, again));
    }
    Ok(rows)
}

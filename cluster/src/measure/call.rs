//! `multinode-call`: the latency of a lookup plus a call through a name, measured inside a
//! node, to a worker on the same node and to a worker on another node (a real socket
//! between two OS processes), beside the floor under any cross-node call: a bare RPC round
//! trip between the same two nodes over the same transport.

use std::time::Duration;

use naming_schema::{Bars, Better, Chart, Column, Filter, Identity, Metric, Params, Row};
use naming_schema::{Extreme, Judge, Situation, Subject, Unit, Workload, YScale};

use super::{control, ctx, spawn_named, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::{Backend, ProbeReport};

/// The transport floor: a bare RPC round trip between two nodes, with no naming layer.
/// Its rows carry the cross-node latency metrics of [`MULTINODE_CALL`].
pub const RPC_FLOOR: Identity = Identity::floor("floor-rpc-roundtrip");

/// Median lookup + call latency to a worker on the caller's own node.
pub const SAME_P50: Metric = Metric::new(
    "same_p50_ns",
    "lookup + call p50, same node",
    Unit::Ns,
    Better::Lower,
);
/// 99th-percentile lookup + call latency to a worker on the caller's own node.
pub const SAME_P99: Metric = Metric::new(
    "same_p99_ns",
    "lookup + call p99, same node",
    Unit::Ns,
    Better::Lower,
);
/// Mean lookup + call latency to a worker on the caller's own node.
pub const SAME_MEAN: Metric = Metric::new(
    "same_mean_ns",
    "lookup + call mean, same node",
    Unit::Ns,
    Better::Lower,
);
/// Fraction of same-node calls that failed or found no process (names settled, so ideally 0).
pub const SAME_FAILED: Metric = Metric::new(
    "same_failed_ratio",
    "calls failed or not found, same node",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);
/// Median lookup + call latency to a worker on another node.
pub const CROSS_P50: Metric = Metric::new(
    "cross_p50_ns",
    "lookup + call p50, cross node",
    Unit::Ns,
    Better::Lower,
);
/// 99th-percentile lookup + call latency to a worker on another node.
pub const CROSS_P99: Metric = Metric::new(
    "cross_p99_ns",
    "lookup + call p99, cross node",
    Unit::Ns,
    Better::Lower,
);
/// Mean lookup + call latency to a worker on another node.
pub const CROSS_MEAN: Metric = Metric::new(
    "cross_mean_ns",
    "lookup + call mean, cross node",
    Unit::Ns,
    Better::Lower,
);
/// Fraction of cross-node calls that failed or found no process (ideally 0).
pub const CROSS_FAILED: Metric = Metric::new(
    "cross_failed_ratio",
    "calls failed or not found, cross node",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);

/// Lookup + call through a name, same node vs across nodes.
pub const MULTINODE_CALL: Workload = Workload {
    metrics: &[
        &SAME_P50,
        &SAME_P99,
        &SAME_MEAN,
        &SAME_FAILED,
        &CROSS_P50,
        &CROSS_P99,
        &CROSS_MEAN,
        &CROSS_FAILED,
    ],
    charts: &[Chart::Bars(Bars {
        id: "multinode-call",
        title: "Lookup + call through a name, same node vs across nodes",
        caption: "Latency of a lookup plus a call through a name, in nanoseconds, measured inside a node: to a worker on the same node, and to a worker on another node (a real socket between two OS processes). `registry-local` is the single-node reference; it cannot see other nodes' names. Outlined: a bare RPC round trip between the two nodes over the same transport (the floor under any cross-node call).",
        y_desc: "latency of whereis + call (ns)",
        groups: &[
            (&SAME_P50, "p50 same node"),
            (&CROSS_P50, "p50 cross node"),
            (&SAME_P99, "p99 same node"),
            (&CROSS_P99, "p99 cross node"),
        ],
        filter: Filter::All,
        y: YScale::Fit,
    })],
    columns: &[Column::new(&CROSS_P50, "cross-node call p50")],
    judges: &[Judge {
        situation: Situation::ClusterCalls,
        rank: 0,
        metric: &CROSS_P50,
        at: ("nodes", Extreme::Max),
        prefer: &[],
        tiebreak: Some(&CROSS_P99),
    }],
    ..Workload::new(
        "multinode-call",
        "Multi-node: lookup + call across nodes",
        "Workers registered on one node are looked up and called, round after round, from that node and from another node of the cluster; the latency is timed inside the calling node.",
        Subject::Distributed,
    )
};

/// The metrics of one calling place: p50, p99, mean, failed fraction.
const SAME: [&Metric; 4] = [&SAME_P50, &SAME_P99, &SAME_MEAN, &SAME_FAILED];
/// The same for calls across nodes.
const CROSS: [&Metric; 4] = [&CROSS_P50, &CROSS_P99, &CROSS_MEAN, &CROSS_FAILED];

/// Lookup + call latency through `backend` of `names`, measured on node `caller`.
pub async fn call_latency(
    cluster: &Cluster,
    backend: Backend,
    caller: u32,
    names: &[String],
    rounds: u32,
) -> Result<ProbeReport, ClusterError> {
    control(
        caller,
        cluster
            .client(caller)?
            .probe(ctx(), backend, names.to_vec(), rounds, 1000)
            .await,
    )
}

/// The rows of [`MULTINODE_CALL`]: each of `backends` registers `spec.probe_names` workers
/// on node `holder`, which are then called from `holder` itself (same node) and from
/// `caller` (cross node); then the [`RPC_FLOOR`] between `caller` and `holder`.
pub(super) async fn call_rows(
    cluster: &Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    (caller, holder): (u32, u32),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_CALL;
    let mut rows = Vec::new();
    for b in backends.iter().copied() {
        progress(&format!("{}: {}", w.name, b.label()));
        let names: Vec<String> = (0..spec.probe_names)
            .map(|i| format!("probe-{}-{i}", b.label()))
            .collect();
        for name in &names {
            let _ = spawn_named(cluster, holder, b, name).await?;
        }
        // Let replication settle, so the probe measures lookups, not propagation.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let params = base.clone().with("names", names.len());
        for (from, [p50, p99, mean, failed]) in [(holder, SAME), (caller, CROSS)] {
            let r = call_latency(cluster, b, from, &names, spec.probe_rounds).await?;
            if r.ok == 0 {
                let why = if b == Backend::Local {
                    "a single-node registry: names are not visible on other nodes"
                } else {
                    "no call succeeded"
                };
                rows.push(w.skip(b.label(), &params, why));
                continue;
            }
            rows.push(w.row(b.label(), &params, p50, r.p50_ns as f64));
            rows.push(w.row(b.label(), &params, p99, r.p99_ns as f64));
            rows.push(w.row(b.label(), &params, mean, r.mean_ns));
            let not_ok = (r.failed + r.not_found) as f64;
            let total = (r.ok + r.failed + r.not_found) as f64;
            rows.push(w.row(b.label(), &params, failed, not_ok / total));
        }
    }

    // The floor under every cross-node call: a bare round trip over the node transport.
    let rounds = (spec.probe_names as u32) * spec.probe_rounds;
    let floor = control(
        caller,
        cluster
            .client(caller)?
            .rpc_floor(ctx(), holder, rounds)
            .await,
    )?;
    if floor.ok > 0 {
        let params = base.clone().with("names", spec.probe_names);
        rows.push(w.row(RPC_FLOOR.label, &params, &CROSS_P50, floor.p50_ns as f64));
        rows.push(w.row(RPC_FLOOR.label, &params, &CROSS_P99, floor.p99_ns as f64));
    }
    Ok(rows)
}

//! `multinode-netsplit`: the cluster is cut in two, the same names are registered on both
//! sides, and the cut is healed. What each design accepted during the split (availability),
//! whether the nodes converge to one live owner per name, how long that takes, and whether
//! anything was lost or left duplicated.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use naming_schema::{Bars, Better, Chart, Column, Filter, Metric, Params, Row};
use naming_schema::{Extreme, Judge, Situation, Subject, Unit, Workload, YScale};

use super::call::call_latency;
use super::{control, ctx, spawn_named, whereis, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::{Backend, NodeStats, WirePid};

/// Split names accepted on both sides of the cut. Not better either way: accepting is
/// availability, refusing is consistency.
pub const ACCEPTED_BOTH_SIDES: Metric = Metric::new(
    "accepted_both_sides",
    "names accepted on both sides of the split",
    Unit::Count,
    Better::Neither,
);
/// Names the two sides resolved to two different live processes during the split: the
/// price of accepting on both sides, expected non-zero for the available designs, so not a
/// correctness failure (unlike [`DUPLICATES_AFTER`]).
pub const DUPLICATES_DURING: Metric = Metric::new(
    "duplicates_during",
    "duplicate owners during the split",
    Unit::Count,
    Better::Neither,
);
/// Names the nodes still disagree on after the heal converged (or the deadline passed).
pub const DUPLICATES_AFTER: Metric =
    Metric::must_be_zero("duplicates_after", "duplicate owners after the heal");
/// Names with a live owner, registered before or during the split, that no node finds
/// after the heal.
pub const NAMES_LOST: Metric = Metric::must_be_zero("names_lost", "names lost across the split");
/// Conflict losers still alive after the heal (each name must end with one live process).
pub const LOSERS_ALIVE: Metric =
    Metric::must_be_zero("losers_alive", "conflict losers still alive after the heal");
/// Processes the nodes killed because they lost a name conflict after the heal.
pub const CONFLICT_KILLS: Metric = Metric::new(
    "conflict_kills",
    "conflict losers killed",
    Unit::Count,
    Better::Neither,
);
/// Ring entries handed to a new owner node across the split and heal (hash ring only).
pub const HANDOFFS: Metric = Metric::new(
    "handoffs",
    "ring entries handed to a new owner",
    Unit::Count,
    Better::Neither,
);
/// Ring lookups that reached the owner node and found nothing, e.g. mid-handoff (hash ring
/// only).
pub const OWNER_MISSES: Metric = Metric::new(
    "owner_misses",
    "ring lookups the owner could not answer",
    Unit::Count,
    Better::Lower,
)
.with_ideal(0.0);
/// Fraction of calls through the contested names, made from the heal until convergence,
/// that failed or found no process.
pub const FAILED_CALLS_DURING_HEAL: Metric = Metric::new(
    "failed_calls_ratio_during_heal",
    "calls failed during the heal",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);
/// Time from the heal until every node names the same single live owner for every name.
pub const CONVERGE_MS: Metric = Metric::new(
    "converge_ms",
    "convergence after the heal",
    Unit::Ms,
    Better::Lower,
);

/// Netsplit and heal.
pub const MULTINODE_NETSPLIT: Workload = Workload {
    metrics: &[
        &ACCEPTED_BOTH_SIDES,
        &DUPLICATES_DURING,
        &DUPLICATES_AFTER,
        &NAMES_LOST,
        &LOSERS_ALIVE,
        &CONFLICT_KILLS,
        &HANDOFFS,
        &OWNER_MISSES,
        &FAILED_CALLS_DURING_HEAL,
        &CONVERGE_MS,
    ],
    charts: &[
        Chart::Bars(Bars {
            id: "multinode-netsplit-names",
            title: "Netsplit: the same names registered on both sides, then healed",
            caption: "The cluster is cut in two, the same names are registered on both sides, and the cut is healed. Duplicates after the heal and names lost must be 0.",
            y_desc: "names (count)",
            groups: &[
                (&ACCEPTED_BOTH_SIDES, "accepted on both sides"),
                (&DUPLICATES_DURING, "duplicates during split"),
                (&DUPLICATES_AFTER, "duplicates after heal"),
                (&NAMES_LOST, "names lost"),
                (&CONFLICT_KILLS, "losers killed"),
                (&LOSERS_ALIVE, "losers still alive"),
            ],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "multinode-netsplit-converge",
            title: "Netsplit: time from heal until every node agrees",
            caption: "Time from restoring the links until every node names the same single live owner for every name (the losers gone), in milliseconds. Measured by polling every node's `whereis` for every name over the control connections, so the resolution is one polling round (tens of milliseconds at quick sizes, about half a second at full sizes); where nothing needs resolving (etcd), the bar is that resolution.",
            y_desc: "time until one owner per name everywhere (ms)",
            groups: &[(&CONVERGE_MS, "converged")],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "multinode-netsplit-calls",
            title: "Netsplit: calls through the contested names while the cluster heals",
            caption: "Calls through the names registered on both sides, made from one node from the heal until convergence: the fraction that failed or found no process (a loser killed under the caller, a handoff not yet arrived).",
            y_desc: "failed or not found (fraction of calls)",
            groups: &[(&FAILED_CALLS_DURING_HEAL, "calls failed during the heal")],
            filter: Filter::All,
            y: YScale::Fit,
        }),
    ],
    columns: &[
        Column::new(&CONVERGE_MS, "converge after a netsplit"),
        Column::new(&DUPLICATES_AFTER, "duplicates after the heal"),
        Column::new(&NAMES_LOST, "names lost"),
    ],
    judges: &[Judge {
        situation: Situation::Netsplit,
        rank: 0,
        metric: &CONVERGE_MS,
        at: ("nodes", Extreme::Max),
        prefer: &[],
        tiebreak: None,
    }],
    ..Workload::new(
        "multinode-netsplit",
        "Multi-node: netsplit and heal",
        "On a fresh cluster, names are registered on every node, the cluster is cut in two, the same names are registered on both sides, and the cut is healed; every node's `whereis` is polled for every name until all agree on one live owner, while one node keeps calling the contested names.",
        Subject::Distributed,
    )
};

/// What a netsplit did to one backend's names.
#[derive(Clone, Debug)]
pub struct SplitOutcome {
    /// The backend.
    pub backend: Backend,
    /// Names registered on each side during the split.
    pub split_names: usize,
    /// Of those, how many were accepted on both sides.
    pub accepted_both_sides: usize,
    /// Names whose two sides named two different live processes during the split.
    pub duplicates_during: usize,
    /// Time from the heal until every node agreed on one owner for every name.
    pub converged_after: Option<Duration>,
    /// Names the nodes still disagree on after convergence (or the deadline): must be 0.
    pub duplicates_after: usize,
    /// Names registered before or during the split, with a live owner, that no node finds
    /// after convergence: must be 0.
    pub lost: usize,
    /// Conflict losers that are still alive after convergence (syn kills them).
    pub losers_alive: usize,
    /// Why registrations during the split were refused, one entry per refusal.
    pub refusals: Vec<String>,
    /// Calls through the split names made on one node from the heal until convergence.
    pub calls_during_heal: u64,
    /// Of those, the ones that failed or found no process.
    pub calls_failed_during_heal: u64,
    /// What the nodes counted meanwhile (conflict kills, ring handoffs and misses).
    pub stats: NodeStats,
}

/// The nodes' counters, summed over the cluster.
pub async fn cluster_stats(cluster: &Cluster) -> Result<NodeStats, ClusterError> {
    let mut sum = NodeStats::default();
    for id in cluster.ids() {
        let s = control(id, cluster.client(id)?.stats(ctx()).await)?;
        sum.conflict_kills += s.conflict_kills;
        sum.handoffs_out += s.handoffs_out;
        sum.ring_misses += s.ring_misses;
        sum.lease_losses += s.lease_losses;
        sum.remote_delivered += s.remote_delivered;
        sum.freezes += s.freezes;
    }
    Ok(sum)
}

fn stats_delta(after: &NodeStats, before: &NodeStats) -> NodeStats {
    NodeStats {
        conflict_kills: after.conflict_kills - before.conflict_kills,
        handoffs_out: after.handoffs_out - before.handoffs_out,
        ring_misses: after.ring_misses - before.ring_misses,
        lease_losses: after.lease_losses - before.lease_losses,
        remote_delivered: after.remote_delivered - before.remote_delivered,
        freezes: after.freezes - before.freezes,
    }
}

/// Whether each process registered during a split is still alive.
async fn alive_of(
    cluster: &Cluster,
    split: &[(String, Option<WirePid>, Option<WirePid>)],
) -> Result<HashMap<WirePid, bool>, ClusterError> {
    let mut by_node: HashMap<u32, Vec<WirePid>> = HashMap::new();
    for (_, pa, pb) in split {
        for p in [pa, pb].into_iter().flatten() {
            by_node.entry(p.node).or_default().push(*p);
        }
    }
    let mut alive = HashMap::new();
    for (node, pids) in by_node {
        let answer = control(node, cluster.client(node)?.alive(ctx(), pids.clone()).await)?;
        alive.extend(pids.into_iter().zip(answer));
    }
    Ok(alive)
}

/// The processes of one name registered on the two sides of a split that are still alive.
fn live_of(
    pa: &Option<WirePid>,
    pb: &Option<WirePid>,
    alive: &HashMap<WirePid, bool>,
) -> Vec<WirePid> {
    [pa, pb]
        .into_iter()
        .flatten()
        .filter(|p| alive.get(p).copied().unwrap_or(false))
        .copied()
        .collect()
}

/// The owner every node names for `name`, or `None` if some node finds none or they differ.
async fn agreed_view(
    cluster: &Cluster,
    ids: &[u32],
    backend: Backend,
    name: &str,
) -> Result<Option<WirePid>, ClusterError> {
    let mut first = None;
    for (i, &n) in ids.iter().enumerate() {
        let v = whereis(cluster, n, backend, name).await?;
        if v.is_none() || (i > 0 && v != first) {
            return Ok(None);
        }
        first = v;
    }
    Ok(first)
}

/// Partitions the cluster into `side_a` and the rest, registers each of `split_names`
/// names on both sides (and `stable_names` per node before the split), heals, and checks
/// that every node converges to exactly one owner per name with nothing lost.
pub async fn netsplit(
    cluster: &Cluster,
    backend: Backend,
    side_a: &[u32],
    split_names: usize,
    stable_names: usize,
    deadline: Duration,
) -> Result<SplitOutcome, ClusterError> {
    let ids = cluster.ids();
    let side_b: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|i| !side_a.contains(i))
        .collect();
    let (a, b) = (side_a[0], side_b[0]);
    let tag = backend.label();
    // Names that must survive: registered before the split, on every node.
    let before = cluster_stats(cluster).await?;
    let mut stable: Vec<(String, WirePid)> = Vec::new();
    for &n in &ids {
        for i in 0..stable_names {
            let name = format!("stable-{tag}-{n}-{i}");
            if let Ok(pid) = spawn_named(cluster, n, backend, &name).await? {
                stable.push((name, pid));
            }
        }
    }
    cluster
        .partition(&[side_a.to_vec(), side_b.clone()])
        .await?;
    cluster.wait_members(side_a, side_a, deadline).await?;
    cluster.wait_members(&side_b, &side_b, deadline).await?;
    let mut split: Vec<(String, Option<WirePid>, Option<WirePid>)> = Vec::new();
    let mut refusals = Vec::new();
    for i in 0..split_names {
        let name = format!("split-{tag}-{i}");
        let mut side = |r: Result<WirePid, crate::wire::WireNamingError>, node: u32| match r {
            Ok(p) => Some(p),
            Err(e) => {
                refusals.push(format!("{name} on node {node}: {e:?}"));
                None
            }
        };
        let pa = side(spawn_named(cluster, a, backend, &name).await?, a);
        let pb = side(spawn_named(cluster, b, backend, &name).await?, b);
        split.push((name, pa, pb));
    }
    let accepted_both_sides = split
        .iter()
        .filter(|(_, pa, pb)| pa.is_some() && pb.is_some())
        .count();
    let mut duplicates_during = 0;
    for (name, _, _) in &split {
        let va = whereis(cluster, a, backend, name).await?;
        let vb = whereis(cluster, b, backend, name).await?;
        if va.is_some() && vb.is_some() && va != vb {
            duplicates_during += 1;
        }
    }
    cluster.heal().await?;
    let t0 = Instant::now();
    let split_only: Vec<String> = split.iter().map(|(n, _, _)| n.clone()).collect();
    let (mut calls, mut calls_failed) = (0u64, 0u64);
    let mut converged_after = None;
    let mut disagree = split.len() + stable.len();
    // Converged: every node names the same live owner for every name, and of two processes
    // registered under one name on the two sides exactly one is still alive (the loser is
    // gone). Membership is not awaited first: for etcd nothing needs to rejoin.
    while t0.elapsed() < deadline {
        // Traffic during the heal: one call per split name from side A's first node.
        let r = call_latency(cluster, backend, a, &split_only, 1).await?;
        calls += r.ok + r.failed + r.not_found;
        calls_failed += r.failed + r.not_found;
        let alive = alive_of(cluster, &split).await?;
        disagree = 0;
        for (name, pa, pb) in &split {
            let view = agreed_view(cluster, &ids, backend, name).await?;
            let live = live_of(pa, pb, &alive);
            if view.is_none() || live.len() != 1 || view != live.first().copied() {
                disagree += 1;
            }
        }
        for (name, pid) in &stable {
            if agreed_view(cluster, &ids, backend, name).await? != Some(*pid) {
                disagree += 1;
            }
        }
        if disagree == 0 {
            converged_after = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.wait_members(&ids, &ids, deadline).await?;
    let alive = alive_of(cluster, &split).await?;
    let mut losers_alive = 0;
    let mut lost = 0;
    let mut duplicates_after = 0;
    for (name, pa, pb) in &split {
        let found = whereis(cluster, a, backend, name).await?;
        let mut views_differ = false;
        for &n in &ids {
            if whereis(cluster, n, backend, name).await? != found {
                views_differ = true;
            }
        }
        if views_differ {
            duplicates_after += 1;
        }
        let live = live_of(pa, pb, &alive);
        if found.is_none() && !live.is_empty() {
            lost += 1;
        }
        if live.len() > 1 {
            losers_alive += 1;
        }
    }
    for (name, pid) in &stable {
        if whereis(cluster, a, backend, name).await? != Some(*pid) {
            lost += 1;
        }
    }
    if converged_after.is_none() {
        duplicates_after = duplicates_after.max(disagree.min(split.len()));
    }
    Ok(SplitOutcome {
        backend,
        split_names: split.len(),
        accepted_both_sides,
        duplicates_during,
        converged_after,
        duplicates_after,
        lost,
        losers_alive,
        refusals,
        calls_during_heal: calls,
        calls_failed_during_heal: calls_failed,
        stats: stats_delta(&cluster_stats(cluster).await?, &before),
    })
}

/// The rows of [`MULTINODE_NETSPLIT`], on a fresh `cluster`: its first half (rounded up)
/// is cut from the rest, for each of `backends` in turn.
pub(super) async fn netsplit_rows(
    cluster: &Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_NETSPLIT;
    let ids = cluster.ids();
    let side_a: Vec<u32> = ids[..ids.len().div_ceil(2)].to_vec();
    let params = base
        .clone()
        .with(
            "split",
            format!("{}|{}", side_a.len(), ids.len() - side_a.len()),
        )
        .with("names", spec.split_names);
    let mut rows = vec![w.skip(
        Backend::Local.label(),
        &params,
        "a single-node registry: nothing to split",
    )];
    for b in backends.iter().copied() {
        progress(&format!("{}: {}", w.name, b.label()));
        let o = netsplit(
            cluster,
            b,
            &side_a,
            spec.split_names,
            spec.stable_names,
            spec.deadline,
        )
        .await?;
        let mut row = |m: &Metric, v: f64| rows.push(w.row(b.label(), &params, m, v));
        row(&ACCEPTED_BOTH_SIDES, o.accepted_both_sides as f64);
        row(&DUPLICATES_DURING, o.duplicates_during as f64);
        row(&DUPLICATES_AFTER, o.duplicates_after as f64);
        row(&NAMES_LOST, o.lost as f64);
        row(&LOSERS_ALIVE, o.losers_alive as f64);
        row(&CONFLICT_KILLS, o.stats.conflict_kills as f64);
        // Handoffs and owner misses exist only where there is an owner node.
        if b == Backend::Ring {
            row(&HANDOFFS, o.stats.handoffs_out as f64);
            row(&OWNER_MISSES, o.stats.ring_misses as f64);
        }
        if o.calls_during_heal > 0 {
            let failed = o.calls_failed_during_heal as f64 / o.calls_during_heal as f64;
            row(&FAILED_CALLS_DURING_HEAL, failed);
        }
        match o.converged_after {
            Some(d) => row(&CONVERGE_MS, d.as_secs_f64() * 1e3),
            None => rows.push(w.skip(b.label(), &params, "did not converge within the deadline")),
        }
    }
    Ok(rows)
}

//! `multinode-groups`: process groups across nodes (`pg`): how long a join on one node
//! takes to show in every node's member list, whether a dispatch reaches every member on
//! every node and how fast, and what a netsplit and a node crash do to the member lists.
//!
//! Only the gossip-replicated backend has groups that span nodes; the others get skip rows
//! with the answer they gave to a join.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use naming_schema::{Bars, Better, Chart, Column, Filter, Metric, Params, Row};
use naming_schema::{Subject, Unit, Workload, YScale};

use super::{control, ctx, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::{Backend, WireNamingError, WirePid};

/// Median time from a join returning on one node until every node lists the member.
pub const JOIN_VISIBLE_P50: Metric = Metric::new(
    "join_visible_p50_ms",
    "joined on A, a member on every node: p50",
    Unit::Ms,
    Better::Lower,
);
/// Slowest such join among the samples.
pub const JOIN_VISIBLE_MAX: Metric = Metric::new(
    "join_visible_max_ms",
    "joined on A, a member on every node: max",
    Unit::Ms,
    Better::Lower,
);
/// Sampled joins some node never listed within the deadline.
pub const JOIN_NEVER_VISIBLE: Metric = Metric::new(
    "join_never_visible",
    "joins never listed on every node",
    Unit::Count,
    Better::Lower,
)
.with_ideal(0.0);
/// Messages the members received, over members reached times messages sent, for a
/// dispatch from every node to a group with members on every node.
pub const DISPATCH_DELIVERED: Metric = Metric::new(
    "dispatch_delivered_ratio",
    "dispatched messages delivered",
    Unit::Fraction,
    Better::Higher,
)
.with_ideal(1.0);
/// Median time from a dispatch to a member's receipt, over every member on every node.
pub const DISPATCH_P50: Metric = Metric::new(
    "dispatch_p50_ms",
    "dispatch to delivery: p50",
    Unit::Ms,
    Better::Lower,
);
/// 99th percentile of that time.
pub const DISPATCH_P99: Metric = Metric::new(
    "dispatch_p99_ms",
    "dispatch to delivery: p99",
    Unit::Ms,
    Better::Lower,
);
/// Time from the cut until each side lists only its own side's members.
pub const SPLIT_PRUNED_MS: Metric = Metric::new(
    "split_pruned_ms",
    "split: the other side's members dropped",
    Unit::Ms,
    Better::Neither,
);
/// Members a node listed once its side's membership settled during the split, over all
/// members (the lowest node): a node lists its own side's members only.
pub const SEEN_DURING_SPLIT: Metric = Metric::new(
    "members_seen_during_split",
    "members listed during the split",
    Unit::Fraction,
    Better::Neither,
);
/// Time from the heal until every node lists every member again.
pub const HEAL_RESTORED_MS: Metric = Metric::new(
    "heal_restored_ms",
    "heal: every member listed again",
    Unit::Ms,
    Better::Lower,
);
/// Members the node listing the fewest lists after the heal, over all members.
pub const SEEN_AFTER_HEAL: Metric = Metric::new(
    "members_seen_after_heal",
    "members listed after the heal",
    Unit::Fraction,
    Better::Higher,
)
.with_ideal(1.0);
/// Time from a node's SIGKILL until no survivor lists any of its members.
pub const CRASH_GONE_MS: Metric = Metric::new(
    "crashed_members_gone_ms",
    "crashed node's members dropped everywhere",
    Unit::Ms,
    Better::Lower,
);

/// Process groups across nodes.
pub const MULTINODE_GROUPS: Workload = Workload {
    metrics: &[
        &JOIN_VISIBLE_P50,
        &JOIN_VISIBLE_MAX,
        &JOIN_NEVER_VISIBLE,
        &DISPATCH_DELIVERED,
        &DISPATCH_P50,
        &DISPATCH_P99,
        &SPLIT_PRUNED_MS,
        &SEEN_DURING_SPLIT,
        &HEAL_RESTORED_MS,
        &SEEN_AFTER_HEAL,
        &CRASH_GONE_MS,
    ],
    charts: &[
        Chart::Bars(Bars {
            id: "multinode-groups-membership",
            title: "Process groups across nodes: how fast member lists follow",
            caption: "A member joins on one node: time until every node lists it (p50, max). Then a netsplit: time until each side lists only its own members, and after the heal until every node lists every member again; and a node killed with SIGKILL: time until no survivor lists its members. Polled over the control connections, in milliseconds.",
            y_desc: "time until the member lists agree (ms)",
            groups: &[
                (&JOIN_VISIBLE_P50, "join, p50"),
                (&JOIN_VISIBLE_MAX, "join, max"),
                (&SPLIT_PRUNED_MS, "split: other side dropped"),
                (&HEAL_RESTORED_MS, "heal: all listed again"),
                (&CRASH_GONE_MS, "crash: members dropped"),
            ],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "multinode-groups-dispatch",
            title: "Process groups across nodes: dispatch to every member",
            caption: "Every node dispatches to a group with members on every node; time from the dispatch until a member receives it (the nodes share one machine clock), in milliseconds.",
            y_desc: "dispatch to delivery (ms)",
            groups: &[(&DISPATCH_P50, "p50"), (&DISPATCH_P99, "p99")],
            filter: Filter::All,
            y: YScale::Fit,
        }),
    ],
    columns: &[Column::new(&JOIN_VISIBLE_P50, "group join visible p50")],
    ..Workload::new(
        "multinode-groups",
        "Multi-node: process groups",
        "Members join a group one at a time on rotating nodes while every node's member list is polled until it lists each; every node dispatches to a group with members on every node and the members time each delivery; then, on the netsplit cluster, a group with members on every node goes through a cut, a heal and a node's SIGKILL while every node's member list is polled.",
        Subject::Distributed,
    )
};

/// The backend with groups that span nodes.
const GROUPS: Backend = Backend::Gossip;

/// Starts `count` members of `group` on `node` in `backend`.
async fn join(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    group: &str,
    count: u32,
) -> Result<Result<Vec<WirePid>, WireNamingError>, ClusterError> {
    control(
        node,
        cluster
            .client(node)?
            .join_group(ctx(), backend, group.to_string(), count)
            .await,
    )
}

/// The members of `group` node `node` lists.
async fn members(cluster: &Cluster, node: u32, group: &str) -> Result<Vec<WirePid>, ClusterError> {
    control(
        node,
        cluster
            .client(node)?
            .group_members(ctx(), GROUPS, group.to_string())
            .await,
    )
}

/// Polls every node of `nodes` until `ok(node, its list)` holds for all, or `deadline`.
async fn until_lists(
    cluster: &Cluster,
    nodes: &[u32],
    group: &str,
    deadline: Duration,
    ok: impl Fn(u32, &HashSet<WirePid>) -> bool,
) -> Result<Option<Duration>, ClusterError> {
    let t0 = Instant::now();
    loop {
        let mut all = true;
        for &n in nodes {
            let seen: HashSet<WirePid> = members(cluster, n, group).await?.into_iter().collect();
            if !ok(n, &seen) {
                all = false;
                break;
            }
        }
        if all {
            return Ok(Some(t0.elapsed()));
        }
        if t0.elapsed() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The fewest of `all` members any of `nodes` lists, as a fraction of `all`.
async fn least_seen(
    cluster: &Cluster,
    nodes: &[u32],
    group: &str,
    all: &HashSet<WirePid>,
) -> Result<f64, ClusterError> {
    let mut least = all.len();
    for &n in nodes {
        let seen = members(cluster, n, group).await?;
        least = least.min(seen.iter().filter(|p| all.contains(p)).count());
    }
    Ok(least as f64 / all.len().max(1) as f64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The value at quantile `q` of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Rows for the backends without cross-node groups: a skip each, saying why (the
/// single-node reference by design, the others with what a join answered).
async fn skips(
    cluster: &Cluster,
    backends: &[Backend],
    node: u32,
    params: &Params,
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_GROUPS;
    let mut rows = vec![w.skip(
        Backend::Local.label(),
        params,
        "a single-node registry: its groups do not span nodes",
    )];
    for &b in backends.iter().filter(|b| **b != GROUPS) {
        let reason = match join(cluster, node, b, "groups-probe", 1).await? {
            Err(e) => format!("no process groups across nodes (a join answers {e:?})"),
            Ok(_) => "joins are accepted but no node lists the members of another".into(),
        };
        rows.push(w.skip(b.label(), params, &reason));
    }
    Ok(rows)
}

/// The membership and dispatch rows of [`MULTINODE_GROUPS`] on a running cluster: joins
/// on rotating nodes until listed everywhere, and a dispatch from every node to a group
/// with a member on every node. Skips for the backends without cross-node groups.
pub(super) async fn group_rows(
    cluster: &Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_GROUPS;
    let ids = cluster.ids();
    let params = base.clone().with("samples", spec.propagation_samples);
    let mut rows = skips(cluster, backends, ids[0], &params).await?;
    if !backends.contains(&GROUPS) {
        return Ok(rows);
    }
    progress(&format!("{}: {}", w.name, GROUPS.label()));
    let label = GROUPS.label();

    // Joins, one at a time on rotating nodes, until every node lists each.
    let mut seen = Vec::new();
    for i in 0..spec.propagation_samples {
        let node = ids[i % ids.len()];
        let Ok(pids) = join(cluster, node, GROUPS, "groups-join", 1).await? else {
            continue;
        };
        let pid = pids[0];
        if let Some(d) = until_lists(cluster, &ids, "groups-join", spec.deadline, |_, s| {
            s.contains(&pid)
        })
        .await?
        {
            seen.push(ms(d));
        }
    }
    seen.sort_by(f64::total_cmp);
    if !seen.is_empty() {
        rows.push(w.row(label, &params, &JOIN_VISIBLE_P50, quantile(&seen, 0.5)));
        rows.push(w.row(label, &params, &JOIN_VISIBLE_MAX, quantile(&seen, 1.0)));
    }
    let never = (spec.propagation_samples - seen.len()) as f64;
    rows.push(w.row(label, &params, &JOIN_NEVER_VISIBLE, never));

    // Dispatch from every node to a member on every node.
    let group = "groups-dispatch";
    let mut all = HashSet::new();
    for &n in &ids {
        if let Ok(pids) = join(cluster, n, GROUPS, group, 1).await? {
            all.extend(pids);
        }
    }
    let listed = until_lists(cluster, &ids, group, spec.deadline, |_, s| all.is_subset(s)).await?;
    let messages = spec.probe_rounds.max(1);
    let params = base
        .clone()
        .with("members", all.len())
        .with("messages", messages);
    if listed.is_none() {
        rows.push(w.skip(
            label,
            &params,
            "the members were never listed on every node",
        ));
        return Ok(rows);
    }
    let mut reached = 0u64;
    for &n in &ids {
        let r = control(
            n,
            cluster
                .client(n)?
                .dispatch_group(ctx(), GROUPS, group.to_string(), messages)
                .await,
        )?;
        reached += r.unwrap_or(0);
    }
    // Let the last messages land, then collect what every member timed.
    let mut latencies = Vec::new();
    let t0 = Instant::now();
    while (latencies.len() as u64) < reached && t0.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for &n in &ids {
            let got = control(
                n,
                cluster
                    .client(n)?
                    .group_received(ctx(), group.to_string())
                    .await,
            )?;
            latencies.extend(got.into_iter().map(|ns| ns as f64 / 1e6));
        }
    }
    let expected = (messages as u64 * ids.len() as u64 * all.len() as u64).max(1);
    rows.push(w.row(
        label,
        &params,
        &DISPATCH_DELIVERED,
        latencies.len() as f64 / expected as f64,
    ));
    latencies.sort_by(f64::total_cmp);
    if !latencies.is_empty() {
        rows.push(w.row(label, &params, &DISPATCH_P50, quantile(&latencies, 0.5)));
        rows.push(w.row(label, &params, &DISPATCH_P99, quantile(&latencies, 0.99)));
    }
    Ok(rows)
}

/// The fault rows of [`MULTINODE_GROUPS`] on a fresh `cluster` (the netsplit one, after
/// its netsplits): a group with members on every node is cut into `side_a` and the rest,
/// healed, and then the last node is killed with SIGKILL.
pub(super) async fn group_fault_rows(
    cluster: &mut Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    side_a: &[u32],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_GROUPS;
    let ids = cluster.ids();
    let side_b: Vec<u32> = ids
        .iter()
        .copied()
        .filter(|i| !side_a.contains(i))
        .collect();
    let split = format!("{}|{}", side_a.len(), side_b.len());
    let params = base
        .clone()
        .with("split", split)
        .with("members_per_node", 2);
    if !backends.contains(&GROUPS) {
        return Ok(Vec::new());
    }
    progress(&format!(
        "{}: {}, netsplit and crash",
        w.name,
        GROUPS.label()
    ));
    let label = GROUPS.label();
    let group = "groups-faults";
    let mut by_node: Vec<(u32, Vec<WirePid>)> = Vec::new();
    for &n in &ids {
        if let Ok(pids) = join(cluster, n, GROUPS, group, 2).await? {
            by_node.push((n, pids));
        }
    }
    let all: HashSet<WirePid> = by_node
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    let mut rows = Vec::new();
    if until_lists(cluster, &ids, group, spec.deadline, |_, s| all.is_subset(s))
        .await?
        .is_none()
    {
        rows.push(w.skip(
            label,
            &params,
            "the members were never listed on every node",
        ));
        return Ok(rows);
    }

    // The cut: each side should come to list only its own side's members.
    let side_of = |n: u32| {
        if side_a.contains(&n) {
            side_a
        } else {
            &side_b[..]
        }
    };
    let own: Vec<(u32, HashSet<WirePid>)> = ids
        .iter()
        .map(|&n| {
            let side = side_of(n);
            let mine = all.iter().filter(|p| side.contains(&p.node)).copied();
            (n, mine.collect())
        })
        .collect();
    let own_of = |n: u32| own.iter().find(|(m, _)| *m == n).map(|(_, s)| s);
    cluster
        .partition(&[side_a.to_vec(), side_b.clone()])
        .await?;
    let pruned = until_lists(cluster, &ids, group, spec.deadline, |n, s| {
        own_of(n).is_some_and(|mine| s == mine)
    })
    .await?;
    match pruned {
        Some(d) => rows.push(w.row(label, &params, &SPLIT_PRUNED_MS, ms(d))),
        None => rows.push(w.skip(
            label,
            &params,
            "a side still listed the other side's members at the deadline",
        )),
    }
    let during = least_seen(cluster, &ids, group, &all).await?;
    rows.push(w.row(label, &params, &SEEN_DURING_SPLIT, during));

    // The heal: every node should list every member again.
    cluster.heal().await?;
    let restored =
        until_lists(cluster, &ids, group, spec.deadline, |_, s| all.is_subset(s)).await?;
    match restored {
        Some(d) => rows.push(w.row(label, &params, &HEAL_RESTORED_MS, ms(d))),
        None => rows.push(w.skip(
            label,
            &params,
            "not every member was listed again within the deadline",
        )),
    }
    let after = least_seen(cluster, &ids, group, &all).await?;
    rows.push(w.row(label, &params, &SEEN_AFTER_HEAL, after));

    // A crash: the last node's members should leave every survivor's list.
    cluster.wait_members(&ids, &ids, spec.deadline).await?;
    let victim = *ids.last().unwrap_or(&ids[0]);
    let survivors: Vec<u32> = ids.iter().copied().filter(|n| *n != victim).collect();
    let params = base.clone().with("members_per_node", 2);
    cluster.crash(victim).await?;
    let gone = until_lists(cluster, &survivors, group, spec.deadline, |_, s| {
        s.iter().all(|p| p.node != victim)
    })
    .await?;
    match gone {
        Some(d) => rows.push(w.row(label, &params, &CRASH_GONE_MS, ms(d))),
        None => rows.push(w.skip(
            label,
            &params,
            "a survivor still listed the crashed node's members at the deadline",
        )),
    }
    Ok(rows)
}

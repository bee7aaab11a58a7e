//! `multinode-netsplit`: the cluster is cut in two, the same names are registered on both
//! sides, and the cut is healed. What each design accepted during the split (availability),
//! whether the nodes converge to one live owner per name, how long that takes, and whether
//! anything was lost or left duplicated.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use naming_schema::{Bars, Better, Chart, Column, Filter, Metric, Params, Row};
use naming_schema::{Extreme, Judge, Situation, Subject, Unit, Workload, YScale};

use super::call::call_latency;
use super::{control, ctx, spawn_named, whereis, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::{Backend, NodeStats, WireNamingError, WirePid};

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

/// Fraction of fresh names, unique to the minority side (the side without etcd quorum, the
/// smaller one), whose registration there was refused during the split. Not better either
/// way: refusing is what a consistent design does without quorum.
pub const MINORITY_REFUSED: Metric = Metric::new(
    "minority_refused_ratio",
    "minority-side registrations refused during the split",
    Unit::Fraction,
    Better::Neither,
);
/// How long a refused minority-side registration kept its caller waiting (mean).
pub const MINORITY_REFUSAL_WAIT_MS: Metric = Metric::new(
    "minority_refusal_wait_ms",
    "wait for a refused minority-side registration",
    Unit::Ms,
    Better::Lower,
);
/// Fraction of lookups on the minority side, right after the cut, of names registered on
/// the majority side before the split, answered with their pre-split owner (served, possibly
/// stale) rather than nothing.
pub const MINORITY_ANSWERS_MAJORITY_AT_CUT: Metric = Metric::new(
    "minority_answers_majority_names_at_cut",
    "minority side answers majority-side names, at the cut",
    Unit::Fraction,
    Better::Neither,
);
/// As [`MINORITY_ANSWERS_MAJORITY_AT_CUT`], sampled again once the lease TTL has passed.
pub const MINORITY_ANSWERS_MAJORITY_AFTER_TTL: Metric = Metric::new(
    "minority_answers_majority_names_after_ttl",
    "minority side answers majority-side names, after the lease TTL",
    Unit::Fraction,
    Better::Neither,
);
/// Fraction of lookups on the minority side, right after the cut, of names registered on
/// the minority side before the split, answered with their pre-split owner.
pub const MINORITY_ANSWERS_OWN_AT_CUT: Metric = Metric::new(
    "minority_answers_own_names_at_cut",
    "minority side answers its own side's names, at the cut",
    Unit::Fraction,
    Better::Neither,
);
/// As [`MINORITY_ANSWERS_OWN_AT_CUT`], sampled again once the lease TTL has passed.
pub const MINORITY_ANSWERS_OWN_AFTER_TTL: Metric = Metric::new(
    "minority_answers_own_names_after_ttl",
    "minority side answers its own side's names, after the lease TTL",
    Unit::Fraction,
    Better::Neither,
);
/// Time from the heal until a fresh registration on the minority side succeeds again.
pub const MINORITY_REGISTER_AGAIN_MS: Metric = Metric::new(
    "minority_register_again_ms",
    "minority side registers again after the heal",
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
        &MINORITY_REFUSED,
        &MINORITY_REFUSAL_WAIT_MS,
        &MINORITY_ANSWERS_MAJORITY_AT_CUT,
        &MINORITY_ANSWERS_MAJORITY_AFTER_TTL,
        &MINORITY_ANSWERS_OWN_AT_CUT,
        &MINORITY_ANSWERS_OWN_AFTER_TTL,
        &MINORITY_REGISTER_AGAIN_MS,
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
            caption: "Time from restoring the links until every node names the same single live owner for every name (the losers gone, names registered on the minority side during the split known everywhere), in milliseconds. Measured by polling every node's `whereis` for every name over the control connections, so the resolution is one polling round (tens of milliseconds at quick sizes, about half a second at full sizes). etcd has no conflicts to resolve; with its members placed with the nodes (network namespaces), the minority node's lease lapses during the split and etcd deletes its names, so the bar includes that node renewing its lease and re-claiming them.",
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
        Chart::Bars(Bars {
            id: "multinode-netsplit-minority",
            title: "Netsplit: what the minority side does",
            caption: "On the smaller side of the cut (the side without etcd quorum: with network namespaces, etcd's members run in the nodes' namespaces and are cut with them), fresh names unique to that side are registered during the split, and names registered before the split are looked up there right after the cut and again once the lease TTL has passed. A consistent design refuses the registrations; an available one accepts them. A lookup counts as answered when it names the pre-split owner (served from a replica that may be stale); otherwise it was refused or found nothing. global-etcd's nodes answer other nodes' names from their watch-fed copy, and stop answering their own once their lease may have lapsed. Without network namespaces etcd cannot be cut, and global-etcd has no bars here.",
            y_desc: "registrations refused, or lookups answered (fraction)",
            groups: &[
                (&MINORITY_REFUSED, "registrations refused"),
                (&MINORITY_ANSWERS_MAJORITY_AT_CUT, "majority names, at cut"),
                (&MINORITY_ANSWERS_MAJORITY_AFTER_TTL, "majority names, after TTL"),
                (&MINORITY_ANSWERS_OWN_AT_CUT, "own names, at cut"),
                (&MINORITY_ANSWERS_OWN_AFTER_TTL, "own names, after TTL"),
            ],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "multinode-netsplit-minority-wait",
            title: "Netsplit: how long the minority side waits",
            caption: "How long a registration refused on the minority side kept its caller waiting (mean; only designs that refuse have a bar: global-etcd tries each etcd member in turn, each up to its request timeout), and the time from the heal until a fresh registration on that side succeeds again (polled by registering, so the resolution is one attempt).",
            y_desc: "time (ms)",
            groups: &[
                (&MINORITY_REFUSAL_WAIT_MS, "wait for a refusal"),
                (&MINORITY_REGISTER_AGAIN_MS, "registers again after the heal"),
            ],
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
        "On a fresh cluster, names are registered on every node, the cluster is cut in two, the same names are registered on both sides, and the cut is healed; every node's `whereis` is polled for every name until all agree on one live owner, while one node keeps calling the contested names. On the minority side (with network namespaces, etcd's members run with the nodes, so that side has no etcd quorum) fresh names are registered and pre-split names looked up during the split, and registration is retried from the heal until it succeeds.",
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
    /// What the minority side did during the split and after the heal.
    pub minority: MinorityOutcome,
}

/// What the minority side (the nodes outside `side_a`) did: registrations of fresh names
/// unique to it during the split, lookups there of names registered before the split, and
/// registering again after the heal.
#[derive(Clone, Debug, Default)]
pub struct MinorityOutcome {
    /// Fresh names registered on the minority side during the split.
    pub attempted: usize,
    /// Each refused registration: why, and how long it kept its caller waiting.
    pub refusals: Vec<(WireNamingError, Duration)>,
    /// Lookups right after the cut.
    pub at_cut: LookupSample,
    /// Lookups once the lease TTL has passed since the cut.
    pub after_ttl: LookupSample,
    /// Time from the heal until a fresh registration on the minority side succeeded
    /// (`None`: not within the deadline).
    pub registers_again_after: Option<Duration>,
}

impl MinorityOutcome {
    /// How many of the fresh names were refused.
    pub fn refused(&self) -> usize {
        self.refusals.len()
    }
}

/// Lookups made on one minority-side node of names registered before the split, counted by
/// where the name was registered: `(answered with the pre-split owner, asked)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupSample {
    /// Names registered on the majority side.
    pub majority_names: (usize, usize),
    /// Names registered on the minority side.
    pub own_names: (usize, usize),
}

impl LookupSample {
    /// Fraction of the majority side's names answered (`None`: none asked).
    pub fn majority_ratio(&self) -> Option<f64> {
        ratio(self.majority_names)
    }

    /// Whether every name asked was answered with its owner.
    pub fn all_answered(&self) -> bool {
        self.majority_names.0 == self.majority_names.1 && self.own_names.0 == self.own_names.1
    }

    /// Fraction of the minority side's own names answered (`None`: none asked).
    pub fn own_ratio(&self) -> Option<f64> {
        ratio(self.own_names)
    }
}

fn ratio((answered, asked): (usize, usize)) -> Option<f64> {
    (asked > 0).then(|| answered as f64 / asked as f64)
}

/// Asks `node` for each of `stable` at once and counts the answers naming the pre-split
/// owner, split by whether the owner is on `side_a`.
async fn sample_lookups(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    stable: &[(String, WirePid)],
    side_a: &[u32],
) -> Result<LookupSample, ClusterError> {
    let answers = join_all(
        stable
            .iter()
            .map(|(name, _)| whereis(cluster, node, backend, name)),
    )
    .await;
    let mut sample = LookupSample::default();
    for ((_, pid), answer) in stable.iter().zip(answers) {
        let slot = if side_a.contains(&pid.node) {
            &mut sample.majority_names
        } else {
            &mut sample.own_names
        };
        slot.1 += 1;
        if answer? == Some(*pid) {
            slot.0 += 1;
        }
    }
    Ok(sample)
}

/// Registers `name` on `node`, timed.
async fn timed_spawn(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    name: String,
) -> Result<(String, Result<WirePid, WireNamingError>, Duration), ClusterError> {
    let t0 = Instant::now();
    let r = spawn_named(cluster, node, backend, &name).await?;
    Ok((name, r, t0.elapsed()))
}

/// From now (just after a heal) until `deadline`, registers a fresh name on `node` until
/// one succeeds; the time that took.
async fn registers_again(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    tag: &str,
    deadline: Duration,
) -> Result<Option<Duration>, ClusterError> {
    let t0 = Instant::now();
    let mut k = 0;
    while t0.elapsed() < deadline {
        let name = format!("again-{tag}-{node}-{k}");
        if spawn_named(cluster, node, backend, &name).await?.is_ok() {
            return Ok(Some(t0.elapsed()));
        }
        k += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
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
/// that every node converges to exactly one owner per name with nothing lost. On the side
/// outside `side_a` (the minority), it also registers `split_names` fresh names during the
/// split, looks up the names registered before it right after the cut and again once the
/// lease TTL has passed, and from the heal registers again until that succeeds.
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
    // The minority side's lookups are of names it knew before the split: let them arrive.
    let known_by = Instant::now() + deadline;
    while !sample_lookups(cluster, b, backend, &stable, side_a)
        .await?
        .all_answered()
        && Instant::now() < known_by
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster
        .partition(&[side_a.to_vec(), side_b.clone()])
        .await?;
    let cut_at = Instant::now();
    // The minority side at once: are the names registered before the split still answered?
    let at_cut = sample_lookups(cluster, b, backend, &stable, side_a).await?;
    cluster.wait_members(side_a, side_a, deadline).await?;
    cluster.wait_members(&side_b, &side_b, deadline).await?;
    // The contested names, on side A one at a time; then on side B all at once (a side
    // without quorum keeps each registration waiting for its registry's timeouts), beside
    // fresh names unique to side B, and beside a second lookup sample once the lease TTL
    // has passed since the cut.
    let mut on_a = Vec::with_capacity(split_names);
    for i in 0..split_names {
        on_a.push(spawn_named(cluster, a, backend, &format!("split-{tag}-{i}")).await?);
    }
    let contested =
        (0..split_names).map(|i| timed_spawn(cluster, b, backend, format!("split-{tag}-{i}")));
    let fresh =
        (0..split_names).map(|i| timed_spawn(cluster, b, backend, format!("minority-{tag}-{i}")));
    let late_at = cut_at + cluster.lease_ttl() + LEASE_SLACK;
    let (on_b, fresh, after_ttl) = tokio::join!(join_all(contested), join_all(fresh), async {
        tokio::time::sleep_until(late_at.into()).await;
        sample_lookups(cluster, b, backend, &stable, side_a).await
    });
    let mut split: Vec<(String, Option<WirePid>, Option<WirePid>)> = Vec::new();
    let mut refusals = Vec::new();
    for (ra, rb) in on_a.into_iter().zip(on_b) {
        let (name, rb, _) = rb?;
        let mut side = |r: Result<WirePid, WireNamingError>, node: u32| match r {
            Ok(p) => Some(p),
            Err(e) => {
                refusals.push(format!("{name} on node {node}: {e:?}"));
                None
            }
        };
        let (pa, pb) = (side(ra, a), side(rb, b));
        split.push((name, pa, pb));
    }
    let mut minority = MinorityOutcome {
        attempted: fresh.len(),
        at_cut,
        after_ttl: after_ttl?,
        ..MinorityOutcome::default()
    };
    // Names that must survive the heal: those registered before the split, and the fresh
    // names the minority side accepted.
    let mut survivors = stable.clone();
    for f in fresh {
        let (name, r, waited) = f?;
        match r {
            Ok(pid) => survivors.push((name, pid)),
            Err(e) => {
                minority.refusals.push((e, waited));
            }
        }
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
    // Converged: every node names the same live owner for every name, and of two processes
    // registered under one name on the two sides exactly one is still alive (the loser is
    // gone). Membership is not awaited first: for etcd nothing needs to rejoin. Meanwhile
    // side B registers fresh names until one succeeds.
    let converge = async {
        let (mut calls, mut calls_failed) = (0u64, 0u64);
        let mut disagree = split.len() + survivors.len();
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
            for (name, pid) in &survivors {
                if agreed_view(cluster, &ids, backend, name).await? != Some(*pid) {
                    disagree += 1;
                }
            }
            if disagree == 0 {
                return Ok::<_, ClusterError>((calls, calls_failed, Some(t0.elapsed()), 0));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok((calls, calls_failed, None, disagree))
    };
    let (converged, again) = tokio::join!(
        converge,
        registers_again(cluster, b, backend, tag, deadline)
    );
    let (calls, calls_failed, converged_after, disagree) = converged?;
    minority.registers_again_after = again?;
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
    for (name, pid) in &survivors {
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
        minority,
    })
}

/// Slack past the lease TTL before the second minority-side lookup sample: by then a node
/// cut from etcd quorum has surely gone a TTL without an answered keepalive.
const LEASE_SLACK: Duration = Duration::from_millis(500);

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
        // etcd beside the harness is reached from both sides: no minority to show.
        if b == Backend::Global && cluster.etcd_member_nodes().is_empty() {
            rows.push(w.skip(
                b.label(),
                &params,
                "minority side not measured: it needs etcd's members in the nodes' network namespaces, so that a partition takes quorum from one side; without namespaces etcd runs beside the harness and every node reaches it",
            ));
            continue;
        }
        let m = &o.minority;
        progress(&format!(
            "{}: {}: minority side refused {} of {} registrations{}",
            w.name,
            b.label(),
            m.refused(),
            m.attempted,
            refusal_summary(&m.refusals)
        ));
        rows.extend(minority_rows(b, &params, m));
    }
    Ok(rows)
}

/// `" (why: n), ..."` for the kinds of refusal, or nothing.
fn refusal_summary(refusals: &[(WireNamingError, Duration)]) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for (e, _) in refusals {
        let kind = format!("{e:?}");
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let text: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(" ({})", text.join(", "))
    }
}

/// The minority side's rows of one backend.
fn minority_rows(b: Backend, params: &Params, m: &MinorityOutcome) -> Vec<Row> {
    let w = &MULTINODE_NETSPLIT;
    let mut rows = Vec::new();
    let mut row = |metric: &Metric, v: Option<f64>| {
        if let Some(v) = v {
            rows.push(w.row(b.label(), params, metric, v));
        }
    };
    row(&MINORITY_REFUSED, ratio((m.refused(), m.attempted)));
    let waits = m.refusals.iter().map(|(_, waited)| waited.as_secs_f64());
    let mean_wait =
        (!m.refusals.is_empty()).then(|| waits.sum::<f64>() / m.refusals.len() as f64 * 1e3);
    row(&MINORITY_REFUSAL_WAIT_MS, mean_wait);
    row(&MINORITY_ANSWERS_MAJORITY_AT_CUT, m.at_cut.majority_ratio());
    row(
        &MINORITY_ANSWERS_MAJORITY_AFTER_TTL,
        m.after_ttl.majority_ratio(),
    );
    row(&MINORITY_ANSWERS_OWN_AT_CUT, m.at_cut.own_ratio());
    row(&MINORITY_ANSWERS_OWN_AFTER_TTL, m.after_ttl.own_ratio());
    let again = m.registers_again_after.map(|d| d.as_secs_f64() * 1e3);
    row(&MINORITY_REGISTER_AGAIN_MS, again);
    if again.is_none() {
        rows.push(w.skip(
            b.label(),
            params,
            "the minority side did not register again within the deadline after the heal",
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(rows: &[Row]) -> Vec<(&str, Option<f64>)> {
        rows.iter()
            .map(|r| (r.metric.as_str(), r.value()))
            .collect()
    }

    #[test]
    fn minority_rows_carry_what_was_measured_and_nothing_else() {
        let p = Params::new().with("nodes", 3);
        let refusing = MinorityOutcome {
            attempted: 4,
            refusals: [6, 4, 6, 4]
                .map(|s| (WireNamingError::RegistryDown, Duration::from_secs(s)))
                .to_vec(),
            at_cut: LookupSample {
                majority_names: (4, 4),
                own_names: (2, 2),
            },
            after_ttl: LookupSample {
                majority_names: (4, 4),
                own_names: (0, 2),
            },
            registers_again_after: Some(Duration::from_millis(30)),
        };
        let rows = minority_rows(Backend::Global, &p, &refusing);
        assert_eq!(
            values(&rows),
            [
                ("minority_refused_ratio", Some(1.0)),
                ("minority_refusal_wait_ms", Some(5000.0)),
                ("minority_answers_majority_names_at_cut", Some(1.0)),
                ("minority_answers_majority_names_after_ttl", Some(1.0)),
                ("minority_answers_own_names_at_cut", Some(1.0)),
                ("minority_answers_own_names_after_ttl", Some(0.0)),
                ("minority_register_again_ms", Some(30.0)),
            ]
        );
        assert_eq!(refusal_summary(&refusing.refusals), " (RegistryDown: 4)");

        // Nothing refused: no wait to report; never registered again: a skip row says so.
        let accepting = MinorityOutcome {
            attempted: 4,
            registers_again_after: None,
            ..MinorityOutcome::default()
        };
        let rows = minority_rows(Backend::Gossip, &p, &accepting);
        assert_eq!(values(&rows)[0], ("minority_refused_ratio", Some(0.0)));
        assert!(rows.iter().all(|r| r.metric != "minority_refusal_wait_ms"));
        assert!(rows
            .iter()
            .all(|r| !r.metric.starts_with("minority_answers")));
        assert!(matches!(
            rows.last().map(|r| &r.outcome),
            Some(naming_schema::Outcome::Skipped(why)) if why.contains("did not register again")
        ));
        assert_eq!(refusal_summary(&[]), "");
    }
}

//! The multi-node workloads: cross-node call latency, registration rate and propagation,
//! node crash, and netsplit. Each is a scenario over a running [`Cluster`] that returns
//! what it observed; [`multinode_rows`] runs them all and turns them into result rows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::harness::{Cluster, ClusterError, ClusterOpts, NetworkMode};
use crate::wire::{Backend, NodeStats, ProbeReport, WirePid};

/// The distributed backends, in report order.
pub const DISTRIBUTED: [Backend; 3] = [Backend::Global, Backend::Gossip, Backend::Ring];

/// The label of the transport floor: a bare RPC round trip between two nodes.
pub const FLOOR_RPC: &str = "floor-rpc-roundtrip";

/// Sizes of the multi-node workloads.
#[derive(Clone, Debug)]
pub struct MultiNodeSpec {
    /// Nodes in the cluster (3 to 5).
    pub nodes: usize,
    /// Names called in the latency probe.
    pub probe_names: usize,
    /// Rounds over those names.
    pub probe_rounds: u32,
    /// Registrations in the rate measurement.
    pub registrations: usize,
    /// Samples of registered-on-A -> visible-on-B.
    pub propagation_samples: usize,
    /// Names held by the node that crashes.
    pub crash_names: usize,
    /// Names registered on both sides of a netsplit.
    pub split_names: usize,
    /// Names registered before the split, that must survive it.
    pub stable_names: usize,
    /// The etcd lease TTL, seconds.
    pub lease_ttl_secs: i64,
    /// How long convergence and release may take before they count as not happening.
    pub deadline: Duration,
}

impl MultiNodeSpec {
    /// Quick sizes (a minute or so).
    pub fn quick() -> Self {
        MultiNodeSpec {
            nodes: 3,
            probe_names: 20,
            probe_rounds: 50,
            registrations: 200,
            propagation_samples: 10,
            crash_names: 20,
            split_names: 10,
            stable_names: 5,
            lease_ttl_secs: 2,
            deadline: Duration::from_secs(20),
        }
    }

    /// Full sizes.
    pub fn full() -> Self {
        MultiNodeSpec {
            nodes: 5,
            probe_names: 100,
            probe_rounds: 100,
            registrations: 1000,
            propagation_samples: 30,
            crash_names: 100,
            split_names: 50,
            stable_names: 20,
            lease_ttl_secs: 2,
            deadline: Duration::from_secs(30),
        }
    }

    /// Tiny sizes, for tests.
    pub fn tiny() -> Self {
        MultiNodeSpec {
            nodes: 3,
            probe_names: 5,
            probe_rounds: 5,
            registrations: 20,
            propagation_samples: 3,
            crash_names: 5,
            split_names: 4,
            stable_names: 2,
            lease_ttl_secs: 2,
            deadline: Duration::from_secs(20),
        }
    }
}

/// One measured number of a multi-node workload.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiRow {
    /// The backend's label.
    pub backend: &'static str,
    /// `multinode-call`, `multinode-register`, `multinode-crash` or `multinode-netsplit`.
    pub workload: &'static str,
    /// `key=value` pairs joined by `;`.
    pub params: String,
    /// What was measured.
    pub metric: &'static str,
    /// The value; `NaN` with `skip` set for a backend that cannot do this.
    pub value: f64,
    /// Why the backend cannot do this, for a skip row.
    pub skip: Option<String>,
}

impl MultiRow {
    fn new(
        b: Backend,
        workload: &'static str,
        params: &str,
        metric: &'static str,
        value: f64,
    ) -> Self {
        MultiRow {
            backend: b.label(),
            workload,
            params: params.to_string(),
            metric,
            value,
            skip: None,
        }
    }

    fn skipped(b: Backend, workload: &'static str, params: &str, why: &str) -> Self {
        MultiRow {
            skip: Some(why.to_string()),
            ..MultiRow::new(b, workload, params, "skipped", f64::NAN)
        }
    }
}

fn control<T>(node: u32, r: Result<T, tarpc::client::RpcError>) -> Result<T, ClusterError> {
    r.map_err(|e| ClusterError::Control(node, e.to_string()))
}

fn ctx() -> tarpc::context::Context {
    Cluster::ctx(Duration::from_secs(30))
}

/// Starts an echo worker named `name` on `node` in `backend`.
pub async fn spawn_named(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    name: &str,
) -> Result<Result<WirePid, crate::wire::WireNamingError>, ClusterError> {
    control(
        node,
        cluster
            .client(node)?
            .spawn_worker(ctx(), backend, name.to_string())
            .await,
    )
}

/// Node `node`'s answer to `whereis(name)` in `backend`.
pub async fn whereis(
    cluster: &Cluster,
    node: u32,
    backend: Backend,
    name: &str,
) -> Result<Option<WirePid>, ClusterError> {
    control(
        node,
        cluster
            .client(node)?
            .whereis(ctx(), backend, name.to_string())
            .await,
    )
}

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

/// Registrations per second on `node`: `count` workers started and registered back to back.
pub async fn registration_rate(
    cluster: &Cluster,
    backend: Backend,
    node: u32,
    prefix: &str,
    count: usize,
) -> Result<(u64, f64), ClusterError> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let (ok, ns) = control(
        node,
        cluster
            .client(node)?
            .register_many(ctx(), backend, names)
            .await,
    )?;
    let rate = if ns > 0 {
        ok as f64 / (ns as f64 / 1e9)
    } else {
        0.0
    };
    Ok((ok, rate))
}

/// Time from "registered on `from`" to "visible on `to`", one sample per name; `None` for
/// a name that did not become visible before `deadline`.
pub async fn propagation(
    cluster: &Cluster,
    backend: Backend,
    from: u32,
    to: u32,
    prefix: &str,
    samples: usize,
    deadline: Duration,
) -> Result<Vec<Option<Duration>>, ClusterError> {
    let mut out = Vec::new();
    for i in 0..samples {
        let name = format!("{prefix}-{i}");
        let pid = match spawn_named(cluster, from, backend, &name).await? {
            Ok(pid) => pid,
            Err(_) => {
                out.push(None);
                continue;
            }
        };
        let t0 = Instant::now();
        let mut seen = None;
        while t0.elapsed() < deadline {
            if whereis(cluster, to, backend, &name).await? == Some(pid) {
                seen = Some(t0.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        out.push(seen);
    }
    Ok(out)
}

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
    }
    Ok(sum)
}

fn stats_delta(after: &NodeStats, before: &NodeStats) -> NodeStats {
    NodeStats {
        conflict_kills: after.conflict_kills - before.conflict_kills,
        handoffs_out: after.handoffs_out - before.handoffs_out,
        ring_misses: after.ring_misses - before.ring_misses,
        lease_losses: after.lease_losses - before.lease_losses,
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
            let live: Vec<WirePid> = [pa, pb]
                .into_iter()
                .flatten()
                .filter(|p| alive.get(p).copied().unwrap_or(false))
                .copied()
                .collect();
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
        let live: Vec<WirePid> = [pa, pb]
            .into_iter()
            .flatten()
            .filter(|p| alive.get(p).copied().unwrap_or(false))
            .copied()
            .collect();
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

/// Runs every multi-node workload and returns their rows; `progress` hears each step.
///
/// `binary` is the suite's binary (run in node mode). Starts two clusters: one for the
/// latency, registration and crash scenarios, a fresh one for the netsplit.
pub async fn multinode_rows(
    binary: &std::path::Path,
    spec: &MultiNodeSpec,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<MultiRow>, ClusterError> {
    let mut rows = Vec::new();
    let mut opts = ClusterOpts::new(spec.nodes, binary);
    opts.lease_ttl_secs = spec.lease_ttl_secs;
    // Without etcd the other designs still run; the global names say why they do not.
    opts.etcd = crate::etcd_server::etcd_binary().is_some();
    let all: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| opts.etcd || *b != Backend::Global)
        .collect();
    let distributed: Vec<Backend> = DISTRIBUTED
        .into_iter()
        .filter(|b| opts.etcd || *b != Backend::Global)
        .collect();
    progress(&format!(
        "multinode: starting {} nodes and etcd",
        spec.nodes
    ));
    let mut cluster = Cluster::start(opts.clone()).await?;
    let net = match cluster.mode() {
        NetworkMode::Namespaces => "netns",
        _ => "fault-injection",
    };
    let p = format!("nodes={};net={net}", spec.nodes);
    if !opts.etcd {
        for w in [
            "multinode-call",
            "multinode-register",
            "multinode-crash",
            "multinode-netsplit",
        ] {
            rows.push(MultiRow::skipped(
                Backend::Global,
                w,
                &p,
                "etcd is not installed (apt-get install etcd-server; scripts/compare.sh does)",
            ));
        }
    }
    let ids = cluster.ids();
    let (n1, n2) = (ids[0], ids[1]);

    // Latency: names on node 2, called from node 2 (same node) and node 1 (cross node).
    for b in all.iter().copied() {
        progress(&format!("multinode-call: {}", b.label()));
        let names: Vec<String> = (0..spec.probe_names)
            .map(|i| format!("probe-{}-{i}", b.label()))
            .collect();
        for name in &names {
            let _ = spawn_named(&cluster, n2, b, name).await?;
        }
        // Let replication settle, so the probe measures lookups, not propagation.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let params = format!("{p};names={}", names.len());
        for (place, caller) in [("same", n2), ("cross", n1)] {
            let r = call_latency(&cluster, b, caller, &names, spec.probe_rounds).await?;
            let metric = |m: &'static str| -> &'static str {
                match (place, m) {
                    ("same", "p50") => "same_p50_ns",
                    ("same", "p99") => "same_p99_ns",
                    ("same", "mean") => "same_mean_ns",
                    ("same", _) => "same_failed_ratio",
                    (_, "p50") => "cross_p50_ns",
                    (_, "p99") => "cross_p99_ns",
                    (_, "mean") => "cross_mean_ns",
                    _ => "cross_failed_ratio",
                }
            };
            if r.ok == 0 {
                let why = if b == Backend::Local {
                    "a single-node registry: names are not visible on other nodes"
                } else {
                    "no call succeeded"
                };
                rows.push(MultiRow::skipped(b, "multinode-call", &params, why));
                continue;
            }
            for (m, v) in [
                ("p50", r.p50_ns as f64),
                ("p99", r.p99_ns as f64),
                ("mean", r.mean_ns),
            ] {
                rows.push(MultiRow::new(b, "multinode-call", &params, metric(m), v));
            }
            let failed = (r.failed + r.not_found) as f64;
            let total = (r.ok + r.failed + r.not_found) as f64;
            rows.push(MultiRow::new(
                b,
                "multinode-call",
                &params,
                metric("failed"),
                failed / total,
            ));
        }
    }

    // The floor under every cross-node call: a bare round trip over the node transport.
    let rounds = (spec.probe_names as u32) * spec.probe_rounds;
    let floor = control(n1, cluster.client(n1)?.rpc_floor(ctx(), n2, rounds).await)?;
    if floor.ok > 0 {
        let params = format!("{p};names={}", spec.probe_names);
        for (metric, v) in [
            ("cross_p50_ns", floor.p50_ns),
            ("cross_p99_ns", floor.p99_ns),
        ] {
            rows.push(MultiRow {
                backend: FLOOR_RPC,
                workload: "multinode-call",
                params: params.clone(),
                metric,
                value: v as f64,
                skip: None,
            });
        }
    }

    // Registration rate and propagation.
    for b in all.iter().copied() {
        progress(&format!("multinode-register: {}", b.label()));
        let (ok, rate) = registration_rate(
            &cluster,
            b,
            n1,
            &format!("rate-{}", b.label()),
            spec.registrations,
        )
        .await?;
        let params = format!("{p};registrations={}", spec.registrations);
        rows.push(MultiRow::new(
            b,
            "multinode-register",
            &params,
            "registrations_per_sec",
            rate,
        ));
        rows.push(MultiRow::new(
            b,
            "multinode-register",
            &params,
            "registered_ratio",
            ok as f64 / spec.registrations.max(1) as f64,
        ));
        let params = format!("{p};samples={}", spec.propagation_samples);
        if b == Backend::Local {
            rows.push(MultiRow::skipped(
                b,
                "multinode-register",
                &params,
                "a single-node registry: names never reach other nodes",
            ));
            continue;
        }
        let samples = propagation(
            &cluster,
            b,
            n1,
            n2,
            &format!("prop-{}", b.label()),
            spec.propagation_samples,
            spec.deadline,
        )
        .await?;
        let mut seen: Vec<f64> = samples
            .iter()
            .flatten()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        seen.sort_by(f64::total_cmp);
        if let (Some(first), Some(last)) = (seen.first(), seen.last()) {
            let _ = first;
            rows.push(MultiRow::new(
                b,
                "multinode-register",
                &params,
                "propagation_p50_ms",
                seen[seen.len() / 2],
            ));
            rows.push(MultiRow::new(
                b,
                "multinode-register",
                &params,
                "propagation_max_ms",
                *last,
            ));
        }
        rows.push(MultiRow::new(
            b,
            "multinode-register",
            &params,
            "never_visible",
            (samples.len() - seen.len()) as f64,
        ));
    }

    // Node crash: the last node dies with names in every distributed backend.
    progress("multinode-crash: SIGKILL one node");
    let victim = *ids.last().unwrap_or(&n2);
    let outcomes = crash_release(
        &mut cluster,
        &distributed,
        victim,
        n1,
        spec.crash_names,
        spec.deadline,
    )
    .await?;
    let params = format!("{p};names={}", spec.crash_names);
    rows.push(MultiRow::skipped(
        Backend::Local,
        "multinode-crash",
        &params,
        "a single-node registry: a crashed node takes its registry with it",
    ));
    for o in outcomes {
        match o.released_after {
            Some(d) => rows.push(MultiRow::new(
                o.backend,
                "multinode-crash",
                &params,
                "release_ms",
                d.as_secs_f64() * 1e3,
            )),
            None => rows.push(MultiRow::skipped(
                o.backend,
                "multinode-crash",
                &params,
                "names not released within the deadline",
            )),
        }
        rows.push(MultiRow::new(
            o.backend,
            "multinode-crash",
            &params,
            "reregistered_ratio",
            o.reregistered as f64 / o.names.max(1) as f64,
        ));
    }
    drop(cluster);

    // Netsplit, on a fresh cluster.
    progress("multinode-netsplit: partition, register on both sides, heal");
    let cluster = Cluster::start(opts).await?;
    let ids = cluster.ids();
    let side_a: Vec<u32> = ids[..ids.len().div_ceil(2)].to_vec();
    let params = format!(
        "{p};split={}|{};names={}",
        side_a.len(),
        ids.len() - side_a.len(),
        spec.split_names
    );
    rows.push(MultiRow::skipped(
        Backend::Local,
        "multinode-netsplit",
        &params,
        "a single-node registry: nothing to split",
    ));
    for b in distributed.iter().copied() {
        progress(&format!("multinode-netsplit: {}", b.label()));
        let o = netsplit(
            &cluster,
            b,
            &side_a,
            spec.split_names,
            spec.stable_names,
            spec.deadline,
        )
        .await?;
        let w = "multinode-netsplit";
        rows.push(MultiRow::new(
            b,
            w,
            &params,
            "accepted_both_sides",
            o.accepted_both_sides as f64,
        ));
        rows.push(MultiRow::new(
            b,
            w,
            &params,
            "duplicates_during",
            o.duplicates_during as f64,
        ));
        rows.push(MultiRow::new(
            b,
            w,
            &params,
            "duplicates_after",
            o.duplicates_after as f64,
        ));
        rows.push(MultiRow::new(b, w, &params, "names_lost", o.lost as f64));
        rows.push(MultiRow::new(
            b,
            w,
            &params,
            "losers_alive",
            o.losers_alive as f64,
        ));
        let counted = [
            ("conflict_kills", o.stats.conflict_kills),
            ("handoffs", o.stats.handoffs_out),
            ("owner_misses", o.stats.ring_misses),
        ];
        for (metric, v) in counted {
            // Handoffs and owner misses exist only where there is an owner node.
            if b == Backend::Ring || metric == "conflict_kills" {
                rows.push(MultiRow::new(b, w, &params, metric, v as f64));
            }
        }
        if o.calls_during_heal > 0 {
            rows.push(MultiRow::new(
                b,
                w,
                &params,
                "failed_calls_ratio_during_heal",
                o.calls_failed_during_heal as f64 / o.calls_during_heal as f64,
            ));
        }
        match o.converged_after {
            Some(d) => rows.push(MultiRow::new(
                b,
                w,
                &params,
                "converge_ms",
                d.as_secs_f64() * 1e3,
            )),
            None => rows.push(MultiRow::skipped(
                b,
                w,
                &params,
                "did not converge within the deadline",
            )),
        }
    }
    Ok(rows)
}

//! The multi-node workloads, each a scenario over a running [`Cluster`] of node processes,
//! declared as a [`Workload`] beside the code that makes its rows:
//!
//! | module | workload | what it measures |
//! |---|---|---|
//! | [`call`] | [`MULTINODE_CALL`] | lookup + call latency, same node vs across nodes, beside a bare RPC round trip ([`RPC_FLOOR`]) |
//! | [`register`] | [`MULTINODE_REGISTER`] | registration rate on one node; time until a name registered on one node is visible on another |
//! | [`crash`] | [`MULTINODE_CRASH`] | a node killed with SIGKILL: time until its names are released, and whether they can be taken again |
//! | [`netsplit`] | [`MULTINODE_NETSPLIT`] | a cut, the same names registered on both sides, a heal: duplicates, losses, convergence; what the minority side refuses and still answers |
//! | [`groups`] | [`MULTINODE_GROUPS`] | process groups: join visible on every node, dispatch to members on every node, member lists through a netsplit and a crash |
//!
//! This module holds what they share: the sizes ([`MultiNodeSpec`]), the control requests
//! that start a named worker ([`spawn_named`]) and ask a node for a name ([`whereis`]),
//! and the driver [`multinode_rows`], which starts the clusters and runs them all.

use std::time::Duration;

use naming_schema::{Params, Row, Workload};

use crate::harness::{Cluster, ClusterError, ClusterOpts, NetworkMode};
use crate::wire::{Backend, WirePid};

pub mod call;
pub mod crash;
pub mod groups;
pub mod netsplit;
pub mod register;

pub use call::{call_latency, MULTINODE_CALL, RPC_FLOOR};
pub use crash::{crash_release, CrashOutcome, MULTINODE_CRASH};
pub use groups::MULTINODE_GROUPS;
pub use netsplit::{cluster_stats, netsplit, SplitOutcome, MULTINODE_NETSPLIT};
pub use register::{propagation, registration_rate, MULTINODE_REGISTER};

/// The five multi-node workloads, in report order.
pub const WORKLOADS: [&Workload; 5] = [
    &MULTINODE_CALL,
    &MULTINODE_REGISTER,
    &MULTINODE_CRASH,
    &MULTINODE_NETSPLIT,
    &MULTINODE_GROUPS,
];

/// The distributed backends, in report order.
pub const DISTRIBUTED: [Backend; 3] = [Backend::Global, Backend::Gossip, Backend::Ring];

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

/// A control request's answer, its RPC failure named by the node it went to.
fn control<T>(node: u32, r: Result<T, tarpc::client::RpcError>) -> Result<T, ClusterError> {
    r.map_err(|e| ClusterError::Control(node, e.to_string()))
}

/// The deadline of a control request.
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

/// Runs every multi-node workload and returns their rows; `progress` hears each step.
///
/// `binary` is the suite's binary (run in node mode). Starts two clusters: one for the
/// latency, registration and crash scenarios, a fresh one for the netsplit. Without etcd
/// the global names get a skip row per workload saying so, and the rest still run.
pub async fn multinode_rows(
    binary: &std::path::Path,
    spec: &MultiNodeSpec,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
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
    let p = Params::new().with("nodes", spec.nodes).with("net", net);
    if !opts.etcd {
        for w in WORKLOADS {
            rows.push(w.skip(
                Backend::Global.label(),
                &p,
                "etcd is not installed (apt-get install etcd-server; scripts/compare.sh does)",
            ));
        }
    }
    let ids = cluster.ids();
    let (n1, n2) = (ids[0], ids[1]);

    // Latency: names on node 2, called from node 2 (same node) and node 1 (cross node).
    rows.extend(call::call_rows(&cluster, &all, spec, &p, (n1, n2), progress).await?);

    // Registration rate on node 1, and propagation from node 1 to node 2.
    rows.extend(register::register_rows(&cluster, &all, spec, &p, (n1, n2), progress).await?);

    // Process groups: joins listed everywhere, dispatch to members on every node.
    rows.extend(groups::group_rows(&cluster, &distributed, spec, &p, progress).await?);

    // Node crash: the last node dies with names in every distributed backend.
    progress(&format!("{}: SIGKILL one node", MULTINODE_CRASH.name));
    let victim = *ids.last().unwrap_or(&n2);
    rows.extend(crash::crash_rows(&mut cluster, &distributed, spec, &p, (victim, n1)).await?);
    drop(cluster);

    // Netsplit, on a fresh cluster.
    progress(&format!(
        "{}: partition, register on both sides, heal",
        MULTINODE_NETSPLIT.name
    ));
    // With namespaces, etcd's members run in the nodes' namespaces (ignored without), so the
    // cut also takes etcd quorum from the smaller side: the netsplit's minority side.
    opts.etcd_with_nodes = opts.etcd && spec.nodes >= 3;
    let mut cluster = Cluster::start(opts).await?;
    rows.extend(netsplit::netsplit_rows(&cluster, &distributed, spec, &p, progress).await?);

    // Process groups through the same cut, a heal, and a crash (which ends this cluster).
    let ids = cluster.ids();
    let side_a = ids[..ids.len().div_ceil(2)].to_vec();
    rows.extend(
        groups::group_fault_rows(&mut cluster, &distributed, spec, &p, &side_a, progress).await?,
    );
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_consistent() {
        for w in WORKLOADS {
            assert!(w.problems().is_empty(), "{:?}", w.problems());
            assert_eq!(w.subject, naming_schema::Subject::Distributed);
        }
        let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "multinode-call",
                "multinode-register",
                "multinode-crash",
                "multinode-netsplit",
                "multinode-groups"
            ]
        );
    }

    #[test]
    fn must_be_zero_are_the_correctness_counts() {
        let zero: Vec<&str> = WORKLOADS
            .iter()
            .flat_map(|w| w.metrics.iter())
            .filter(|m| m.must_be_zero)
            .map(|m| m.name)
            .collect();
        assert_eq!(zero, ["duplicates_after", "names_lost", "losers_alive"]);
    }

    #[test]
    fn identities_have_one_label_each() {
        let ids = crate::identities();
        for (i, id) in ids.iter().enumerate() {
            assert!(ids[..i].iter().all(|o| o.label != id.label), "{}", id.label);
        }
        assert!(ids
            .iter()
            .any(|id| id.label == RPC_FLOOR.label && id.is_floor()));
        for b in Backend::ALL {
            assert!(ids.contains(&b.identity()));
        }
    }

    #[test]
    fn params_read_as_before() {
        let p = Params::new().with("nodes", 3).with("net", "netns");
        let split = p.clone().with("split", "2|1").with("names", 4);
        assert_eq!(split.to_string(), "nodes=3;net=netns;split=2|1;names=4");
    }
}

#![warn(missing_docs)]
//! Names across nodes.
//!
//! A node is a separate OS process running the process runtime (`naming-bench node`); a pid
//! names its node, and a message or call to a remote pid crosses a socket. Three distributed
//! naming designs are backends of the same [`Naming`](naming_strategies::Naming) trait as the
//! single-node ones, on every node:
//!
//! | backend | BEAM counterpart | consistency |
//! |---|---|---|
//! | [`GlobalNames`](global::GlobalNames) (`global-etcd`) | `:global` | one owner per name, decided by etcd; a dead node's names go with its lease |
//! | [`GossipNames`](gossip_names::GossipNames) (`gossip-replicated`) | `pg` / syn | each node owns its names; replicated by gossip, reads are local; after a heal the more recent registration wins and the other process is killed |
//! | [`RingNames`](ring::RingNames) (`hash-ring`) | Swarm / libring | the owner node of a name is picked by consistent hashing over the live members; handoff when membership changes |
//!
//! The pieces, one job per module:
//! - [`wire`]: the tarpc service every node serves, what crosses the socket ([`Payload`]),
//!   and [`Backend`], which names the backends a control request is about and gives each
//!   one's [`Identity`] (its label is written there and nowhere else);
//! - [`node`]: a node's core: its runtime, peer connections, and proxies that make a remote
//!   pid reachable through an ordinary [`ProcessRef`](process_runtime::ProcessRef);
//! - [`server`]: a running [`Node`] with its four backends, and node mode ([`run_node`]);
//! - [`global`], [`global_names`], [`etcd_kv`], [`etcd_server`]: global names over etcd;
//! - [`gossip`], [`replicated`], [`gossip_names`]: the gossip layer (chitchat) and the
//!   replicated registry with groups;
//! - [`ring`]: hash-ring ownership;
//! - [`netns`]: nodes in network namespaces and real partitions;
//! - [`harness`]: starts and tears down a [`Cluster`] of node processes and etcd;
//! - [`measure`]: the multi-node workloads, one module each ([`measure::call`],
//!   [`measure::register`], [`measure::crash`], [`measure::netsplit`],
//!   [`measure::groups`]), and the driver
//!   [`multinode_rows`] that runs them all into [`naming_schema::Row`]s.
//!
//! What the report reads, declared here once:
//! - [`WORKLOADS`]: the five multi-node [`Workload`](naming_schema::Workload) declarations
//!   (metrics, charts, summary columns);
//! - [`identities`]: every backend label the multi-node rows carry, with its family.

pub mod etcd_kv;
pub mod etcd_server;
pub mod global;
pub mod global_names;
pub mod gossip;
pub mod gossip_names;
pub mod harness;
pub mod measure;
pub mod netns;
pub mod node;
pub mod replicated;
pub mod ring;
pub mod server;
pub mod wire;

pub use harness::{Cluster, ClusterError, ClusterOpts, NetworkMode};
pub use measure::{
    multinode_rows, MultiNodeSpec, MULTINODE_CALL, MULTINODE_CRASH, MULTINODE_GROUPS,
    MULTINODE_NETSPLIT, MULTINODE_REGISTER, WORKLOADS,
};
pub use server::{run_node, Node, NodeConfig, NodeError};
pub use wire::{Backend, Payload};

use naming_schema::Identity;

/// Every backend the multi-node rows name, as the report should see it: the three
/// distributed designs ([`Family::Distributed`](naming_schema::Family::Distributed)), the
/// single-node `Registry` reference `registry-local`
/// ([`Family::Registry`](naming_schema::Family::Registry)), and the bare RPC round-trip floor
/// ([`measure::RPC_FLOOR`]).
pub fn identities() -> Vec<Identity> {
    measure::DISTRIBUTED
        .into_iter()
        .chain([Backend::Local])
        .map(Backend::identity)
        .chain([measure::RPC_FLOOR])
        .collect()
}

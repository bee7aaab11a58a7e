#![warn(missing_docs)]
//! Names across nodes.
//!
//! A node is a separate OS process running the process runtime; a pid names its node, and a
//! message or call to a remote pid crosses a socket. Three distributed naming designs are
//! backends of the same [`Naming`](naming_strategies::Naming) trait as the single-node ones:
//!
//! | backend | BEAM counterpart | consistency |
//! |---|---|---|
//! | global names over etcd | `:global` | one owner per name, decided by a consensus store; a dead node's names go with its lease |
//! | gossip-replicated registry | `pg` / `syn` | each node owns its own names; replicated by gossip, reads are local; conflicts after a heal resolved by a rule |
//! | hash-ring ownership | Swarm / `libring` | the owner node of a name is picked by consistent hashing over the live members; handoff when membership changes |

pub mod etcd_kv;
pub mod etcd_server;
pub mod global_names;

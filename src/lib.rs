//! naming-bench: every BEAM naming strategy as a backend of one `Naming` trait, driven
//! through the same workloads, with results written as data and drawn side by side.
//!
//! What is here:
//!
//! - [`contenders`]: the naming backends compared (one adapter and one line each), each
//!   declaring its identity (label, family, floor); [`contenders::identities`] lists every
//!   backend label the single-node workloads write, floors included.
//! - [`workloads`]: each workload a function generic over the backend, declared beside its
//!   code (metrics, charts, summary columns, guide judges; [`workloads::DECLARATIONS`]):
//!   - [`workloads::lookup`]: `whereis` throughput beside the raw `get` of the backend's
//!     own table (its floor);
//!   - [`workloads::routing`]: calls through a name, closed and open loop, beside a call to
//!     a held pid and a bare tokio round trip;
//!   - [`workloads::churn`]: calls while workers are killed and restarted, with release and
//!     re-registration times and the one-owner-per-name invariant;
//!   - [`workloads::scale`]: registering many names, bytes per name, releasing them all,
//!     named starts, register + unregister pairs;
//!   - [`workloads::fanout`]: one dispatch to every member of a group;
//!   - [`workloads::soak`]: sessions under fresh ids coming and going, invariants and heap
//!     checked after every phase;
//!   - [`workloads::criterion`]: the bench targets' criterion estimates as rows;
//!   - reshard (shard routers: keys moved, balance, lookup cost) and recovery (state kept
//!     across a crash), measured in `naming-strategies` and run from [`workloads::run`];
//!   - [`workloads::multinode`]: a real cluster of node processes (and etcd) driven by
//!     `naming-cluster`: cross-node calls, registration and propagation, node crash,
//!     netsplit.
//! - [`results`]: the result rows (`naming-schema`'s one row type) as CSV, one file per
//!   workload, and [`environment`]: the machine they came from.
//! - [`stability`]: the same selection run twice, compared (medians within ±10%, the
//!   same verdicts).
//! - [`interrupt`]: Ctrl-C and SIGTERM during a run stop its measuring processes and leave
//!   the results as they were.
//! - [`layout`]: measuring processes start with one fixed address-space layout, so a
//!   figure does not depend on where randomisation put the code and heap.
//! - [`alloc`]: a counting global allocator, for bytes per name and memory drift.
//! - [`catalogue`]: every declared workload and every backend identity, gathered from
//!   this crate, `naming-strategies` and `naming-cluster`.
//! - [`report`]: plots, `REPORT.md`, `index.html` and the decision guide, built from the
//!   catalogue and the rows alone.
//! - [`report::diff`]: two result directories (two machines, revisions, allocators)
//!   compared point by point, better or worse beyond the re-run noise (`naming-bench diff`).

pub mod alloc;
pub mod catalogue;
pub mod contenders;
pub mod environment;
pub mod foreign;
pub mod interrupt;
pub mod layout;
pub mod report;
pub mod results;
pub mod stability;
pub mod workloads;

//! The suite's catalogue: every declared workload, in report order, and every backend's
//! identity, gathered from the modules that declare them. Adding a workload is its file
//! plus one line in its crate's list; adding a backend is its adapter plus one line in its
//! crate's list; this function only joins the lists.

use crate::report::Catalogue;

/// Every workload and backend the suite knows: the single-node workloads and contenders,
/// the shard routers and recovery schemes of `naming-strategies`, the multi-node workloads
/// and distributed backends of `naming-cluster`.
pub fn catalogue() -> Catalogue {
    use naming_strategies::{recovery, shard};
    let mut workloads = crate::workloads::DECLARATIONS.to_vec();
    workloads.extend([&shard::RESHARD, &recovery::RECOVERY]);
    workloads.extend(naming_cluster::WORKLOADS);
    let mut backends = crate::contenders::identities();
    backends.extend(shard::identities());
    backends.extend(recovery::identities());
    backends.extend(naming_cluster::identities());
    Catalogue {
        workloads,
        backends,
    }
}

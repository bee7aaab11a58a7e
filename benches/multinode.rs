//! The multi-node workloads (names across a cluster of nodes): a cluster of `naming-bench node` processes and a
//! 3-member etcd cluster, started by the harness; cross-node call latency, registration
//! rate and propagation, node crash, and netsplit, written to `results/multinode.csv`.
//!
//! `cargo bench --bench multinode` (5 nodes); `NAMING_BENCH_QUICK=1 cargo bench --bench
//! multinode` (3 nodes, small counts). Needs etcd (`apt-get install etcd-server`); without
//! it the global-names rows say so. Under `cargo test --benches` nothing runs.

mod common;

fn main() {
    // The harness runs this package's binary in node mode.
    std::env::set_var("NAMING_BENCH_NODE_BIN", env!("CARGO_BIN_EXE_naming-bench"));
    // No micro-benchmarks: the cluster workloads only, under `cargo bench`.
    common::bench_main("multinode", None, |_| {});
}

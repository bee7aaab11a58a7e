//! The multi-node workloads: a real cluster of node processes (and etcd), driven by the
//! harness in `naming-cluster`; the three distributed designs beside the single-node
//! `Registry` as the reference line.

use std::path::PathBuf;

use naming_cluster::{multinode_rows, MultiNodeSpec};

use naming_schema::{Outcome, Params, Row};

use super::{glue_skip, Progress};

/// The suite's binary, which the harness runs in node mode: `NAMING_BENCH_NODE_BIN`, else
/// this process's own executable when it is `naming-bench` (benches and tests set the
/// variable from `CARGO_BIN_EXE_naming-bench`).
pub fn node_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NAMING_BENCH_NODE_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    (stem == "naming-bench").then_some(exe)
}

/// Runs the multi-node workloads; a machine that cannot start a cluster gets skip rows
/// that say why.
pub fn multinode(spec: &MultiNodeSpec, progress: &dyn Progress) -> Vec<Row> {
    let Some(binary) = node_binary() else {
        return vec![glue_skip(
            "cluster",
            "multinode",
            "",
            "node binary not found: set NAMING_BENCH_NODE_BIN to the naming-bench binary",
        )];
    };
    let rt = super::common::tokio_runtime(2);
    let step = |m: &str| progress.step(m);
    match rt.block_on(multinode_rows(&binary, spec, &step)) {
        Ok(rows) => rows.into_iter().map(cluster_row).collect(),
        Err(e) => vec![glue_skip("cluster", "multinode", "", &e.to_string())],
    }
}

/// A row of the cluster crate's old shape in this schema, with no unit (the cluster
/// crate's own declarations bring units).
// glue: replaced at merge
fn cluster_row(r: naming_cluster::MultiRow) -> Row {
    let (metric, outcome) = match r.skip {
        Some(why) => (String::new(), Outcome::Skipped(why)),
        None => (r.metric.to_string(), Outcome::Value(r.value)),
    };
    Row {
        run: String::new(),
        backend: r.backend.to_string(),
        workload: r.workload.to_string(),
        params: Params::parse(&r.params).unwrap_or_default(),
        metric,
        outcome,
        unit: String::new(),
    }
}

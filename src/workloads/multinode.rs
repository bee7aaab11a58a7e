//! The multi-node workloads: a real cluster of node processes (and etcd), driven by the
//! harness in `naming-cluster`; the three distributed designs beside the single-node
//! `Registry` as the reference line.

use std::path::PathBuf;

use naming_cluster::{multinode_rows, MultiNodeSpec};

use super::Progress;
use crate::results::{unit_of, Row};

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
        return vec![Row::skipped(
            "cluster",
            "multinode",
            "",
            "node binary not found: set NAMING_BENCH_NODE_BIN to the naming-bench binary",
        )];
    };
    let rt = super::common::tokio_runtime(2);
    let step = |m: &str| progress.step(m);
    match rt.block_on(multinode_rows(&binary, spec, &step)) {
        Ok(rows) => rows
            .into_iter()
            .map(|r| {
                let params = r.params.to_string();
                match r.outcome {
                    naming_schema::Outcome::Skipped(why) => {
                        Row::skipped(&r.backend, &r.workload, &params, &why)
                    }
                    naming_schema::Outcome::Value(v) => Row::new(
                        &r.backend,
                        &r.workload,
                        &params,
                        &r.metric,
                        v,
                        unit_of(&r.metric),
                    ),
                }
            })
            .collect(),
        Err(e) => vec![Row::skipped("cluster", "multinode", "", &e.to_string())],
    }
}

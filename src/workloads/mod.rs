//! The workloads: the same work for every backend, described as data.
//!
//! Each workload is a function generic over a [`Contender`](crate::contenders::Contender):
//! it never names a backend. Beside it, in its own file, is its declaration (a
//! [`Workload`] constant: its metrics, charts, summary columns and guide judges), and it
//! makes its rows only through that declaration. [`DECLARATIONS`] lists the single-node
//! ones; [`run`] runs a selection of workloads over a selection of contenders and writes
//! their rows under the output directory. Adding a workload is its file, one line in
//! [`DECLARATIONS`] and its arm in [`run_workload`].

pub mod churn;
pub mod clients;
pub mod common;
pub mod criterion;
pub mod fanout;
pub mod lookup;
pub mod multinode;
pub mod routing;
pub mod scale;
pub mod soak;

use std::io;
use std::path::PathBuf;

use naming_schema::{Params, Row, Workload};

use crate::contenders::{self, Contender, Visitor};
use crate::environment::Environment;
use crate::results::write_workload;

/// The single-node workloads' declarations, in report order (criterion's estimates last).
pub const DECLARATIONS: &[&Workload] = &[
    &lookup::LOOKUP,
    &routing::ROUTING,
    &churn::CHURN,
    &scale::SCALE,
    &fanout::FANOUT,
    &soak::SOAK,
    &criterion::CRITERION,
];

/// The workloads [`run`] knows, in the order it runs them.
pub const WORKLOADS: &[&str] = &[
    "lookup",
    "routing",
    "churn",
    "scale",
    "fanout",
    "soak",
    "reshard",
    "recovery",
    "multinode",
];

/// What to run and where the results go.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Small sizes, about two minutes in all.
    pub quick: bool,
    /// Only these backends (labels); `None` for all.
    pub backends: Option<Vec<String>>,
    /// Only these workloads; `None` for all of [`WORKLOADS`].
    pub workloads: Option<Vec<String>>,
    /// The results directory (CSV per workload plus `environment.json`).
    pub out: PathBuf,
}

/// Told of a run's progress, so long runs can show it.
pub trait Progress: Sync {
    /// A workload starts; it will report about `steps` steps.
    fn start(&self, workload: &str, steps: u64);
    /// One step of the current workload is done.
    fn step(&self, message: &str);
    /// The workload is done.
    fn finish(&self, workload: &str);
}

/// Progress that prints one line per step to stderr.
pub struct PrintProgress;

impl Progress for PrintProgress {
    fn start(&self, workload: &str, steps: u64) {
        eprintln!("== {workload} ({steps} steps)");
    }
    fn step(&self, message: &str) {
        eprintln!("   {message}");
    }
    fn finish(&self, workload: &str) {
        eprintln!("== {workload} done");
    }
}

/// Client counts for the concurrency sweeps: `NAMING_BENCH_CLIENTS` (e.g. `1,2,4,8,16`),
/// else 1 and the number of cores.
pub fn client_counts() -> Vec<usize> {
    if let Ok(v) = std::env::var("NAMING_BENCH_CLIENTS") {
        let parsed: Vec<usize> = v
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .filter(|&n| n > 0)
            .collect();
        if !parsed.is_empty() {
            return parsed;
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        vec![1, cores]
    } else {
        vec![1]
    }
}

/// Every workload's parameters for one run.
#[derive(Clone, Debug)]
pub struct Specs {
    /// lookup.
    pub lookup: lookup::LookupSpec,
    /// routing.
    pub routing: routing::RoutingSpec,
    /// churn.
    pub churn: churn::ChurnSpec,
    /// scale.
    pub scale: scale::ScaleSpec,
    /// fan-out.
    pub fanout: fanout::FanOutSpec,
    /// soak.
    pub soak: soak::SoakSpec,
    /// reshard (shard routers; not per backend).
    pub reshard: naming_strategies::shard::ReshardConfig,
    /// recovery (state across a crash; not per backend).
    pub recovery: naming_strategies::recovery::RecoveryConfig,
    /// multi-node (a cluster of node processes; the distributed backends).
    pub multinode: naming_cluster::MultiNodeSpec,
}

impl Specs {
    /// Quick (`true`, about two minutes) or full sizes.
    pub fn new(quick: bool) -> Self {
        let clients = client_counts();
        let most = clients.iter().copied().max().unwrap_or(1);
        if quick {
            Specs {
                lookup: lookup::LookupSpec::quick(clients.clone()),
                routing: routing::RoutingSpec::quick(clients.clone()),
                churn: churn::ChurnSpec::quick(most),
                scale: scale::ScaleSpec::quick(vec![1, most]),
                fanout: fanout::FanOutSpec::quick(most),
                soak: soak::SoakSpec::quick(most),
                reshard: naming_strategies::shard::ReshardConfig::quick(),
                recovery: naming_strategies::recovery::RecoveryConfig::quick(),
                multinode: naming_cluster::MultiNodeSpec::quick(),
            }
        } else {
            Specs {
                lookup: lookup::LookupSpec::full(clients.clone()),
                routing: routing::RoutingSpec::full(clients.clone()),
                churn: churn::ChurnSpec::full(most),
                scale: scale::ScaleSpec::full(vec![1, most]),
                fanout: fanout::FanOutSpec::full(most),
                soak: soak::SoakSpec::full(most),
                reshard: naming_strategies::shard::ReshardConfig::full(),
                recovery: naming_strategies::recovery::RecoveryConfig::full(),
                multinode: naming_cluster::MultiNodeSpec::full(),
            }
        }
    }

    /// Tiny sizes, for tests.
    pub fn tiny() -> Self {
        Specs {
            lookup: lookup::LookupSpec::tiny(),
            routing: routing::RoutingSpec::tiny(),
            churn: churn::ChurnSpec::tiny(),
            scale: scale::ScaleSpec::tiny(),
            fanout: fanout::FanOutSpec::tiny(),
            soak: soak::SoakSpec::tiny(),
            reshard: naming_strategies::shard::ReshardConfig {
                shard_counts: vec![4, 16],
                keys: 5_000,
                routers: naming_strategies::shard::RouterSpec::defaults().to_vec(),
                lookup_keys: 256,
                lookup_sample: std::time::Duration::from_millis(1),
                samples: 1,
            },
            recovery: naming_strategies::recovery::RecoveryConfig {
                cycles: 10,
                ..naming_strategies::recovery::RecoveryConfig::quick()
            },
            multinode: naming_cluster::MultiNodeSpec::tiny(),
        }
    }
}

/// Runs one workload over every selected contender (and its floors), returning the rows.
pub fn run_workload(
    workload: &str,
    specs: &Specs,
    backends: Option<&[String]>,
    progress: &dyn Progress,
) -> Vec<Row> {
    struct Each<'a> {
        workload: &'a str,
        specs: &'a Specs,
        backends: Option<&'a [String]>,
        progress: &'a dyn Progress,
        rows: Vec<Row>,
    }
    impl Visitor for Each<'_> {
        fn visit<C: Contender>(&mut self, c: &C) {
            if self
                .backends
                .is_some_and(|b| !b.iter().any(|l| l == c.label()))
            {
                return;
            }
            let s = self.specs;
            let p = self.progress;
            self.rows.extend(match self.workload {
                "lookup" => lookup::lookup(c, &s.lookup, p),
                "routing" => routing::routing(c, &s.routing, p),
                "churn" => churn::churn(c, &s.churn, p),
                "scale" => scale::scale(c, &s.scale, p),
                "fanout" => fanout::fanout(c, &s.fanout, p),
                "soak" => soak::soak(c, &s.soak, p),
                _ => Vec::new(),
            });
        }
    }
    let mut each = Each {
        workload,
        specs,
        backends,
        progress,
        rows: Vec::new(),
    };
    contenders::for_each(&mut each);
    let mut rows = each.rows;
    if workload == "routing" {
        rows.extend(routing::routing_floors(&specs.routing, progress));
        let derived = routing::ops_vs_direct(&rows);
        rows.extend(derived);
    }
    rows.extend(run_strategy_workload(workload, specs, progress));
    rows
}

/// A skip row for every backend in `ids`: the whole workload could not run, and why.
pub(crate) fn skip_all(
    w: &naming_schema::Workload,
    ids: &[naming_schema::Identity],
    reason: &str,
) -> Vec<Row> {
    ids.iter()
        .filter(|i| !i.is_floor())
        .map(|i| w.skip(i.label, &Params::new(), reason))
        .collect()
}

/// The workloads that compare shard routers and backup schemes rather than naming backends.
fn run_strategy_workload(workload: &str, specs: &Specs, progress: &dyn Progress) -> Vec<Row> {
    match workload {
        "reshard" => {
            progress.step("reshard: routers x shard counts");
            use naming_strategies::shard::{identities, reshard_rows, RESHARD};
            reshard_rows(&specs.reshard)
                .unwrap_or_else(|e| skip_all(&RESHARD, &identities(), &e.to_string()))
        }
        "recovery" => {
            progress.step("recovery: kill / restart cycles per backup scheme");
            let rt = common::tokio_runtime(2);
            use naming_strategies::recovery::{identities, recovery_rows, RECOVERY};
            rt.block_on(recovery_rows(&specs.recovery))
                .unwrap_or_else(|e| skip_all(&RECOVERY, &identities(), &e.to_string()))
        }
        "multinode" => multinode::multinode(&specs.multinode, progress),
        _ => Vec::new(),
    }
}

/// Runs the selected workloads over the selected backends, writes `<workload>.csv` and
/// `environment.json` under `opts.out`, and returns every row.
pub fn run(opts: &RunOptions, progress: &dyn Progress) -> io::Result<Vec<Row>> {
    let specs = Specs::new(opts.quick);
    let selected: Vec<&str> = match &opts.workloads {
        None => WORKLOADS.to_vec(),
        Some(w) => {
            for name in w {
                if !WORKLOADS.contains(&name.as_str()) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("unknown workload {name:?}; known: {}", WORKLOADS.join(", ")),
                    ));
                }
            }
            WORKLOADS
                .iter()
                .copied()
                .filter(|k| w.iter().any(|n| n == k))
                .collect()
        }
    };
    if let Some(b) = &opts.backends {
        let known = contenders::labels();
        for name in b {
            if !known.contains(&name.as_str()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown backend {name:?}; known: {}", known.join(", ")),
                ));
            }
        }
    }
    std::fs::create_dir_all(&opts.out)?;
    let env = Environment::capture(opts.quick, crate::alloc::description());
    std::fs::write(opts.out.join("environment.json"), env.to_json())?;
    let mut all = Vec::new();
    for workload in selected {
        progress.start(workload, 1);
        let rows = run_workload(workload, &specs, opts.backends.as_deref(), progress);
        write_workload(&opts.out, workload, &rows)?;
        progress.finish(workload);
        all.extend(rows);
    }
    Ok(all)
}

//! The workloads: the same work for every backend, described as data.
//!
//! Each workload is a function generic over a [`Contender`](crate::contenders::Contender):
//! it never names a backend. Beside it, in its own file, is its declaration (a
//! [`Workload`] constant: its metrics, charts, summary columns and guide judges), and it
//! makes its rows only through that declaration. [`DECLARATIONS`] lists the single-node
//! ones; [`run`] (or [`run_with`], with given sizes) runs a selection of workloads over a
//! selection of contenders as one run (one run id) and merges their rows into the output
//! directory. Adding a workload is its file, one line in
//! [`DECLARATIONS`] and its arm in [`run_workload`].

pub mod churn;
pub mod clients;
pub mod common;
pub mod criterion;
pub mod fanout;
pub mod gproc_features;
pub mod isolate;
pub mod lookup;
pub mod multinode;
pub mod routing;
pub mod runtime_costs;
pub mod scale;
pub mod soak;
pub mod stale_pids;

use std::io;
use std::path::PathBuf;

use naming_schema::{Params, Row, Workload};

use crate::contenders::{self, Contender, Visitor};
use crate::environment::{new_run_id, settings_line, Environment};
use crate::results::write_run;

/// The single-node workloads' declarations, in report order (criterion's estimates last).
pub const DECLARATIONS: &[&Workload] = &[
    &lookup::LOOKUP,
    &routing::ROUTING,
    &churn::CHURN,
    &scale::SCALE,
    &fanout::FANOUT,
    &soak::SOAK,
    &runtime_costs::RUNTIME,
    &gproc_features::GPROC_FEATURES,
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
    "runtime",
    "gproc",
    "reshard",
    "recovery",
    "multinode",
];

/// The workloads run once per backend, each backend a unit of its own (the others compare
/// their own kinds of backend in one process: routers, recovery schemes, a cluster). A
/// contender joins all of them unless it declares fewer
/// ([`Contender::workloads`](crate::contenders::Contender::workloads)).
pub const PER_BACKEND: &[&str] = &["lookup", "routing", "churn", "scale", "fanout", "soak"];

/// What to run and where the results go.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The sizes: quick (a few minutes in all), full, or tiny (tests).
    pub sizes: isolate::Sizes,
    /// Measurements per point, each unit in a fresh process when `isolation` says so.
    pub repeats: usize,
    /// Where each unit (a backend in a workload) is measured.
    pub isolation: isolate::Isolation,
    /// Only these backends (labels); `None` for all.
    pub backends: Option<Vec<String>>,
    /// Only these workloads; `None` for all of [`WORKLOADS`].
    pub workloads: Option<Vec<String>>,
    /// The results directory (CSV per workload, `runs/<run-id>.json`, `environment.json`);
    /// see [`results::out_dir`](crate::results::out_dir) for `--out` / `NAMING_BENCH_OUT`.
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

/// The most clients a sweep runs (one OS thread each, plus a runtime's workers).
pub const MAX_CLIENTS: usize = 4096;

/// The most clients this process may start: [`MAX_CLIENTS`], less on a host whose limit
/// on processes and threads (`ulimit -u`, `RLIMIT_NPROC`) leaves room for fewer, keeping
/// 64 threads for everything else.
pub fn max_clients() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into `lim`, which outlives the call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) } == 0;
    if ok && lim.rlim_cur != libc::RLIM_INFINITY {
        let room = usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX);
        return MAX_CLIENTS.min(room.saturating_sub(64) / 2);
    }
    MAX_CLIENTS
}

/// Parses a `NAMING_BENCH_CLIENTS` value: positive integers separated by commas
/// (`1,2,4,8`), none above [`max_clients`]; anything else (`abc`, `0`, `-1`, `1,abc,3`, an
/// empty item, `100000`) is refused with a one-line message naming the variable.
pub fn parse_client_counts(text: &str) -> Result<Vec<usize>, String> {
    let bad = || {
        format!(
            "NAMING_BENCH_CLIENTS={text:?}: expected positive integers separated by commas \
             (e.g. 1,2,4,8)"
        )
    };
    let max = max_clients();
    text.split(',')
        .map(|s| match s.trim().parse::<usize>() {
            Ok(n) if n > max => Err(format!(
                "NAMING_BENCH_CLIENTS={text:?}: {n} clients is more than this host can run \
                 (at most {max}: one thread each, within {MAX_CLIENTS} and the process limit \
                 of `ulimit -u`)"
            )),
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad()),
        })
        .collect()
}

/// Checks every `NAMING_BENCH_*` variable a run reads, before anything runs, so a bad
/// value is refused with a one-line message naming it rather than ignored or found late:
/// `NAMING_BENCH_CLIENTS` ([`parse_client_counts`]), `NAMING_BENCH_QUICK`
/// ([`parse_quick`]), `NAMING_BENCH_NET` (`netns`, `fault-injection`, `auto`),
/// `NAMING_BENCH_NODE_BIN`, `NAMING_BENCH_ETCD` and `NAMING_BENCH_BEAM_HARNESS` (existing
/// files),
/// `NAMING_BENCH_MACHINE` (one line of text) and `NAMING_BENCH_OUT` (not a file). Unset or
/// empty is the default for each.
pub fn check_env() -> Result<(), String> {
    check_env_with(|k| std::env::var_os(k))
}

/// [`check_env`] over the variables `get` returns (for tests).
pub fn check_env_with(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<(), String> {
    let text = |k: &str| -> Result<Option<String>, String> {
        match get(k) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .into_string()
                .map(Some)
                .map_err(|v| format!("{k}={v:?}: not valid UTF-8")),
        }
    };
    if let Some(v) = text("NAMING_BENCH_CLIENTS")? {
        if !v.trim().is_empty() {
            parse_client_counts(&v)?;
        }
    }
    parse_quick(text("NAMING_BENCH_QUICK")?.as_deref())?;
    if let Some(v) = text("NAMING_BENCH_NET")? {
        if !["netns", "fault-injection", "auto"].contains(&v.as_str()) {
            return Err(format!(
                "NAMING_BENCH_NET={v:?}: expected netns, fault-injection or auto"
            ));
        }
    }
    for k in [
        "NAMING_BENCH_NODE_BIN",
        "NAMING_BENCH_ETCD",
        "NAMING_BENCH_BEAM_HARNESS",
    ] {
        if let Some(v) = get(k).filter(|v| !v.is_empty()) {
            if !std::path::Path::new(&v).is_file() {
                return Err(format!("{k}={v:?}: no such file"));
            }
        }
    }
    if let Some(v) = text("NAMING_BENCH_MACHINE")? {
        if v.chars().any(char::is_control) || v.trim().is_empty() {
            return Err(format!(
                "NAMING_BENCH_MACHINE={v:?}: expected one line of text (a machine label)"
            ));
        }
    }
    if let Some(v) = get("NAMING_BENCH_OUT").filter(|v| !v.is_empty()) {
        let p = std::path::Path::new(&v);
        if p.exists() && !p.is_dir() {
            return Err(format!(
                "NAMING_BENCH_OUT={v:?}: not a directory (the results directory)"
            ));
        }
    }
    Ok(())
}

/// Client counts for the concurrency sweeps: `NAMING_BENCH_CLIENTS` (e.g. `1,2,4,8,16`),
/// else (unset or empty) 1 and the number of cores. A malformed value is an error (see
/// [`parse_client_counts`]), never silently replaced by the default.
pub fn client_counts() -> Result<Vec<usize>, String> {
    match std::env::var("NAMING_BENCH_CLIENTS") {
        Ok(v) if !v.trim().is_empty() => return parse_client_counts(&v),
        Ok(_) | Err(std::env::VarError::NotPresent) => {}
        Err(std::env::VarError::NotUnicode(v)) => {
            return Err(format!(
                "NAMING_BENCH_CLIENTS={v:?}: expected positive integers separated by commas"
            ))
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(if cores > 1 { vec![1, cores] } else { vec![1] })
}

/// Parses a `NAMING_BENCH_QUICK` value (`None`: unset): unset, empty or `0` is the full
/// sizes, `1` the quick ones; anything else is refused with a message naming the variable.
pub fn parse_quick(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(v) => Err(format!(
            "NAMING_BENCH_QUICK={v:?}: expected 1 (quick sizes), 0 or empty (full sizes)"
        )),
    }
}

/// Whether `NAMING_BENCH_QUICK` asks for the quick sizes (see [`parse_quick`]).
pub fn quick_from_env() -> Result<bool, String> {
    match std::env::var("NAMING_BENCH_QUICK") {
        Ok(v) => parse_quick(Some(&v)),
        Err(std::env::VarError::NotPresent) => parse_quick(None),
        Err(std::env::VarError::NotUnicode(v)) => parse_quick(Some(&v.to_string_lossy())),
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
    /// runtime (the runtime's own costs beside their floors; not per backend).
    pub runtime: runtime_costs::RuntimeCostsSpec,
    /// gproc (gproc's counters and await; gproc only, not per backend).
    pub gproc: gproc_features::GprocFeaturesSpec,
    /// reshard (shard routers; not per backend).
    pub reshard: naming_strategies::shard::ReshardConfig,
    /// recovery (state across a crash; not per backend).
    pub recovery: naming_strategies::recovery::RecoveryConfig,
    /// multi-node (a cluster of node processes; the distributed backends).
    pub multinode: naming_cluster::MultiNodeSpec,
}

impl Specs {
    /// Quick (`true`, about two minutes) or full sizes, with the client counts of
    /// [`client_counts`] (an error if `NAMING_BENCH_CLIENTS` is malformed).
    pub fn new(quick: bool) -> Result<Self, String> {
        Ok(Specs::with_clients(quick, client_counts()?))
    }

    /// Quick or full sizes with these client counts.
    pub fn with_clients(quick: bool, clients: Vec<usize>) -> Self {
        let most = clients.iter().copied().max().unwrap_or(1);
        if quick {
            Specs {
                lookup: lookup::LookupSpec::quick(clients.clone()),
                routing: routing::RoutingSpec::quick(clients.clone()),
                churn: churn::ChurnSpec::quick(most),
                scale: scale::ScaleSpec::quick(vec![1, most]),
                fanout: fanout::FanOutSpec::quick(most),
                soak: soak::SoakSpec::quick(most),
                runtime: runtime_costs::RuntimeCostsSpec::quick(),
                gproc: gproc_features::GprocFeaturesSpec::quick(),
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
                runtime: runtime_costs::RuntimeCostsSpec::full(),
                gproc: gproc_features::GprocFeaturesSpec::full(),
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
            runtime: runtime_costs::RuntimeCostsSpec::tiny(),
            gproc: gproc_features::GprocFeaturesSpec::tiny(),
            reshard: naming_strategies::shard::ReshardConfig {
                shard_counts: vec![4, 16],
                keys: 5_000,
                routers: naming_strategies::shard::RouterSpec::defaults().to_vec(),
                lookup_keys: 256,
                lookup_sample: std::time::Duration::from_millis(1),
                build_sample: std::time::Duration::from_micros(200),
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
    let mut rows = run_contenders(workload, specs, backends, progress);
    if workload == "routing" {
        rows.extend(routing::routing_floors(&specs.routing, progress));
        rows = routing::finish(rows);
    }
    rows.extend(run_strategy_workload(workload, specs, progress));
    rows
}

/// Runs a per-backend workload over the selected contenders that take part in it
/// ([`Contender::workloads`]), each with the floor it measures beside itself (lookup's raw `get`); the routing floors, which belong to no
/// contender, are left to the caller.
pub fn run_contenders(
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
                || !c.workloads().contains(&self.workload)
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
    // Foreign contenders take part in the per-backend workloads only.
    let per_backend = PER_BACKEND.contains(&workload);
    for label in crate::foreign::labels() {
        if per_backend && backends.is_none_or(|b| b.iter().any(|l| l == label)) {
            each.rows
                .extend(crate::foreign::run(label, workload, specs, progress).unwrap_or_default());
        }
    }
    each.rows
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
        "runtime" => runtime_costs::runtime_costs(&specs.runtime, progress),
        "gproc" => gproc_features::gproc_features(&specs.gproc, progress),
        _ => Vec::new(),
    }
}

/// Why a run failed (nothing of it was written).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The selection or a setting is invalid.
    #[error("{0}")]
    Invalid(String),
    /// A file or directory could not be read or made.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A `*.csv` file already in the results directory is not a results file (checked
    /// before anything runs).
    #[error("{0} (every *.csv in the results directory must be a results file: move it away)")]
    Input(#[from] crate::results::ReadError),
    /// Writing the results failed.
    #[error("writing the results: {0}")]
    Write(#[from] crate::results::WriteError),
    /// A signal stopped the run before its results were written.
    #[error("interrupted: nothing written")]
    Interrupted,
}

impl From<RunError> for io::Error {
    fn from(e: RunError) -> io::Error {
        let kind = match &e {
            RunError::Invalid(_) | RunError::Input(_) => io::ErrorKind::InvalidInput,
            RunError::Io { source, .. } => source.kind(),
            RunError::Write(w) => w.source.kind(),
            RunError::Interrupted => io::ErrorKind::Interrupted,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// One finished run: its id (carried by every row) and its rows.
#[derive(Clone, Debug)]
pub struct Run {
    /// The run id ([`new_run_id`](crate::environment::new_run_id)); its environment is
    /// `<out>/runs/<id>.json`.
    pub id: String,
    /// Every row it measured (each with `run` set to [`id`](Run::id)).
    pub rows: Vec<Row>,
}

/// [`run_with`] at the sizes of `opts.sizes` and the client counts of [`client_counts`]
/// (an error if `NAMING_BENCH_CLIENTS` is malformed).
pub fn run(opts: &RunOptions, progress: &dyn Progress) -> Result<Run, RunError> {
    let specs = opts.sizes.specs().map_err(RunError::Invalid)?;
    run_with(opts, &specs, progress)
}

/// Runs the selected workloads over the selected backends with `specs`, as one run with a
/// new run id, and writes its rows under `opts.out` through
/// [`write_run`](crate::results::write_run): each `<workload>.csv` merged with the rows
/// already there (pairs of backend and workload measured now replace their old rows, all
/// others are kept), then `runs/<id>.json` and `environment.json`, all or nothing. Before
/// anything runs, an interrupted earlier write is finished or undone
/// ([`recover`](crate::results::recover)) and every `*.csv` already there must read as
/// results ([`check_inputs`](crate::results::check_inputs)). Nothing is written until every
/// selected workload has run.
pub fn run_with(
    opts: &RunOptions,
    specs: &Specs,
    progress: &dyn Progress,
) -> Result<Run, RunError> {
    let selected: Vec<&str> = match &opts.workloads {
        None => WORKLOADS.to_vec(),
        Some(w) => {
            for name in w {
                if !WORKLOADS.contains(&name.as_str()) {
                    return Err(RunError::Invalid(format!(
                        "unknown workload {name:?}; known: {}",
                        WORKLOADS.join(", ")
                    )));
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
                return Err(RunError::Invalid(format!(
                    "unknown backend {name:?}; known: {}",
                    known.join(", ")
                )));
            }
        }
    }
    for r in crate::results::recover(&opts.out)? {
        eprintln!("naming-bench: {}: {r}", opts.out.display());
    }
    crate::results::check_inputs(&opts.out)?;
    std::fs::create_dir_all(&opts.out).map_err(|source| RunError::Io {
        path: opts.out.clone(),
        source,
    })?;
    let id = new_run_id();
    let quick = opts.sizes != isolate::Sizes::Full;
    let settings = format!(
        "{};sizes={};repeats={};isolation={};layout={}",
        settings_line(
            quick,
            &specs.lookup.clients,
            opts.backends.as_deref(),
            &selected
        ),
        opts.sizes.name(),
        opts.repeats,
        opts.isolation.describe(),
        match opts.isolation {
            isolate::Isolation::FreshProcess(_) => crate::layout::fix_for_children().describe(),
            isolate::Isolation::InProcess => "this process's".to_string(),
        }
    );
    let mut env = Environment::capture(
        &id,
        quick,
        &settings,
        &opts.out,
        crate::alloc::description(),
    );
    // The VM the BEAM originals run on (each unit starts a node of its own, in the same
    // way): recorded once per run, beside the crates and etcd.
    if crate::foreign::beam::selected(opts.backends.as_deref()) {
        if let Some(vm) = crate::foreign::beam::vm_line() {
            env.crates.push(("beam".to_string(), vm));
        }
    }
    let mut per_workload = Vec::new();
    let mut all = Vec::new();
    for workload in selected {
        progress.start(workload, 1);
        let plan = isolate::Plan {
            sizes: opts.sizes,
            specs,
            backends: opts.backends.as_deref(),
            repeats: opts.repeats,
            isolation: &opts.isolation,
            seed: isolate::seed_of(&id),
        };
        let mut rows = isolate::measure(workload, &plan, progress)?;
        for r in &mut rows {
            r.run = id.clone();
        }
        progress.finish(workload);
        all.extend(rows.iter().cloned());
        per_workload.push((workload, rows));
    }
    env.finish();
    if crate::interrupt::interrupted() {
        return Err(RunError::Interrupted);
    }
    write_run(&opts.out, &env, &per_workload)?;
    Ok(Run { id, rows: all })
}

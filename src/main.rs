//! `naming-bench`: runs the workloads over the backends and writes the report.
//!
//! - `naming-bench compare [--quick] [--backends a,b] [--workloads x,y] [--out DIR]
//!   [--repeats N]` runs the selected workloads as one run (one run id), each backend in a
//!   fresh process, `N` times in a shuffled order; merges their CSV rows into `DIR` and
//!   writes `runs/<run-id>.json` and `environment.json` there (`DIR`: `--out`, else
//!   `NAMING_BENCH_OUT`, else `results`), then the report (SVG charts, `REPORT.md`,
//!   `index.html`), and prints a summary.
//! - `naming-bench stability [...]` runs a selection twice and says whether its medians
//!   (within ±10%) and its verdicts repeat.
//! - `naming-bench measure --workload W --unit U --sizes S` measures one unit and writes its
//!   rows as CSV on stdout (what `compare` runs in each fresh process).
//! - `naming-bench report [--in DIR ...] [--out DIR]` rebuilds the report from existing
//!   results without running anything (default input: `NAMING_BENCH_OUT`, else `results`).
//! - `naming-bench diff A B [--out DIR]` compares two result directories point by point
//!   (values, ranges, the ratio B/A, better/worse beyond the noise) and writes `DIFF.md` and
//!   `index.html` into `DIR` (default `diff`).
//! - `naming-bench node --id N --rpc ADDR --gossip ADDR --node ID=RPC,GOSSIP ... [--etcd URLS]`
//!   runs one node of a multi-node cluster (started by the harness, not by hand).

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders;
use naming_bench::report::{self, ReportError};
use naming_bench::results;
use naming_bench::workloads::isolate::{self, Isolation, Sizes};
use naming_bench::workloads::{self, Progress, RunOptions, WORKLOADS};

/// Counts live heap bytes, for bytes per name and memory drift.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// BEAM naming strategies, in Rust on tokio, measured side by side.
#[derive(Parser, Debug)]
#[command(name = "naming-bench", version, about, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What a run measures: the sizes and a selection of backends and workloads.
#[derive(Args, Debug)]
struct Selection {
    /// Small sizes: a few minutes in all (also `NAMING_BENCH_QUICK=1`).
    #[arg(long)]
    quick: bool,
    /// Only these backends (comma-separated labels).
    #[arg(long, value_delimiter = ',')]
    backends: Option<Vec<String>>,
    /// Only these workloads (comma-separated).
    #[arg(long, value_delimiter = ',')]
    workloads: Option<Vec<String>>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the workloads over the backends, then write the report.
    Compare {
        #[command(flatten)]
        selection: Selection,
        /// Where the CSV rows, environment.json, runs/ and the report go [default:
        /// NAMING_BENCH_OUT, else results].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Measurements per point, each backend in a fresh process, in a shuffled order
        /// each repeat: 1 keeps quick mode within minutes; 3 to 5 give every figure its
        /// range and let the guide call ties (and take as many times as long).
        #[arg(long, default_value_t = 1)]
        repeats: usize,
    },
    /// Run a selection twice and say whether its numbers and verdicts repeat: the share of
    /// points whose medians agree within ±10%, and whether every verdict holds.
    Stability {
        #[command(flatten)]
        selection: Selection,
        /// Where the two runs go (`first/`, `second/`).
        #[arg(long, default_value = "stability")]
        out: PathBuf,
        /// Measurements per point in each run.
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Sizes: tiny (seconds, for tests), quick or full (default: quick with --quick).
        #[arg(long)]
        sizes: Option<String>,
    },
    /// Measure one unit (a backend, the floors, or a whole workload) and write its rows as
    /// CSV on stdout: what `compare` runs in a fresh process for each unit.
    #[command(hide = true)]
    Measure {
        /// The workload.
        #[arg(long)]
        workload: String,
        /// A backend label, `floors` or `all`.
        #[arg(long)]
        unit: String,
        /// tiny, quick or full.
        #[arg(long)]
        sizes: String,
    },
    /// Rebuild the report from existing results, without running anything.
    Report {
        /// Result directories to read (repeatable). Default: `NAMING_BENCH_OUT` (else
        /// `results`) and each of its subdirectories holding CSV files (e.g.
        /// `results/device-16core`).
        #[arg(long = "in", value_name = "DIR")]
        inputs: Vec<PathBuf>,
        /// Where the report goes (default: the first input directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare two result directories point by point (two machines, revisions or
    /// allocators).
    ///
    /// For every point in both: the two values with their ranges, the ratio B/A with its
    /// interval, and better or worse (by each metric's declared direction) where the ranges
    /// are apart and the change exceeds the 10% re-run noise; points in only one directory
    /// listed apart; both environments side by side. Writes DIFF.md, index.html and a chart
    /// into --out.
    Diff {
        /// The first (reference) result directory.
        a: PathBuf,
        /// The second result directory, compared against A.
        b: PathBuf,
        /// Where the comparison goes (must not be A or B).
        #[arg(long, default_value = "diff")]
        out: PathBuf,
    },
    /// Run one node of a multi-node cluster (the harness starts these).
    #[command(hide = true)]
    Node {
        /// This node's id (1-based); its pids name it.
        #[arg(long)]
        id: u32,
        /// The address its RPC server listens on.
        #[arg(long)]
        rpc: std::net::SocketAddr,
        /// The address its gossip listens on (UDP).
        #[arg(long)]
        gossip: std::net::SocketAddr,
        /// Every node as `ID=RPC_ADDR,GOSSIP_ADDR` (repeatable).
        #[arg(long = "node", value_parser = parse_node)]
        nodes: Vec<(u32, std::net::SocketAddr, std::net::SocketAddr)>,
        /// etcd client URLs, comma-separated; none: no global names on this node.
        #[arg(long, value_delimiter = ',')]
        etcd: Vec<String>,
        /// The etcd lease TTL of this node, seconds.
        #[arg(long, default_value_t = 2)]
        lease_ttl: i64,
        /// The cluster's id (gossip cluster and etcd key prefix).
        #[arg(long)]
        cluster_id: String,
        /// This incarnation of the node (the creation its pids carry); default: from the
        /// start time.
        #[arg(long)]
        creation: Option<u32>,
    },
}

/// Parses `ID=RPC_ADDR,GOSSIP_ADDR`.
fn parse_node(s: &str) -> Result<(u32, std::net::SocketAddr, std::net::SocketAddr), String> {
    let (id, addrs) = s
        .split_once('=')
        .ok_or("expected ID=RPC_ADDR,GOSSIP_ADDR")?;
    let (rpc, gossip) = addrs
        .split_once(',')
        .ok_or("expected ID=RPC_ADDR,GOSSIP_ADDR")?;
    Ok((
        id.parse().map_err(|e| format!("node id {id:?}: {e}"))?,
        rpc.parse()
            .map_err(|e| format!("rpc address {rpc:?}: {e}"))?,
        gossip
            .parse()
            .map_err(|e| format!("gossip address {gossip:?}: {e}"))?,
    ))
}

/// Runs node mode on a multi-threaded tokio runtime until the harness closes our stdin.
fn run_node(cfg: naming_cluster::NodeConfig) -> Result<(), CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Node(format!("starting the node's runtime: {e}")))?;
    rt.block_on(naming_cluster::run_node(cfg))
        .map_err(|e| CliError::Node(e.to_string()))
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("unknown backend {0:?}; known backends: {1}")]
    UnknownBackend(String, String),
    #[error("unknown workload {0:?}; known workloads: {1}")]
    UnknownWorkload(String, String),
    #[error("running the workloads: {0}")]
    Run(#[from] workloads::RunError),
    #[error("{0}")]
    Io(#[source] std::io::Error),
    #[error("{0}")]
    Recover(#[from] results::WriteError),
    #[error("building the report: {0}")]
    Report(#[from] ReportError),
    #[error("diff: {0}")]
    Diff(#[from] report::diff::DiffError),
    #[error("node: {0}")]
    Node(String),
    /// A malformed environment variable (the message names it).
    #[error("{0}")]
    Env(String),
}

/// Shows each workload as an indicatif bar on a terminal, as plain lines otherwise.
struct BarProgress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
}

impl BarProgress {
    fn new() -> Self {
        BarProgress {
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        // A poisoned lock only means another thread panicked mid-update: keep going.
        let mut guard = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }
}

impl Progress for BarProgress {
    fn start(&self, workload: &str, steps: u64) {
        if !self.terminal {
            eprintln!("== {workload} ({steps} steps)");
            return;
        }
        let bar = ProgressBar::new(steps);
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} {elapsed_precise} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(workload.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.with_bar(|b| *b = Some(bar));
    }

    fn step(&self, message: &str) {
        if !self.terminal {
            eprintln!("   {message}");
            return;
        }
        self.with_bar(|b| {
            if let Some(bar) = b {
                bar.set_message(message.to_string());
                bar.inc(1);
            }
        });
    }

    fn finish(&self, workload: &str) {
        if !self.terminal {
            eprintln!("== {workload} done");
            return;
        }
        self.with_bar(|b| {
            if let Some(bar) = b.take() {
                bar.finish_with_message("done");
            }
        });
    }
}

fn check_names(
    given: &Option<Vec<String>>,
    known: &[&str],
    err: fn(String, String) -> CliError,
) -> Result<(), CliError> {
    for g in given.iter().flatten() {
        if !known.contains(&g.as_str()) {
            return Err(err(g.clone(), known.join(", ")));
        }
    }
    Ok(())
}

/// The options of a run from the command line: sizes, selection, repeats in fresh
/// processes of this binary.
fn run_options(
    sizes: Sizes,
    selection: Selection,
    out: PathBuf,
    repeats: usize,
) -> Result<RunOptions, CliError> {
    let Selection {
        backends,
        workloads: workloads_sel,
        ..
    } = selection;
    check_names(&backends, &contenders::labels(), CliError::UnknownBackend)?;
    check_names(&workloads_sel, WORKLOADS, CliError::UnknownWorkload)?;
    if repeats == 0 {
        return Err(CliError::Env("--repeats must be at least 1".into()));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Env(format!("cannot find this program's binary: {e}")))?;
    Ok(RunOptions {
        sizes,
        repeats,
        isolation: Isolation::FreshProcess(exe),
        backends,
        workloads: workloads_sel,
        out,
    })
}

fn sizes_of(quick: bool) -> Result<Sizes, CliError> {
    let quick = quick || workloads::quick_from_env().map_err(CliError::Env)?;
    Ok(if quick { Sizes::Quick } else { Sizes::Full })
}

/// Finishes or undoes an interrupted write in each of `dirs`, saying so on stderr.
fn recover(dirs: &[PathBuf]) -> Result<(), CliError> {
    for dir in dirs {
        for r in results::recover(dir)? {
            eprintln!("naming-bench: {}: {r}", dir.display());
        }
    }
    Ok(())
}

fn compare(selection: Selection, out: PathBuf, repeats: usize) -> Result<(), CliError> {
    workloads::check_env().map_err(CliError::Env)?;
    let sizes = sizes_of(selection.quick)?;
    let specs = sizes.specs().map_err(CliError::Env)?;
    let opts = run_options(sizes, selection, out.clone(), repeats)?;
    naming_bench::interrupt::install(&out)
        .map_err(|e| CliError::Env(format!("installing the signal handlers: {e}")))?;
    let progress = BarProgress::new();
    let run = workloads::run_with(&opts, &specs, &progress)?;
    eprintln!(
        "run {}: {} rows merged into {} (environment: {})",
        run.id,
        run.rows.len(),
        out.display(),
        out.join("runs").join(format!("{}.json", run.id)).display()
    );
    write_report(&report::discover_inputs(&out), &out)
}

fn stability(
    selection: Selection,
    sizes: Option<String>,
    out: PathBuf,
    repeats: usize,
) -> Result<(), CliError> {
    workloads::check_env().map_err(CliError::Env)?;
    let sizes = match sizes {
        Some(s) => Sizes::parse(&s).map_err(CliError::Env)?,
        None => sizes_of(selection.quick)?,
    };
    let opts = run_options(sizes, selection, out.clone(), repeats)?;
    naming_bench::interrupt::install(&out)
        .map_err(|e| CliError::Env(format!("installing the signal handlers: {e}")))?;
    let st = naming_bench::stability::check(&opts, &BarProgress::new()).map_err(CliError::Io)?;
    let _ = write!(std::io::stdout().lock(), "{}", st.summary());
    Ok(())
}

/// The `measure` subcommand: one unit's rows as CSV on stdout.
fn measure(workload: &str, unit: &str, sizes: &str) -> Result<(), CliError> {
    check_names(
        &Some(vec![workload.to_string()]),
        WORKLOADS,
        CliError::UnknownWorkload,
    )?;
    workloads::check_env().map_err(CliError::Env)?;
    let specs = Sizes::parse(sizes)
        .and_then(Sizes::specs)
        .map_err(CliError::Env)?;
    let rows = isolate::measure_unit(workload, unit, &specs, &workloads::PrintProgress);
    let csv = naming_schema::row::to_csv(&rows);
    std::io::stdout()
        .lock()
        .write_all(csv.as_bytes())
        .map_err(|e| CliError::Io(std::io::Error::new(e.kind(), format!("stdout: {e}"))))
}

fn write_report(inputs: &[PathBuf], out: &std::path::Path) -> Result<(), CliError> {
    recover(inputs)?;
    let rep = report::build(inputs, out)?;
    // A closed stdout (`| head`) is not an error worth a panic: the report is written.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", report::summary(&rep));
    let _ = writeln!(
        stdout,
        "report: {} and {} ({} charts)",
        rep.markdown.display(),
        rep.html.display(),
        rep.figures.len()
    );
    Ok(())
}

/// The `diff` subcommand: writes the comparison and prints its summary.
fn diff(a: &std::path::Path, b: &std::path::Path, out: &std::path::Path) -> Result<(), CliError> {
    recover(&[a.to_path_buf(), b.to_path_buf()])?;
    let (d, written) = report::diff::build(a, b, out)?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "A = {}, B = {}", a.display(), b.display());
    let _ = writeln!(stdout, "{}", d.summary());
    for p in d.largest(10) {
        let _ = writeln!(
            stdout,
            "  {:<8} {} {} {} [{}]: {}",
            match p.change {
                report::diff::Change::Better => "better",
                report::diff::Change::Worse => "WORSE",
                _ => "changed",
            },
            p.workload,
            p.backend,
            p.metric,
            p.params,
            p.change_text()
        );
    }
    let _ = writeln!(
        stdout,
        "diff: {} and {}",
        written.markdown.display(),
        written.html.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compare {
            selection,
            out,
            repeats,
        } => compare(
            selection,
            results::out_dir(out, PathBuf::from("results")),
            repeats,
        ),
        Command::Stability {
            selection,
            out,
            repeats,
            sizes,
        } => stability(selection, sizes, out, repeats),
        Command::Measure {
            workload,
            unit,
            sizes,
        } => measure(&workload, &unit, &sizes),
        Command::Report { inputs, out } => {
            let default_in = results::out_dir(None, PathBuf::from("results"));
            let inputs = if inputs.is_empty() {
                report::discover_inputs(&default_in)
            } else {
                inputs
            };
            let out = out
                .or_else(|| inputs.first().cloned())
                .unwrap_or(default_in);
            write_report(&inputs, &out)
        }
        Command::Diff { a, b, out } => diff(&a, &b, &out),
        Command::Node {
            id,
            rpc,
            gossip,
            nodes,
            etcd,
            lease_ttl,
            cluster_id,
            creation,
        } => run_node(naming_cluster::NodeConfig {
            id,
            rpc,
            gossip,
            nodes,
            etcd,
            lease_ttl_secs: lease_ttl,
            cluster_id,
            creation,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            naming_bench::interrupt::wait_if_interrupted();
            eprintln!("naming-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

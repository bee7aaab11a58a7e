//! What every bench target shares: the scaffold ([`bench_main`]: criterion with the suite's
//! settings, the target's micro-benchmarks, then its workload merged into the results
//! directory as one run), quick mode, the results directory, and criterion's own estimates
//! of this process's benchmarks turned into result rows (the `criterion` workload).

#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, PlottingBackend};
use naming_bench::environment::{new_run_id, settings_line, Environment};
use naming_bench::results::{self, Row};
use naming_bench::workloads::criterion::estimate_rows;
use naming_bench::workloads::isolate::{self, Isolation, Plan, Sizes};
use naming_bench::workloads::{self, PrintProgress, Specs};

/// Prints `message` as the bench's one-line error and exits with status 1.
fn fail(message: &str) -> ! {
    eprintln!("naming-bench: {message}");
    std::process::exit(1);
}

/// `NAMING_BENCH_QUICK=1` (or `--quick` passed after `--`) selects the quick sizes; a
/// `NAMING_BENCH_QUICK` other than unset, empty, `0` or `1` is an error (exit 1).
pub fn quick() -> bool {
    workloads::quick_from_env().unwrap_or_else(|e| fail(&e))
        || std::env::args().any(|a| a == "--quick")
}

/// The client counts (`NAMING_BENCH_CLIENTS`); a malformed value is an error (exit 1).
pub fn clients() -> Vec<usize> {
    workloads::client_counts().unwrap_or_else(|e| fail(&e))
}

/// Where results go: `--out DIR` passed after `--` (see [`forward_out_flag`]), else
/// `NAMING_BENCH_OUT`, else `results/` at the workspace root.
pub fn out_dir() -> PathBuf {
    results::out_dir(None, Path::new(env!("CARGO_MANIFEST_DIR")).join("results"))
}

/// `--out DIR` (or `--out=DIR`) passed after `--`: criterion's own argument parser refuses
/// flags it does not know, so the bench runs itself again without the flag and with
/// `NAMING_BENCH_OUT=DIR` (which [`out_dir`] reads). Without the flag, does nothing.
pub fn forward_out_flag() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut rest = Vec::new();
    let mut out = None;
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--out" {
            let Some(v) = args.get(i + 1) else {
                fail("--out needs a directory");
            };
            out = Some(v.clone());
            i += 2;
            continue;
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--out=")) {
            out = Some(OsString::from(v));
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    let Some(out) = out else {
        return;
    };
    if out.is_empty() {
        fail("--out needs a directory");
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&format!("--out: {e}")));
    let mut cmd = std::process::Command::new(exe);
    cmd.args(&rest).env("NAMING_BENCH_OUT", &out);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let e = cmd.exec();
        fail(&format!("--out: cannot run the bench again: {e}"));
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .unwrap_or_else(|e| fail(&format!("--out: cannot run the bench again: {e}")));
        std::process::exit(status.code().unwrap_or(1));
    }
}

/// Criterion with measurement times that fit the suite's time budget, writing its HTML
/// reports (`target/criterion/report/index.html`) with plotters: gnuplot is not needed.
pub fn criterion() -> Criterion {
    let (warm, measure, samples) = if quick() {
        (Duration::from_millis(200), Duration::from_millis(400), 10)
    } else {
        (Duration::from_millis(500), Duration::from_secs(2), 30)
    };
    Criterion::default()
        .warm_up_time(warm)
        .measurement_time(measure)
        .sample_size(samples)
        .plotting_backend(PlottingBackend::Plotters)
        .configure_from_args()
}

/// One bench process's run: its id and environment, from its start.
pub struct BenchRun {
    /// The workload this bench target writes.
    pub workload: String,
    /// Quick sizes.
    pub quick: bool,
    /// The client counts.
    pub clients: Vec<usize>,
    /// Where the results go.
    pub out: PathBuf,
    /// The run's environment (its id inside), captured at the start.
    pub env: Environment,
}

impl BenchRun {
    /// Starts the run of `workload`: checks the environment variables (exit 1 on a bad
    /// one), makes the run id and captures the environment.
    pub fn start(workload: &str) -> BenchRun {
        let quick = quick();
        let clients = clients();
        let out = out_dir();
        let id = new_run_id();
        let settings = format!(
            "{};layout={}",
            settings_line(quick, &clients, None, &[workload]),
            naming_bench::layout::fix_for_children().describe()
        );
        let env = Environment::capture(
            &id,
            quick,
            &settings,
            &out,
            naming_bench::alloc::description(),
        );
        BenchRun {
            workload: workload.to_string(),
            quick,
            clients,
            out,
            env,
        }
    }

    /// The run id.
    pub fn id(&self) -> &str {
        self.env.run_id.as_deref().unwrap_or_default()
    }

    /// Marks `rows` as this run's and merges them into `<workload>.csv` under the output
    /// directory, then writes `runs/<id>.json` and `environment.json` (exit 1 on failure).
    pub fn write(mut self, mut rows: Vec<Row>) {
        let id = self.id().to_string();
        for r in &mut rows {
            r.run = id.clone();
        }
        self.env.finish();
        let n = rows.len();
        if let Err(e) = results::write_run(&self.out, &self.env, &[(&self.workload, rows)]) {
            fail(&format!(
                "{}: cannot write results to {}: {e}",
                self.workload,
                self.out.display()
            ));
        }
        eprintln!(
            "naming-bench {}: run {id}: {n} rows merged into {}",
            self.workload,
            self.out.join(format!("{}.csv", self.workload)).display()
        );
    }
}

/// When this process was started as a harness worker (`<bench> measure --workload W --unit
/// U --sizes S`, see [`workload_rows`]): measures that one unit, writes its rows as CSV on
/// stdout and exits, so that the harness never shares a process with criterion or with
/// another backend. Otherwise returns.
fn serve_measure() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("measure") {
        return;
    }
    let flag = |name: &str| {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).cloned()
    };
    let (Some(workload), Some(unit), Some(sizes)) =
        (flag("--workload"), flag("--unit"), flag("--sizes"))
    else {
        fail("measure needs --workload W --unit U --sizes S");
    };
    let specs = Sizes::parse(&sizes)
        .and_then(Sizes::specs)
        .unwrap_or_else(|e| fail(&e));
    let rows = isolate::measure_unit(&workload, &unit, &specs, &PrintProgress);
    let csv = naming_schema::row::to_csv(&rows);
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_all(csv.as_bytes()) {
        fail(&format!("measure: writing rows to stdout: {e}"));
    }
    std::process::exit(0);
}

/// Every bench target's `main`: criterion with the suite's settings runs `micro` (the
/// target's micro-benchmarks, if any); then, under `cargo bench` (which passes `--bench`;
/// `cargo test --benches` does not, and stops here), `workload` runs through the
/// data-driven harness, each backend in a fresh process of this bench (never beside
/// criterion), and its rows are merged into `<workload>.csv`, with criterion's estimates
/// for the benchmarks of group `micro_group` that this process ran appended.
/// `--out DIR` after `--` sets the results directory.
pub fn bench_main(workload: &str, micro_group: Option<&str>, micro: impl FnOnce(&mut Criterion)) {
    serve_measure();
    forward_out_flag();
    let run = BenchRun::start(workload);
    let before = micro_group.map(CriterionSnapshot::take);
    let mut c = criterion();
    micro(&mut c);
    c.final_summary();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut rows = workload_rows(&run);
    if let Some(before) = before {
        rows.extend(before.rows_since());
    }
    let out = run.out.clone();
    run.write(rows);
    render_report(&out);
}

/// Re-renders `index.html` and `REPORT.md` in `out` from every row there (and in the
/// result directories beside it that the report reads), so that `cargo bench` ends with the
/// plotted report; prints the guide's summary (exit 1 when the report cannot be built).
pub fn render_report(out: &Path) {
    let inputs = naming_bench::report::discover_inputs(out);
    match naming_bench::report::build(&inputs, out) {
        Ok(rep) => {
            eprintln!("{}", naming_bench::report::summary(&rep));
            eprintln!(
                "naming-bench: report {} and {} ({} charts)",
                rep.html.display(),
                rep.markdown.display(),
                rep.figures.len()
            );
        }
        Err(e) => fail(&format!("report in {}: {e}", out.display())),
    }
}

/// Runs the run's workload through the data-driven harness over every contender, each
/// unit (a backend, the floors) in a fresh process of this bench executable (see
/// [`serve_measure`]), in an order shuffled by the run id.
fn workload_rows(run: &BenchRun) -> Vec<Row> {
    let specs = Specs::with_clients(run.quick, run.clients.clone());
    eprintln!(
        "naming-bench {}: {} mode, run {}, each backend in a fresh process",
        run.workload,
        if run.quick { "quick" } else { "full" },
        run.id()
    );
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| fail(&format!("cannot find this bench's executable: {e}")));
    let plan = Plan {
        sizes: if run.quick { Sizes::Quick } else { Sizes::Full },
        specs: &specs,
        backends: None,
        repeats: 1,
        isolation: &Isolation::FreshProcess(exe),
        seed: isolate::seed_of(run.id()),
    };
    isolate::measure(&run.workload, &plan, &PrintProgress)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", run.workload)))
}

/// Runs `workload` through the data-driven harness over every contender and merges its
/// rows into `<workload>.csv` as one run (no criterion rows: nothing was benchmarked).
pub fn run_and_write(workload: &str) {
    serve_measure();
    let run = BenchRun::start(workload);
    let rows = workload_rows(&run);
    let out = run.out.clone();
    run.write(rows);
    render_report(&out);
}

fn number_after(text: &str, key: &str) -> Option<f64> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].trim_start_matches([':', ' ']);
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn find_benchmarks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let path = e.path();
        if path.file_name().is_some_and(|n| n == "new") {
            if path.join("benchmark.json").exists() {
                out.push(path);
            }
        } else if path.is_dir()
            && path
                .file_name()
                .is_some_and(|n| n != "report" && n != "base" && n != "change")
        {
            find_benchmarks(&path, out);
        }
    }
}

fn string_after(text: &str, key: &str) -> Option<String> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].trim_start_matches([':', ' ']);
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Where criterion keeps its estimates: `CRITERION_HOME`, else `<target dir>/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// The `new/` directories of `group`'s benchmarks, sorted.
fn benchmarks_of(group: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    find_benchmarks(&criterion_home().join(group), &mut found);
    found.sort();
    found
}

/// What `estimates.json` of each benchmark of a group looked like before this process ran
/// its benchmarks: a benchmark whose file is new or changed since was run by this process;
/// the others (earlier runs, benchmarks since renamed or filtered out) are not read.
pub struct CriterionSnapshot {
    group: String,
    files: HashMap<PathBuf, (Option<SystemTime>, String)>,
}

fn estimates_state(new: &Path) -> (Option<SystemTime>, String) {
    let path = new.join("estimates.json");
    let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    (mtime, std::fs::read_to_string(&path).unwrap_or_default())
}

impl CriterionSnapshot {
    /// The state of `group`'s estimates now.
    pub fn take(group: &str) -> CriterionSnapshot {
        let files = benchmarks_of(group)
            .into_iter()
            .map(|new| {
                let state = estimates_state(&new);
                (new, state)
            })
            .collect();
        CriterionSnapshot {
            group: group.to_string(),
            files,
        }
    }

    /// The benchmarks of the group written since [`take`](Self::take), sorted.
    pub fn written_since(&self) -> Vec<PathBuf> {
        benchmarks_of(&self.group)
            .into_iter()
            .filter(|new| self.files.get(new) != Some(&estimates_state(new)))
            .collect()
    }

    /// Criterion's rows for the benchmarks written since the snapshot (see
    /// [`criterion_rows`]).
    pub fn rows_since(&self) -> Vec<Row> {
        criterion_rows(&self.group, &self.written_since())
    }
}

/// Criterion's mean estimates (with their 95% interval) of the benchmarks `benchmarks`
/// (their `new/` directories) of `group`, as rows of the `criterion` workload
/// (`bench=<group>;param=<p>`).
pub fn criterion_rows(group: &str, benchmarks: &[PathBuf]) -> Vec<Row> {
    let mut rows = Vec::new();
    for new in benchmarks {
        let (Ok(bench), Ok(est)) = (
            std::fs::read_to_string(new.join("benchmark.json")),
            std::fs::read_to_string(new.join("estimates.json")),
        ) else {
            continue;
        };
        let Some(backend) = string_after(&bench, "\"function_id\"") else {
            continue;
        };
        let param = string_after(&bench, "\"value_str\"");
        let Some(mean_at) = est.find("\"mean\"") else {
            continue;
        };
        let mean = &est[mean_at..];
        let (Some(point), Some(lo), Some(hi)) = (
            number_after(mean, "\"point_estimate\""),
            number_after(mean, "\"lower_bound\""),
            number_after(mean, "\"upper_bound\""),
        ) else {
            continue;
        };
        rows.extend(estimate_rows(
            &backend,
            group,
            param.as_deref(),
            point,
            lo,
            hi,
        ));
    }
    rows
}

/// A single-threaded tokio runtime: micro benches measure CPU cost, not thread wake-ups.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

//! What every bench target shares: the scaffold ([`bench_main`]: criterion with the suite's
//! settings, the target's micro-benchmarks, then its workload written to results/), quick
//! mode, and criterion's own estimates turned into result rows (the `criterion` workload).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::Criterion;
use naming_bench::environment::Environment;
use naming_bench::results::{self, Row};
use naming_bench::workloads::criterion::estimate_rows;
use naming_bench::workloads::{run_workload, PrintProgress, Specs};

/// `NAMING_BENCH_QUICK=1` (or `--quick` passed after `--`) selects the quick sizes.
pub fn quick() -> bool {
    std::env::var("NAMING_BENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty())
        || std::env::args().any(|a| a == "--quick")
}

/// Where results go: `NAMING_BENCH_OUT`, else `results/` at the workspace root.
pub fn out_dir() -> PathBuf {
    std::env::var_os("NAMING_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("results"))
}

/// Criterion with measurement times that fit the suite's time budget.
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
        .without_plots()
        .configure_from_args()
}

/// Writes `rows` as `<workload>.csv` plus `environment.json` under [`out_dir`].
pub fn write_rows(workload: &str, rows: &[Row]) {
    let out = out_dir();
    let env = Environment::capture(quick(), naming_bench::alloc::description());
    if let Err(e) = std::fs::create_dir_all(&out)
        .and_then(|_| std::fs::write(out.join("environment.json"), env.to_json()))
        .and_then(|_| results::write_workload(&out, workload, rows))
    {
        eprintln!(
            "naming-bench {workload}: cannot write results to {}: {e}",
            out.display()
        );
        std::process::exit(1);
    }
    eprintln!(
        "naming-bench {workload}: {} rows -> {}",
        rows.len(),
        out.join(format!("{workload}.csv")).display()
    );
}

/// Every bench target's `main`: criterion with the suite's settings runs `micro` (the
/// target's micro-benchmarks, if any); then, under `cargo bench` (which passes `--bench`;
/// `cargo test --benches` does not, and stops here), `workload` runs through the
/// data-driven harness and `<workload>.csv` is written, with criterion's estimates for
/// the group `micro_group` appended.
pub fn bench_main(workload: &str, micro_group: Option<&str>, micro: impl FnOnce(&mut Criterion)) {
    let mut c = criterion();
    micro(&mut c);
    c.final_summary();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    run_and_write(workload, micro_group);
}

/// Runs `workload` through the data-driven harness over every contender and writes
/// `<workload>.csv` (plus `environment.json`), with criterion's estimates for `group` appended.
pub fn run_and_write(workload: &str, micro_group: Option<&str>) {
    let quick = quick();
    let specs = Specs::new(quick);
    eprintln!(
        "naming-bench {workload}: {} mode",
        if quick { "quick" } else { "full" }
    );
    let mut rows = run_workload(workload, &specs, None, &PrintProgress);
    if let Some(group) = micro_group {
        rows.extend(criterion_rows(group));
    }
    write_rows(workload, &rows);
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

/// Criterion's mean estimates (with their 95% interval) for every benchmark in `group`,
/// read from `target/criterion`, as rows of the `criterion` workload
/// (`bench=<group>;param=<p>`).
pub fn criterion_rows(group: &str) -> Vec<Row> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let mut found = Vec::new();
    find_benchmarks(&target.join("criterion").join(group), &mut found);
    found.sort();
    let mut rows = Vec::new();
    for new in found {
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

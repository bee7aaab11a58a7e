//! Where each number came from: run ids on rows, one environment file per run, runs that
//! merge instead of erasing each other, a dirty flag that ignores the results, and
//! environment variables refused when malformed.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use naming_bench::environment::{git_state, Environment};
use naming_bench::results::{self, Outcome, Params, Row};
use naming_bench::workloads::{
    parse_client_counts, parse_quick, run_with, Progress, RunOptions, Specs,
};

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "naming-bench-provenance-{name}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn lookup_of(backend: &str, out: &Path) -> RunOptions {
    RunOptions {
        sizes: naming_bench::workloads::isolate::Sizes::Tiny,
        repeats: 1,
        isolation: naming_bench::workloads::isolate::Isolation::InProcess,
        backends: Some(vec![backend.to_string()]),
        workloads: Some(vec!["lookup".to_string()]),
        out: out.to_path_buf(),
    }
}

fn pairs(rows: &[Row]) -> HashSet<(String, String)> {
    rows.iter()
        .map(|r| (r.backend.clone(), r.workload.clone()))
        .collect()
}

fn run_env(out: &Path, id: &str) -> Environment {
    let path = out.join("runs").join(format!("{id}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Environment::from_json(&text).expect("a run's environment reads back")
}

#[test]
fn runs_merge_carry_their_id_and_keep_their_environment() {
    let out = temp_dir("merge");
    let specs = Specs::tiny();
    let first = run_with(&lookup_of("registry-dashmap", &out), &specs, &Quiet).unwrap();
    let second = run_with(&lookup_of("gproc", &out), &specs, &Quiet).unwrap();
    assert_ne!(first.id, second.id);
    assert!(!first.rows.is_empty() && !second.rows.is_empty());
    assert!(first.rows.iter().all(|r| r.run == first.id));
    assert!(second.rows.iter().all(|r| r.run == second.id));

    // The second run over another backend kept the first run's rows of every pair it did
    // not measure itself.
    let rows = results::read_dir(&out).unwrap();
    let measured_again = pairs(&second.rows);
    let kept: Vec<&Row> = first
        .rows
        .iter()
        .filter(|r| !measured_again.contains(&(r.backend.clone(), r.workload.clone())))
        .collect();
    assert!(kept.iter().any(|r| r.backend == "registry-dashmap"));
    for r in &kept {
        assert!(rows.contains(r), "first run's row lost: {r:?}");
    }
    for r in &second.rows {
        assert!(rows.contains(r), "second run's row missing: {r:?}");
    }
    assert_eq!(rows.len(), kept.len() + second.rows.len());
    assert!(rows.iter().all(|r| r.run == first.id || r.run == second.id));
    assert!(rows
        .iter()
        .filter(|r| r.backend == "registry-dashmap")
        .all(|r| r.run == first.id));

    // Measuring the first backend again replaces its rows, never doubles them.
    let third = run_with(&lookup_of("registry-dashmap", &out), &specs, &Quiet).unwrap();
    let rows = results::read_dir(&out).unwrap();
    let dashmap: Vec<&Row> = rows
        .iter()
        .filter(|r| r.backend == "registry-dashmap")
        .collect();
    assert_eq!(
        dashmap.len(),
        third
            .rows
            .iter()
            .filter(|r| r.backend == "registry-dashmap")
            .count()
    );
    assert!(dashmap.iter().all(|r| r.run == third.id));
    assert!(rows
        .iter()
        .filter(|r| r.backend == "gproc")
        .all(|r| r.run == second.id));

    // Every run's environment is kept; environment.json is the latest run's.
    for run in [&first, &second, &third] {
        let env = run_env(&out, &run.id);
        assert_eq!(env.run_id.as_deref(), Some(run.id.as_str()));
        let settings = env.settings.clone().unwrap_or_default();
        assert!(settings.contains("mode=quick"), "{settings}");
        assert!(settings.contains("workloads=lookup"), "{settings}");
        assert!(env.command.is_some());
        if Path::new("/proc/loadavg").exists() {
            assert!(env.load_start.is_some() && env.load_end.is_some());
        }
    }
    assert!(run_env(&out, &second.id)
        .settings
        .unwrap()
        .contains("backends=gproc"));
    let latest = fs::read_to_string(out.join("environment.json")).unwrap();
    assert_eq!(
        Environment::from_json(&latest).unwrap().run_id.as_deref(),
        Some(third.id.as_str())
    );

    // The report names both runs whose rows remain, each with its own kept environment.
    let report_dir = temp_dir("merge-report");
    naming_bench::report::build(std::slice::from_ref(&out), &report_dir).unwrap();
    let md = fs::read_to_string(report_dir.join("REPORT.md")).unwrap();
    for run in [&second, &third] {
        let line = md
            .lines()
            .find(|l| l.contains(&format!("run `{}`", run.id)))
            .unwrap_or_else(|| panic!("run {} not listed:\n{md}", run.id));
        assert!(line.contains("backends="), "{line}");
    }
    assert!(
        !md.contains(&format!("run `{}`", first.id)),
        "no rows of it remain"
    );
    let _ = fs::remove_dir_all(&report_dir);

    // No temporary file is left behind.
    for e in fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "left behind: {name}");
    }
    let _ = fs::remove_dir_all(&out);
}

fn row(run: &str, backend: &str, value: f64) -> Row {
    Row {
        run: run.into(),
        backend: backend.into(),
        workload: "lookup".into(),
        params: Params::new().with("names", 50),
        metric: "ns_per_op".into(),
        outcome: Outcome::Value(value),
        unit: "ns".into(),
        interval: None,
        repeats: 1,
    }
}

#[test]
fn merge_replaces_only_the_pairs_measured_again() {
    let old = vec![row("a", "gproc", 1.0), row("a", "static-names", 2.0)];
    let new = vec![row("b", "gproc", 3.0)];
    let merged = results::merge_rows(old, &new);
    assert_eq!(
        merged,
        vec![row("a", "static-names", 2.0), row("b", "gproc", 3.0)]
    );
}

#[test]
fn an_unreadable_results_file_is_kept_aside_not_lost() {
    let out = temp_dir("unreadable");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("lookup.csv"), "not,a,results,file\n").unwrap();
    let mut env = Environment::capture("20260101T000000Z-0001", true, "", &out, "system");
    env.finish();
    results::write_run(
        &out,
        &env,
        &[("lookup", vec![row("20260101T000000Z-0001", "gproc", 1.0)])],
    )
    .unwrap();
    assert_eq!(results::read_dir(&out).unwrap().len(), 1);
    let aside = out.join("lookup.csv.unreadable-20260101T000000Z-0001");
    assert_eq!(fs::read_to_string(aside).unwrap(), "not,a,results,file\n");
    assert!(out.join("runs/20260101T000000Z-0001.json").exists());
    let _ = fs::remove_dir_all(&out);
}

fn git(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=naming-bench",
            "-c",
            "user.email=naming-bench@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_dirty_flag_ignores_the_results() {
    let dir = temp_dir("git");
    fs::create_dir_all(&dir).unwrap();
    if !git(&dir, &["init", "-q"]) {
        eprintln!("skipped: git is not available");
        return;
    }
    fs::write(dir.join("code.rs"), "fn main() {}\n").unwrap();
    assert!(git(&dir, &["add", "code.rs"]));
    assert!(git(&dir, &["commit", "-q", "-m", "one"]));
    let clean = git_state(&dir, &[]).expect("a git tree");
    assert!(!clean.dirty);
    assert_eq!(clean.diff_hash, None);

    // Result files (under results/, or under the output directory) never make it dirty.
    fs::create_dir_all(dir.join("results/runs")).unwrap();
    fs::write(dir.join("results/lookup.csv"), "x\n").unwrap();
    fs::write(dir.join("results/runs/r.json"), "{}\n").unwrap();
    fs::create_dir_all(dir.join("elsewhere")).unwrap();
    fs::write(dir.join("elsewhere/lookup.csv"), "x\n").unwrap();
    assert!(!git_state(&dir, &["elsewhere"]).unwrap().dirty);
    assert!(
        git_state(&dir, &[]).unwrap().dirty,
        "elsewhere/ is not excluded by default"
    );

    // A change to the code does, with a hash that tells two changes apart.
    fs::write(dir.join("code.rs"), "fn main() { one() }\n").unwrap();
    let one = git_state(&dir, &["elsewhere"]).unwrap();
    assert!(one.dirty);
    let h1 = one.diff_hash.expect("a dirty tree has a diff hash");
    assert_eq!(h1.len(), 12);
    assert!(h1.chars().all(|c| c.is_ascii_hexdigit()));
    fs::write(dir.join("code.rs"), "fn main() { two() }\n").unwrap();
    let h2 = git_state(&dir, &["elsewhere"]).unwrap().diff_hash.unwrap();
    assert_ne!(h1, h2);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn malformed_environment_values_are_refused() {
    for bad in ["abc", "0", "-1", "1,abc,3", "1,,2", "2.5"] {
        let e = parse_client_counts(bad).expect_err(bad);
        assert!(e.contains("NAMING_BENCH_CLIENTS"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
    assert_eq!(parse_client_counts("1,2,4").unwrap(), vec![1, 2, 4]);
    assert_eq!(parse_client_counts(" 8 ").unwrap(), vec![8]);

    assert_eq!(parse_quick(None), Ok(false));
    assert_eq!(parse_quick(Some("")), Ok(false));
    assert_eq!(parse_quick(Some("0")), Ok(false));
    assert_eq!(parse_quick(Some("1")), Ok(true));
    for bad in ["yes", "true", "2", " 1"] {
        let e = parse_quick(Some(bad)).expect_err(bad);
        assert!(e.contains("NAMING_BENCH_QUICK"), "{e}");
    }
}

#[test]
fn the_out_flag_wins() {
    assert_eq!(
        results::out_dir(Some(PathBuf::from("x")), PathBuf::from("results")),
        PathBuf::from("x")
    );
}

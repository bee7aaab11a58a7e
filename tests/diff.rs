//! `naming-bench diff A B`: two small result directories built here, one point of each
//! kind (better, worse, changed, within the noise, only in A, only in B, skipped), compared
//! through the library and through the built binary; bad input is a clean error.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use naming_bench::environment::Environment;
use naming_bench::report::diff::{self, Change, DiffError, Reading};
use naming_bench::results::{Params, Row};
use naming_bench::workloads::{churn, lookup, scale};
use naming_schema::{Metric, Workload};

/// A fresh directory under cargo's temp dir.
fn temp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("diff-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn at() -> Params {
    Params::new().with("names", 1000).with("clients", 1)
}

/// A single measurement.
fn one(w: &Workload, backend: &str, m: &Metric, v: f64) -> Row {
    let mut r = w.row(backend, &at(), m, v);
    r.run = "run-x".into();
    r
}

/// A median of three with its range.
fn three(w: &Workload, backend: &str, m: &Metric, v: f64, lo: f64, hi: f64) -> Row {
    let mut r = one(w, backend, m, v);
    r.interval = Some((lo, hi));
    r.repeats = 3;
    r
}

fn skip(w: &Workload, backend: &str, reason: &str) -> Row {
    let mut r = w.skip(backend, &at(), reason);
    r.run = "run-x".into();
    r
}

fn env(rev: &str, allocator: &str) -> Environment {
    Environment {
        machine: "box".into(),
        cpu: "cpu".into(),
        cores: 2,
        rustc: "rustc 1.87".into(),
        allocator: allocator.into(),
        hasher: "foldhash".into(),
        crates: vec![("tokio".into(), "1.0".into())],
        git_revision: rev.into(),
        date: "2026-11-29T12:00:00Z".into(),
        mode: "quick".into(),
        run_id: Some("run-x".into()),
        git_dirty: Some(rev.ends_with("-dirty")),
        git_diff_hash: None,
        load_start: Some("0.5 0.5 0.5".into()),
        load_end: None,
        command: None,
        settings: Some("mode=quick".into()),
        files: None,
    }
}

fn write(dir: &Path, env: &Environment, rows: &[Row]) {
    let mut workloads: Vec<&str> = rows.iter().map(|r| r.workload.as_str()).collect();
    workloads.sort();
    workloads.dedup();
    for w in workloads {
        let mine: Vec<Row> = rows.iter().filter(|r| r.workload == w).cloned().collect();
        fs::write(
            dir.join(format!("{w}.csv")),
            naming_schema::row::to_csv(&mine),
        )
        .unwrap();
    }
    fs::write(dir.join("environment.json"), env.to_json()).unwrap();
}

/// Two directories, `a` and `b`, with one point of each kind.
fn fixtures(name: &str) -> (PathBuf, PathBuf) {
    let root = temp(name);
    let (a, b) = (root.join("a"), root.join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let (l, c, s) = (&lookup::LOOKUP, &churn::CHURN, &scale::SCALE);
    let rows_a = vec![
        // Better: higher is better, ranges apart, +50%.
        three(
            l,
            "registry-dashmap",
            &lookup::OPS_PER_SEC,
            1.0e7,
            0.95e7,
            1.05e7,
        ),
        // Worse: lower is better, single measurements, +30%.
        one(l, "registry-dashmap", &lookup::NS_PER_OP, 100.0),
        // Within the noise: single measurements, +5%.
        one(l, "gproc", &lookup::OPS_PER_SEC, 2.0e6),
        // Within the noise: +20% but the ranges overlap.
        three(l, "gproc", &lookup::NS_PER_OP, 500.0, 400.0, 600.0),
        // Changed: a count with no better direction, doubled.
        one(c, "gproc", &churn::CALLS, 1000.0),
        // Worse: a correctness count from 0 (no ratio).
        one(c, "gproc", &churn::DUPLICATE_OWNERS, 0.0),
        // Only in A.
        one(s, "registry-dashmap", &scale::BYTES_PER_NAME, 120.0),
        // Skipped in A, measured in B.
        skip(l, "static-names", "Undeclared: only 64 names"),
        // Skipped in both.
        skip(l, "interned-atoms", "atom table full"),
    ];
    let rows_b = vec![
        three(
            l,
            "registry-dashmap",
            &lookup::OPS_PER_SEC,
            1.5e7,
            1.45e7,
            1.55e7,
        ),
        one(l, "registry-dashmap", &lookup::NS_PER_OP, 130.0),
        one(l, "gproc", &lookup::OPS_PER_SEC, 2.1e6),
        three(l, "gproc", &lookup::NS_PER_OP, 600.0, 550.0, 650.0),
        one(c, "gproc", &churn::CALLS, 2000.0),
        one(c, "gproc", &churn::DUPLICATE_OWNERS, 3.0),
        one(l, "static-names", &lookup::OPS_PER_SEC, 5.0e7),
        skip(l, "interned-atoms", "atom table full"),
        // Only in B.
        one(s, "gproc", &scale::BYTES_PER_NAME, 300.0),
    ];
    write(&a, &env("abc1234", "system"), &rows_a);
    write(&b, &env("def5678-dirty", "mimalloc"), &rows_b);
    (a, b)
}

#[test]
fn classifies_each_point_by_noise_and_direction() {
    let (a, b) = fixtures("classify");
    let d = diff::compare(&a, &b).expect("both directories read");

    let p = d
        .point("lookup", "registry-dashmap", "ops_per_sec")
        .unwrap();
    assert_eq!(p.change, Change::Better);
    assert_eq!(p.verdict(), "**better** (higher is better)");
    let r = p.ratio.unwrap();
    assert!((r.median - 1.5).abs() < 1e-9);
    assert!((r.lo - 1.45 / 1.05).abs() < 1e-9, "{r:?}");
    assert!((r.hi - 1.55 / 0.95).abs() < 1e-9, "{r:?}");
    assert!(p.change_text().starts_with("1.50× [1.38..1.63]"));

    let p = d.point("lookup", "registry-dashmap", "ns_per_op").unwrap();
    assert_eq!(p.change, Change::Worse);
    assert_eq!(p.verdict(), "**worse** (lower is better)");

    let p = d.point("lookup", "gproc", "ops_per_sec").unwrap();
    assert_eq!(p.change, Change::WithinNoise);
    assert_eq!(p.verdict(), "within the noise (under 10%)");

    let p = d.point("lookup", "gproc", "ns_per_op").unwrap();
    assert_eq!(p.change, Change::WithinNoise);
    assert_eq!(p.verdict(), "within the noise (ranges overlap)");

    let p = d.point("churn", "gproc", "calls").unwrap();
    assert_eq!(p.change, Change::Changed);
    assert_eq!(p.verdict(), "**changed** (neither direction is better)");

    let p = d.point("churn", "gproc", "duplicate_owners").unwrap();
    assert_eq!(p.change, Change::Worse, "0 -> 3 failures is worse");
    assert!(p.ratio.is_none());
    assert_eq!(p.change_text(), "+3 (difference)");

    // Skips are shown as skips, never as numbers.
    let p = d.point("lookup", "static-names", "ops_per_sec").unwrap();
    assert_eq!(p.change, Change::Skipped);
    assert_eq!(p.verdict(), "skipped in A");
    assert!(matches!(&p.a, Reading::Skipped(r) if r.contains("only 64")));
    assert_eq!(p.change_text(), "–");
    let p = d.point("lookup", "interned-atoms", "").unwrap();
    assert_eq!(p.verdict(), "skipped in both");

    assert_eq!(d.only_a.len(), 1);
    assert_eq!(d.only_a[0].metric, "bytes_per_name");
    assert_eq!(d.only_a[0].backend, "registry-dashmap");
    assert_eq!(d.only_b.len(), 1);
    assert_eq!(d.only_b[0].backend, "gproc");

    assert_eq!(d.count(Change::Better), 1);
    assert_eq!(d.count(Change::Worse), 2);
    assert_eq!(d.count(Change::Changed), 1);
    assert_eq!(d.count(Change::WithinNoise), 2);
    assert_eq!(d.count(Change::Skipped), 2);
    assert!(
        d.summary().starts_with(
            "8 points in both: 1 better, 2 worse, 1 changed on a metric with no better \
             direction, 2 unchanged within the noise, 2 skipped"
        ),
        "{}",
        d.summary()
    );

    // The largest significant change leads: churn's 0 -> 3, then churn's doubling; lookup's
    // changes follow, its +50% before its +30%.
    let order: Vec<(&str, &str)> = d
        .points
        .iter()
        .map(|p| (p.workload.as_str(), p.metric.as_str()))
        .collect();
    assert_eq!(order[0], ("churn", "duplicate_owners"));
    assert_eq!(order[1], ("churn", "calls"));
    assert_eq!(order[2], ("lookup", "ops_per_sec"));
    assert_eq!(order[3], ("lookup", "ns_per_op"));
    assert_eq!(d.largest(1)[0].metric, "duplicate_owners");
}

#[test]
fn the_noise_band_is_the_guides() {
    assert!(!diff::beyond_noise(100.0, 105.0));
    assert!(diff::beyond_noise(100.0, 111.0));
    assert!(diff::beyond_noise(100.0, 89.0));
    assert!(!diff::beyond_noise(0.0, 0.0));
    assert!(diff::beyond_noise(0.0, 3.0));
    assert!(diff::beyond_noise(-100.0, 100.0));
}

#[test]
fn writes_the_page_and_the_markdown() {
    let (a, b) = fixtures("write");
    let out = a.parent().unwrap().join("out");
    let (d, written) = diff::build(&a, &b, &out).expect("written");
    assert_eq!(written.html, out.join("index.html"));
    assert_eq!(written.markdown, out.join("DIFF.md"));
    let md = fs::read_to_string(&written.markdown).unwrap();
    let html = fs::read_to_string(&written.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for text in [&md, &html] {
        assert!(text.contains("abc1234"), "A's revision");
        assert!(text.contains("def5678-dirty"), "B's revision");
        assert!(text.contains("mimalloc"));
        assert!(text.contains("Only in A (1 point)"));
        assert!(text.contains("Only in B (1 point)"));
        assert!(text.contains("skipped in A"));
        assert!(text.contains("✗ skipped: Undeclared: only 64 names"));
    }
    assert!(md.contains("**better** (higher is better)"));
    assert!(md.contains("| allocator | system | mimalloc | **differs** |"));
    assert!(md.contains("| machine | box | box | same |"));
    assert!(html.contains("<b>worse</b> (lower is better)"));
    assert!(md.contains(&d.summary()));
    let chart = written.chart.expect("a chart of the ratios");
    let svg = fs::read_to_string(chart).unwrap();
    assert!(svg.contains("<svg") && svg.contains("registry-dashmap"));
    assert!(md.contains("fig-diff-ratios.svg"));
}

#[test]
fn bad_input_is_a_clean_error() {
    let (a, b) = fixtures("errors");
    let root = a.parent().unwrap().to_path_buf();

    let missing = root.join("missing");
    let e = diff::compare(&missing, &b).unwrap_err();
    assert!(
        matches!(&e, DiffError::MissingDir(p) if *p == missing),
        "{e:?}"
    );
    assert!(e.to_string().contains("does not exist"));
    let e = diff::compare(&a, &missing).unwrap_err();
    assert!(
        matches!(&e, DiffError::MissingDir(p) if *p == missing),
        "{e:?}"
    );

    let empty = root.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let e = diff::compare(&a, &empty).unwrap_err();
    assert!(matches!(&e, DiffError::NoRows(p) if *p == empty), "{e:?}");

    let bad = root.join("bad");
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("lookup.csv"), "not,a,results,file\n").unwrap();
    let e = diff::compare(&a, &bad).unwrap_err();
    assert!(matches!(e, DiffError::Unreadable { .. }), "{e:?}");
    assert!(e.to_string().contains("lookup.csv"), "{e}");

    let e = diff::build(&a, &b, &a).unwrap_err();
    assert!(matches!(e, DiffError::OutIsInput(_)), "{e:?}");
    assert!(!a.join("index.html").exists());
}

#[test]
fn the_cli_writes_the_diff_and_refuses_a_missing_directory() {
    let (a, b) = fixtures("cli");
    let out = a.parent().unwrap().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_naming-bench"))
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 better, 2 worse"), "{stdout}");
    assert!(stdout.contains("WORSE"), "{stdout}");
    assert!(out.join("index.html").is_file());
    assert!(out.join("DIFF.md").is_file());

    let missing = a.parent().unwrap().join("nowhere");
    let run = Command::new(env!("CARGO_BIN_EXE_naming-bench"))
        .arg("diff")
        .arg(&missing)
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let help = Command::new(env!("CARGO_BIN_EXE_naming-bench"))
        .args(["diff", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: diff]"), "{help}");
}

#[test]
fn many_points_in_one_directory_are_grouped() {
    let (a, b) = fixtures("grouped");
    let mut rows = naming_bench::results::read_dir(&b).unwrap();
    for names in 0..70 {
        let p = Params::new().with("names", names).with("clients", 1);
        rows.push(lookup::LOOKUP.row("registry-scc", &p, &lookup::OPS_PER_SEC, 1e6));
    }
    rows.push(lookup::LOOKUP.skip("registry-scc", &at(), "out of memory"));
    write(&b, &env("def5678-dirty", "mimalloc"), &rows);
    let out = a.parent().unwrap().join("out");
    let (d, written) = diff::build(&a, &b, &out).unwrap();
    assert_eq!(d.only_b.len(), 72);
    let md = fs::read_to_string(written.markdown).unwrap();
    assert!(md.contains("grouped by workload and backend"));
    assert!(
        md.contains("| `lookup` | `registry-scc` | 71 | `ops_per_sec` | 71: `names=0;clients=1`"),
        "{md}"
    );
    assert!(md.contains("| 1: out of memory |"), "{md}");
    assert!(md.contains("`calls` (count; no better direction)"));
}

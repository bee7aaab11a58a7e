//! Results and the command line (issue 13): selection runs that touch only their own rows,
//! all-or-nothing writes and interrupts, errors that name their path, impossible values and
//! files cut short refused by `report`, client counts beyond the host, and every bad
//! environment value refused by name.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use naming_bench::environment::Environment;
use naming_bench::report::{self, ReportError};
use naming_bench::results::{self, Outcome, Params, Recovered, Row};
use naming_bench::workloads::isolate::{Isolation, Sizes};
use naming_bench::workloads::lookup::{LOOKUP, OPS_PER_SEC};
use naming_bench::workloads::{check_env_with, run_with, Progress, RunOptions, Specs};

const BIN: &str = env!("CARGO_BIN_EXE_naming-bench");

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("naming-bench-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn row(run: &str, backend: &str, workload: &str, value: f64) -> Row {
    Row {
        run: run.into(),
        backend: backend.into(),
        workload: workload.into(),
        params: Params::new().with("names", 50),
        metric: "ops_per_sec".into(),
        outcome: Outcome::Value(value),
        unit: "ops/s".into(),
        interval: None,
        repeats: 1,
    }
}

/// Every file under `dir` (recursively) and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// An out directory holding an earlier run: `lookup.csv` and `churn.csv` with rows of
/// several backends, `routing.csv`, `environment.json` and `runs/old-1.json`.
fn earlier_results(dir: &Path) {
    results::write_workload(
        dir,
        "lookup",
        &[
            row("old-1", "registry-dashmap", "lookup", 1.0),
            row("old-1", "static-names", "lookup", 2.0),
        ],
    )
    .unwrap();
    results::write_workload(
        dir,
        "churn",
        &[
            row("old-1", "gproc", "churn", 3.0),
            row("old-1", "registry-scc", "churn", 4.0),
        ],
    )
    .unwrap();
    results::write_workload(dir, "routing", &[row("old-2", "gproc", "routing", 5.0)]).unwrap();
    let mut env = Environment::capture("old-1", true, "old", dir, "system");
    env.finish();
    fs::create_dir_all(dir.join("runs")).unwrap();
    fs::write(dir.join("environment.json"), env.to_json()).unwrap();
    fs::write(dir.join("runs/old-1.json"), env.to_json()).unwrap();
}

/// The binary with no `NAMING_BENCH_*` variable from the test's environment.
fn bin() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("NAMING_BENCH_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

/// Waits for `child` at most `limit`, killing it (and failing) if it takes longer.
fn wait_for(mut child: Child, limit: Duration) -> Output {
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the binary with `args` and `env`, at most `limit`.
fn run_bin(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut c = bin();
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    wait_for(c.spawn().unwrap(), limit)
}

/// `compare` in quick mode over gproc's lookup alone, into `out`: the cheapest real run.
fn gproc_lookup(out: &str) -> [&str; 8] {
    [
        "compare",
        "--quick",
        "--backends",
        "gproc",
        "--workloads",
        "lookup",
        "--out",
        out,
    ]
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stderr of a run that must fail before measuring anything: non-zero, one line.
fn refused(o: &Output) -> String {
    let e = stderr(o);
    assert!(!o.status.success(), "should fail; stderr: {e}");
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(!e.contains("=="), "a workload started: {e}");
    e
}

// Item 1.
#[test]
fn a_selection_run_replaces_only_its_own_rows_and_keeps_provenance() {
    let out = temp_dir("selection");
    earlier_results(&out);
    let before = snapshot(&out);
    let opts = RunOptions {
        sizes: Sizes::Tiny,
        repeats: 1,
        isolation: Isolation::InProcess,
        backends: Some(vec!["registry-dashmap".into(), "gproc".into()]),
        workloads: Some(vec!["lookup".into(), "churn".into()]),
        out: out.clone(),
    };
    let run = run_with(&opts, &Specs::tiny(), &Quiet).unwrap();
    let after = snapshot(&out);

    // Files of workloads not selected, and earlier runs' environments, are untouched.
    for f in ["routing.csv", "runs/old-1.json"] {
        assert_eq!(before[&out.join(f)], after[&out.join(f)], "{f} rewritten");
    }
    let lookup = results::read_file(&out.join("lookup.csv")).unwrap();
    let churn = results::read_file(&out.join("churn.csv")).unwrap();
    // Rows of backends not selected keep their run id.
    assert!(lookup
        .iter()
        .any(|r| r.backend == "static-names" && r.run == "old-1"));
    assert!(churn
        .iter()
        .any(|r| r.backend == "registry-scc" && r.run == "old-1"));
    // The pairs measured now are wholly this run's.
    for r in lookup.iter().chain(&churn) {
        if ["registry-dashmap", "gproc"].contains(&r.backend.as_str()) {
            assert_eq!(r.run, run.id, "{r:?}");
        }
    }
    assert!(lookup
        .iter()
        .any(|r| r.backend == "registry-dashmap" && r.run == run.id));
    assert!(churn
        .iter()
        .any(|r| r.backend == "gproc" && r.run == run.id));
    // Every row of the run is there; environment.json is the run's, with its manifest.
    for r in &run.rows {
        assert!(lookup.contains(r) || churn.contains(r), "missing: {r:?}");
    }
    let env =
        Environment::from_json(&fs::read_to_string(out.join("environment.json")).unwrap()).unwrap();
    assert_eq!(env.run_id.as_deref(), Some(run.id.as_str()));
    let files = env.files.expect("a manifest");
    let count = |n: &str| files.iter().find(|f| f.name == n).map(|f| f.rows);
    assert_eq!(count("lookup.csv"), Some(lookup.len()));
    assert_eq!(count("churn.csv"), Some(churn.len()));
    assert!(out.join(format!("runs/{}.json", run.id)).is_file());
    let _ = fs::remove_dir_all(&out);
}

// Item 1: a run that fails before measuring leaves everything, environment.json included.
#[test]
fn a_run_refused_up_front_rewrites_nothing() {
    let out = temp_dir("refused");
    earlier_results(&out);
    let before = snapshot(&out);
    let o = run_bin(
        &[
            "compare",
            "--quick",
            "--backends",
            "registry-dashmap,nonesuch",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(60),
    );
    let e = refused(&o);
    assert!(e.contains("nonesuch"), "{e}");
    assert_eq!(before, snapshot(&out));
    let _ = fs::remove_dir_all(&out);
}

// Item 2: a complete journal is rolled forward, staged files without one rolled back.
#[test]
fn an_interrupted_write_is_finished_or_undone() {
    let out = temp_dir("journal");
    earlier_results(&out);
    let before = snapshot(&out);

    // Killed while staging: staged files, a journal not yet complete.
    fs::write(out.join(".lookup.csv.tmp-r1"), "partial").unwrap();
    fs::write(out.join("runs/.r1.json.tmp-r1"), "{").unwrap();
    fs::write(
        out.join(".pending-r1.tmp"),
        "naming-bench journal 1\n.lookup.csv.tmp-r1\tlookup.csv\n",
    )
    .unwrap();
    let done = results::recover(&out).unwrap();
    assert!(
        matches!(&done[..], [Recovered::Removed { files }] if files.len() == 3),
        "{done:?}"
    );
    assert_eq!(before, snapshot(&out), "rolled back to the old files");

    // Killed between renames: the journal is complete, one file already renamed.
    let new_lookup = results::read_file(&out.join("lookup.csv")).unwrap()[..1].to_vec();
    let new_churn = vec![row("r2", "gproc", "churn", 9.0)];
    fs::write(
        out.join("lookup.csv"),
        naming_schema::row::to_csv(&new_lookup),
    )
    .unwrap();
    fs::write(
        out.join(".churn.csv.tmp-r2"),
        naming_schema::row::to_csv(&new_churn),
    )
    .unwrap();
    fs::write(out.join(".environment.json.tmp-r2"), "{}\n").unwrap();
    fs::write(
        out.join(".pending-r2"),
        "naming-bench journal 1\n.lookup.csv.tmp-r2\tlookup.csv\n.churn.csv.tmp-r2\tchurn.csv\n\
         .environment.json.tmp-r2\tenvironment.json\nend 3\n",
    )
    .unwrap();
    // `report` (like every command that reads results) finishes it first.
    let _ = run_bin(
        &["report", "--in", out.to_str().unwrap()],
        &[],
        Duration::from_secs(120),
    );
    assert_eq!(
        results::read_file(&out.join("churn.csv")).unwrap(),
        new_churn
    );
    assert_eq!(
        fs::read_to_string(out.join("environment.json")).unwrap(),
        "{}\n"
    );
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains(".tmp-") || n.starts_with(".pending")),
        "{names:?}"
    );
    let _ = fs::remove_dir_all(&out);
}

/// Pids of live (not zombie) processes whose environment holds `marker`.
fn marked(marker: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for e in procs.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let environ = fs::read(e.path().join("environ")).unwrap_or_default();
        let needle = marker.as_bytes();
        if !environ.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if state == Some('Z') || state.is_none() {
            continue;
        }
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
    }
    found
}

fn interrupt_part_way(signal: libc::c_int, name: &str, code: i32) {
    let out = temp_dir(&format!("signal-{name}"));
    earlier_results(&out);
    let before = snapshot(&out);
    let marker = format!("cli-input-{name}-{}", std::process::id());
    let mut c = bin();
    c.args([
        "compare",
        "--quick",
        "--backends",
        "registry-dashmap,gproc",
        "--workloads",
        "lookup,churn",
        "--out",
        out.to_str().unwrap(),
    ])
    .env("NAMING_BENCH_MACHINE", &marker)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id();
    // Part-way: once a measuring process is running.
    let t = Instant::now();
    while !marked(&marker)
        .iter()
        .any(|(p, cmd)| *p != pid && cmd.contains(" measure "))
    {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no measuring process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
    let o = wait_for(child, Duration::from_secs(20));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "stderr: {e}");
    assert!(
        e.contains(&format!("interrupted ({name}): nothing written")),
        "{e}"
    );
    assert!(e.contains("unchanged"), "{e}");
    assert_eq!(before, snapshot(&out), "results changed");
    let t = Instant::now();
    loop {
        let left = marked(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "left running: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = fs::remove_dir_all(&out);
}

// Item 2.
#[test]
fn sigint_during_compare_leaves_the_results_and_no_workers() {
    interrupt_part_way(libc::SIGINT, "SIGINT", 130);
}

// Item 2.
#[test]
fn sigterm_during_compare_leaves_the_results_and_no_workers() {
    interrupt_part_way(libc::SIGTERM, "SIGTERM", 143);
}

// Item 3.
#[test]
fn a_stray_csv_fails_the_run_before_anything_runs() {
    let out = temp_dir("stray");
    earlier_results(&out);
    fs::write(out.join("notes.csv"), "name,score\nx,1\n").unwrap();
    let before = snapshot(&out);
    let t = Instant::now();
    let o = run_bin(
        &gproc_lookup(out.to_str().unwrap()),
        &[],
        Duration::from_secs(60),
    );
    let e = refused(&o);
    assert!(e.contains("notes.csv"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(30));
    assert_eq!(before, snapshot(&out));
    let _ = fs::remove_dir_all(&out);
}

// Item 3.
#[test]
fn io_errors_name_their_path() {
    let dir = temp_dir("paths");
    let file = dir.join("a-file");
    fs::write(&file, "").unwrap();
    let bad = file.join("results");
    let o = run_bin(
        &gproc_lookup(bad.to_str().unwrap()),
        &[],
        Duration::from_secs(60),
    );
    let e = refused(&o);
    assert!(e.contains(bad.to_str().unwrap()), "{e}");
    let o = run_bin(
        &["report", "--in", dir.join("missing").to_str().unwrap()],
        &[],
        Duration::from_secs(60),
    );
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("missing"), "{e}");
    let _ = fs::remove_dir_all(&dir);
}

// Item 4.
#[test]
fn report_refuses_impossible_values_naming_file_and_line() {
    let p = Params::new().with("names", 100);
    for (i, bad) in [-5.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        let dir = temp_dir(&format!("impossible-{i}"));
        let rows = vec![
            LOOKUP.row("gproc", &p, &OPS_PER_SEC, 1.0e6),
            LOOKUP.row("registry-dashmap", &p, &OPS_PER_SEC, bad),
        ];
        results::write_workload(&dir, "lookup", &rows).unwrap();
        let err = report::build(std::slice::from_ref(&dir), &dir).unwrap_err();
        assert!(
            matches!(err, ReportError::Impossible { .. }),
            "{bad}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("lookup.csv:3:"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let _ = fs::remove_dir_all(&dir);
    }
}

// Item 4.
#[test]
fn report_detects_a_file_cut_at_a_line_boundary() {
    let dir = temp_dir("cut");
    let p = Params::new().with("names", 100);
    let rows: Vec<Row> = ["gproc", "registry-dashmap", "static-names"]
        .iter()
        .map(|b| LOOKUP.row(b, &p, &OPS_PER_SEC, 1.0e6))
        .collect();
    let mut env = Environment::capture("r-cut", true, "", &dir, "system");
    env.finish();
    results::write_run(&dir, &env, &[("lookup", rows)]).unwrap();
    report::build(std::slice::from_ref(&dir), &dir).expect("the whole file reads");
    let path = dir.join("lookup.csv");
    let text = fs::read_to_string(&path).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    fs::write(&path, format!("{}\n", cut[..cut.len() - 1].join("\n"))).unwrap();
    let err = report::build(std::slice::from_ref(&dir), &dir).unwrap_err();
    assert!(matches!(err, ReportError::Truncated { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("lookup.csv") && msg.contains("2 rows"),
        "{msg}"
    );

    // An older result set, without a manifest, still loads.
    env.files = None;
    fs::write(dir.join("environment.json"), env.to_json()).unwrap();
    report::build(std::slice::from_ref(&dir), &dir).expect("an older set loads");
    let _ = fs::remove_dir_all(&dir);
}

// Item 5.
#[test]
fn more_clients_than_the_host_allows_is_an_error_not_a_hang() {
    let out = temp_dir("clients");
    let args = gproc_lookup(out.to_str().unwrap());
    let o = run_bin(
        &args,
        &[("NAMING_BENCH_CLIENTS", "100000")],
        Duration::from_secs(60),
    );
    let e = refused(&o);
    assert!(e.contains("NAMING_BENCH_CLIENTS"), "{e}");

    // Under `ulimit -u 400` (set in the child before it runs), a count within the suite's
    // cap but beyond the host's.
    let mut limited = bin();
    limited
        .args(args)
        .env("NAMING_BENCH_CLIENTS", "1,300")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: getrlimit/setrlimit are async-signal-safe and touch only the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut limited, || {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim.rlim_cur = lim.rlim_max.min(400);
            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = wait_for(limited.spawn().unwrap(), Duration::from_secs(60));
    let e = refused(&o);
    assert!(
        e.contains("NAMING_BENCH_CLIENTS") && e.contains("ulimit"),
        "{e}"
    );
    let _ = fs::remove_dir_all(&out);
}

// Item 6.
#[test]
fn every_bad_environment_value_is_refused_by_name() {
    let table: &[(&str, &str)] = &[
        ("NAMING_BENCH_CLIENTS", "abc"),
        ("NAMING_BENCH_CLIENTS", "0"),
        ("NAMING_BENCH_CLIENTS", "-1"),
        ("NAMING_BENCH_CLIENTS", "1,abc,3"),
        ("NAMING_BENCH_CLIENTS", "1,,2"),
        ("NAMING_BENCH_CLIENTS", "2.5"),
        ("NAMING_BENCH_CLIENTS", "100000"),
        ("NAMING_BENCH_QUICK", "yes"),
        ("NAMING_BENCH_QUICK", "2"),
        ("NAMING_BENCH_NET", "bogus"),
        ("NAMING_BENCH_NODE_BIN", "/nonexistent/naming-bench"),
        ("NAMING_BENCH_ETCD", "/nonexistent/etcd"),
        ("NAMING_BENCH_MACHINE", "two\nlines"),
        ("NAMING_BENCH_OUT", "/dev/null"),
    ];
    let out = temp_dir("env");
    earlier_results(&out);
    let before = snapshot(&out);
    for (k, v) in table {
        // The check itself.
        let e = check_env_with(|name| (name == *k).then(|| (*v).into())).unwrap_err();
        assert!(e.contains(k) && !e.contains('\n'), "{k}={v:?}: {e}");
        // And the binary, before anything runs (every command that reads them).
        let mut args = vec!["compare", "--quick", "--workloads", "lookup"];
        if *k != "NAMING_BENCH_OUT" {
            args.extend(["--out", out.to_str().unwrap()]);
        }
        let o = run_bin(&args, &[(k, v)], Duration::from_secs(60));
        let e = refused(&o);
        assert!(e.contains(k), "{k}={v:?}: {e}");
        let o = run_bin(
            &[
                "measure",
                "--workload",
                "lookup",
                "--unit",
                "gproc",
                "--sizes",
                "tiny",
            ],
            &[(k, v)],
            Duration::from_secs(60),
        );
        if *k != "NAMING_BENCH_OUT" {
            let e = refused(&o);
            assert!(e.contains(k), "measure {k}={v:?}: {e}");
        }
    }
    assert_eq!(before, snapshot(&out), "a refused run wrote something");
    assert!(check_env_with(|_| None).is_ok());
    assert!(check_env_with(|k| (k == "NAMING_BENCH_CLIENTS").then(|| "1,2,4".into())).is_ok());
    assert!(check_env_with(|k| (k == "NAMING_BENCH_NET").then(|| "netns".into())).is_ok());
    let _ = fs::remove_dir_all(&out);
}

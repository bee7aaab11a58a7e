//! The BEAM originals (`src/foreign/beam.rs`, `beam/harness.exs`) at tiny sizes: their rows
//! parse, follow the workloads' declarations and cover every original, with values for
//! lookup and routing; the node is shut down after a normal run, an error and a timeout.
//!
//! Set `NAMING_BENCH_REQUIRE_BEAM=1` (scripts/test.sh does) to fail instead of skipping
//! where elixir is not installed.

use std::time::{Duration, Instant};

use naming_bench::foreign::beam::node::{elixir_installed, harness_path, Node, NodeError};
use naming_bench::foreign::beam::{check_rows, ORIGINALS};
use naming_bench::workloads::{lookup, run_contenders, Progress, Specs};
use naming_schema::row::{from_csv, to_csv};
use naming_schema::{Origin, Row};

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

fn have_elixir() -> bool {
    if elixir_installed() {
        return true;
    }
    if std::env::var_os("NAMING_BENCH_REQUIRE_BEAM").is_some() {
        panic!("elixir is required (NAMING_BENCH_REQUIRE_BEAM) but not installed: run scripts/ensure-elixir.sh");
    }
    eprintln!("skipped: elixir is not installed (scripts/ensure-elixir.sh)");
    false
}

/// Whether a process `pid` is still running (not gone, not a zombie awaiting its reaper).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Processes whose parent is `pid` (the node's helpers, such as `erl_child_setup`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// Waits (2 s at most) until neither the node nor anything it started is left.
fn gone(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        if !running(pid) && children_of(pid).is_empty() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn labels_without_gproc() -> Vec<String> {
    ORIGINALS
        .iter()
        .filter(|o| o.label != "beam-gproc")
        .map(|o| o.label.to_string())
        .collect()
}

fn values(rows: &[Row], label: &str, metric: &str) -> Vec<f64> {
    rows.iter()
        .filter(|r| r.backend == label && r.metric == metric)
        .filter_map(Row::value)
        .collect()
}

#[test]
fn every_original_is_a_beam_contender() {
    let ids = naming_bench::contenders::contender_identities();
    for o in ORIGINALS {
        let id = ids.iter().find(|i| i.label == o.label).expect("listed");
        assert_eq!(id.origin, Origin::Beam, "{}", o.label);
        assert!(id.family.is_naming(), "{}", o.label);
    }
}

#[test]
fn lookup_and_routing_have_values_for_every_original_but_gproc() {
    if !have_elixir() {
        return;
    }
    let specs = Specs::tiny();
    let labels = labels_without_gproc();
    for (workload, metric) in [("lookup", "ops_per_sec"), ("routing", "ops_per_sec")] {
        let rows = run_contenders(workload, &specs, Some(&labels), &Quiet);
        // The rows survive the suite's CSV form unchanged.
        assert_eq!(from_csv(&to_csv(&rows)).expect("parses"), rows);
        for label in &labels {
            let skips: Vec<_> = rows
                .iter()
                .filter(|r| &r.backend == label)
                .filter_map(Row::skip_reason)
                .collect();
            assert!(skips.is_empty(), "{label} {workload} skipped: {skips:?}");
            let v = values(&rows, label, metric);
            assert!(
                !v.is_empty() && v.iter().all(|x| *x > 0.0),
                "{label} {workload}: {metric} {v:?}"
            );
            assert!(rows.iter().all(|r| r.workload == workload));
        }
        if workload == "routing" {
            for label in &labels {
                assert!(
                    values(&rows, label, "errors").iter().all(|e| *e == 0.0),
                    "{label}: routing errors"
                );
                assert!(!values(&rows, label, "ops_vs_direct").is_empty(), "{label}");
            }
        }
    }
}

#[test]
fn churn_scale_fanout_and_soak_measure_the_originals() {
    if !have_elixir() {
        return;
    }
    let specs = Specs::tiny();
    let some: Vec<String> = [
        "beam-registry",
        "beam-registry-duplicate",
        "beam-atoms",
        "beam-pg",
    ]
    .map(String::from)
    .to_vec();
    let churn = run_contenders("churn", &specs, Some(&some[..1]), &Quiet);
    assert_eq!(
        values(&churn, "beam-registry", "settled"),
        [1.0],
        "{churn:?}"
    );
    assert_eq!(values(&churn, "beam-registry", "duplicate_owners"), [0.0]);
    assert!(values(&churn, "beam-registry", "kills")[0] > 0.0);

    let scale = run_contenders("scale", &specs, Some(&some[..1]), &Quiet);
    assert!(
        !values(&scale, "beam-registry", "register_ns").is_empty(),
        "{scale:?}"
    );
    assert!(!values(&scale, "beam-registry", "register_unregister_ns").is_empty());

    let fanout = run_contenders("fanout", &specs, Some(&some), &Quiet);
    for label in ["beam-registry-duplicate", "beam-pg"] {
        assert_eq!(
            values(&fanout, label, "dispatch_all_received_ns").len(),
            specs.fanout.members.len(),
            "{label}: {fanout:?}"
        );
        assert!(values(&fanout, label, "short_dispatches")
            .iter()
            .all(|s| *s == 0.0));
    }
    assert!(fanout
        .iter()
        .filter(|r| r.backend == "beam-registry")
        .all(|r| r.skip_reason() == Some("no duplicate keys or properties: one process per name")));

    // Dynamic atoms are never collected: the VM's atom count grows with fresh ids.
    let soak = run_contenders("soak", &specs, Some(&some[2..3]), &Quiet);
    let atoms = values(&soak, "beam-atoms", "atom_count");
    assert_eq!(atoms.len(), specs.soak.phases + 1, "{soak:?}");
    assert!(atoms.last() > atoms.first(), "atom count {atoms:?}");
    assert!(values(&soak, "beam-atoms", "dead_names_left")
        .iter()
        .all(|d| *d == 0.0));
    assert!(values(&soak, "beam-atoms", "wrong_owner")
        .iter()
        .all(|d| *d == 0.0));
}

#[test]
fn gproc_without_a_built_gproc_is_skipped_saying_so() {
    if std::env::var_os("NAMING_BENCH_GPROC_EBIN").is_some() {
        return;
    }
    let rows = run_contenders(
        "lookup",
        &Specs::tiny(),
        Some(&["beam-gproc".to_string()]),
        &Quiet,
    );
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r
        .skip_reason()
        .is_some_and(|s| s.contains("NAMING_BENCH_GPROC_EBIN"))));
}

#[test]
fn the_node_is_shut_down_after_an_answer_an_error_and_a_timeout() {
    if !have_elixir() {
        return;
    }
    // A normal answer, then an error, then the node dropped.
    let mut node = Node::start(&harness_path(), Duration::from_secs(60)).expect("starts");
    assert!(node.vm().contains("OTP"), "{}", node.vm());
    let pid = node.pid();
    let answer = node
        .request(
            "run beam-registry fanout members=2;repeats=1",
            Duration::from_secs(60),
        )
        .expect("answers");
    assert!(answer.error.is_none() && !answer.rows.is_empty());
    let answer = node
        .request(
            "run no-such-original lookup sizes=1",
            Duration::from_secs(60),
        )
        .expect("answers");
    assert!(answer.error.is_some_and(|e| e.contains("no-such-original")));
    let answer = node
        .request("run beam-registry lookup sizes=10", Duration::from_secs(60))
        .expect("answers with the harness's own error");
    assert!(answer.error.is_some(), "a missing parameter is an error");
    drop(node);
    assert!(gone(pid), "the node {pid} or its helpers are still running");

    // A request that cannot finish in time: the node is shut down at once.
    let mut node = Node::start(&harness_path(), Duration::from_secs(60)).expect("starts");
    let pid = node.pid();
    let err = node
        .request(
            "run beam-registry churn workers=8;clients=1;call_rate=100;kill_rates=1;duration_ms=30000",
            Duration::from_millis(300),
        )
        .expect_err("times out");
    assert!(matches!(err, NodeError::Timeout(_)), "{err}");
    assert!(gone(pid), "the node {pid} is still running after a timeout");
    assert!(matches!(
        node.request(
            "run beam-registry fanout members=1;repeats=1",
            Duration::from_secs(5)
        ),
        Err(NodeError::Exited)
    ));
}

#[test]
fn rows_that_break_the_declaration_are_refused() {
    let lines = |row: &str| vec![row.to_string()];
    let good = ",beam-registry,lookup,names=5;keys=zipf;clients=1,ops_per_sec,10,,,1,ops/s,";
    let (rows, bad) = check_rows(&lookup::LOOKUP, "beam-registry", &lines(good));
    assert_eq!(rows.len(), 1);
    assert!(bad.is_none());
    // A median of repeats keeps its range and count.
    let ranged = ",beam-registry,lookup,names=5;keys=zipf;clients=1,ops_per_sec,10,8,12,6,ops/s,";
    let (rows, bad) = check_rows(&lookup::LOOKUP, "beam-registry", &lines(ranged));
    assert!(bad.is_none(), "{bad:?}");
    assert_eq!((rows[0].interval, rows[0].repeats), (Some((8.0, 12.0)), 6));
    for wrong in [
        ",beam-registry,lookup,names=5,ops_per_sec,10,11,12,6,ops/s,",
        ",beam-registry,lookup,names=5,no_such_metric,10,,,1,ops/s,",
        ",beam-registry,lookup,names=5,ops_per_sec,10,,,1,ns,",
        ",beam-atoms,lookup,names=5,ops_per_sec,10,,,1,ops/s,",
        "not,a,row",
    ] {
        let (rows, bad) = check_rows(&lookup::LOOKUP, "beam-registry", &lines(wrong));
        assert!(rows.is_empty() && bad.is_some(), "{wrong}");
    }
}

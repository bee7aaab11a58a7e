//! Repeats in fresh processes, and the stability check: at tiny sizes, a selection run
//! twice through the real binary (each backend measured in its own process, repeated)
//! gives rows with medians, ranges and repeat counts, and the check compares both runs.

use std::path::PathBuf;

use naming_bench::stability;
use naming_bench::workloads::isolate::{Isolation, Sizes};
use naming_bench::workloads::{PrintProgress, RunOptions};
use naming_schema::Situation;

#[test]
fn a_selection_run_twice_in_fresh_processes_is_compared() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("stability");
    let opts = RunOptions {
        sizes: Sizes::Tiny,
        repeats: 2,
        isolation: Isolation::FreshProcess(PathBuf::from(env!("CARGO_BIN_EXE_naming-bench"))),
        backends: Some(vec!["registry-dashmap".into(), "gproc".into()]),
        workloads: Some(vec!["lookup".into(), "scale".into()]),
        out: out.clone(),
    };
    let st = stability::check(&opts, &PrintProgress).expect("both runs and the comparison");
    assert!(st.compared > 20, "points compared: {}", st.compared);
    assert!(st.agreeing <= st.compared);
    assert_eq!(st.verdicts.len(), Situation::ALL.len());
    assert!(st.summary().contains("points agree within ±10%"));
    // Two repeats give every point a range, so each compared point is checked for overlap.
    assert!(st.ranged > 20 && st.ranged <= st.compared, "{}", st.ranged);
    assert!(st.ranges_overlapping <= st.ranged);
    assert!(st.summary().contains("have overlapping ranges"));

    // Every measured row is the median of two fresh-process measurements, with its range.
    let rows = naming_bench::results::read_dir(&out.join("first")).unwrap();
    let measured: Vec<_> = rows.iter().filter(|r| r.value().is_some()).collect();
    assert!(!measured.is_empty());
    for r in measured {
        assert_eq!(r.repeats, 2, "{r:?}");
        let (lo, hi) = r.interval.expect("a range over the repeats");
        let v = r.value().unwrap();
        assert!(lo <= v && v <= hi, "{r:?}");
    }
    // The floor measured beside a backend travels with it out of its process.
    assert!(
        rows.iter()
            .any(|r| r.backend == "floor-dashmap-get" && r.workload == "lookup"),
        "lookup's floor rows are kept"
    );
    for b in ["registry-dashmap", "gproc"] {
        assert!(rows
            .iter()
            .any(|r| r.backend == b && r.workload == "lookup"));
        assert!(rows.iter().any(|r| r.backend == b && r.workload == "scale"));
    }
}

#[test]
fn medians_within_ten_percent_agree() {
    assert!(stability::agree(100.0, 109.0));
    assert!(!stability::agree(100.0, 112.0));
    assert!(stability::agree(0.0, 0.0));
}

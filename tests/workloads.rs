//! Every workload at tiny size over every backend, with its invariants asserted.

use naming_bench::contenders;
use naming_bench::results::Row;
use naming_bench::workloads::{run_workload, Progress, Specs};

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

fn run(workload: &str) -> Vec<Row> {
    run_workload(workload, &Specs::tiny(), None, &Quiet)
}

fn values<'a>(rows: &'a [Row], metric: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
    rows.iter().filter(move |r| r.metric == metric)
}

/// Every backend appears in the rows, measured or skipped with a reason.
fn every_backend_present(rows: &[Row]) {
    for label in contenders::labels() {
        assert!(
            rows.iter().any(|r| r.backend == label),
            "{label} is missing from the rows"
        );
    }
    for r in rows.iter().filter(|r| r.is_skip()) {
        assert!(!r.unit.is_empty(), "a skip without a reason: {r:?}");
    }
}

#[test]
fn lookup_finds_every_name_and_has_floors() {
    let rows = run("lookup");
    every_backend_present(&rows);
    assert!(rows
        .iter()
        .any(|r| r.backend.starts_with("floor-") && r.metric == "ops_per_sec"));
    for r in values(&rows, "ops_per_sec") {
        assert!(r.value > 0.0 && r.value.is_finite(), "{r:?}");
    }
    // A missed lookup would have been recorded as a skip with this reason.
    assert!(!rows
        .iter()
        .any(|r| r.unit == "a registered name was not found"));
}

#[test]
fn routing_calls_all_succeed_and_has_percentiles() {
    let rows = run("routing");
    every_backend_present(&rows);
    for r in values(&rows, "errors") {
        assert_eq!(r.value, 0.0, "failed calls: {r:?}");
    }
    for r in values(&rows, "p99_ns") {
        let p50 = rows
            .iter()
            .find(|q| q.backend == r.backend && q.params == r.params && q.metric == "p50_ns")
            .unwrap();
        assert!(p50.value <= r.value);
    }
    assert!(rows.iter().any(|r| r.backend == "floor-direct-call"));
    assert!(rows.iter().any(|r| r.params.contains("mode=open")));
}

#[test]
fn churn_never_has_two_owners_and_counts_add_up() {
    let rows = run("churn");
    every_backend_present(&rows);
    for r in values(&rows, "duplicate_owners") {
        assert_eq!(r.value, 0.0, "two live owners of one name: {r:?}");
    }
    for r in values(&rows, "dead_names_left") {
        assert_eq!(
            r.value, 0.0,
            "names of dead processes left after settling: {r:?}"
        );
    }
    for r in values(&rows, "settled") {
        assert_eq!(r.value, 1.0, "workers not all back and named: {r:?}");
    }
    let spec = Specs::tiny().churn;
    let total = (spec.ops_per_client * spec.clients) as f64;
    let measured: std::collections::BTreeSet<_> = values(&rows, "calls_ok")
        .map(|r| (r.backend.clone(), r.params.clone()))
        .collect();
    for (backend, params) in measured {
        let get = |m: &str| {
            rows.iter()
                .find(|r| r.backend == backend && r.params == params && r.metric == m)
                .map(|r| r.value)
                .unwrap()
        };
        let calls = get("calls_ok")
            + get("calls_noproc")
            + get("calls_timeout")
            + get("calls_not_found")
            + get("calls_bad_request");
        let kill_attempts_upper = total - calls;
        assert!(
            kill_attempts_upper >= get("kills"),
            "{backend}: outcomes {calls} + kills {} exceed ops {total}",
            get("kills")
        );
        assert!(get("calls_ok") > 0.0, "{backend}: no call succeeded");
    }
}

#[test]
fn scale_registers_and_releases_everything() {
    let rows = run("scale");
    every_backend_present(&rows);
    assert!(
        values(&rows, "names_left_after_release").next().is_none(),
        "names left after every owner exited"
    );
    for r in values(&rows, "register_ns") {
        assert!(r.value > 0.0);
    }
    assert!(values(&rows, "register_unregister_ns").next().is_some());
}

#[test]
fn fanout_reaches_every_member_or_says_why_not() {
    let rows = run("fanout");
    every_backend_present(&rows);
    for r in values(&rows, "short_dispatches") {
        assert_eq!(r.value, 0.0, "a dispatch missed members: {r:?}");
    }
}

#[test]
fn soak_keeps_invariants_every_phase() {
    let rows = run("soak");
    every_backend_present(&rows);
    let spec = Specs::tiny().soak;
    for r in values(&rows, "registered") {
        assert_eq!(
            r.value, spec.sessions as f64,
            "registered names drifted: {r:?}"
        );
    }
    for m in ["dead_names_left", "wrong_owner"] {
        for r in values(&rows, m) {
            assert_eq!(r.value, 0.0, "{m}: {r:?}");
        }
    }
}

#[test]
fn reshard_rows_cover_every_router_and_recovery_loses_nothing_with_a_backup() {
    let rows = run("reshard");
    for router in ["modulo", "rendezvous", "ring", "jump", "maglev"] {
        assert!(
            rows.iter()
                .any(|r| r.backend == router && r.metric == "moved_ratio_grow"),
            "{router} missing"
        );
    }
    let rows = run("recovery");
    for r in values(&rows, "lost_updates") {
        if r.backend != "no-backup" {
            assert_eq!(r.value, 0.0, "{r:?}");
        }
    }
    assert!(values(&rows, "lost_updates").count() >= 3);
}

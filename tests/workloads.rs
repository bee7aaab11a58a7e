//! Every workload at tiny size over every backend, with its invariants asserted, and every
//! row checked against its workload's declaration.

use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders;
use naming_bench::results::Row;
use naming_bench::workloads::{
    churn, fanout, gproc_features, lookup, routing, run_workload, scale, soak, Progress, Specs,
    DECLARATIONS,
};
use naming_schema::{Metric, Workload};

// Installed so the memory measurements (bytes per name, soak's heap) write rows here too;
// it counts only while a workload measures memory.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

/// Runs `decl`'s workload at tiny sizes and checks every row against the declaration.
fn run(decl: &Workload) -> Vec<Row> {
    let rows = run_workload(decl.name, &Specs::tiny(), None, &Quiet);
    declared(decl, &rows);
    rows
}

/// Every row is of `decl`'s workload and names a metric it declares (a skip names none and
/// gives its reason), with that metric's unit.
fn declared(decl: &Workload, rows: &[Row]) {
    assert!(!rows.is_empty(), "{}: no rows", decl.name);
    for r in rows {
        assert_eq!(r.workload, decl.name, "{r:?}");
        match r.skip_reason() {
            Some(reason) => assert!(!reason.is_empty(), "a skip without a reason: {r:?}"),
            None => {
                let m = decl.metric(&r.metric).unwrap_or_else(|| {
                    panic!("{}: undeclared metric {:?} in {r:?}", decl.name, r.metric)
                });
                assert_eq!(r.unit, m.unit.symbol(), "{r:?}");
            }
        }
    }
}

/// The measured rows of `metric`, asserted to exist, so a check over them cannot pass by
/// finding none.
fn values<'a>(rows: &'a [Row], metric: &Metric) -> Vec<&'a Row> {
    let found: Vec<&Row> = rows
        .iter()
        .filter(|r| r.metric == metric.name && !r.is_skip())
        .collect();
    assert!(!found.is_empty(), "no rows of {}", metric.name);
    found
}

fn value(r: &Row) -> f64 {
    r.value()
        .unwrap_or_else(|| panic!("not a finite value: {r:?}"))
}

/// Every backend that takes part in the rows' workload appears in them, measured or
/// skipped with a reason; a contender that does not take part has no row.
fn every_backend_present(rows: &[Row]) {
    let workload = &rows.first().expect("no rows").workload;
    let joins = contenders::labels_in(workload);
    for label in contenders::labels() {
        let present = rows.iter().any(|r| r.backend == label);
        if joins.contains(&label) {
            assert!(present, "{label} is missing from the {workload} rows");
        } else {
            assert!(
                !present,
                "{label} does not take part in {workload}, yet has rows"
            );
        }
    }
}

#[test]
fn declarations_have_no_problems() {
    let mut names = Vec::new();
    for decl in DECLARATIONS {
        assert!(decl.problems().is_empty(), "{:?}", decl.problems());
        assert!(!names.contains(&decl.name), "{} declared twice", decl.name);
        names.push(decl.name);
    }
}

/// The lookup workload's rows at tiny sizes, measured once for the tests that check them.
fn lookup_rows() -> &'static [Row] {
    static ROWS: std::sync::OnceLock<Vec<Row>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| run(&lookup::LOOKUP))
}

#[test]
fn lookup_finds_every_name_and_has_floors() {
    let rows = lookup_rows();
    every_backend_present(rows);
    let floors: Vec<&str> = contenders::identities()
        .into_iter()
        .filter(|i| i.is_floor())
        .map(|i| i.label)
        .collect();
    assert!(values(rows, &lookup::OPS_PER_SEC)
        .iter()
        .any(|r| floors.contains(&r.backend.as_str())));
    for r in values(rows, &lookup::OPS_PER_SEC) {
        assert!(value(r) > 0.0, "{r:?}");
    }
    for r in values(rows, &lookup::OPS_VS_FLOOR) {
        assert!(
            value(r) > 0.0 && !floors.contains(&r.backend.as_str()),
            "{r:?}"
        );
    }
    // A missed lookup would have been recorded as a skip with this reason.
    assert!(!rows
        .iter()
        .any(|r| r.skip_reason() == Some("a registered name was not found")));
}

#[test]
fn lookup_clients_overlap_or_the_point_says_why_not() {
    use naming_bench::workloads::clients::MIN_OVERLAP;
    let rows = lookup_rows();
    for r in values(rows, &lookup::OVERLAP) {
        assert!((MIN_OVERLAP..=1.0).contains(&value(r)), "{r:?}");
        if r.param("clients").as_deref() == Some("1") {
            assert_eq!(value(r), 1.0, "one client overlaps itself: {r:?}");
        }
    }
    for r in values(rows, &lookup::DISCARDED_RUNS) {
        assert!(value(r) >= 0.0 && value(r).fract() == 0.0, "{r:?}");
    }
    // Every number comes with the overlap it was kept at and the runs thrown away for it.
    for r in values(rows, &lookup::OPS_PER_SEC) {
        for m in [&lookup::OVERLAP, &lookup::DISCARDED_RUNS] {
            assert!(
                rows.iter()
                    .any(|q| q.backend == r.backend && q.params == r.params && q.metric == m.name),
                "{} missing beside {r:?}",
                m.name
            );
        }
    }
    // Two clients: measured with an overlap, or skipped saying they did not run together.
    let two: Vec<&Row> = rows
        .iter()
        .filter(|r| r.param("clients").as_deref() == Some("2"))
        .collect();
    assert!(!two.is_empty(), "no rows with two clients");
    for r in two {
        if let Some(reason) = r.skip_reason() {
            assert!(
                reason.contains("did not run together")
                    || reason == "a registered name was not found",
                "{r:?}"
            );
        }
    }
}

#[test]
fn overlap_is_the_share_of_the_span_all_clients_ran() {
    use naming_bench::workloads::clients::overlap;
    use std::time::{Duration, Instant};
    let t = Instant::now();
    let ms = |n: u64| t + Duration::from_millis(n);
    assert_eq!(overlap(&[(ms(0), ms(10)), (ms(0), ms(10))]), 1.0);
    assert_eq!(overlap(&[(ms(0), ms(10)), (ms(10), ms(20))]), 0.0);
    assert_eq!(overlap(&[(ms(0), ms(10)), (ms(30), ms(40))]), 0.0);
    // Together from 5 to 15 of 0..20.
    assert!((overlap(&[(ms(0), ms(15)), (ms(5), ms(20))]) - 0.5).abs() < 1e-9);
    // Three clients: all three together only from 4 to 6 of 0..10.
    let three = [(ms(0), ms(6)), (ms(4), ms(10)), (ms(2), ms(8))];
    assert!((overlap(&three) - 0.2).abs() < 1e-9);
    assert_eq!(overlap(&[(ms(3), ms(7))]), 1.0, "one client");
    assert_eq!(overlap(&[]), 1.0, "no clients");
    assert_eq!(overlap(&[(ms(5), ms(5)), (ms(5), ms(5))]), 1.0, "zero span");
}

#[test]
fn routing_calls_all_succeed_and_has_percentiles() {
    let rows = run(&routing::ROUTING);
    every_backend_present(&rows);
    for r in values(&rows, &routing::ERRORS) {
        assert_eq!(value(r), 0.0, "failed calls: {r:?}");
    }
    for r in values(&rows, &routing::P99_NS) {
        let p50 = rows
            .iter()
            .find(|q| {
                q.backend == r.backend && q.params == r.params && q.metric == routing::P50_NS.name
            })
            .unwrap();
        assert!(value(p50) <= value(r));
    }
    assert!(rows.iter().any(|r| r.backend == routing::DIRECT_CALL.label));
    assert!(rows
        .iter()
        .any(|r| r.param("mode").as_deref() == Some("open")));
    for r in values(&rows, &routing::OPS_VS_DIRECT) {
        assert!(
            value(r) > 0.0 && r.backend != routing::DIRECT_CALL.label,
            "{r:?}"
        );
    }
    // The pacer checked itself; its open-loop rows are either measured with the pacer's lag
    // beside them, or skips that say the check failed.
    let check = values(&rows, &routing::OPEN_VS_CLOSED_P50);
    assert_eq!(check.len(), 1, "one self-check per run: {check:?}");
    assert_eq!(check[0].backend, routing::TOKIO_MPSC_ONESHOT.label);
    let open: Vec<&Row> = rows
        .iter()
        .filter(|r| r.param("mode").as_deref() == Some("open"))
        .filter(|r| r.metric != routing::OPEN_VS_CLOSED_P50.name)
        .collect();
    if value(check[0]) > routing::SELF_CHECK_FACTOR {
        assert!(open.iter().all(|r| r
            .skip_reason()
            .is_some_and(|why| why.contains("pacer self-check failed"))));
    } else {
        assert!(open.iter().all(|r| !r.is_skip()), "{open:?}");
        values(&rows, &routing::PACER_LAG_P99_NS);
    }
}

/// A run whose pacer failed its self-check keeps no open-loop value: each backend's open
/// point becomes one skip naming the check; closed-loop rows and the check row stay.
#[test]
fn routing_withholds_open_loop_rows_when_the_pacer_fails_its_self_check() {
    use naming_schema::Params;
    let decl = &routing::ROUTING;
    let open = Params::new()
        .with("workers", 20)
        .with("clients", 2)
        .with("mode", "open")
        .with("rate", 2000.0);
    let closed = Params::new()
        .with("workers", 20)
        .with("clients", 1)
        .with("mode", "closed");
    let floor = routing::TOKIO_MPSC_ONESHOT.label;
    let rows_with = |ratio: f64| {
        vec![
            decl.row(floor, &open, &routing::OPEN_VS_CLOSED_P50, ratio),
            decl.row(floor, &open, &routing::P50_NS, 900.0 * ratio),
            decl.row(floor, &open, &routing::P99_NS, 5000.0 * ratio),
            decl.row("registry-dashmap", &open, &routing::P50_NS, 1000.0 * ratio),
            decl.row(floor, &closed, &routing::P50_NS, 900.0),
            decl.row("registry-dashmap", &closed, &routing::P50_NS, 1000.0),
        ]
    };
    let passed = routing::finish(rows_with(1.1));
    assert_eq!(passed.iter().filter(|r| r.is_skip()).count(), 0);
    assert_eq!(passed.len(), 6);

    let failed = routing::finish(rows_with(3.0));
    let skips: Vec<&Row> = failed.iter().filter(|r| r.is_skip()).collect();
    assert_eq!(
        skips.len(),
        2,
        "one skip per backend and open point: {skips:?}"
    );
    assert!(skips
        .iter()
        .all(|r| r.param("mode").as_deref() == Some("open")
            && r.skip_reason().unwrap().contains("3.00x")));
    let measured_open = failed.iter().filter(|r| {
        !r.is_skip()
            && r.param("mode").as_deref() == Some("open")
            && r.metric != routing::OPEN_VS_CLOSED_P50.name
    });
    assert_eq!(measured_open.count(), 0);
    assert_eq!(
        failed
            .iter()
            .filter(|r| r.param("mode").as_deref() == Some("closed"))
            .count(),
        2
    );
}

#[test]
fn churn_never_has_two_owners_and_counts_add_up() {
    let rows = run(&churn::CHURN);
    every_backend_present(&rows);
    for r in values(&rows, &churn::DUPLICATE_OWNERS) {
        assert_eq!(value(r), 0.0, "two live owners of one name: {r:?}");
    }
    for r in values(&rows, &churn::DEAD_NAMES_LEFT) {
        assert_eq!(
            value(r),
            0.0,
            "names of dead processes left after settling: {r:?}"
        );
    }
    // Every backend of this suite settles: the registries' workers back and named, startup
    // discovery's supervisor with every child running again. The BEAM original's startup
    // discovery has no registry to re-register in (its handed pids go stale, which its rows
    // show), so it need not.
    let ids = naming_bench::contenders::identities();
    let identity = |backend: &str| ids.iter().find(|i| i.label == backend).copied();
    let must_settle = |backend: &str| {
        identity(backend).is_none_or(|i| {
            i.family != naming_schema::Family::StartupDiscovery
                || i.origin == naming_schema::Origin::Suite
        })
    };
    for r in values(&rows, &churn::SETTLED)
        .into_iter()
        .filter(|r| must_settle(&r.backend))
    {
        assert_eq!(value(r), 1.0, "workers not all back and named: {r:?}");
    }
    // Startup discovery is measured in churn, not skipped: its stale calls and the time
    // until each client finds the restarted worker again.
    let discovery: Vec<&str> = naming_bench::contenders::contender_identities()
        .iter()
        .filter(|i| {
            i.family == naming_schema::Family::StartupDiscovery
                && i.origin == naming_schema::Origin::Suite
        })
        .map(|i| i.label)
        .collect();
    assert_eq!(
        discovery,
        ["startup-discovery", "startup-discovery-scan"],
        "the suite's startup-discovery contenders"
    );
    let of = |backend: &str, m: &Metric| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.backend == backend && r.metric == m.name)
            .map(value)
            .collect()
    };
    for backend in &discovery {
        assert!(
            !rows.iter().any(|r| &r.backend == backend && r.is_skip()),
            "{backend} skipped in churn"
        );
        let kills = of(backend, &churn::KILLS);
        assert!(
            !kills.is_empty() && kills.iter().all(|&k| k > 0.0),
            "{backend}: kills"
        );
        let stale = of(backend, &churn::STALE_CALLS);
        let per_kill = of(backend, &churn::STALE_CALLS_PER_KILL);
        assert_eq!(stale.len(), kills.len(), "{backend}: stale_calls per point");
        for ((s, k), pk) in stale.iter().zip(&kills).zip(&per_kill) {
            assert!((pk - s / k).abs() < 1e-9, "{backend}: stale_calls_per_kill");
        }
        // Rediscovery measured at every point, p50 <= p99, both positive.
        let p50 = of(backend, &churn::REDISCOVER_P50_NS);
        let p99 = of(backend, &churn::REDISCOVER_P99_NS);
        assert_eq!(p50.len(), kills.len(), "{backend}: no rediscovery time");
        for (a, b) in p50.iter().zip(&p99) {
            assert!(*a > 0.0 && a <= b, "{backend}: rediscovery p50 {a} p99 {b}");
        }
        // Never a name registered: release and re-registration do not apply.
        assert!(of(backend, &churn::REREGISTER_P50_NS).is_empty());
    }
    // Handed pids go stale: every kill costs the clients calls through a dead pid, each
    // answered `noproc` (never a silent success or a timeout).
    for s in of("startup-discovery", &churn::STALE_CALLS) {
        assert!(s > 0.0, "handed pids never went stale");
    }
    let handed_noproc: f64 = of("startup-discovery", &churn::CALLS_NOPROC).iter().sum();
    let handed_stale: f64 = of("startup-discovery", &churn::STALE_CALLS).iter().sum();
    assert_eq!(
        handed_noproc, handed_stale,
        "a handed pid's stale call is a noproc"
    );
    // Registries' rows carry none of startup discovery's metrics.
    for r in &rows {
        if !discovery.contains(&r.backend.as_str()) {
            assert!(
                r.metric != churn::STALE_CALLS.name && r.metric != churn::REDISCOVER_P50_NS.name,
                "{r:?}"
            );
        }
    }
    let spec = Specs::tiny().churn;
    for r in values(&rows, &churn::OPS_PER_SEC) {
        assert_eq!(
            r.param("call_rate"),
            Some(spec.call_rate.to_string()),
            "{r:?}"
        );
        assert!(r.param("kill_rate").is_some(), "{r:?}");
    }
    let measured: Vec<_> = values(&rows, &churn::CALLS)
        .iter()
        .map(|r| (r.backend.clone(), r.params.clone()))
        .collect();
    for (backend, params) in measured {
        let find = |m: &Metric| {
            rows.iter()
                .find(|r| r.backend == backend && r.params == params && r.metric == m.name)
                .and_then(Row::value)
        };
        let get = |m: &Metric| {
            find(m).unwrap_or_else(|| panic!("{backend} {params}: no row of {}", m.name))
        };
        let issued = get(&churn::CALLS);
        let failures = get(&churn::CALLS_NOPROC)
            + get(&churn::CALLS_TIMEOUT)
            + get(&churn::CALLS_NOT_FOUND)
            + get(&churn::CALLS_BAD_REQUEST)
            + get(&churn::STALE_DELIVERIES);
        // Every call issued is counted once: answered, or exactly one kind of failure.
        assert_eq!(
            get(&churn::CALLS_OK) + failures,
            issued,
            "{backend} {params}: an event counted twice or not at all"
        );
        assert!(get(&churn::CALLS_OK) > 0.0, "{backend}: no call succeeded");
        assert!(get(&churn::KILLS) > 0.0, "{backend}: nothing was killed");
        let failed_stale = failures - get(&churn::CALLS_BAD_REQUEST);
        assert!((get(&churn::FAILED_STALE_PER_CALL) - failed_stale / issued).abs() < 1e-12);
        assert!((get(&churn::FAILED_PER_CALL) - failures / issued).abs() < 1e-12);
        assert!(
            (get(&churn::FAILED_PER_KILL) - failures / get(&churn::KILLS)).abs() < 1e-9,
            "{backend}: failed_per_kill"
        );
        for m in [&churn::RELEASE_P50_NS, &churn::REREGISTER_P50_NS] {
            let p99 = if m.name == churn::RELEASE_P50_NS.name {
                &churn::RELEASE_P99_NS
            } else {
                &churn::REREGISTER_P99_NS
            };
            if let (Some(p50), Some(p99)) = (find(m), find(p99)) {
                assert!(p50 <= p99, "{backend}: {} above its p99", m.name);
            }
        }
    }
}

#[test]
fn scale_registers_and_releases_everything() {
    let rows = run(&scale::SCALE);
    every_backend_present(&rows);
    assert!(
        !rows
            .iter()
            .any(|r| r.metric == scale::NAMES_LEFT_AFTER_RELEASE.name),
        "names left after every owner exited"
    );
    for r in values(&rows, &scale::REGISTER_NS) {
        assert!(value(r) > 0.0);
    }
    values(&rows, &scale::REGISTER_UNREGISTER_NS);
    // Bytes per name: measured (never negative) or skipped as a measurement error, for
    // some backend at least (the allocator is installed in this test binary).
    let bytes: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.metric == scale::BYTES_PER_NAME.name
                || r.skip_reason()
                    .is_some_and(|s| s.starts_with("measurement error: negative bytes per name"))
        })
        .collect();
    assert!(
        !bytes.is_empty(),
        "no bytes_per_name rows, measured or skipped"
    );
    for r in bytes {
        if !r.is_skip() {
            assert!(value(r) >= 0.0, "negative bytes per name: {r:?}");
        }
    }
}

#[test]
fn fanout_reaches_every_member_or_says_why_not() {
    let rows = run(&fanout::FANOUT);
    every_backend_present(&rows);
    for r in values(&rows, &fanout::SHORT_DISPATCHES) {
        assert_eq!(value(r), 0.0, "a dispatch missed members: {r:?}");
    }
}

#[test]
fn soak_keeps_invariants_every_phase() {
    let rows = run(&soak::SOAK);
    every_backend_present(&rows);
    let spec = Specs::tiny().soak;
    for r in values(&rows, &soak::REGISTERED) {
        assert_eq!(
            value(r),
            spec.sessions as f64,
            "registered names drifted: {r:?}"
        );
    }
    for m in [&soak::DEAD_NAMES_LEFT, &soak::WRONG_OWNER] {
        for r in values(&rows, m) {
            assert_eq!(value(r), 0.0, "{}: {r:?}", m.name);
        }
    }
    // Memory over time is growth from phase 0: zero there, for every backend measured.
    let growth = values(&rows, &soak::LIVE_BYTES_GROWTH);
    for r in &growth {
        value(r);
        if r.param("phase").as_deref() == Some("0") {
            assert_eq!(value(r), 0.0, "growth at phase 0: {r:?}");
        }
    }
    values(&rows, &soak::LIVE_BYTES);
}

#[test]
fn criterion_estimates_are_rows_of_the_criterion_declaration() {
    use naming_bench::workloads::criterion::{estimate_rows, CRITERION};
    let rows = estimate_rows(
        "registry-dashmap",
        "lookup",
        Some("10000"),
        60.0,
        58.0,
        63.0,
    );
    declared(&CRITERION, &rows);
    assert_eq!(rows[0].params.to_string(), "bench=lookup;param=10000");
}

#[test]
fn reshard_rows_cover_every_router_and_recovery_loses_nothing_with_a_backup() {
    let rows = run_workload("reshard", &Specs::tiny(), None, &Quiet);
    for router in ["modulo", "rendezvous", "ring", "jump", "maglev"] {
        assert!(
            rows.iter()
                .any(|r| r.backend == router && r.metric == "moved_ratio_grow"),
            "{router} missing"
        );
    }
    let rows = run_workload("recovery", &Specs::tiny(), None, &Quiet);
    let lost: Vec<&Row> = rows.iter().filter(|r| r.metric == "lost_updates").collect();
    assert!(lost.len() >= 3);
    for r in lost {
        if r.backend != "no-backup" {
            assert_eq!(r.value(), Some(0.0), "{r:?}");
        }
    }
}

#[test]
fn gproc_workload_measures_counters_and_await_with_sane_values() {
    use gproc_features::*;
    let rows = run(&GPROC_FEATURES);
    let tiny = Specs::tiny().gproc;
    assert!(rows.iter().all(|r| r.backend == GPROC.label), "{rows:?}");
    assert!(rows.iter().all(|r| !r.is_skip()), "{rows:?}");
    for metric in [&COUNTER_UPDATES_PER_S, &AGGREGATE_READS_PER_S] {
        let found = values(&rows, metric);
        // One row per client thread count.
        let mut threads: Vec<String> = found
            .iter()
            .filter_map(|r| r.params.text("threads"))
            .collect();
        threads.sort();
        let mut expected: Vec<String> = tiny.threads.iter().map(|t| t.to_string()).collect();
        expected.sort();
        assert_eq!(threads, expected, "{}", metric.name);
        for r in found {
            let v = r.value().unwrap();
            assert!(v.is_finite() && v > 0.0, "{r:?}");
        }
    }
    for r in values(&rows, &COUNTER_UPDATES_PER_S) {
        let (lo, hi) = r.interval.expect("an interval over the rounds");
        let v = r.value().unwrap();
        assert!(lo <= v && v <= hi, "{r:?}");
        assert_eq!(r.repeats as usize, tiny.rounds);
    }
    for metric in [&AGGREGATE_DRIFT, &AWAIT_MISSED] {
        for r in values(&rows, metric) {
            assert_eq!(r.value(), Some(0.0), "{r:?}");
        }
    }
    let percentiles: Vec<f64> = [
        &AWAIT_WAKE_P50_NS,
        &AWAIT_WAKE_P90_NS,
        &AWAIT_WAKE_P99_NS,
        &AWAIT_WAKE_MAX_NS,
    ]
    .into_iter()
    .map(|m| {
        let found = values(&rows, m);
        assert_eq!(found.len(), 1, "{}", m.name);
        found[0].value().unwrap()
    })
    .collect();
    assert!(percentiles[0] > 0.0, "{percentiles:?}");
    assert!(
        percentiles.windows(2).all(|w| w[0] <= w[1]),
        "percentiles in order: {percentiles:?}"
    );
    assert!(
        percentiles[3] < 5e9,
        "no wake-up took the 5 s limit: {percentiles:?}"
    );
}

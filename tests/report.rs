//! The report, rendered from a small fixed result set (`tests/data/report/`, plus its
//! `device-16core/` subdirectory as a second machine): every chart and every backend is
//! present, SVGs name their backends, the decision guide picks the winners the fixture was
//! built to have, and bad input gives a clear error rather than a panic.

use std::fs;
use std::path::{Path, PathBuf};

use naming_bench::report::{self, Family, ReportError, Situation};
use naming_bench::results::{self, Row};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report")
}

/// A fresh directory under cargo's temp dir for integration tests.
fn temp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

const NAMING: &[&str] = &[
    "registry-dashmap",
    "registry-scc",
    "monitor-registry",
    "gproc",
    "static-names",
    "dynamic-atoms",
    "startup-discovery",
];
const ROUTERS: &[&str] = &["modulo", "rendezvous", "jump", "ring", "maglev"];
const RECOVERY: &[&str] = &["supervisor-table", "keeper-heir", "no-backup"];
const FLOORS: &[&str] = &[
    "floor-dashmap-get",
    "floor-scc-get",
    "floor-direct-call",
    "floor-tokio-mpsc-oneshot",
];

/// Every chart family the fixture has rows for, and the backends each must show.
const CHARTS: &[(&str, &[&str])] = &[
    ("lookup-ops", NAMING),
    (
        "lookup-threads",
        &["registry-dashmap", "registry-scc", "gproc"],
    ),
    ("routing-latency", NAMING),
    ("routing-latency-open", NAMING),
    (
        "routing-threads",
        &["registry-dashmap", "registry-scc", "gproc"],
    ),
    ("routing-open-p99", NAMING),
    ("churn-failed", NAMING),
    ("churn-release", NAMING),
    ("churn-reregister", NAMING),
    ("scale-bytes", NAMING),
    ("scale-register", NAMING),
    (
        "scale-register-unregister",
        &["registry-dashmap", "registry-scc", "gproc"],
    ),
    ("scale-release-all", NAMING),
    ("fanout", NAMING),
    ("soak-memory", NAMING),
    ("soak-registered", NAMING),
    ("soak-atoms", &["dynamic-atoms"]),
    ("reshard-grow", ROUTERS),
    ("reshard-grow-ratio", ROUTERS),
    ("reshard-shrink", ROUTERS),
    ("reshard-shrink-ratio", ROUTERS),
    ("reshard-balance", ROUTERS),
    ("reshard-spread", ROUTERS),
    ("reshard-lookup", ROUTERS),
    ("reshard-memory", ROUTERS),
    ("recovery-lost", RECOVERY),
    ("recovery-latency", RECOVERY),
];

/// Whether figure id `id` belongs to chart family `family` (`family` or `family-<n>`).
fn of_family(id: &str, family: &str) -> bool {
    id == family
        || id
            .strip_prefix(family)
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

#[test]
fn renders_every_chart_and_backend_from_the_fixture() {
    let out = temp("fixture");
    let inputs = report::discover_inputs(&fixture());
    assert_eq!(
        inputs.len(),
        2,
        "the fixture and its device-16core subdirectory"
    );
    let rep = report::build(&inputs, &out).expect("report builds");

    let md = fs::read_to_string(out.join("REPORT.md")).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    for b in NAMING.iter().chain(ROUTERS).chain(RECOVERY).chain(FLOORS) {
        assert!(md.contains(&format!("`{b}`")), "REPORT.md lacks {b}");
        assert!(
            html.contains(&format!("<code>{b}</code>")),
            "index.html lacks {b}"
        );
    }
    for machine in ["fixture-laptop", "fixture-device"] {
        assert!(
            md.contains(machine) && html.contains(machine),
            "machine {machine} not named"
        );
    }

    for (family, must) in CHARTS {
        let figs: Vec<_> = rep
            .figures
            .iter()
            .filter(|f| of_family(&f.id, family))
            .collect();
        assert!(!figs.is_empty(), "no chart {family}");
        for f in figs {
            let path = out.join(&f.file);
            let svg =
                fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                svg.starts_with("<svg") && svg.len() > 2000,
                "{} looks empty",
                f.file
            );
            assert!(
                md.contains(&format!("]({})", f.file)),
                "REPORT.md lacks {}",
                f.file
            );
            assert!(
                html.contains(&format!("src=\"{}\"", f.file)),
                "index.html lacks {}",
                f.file
            );
            assert!(
                md.contains(&f.title),
                "REPORT.md lacks the title of {}",
                f.file
            );
            for b in must
                .iter()
                .copied()
                .chain(f.backends.iter().map(String::as_str))
            {
                assert!(svg.contains(b), "{} does not mention {b}", f.file);
            }
        }
    }
    // Every chart is one of the expected families, and its unit is on the axis.
    for f in &rep.figures {
        assert!(
            CHARTS.iter().any(|(c, _)| of_family(&f.id, c)),
            "unexpected chart {}",
            f.id
        );
        let svg = fs::read_to_string(out.join(&f.file)).unwrap();
        assert!(
            svg.contains('(') && svg.contains(')'),
            "{}: no unit on an axis",
            f.file
        );
    }
    // Floors are drawn where recorded.
    let lookup = rep
        .figures
        .iter()
        .find(|f| of_family(&f.id, "lookup-ops"))
        .unwrap();
    let svg = fs::read_to_string(out.join(&lookup.file)).unwrap();
    assert!(svg.contains("floor-dashmap-get"));
    let routing = fs::read_to_string(out.join("fig-routing-latency.svg")).unwrap();
    assert!(routing.contains("floor-direct-call") && routing.contains("floor-tokio-mpsc-oneshot"));
    // The second machine shows up in thread scaling.
    let threads = rep
        .figures
        .iter()
        .find(|f| of_family(&f.id, "lookup-threads"))
        .unwrap();
    assert_eq!(threads.sources, vec![0, 1]);

    // A backend has one colour in every chart.
    let hex = |(r, g, b): (u8, u8, u8)| format!("#{r:02X}{g:02X}{b:02X}");
    let dashmap = hex(rep.data.color("registry-dashmap"));
    for id in [
        "fig-scale-bytes.svg",
        "fig-fanout.svg",
        "fig-churn-failed.svg",
    ] {
        let svg = fs::read_to_string(out.join(id)).unwrap();
        assert!(
            svg.contains(&dashmap),
            "{id} does not draw registry-dashmap in {dashmap}"
        );
    }
    assert_ne!(
        rep.data.color("registry-dashmap"),
        rep.data.color("registry-scc")
    );
    assert_eq!(
        rep.data.color("floor-dashmap-get"),
        rep.data.color("registry-dashmap")
    );
}

#[test]
fn every_skip_row_is_a_finding() {
    let out = temp("skips");
    let rep = report::build(&report::discover_inputs(&fixture()), &out).unwrap();
    let rows = results::read_dir(&fixture()).unwrap();
    let skips: Vec<&Row> = rows.iter().filter(|r| r.is_skip()).collect();
    assert!(skips.len() > 10);
    let md = fs::read_to_string(out.join("REPORT.md")).unwrap();
    for s in skips {
        let line = format!("`{}` cannot run **{}**", s.backend, s.workload);
        let found = rep
            .findings
            .iter()
            .find(|f| f.starts_with(&line) && f.ends_with(&s.unit))
            .unwrap_or_else(|| panic!("no finding for {s:?}"));
        assert!(md.contains(found.as_str()));
        if !s.params.is_empty() {
            assert!(found.contains(&s.params), "{found} lacks {}", s.params);
        }
    }
}

#[test]
fn guide_picks_the_fixture_winners() {
    let out = temp("guide");
    let rep = report::build(&report::discover_inputs(&fixture()), &out).unwrap();
    let v = |s: Situation| {
        rep.guide
            .verdicts
            .iter()
            .find(|v| v.situation == s)
            .unwrap()
    };
    let expect = [
        (
            Situation::FewFixedServices,
            "static-names",
            "startup-discovery",
            108.0 / 81.0,
        ),
        (
            Situation::ManySessions,
            "registry-dashmap",
            "registry-scc",
            440.0 / 400.0,
        ),
        (
            Situation::PubSubGroups,
            "gproc",
            "registry-dashmap",
            25_005_000.0 / 20_005_000.0,
        ),
        (
            Situation::HeavyChurn,
            "registry-scc",
            "registry-dashmap",
            0.012 / 0.010,
        ),
        (
            Situation::VeryManyNames,
            "registry-scc",
            "registry-dashmap",
            88.0 / 76.0,
        ),
    ];
    for (s, winner, runner, ratio) in expect {
        let v = v(s);
        assert_eq!(v.winner.as_deref(), Some(winner), "{s:?}");
        assert_eq!(v.runner_up.as_deref(), Some(runner), "{s:?}");
        let got = v.ratio.unwrap();
        assert!(
            (got - ratio).abs() < 1e-3,
            "{s:?}: ratio {got}, expected {ratio}"
        );
        assert_eq!(v.seed_agrees, Some(true), "{s:?}: {}", v.seed_text);
    }
    // Who cannot, and why, from the skip rows.
    let many = v(Situation::VeryManyNames);
    let reason = |b: &str| {
        many.failures
            .iter()
            .find(|(f, _)| f == b)
            .map(|(_, r)| r.clone())
    };
    assert!(reason("dynamic-atoms").unwrap().starts_with("atom limit"));
    assert!(reason("static-names").unwrap().starts_with("static set"));
    assert!(reason("startup-discovery").is_some());
    let pubsub = v(Situation::PubSubGroups);
    assert!(pubsub
        .failures
        .iter()
        .any(|(b, r)| b == "static-names" && r.starts_with("unsupported")));
    // Seed 003: dynamic atoms are suggested for a few fixed services but measure 1.5x behind.
    let atoms = rep
        .guide
        .seed
        .iter()
        .find(|r| r.family == Family::DynamicAtoms)
        .unwrap();
    let cell = atoms
        .cells
        .iter()
        .find(|c| c.situation == Situation::FewFixedServices)
        .unwrap();
    assert!(cell.recommended && cell.agrees == Some(false), "{cell:?}");
    let rich = rep
        .guide
        .seed
        .iter()
        .find(|r| r.family == Family::RichRegistration)
        .unwrap();
    let mut rich_backends = rich.backends.clone();
    rich_backends.sort();
    assert_eq!(
        rich_backends,
        [
            "gproc",
            "monitor-registry",
            "registry-dashmap",
            "registry-scc"
        ]
    );
    let md = fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(md.contains("1.33× better than runner-up startup-discovery"));
}

fn write(dir: &Path, file: &str, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(file), text).unwrap();
}

#[test]
fn broken_uniqueness_disqualifies_and_is_reported() {
    let input = temp("dup-in");
    let rows = [
        Row::new(
            "registry-a",
            "scale",
            "names=1000",
            "bytes_per_name",
            50.0,
            "bytes",
        ),
        Row::new(
            "registry-b",
            "scale",
            "names=1000",
            "bytes_per_name",
            80.0,
            "bytes",
        ),
        Row::new(
            "registry-c",
            "scale",
            "names=1000",
            "bytes_per_name",
            90.0,
            "bytes",
        ),
        Row::new(
            "registry-a",
            "churn",
            "kill_rate=0.1",
            "duplicate_owners",
            2.0,
            "count",
        ),
        Row::new(
            "registry-b",
            "churn",
            "kill_rate=0.1",
            "duplicate_owners",
            0.0,
            "count",
        ),
    ];
    results::write_workload(&input, "scale", &rows[..3]).unwrap();
    results::write_workload(&input, "churn", &rows[3..]).unwrap();
    let out = temp("dup-out");
    let rep = report::build(&[input], &out).unwrap();
    let v = &rep
        .guide
        .verdicts
        .iter()
        .find(|v| v.situation == Situation::VeryManyNames)
        .unwrap();
    assert_eq!(v.winner.as_deref(), Some("registry-b"));
    assert!(v
        .failures
        .iter()
        .any(|(b, r)| b == "registry-a" && r.contains("two live owners")));
    assert!(rep
        .findings
        .iter()
        .any(|f| f.contains("`registry-a` broke name uniqueness")));
    // Workloads without rows are findings too, and their charts are simply absent.
    assert!(rep
        .findings
        .iter()
        .any(|f| f.contains("no rows for **lookup**")));
    assert!(rep.figures.iter().all(|f| f.workload == "scale"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = temp("bad-out");
    let missing = temp("bad-missing").join("nope");
    assert!(matches!(
        report::build(&[missing], &out),
        Err(ReportError::MissingDir(_))
    ));

    let empty = temp("bad-empty");
    assert!(matches!(
        report::build(&[empty], &out),
        Err(ReportError::NoRows(_))
    ));

    let header = temp("bad-header");
    write(&header, "lookup.csv", "a,b,c\n1,2,3\n");
    let err = report::build(&[header], &out).unwrap_err();
    assert!(matches!(err, ReportError::Csv { .. }), "{err}");
    assert!(err.to_string().contains("lookup.csv"), "{err}");

    let fields = temp("bad-fields");
    write(
        &fields,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names=1,ops_per_sec\n",
            results::HEADER
        ),
    );
    let err = report::build(&[fields], &out).unwrap_err();
    assert!(err.to_string().contains("expected 6 fields"), "{err}");

    let value = temp("bad-value");
    write(
        &value,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names=1,ops_per_sec,fast,ops/s\n",
            results::HEADER
        ),
    );
    let err = report::build(&[value], &out).unwrap_err();
    assert!(err.to_string().contains("bad value"), "{err}");

    let params = temp("bad-params");
    write(
        &params,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names,ops_per_sec,1,ops/s\n",
            results::HEADER
        ),
    );
    let err = report::build(&[params], &out).unwrap_err();
    assert!(err.to_string().contains("not key=value"), "{err}");

    let env = temp("bad-env");
    write(
        &env,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names=1,ops_per_sec,1,ops/s\n",
            results::HEADER
        ),
    );
    write(&env, "environment.json", "{ not json");
    assert!(matches!(
        report::build(&[env], &out),
        Err(ReportError::Environment { .. })
    ));

    assert!(matches!(
        report::build(&[], &out),
        Err(ReportError::NoInput)
    ));
}

#[test]
fn older_reshard_and_recovery_metric_names_still_chart() {
    let input = temp("older-in");
    let mut reshard = Vec::new();
    for (b, own) in [("modulo", ""), ("ring", ";vnodes=160")] {
        for k in [4.0, 8.0] {
            let p = format!("k={k};keys=1000{own}");
            reshard.push(Row::new(b, "reshard", &p, "max_over_mean", 1.05, "ratio"));
            reshard.push(Row::new(
                b,
                "reshard",
                &p,
                "stddev_over_binomial",
                1.0,
                "ratio",
            ));
        }
    }
    let recovery: Vec<Row> = [("heir", 1e4), ("keep-table", 2e4)]
        .iter()
        .flat_map(|(b, v)| {
            [
                Row::new(b, "recovery", "", "kill_to_serving_p50_ns", *v, "ns"),
                Row::new(b, "recovery", "", "kill_to_serving_p99_ns", v * 3.0, "ns"),
            ]
        })
        .collect();
    results::write_workload(&input, "reshard", &reshard).unwrap();
    results::write_workload(&input, "recovery", &recovery).unwrap();
    let out = temp("older-out");
    let rep = report::build(&[input], &out).unwrap();
    let ids: Vec<&str> = rep.figures.iter().map(|f| f.id.as_str()).collect();
    for id in ["reshard-balance", "reshard-spread", "recovery-latency"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let svg = fs::read_to_string(out.join("fig-recovery-latency.svg")).unwrap();
    assert!(svg.contains("heir") && svg.contains("keep-table") && svg.contains("(ns)"));
    // The ring's private `vnodes=` does not keep it out of the routers' table.
    let md = fs::read_to_string(out.join("REPORT.md")).unwrap();
    let table = md.split("## Resharding").nth(1).unwrap();
    assert!(table.contains("| `ring` | **1.05** ★"), "{table}");
}

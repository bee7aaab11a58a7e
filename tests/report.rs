//! The report, rendered from a small fixed result set (`tests/data/report/`, plus its
//! `device-16core/` subdirectory as a second machine): every chart and every backend is
//! present, SVGs name their backends, the decision guide picks the winners the fixture was
//! built to have, and bad input gives a clear error rather than a panic.

use std::fs;
use std::path::{Path, PathBuf};

use naming_bench::report::{self, ReportError};
use naming_bench::results::{self, Params, Row};
use naming_bench::workloads::{churn, scale};
use naming_schema::{Situation, Subject};

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
    "interned-atoms",
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
    ("lookup-vs-floor", &["registry-dashmap", "registry-scc"]),
    ("lookup-ops", NAMING),
    (
        "lookup-threads",
        &["registry-dashmap", "registry-scc", "gproc"],
    ),
    (
        "routing-vs-direct",
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
    ("soak-atoms", &["interned-atoms"]),
    ("reshard-moved", ROUTERS),
    ("reshard-balance", ROUTERS),
    ("reshard-lookup", ROUTERS),
    ("reshard-memory", ROUTERS),
    ("reshard-build", ROUTERS),
    ("recovery-lost", RECOVERY),
    ("recovery-latency", RECOVERY),
    ("multinode-call", DISTRIBUTED),
    ("multinode-crash", DISTRIBUTED),
    ("multinode-netsplit-converge", DISTRIBUTED),
    ("multinode-netsplit-names", DISTRIBUTED),
];

/// The distributed backends of the fixture's multi-node rows.
const DISTRIBUTED: &[&str] = &["global-etcd", "gossip-replicated", "hash-ring"];

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
    // A router with variants (a ring's `vnodes=`) is named with its variant.
    for b in NAMING.iter().chain(ROUTERS).chain(RECOVERY).chain(FLOORS) {
        assert!(
            md.contains(&format!("`{b}`")) || md.contains(&format!("`{b} (")),
            "REPORT.md lacks {b}"
        );
        assert!(
            html.contains(&format!("<code>{b}</code>")) || html.contains(&format!("<code>{b} (")),
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
    for family in ["scale-bytes", "fanout", "churn-failed"] {
        let fig = rep
            .figures
            .iter()
            .find(|f| of_family(&f.id, family))
            .unwrap();
        let (id, svg) = (&fig.file, fs::read_to_string(out.join(&fig.file)).unwrap());
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
        let reason = s.skip_reason().unwrap();
        let found = rep
            .findings
            .iter()
            .find(|f| f.starts_with(&line) && f.ends_with(reason))
            .unwrap_or_else(|| panic!("no finding for {s:?}"));
        assert!(md.contains(found.as_str()));
        if !s.params.is_empty() {
            let p = s.params.to_string();
            assert!(found.contains(&p), "{found} lacks {p}");
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
        assert_eq!(v.talk_agrees, Some(true), "{s:?}: {}", v.talk_text);
    }
    // The multi-node situations: a backend that ended a netsplit with two owners of a name
    // (hash-ring here) is out of every one of them, however fast; the talk has no say.
    for (s, winner, runner, ratio) in [
        (
            Situation::ClusterCalls,
            "gossip-replicated",
            "global-etcd",
            63.0 / 62.0,
        ),
        (
            Situation::NodeCrash,
            "gossip-replicated",
            "global-etcd",
            2100.0 / 1500.0,
        ),
        (
            Situation::Netsplit,
            "global-etcd",
            "gossip-replicated",
            300.0 / 7.0,
        ),
    ] {
        let v = v(s);
        assert_eq!(v.winner.as_deref(), Some(winner), "{s:?}: {v:?}");
        assert_eq!(v.runner_up.as_deref(), Some(runner), "{s:?}");
        assert!((v.ratio.unwrap() - ratio).abs() < 1e-3, "{s:?}: {v:?}");
        assert!(
            v.failures
                .iter()
                .any(|(b, why)| b == "hash-ring" && why.contains("duplicate owners")),
            "{s:?}: {:?}",
            v.failures
        );
        assert_eq!(v.talk_agrees, None, "{s:?}");
    }
    assert!(v(Situation::NodeCrash)
        .failures
        .iter()
        .any(|(b, _)| b == "registry-local"));
    assert!(rep
        .guide
        .talk
        .iter()
        .all(|r| r.cells.len() == Situation::ALL.iter().filter(|s| s.in_talk()).count()));
    // Who cannot, and why, from the skip rows.
    let many = v(Situation::VeryManyNames);
    let reason = |b: &str| {
        many.failures
            .iter()
            .find(|(f, _)| f == b)
            .map(|(_, r)| r.clone())
    };
    assert!(reason("interned-atoms").unwrap().starts_with("atom limit"));
    assert!(reason("static-names").unwrap().starts_with("static set"));
    assert!(reason("startup-discovery").is_some());
    let pubsub = v(Situation::PubSubGroups);
    assert!(pubsub
        .failures
        .iter()
        .any(|(b, r)| b == "static-names" && r.starts_with("unsupported")));
    // The talk suggests dynamic atoms for a few fixed services, but they measure 1.5x behind.
    let atoms = rep
        .guide
        .talk
        .iter()
        .find(|r| r.row.what == "dynamic atoms")
        .unwrap();
    let few = Situation::ALL
        .iter()
        .position(|s| *s == Situation::FewFixedServices)
        .unwrap();
    let cell = &atoms.cells[few];
    assert!(cell.recommended && cell.agrees == Some(false), "{cell:?}");
    let rich = rep
        .guide
        .talk
        .iter()
        .find(|r| r.row.what == "rich registration")
        .unwrap();
    let mut rich_backends = rich.backends.clone();
    rich_backends.sort();
    assert_eq!(
        rich_backends,
        [
            "gproc",
            "monitor-registry",
            "registry-dashmap",
            "registry-local",
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
    let names = Params::new().with("names", 1000);
    let kill = Params::new().with("kill_rate", 0.1);
    let rows = [
        scale::SCALE.row("registry-a", &names, &scale::BYTES_PER_NAME, 50.0),
        scale::SCALE.row("registry-b", &names, &scale::BYTES_PER_NAME, 80.0),
        scale::SCALE.row("registry-c", &names, &scale::BYTES_PER_NAME, 90.0),
        churn::CHURN.row("registry-a", &kill, &churn::DUPLICATE_OWNERS, 2.0),
        churn::CHURN.row("registry-b", &kill, &churn::DUPLICATE_OWNERS, 0.0),
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
        .any(|f| f.contains("`registry-a` failed a correctness check")));
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
    assert!(
        matches!(err, ReportError::Read(results::ReadError::Csv { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("lookup.csv"), "{err}");

    let fields = temp("bad-fields");
    write(
        &fields,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names=1,ops_per_sec\n",
            naming_schema::row::OLD_HEADER
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
            naming_schema::row::OLD_HEADER
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
            naming_schema::row::OLD_HEADER
        ),
    );
    let err = report::build(&[params], &out).unwrap_err();
    assert!(err.to_string().contains("bad params"), "{err}");

    let env = temp("bad-env");
    write(
        &env,
        "lookup.csv",
        &format!(
            "{}\nregistry-a,lookup,names=1,ops_per_sec,1,ops/s\n",
            naming_schema::row::OLD_HEADER
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
fn router_variants_are_series_and_table_rows_of_their_own() {
    use naming_strategies::shard::{
        measure::{LOAD_MAX_OVER_MEAN, LOAD_STDDEV_RATIO},
        RESHARD,
    };
    let input = temp("variants-in");
    let mut rows = Vec::new();
    for (b, vnodes, v) in [
        ("modulo", None, 1.01),
        ("ring", Some(10), 1.3),
        ("ring", Some(160), 1.15),
    ] {
        for k in [4, 8] {
            let mut p = Params::new().with("k", k).with("keys", 1000);
            if let Some(n) = vnodes {
                p = p.with("vnodes", n);
            }
            rows.push(RESHARD.row(b, &p, &LOAD_MAX_OVER_MEAN, v));
            rows.push(RESHARD.row(b, &p, &LOAD_STDDEV_RATIO, v));
        }
    }
    fs::write(input.join("reshard.csv"), naming_schema::row::to_csv(&rows)).unwrap();
    let out = temp("variants-out");
    let rep = report::build(&[input], &out).unwrap();
    let svg = fs::read_to_string(out.join("fig-reshard-balance.svg")).unwrap();
    for who in ["modulo", "ring (vnodes=10)", "ring (vnodes=160)"] {
        assert!(svg.contains(who), "balance chart lacks {who}");
    }
    let table = rep.table(Subject::Routers).expect("a routers table");
    let ring = table
        .rows
        .iter()
        .find(|(b, _)| b == "ring (vnodes=160)")
        .expect("a row per variant");
    let col = table
        .headers
        .iter()
        .position(|h| h.metric.name == "load_max_over_mean")
        .unwrap();
    assert_eq!(
        ring.1[col],
        report::Cell::Value {
            v: 1.15,
            range: None,
            best: false,
            impossible: false
        }
    );
}

/// The hex colour plotters writes for `c`.
fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// Every panel of every chart draws at most 6 contenders and 8 series in all (floors
/// beside their contender), the SVG legend agreeing.
fn assert_readable(rep: &report::Report, out: &Path) {
    for f in &rep.figures {
        assert!(!f.panels.is_empty(), "{}: no panel", f.id);
        for p in &f.panels {
            let contenders = p
                .series
                .iter()
                .filter(|(w, _)| !w.starts_with("floor-"))
                .count();
            assert!(contenders <= 6, "{}: {contenders} contenders", f.id);
            assert!(p.series.len() <= 8, "{}: {} series", f.id, p.series.len());
            assert!(p.lines <= 8, "{}: {} lines", f.id, p.lines);
        }
        assert!(f.most_series() <= 8);
        // Each drawn series is in the SVG, in its colour.
        let svg = fs::read_to_string(out.join(&f.file)).unwrap();
        for (who, c) in f.panels.iter().flat_map(|p| &p.series) {
            assert!(svg.contains(who.as_str()), "{}: legend lacks {who}", f.id);
            assert!(svg.contains(&hex(*c)), "{}: {who} not in {}", f.id, hex(*c));
        }
    }
}

#[test]
fn no_panel_draws_more_than_eight_series() {
    let out = temp("readable");
    let rep = report::build(&report::discover_inputs(&fixture()), &out).unwrap();
    assert_readable(&rep, &out);
    // The fixture's lookup has 7 contenders and 2 floors: more than one panel.
    let lookup = rep
        .figures
        .iter()
        .find(|f| of_family(&f.id, "lookup-ops"))
        .unwrap();
    assert!(lookup.panels.len() >= 2, "{:?}", lookup.panels);
    // A floor sits in the panel of its contender.
    let with_floor = lookup
        .panels
        .iter()
        .find(|p| p.series.iter().any(|(w, _)| w == "floor-dashmap-get"))
        .expect("the dashmap floor is drawn");
    assert!(with_floor
        .series
        .iter()
        .any(|(w, _)| w == "registry-dashmap"));
}

#[test]
fn a_backend_has_one_colour_in_line_and_bar_charts() {
    let out = temp("colours");
    let rep = report::build(&report::discover_inputs(&fixture()), &out).unwrap();
    for who in ["registry-dashmap", "gproc", "monitor-registry"] {
        let colours: Vec<_> = rep.figures.iter().filter_map(|f| f.color_of(who)).collect();
        assert!(colours.len() >= 5, "{who} in only {} charts", colours.len());
        assert!(
            colours.iter().all(|c| *c == colours[0]),
            "{who}: {colours:?}"
        );
        assert_eq!(colours[0], rep.data.color(who));
    }
    // A line chart and a bar chart agree.
    let line = rep.figures.iter().find(|f| of_family(&f.id, "lookup-ops"));
    let bars = rep.figures.iter().find(|f| f.id == "routing-latency");
    let (line, bars) = (line.unwrap(), bars.unwrap());
    assert_eq!(line.color_of("gproc"), bars.color_of("gproc"));
    assert!(line.color_of("gproc").is_some());
    // Contenders sharing a panel never share a colour.
    for f in &rep.figures {
        for p in &f.panels {
            let own: Vec<_> = p
                .series
                .iter()
                .filter(|(w, _)| !w.starts_with("floor-"))
                .map(|(_, c)| *c)
                .collect();
            for (i, c) in own.iter().enumerate() {
                assert!(!own[..i].contains(c), "{}: a colour twice: {p:?}", f.id);
            }
        }
    }
}

#[test]
fn reshard_draws_one_chart_per_question_with_every_router() {
    let out = temp("reshard-questions");
    let rep = report::build(&report::discover_inputs(&fixture()), &out).unwrap();
    let ids: Vec<&str> = rep
        .figures
        .iter()
        .filter(|f| f.workload == "reshard")
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "reshard-moved",
            "reshard-balance",
            "reshard-lookup",
            "reshard-memory",
            "reshard-build"
        ]
    );
    let rows = results::read_dir(&fixture()).unwrap();
    let mut whos: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r.workload == "reshard") {
        let v = r.params.only(|k| k == "vnodes" || k == "table_size");
        let who = if v.is_empty() {
            r.backend.clone()
        } else {
            format!("{} ({})", r.backend, v.to_string().replace(';', ", "))
        };
        if !whos.contains(&who) {
            whos.push(who);
        }
    }
    assert!(whos.len() >= ROUTERS.len(), "every router: {whos:?}");
    for f in rep.figures.iter().filter(|f| f.workload == "reshard") {
        for who in &whos {
            assert!(f.color_of(who).is_some(), "{} lacks {who}", f.id);
        }
    }
}

#[test]
fn a_quick_run_gives_at_most_forty_readable_charts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report-quick");
    let out = temp("quick");
    let rep = report::build(&[dir], &out).unwrap();
    assert!(rep.figures.len() <= 40, "{} charts", rep.figures.len());
    assert!(rep.figures.len() >= 25, "{} charts", rep.figures.len());
    assert_readable(&rep, &out);
    let ids: Vec<&str> = rep.figures.iter().map(|f| f.id.as_str()).collect();
    for ratio in ["lookup-vs-floor", "routing-vs-direct"] {
        assert!(
            ids.iter().any(|i| of_family(i, ratio)),
            "no {ratio} chart in {ids:?}"
        );
    }
}

/// A Rust actor framework is judged beside the suite's strategies and drawn in the same
/// charts, in its own family; the talk is checked against the suite's best strategy.
#[test]
fn actor_frameworks_are_judged_and_drawn_beside_the_strategies() {
    use naming_bench::workloads::lookup;
    let input = temp("frameworks-in");
    let mut rows = Vec::new();
    for (label, ops) in [
        ("static-names", 9e6),
        ("registry-dashmap", 4e6),
        ("ractor-registry", 2e7),
    ] {
        for names in [100, 1000] {
            for clients in [1, 2] {
                let p = Params::new()
                    .with("names", names)
                    .with("keys", "uniform")
                    .with("clients", clients);
                rows.push(lookup::LOOKUP.row(label, &p, &lookup::OPS_PER_SEC, ops));
            }
        }
    }
    results::write_workload(&input, "lookup", &rows).unwrap();
    let out = temp("frameworks-out");
    let rep = report::build(&[input], &out).unwrap();
    let v = rep
        .guide
        .verdicts
        .iter()
        .find(|v| v.situation == Situation::FewFixedServices)
        .unwrap();
    assert_eq!(v.winner.as_deref(), Some("ractor-registry"));
    assert!(
        v.talk_text
            .contains("this suite's best strategy `static-names`")
            && v.talk_text.contains("Rust actor framework"),
        "{}",
        v.talk_text
    );
    let fig = rep
        .figures
        .iter()
        .find(|f| f.workload == "lookup")
        .expect("a lookup chart");
    let svg = fs::read_to_string(out.join(&fig.file)).unwrap();
    for label in ["ractor-registry", "static-names", "registry-dashmap"] {
        assert!(svg.contains(label), "{label} missing from {}", fig.file);
    }
}

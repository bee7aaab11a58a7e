//! A workload and a backend the suite has never heard of, declared here in the test alone,
//! appear in the rendered report (section, chart, summary-table row, guide) with no edit
//! to `src/report/`: the report is built from declarations, not from names it knows.

use std::fs;
use std::path::Path;

use naming_bench::report::{self, Catalogue};
use naming_schema::{
    row, Bars, Better, Chart, Column, Extreme, Family, Identity, Judge, Line, Metric, Params,
    Situation, Subject, Sweep, Unit, Workload,
};

const HOPS: Metric = Metric::new(
    "hops_per_sec",
    "hops per second",
    Unit::OpsPerSec,
    Better::Higher,
);
const LOST: Metric = Metric::must_be_zero("frogs_lost", "frogs lost");

const POND: Workload = Workload {
    metrics: &[&HOPS, &LOST],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Hops per second against the pond's size.",
            x_desc: "lily pads (count)",
            y_desc: "hops per second (ops/s)",
            ..Sweep::new(
                "pond-hops",
                "Frog hops vs pond size",
                "pads",
                &[Line::solid(&HOPS)],
            )
        }),
        Chart::Bars(Bars {
            id: "pond-lost",
            title: "Frogs lost",
            caption: "Frogs that never came back (must be 0).",
            y_desc: "frogs (count)",
            groups: &[(&LOST, "lost")],
            filter: naming_schema::Filter::All,
            y: naming_schema::YScale::Linear,
        }),
    ],
    columns: &[Column::new(&HOPS, "hops")],
    judges: &[Judge {
        situation: Situation::FewFixedServices,
        rank: 0,
        metric: &HOPS,
        at: ("pads", Extreme::Max),
        prefer: &[],
        tiebreak: None,
    }],
    ..Workload::new(
        "pond",
        "Pond: frogs hopping between named lily pads",
        "Frogs hop from pad to pad by name; the pond grows.",
        Subject::NamingBackends,
    )
};

#[test]
fn a_toy_workload_and_backend_appear_without_report_edits() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-toy");
    let _ = fs::remove_dir_all(&base);
    let input = base.join("in");
    fs::create_dir_all(&input).unwrap();
    let mut rows = Vec::new();
    for (backend, speed) in [("toad-registry", 3.0e6), ("newt-names", 1.0e6)] {
        for pads in [10, 100, 1000] {
            let p = Params::new().with("pads", pads);
            rows.push(POND.row(backend, &p, &HOPS, speed / (pads as f64).log10()));
            rows.push(POND.row(backend, &p, &LOST, 0.0));
        }
    }
    rows.push(POND.skip(
        "salamander",
        &Params::new().with("pads", 1000),
        "cannot swim",
    ));
    fs::write(input.join("pond.csv"), row::to_csv(&rows)).unwrap();

    let catalogue = Catalogue {
        workloads: vec![&POND],
        backends: vec![
            Identity::new("toad-registry", Family::Registry),
            Identity::new("newt-names", Family::StaticNames),
            Identity::new("salamander", Family::DynamicAtoms),
        ],
    };
    assert!(POND.problems().is_empty(), "{:?}", POND.problems());
    let out = base.join("out");
    let rep = report::build_with(catalogue, &[input], &out).unwrap();

    let md = fs::read_to_string(&rep.markdown).unwrap();
    assert!(
        md.contains("## Pond: frogs hopping between named lily pads"),
        "section"
    );
    assert!(
        md.contains("Frogs hop from pad to pad by name"),
        "how it runs"
    );
    for id in ["pond-hops", "pond-lost"] {
        let f = rep.figures.iter().find(|f| f.id == id).expect(id);
        let svg = fs::read_to_string(out.join(&f.file)).unwrap();
        assert!(
            svg.contains("toad-registry") && svg.contains("newt-names"),
            "{id}"
        );
        assert!(
            md.contains(&format!("]({})", f.file)),
            "{id} not in REPORT.md"
        );
    }
    let hops = fs::read_to_string(out.join("fig-pond-hops.svg")).unwrap();
    assert!(
        hops.contains("salamander") && hops.contains("cannot swim"),
        "skip in legend"
    );
    let table = rep.table(Subject::NamingBackends).expect("a naming table");
    assert_eq!(table.headers[0].metric.name, "hops_per_sec");
    assert!(table.rows.iter().any(|(b, _)| b == "toad-registry"));
    assert!(md.contains("| `toad-registry` |"), "table row");
    let few = &rep.guide.verdicts[0];
    assert_eq!(few.situation, Situation::FewFixedServices);
    assert_eq!(few.winner.as_deref(), Some("toad-registry"));
    assert_eq!(few.runner_up.as_deref(), Some("newt-names"));
    assert!(few
        .failures
        .iter()
        .any(|(b, r)| b == "salamander" && r.contains("cannot swim")));
    assert!(rep
        .findings
        .iter()
        .any(|f| f.contains("`salamander` cannot run **pond**")));
}

#[test]
fn undeclared_rows_and_failed_checks_are_findings() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-undeclared");
    let _ = fs::remove_dir_all(&base);
    let input = base.join("in");
    fs::create_dir_all(&input).unwrap();
    let p = Params::new().with("pads", 10);
    let mut rows = vec![
        POND.row("toad-registry", &p, &HOPS, 5.0),
        POND.row("toad-registry", &p, &LOST, 2.0),
        POND.row("stranger", &p, &HOPS, 9.0),
    ];
    let mut odd = POND.row("toad-registry", &p, &HOPS, 1.0);
    odd.metric = "croaks".into();
    rows.push(odd);
    fs::write(input.join("pond.csv"), row::to_csv(&rows)).unwrap();
    let catalogue = Catalogue {
        workloads: vec![&POND],
        backends: vec![Identity::new("toad-registry", Family::Registry)],
    };
    let rep = report::build_with(catalogue, &[input], &base.join("out")).unwrap();
    let has = |s: &str| rep.findings.iter().any(|f| f.contains(s));
    assert!(
        has("failed a correctness check in **pond**"),
        "{:?}",
        rep.findings
    );
    assert!(has("undeclared metric `croaks`"), "{:?}", rep.findings);
    assert!(has("undeclared backend `stranger`"), "{:?}", rep.findings);
    // A backend that failed a must-be-zero check does not win the guide.
    assert_ne!(
        rep.guide.verdicts[0].winner.as_deref(),
        Some("toad-registry")
    );
}

/// Medians with overlapping ranges over repeats are a tie, in the guide and in the table;
/// a clear gap gives a winner with the margin's range; a leaking backend cannot win where
/// names come and go.
#[test]
fn overlapping_ranges_are_ties_and_margins_carry_their_range() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-ties");
    let _ = fs::remove_dir_all(&base);
    let input = base.join("in");
    fs::create_dir_all(&input).unwrap();
    let p = Params::new().with("pads", 10);
    let repeated = |backend: &str, v: f64, lo: f64, hi: f64| {
        let mut r = POND.row(backend, &p, &HOPS, v);
        r.interval = Some((lo, hi));
        r.repeats = 5;
        r
    };
    let rows = vec![
        repeated("toad-registry", 100.0, 90.0, 110.0),
        repeated("newt-names", 95.0, 85.0, 105.0),
        repeated("frog-atoms", 50.0, 45.0, 55.0),
    ];
    fs::write(input.join("pond.csv"), row::to_csv(&rows)).unwrap();
    let catalogue = || Catalogue {
        workloads: vec![&POND],
        backends: vec![
            Identity::new("toad-registry", Family::Registry),
            Identity::new("newt-names", Family::StaticNames),
            Identity::new("frog-atoms", Family::DynamicAtoms),
        ],
    };
    let rep =
        report::build_with(catalogue(), std::slice::from_ref(&input), &base.join("out")).unwrap();
    let few = &rep.guide.verdicts[0];
    assert_eq!(few.tied, ["toad-registry", "newt-names"]);
    assert!(
        few.margin.starts_with("tie: no measurable difference"),
        "{}",
        few.margin
    );
    let table = rep.table(Subject::NamingBackends).unwrap();
    let best: Vec<&str> = table
        .rows
        .iter()
        .filter(|(_, c)| matches!(c[0], report::Cell::Value { best: true, .. }))
        .map(|(b, _)| b.as_str())
        .collect();
    assert_eq!(best, ["toad-registry", "newt-names"]);
    let md = fs::read_to_string(&rep.markdown).unwrap();
    assert!(md.contains("100 [90..110]"), "the range is shown");

    // Without the overlap: a winner, and the margin with its range.
    let rows = vec![
        repeated("toad-registry", 100.0, 95.0, 110.0),
        repeated("newt-names", 50.0, 45.0, 55.0),
    ];
    fs::write(input.join("pond.csv"), row::to_csv(&rows)).unwrap();
    let rep = report::build_with(catalogue(), &[input], &base.join("out2")).unwrap();
    let few = &rep.guide.verdicts[0];
    assert_eq!(few.tied, ["toad-registry"]);
    assert!(
        few.margin.contains("(range 1.73×..2.44×)"),
        "{}",
        few.margin
    );

    // Ranges apart but medians within the re-run noise (4%): a tie all the same, in the
    // guide and in the summary's stars; 12% apart is a win.
    for (newt, tie) in [(96.0, true), (88.0, false)] {
        let rows = vec![
            repeated("toad-registry", 100.0, 99.0, 101.0),
            repeated("newt-names", newt, newt - 1.0, newt + 1.0),
        ];
        let input = base.join(format!("in-{newt}"));
        fs::create_dir_all(&input).unwrap();
        fs::write(input.join("pond.csv"), row::to_csv(&rows)).unwrap();
        let out = base.join(format!("out-{newt}"));
        let rep = report::build_with(catalogue(), &[input], &out).unwrap();
        let few = &rep.guide.verdicts[0];
        let want: &[&str] = if tie {
            &["toad-registry", "newt-names"]
        } else {
            &["toad-registry"]
        };
        assert_eq!(few.tied, want, "{}", few.margin);
        assert_eq!(few.margin.starts_with("tie:"), tie, "{}", few.margin);
        let table = rep.table(Subject::NamingBackends).unwrap();
        let stars = table
            .rows
            .iter()
            .filter(|(_, c)| matches!(c[0], report::Cell::Value { best: true, .. }))
            .count();
        assert_eq!(stars, want.len());
    }
}

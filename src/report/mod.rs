//! Plots, REPORT.md, index.html and the decision guide, built from result rows and the
//! workloads' declarations.
//!
//! [`build_with`] reads one or more result directories (each a set of CSV files and an
//! `environment.json`) and a [`Catalogue`] (every declared workload and backend identity);
//! it draws each chart the declarations ask for as SVG, lays out a summary table per
//! subject from the declared columns, computes the decision guide from the declared judges,
//! and writes `REPORT.md` and `index.html` beside the SVGs. [`build`] does the same with the
//! suite's own catalogue. Nothing here names a workload, a metric or a backend: a new
//! workload or backend appears in the report through its declaration alone.
//!
//! - `data`: the rows, their sources, series keys and colours.
//! - `select`: the one selection function (which parameters a metric is compared at).
//! - `charts`: the chart engine; `plot`: drawing with plotters.
//! - `table`: summary tables; `guide`: the decision guide.
//! - `render`: the document as Markdown and HTML.

mod charts;
mod data;
pub mod diff;
pub mod guide;
mod originals;
mod panel;
mod plot;
mod render;
mod select;
mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

pub use crate::results::discover_inputs;
pub use charts::{Figure, Panel};
pub use data::{Data, Rec, Source};
pub use guide::{Guide, Verdict};
pub use naming_schema::Catalogue;
pub use plot::si;
pub use table::{Cell, Table};

use naming_schema::{Metric, Subject, Unit};
use render::{Block, TCell};

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No input directory was given.
    #[error("no input directory given")]
    NoInput,
    /// An input directory does not exist.
    #[error("results directory {0} does not exist (run `naming-bench compare` first?)")]
    MissingDir(PathBuf),
    /// The inputs hold no rows at all.
    #[error(
        "no result rows in {0:?}: no `*.csv` files with rows (run `naming-bench compare` first?)"
    )]
    NoRows(Vec<PathBuf>),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A results directory could not be read.
    #[error(transparent)]
    Read(#[from] crate::results::ReadError),
    /// An `environment.json` could not be read back.
    #[error("{path}: not a valid environment.json (expected the flat shape naming-bench writes)")]
    Environment {
        /// The file.
        path: PathBuf,
    },
    /// A row holds a value its metric cannot take (negative, NaN, infinite).
    #[error("{path}:{line}: impossible value {value} for {workload} {metric} ({unit}): a measurement or file error; fix or remove the row")]
    Impossible {
        /// The file.
        path: PathBuf,
        /// The row's line.
        line: usize,
        /// The workload.
        workload: String,
        /// The metric.
        metric: String,
        /// The unit (as declared, else as written).
        unit: String,
        /// The value.
        value: f64,
    },
    /// A results file holds fewer rows than the run that wrote it recorded.
    #[error("{path}: {found} rows, but run {run} wrote {expected} (environment.json): the file was cut short; restore it or re-run `naming-bench compare`")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Rows found.
        found: usize,
        /// Rows recorded.
        expected: usize,
        /// The run that recorded them.
        run: String,
    },
    /// Drawing a chart failed.
    #[error("drawing {chart}: {message}")]
    Plot {
        /// The chart's file.
        chart: String,
        /// The plotting error.
        message: String,
    },
}

/// A built report: what was drawn and concluded, and where it was written.
#[derive(Debug)]
pub struct Report {
    /// The rows and their sources.
    pub data: Data,
    /// The charts, in report order.
    pub figures: Vec<Figure>,
    /// The decision guide.
    pub guide: Guide,
    /// Limits and failures found in the rows.
    pub findings: Vec<String>,
    /// One summary table per subject with rows.
    pub tables: Vec<Table>,
    /// `REPORT.md`.
    pub markdown: PathBuf,
    /// `index.html`.
    pub html: PathBuf,
}

impl Report {
    /// The summary table of `subject`, if drawn.
    pub fn table(&self, subject: Subject) -> Option<&Table> {
        self.tables.iter().find(|t| t.subject == subject)
    }
}

/// Builds the report of the suite's own workloads and backends
/// ([`crate::catalogue::catalogue`]) from `inputs` into `out`.
pub fn build(inputs: &[PathBuf], out: &Path) -> Result<Report, ReportError> {
    build_with(crate::catalogue::catalogue(), inputs, out)
}

/// Builds the report from the result directories `inputs` into `out` (created if needed):
/// `fig-*.svg`, `REPORT.md` and `index.html`. Old `fig-*.svg` files in `out` are removed.
pub fn build_with(
    catalogue: Catalogue,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<Report, ReportError> {
    let data = Data::load(catalogue, inputs)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    fs::create_dir_all(out).map_err(io(out))?;
    for entry in fs::read_dir(out).map_err(io(out))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("fig-") && name.ends_with(".svg") {
            fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    let figures = charts::draw_all(&data, out)?;
    let guide = guide::compute(&data);
    let findings = findings(&data);
    let mut subjects: Vec<Subject> = data.catalogue.workloads.iter().map(|w| w.subject).collect();
    subjects.sort();
    subjects.dedup();
    let tables: Vec<Table> = subjects
        .into_iter()
        .filter_map(|s| table::build(&data, s))
        .collect();
    let cards = panel::draw(&data, &guide, out)?;
    let criterion = criterion_block(out);
    let blocks = document(
        &data, &figures, &guide, &findings, &tables, cards, criterion,
    );
    let markdown = out.join("REPORT.md");
    let html = out.join("index.html");
    fs::write(&markdown, render::markdown(&blocks)).map_err(io(&markdown))?;
    fs::write(&html, render::html("naming-bench report", &blocks)).map_err(io(&html))?;
    Ok(Report {
        data,
        figures,
        guide,
        findings,
        tables,
        markdown,
        html,
    })
}

/// Every limit and failure the rows show: skips (grouped by series, workload and reason),
/// failed correctness checks, declared workloads with no rows, and rows the declarations
/// do not cover (an undeclared workload, metric or backend).
fn findings(data: &Data) -> Vec<String> {
    let mut out = Vec::new();
    let mut skips: BTreeMap<(usize, String, String), Vec<String>> = BTreeMap::new();
    let pos = |b: &str| data.order.iter().position(|o| o == b).unwrap_or(usize::MAX);
    for r in data.recs.iter().filter(|r| r.row.is_skip()) {
        skips
            .entry((
                pos(&r.who),
                r.row.workload.clone(),
                r.row.skip_reason().unwrap_or("").to_string(),
            ))
            .or_default()
            .push(r.row.params.to_string());
    }
    for ((p, workload, reason), mut params) in skips {
        let who = data.order.get(p).map_or("?", String::as_str);
        params.retain(|p| !p.is_empty());
        params.dedup();
        let at = if params.is_empty() {
            String::new()
        } else {
            format!(" at {}", code_list(&params, ", "))
        };
        let reason = if reason.is_empty() {
            "no reason given"
        } else {
            &reason
        };
        out.push(format!("`{who}` cannot run **{workload}**{at}: {reason}"));
    }
    for w in &data.catalogue.workloads {
        for m in w.metrics.iter().filter(|m| m.must_be_zero) {
            for r in data
                .measured(w.name, m)
                .filter(|r| r.row.value() > Some(0.0))
            {
                out.push(format!(
                    "`{}` failed a correctness check in **{}** at `{}`: {} = {} (must be 0)",
                    r.who,
                    w.name,
                    r.row.params,
                    m.title,
                    si(r.row.value().unwrap_or(0.0))
                ));
            }
        }
        if !data.has_workload(w.name) {
            out.push(format!(
                "no rows for **{}** in the inputs (not run)",
                w.name
            ));
        }
    }
    let mut undeclared: BTreeMap<String, usize> = BTreeMap::new();
    for r in &data.recs {
        let what = match data.catalogue.workload(&r.row.workload) {
            None => format!("workload `{}`", r.row.workload),
            Some(w) if !r.row.is_skip() && w.metric(&r.row.metric).is_none() => {
                format!("metric `{}` of **{}**", r.row.metric, w.name)
            }
            _ if data.catalogue.identity(&r.row.backend).is_none() => {
                format!("backend `{}`", r.row.backend)
            }
            _ => continue,
        };
        *undeclared.entry(what).or_default() += 1;
    }
    for (what, n) in undeclared {
        out.push(format!(
            "{n} rows of undeclared {what}: not drawn or judged"
        ));
    }
    out
}

/// Items as code, joined by `sep` (`a`, `b`).
fn code_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    items.join(sep)
}

fn fmt_value(v: f64, unit: Unit) -> String {
    if unit == Unit::Ratio {
        format!("{v:.2}×")
    } else {
        si(v)
    }
}

/// The kind of a skip reason: the part before its first `:`, or the reason cut to 40
/// characters. The findings list has it whole.
fn short_reason(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or(reason).trim();
    if head.chars().count() <= 40 {
        head.to_string()
    } else {
        format!("{}…", head.chars().take(39).collect::<String>())
    }
}

fn cell_text(c: &Cell, metric: &Metric, best_mark: &str) -> (String, bool) {
    match c {
        Cell::Value {
            v,
            range,
            best,
            impossible,
        } => {
            let mut t = fmt_value(*v, metric.unit);
            if let Some((lo, hi)) = range {
                t.push_str(&format!(
                    " [{}..{}]",
                    fmt_value(*lo, metric.unit),
                    fmt_value(*hi, metric.unit)
                ));
            }
            if !metric.possible(*v) {
                t.push_str(" ⚠ impossible: a measurement error");
            } else if *impossible {
                let ideal = fmt_value(metric.ideal.unwrap_or(0.0), metric.unit);
                t.push_str(&format!(" ⚠ beyond the ideal {ideal}: not ranked"));
            } else if *best {
                t.push_str(best_mark);
            }
            (t, *best)
        }
        Cell::Skipped(reason) => (format!("✗ skipped: {}", short_reason(reason)), false),
        Cell::Missing => ("–".into(), false),
    }
}

fn table_block(data: &Data, t: &Table) -> Block {
    let mut head = vec!["backend".to_string()];
    head.extend(t.headers.iter().map(|h| {
        format!(
            "{} ({}; {} is better; at `{}` from `{}`)",
            h.title,
            h.metric.unit.symbol(),
            h.metric.better.word(),
            h.params,
            h.source
        )
    }));
    let rows = t
        .rows
        .iter()
        .map(|(b, cells)| {
            let name = if data.is_floor(b) {
                format!("`{b}` (floor)")
            } else {
                format!("`{b}`")
            };
            let mut r: Vec<TCell> = vec![(name, false)];
            r.extend(
                cells
                    .iter()
                    .zip(&t.headers)
                    .map(|(c, h)| cell_text(c, h.metric, "")),
            );
            r
        })
        .collect();
    Block::Table(head, rows)
}

/// The heading of the decision guide in full (the panel links to it).
const GUIDE_IN_FULL: &str = "Decision guide in full";

fn guide_blocks(guide: &Guide, b: &mut Vec<Block>) {
    b.push(Block::Para(
        "For each situation: the backend that measured best on the metric that situation \
         stresses, its margin over the runner-up, and the backends that could not take part \
         (from their `skipped` rows, or a failed correctness check)."
            .into(),
    ));
    let rows = guide
        .verdicts
        .iter()
        .map(|v| {
            let cannot: Vec<String> = v
                .failures
                .iter()
                .map(|(b, r)| format!("`{b}`: {r}"))
                .collect();
            let or_dash = |s: String| if s.is_empty() { "–".to_string() } else { s };
            let winner = match v.tied.len() {
                0 => "none measured".to_string(),
                1 => code_list(&v.tied, ""),
                _ => format!("{} (a tie)", code_list(&v.tied, " = ")),
            };
            vec![
                (v.situation.name().to_string(), false),
                (winner, !v.tied.is_empty()),
                (or_dash(v.margin.clone()), false),
                (v.basis.clone(), false),
                (or_dash(cannot.join("; ")), false),
                (v.talk_text.clone(), false),
            ]
        })
        .collect();
    let head = [
        "situation",
        "winner",
        "margin",
        "judged by",
        "cannot / failed",
        "the talk's advice",
    ];
    b.push(Block::Table(head.map(String::from).to_vec(), rows));
    let mut rankings = Vec::new();
    for v in &guide.verdicts {
        if !v.ranking.is_empty() {
            let list: Vec<String> = v
                .ranking
                .iter()
                .map(|(b, x)| format!("`{b}` {}", si(*x)))
                .collect();
            rankings.push(format!("{}: {}", v.situation.name(), list.join(" > ")));
        }
        if !v.unmeasured.is_empty() {
            rankings.push(format!(
                "{}: no result at the chosen parameters for {}",
                v.situation.name(),
                code_list(&v.unmeasured, ", ")
            ));
        }
    }
    if !rankings.is_empty() {
        b.push(Block::Para("Full rankings (best first):".into()));
        b.push(Block::List(rankings));
    }

    b.push(Block::Heading(
        3,
        "The talk \"Discovering processes\": its what/when table against the numbers".into(),
    ));
    b.push(Block::Para(format!(
        "Each row is one line of the table in Saša Jurić's talk on how Elixir processes find \
         each other; each column a situation above. ✓ the talk suggests the strategy there, · \
         it does not. A cell says how the strategy's best backend fared and whether that agrees \
         with the talk (a suggested strategy should win or come within {:.0}% of the winner; \
         one not suggested should lose or fail).",
        (guide::CLOSE - 1.0) * 100.0
    )));
    let situations = guide
        .verdicts
        .iter()
        .filter(|v| v.situation.in_talk())
        .map(|v| v.situation.name().to_string());
    let mut head: Vec<String> = ["what? (talk)", "when? (talk)", "backends"]
        .map(String::from)
        .to_vec();
    head.extend(situations);
    let rows = guide
        .talk
        .iter()
        .map(|r| {
            let backends = match code_list(&r.backends, ", ") {
                list if list.is_empty() => "none in results".into(),
                list => list,
            };
            let mut row: Vec<TCell> = vec![
                (r.row.what.into(), false),
                (r.row.when.into(), false),
                (backends, false),
            ];
            row.extend(r.cells.iter().map(|c| {
                let mark = if c.recommended { "✓" } else { "·" };
                let agree = match c.agrees {
                    Some(true) => "agrees",
                    Some(false) => "**disagrees**",
                    None => "n/a",
                };
                (format!("{mark} {}: {agree}", c.outcome), false)
            }));
            row
        })
        .collect();
    b.push(Block::Table(head, rows));
    let count = |a: Option<bool>| {
        let in_talk = guide.verdicts.iter().filter(|v| v.situation.in_talk());
        in_talk.filter(|v| v.talk_agrees == a).count()
    };
    b.push(Block::Para(format!(
        "Situations where the winner's strategy is one the talk suggests: {}; where it is not: \
         {}; not measured: {}.",
        count(Some(true)),
        count(Some(false)),
        count(None)
    )));
}

/// Where criterion keeps its HTML reports: `CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else the workspace's `target/criterion` (as the benches' own estimates are found).
fn criterion_report() -> PathBuf {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
                .join("criterion")
        });
    home.join("report").join("index.html")
}

/// `path` made absolute through its deepest existing ancestor (the rest need not exist).
fn absolute(path: &Path) -> Option<PathBuf> {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(found) = at.canonicalize() {
            return Some(rest.iter().rev().fold(found, |p, c| p.join(c)));
        }
        rest.push(at.file_name()?.to_os_string());
        at = at.parent()?;
    }
}

/// `to` relative to the directory `from` (both made absolute), or `to` as it is when they
/// share no root.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (Some(from), Some(abs)) = (absolute(from), absolute(to)) else {
        return to.to_path_buf();
    };
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), abs.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 {
        return abs;
    }
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

/// A link to criterion's HTML reports of the micro-benchmarks, relative to `out`, or a note
/// of where `cargo bench` writes them when there are none yet.
fn criterion_block(out: &Path) -> Block {
    let report = criterion_report();
    if report.is_file() {
        Block::Link {
            text: "Criterion's reports of the micro-benchmarks".into(),
            href: relative(out, &report).to_string_lossy().into_owned(),
            after: "(criterion's own charts: each benchmark's timing distribution and its \
                    change since the last run; their estimates are also the `criterion` \
                    rows above)."
                .into(),
        }
    } else {
        Block::Para(format!(
            "Criterion's reports of the micro-benchmarks: none yet at `{}` (relative to this \
             page; `cargo bench` writes them there).",
            relative(out, &report).display()
        ))
    }
}

fn document(
    data: &Data,
    figures: &[Figure],
    guide: &Guide,
    findings: &[String],
    tables: &[Table],
    cards: Vec<render::Card>,
    criterion: Block,
) -> Vec<Block> {
    let mut b = vec![Block::Heading(1, "naming-bench report".into())];
    b.push(Block::Panel {
        heading: "Which strategy? The decision guide at a glance".into(),
        lead: "How should a running worker be found by name? For each situation: the backend \
               that measured best (★, shaded: the winner and every backend tied with it), each \
               contender's value with its range over repeats, best first, and why. Computed \
               from the result rows."
            .into(),
        cards,
        more: GUIDE_IN_FULL.into(),
    });
    b.push(Block::Contents);

    for w in &data.catalogue.workloads {
        let figs: Vec<&Figure> = figures.iter().filter(|f| f.workload == w.name).collect();
        if figs.is_empty() {
            continue;
        }
        b.push(Block::Heading(2, w.title.to_string()));
        b.push(Block::Para(w.runs.to_string()));
        for f in figs {
            let mut caption = vec![f.caption.clone()];
            caption.extend(
                f.sources
                    .iter()
                    .map(|&s| format!("Machine: {}", data.sources[s].describe())),
            );
            b.push(Block::Figure {
                file: f.file.clone(),
                title: f.title.clone(),
                caption,
            });
        }
    }

    let mut full = Vec::new();
    guide_blocks(guide, &mut full);
    b.push(Block::Details(GUIDE_IN_FULL.into(), full));

    let against = originals::statements(data);
    if !against.is_empty() {
        b.push(Block::Details(
            "Against the BEAM originals".into(),
            vec![
                Block::Para(
                    "Each strategy rebuilt on this suite's runtime beside the Erlang/Elixir \
                     system it rebuilds (the `beam-*` rows: the original itself on a BEAM node, \
                     same machine, same run, same parameters), on every headline metric both \
                     measured, at the largest point both measured; values are medians with their \
                     range over repeats [min..max], and the factor's range compares those ranges."
                        .into(),
                ),
                Block::List(against),
            ],
        ));
    }

    let mut found = Vec::new();
    if findings.is_empty() {
        found.push(Block::Para(
            "No backend skipped anything or failed a check.".into(),
        ));
    } else {
        found.push(Block::List(findings.to_vec()));
    }
    b.push(Block::Details(
        "Findings: limits and failures".into(),
        found,
    ));

    for t in tables {
        b.push(Block::Details(
            format!("Summary: {}", t.subject.title()),
            vec![
                Block::Para(
                    "Each column at the parameters most backends were measured at (then the first \
                     results directory, then the largest sizes); a value is the median over repeats \
                     (each in a fresh process) with its range [min..max] where repeated; ★ marks the \
                     best contender and every one whose range overlaps it or whose median is within 10% of it (a tie: the re-run noise) (floors \
                     are references and never marked; a value past the metric's physical ideal, or one \
                     it can never take, is flagged, never marked); a skip shows its kind, the findings give the whole \
                     reason."
                        .into(),
                ),
                table_block(data, t),
            ],
        ));
    }

    b.push(Block::Heading(2, "Raw data".into()));
    b.push(Block::Para(
        "Results came from (each directory's latest run, then every run whose rows it holds):"
            .into(),
    ));
    b.push(Block::List(
        data.sources
            .iter()
            .flat_map(|s| std::iter::once(s.describe()).chain(s.describe_runs()))
            .collect(),
    ));
    b.push(Block::List(
        data.sources
            .iter()
            .map(|s| {
                format!(
                    "`{}`: `{}/*.csv` and `environment.json`",
                    s.tag,
                    s.dir.display()
                )
            })
            .collect(),
    ));
    b.push(criterion);
    b
}

/// A plain-text summary for the terminal: the guide's winners and where the rest is.
pub fn summary(report: &Report) -> String {
    let mut out = String::from("Decision guide (computed from the rows):\n");
    for v in &report.guide.verdicts {
        let why = if v.margin.is_empty() {
            &v.basis
        } else {
            &v.margin
        };
        let winner = v.winner.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  {:<40} {winner:<24} {why}", v.situation.name());
    }
    let tables: Vec<&str> = report.tables.iter().map(|t| t.subject.title()).collect();
    let _ = writeln!(
        out,
        "\nSummary tables ({}), {} findings (skips and failures): see {}",
        tables.join(", "),
        report.findings.len(),
        report.markdown.display()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        let base = std::env::temp_dir().canonicalize().unwrap();
        let from = base.join("naming-bench-relative/results");
        fs::create_dir_all(&from).unwrap();
        // The target need not exist yet.
        let to = base.join("naming-bench-relative/target/criterion/report/index.html");
        assert_eq!(
            relative(&from, &to),
            Path::new("../target/criterion/report/index.html")
        );
        assert_eq!(relative(&from, &from), PathBuf::new());
    }
}

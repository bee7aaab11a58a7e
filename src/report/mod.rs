//! Plots, REPORT.md, index.html and the decision guide, built from result rows.
//!
//! [`build`] reads one or more result directories (each a set of `<workload>.csv` files and
//! an `environment.json`), draws every chart the rows allow as SVG, computes the summary
//! tables and the decision guide, and writes `REPORT.md` and `index.html` beside the SVGs.
//! Nothing in a report is written by hand: every verdict is computed from the rows, and
//! every `skipped` row appears as a finding.

mod data;
mod figures;
pub mod guide;
mod plot;
mod render;
mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

pub use data::{discover_inputs, is_floor, Data, Rec, Source};
pub use figures::{Figure, SECTIONS};
pub use guide::{Family, Guide, Situation, Verdict};
pub use plot::si;
pub use table::{Cell, Table};

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
    /// A CSV file does not follow the result schema.
    #[error("{path}: not a valid results file: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An `environment.json` could not be read back.
    #[error("{path}: not a valid environment.json (expected the flat shape naming-bench writes)")]
    Environment {
        /// The file.
        path: PathBuf,
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
    /// Limits and failures found in the rows (every skip row is one).
    pub findings: Vec<String>,
    /// The naming backends' summary table, if any naming workload has rows.
    pub naming_table: Option<Table>,
    /// `REPORT.md`.
    pub markdown: PathBuf,
    /// `index.html`.
    pub html: PathBuf,
}

/// Builds the report from the result directories `inputs` into `out` (created if needed):
/// `fig-*.svg`, `REPORT.md` and `index.html`. Old `fig-*.svg` files in `out` are removed.
pub fn build(inputs: &[PathBuf], out: &Path) -> Result<Report, ReportError> {
    let data = Data::load(inputs)?;
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
    let figures = figures::draw_all(&data, out)?;
    let guide = guide::compute(&data);
    let findings = findings(&data);
    let naming_table = table::build(&data, table::NAMING);
    let reshard_table = table::build(&data, table::RESHARD);
    let recovery_table = table::build(&data, table::RECOVERY);

    let blocks = document(
        &data,
        &figures,
        &guide,
        &findings,
        [
            ("Summary: naming backends", naming_table.as_ref()),
            ("Summary: routers (reshard)", reshard_table.as_ref()),
            ("Summary: recovery strategies", recovery_table.as_ref()),
        ],
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
        naming_table,
        markdown,
        html,
    })
}

/// Every limit and failure the rows show: skips (grouped by backend, workload and reason),
/// broken uniqueness, names left behind by dead processes, workloads with no rows.
fn findings(data: &Data) -> Vec<String> {
    let mut out = Vec::new();
    let mut skips: BTreeMap<(usize, String, String), Vec<String>> = BTreeMap::new();
    let pos = |b: &str| data.order.iter().position(|o| o == b).unwrap_or(usize::MAX);
    for r in data.recs.iter().filter(|r| r.row.is_skip()) {
        skips
            .entry((
                pos(&r.row.backend),
                r.row.workload.clone(),
                r.row.unit.clone(),
            ))
            .or_default()
            .push(r.row.params.clone());
    }
    for ((p, workload, reason), params) in skips {
        let backend = data.order.get(p).map_or("?", String::as_str);
        let mut params: Vec<String> = params.into_iter().filter(|p| !p.is_empty()).collect();
        params.dedup();
        let at = if params.is_empty() {
            String::new()
        } else {
            format!(
                " at {}",
                params
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(format!(
            "`{backend}` cannot run **{workload}**{at}: {}",
            if reason.is_empty() {
                "no reason given"
            } else {
                &reason
            }
        ));
    }
    for r in &data.recs {
        if r.row.metric == "duplicate_owners" && r.row.value > 0.0 {
            out.push(format!(
                "`{}` broke name uniqueness in **{}** at `{}`: {} duplicate owners (must be 0)",
                r.row.backend, r.row.workload, r.row.params, r.row.value
            ));
        }
        if r.row.metric == "dead_names_left" && r.row.value > 0.0 {
            out.push(format!(
                "`{}` left {} names of dead processes registered in **{}** at `{}`",
                r.row.backend, r.row.value, r.row.workload, r.row.params
            ));
        }
    }
    for (w, _) in SECTIONS {
        if !data.has_workload(w) {
            out.push(format!("no rows for **{w}** in the inputs (not run)"));
        }
    }
    out
}

fn fmt_value(v: f64, unit: &str) -> String {
    if unit.starts_with('×') || unit.starts_with('x') {
        format!("{v:.2}×")
    } else {
        si(v)
    }
}

/// The kind of a skip reason: the part before its first `:` (`atom limit`, `static set`,
/// `unsupported`), or the reason cut to 40 characters. The findings list has it whole.
fn short_reason(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or(reason).trim();
    if head.chars().count() <= 40 {
        head.to_string()
    } else {
        format!("{}…", head.chars().take(39).collect::<String>())
    }
}

fn table_block(t: &Table) -> Block {
    let mut head = vec!["backend".to_string()];
    head.extend(t.headers.iter().map(|h| {
        format!(
            "{} ({}; {} is better; at `{}` from `{}`)",
            h.title, h.unit, h.better, h.params, h.source
        )
    }));
    let rows = t
        .rows
        .iter()
        .map(|(b, cells)| {
            let mut r: Vec<TCell> = vec![(
                if is_floor(b) {
                    format!("`{b}` (floor)")
                } else {
                    format!("`{b}`")
                },
                false,
            )];
            r.extend(cells.iter().zip(&t.headers).map(|(c, h)| match c {
                Cell::Value { v, best } => (fmt_value(*v, &h.unit), *best),
                Cell::Skipped(reason) => (format!("✗ skipped: {}", short_reason(reason)), false),
                Cell::Missing => ("–".into(), false),
            }));
            r
        })
        .collect();
    Block::Table(head, rows)
}

fn document(
    data: &Data,
    figures: &[Figure],
    guide: &Guide,
    findings: &[String],
    tables: [(&str, Option<&Table>); 3],
) -> Vec<Block> {
    let mut b = vec![Block::Heading(1, "naming-bench report".into())];
    b.push(Block::Para(
        "How should a running worker be found by name? Every backend ran the same workloads; \
         everything below is computed from the result rows (CSV beside this file), including \
         the decision guide."
            .into(),
    ));
    b.push(Block::Para("Results came from:".into()));
    b.push(Block::List(
        data.sources.iter().map(Source::describe).collect(),
    ));

    b.push(Block::Heading(2, "Decision guide".into()));
    b.push(Block::Para(
        "For each situation: the backend that measured best on the metric that situation \
         stresses, its margin over the runner-up, and the backends that could not take part \
         (from their `skipped` rows, or a broken uniqueness guarantee)."
            .into(),
    ));
    let rows = guide
        .verdicts
        .iter()
        .map(|v| {
            let cannot = if v.failures.is_empty() {
                "–".to_string()
            } else {
                v.failures
                    .iter()
                    .map(|(b, r)| format!("`{b}`: {r}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            vec![
                (v.situation.name().to_string(), false),
                (
                    v.winner
                        .as_ref()
                        .map_or("none measured".into(), |w| format!("`{w}`")),
                    v.winner.is_some(),
                ),
                (
                    if v.margin.is_empty() {
                        "–".into()
                    } else {
                        v.margin.clone()
                    },
                    false,
                ),
                (v.basis.clone(), false),
                (cannot, false),
                (v.seed_text.clone(), false),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "situation",
            "winner",
            "margin",
            "judged by",
            "cannot / failed",
            "seed 003",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    ));
    let mut rankings = Vec::new();
    for v in &guide.verdicts {
        if !v.ranking.is_empty() {
            rankings.push(format!(
                "{}: {}",
                v.situation.name(),
                v.ranking
                    .iter()
                    .map(|(b, x)| format!("`{b}` {}", si(*x)))
                    .collect::<Vec<_>>()
                    .join(" > ")
            ));
        }
        if !v.unmeasured.is_empty() {
            rankings.push(format!(
                "{}: no result at the chosen parameters for {}",
                v.situation.name(),
                v.unmeasured
                    .iter()
                    .map(|u| format!("`{u}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !rankings.is_empty() {
        b.push(Block::Para("Full rankings (best first):".into()));
        b.push(Block::List(rankings));
    }

    b.push(Block::Heading(
        3,
        "Seed 003's what/when table against the numbers".into(),
    ));
    b.push(Block::Para(format!(
        "Each row is one line of seed 003's table; each column a situation above. ✓ the seed \
         suggests the strategy there, · it does not. A cell says how the strategy's best backend \
         fared and whether that agrees with the seed (a suggested strategy should win or come \
         within {:.0}% of the winner; one not suggested should lose or fail).",
        (guide::CLOSE - 1.0) * 100.0
    )));
    let mut head = vec![
        "what? (seed)".to_string(),
        "when? (seed)".into(),
        "backends".into(),
    ];
    head.extend(
        guide
            .verdicts
            .iter()
            .map(|v| v.situation.name().to_string()),
    );
    let rows = guide
        .seed
        .iter()
        .map(|r| {
            let mut row: Vec<TCell> = vec![
                (r.family.name().into(), false),
                (r.when.into(), false),
                (
                    if r.backends.is_empty() {
                        "none in results".into()
                    } else {
                        r.backends
                            .iter()
                            .map(|b| format!("`{b}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    false,
                ),
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
    let agree = guide
        .verdicts
        .iter()
        .filter(|v| v.seed_agrees == Some(true))
        .count();
    let disagree = guide
        .verdicts
        .iter()
        .filter(|v| v.seed_agrees == Some(false))
        .count();
    b.push(Block::Para(format!(
        "Situations where the winner's strategy is one seed 003 suggests: {agree}; where it is \
         not: {disagree}; not measured: {}.",
        guide.verdicts.len() - agree - disagree
    )));

    b.push(Block::Heading(2, "Findings: limits and failures".into()));
    if findings.is_empty() {
        b.push(Block::Para(
            "No backend skipped anything or failed a check.".into(),
        ));
    } else {
        b.push(Block::List(findings.to_vec()));
    }

    for (title, t) in tables.iter().take(1) {
        if let Some(t) = t {
            b.push(Block::Heading(2, title.to_string()));
            b.push(Block::Para(
                "Each column at the parameters most backends were measured at (then the first \
                 results directory, then the largest sizes); ★ marks the best contender (floors \
                 are references and never marked); a skip shows its kind, the findings above \
                 give the whole reason."
                    .into(),
            ));
            b.push(table_block(t));
        }
    }

    for (workload, heading) in SECTIONS {
        let figs: Vec<&Figure> = figures.iter().filter(|f| f.workload == *workload).collect();
        let table = match *workload {
            "reshard" => tables[1].1,
            "recovery" => tables[2].1,
            _ => None,
        };
        if figs.is_empty() && table.is_none() {
            continue;
        }
        b.push(Block::Heading(2, heading.to_string()));
        if let Some(t) = table {
            b.push(table_block(t));
        }
        for f in figs {
            let mut caption = vec![f.caption.clone()];
            for &s in &f.sources {
                caption.push(format!("Machine: {}", data.sources[s].describe()));
            }
            b.push(Block::Figure {
                file: f.file.clone(),
                title: f.title.clone(),
                caption,
            });
        }
    }

    b.push(Block::Heading(2, "Raw data".into()));
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
    b
}

/// A plain-text summary for the terminal: the guide's winners and the naming table.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Decision guide (computed from the rows):");
    for v in &report.guide.verdicts {
        let _ = writeln!(
            out,
            "  {:<40} {:<24} {}",
            v.situation.name(),
            v.winner.as_deref().unwrap_or("-"),
            if v.margin.is_empty() {
                &v.basis
            } else {
                &v.margin
            }
        );
    }
    if let Some(t) = &report.naming_table {
        let _ = writeln!(out, "\nSummary (* = best in column):");
        let mut grid: Vec<Vec<String>> = vec![std::iter::once("backend".to_string())
            .chain(
                t.headers
                    .iter()
                    .map(|h| format!("{} ({})", h.title, h.unit)),
            )
            .collect()];
        for (b, cells) in &t.rows {
            grid.push(
                std::iter::once(b.clone())
                    .chain(cells.iter().zip(&t.headers).map(|(c, h)| match c {
                        Cell::Value { v, best } => {
                            format!("{}{}", fmt_value(*v, &h.unit), if *best { "*" } else { "" })
                        }
                        Cell::Skipped(_) => "skipped".into(),
                        Cell::Missing => "-".into(),
                    }))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..grid[0].len())
            .map(|j| grid.iter().map(|r| r[j].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &grid {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "  {}", line.join("  ").trim_end());
        }
    }
    let _ = writeln!(
        out,
        "\n{} findings (skips and failures); see {}",
        report.findings.len(),
        report.markdown.display()
    );
    out
}

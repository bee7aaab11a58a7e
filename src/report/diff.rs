//! Two result directories compared point by point (`naming-bench diff A B`): two machines,
//! two revisions, two allocators.
//!
//! A point is one (workload, backend, parameters, metric). For every point measured in both
//! directories, [`compare`] puts the two values side by side with their ranges, the change
//! as a ratio B/A with its interval (from the ranges: the lowest B over the highest A to the
//! highest B over the lowest A), and classifies it ([`Change`]): a change counts only when
//! the two ranges do not overlap *and* the medians differ beyond the suite's re-run noise
//! ([`beyond_noise`]: the guide's [`RERUN_NOISE`] band, or the stability check's
//! [`TOLERANCE`] where a ratio means nothing) — the same rule by which the decision guide
//! calls a tie. Whether a change is better or worse follows the metric's declared direction
//! (found through the catalogue); a metric with no better direction (or an undeclared one)
//! just "changed". Skips stay skips; points in only one directory are listed apart.
//!
//! [`write()`] renders the comparison as `DIFF.md` and `index.html` (through the report's
//! document blocks) with one chart of the ratios, `fig-diff-ratios.svg`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use naming_schema::{Better, Catalogue, Metric, Row, Unit};
use plotters::prelude::*;

use super::data::{Data, Source};
use super::guide::RERUN_NOISE;
use super::render::{self, Block, TCell};
use super::{si, ReportError};
use crate::environment::Environment;
use crate::stability::{self, TOLERANCE};

/// Why two result directories could not be compared, or the comparison not written.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A directory to compare does not exist (or is not a directory).
    #[error("results directory {0} does not exist (or is not a directory)")]
    MissingDir(PathBuf),
    /// A directory holds no result rows.
    #[error("no result rows in {0}: no `*.csv` files with rows")]
    NoRows(PathBuf),
    /// A directory's files could not be read as results (a malformed CSV, an unreadable
    /// file, a bad `environment.json`, an impossible value, a file cut short).
    #[error("reading {dir}: {source}")]
    Unreadable {
        /// The directory.
        dir: PathBuf,
        /// What went wrong, naming the file.
        #[source]
        source: Box<ReportError>,
    },
    /// The output directory is one of the compared directories: its `index.html` would be
    /// overwritten.
    #[error(
        "the output directory {0} is one of the compared result directories; choose another --out"
    )]
    OutIsInput(PathBuf),
    /// Writing the comparison failed.
    #[error("{path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Drawing the chart failed.
    #[error("drawing {chart}: {message}")]
    Plot {
        /// The chart's file.
        chart: PathBuf,
        /// The plotting error.
        message: String,
    },
}

/// One directory's reading at a point.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    /// A measured value.
    Value {
        /// The median over repeats (or the single measurement).
        value: f64,
        /// Its range over repeats (min..max), if repeated.
        range: Option<(f64, f64)>,
        /// How many measurements the value is the median of.
        repeats: u32,
    },
    /// The backend was not measured there, and why.
    Skipped(String),
}

impl Reading {
    fn of(row: &Row) -> Reading {
        match (row.value(), row.skip_reason()) {
            (Some(value), _) => Reading::Value {
                value,
                range: row.interval,
                repeats: row.repeats,
            },
            (None, Some(reason)) => Reading::Skipped(reason.to_string()),
            // A non-finite value: the report refuses those before a diff is made.
            (None, None) => Reading::Skipped("no finite value".into()),
        }
    }

    /// The value, if measured.
    pub fn value(&self) -> Option<f64> {
        match self {
            Reading::Value { value, .. } => Some(*value),
            Reading::Skipped(_) => None,
        }
    }

    /// The interval the value lies in: its range over repeats, else the value itself.
    pub fn span(&self) -> Option<(f64, f64)> {
        match self {
            Reading::Value { value, range, .. } => Some(range.unwrap_or((*value, *value))),
            Reading::Skipped(_) => None,
        }
    }

    /// The reading as text: `1.5M [1.4M..1.6M]`, or `✗ skipped: reason`.
    pub fn text(&self, unit: Option<Unit>) -> String {
        match self {
            Reading::Value { value, range, .. } => {
                let mut t = fmt_value(*value, unit);
                if let Some((lo, hi)) = range {
                    let _ = write!(t, " [{}..{}]", fmt_value(*lo, unit), fmt_value(*hi, unit));
                }
                t
            }
            Reading::Skipped(reason) => format!("✗ skipped: {reason}"),
        }
    }
}

/// What happened to a point from A to B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// Beyond the noise, in the metric's better direction.
    Better,
    /// Beyond the noise, in the metric's worse direction.
    Worse,
    /// Beyond the noise, on a metric with no better direction (or an undeclared one).
    Changed,
    /// Not told apart from re-run noise (ranges overlap, or the medians are within the band).
    WithinNoise,
    /// Skipped in A, in B or in both: no numbers to compare.
    Skipped,
}

impl Change {
    /// Whether the change is beyond the noise.
    pub fn significant(self) -> bool {
        matches!(self, Change::Better | Change::Worse | Change::Changed)
    }
}

/// The change B/A with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio {
    /// Median of B over median of A.
    pub median: f64,
    /// The smallest quotient of B's range over A's range.
    pub lo: f64,
    /// The largest.
    pub hi: f64,
}

/// One point measured (or skipped) in both directories.
#[derive(Clone, Debug)]
pub struct Point {
    /// The workload.
    pub workload: String,
    /// The backend.
    pub backend: String,
    /// The parameters, as written in the rows.
    pub params: String,
    /// The metric (empty for a skip on both sides, which names no metric).
    pub metric: String,
    /// The metric's declaration, found through the catalogue (`None`: undeclared).
    pub declared: Option<&'static Metric>,
    /// The reading in A.
    pub a: Reading,
    /// The reading in B.
    pub b: Reading,
    /// B/A with its interval, where both are values and A's range excludes 0.
    pub ratio: Option<Ratio>,
    /// The classification.
    pub change: Change,
}

impl Point {
    /// The size of the change, for ordering: |ln(B/A)| for two values of one sign, infinite
    /// for a change from or to zero or across it, 0 for a skip.
    pub fn magnitude(&self) -> f64 {
        match (self.a.value(), self.b.value()) {
            (Some(a), Some(b)) => magnitude(a, b),
            _ => 0.0,
        }
    }

    /// The classification in words, direction included: `better (higher is better)`,
    /// `worse (lower is better)`, `changed (neither direction is better)`, `within the
    /// noise (ranges overlap)`, `skipped in A` ...
    pub fn verdict(&self) -> String {
        let direction = match self.declared.map(|m| m.better) {
            Some(Better::Neither) => "neither direction is better".to_string(),
            Some(b) => format!("{} is better", b.word()),
            None => "undeclared metric: no direction".to_string(),
        };
        match self.change {
            Change::Better => format!("**better** ({direction})"),
            Change::Worse => format!("**worse** ({direction})"),
            Change::Changed => format!("**changed** ({direction})"),
            Change::WithinNoise => {
                let overlap =
                    matches!((self.a.span(), self.b.span()), (Some(x), Some(y)) if !disjoint(x, y));
                if overlap {
                    "within the noise (ranges overlap)".into()
                } else {
                    format!(
                        "within the noise (under {:.0}%)",
                        (RERUN_NOISE - 1.0) * 100.0
                    )
                }
            }
            Change::Skipped => match (&self.a, &self.b) {
                (Reading::Skipped(_), Reading::Skipped(_)) => "skipped in both".into(),
                (Reading::Skipped(_), _) => "skipped in A".into(),
                _ => "skipped in B".into(),
            },
        }
    }

    /// The change as text: `1.25× [1.10..1.40]`, or the difference B−A where no ratio
    /// exists (`+3` from 0), or `–`.
    pub fn change_text(&self) -> String {
        if let Some(r) = self.ratio {
            if r.lo == r.hi {
                return format!("{}×", fmt_ratio(r.median));
            }
            return format!(
                "{}× [{}..{}]",
                fmt_ratio(r.median),
                fmt_ratio(r.lo),
                fmt_ratio(r.hi)
            );
        }
        match (self.a.value(), self.b.value()) {
            (Some(a), Some(b)) => {
                let d = b - a;
                format!("{}{} (difference)", if d >= 0.0 { "+" } else { "" }, si(d))
            }
            _ => "–".into(),
        }
    }
}

/// A point in one directory only.
#[derive(Clone, Debug)]
pub struct Only {
    /// The workload.
    pub workload: String,
    /// The backend.
    pub backend: String,
    /// The parameters.
    pub params: String,
    /// The metric (empty for a skip).
    pub metric: String,
    /// Its declaration, where the catalogue has one.
    pub declared: Option<&'static Metric>,
    /// The reading.
    pub reading: Reading,
}

/// Two result directories compared.
#[derive(Debug)]
pub struct Diff {
    /// A: the directory, its `environment.json` and its runs.
    pub a: Source,
    /// B: the same.
    pub b: Source,
    /// Every point in both, grouped by workload (the workload with the largest
    /// significant change first), each group's largest significant change first.
    pub points: Vec<Point>,
    /// Points only in A.
    pub only_a: Vec<Only>,
    /// Points only in B.
    pub only_b: Vec<Only>,
    /// The declared title of each workload with a point in both.
    pub titles: BTreeMap<String, &'static str>,
}

impl Diff {
    /// How many points in both were classified `change`.
    pub fn count(&self, change: Change) -> usize {
        self.points.iter().filter(|p| p.change == change).count()
    }

    /// The point of `workload`, `backend` and `metric` (the first, when several parameter
    /// sets have one).
    pub fn point(&self, workload: &str, backend: &str, metric: &str) -> Option<&Point> {
        self.points
            .iter()
            .find(|p| p.workload == workload && p.backend == backend && p.metric == metric)
    }

    /// The counts in one sentence.
    pub fn summary(&self) -> String {
        format!(
            "{} points in both: {} better, {} worse, {} changed on a metric with no better \
             direction, {} unchanged within the noise, {} skipped on one side or both; {} only \
             in A, {} only in B",
            self.points.len(),
            self.count(Change::Better),
            self.count(Change::Worse),
            self.count(Change::Changed),
            self.count(Change::WithinNoise),
            self.count(Change::Skipped),
            self.only_a.len(),
            self.only_b.len()
        )
    }

    /// The `n` largest significant changes, largest first.
    pub fn largest(&self, n: usize) -> Vec<&Point> {
        let mut sig: Vec<&Point> = self
            .points
            .iter()
            .filter(|p| p.change.significant())
            .collect();
        sig.sort_by(|x, y| y.magnitude().total_cmp(&x.magnitude()));
        sig.truncate(n);
        sig
    }
}

/// Whether two ranges are apart (neither reaches the other).
fn disjoint(a: (f64, f64), b: (f64, f64)) -> bool {
    a.1 < b.0 || b.1 < a.0
}

/// |ln(b/a)| for two values of one sign, 0 when equal, infinite otherwise.
fn magnitude(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else if a * b > 0.0 {
        (b / a).ln().abs()
    } else {
        f64::INFINITY
    }
}

/// Whether the medians `a` and `b` differ by more than the suite's re-run noise. For two
/// values of one sign: their ratio (larger over smaller) reaches [`RERUN_NOISE`], the band
/// within which the decision guide calls a tie. Where a ratio means nothing (a zero, a
/// change of sign): they do not agree within [`TOLERANCE`] of the larger magnitude, the
/// stability check's rule ([`stability::agree`]).
pub fn beyond_noise(a: f64, b: f64) -> bool {
    if a * b > 0.0 {
        (b / a).abs().max((a / b).abs()) >= RERUN_NOISE
    } else {
        !stability::agree(a, b)
    }
}

/// B/A with its interval over the ranges, where A's range excludes 0.
fn ratio(a: &Reading, b: &Reading) -> Option<Ratio> {
    let (va, vb) = (a.value()?, b.value()?);
    let ((al, ah), (bl, bh)) = (a.span()?, b.span()?);
    if al <= 0.0 && ah >= 0.0 {
        return None;
    }
    let corners = [bl / al, bl / ah, bh / al, bh / ah];
    let lo = corners.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = corners.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Ratio {
        median: vb / va,
        lo,
        hi,
    })
}

/// Classifies a point: a skip on either side; else beyond the noise when the ranges are
/// apart and the medians differ beyond [`beyond_noise`], then better or worse by the
/// metric's direction.
pub fn classify(metric: Option<&Metric>, a: &Reading, b: &Reading) -> Change {
    let (Some(va), Some(vb), Some(sa), Some(sb)) = (a.value(), b.value(), a.span(), b.span())
    else {
        return Change::Skipped;
    };
    if !(disjoint(sa, sb) && beyond_noise(va, vb)) {
        return Change::WithinNoise;
    }
    match metric.map(|m| m.better) {
        Some(Better::Higher) if vb > va => Change::Better,
        Some(Better::Lower) if vb < va => Change::Better,
        Some(Better::Higher | Better::Lower) => Change::Worse,
        Some(Better::Neither) | None => Change::Changed,
    }
}

fn fmt_value(v: f64, unit: Option<Unit>) -> String {
    if unit == Some(Unit::Ratio) {
        format!("{v:.2}×")
    } else {
        si(v)
    }
}

fn fmt_ratio(r: f64) -> String {
    if (0.01..100.0).contains(&r.abs()) {
        format!("{r:.2}")
    } else {
        si(r)
    }
}

/// Reads one directory as the report does (its checks included), mapping the errors.
fn load(catalogue: &Catalogue, dir: &Path) -> Result<Data, DiffError> {
    Data::load(catalogue.clone(), &[dir.to_path_buf()]).map_err(|e| match e {
        ReportError::MissingDir(d) => DiffError::MissingDir(d),
        ReportError::NoRows(_) => DiffError::NoRows(dir.to_path_buf()),
        source => DiffError::Unreadable {
            dir: dir.to_path_buf(),
            source: Box::new(source),
        },
    })
}

type PointKey = (String, String, String, String);
type SkipKey = (String, String, String);

/// One directory's rows by point: values (first row of a point wins) and skips.
struct Side {
    values: BTreeMap<PointKey, Reading>,
    skips: BTreeMap<SkipKey, String>,
}

impl Side {
    fn of(data: &Data) -> Side {
        let mut values = BTreeMap::new();
        let mut skips = BTreeMap::new();
        for rec in &data.recs {
            let r = &rec.row;
            let at = (r.workload.clone(), r.backend.clone(), r.params.to_string());
            match r.skip_reason() {
                Some(reason) => {
                    skips.entry(at).or_insert_with(|| reason.to_string());
                }
                None => {
                    values
                        .entry((at.0, at.1, at.2, r.metric.clone()))
                        .or_insert_with(|| Reading::of(r));
                }
            }
        }
        Side { values, skips }
    }
}

/// Compares result directories `a` and `b` with the suite's own catalogue
/// ([`crate::catalogue::catalogue`]) for the metrics' directions.
pub fn compare(a: &Path, b: &Path) -> Result<Diff, DiffError> {
    compare_with(&crate::catalogue::catalogue(), a, b)
}

/// Compares result directories `a` and `b`; `catalogue` gives each metric's declaration
/// (direction, unit) and the workloads' order.
pub fn compare_with(catalogue: &Catalogue, a: &Path, b: &Path) -> Result<Diff, DiffError> {
    let (da, db) = (load(catalogue, a)?, load(catalogue, b)?);
    let (sa, sb) = (Side::of(&da), Side::of(&db));
    let declared = |w: &str, m: &str| catalogue.workload(w).and_then(|w| w.metric(m));
    let mut points = Vec::new();
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let mut used_a: BTreeSet<&SkipKey> = BTreeSet::new();
    let mut used_b: BTreeSet<&SkipKey> = BTreeSet::new();
    let keys: BTreeSet<&PointKey> = sa.values.keys().chain(sb.values.keys()).collect();
    for key in keys {
        let (w, be, p, m) = key;
        let at = (w.clone(), be.clone(), p.clone());
        let reading_a = match (sa.values.get(key), sa.skips.get_key_value(&at)) {
            (Some(r), _) => Some(r.clone()),
            (None, Some((k, reason))) => {
                used_a.insert(k);
                Some(Reading::Skipped(reason.clone()))
            }
            (None, None) => None,
        };
        let reading_b = match (sb.values.get(key), sb.skips.get_key_value(&at)) {
            (Some(r), _) => Some(r.clone()),
            (None, Some((k, reason))) => {
                used_b.insert(k);
                Some(Reading::Skipped(reason.clone()))
            }
            (None, None) => None,
        };
        let metric = declared(w, m);
        let only = |reading: Reading| Only {
            workload: w.clone(),
            backend: be.clone(),
            params: p.clone(),
            metric: m.clone(),
            declared: metric,
            reading,
        };
        match (reading_a, reading_b) {
            (Some(ra), Some(rb)) => {
                // A skip standing in for a missing value on both sides is no comparison.
                if matches!((&ra, &rb), (Reading::Skipped(_), Reading::Skipped(_))) {
                    continue;
                }
                points.push(Point {
                    workload: w.clone(),
                    backend: be.clone(),
                    params: p.clone(),
                    metric: m.clone(),
                    declared: metric,
                    change: classify(metric, &ra, &rb),
                    ratio: ratio(&ra, &rb),
                    a: ra,
                    b: rb,
                });
            }
            (Some(ra), None) => only_a.push(only(ra)),
            (None, Some(rb)) => only_b.push(only(rb)),
            (None, None) => {}
        }
    }
    for (at, reason_a) in &sa.skips {
        if let Some(reason_b) = sb.skips.get(at) {
            used_a.insert(at);
            used_b.insert(at);
            points.push(Point {
                workload: at.0.clone(),
                backend: at.1.clone(),
                params: at.2.clone(),
                metric: String::new(),
                declared: None,
                a: Reading::Skipped(reason_a.clone()),
                b: Reading::Skipped(reason_b.clone()),
                ratio: None,
                change: Change::Skipped,
            });
        }
    }
    let unused = |side: &Side, used: &BTreeSet<&SkipKey>| -> Vec<Only> {
        side.skips
            .iter()
            .filter(|(k, _)| !used.contains(k))
            .map(|((w, be, p), reason)| Only {
                workload: w.clone(),
                backend: be.clone(),
                params: p.clone(),
                metric: String::new(),
                declared: None,
                reading: Reading::Skipped(reason.clone()),
            })
            .collect()
    };
    only_a.extend(unused(&sa, &used_a));
    only_b.extend(unused(&sb, &used_b));
    order(catalogue, &mut points);
    let by_place = |x: &Only, y: &Only| {
        let rank = |o: &Only| workload_rank(catalogue, &o.workload);
        (rank(x), &x.backend, &x.params, &x.metric).cmp(&(
            rank(y),
            &y.backend,
            &y.params,
            &y.metric,
        ))
    };
    only_a.sort_by(by_place);
    only_b.sort_by(by_place);
    let source = |d: Data| d.sources.into_iter().next();
    let (Some(a), Some(b)) = (source(da), source(db)) else {
        return Err(DiffError::NoRows(a.to_path_buf()));
    };
    let titles = points
        .iter()
        .filter_map(|p| Some((p.workload.clone(), catalogue.workload(&p.workload)?.title)))
        .collect();
    Ok(Diff {
        a,
        b,
        titles,
        points,
        only_a,
        only_b,
    })
}

/// A workload's place: its index in the catalogue, undeclared ones after (by name).
fn workload_rank(catalogue: &Catalogue, w: &str) -> (usize, String) {
    let i = catalogue.workloads.iter().position(|d| d.name == w);
    (i.unwrap_or(usize::MAX), w.to_string())
}

/// Orders points: workloads by their largest significant change (then catalogue order);
/// within one, significant changes first, largest first, then the ones within the noise
/// (largest first), then skips.
fn order(catalogue: &Catalogue, points: &mut [Point]) {
    let mut top: HashMap<String, f64> = HashMap::new();
    for p in points.iter().filter(|p| p.change.significant()) {
        let t = top.entry(p.workload.clone()).or_insert(0.0);
        *t = t.max(p.magnitude());
    }
    let class = |p: &Point| match p.change {
        c if c.significant() => 0,
        Change::WithinNoise => 1,
        _ => 2,
    };
    points.sort_by(|x, y| {
        let t = |p: &Point| top.get(&p.workload).copied().unwrap_or(-1.0);
        t(y).total_cmp(&t(x))
            .then_with(|| {
                workload_rank(catalogue, &x.workload).cmp(&workload_rank(catalogue, &y.workload))
            })
            .then_with(|| class(x).cmp(&class(y)))
            .then_with(|| y.magnitude().total_cmp(&x.magnitude()))
            .then_with(|| {
                (&x.backend, &x.params, &x.metric).cmp(&(&y.backend, &y.params, &y.metric))
            })
    });
}

/// What [`write()`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// `DIFF.md`.
    pub markdown: PathBuf,
    /// `index.html`.
    pub html: PathBuf,
    /// The chart, when there was a ratio to draw.
    pub chart: Option<PathBuf>,
}

/// The chart's file name.
const CHART: &str = "fig-diff-ratios.svg";
/// At most this many points in the chart (the largest changes).
const CHART_POINTS: usize = 40;

/// Compares `a` and `b` (with the suite's catalogue) and writes the comparison into `out`.
pub fn build(a: &Path, b: &Path, out: &Path) -> Result<(Diff, Written), DiffError> {
    let diff = compare(a, b)?;
    let written = write(&diff, out)?;
    Ok((diff, written))
}

/// Writes `diff` into `out` (created if needed): `DIFF.md`, `index.html` and the chart of
/// the ratios. Refuses an `out` that is one of the compared directories.
pub fn write(diff: &Diff, out: &Path) -> Result<Written, DiffError> {
    let canon = |p: &Path| fs::canonicalize(p).ok();
    if let Some(o) = canon(out) {
        if [&diff.a.dir, &diff.b.dir]
            .iter()
            .any(|d| canon(d).as_ref() == Some(&o))
        {
            return Err(DiffError::OutIsInput(out.to_path_buf()));
        }
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DiffError::Write { path, source }
    };
    fs::create_dir_all(out).map_err(io(out))?;
    let chart_path = out.join(CHART);
    let chart = if draw_chart(diff, &chart_path)? {
        Some(chart_path)
    } else {
        if chart_path.exists() {
            fs::remove_file(&chart_path).map_err(io(&chart_path))?;
        }
        None
    };
    let blocks = document(diff, chart.is_some());
    let markdown = out.join("DIFF.md");
    let html = out.join("index.html");
    fs::write(&markdown, render::markdown(&blocks)).map_err(io(&markdown))?;
    fs::write(&html, render::html("naming-bench diff", &blocks)).map_err(io(&html))?;
    Ok(Written {
        markdown,
        html,
        chart,
    })
}

/// The metric cell: name, unit and direction.
fn metric_text(metric: &str, declared: Option<&Metric>) -> String {
    match declared {
        Some(m) if m.better == Better::Neither => {
            format!("`{metric}` ({}; no better direction)", m.unit.symbol())
        }
        Some(m) => format!(
            "`{metric}` ({}; {} is better)",
            m.unit.symbol(),
            m.better.word()
        ),
        None if metric.is_empty() => "–".into(),
        None => format!("`{metric}` (undeclared)"),
    }
}

fn params_text(p: &str) -> String {
    if p.is_empty() {
        "–".into()
    } else {
        format!("`{p}`")
    }
}

/// The two environments side by side, one field a row, with the differing ones marked.
fn environment_block(diff: &Diff) -> Block {
    type Field = fn(&Environment) -> String;
    let fields: [(&str, Field); 15] = [
        ("revision", |e| match &e.git_diff_hash {
            Some(h) => format!("{} (diff {h})", e.git_revision),
            None => e.git_revision.clone(),
        }),
        ("dirty tree", |e| match e.git_dirty {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => "not recorded".into(),
        }),
        ("machine", |e| e.machine.clone()),
        ("CPU", |e| e.cpu.clone()),
        ("cores", |e| e.cores.to_string()),
        ("rustc", |e| e.rustc.clone()),
        ("allocator", |e| e.allocator.clone()),
        ("hasher", |e| e.hasher.clone()),
        ("date", |e| e.date.clone()),
        ("mode", |e| e.mode.clone()),
        ("settings", |e| opt(&e.settings)),
        ("load at start", |e| opt(&e.load_start)),
        ("load at end", |e| opt(&e.load_end)),
        ("run id", |e| opt(&e.run_id)),
        ("crates", |e| {
            let c: Vec<String> = e.crates.iter().map(|(n, v)| format!("{n} {v}")).collect();
            c.join(", ")
        }),
    ];
    let env_text = |s: &Source, f: Field| match &s.env {
        Some(e) => f(e),
        None => "no environment.json".into(),
    };
    let runs = |s: &Source| {
        let r: Vec<String> = s
            .runs
            .iter()
            .map(|(id, _, n)| {
                let id = if id.is_empty() { "(no run id)" } else { id };
                format!("{id} ({n} rows)")
            })
            .collect();
        r.join(", ")
    };
    let mut rows: Vec<(String, String, String)> = vec![(
        "directory".into(),
        diff.a.dir.display().to_string(),
        diff.b.dir.display().to_string(),
    )];
    rows.extend(fields.iter().map(|(name, f)| {
        (
            name.to_string(),
            env_text(&diff.a, *f),
            env_text(&diff.b, *f),
        )
    }));
    rows.push(("runs in the rows".into(), runs(&diff.a), runs(&diff.b)));
    let cells = rows
        .into_iter()
        .map(|(name, a, b)| {
            let same = if a == b { "same" } else { "**differs**" };
            let cell = |t: String| -> TCell { (t, false) };
            vec![cell(name), cell(a), cell(b), cell(same.into())]
        })
        .collect();
    let head = ["", "A", "B", "A vs B"].map(String::from).to_vec();
    Block::Table(head, cells)
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "not recorded".into())
}

/// At most this many points only in one directory are listed one by one; more are
/// grouped by workload and backend (a run of other sizes or another selection can leave
/// thousands).
const ONLY_LISTED: usize = 60;

/// The points only in one directory: one row each, or grouped by workload and backend
/// when there are more than [`ONLY_LISTED`].
fn only_block(only: &[Only]) -> Block {
    if only.len() <= ONLY_LISTED {
        let head = ["workload", "backend", "parameters", "metric", "reading"]
            .map(String::from)
            .to_vec();
        let rows = only
            .iter()
            .map(|o| {
                vec![
                    (format!("`{}`", o.workload), false),
                    (format!("`{}`", o.backend), false),
                    (params_text(&o.params), false),
                    (metric_text(&o.metric, o.declared), false),
                    (o.reading.text(o.declared.map(|m| m.unit)), false),
                ]
            })
            .collect();
        return Block::Table(head, rows);
    }
    let mut groups: Vec<(&str, &str, Vec<&Only>)> = Vec::new();
    for o in only {
        match groups
            .iter_mut()
            .find(|(w, b, _)| *w == o.workload && *b == o.backend)
        {
            Some(g) => g.2.push(o),
            None => groups.push((&o.workload, &o.backend, vec![o])),
        }
    }
    let head = [
        "workload",
        "backend",
        "points",
        "metrics",
        "parameter sets",
        "skips",
    ]
    .map(String::from)
    .to_vec();
    let rows = groups
        .into_iter()
        .map(|(w, b, os)| {
            let distinct = |f: &dyn Fn(&Only) -> Option<String>| -> Vec<String> {
                let mut v: Vec<String> = Vec::new();
                for x in os.iter().filter_map(|o| f(o)) {
                    if !v.contains(&x) {
                        v.push(x);
                    }
                }
                v
            };
            let metrics = distinct(&|o| (!o.metric.is_empty()).then(|| format!("`{}`", o.metric)));
            let params = distinct(&|o| Some(params_text(&o.params)));
            let reasons = distinct(&|o| match &o.reading {
                Reading::Skipped(r) => Some(r.clone()),
                Reading::Value { .. } => None,
            });
            let skips = os.iter().filter(|o| o.reading.value().is_none()).count();
            let params = if params.len() <= 4 {
                params.join(", ")
            } else {
                format!("{}: {}, …", params.len(), params[..3].join(", "))
            };
            let skips = if skips == 0 {
                "–".to_string()
            } else {
                format!("{skips}: {}", reasons.join("; "))
            };
            vec![
                (format!("`{w}`"), false),
                (format!("`{b}`"), false),
                (os.len().to_string(), false),
                (or_dash(metrics.join(", ")), false),
                (params, false),
                (skips, false),
            ]
        })
        .collect();
    Block::Table(head, rows)
}

/// `1 point`, `2 points`.
fn points(n: usize) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "–".into()
    } else {
        s
    }
}

/// The comparison as document blocks.
fn document(diff: &Diff, chart: bool) -> Vec<Block> {
    let (a, b) = (diff.a.dir.display(), diff.b.dir.display());
    let mut out = vec![Block::Heading(
        1,
        format!("naming-bench diff: `{a}` → `{b}`"),
    )];
    out.push(Block::Para(format!(
        "A is `{a}`, B is `{b}`. For every point (workload, backend, parameters, metric) \
         measured in both: the two values (a median with its range [min..max] over repeats, \
         where repeated), the change B/A with its interval (the lowest B over the highest A to \
         the highest B over the lowest A), and whether the change is beyond the noise: the \
         two ranges do not overlap and the medians differ by at least {:.0}% (the re-run noise \
         band within which the decision guide calls a tie; where a ratio means nothing, a \
         zero or a change of sign, by more than ±{:.0}% of the larger, the stability check's \
         rule). Better or worse follows each metric's declared direction.",
        (RERUN_NOISE - 1.0) * 100.0,
        TOLERANCE * 100.0
    )));
    out.push(Block::Heading(2, "Summary".into()));
    out.push(Block::Para(format!("{}.", diff.summary())));
    let largest = diff.largest(10);
    if !largest.is_empty() {
        out.push(Block::Para("The largest changes beyond the noise:".into()));
        out.push(Block::List(
            largest
                .iter()
                .map(|p| {
                    format!(
                        "**{}** `{}` at {}, {}: {} → {}, {}: {}",
                        p.workload,
                        p.backend,
                        params_text(&p.params),
                        metric_text(&p.metric, p.declared),
                        p.a.text(p.declared.map(|m| m.unit)),
                        p.b.text(p.declared.map(|m| m.unit)),
                        p.change_text(),
                        p.verdict()
                    )
                })
                .collect(),
        ));
    }
    out.push(Block::Heading(2, "The two runs".into()));
    out.push(Block::Para(
        "Each directory's `environment.json` (its latest run) side by side, and every run its \
         rows came from: a difference here (revision, machine, allocator, settings, load) may \
         explain a difference below."
            .into(),
    ));
    out.push(environment_block(diff));
    if chart {
        out.push(Block::Figure {
            file: CHART.into(),
            title: "B/A per point".into(),
            caption: vec![format!(
                "The {CHART_POINTS} largest changes at most, B/A on a log axis with its \
                 interval: green better, red worse, orange changed (no better direction), grey \
                 within the noise. The band around 1 is the ±{:.0}% re-run noise.",
                (RERUN_NOISE - 1.0) * 100.0
            )],
        });
    }
    let mut workloads: Vec<&str> = diff.points.iter().map(|p| p.workload.as_str()).collect();
    workloads.dedup();
    let head = [
        "backend",
        "parameters",
        "metric",
        "A",
        "B",
        "B/A [interval]",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    for w in workloads {
        let pts: Vec<&Point> = diff.points.iter().filter(|p| p.workload == w).collect();
        let n = |c: Change| pts.iter().filter(|p| p.change == c).count();
        let title = diff
            .titles
            .get(w)
            .map_or_else(String::new, |t| format!(": {t}"));
        out.push(Block::Heading(2, format!("`{w}`{title}")));
        out.push(Block::Para(format!(
            "{}: {} better, {} worse, {} changed, {} within the noise, {} skipped.",
            points(pts.len()),
            n(Change::Better),
            n(Change::Worse),
            n(Change::Changed),
            n(Change::WithinNoise),
            n(Change::Skipped)
        )));
        let rows = pts
            .iter()
            .map(|p| {
                let unit = p.declared.map(|m| m.unit);
                vec![
                    (format!("`{}`", p.backend), false),
                    (params_text(&p.params), false),
                    (metric_text(&p.metric, p.declared), false),
                    (p.a.text(unit), false),
                    (p.b.text(unit), false),
                    (p.change_text(), false),
                    (p.verdict(), false),
                ]
            })
            .collect();
        out.push(Block::Table(head.clone(), rows));
    }
    for (title, only) in [("Only in A", &diff.only_a), ("Only in B", &diff.only_b)] {
        out.push(Block::Heading(
            2,
            format!("{title} ({})", points(only.len())),
        ));
        if only.is_empty() {
            out.push(Block::Para("None.".into()));
        } else {
            if only.len() > ONLY_LISTED {
                out.push(Block::Para(format!(
                    "More than {ONLY_LISTED} points: grouped by workload and backend (other \
                     sizes, another selection, or a backend run on one side only)."
                )));
            }
            out.push(only_block(only));
        }
    }
    out
}

/// Draws the ratios of the largest changes (and of points within the noise, up to
/// [`CHART_POINTS`]) as dots with their intervals on a log axis; `false` (nothing drawn)
/// when no point has a ratio.
fn draw_chart(diff: &Diff, path: &Path) -> Result<bool, DiffError> {
    let mut pts: Vec<&Point> = diff
        .points
        .iter()
        .filter(|p| p.ratio.is_some_and(|r| r.median > 0.0 && r.lo > 0.0))
        .collect();
    if pts.is_empty() {
        return Ok(false);
    }
    pts.sort_by(|x, y| {
        (!x.change.significant(), -x.magnitude())
            .partial_cmp(&(!y.change.significant(), -y.magnitude()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    pts.truncate(CHART_POINTS);
    let e = |m: String| DiffError::Plot {
        chart: path.to_path_buf(),
        message: m,
    };
    let l2 = |v: f64| v.log2();
    let spans: Vec<(f64, f64, f64)> = pts
        .iter()
        .filter_map(|p| p.ratio.map(|r| (l2(r.median), l2(r.lo), l2(r.hi))))
        .collect();
    let noise = l2(RERUN_NOISE);
    let reach = spans
        .iter()
        .flat_map(|s| [s.1.abs(), s.2.abs()])
        .filter(|v| v.is_finite())
        .fold(noise * 2.0, f64::max)
        * 1.1;
    let n = pts.len();
    let h = (80 + 22 * n) as u32;
    let root = SVGBackend::new(path, (1100, h.max(220))).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let labels: Vec<String> = pts
        .iter()
        .map(|p| {
            let mut l = format!("{} {} {}", p.workload, p.backend, p.metric);
            if !p.params.is_empty() {
                let _ = write!(l, " {}", p.params);
            }
            if l.chars().count() > 70 {
                l = format!("{}…", l.chars().take(69).collect::<String>());
            }
            l
        })
        .collect();
    let mut ctx = ChartBuilder::on(&root)
        .caption("B/A per point (log scale)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(460)
        // `0..k` segmented has k + 1 segments: one per point.
        .build_cartesian_2d(-reach..reach, (0..n - 1).into_segmented())
        .map_err(|x| e(x.to_string()))?;
    // Row i (the largest change first) is drawn at the top: segment n - 1 - i.
    let row = |i: usize| SegmentValue::CenterOf(n - 1 - i);
    let ylabel = |y: &SegmentValue<usize>| match y {
        SegmentValue::CenterOf(s) if *s < n => labels[n - 1 - s].clone(),
        _ => String::new(),
    };
    let xlabel = |x: &f64| format!("{}×", fmt_ratio(2f64.powf(*x)));
    ctx.configure_mesh()
        .y_labels(n)
        .y_label_formatter(&ylabel)
        .x_label_formatter(&xlabel)
        .x_desc("B/A")
        .disable_y_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    let (bottom, top) = (SegmentValue::Exact(0), SegmentValue::Last);
    ctx.draw_series(std::iter::once(Rectangle::new(
        [(-noise, bottom.clone()), (noise, top.clone())],
        RGBColor(230, 230, 230).filled(),
    )))
    .map_err(|x| e(x.to_string()))?;
    ctx.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, bottom), (0.0, top)],
        BLACK.stroke_width(1),
    )))
    .map_err(|x| e(x.to_string()))?;
    for (i, (p, (m, lo, hi))) in pts.iter().zip(&spans).enumerate() {
        let c = match p.change {
            Change::Better => RGBColor(44, 160, 44),
            Change::Worse => RGBColor(214, 39, 40),
            Change::Changed => RGBColor(255, 127, 14),
            _ => RGBColor(127, 127, 127),
        };
        let clamp = |v: f64| v.clamp(-reach, reach);
        ctx.draw_series(std::iter::once(PathElement::new(
            vec![(clamp(*lo), row(i)), (clamp(*hi), row(i))],
            c.stroke_width(2),
        )))
        .map_err(|x| e(x.to_string()))?;
        ctx.draw_series(std::iter::once(Circle::new(
            (clamp(*m), row(i)),
            4,
            c.filled(),
        )))
        .map_err(|x| e(x.to_string()))?;
    }
    root.present().map_err(|x| e(x.to_string()))?;
    Ok(true)
}

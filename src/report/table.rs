//! Summary tables, one per subject (naming backends, routers, ...): a row per series, a
//! column per declared [`Column`](naming_schema::Column) at its headline parameters, the
//! best contender in each column marked. Floors are shown for reference and never marked;
//! a value past the metric's physical ideal is flagged as a measurement error, never marked.

use naming_schema::{Better, Metric, Subject, Workload};

use super::data::Data;
use super::select::{headline, row_at, At, Focus};

/// A cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A measured value.
    Value {
        /// The value (a median over repeats where repeated).
        v: f64,
        /// Its range over repeats (min..max), where repeated.
        range: Option<(f64, f64)>,
        /// Best contender in its column, or tied with it (ranges overlap).
        best: bool,
        /// Past the metric's physical ideal: a measurement error.
        impossible: bool,
    },
    /// The backend skipped this, for the reason given.
    Skipped(String),
    /// No row.
    Missing,
}

/// A column as laid out: its metric and where its values come from.
#[derive(Clone, Debug)]
pub struct Header {
    /// Header text.
    pub title: String,
    /// The metric.
    pub metric: &'static Metric,
    /// The parameters the values were taken at.
    pub params: String,
    /// The source tag they came from.
    pub source: String,
}

/// A laid-out table.
#[derive(Clone, Debug)]
pub struct Table {
    /// The subject.
    pub subject: Subject,
    /// Columns with data.
    pub headers: Vec<Header>,
    /// One row per series, in report order: key and cells.
    pub rows: Vec<(String, Vec<Cell>)>,
}

/// Lays out the columns of every workload of `subject`.
pub fn build(data: &Data, subject: Subject) -> Option<Table> {
    let workloads: Vec<&Workload> = data
        .catalogue
        .workloads
        .iter()
        .copied()
        .filter(|w| w.subject == subject)
        .collect();
    let cols: Vec<(&Workload, &naming_schema::Column, At)> = workloads
        .iter()
        .flat_map(|w| w.columns.iter().map(move |c| (*w, c)))
        .filter_map(|(w, c)| headline(data, w, c.metric, Focus::rows(c.filter)).map(|a| (w, c, a)))
        .collect();
    if cols.is_empty() {
        return None;
    }
    let whos = data.ordered(|b| {
        data.recs
            .iter()
            .any(|r| r.who == b && workloads.iter().any(|w| w.name == r.row.workload))
    });
    let mut rows: Vec<(String, Vec<Cell>)> = whos
        .iter()
        .map(|b| {
            let cells =
                cols.iter()
                    .map(|(w, c, at)| match row_at(data, w.name, c.metric, b, at) {
                        Some(r) => Cell::Value {
                            v: r.row.value().unwrap_or(f64::NAN),
                            range: r.row.interval,
                            best: false,
                            impossible: r.row.value().is_none_or(|v| {
                                !c.metric.possible(v) || c.metric.past_ideal(v, 0.02)
                            }),
                        },
                        None => data
                            .skips(w.name)
                            .find(|r| r.who == *b && r.row.params.agrees_with(&at.params))
                            .map_or(Cell::Missing, |r| {
                                Cell::Skipped(r.row.skip_reason().unwrap_or("").to_string())
                            }),
                    })
                    .collect();
            (b.to_string(), cells)
        })
        .collect();
    for (j, (_, c, _)) in cols.iter().enumerate() {
        // The best median, then every contender whose range overlaps the best's or whose
        // median is within the re-run noise of it (a tie, as in the guide).
        let candidates = rows
            .iter()
            .filter(|(b, _)| !data.is_floor(b))
            .filter_map(|(_, cells)| match cells[j] {
                Cell::Value {
                    v,
                    range,
                    impossible: false,
                    ..
                } => Some((v, range.unwrap_or((v, v)))),
                _ => None,
            });
        let best = match c.metric.better {
            Better::Higher => candidates.max_by(|a, b| a.0.total_cmp(&b.0)),
            Better::Lower => candidates.min_by(|a, b| a.0.total_cmp(&b.0)),
            Better::Neither => None,
        };
        for (b, cells) in rows.iter_mut() {
            if let Cell::Value {
                v,
                range,
                best: mark,
                impossible,
            } = &mut cells[j]
            {
                let (lo, hi) = range.unwrap_or((*v, *v));
                let ties = best.is_some_and(|(bv, (blo, bhi))| {
                    let (small, large) = (bv.min(*v), bv.max(*v));
                    let close = small > 0.0 && large / small < super::guide::RERUN_NOISE;
                    (lo <= bhi && blo <= hi) || close
                });
                *mark = !data.is_floor(b) && !*impossible && ties;
            }
        }
    }
    rows.retain(|(_, cells)| cells.iter().any(|c| *c != Cell::Missing));
    let headers = cols
        .iter()
        .map(|(_, c, at)| Header {
            title: c.title.to_string(),
            metric: c.metric,
            params: at.params.to_string(),
            source: data.sources[at.source].tag.clone(),
        })
        .collect();
    Some(Table {
        subject,
        headers,
        rows,
    })
}

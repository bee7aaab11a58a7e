//! Summary tables: backend x metric at each metric's headline parameters, the best in each
//! column marked (floors are shown for reference and never marked best).

use crate::results::Row;

use super::data::{is_floor, params_agree, Data};
use super::figures::{headline, value};

/// One column: a metric of a workload and which way is better.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The workload.
    pub workload: &'static str,
    /// The metric.
    pub metric: &'static str,
    /// The header text.
    pub title: &'static str,
    /// The unit shown in the header.
    pub unit: &'static str,
    /// Whether higher values are better.
    pub higher_better: bool,
    /// Only rows passing this (e.g. closed-loop routing).
    pub filter: fn(&Row) -> bool,
}

fn all(_: &Row) -> bool {
    true
}

fn closed(r: &Row) -> bool {
    r.param("mode") != Some("open")
}

const fn col(
    workload: &'static str,
    metric: &'static str,
    title: &'static str,
    unit: &'static str,
    higher_better: bool,
) -> Column {
    Column {
        workload,
        metric,
        title,
        unit,
        higher_better,
        filter: all,
    }
}

/// The naming backends' columns.
pub const NAMING: &[Column] = &[
    col("lookup", "ops_per_sec", "lookup", "ops/s", true),
    col(
        "lookup",
        "ops_vs_floor",
        "lookup vs raw get",
        "× floor",
        true,
    ),
    Column {
        filter: closed,
        ..col("routing", "ops_per_sec", "routed calls", "ops/s", true)
    },
    Column {
        filter: closed,
        ..col("routing", "p99_ns", "routed call p99", "ns", false)
    },
    col(
        "churn",
        "failed_stale_per_call",
        "churn failed+stale",
        "fraction of calls",
        false,
    ),
    col("churn", "reregister_p99_ns", "re-register p99", "ns", false),
    col(
        "churn",
        "duplicate_owners",
        "duplicate owners",
        "count",
        false,
    ),
    col("scale", "bytes_per_name", "memory per name", "bytes", false),
    col("scale", "register_ns", "register", "ns", false),
    col(
        "scale",
        "register_unregister_ns",
        "register+unregister",
        "ns",
        false,
    ),
    col(
        "fanout",
        "dispatch_all_received_ns",
        "fan-out to all",
        "ns",
        false,
    ),
    col("soak", "live_bytes", "soak live heap", "bytes", false),
    col("soak", "dead_names_left", "dead names left", "count", false),
];

/// The routers' columns (reshard workload); a column without rows is left out, so both
/// the shard module's names and the older ones (`max_over_mean`, ...) are listed.
pub const RESHARD: &[Column] = &[
    col(
        "reshard",
        "moved_fraction_grow",
        "moved on grow",
        "fraction of keys",
        false,
    ),
    col(
        "reshard",
        "moved_ratio_grow",
        "moved on grow / minimum",
        "ratio",
        false,
    ),
    col(
        "reshard",
        "moved_fraction_shrink",
        "moved on shrink",
        "fraction of keys",
        false,
    ),
    col(
        "reshard",
        "moved_ratio_shrink",
        "moved on shrink / minimum",
        "ratio",
        false,
    ),
    col(
        "reshard",
        "excess_fraction_grow",
        "excess moves on grow",
        "fraction of keys",
        false,
    ),
    col(
        "reshard",
        "load_max_over_mean",
        "max/mean load",
        "ratio",
        false,
    ),
    col("reshard", "max_over_mean", "max/mean load", "ratio", false),
    col(
        "reshard",
        "load_stddev_ratio",
        "stddev / binomial",
        "ratio",
        false,
    ),
    col(
        "reshard",
        "stddev_over_binomial",
        "stddev / binomial",
        "ratio",
        false,
    ),
    col("reshard", "lookup_ns", "lookup", "ns", false),
    col(
        "reshard",
        "lookup_vs_modulo",
        "lookup vs modulo",
        "× modulo",
        false,
    ),
    col("reshard", "memory_bytes", "memory", "bytes", false),
    col("reshard", "build_ns", "build", "ns", false),
];

/// The recovery strategies' columns (both metric namings, as for [`RESHARD`]).
pub const RECOVERY: &[Column] = &[
    col("recovery", "lost_updates", "lost updates", "count", false),
    col("recovery", "failed_calls", "failed calls", "count", false),
    col(
        "recovery",
        "recover_us_p50",
        "kill to serving p50",
        "µs",
        false,
    ),
    col(
        "recovery",
        "recover_us_p99",
        "kill to serving p99",
        "µs",
        false,
    ),
    col(
        "recovery",
        "kill_to_serving_p50_ns",
        "kill to serving p50",
        "ns",
        false,
    ),
    col(
        "recovery",
        "kill_to_serving_p99_ns",
        "kill to serving p99",
        "ns",
        false,
    ),
];

/// A cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A measured value; `best` marks the best contender in the column.
    Value {
        /// The value.
        v: f64,
        /// Best in its column.
        best: bool,
    },
    /// The backend skipped this, for the reason given.
    Skipped(String),
    /// No row.
    Missing,
}

/// A column as laid out: header, unit and where its values come from.
#[derive(Clone, Debug)]
pub struct Header {
    /// Header text.
    pub title: String,
    /// Unit.
    pub unit: String,
    /// The parameters the values were taken at.
    pub params: String,
    /// The source tag they came from.
    pub source: String,
    /// "higher" or "lower" is better.
    pub better: &'static str,
}

/// A laid-out table.
#[derive(Clone, Debug)]
pub struct Table {
    /// Columns with data.
    pub headers: Vec<Header>,
    /// One row per backend, in report order: label and cells.
    pub rows: Vec<(String, Vec<Cell>)>,
}

/// Lays out `columns` for every backend with a row in any of their workloads.
pub fn build(data: &Data, columns: &[Column]) -> Option<Table> {
    let cols: Vec<(&Column, usize, String)> = columns
        .iter()
        .filter_map(|c| headline(data, c.workload, c.metric, c.filter).map(|(s, p)| (c, s, p)))
        .collect();
    if cols.is_empty() {
        return None;
    }
    let backends = data.ordered(|b| {
        data.recs
            .iter()
            .any(|r| r.row.backend == b && columns.iter().any(|c| c.workload == r.row.workload))
    });
    let mut rows: Vec<(String, Vec<Cell>)> = backends
        .iter()
        .map(|b| {
            let cells = cols
                .iter()
                .map(
                    |(c, s, p)| match value(data, *s, b, c.workload, p, c.metric) {
                        Some(v) => Cell::Value { v, best: false },
                        None => data
                            .skips(c.workload)
                            .find(|r| r.row.backend == *b && params_agree(&r.row.params, p, &[]))
                            .map_or(Cell::Missing, |r| Cell::Skipped(r.row.unit.clone())),
                    },
                )
                .collect();
            (b.to_string(), cells)
        })
        .collect();
    for (j, (c, ..)) in cols.iter().enumerate() {
        let vals = rows
            .iter()
            .filter(|(b, _)| !is_floor(b))
            .filter_map(|(_, cells)| match cells[j] {
                Cell::Value { v, .. } => Some(v),
                _ => None,
            });
        let best = if c.higher_better {
            vals.fold(f64::NEG_INFINITY, f64::max)
        } else {
            vals.fold(f64::INFINITY, f64::min)
        };
        for (b, cells) in rows.iter_mut() {
            if let Cell::Value { v, best: mark } = &mut cells[j] {
                *mark = !is_floor(b) && *v == best;
            }
        }
    }
    rows.retain(|(_, cells)| cells.iter().any(|c| *c != Cell::Missing));
    let headers = cols
        .iter()
        .map(|(c, s, p)| Header {
            title: c.title.to_string(),
            unit: c.unit.to_string(),
            params: p.clone(),
            source: data.sources[*s].tag.clone(),
            better: if c.higher_better { "higher" } else { "lower" },
        })
        .collect();
    Some(Table { headers, rows })
}

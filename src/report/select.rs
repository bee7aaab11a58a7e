//! The one selection function: at which parameters a metric is compared across backends,
//! and the value each backend scored there. The summary tables, the bar charts and the
//! decision guide all read it, so they judge a backend at the same parameters and one
//! place decides tie-breaks.

use std::collections::{BTreeMap, BTreeSet};

use naming_schema::{Extreme, Filter, Metric, Params, Workload};

use super::data::{Data, Rec};

/// Where a metric is compared: one source and one parameter set (variants left out).
#[derive(Clone, Debug, PartialEq)]
pub struct At {
    /// Index into [`Data::sources`].
    pub source: usize,
    /// The parameters.
    pub params: Params,
}

/// What a comparison is about, beyond the metric: which rows count, the end of a
/// parameter's range, and parameter values to prefer where recorded.
#[derive(Clone, Copy, Debug)]
pub struct Focus {
    /// Which rows count.
    pub filter: Filter,
    /// The parameter and the end of its range.
    pub at: Option<(&'static str, Extreme)>,
    /// Preferred parameter values.
    pub prefer: &'static [(&'static str, &'static str)],
}

impl Focus {
    /// Every row that passes `filter`.
    pub const fn rows(filter: Filter) -> Focus {
        Focus {
            filter,
            at: None,
            prefer: &[],
        }
    }
}

/// A size score for choosing among parameter sets: the sum of log10 of numeric values.
pub fn size_score(params: &Params) -> f64 {
    params
        .pairs()
        .filter_map(|(_, v)| v.num())
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .sum()
}

/// The parameters `metric` of `workload` is compared at: among rows passing the focus
/// (at its end of the range, preferring its values), the (source, parameters) measured
/// for the most contenders; ties go to the first source, then the largest sizes.
pub fn headline(data: &Data, workload: &Workload, metric: &Metric, focus: Focus) -> Option<At> {
    let rows: Vec<&Rec> = data
        .measured(workload.name, metric)
        .filter(|r| !data.is_floor(&r.who) && focus.filter.pass(&r.row.params))
        .collect();
    let preferred: Vec<&Rec> = rows
        .iter()
        .copied()
        .filter(|r| {
            focus
                .prefer
                .iter()
                .all(|(k, v)| r.row.param(k).is_none_or(|x| x == *v))
        })
        .collect();
    let rows = if preferred.is_empty() {
        rows
    } else {
        preferred
    };
    let target = focus.at.and_then(|(key, end)| {
        let vals = rows.iter().filter_map(|r| r.row.params.num(key));
        match end {
            Extreme::Min => vals.reduce(f64::min),
            Extreme::Max => vals.reduce(f64::max),
        }
        .map(|t| (key, t))
    });
    let mut cover: BTreeMap<(usize, String), (Params, BTreeSet<&str>)> = BTreeMap::new();
    for r in rows {
        if target.is_none_or(|(key, t)| r.row.params.num(key) == Some(t)) {
            cover
                .entry((r.source, r.at.to_string()))
                .or_insert_with(|| (r.at.clone(), BTreeSet::new()))
                .1
                .insert(&r.who);
        }
    }
    cover
        .into_iter()
        .max_by(|((sa, ta), (pa, a)), ((sb, tb), (pb, b))| {
            a.len()
                .cmp(&b.len())
                .then(sb.cmp(sa))
                .then(size_score(pa).total_cmp(&size_score(pb)))
                .then(tb.cmp(ta))
        })
        .map(|((source, _), (params, _))| At { source, params })
}

/// The row of series `who` for `metric` at `at`: measured exactly there, or, for a floor
/// (which may record fewer or extra parameters), at parameters agreeing with it.
pub fn row_at<'a>(
    data: &'a Data,
    workload: &'a str,
    metric: &'a Metric,
    who: &str,
    at: &At,
) -> Option<&'a Rec> {
    let rows: Vec<&Rec> = data
        .measured(workload, metric)
        .filter(|r| r.source == at.source && r.who == who)
        .collect();
    let exact = rows.iter().find(|r| r.at == at.params);
    exact
        .or_else(|| {
            data.is_floor(who)
                .then(|| rows.iter().find(|r| at.params.agrees_with(&r.at)))
                .flatten()
        })
        .copied()
}

/// The value of series `who` for `metric` at `at`.
pub fn value_at(data: &Data, workload: &str, metric: &Metric, who: &str, at: &At) -> Option<f64> {
    row_at(data, workload, metric, who, at).and_then(|r| r.row.value())
}

//! Which charts a report draws, computed from the rows present: each workload's sweeps
//! (one chart per combination of the other parameters), latency bars, thread scaling,
//! floors as dashed lines or outlined bars, and skipped backends listed in the legend.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::results::Row;

use super::data::{
    is_floor, normalize, param_num, params_agree, params_without, private_keys, Data, Rec,
};
use super::plot::{self, BarChart, Bars, LineChart, Point, RefLine, Series};
use super::ReportError;

/// One drawn chart.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Stable id; the file is `fig-<id>.svg`.
    pub id: String,
    /// The SVG file name, relative to the report.
    pub file: String,
    /// The workload it shows.
    pub workload: String,
    /// Title.
    pub title: String,
    /// What is drawn, with units.
    pub caption: String,
    /// Indices of the sources whose rows it shows.
    pub sources: Vec<usize>,
    /// Backends drawn or listed as skipped, in report order.
    pub backends: Vec<String>,
}

/// The ordered list of workload sections, with a heading and what each shows.
pub const SECTIONS: &[(&str, &str)] = &[
    ("lookup", "Lookup: `whereis` throughput"),
    ("routing", "Routing: calls through a name"),
    ("churn", "Churn: killing named workers under load"),
    ("scale", "Scale: registering many names"),
    ("fanout", "Fan-out: dispatch to a group"),
    ("soak", "Soak: memory and leaks over phases"),
    ("reshard", "Resharding: routers"),
    ("recovery", "Recovery of a registry table"),
    ("multinode-call", "Multi-node: lookup + call across nodes"),
    (
        "multinode-register",
        "Multi-node: registration rate and propagation",
    ),
    ("multinode-crash", "Multi-node: a node crashes"),
    ("multinode-netsplit", "Multi-node: netsplit and heal"),
];

/// A reference curve: its legend label and `y = f(x)`.
type Ideal<'a> = (&'a str, fn(f64) -> f64);

/// A grouped bar chart of `metrics` (metric, group name) at a workload's headline parameters.
struct BarSpec<'a> {
    id: &'a str,
    workload: &'a str,
    metrics: &'a [(&'a str, &'a str)],
    filter: fn(&Row) -> bool,
    title: &'a str,
    y_desc: &'a str,
    caption: &'a str,
}

/// One line of a sweep chart: a metric drawn solid or dashed.
struct Line<'a> {
    metric: &'a str,
    dashed: bool,
    /// Metrics giving the min and max whisker, if recorded.
    whisker: Option<(&'a str, &'a str)>,
}

/// A chart of metric(s) against parameter `x` of `workload`, one per combination of the
/// other parameters that vary.
struct Sweep<'a> {
    id: &'a str,
    workload: &'a str,
    lines: Vec<Line<'a>>,
    x: &'a str,
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    caption: &'a str,
    /// Only rows passing this.
    filter: fn(&Row) -> bool,
    /// Draw floor backends (dashed, in their contender's colour).
    floors: bool,
    /// Extra legend lines.
    notes: Vec<String>,
    /// A reference curve `f(x)` drawn in black, with its label.
    ideal: Option<Ideal<'a>>,
    /// Horizontal reference lines.
    refs: Vec<(String, f64)>,
    /// Keep only some groups, given all group keys (default: all).
    pick: fn(&[String]) -> Vec<String>,
    /// Draw only groups where x takes at least this many values.
    min_x: usize,
}

fn all(_: &Row) -> bool {
    true
}

fn keep_all(g: &[String]) -> Vec<String> {
    g.to_vec()
}

impl<'a> Sweep<'a> {
    fn new(id: &'a str, workload: &'a str, metric: &'a str, x: &'a str) -> Self {
        Sweep {
            id,
            workload,
            lines: vec![Line {
                metric,
                dashed: false,
                whisker: None,
            }],
            x,
            title: "",
            x_desc: "",
            y_desc: "",
            caption: "",
            filter: all,
            floors: false,
            notes: Vec::new(),
            ideal: None,
            refs: Vec::new(),
            pick: keep_all,
            min_x: 1,
        }
    }
}

/// The parameter keys that split `rows` into separate charts: those taking two values for
/// the same backend, source, metric and x (a key that follows x, or belongs to one
/// backend, does not split).
fn dimensions(rows: &[&Rec], x: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<(String, usize, String, String, String), BTreeSet<String>> =
        BTreeMap::new();
    for r in rows {
        let xv = r.row.param(x).unwrap_or("").to_string();
        for kv in r.row.params.split(';').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if k == x {
                continue;
            }
            seen.entry((
                k.to_string(),
                r.source,
                r.row.backend.clone(),
                r.row.metric.clone(),
                xv.clone(),
            ))
            .or_default()
            .insert(v.to_string());
        }
    }
    seen.into_iter()
        .filter(|(_, vals)| vals.len() > 1)
        .map(|((k, ..), _)| k)
        .collect()
}

/// `params` restricted to the keys in `dims`.
fn group_key(params: &str, dims: &BTreeSet<String>) -> String {
    let drop: Vec<&str> = params
        .split(';')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .filter(|k| !dims.contains(*k))
        .collect();
    params_without(params, &drop)
}

/// Skipped backends matching a chart's group (its parameters other than `x`), as legend
/// notes, plus their labels.
fn skip_notes(data: &Data, workload: &str, group: &str, x: &str) -> (Vec<String>, Vec<String>) {
    let mut by: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let keys = |p: &str| -> BTreeSet<String> {
        p.split(';')
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
            .filter(|k| k != x)
            .collect()
    };
    let group_keys = keys(group);
    for r in data.skips(workload) {
        // A skip belongs to a chart when its parameters agree with the chart's and, if
        // both name parameters, they share one (a skip of another shape of the workload,
        // e.g. `pairs=` against `names=`, does not).
        let skip_keys = keys(&r.row.params);
        let related =
            group_keys.is_empty() || skip_keys.is_empty() || !skip_keys.is_disjoint(&group_keys);
        if related && params_agree(&r.row.params, group, &[x]) {
            let at = r.row.param(x).map(|v| v.to_string()).unwrap_or_default();
            by.entry((r.row.backend.clone(), r.row.unit.clone()))
                .or_default()
                .push(at);
        }
    }
    let mut notes = Vec::new();
    let mut backends = Vec::new();
    for b in data.ordered(|_| true) {
        for ((sb, reason), ats) in &by {
            if sb == b {
                let mut ats: Vec<&str> = ats
                    .iter()
                    .map(String::as_str)
                    .filter(|a| !a.is_empty())
                    .collect();
                ats.sort_by(|a, b| {
                    a.parse::<f64>()
                        .unwrap_or(0.0)
                        .total_cmp(&b.parse().unwrap_or(0.0))
                });
                ats.dedup();
                let at = if ats.is_empty() {
                    String::new()
                } else {
                    format!(" at {x}={}", ats.join(","))
                };
                notes.push(format!("✗ {b} skipped{at}: {reason}"));
                backends.push(b.to_string());
            }
        }
    }
    (notes, backends)
}

struct Out<'d> {
    data: &'d Data,
    dir: &'d Path,
    figures: Vec<Figure>,
}

impl Out<'_> {
    fn file(&self, id: &str) -> String {
        format!("fig-{id}.svg")
    }

    fn push_line(
        &mut self,
        id: String,
        workload: &str,
        caption: String,
        chart: LineChart,
        sources: Vec<usize>,
        backends: Vec<String>,
    ) -> Result<(), ReportError> {
        let title = chart.title.clone();
        self.push(id, workload, caption, title, sources, backends, |path| {
            plot::draw_line_chart(path, &chart)
        })
    }

    fn push_bars(
        &mut self,
        id: String,
        workload: &str,
        caption: String,
        chart: BarChart,
        sources: Vec<usize>,
        backends: Vec<String>,
    ) -> Result<(), ReportError> {
        let title = chart.title.clone();
        self.push(id, workload, caption, title, sources, backends, |path| {
            plot::draw_bar_chart(path, &chart)
        })
    }

    /// Draws one chart with `draw` into its file and records it as a figure.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: String,
        workload: &str,
        caption: String,
        title: String,
        sources: Vec<usize>,
        backends: Vec<String>,
        draw: impl FnOnce(&std::path::Path) -> Result<(), String>,
    ) -> Result<(), ReportError> {
        let file = self.file(&id);
        draw(&self.dir.join(&file)).map_err(|message| ReportError::Plot {
            chart: file.clone(),
            message,
        })?;
        self.figures.push(Figure {
            id,
            file,
            workload: workload.into(),
            title,
            caption,
            sources,
            backends,
        });
        Ok(())
    }

    /// Draws the charts of one sweep; returns how many.
    fn sweep(&mut self, sw: Sweep) -> Result<usize, ReportError> {
        let data = self.data;
        let rows: Vec<&Rec> = sw
            .lines
            .iter()
            .flat_map(|l| data.measured(sw.workload, l.metric))
            .filter(|r| (sw.filter)(&r.row))
            .filter(|r| sw.floors || !is_floor(&r.row.backend))
            .filter(|r| param_num(&r.row, sw.x).is_some())
            .collect();
        if rows.is_empty() {
            // Recorded without the swept parameter (e.g. at one fixed size): bars instead.
            let metrics: Vec<(&str, &str)> =
                sw.lines.iter().map(|l| (l.metric, l.metric)).collect();
            return self
                .bars(BarSpec {
                    id: sw.id,
                    workload: sw.workload,
                    metrics: &metrics,
                    filter: sw.filter,
                    title: sw.title,
                    y_desc: sw.y_desc,
                    caption: sw.caption,
                })
                .map(usize::from);
        }
        let dims = dimensions(&rows, sw.x);
        let mut groups: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
        for r in &rows {
            groups
                .entry(group_key(&r.row.params, &dims))
                .or_default()
                .push(r);
        }
        let xs_of = |rows: &[&Rec]| -> BTreeSet<u64> {
            rows.iter()
                .filter_map(|r| param_num(&r.row, sw.x).map(f64::to_bits))
                .collect()
        };
        // Groups with a sweep (two or more x values) are drawn; single points only when
        // no group has a sweep and the chart allows them.
        let widest = groups.values().map(|g| xs_of(g).len()).max().unwrap_or(0);
        let need = if widest >= 2 {
            sw.min_x.max(2)
        } else {
            sw.min_x
        };
        let keys: Vec<String> = groups
            .iter()
            .filter(|(_, g)| xs_of(g).len() >= need)
            .map(|(k, _)| k.clone())
            .collect();
        let picked = (sw.pick)(&keys);
        let mut drawn = 0;
        for (n, key) in picked.iter().enumerate() {
            let Some(grows) = groups.get(key) else {
                continue;
            };
            let xs = xs_of(grows);
            let sources: BTreeSet<usize> = grows.iter().map(|r| r.source).collect();
            let multi = sources.len() > 1;
            let mut series = Vec::new();
            let mut backends: Vec<String> = Vec::new();
            for b in data.ordered(|_| true) {
                for &src in &sources {
                    for line in &sw.lines {
                        let mut pts: Vec<Point> = grows
                            .iter()
                            .filter(|r| {
                                r.row.backend == b && r.source == src && r.row.metric == line.metric
                            })
                            .filter_map(|r| {
                                let x = param_num(&r.row, sw.x)?;
                                let whisker = line.whisker.and_then(|(lo, hi)| {
                                    let find = |m: &str| {
                                        data.measured(sw.workload, m)
                                            .find(|o| {
                                                o.source == src
                                                    && o.row.backend == b
                                                    && o.row.params == r.row.params
                                            })
                                            .map(|o| o.row.value)
                                    };
                                    Some((find(lo)?, find(hi)?))
                                });
                                Some(Point {
                                    x,
                                    y: r.row.value,
                                    whisker,
                                })
                            })
                            .collect();
                        if pts.is_empty() {
                            continue;
                        }
                        pts.sort_by(|a, b| a.x.total_cmp(&b.x));
                        pts.dedup_by(|a, b| a.x == b.x);
                        let label = if multi {
                            format!("{b} [{}]", data.sources[src].tag)
                        } else {
                            b.to_string()
                        };
                        let first = std::ptr::eq(line, &sw.lines[0]);
                        series.push(Series {
                            label: first.then_some(label),
                            color: data.color(b),
                            dashed: line.dashed || is_floor(b),
                            marker: src,
                            points: pts,
                        });
                        if !backends.iter().any(|x| x == b) {
                            backends.push(b.to_string());
                        }
                    }
                }
            }
            if series.is_empty() {
                continue;
            }
            if let Some((label, f)) = sw.ideal {
                let mut xv: Vec<f64> = xs.iter().map(|&b| f64::from_bits(b)).collect();
                xv.sort_by(f64::total_cmp);
                series.push(Series {
                    label: Some(label.to_string()),
                    color: (0, 0, 0),
                    dashed: true,
                    marker: 3,
                    points: xv
                        .into_iter()
                        .map(|x| Point {
                            x,
                            y: f(x),
                            whisker: None,
                        })
                        .collect(),
                });
            }
            let (skips, skipped) = skip_notes(data, sw.workload, key, sw.x);
            for s in skipped {
                if !backends.contains(&s) {
                    backends.push(s);
                }
            }
            let mut notes = sw.notes.clone();
            if sw.floors
                && series
                    .iter()
                    .any(|s| s.label.as_deref().is_some_and(is_floor))
            {
                notes.push("dashed: floor (no naming layer)".into());
            }
            if multi {
                let marks = ["●", "▲", "✚", "○"];
                for &s in &sources {
                    notes.push(format!("{} {}", marks[s % 4], data.sources[s].tag));
                }
            }
            notes.extend(skips);
            let suffix = if key.is_empty() {
                String::new()
            } else {
                format!(" ({})", key.replace(';', ", "))
            };
            let id = if picked.len() > 1 {
                format!("{}-{}", sw.id, n + 1)
            } else {
                sw.id.to_string()
            };
            let chart = LineChart {
                title: format!("{}{suffix}", sw.title),
                x_desc: sw.x_desc.into(),
                y_desc: sw.y_desc.into(),
                series,
                refs: sw
                    .refs
                    .iter()
                    .map(|(l, y)| RefLine {
                        label: l.clone(),
                        y: *y,
                        color: (0, 0, 0),
                    })
                    .collect(),
                notes,
            };
            let caption = format!(
                "{} Parameters: {}.",
                sw.caption,
                if key.is_empty() { "as recorded" } else { key }
            );
            self.push_line(
                id,
                sw.workload,
                caption,
                chart,
                sources.into_iter().collect(),
                backends,
            )?;
            drawn += 1;
        }
        Ok(drawn)
    }

    /// Grouped bars of `metrics` (one group each) for every backend at the headline
    /// parameters of `workload`; floors drawn as outlined bars.
    fn bars(&mut self, spec: BarSpec) -> Result<bool, ReportError> {
        let BarSpec {
            id,
            workload,
            metrics,
            filter,
            title,
            y_desc,
            caption,
        } = spec;
        let data = self.data;
        let metrics: Vec<(&str, &str)> = metrics
            .iter()
            .copied()
            .filter(|(m, _)| data.measured(workload, m).any(|r| filter(&r.row)))
            .collect();
        let Some(&(first, _)) = metrics.first() else {
            return Ok(false);
        };
        let Some((src, params)) = headline(data, workload, first, filter) else {
            return Ok(false);
        };
        let mut bars = Vec::new();
        let mut backends = Vec::new();
        for b in data.ordered(|_| true) {
            let values: Vec<Option<f64>> = metrics
                .iter()
                .map(|(m, _)| {
                    value(data, src, b, workload, &params, m).or_else(|| {
                        // A floor may record fewer parameters than the contenders.
                        is_floor(b)
                            .then(|| {
                                data.measured(workload, m).find(|r| {
                                    r.source == src
                                        && r.row.backend == b
                                        && params_agree(&r.row.params, &params, &[])
                                })
                            })
                            .flatten()
                            .map(|r| r.row.value)
                    })
                })
                .collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            bars.push(Bars {
                label: b.to_string(),
                color: data.color(b),
                outline: is_floor(b),
                values,
            });
            backends.push(b.to_string());
        }
        let (mut notes, skipped) = skip_notes(data, workload, &params, "");
        for s in skipped {
            if !backends.contains(&s) {
                backends.push(s);
            }
        }
        if bars.iter().any(|b| b.outline) {
            notes.insert(0, "outlined: floor (no naming layer)".into());
        }
        let chart = BarChart {
            title: format!("{title} ({})", params.replace(';', ", ")),
            y_desc: y_desc.into(),
            groups: metrics.iter().map(|(_, g)| g.to_string()).collect(),
            bars,
            notes,
        };
        let caption = format!("{caption} Parameters: {params}.");
        self.push_bars(id.into(), workload, caption, chart, vec![src], backends)?;
        Ok(true)
    }
}

/// The value of one measured metric.
pub fn value(
    data: &Data,
    src: usize,
    backend: &str,
    workload: &str,
    params: &str,
    metric: &str,
) -> Option<f64> {
    let private = private_keys(data.measured(workload, metric));
    let want = normalize(params, &private);
    data.measured(workload, metric)
        .find(|r| {
            r.source == src
                && r.row.backend == backend
                && normalize(&r.row.params, &private) == want
        })
        .map(|r| r.row.value)
}

/// A size score for choosing among parameter sets: the sum of log10 of numeric values.
pub fn size_score(params: &str) -> f64 {
    params
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(f64::log10)
        .sum()
}

/// The headline parameters of `metric` in `workload`: the (source, params) measured for
/// the most contenders, then from the first source, then the largest sizes. The params
/// leave out backend-private keys (see [`private_keys`]).
pub fn headline(
    data: &Data,
    workload: &str,
    metric: &str,
    filter: fn(&Row) -> bool,
) -> Option<(usize, String)> {
    let private = private_keys(data.measured(workload, metric));
    let mut cover: BTreeMap<(usize, String), BTreeSet<&str>> = BTreeMap::new();
    for r in data.measured(workload, metric).filter(|r| filter(&r.row)) {
        if !is_floor(&r.row.backend) {
            cover
                .entry((r.source, normalize(&r.row.params, &private)))
                .or_default()
                .insert(&r.row.backend);
        }
    }
    cover
        .into_iter()
        .max_by(|(a, ab), (b, bb)| {
            ab.len()
                .cmp(&bb.len())
                .then(b.0.cmp(&a.0))
                .then(size_score(&a.1).total_cmp(&size_score(&b.1)))
                .then(b.1.cmp(&a.1))
        })
        .map(|(k, _)| k)
}

fn not_open(r: &Row) -> bool {
    r.param("mode") != Some("open")
}

fn open(r: &Row) -> bool {
    r.param("mode") == Some("open")
}

/// Keeps the groups at the smallest and largest `clients` per other parameters, so the
/// lookup sweep shows both ends without one chart per client count.
fn ends_of_clients(groups: &[String]) -> Vec<String> {
    if groups.len() <= 4 {
        return groups.to_vec();
    }
    let clients = |g: &String| {
        Row::new("", "", g, "", 0.0, "")
            .param("clients")
            .and_then(|c| c.parse::<f64>().ok())
    };
    let cs: Vec<f64> = groups.iter().filter_map(clients).collect();
    let lo = cs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = cs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    groups
        .iter()
        .filter(|g| match clients(g) {
            Some(c) => c == lo || c == hi,
            None => true,
        })
        .cloned()
        .collect()
}

/// Keeps the groups at the largest size parameter (`names`, `workers`).
fn largest(groups: &[String]) -> Vec<String> {
    let best = groups
        .iter()
        .map(|g| size_score(g))
        .fold(f64::NEG_INFINITY, f64::max);
    groups
        .iter()
        .filter(|g| size_score(g) == best)
        .cloned()
        .collect()
}

/// Draws every chart the rows allow into `dir`.
pub fn draw_all(data: &Data, dir: &Path) -> Result<Vec<Figure>, ReportError> {
    let mut out = Out {
        data,
        dir,
        figures: Vec::new(),
    };

    // lookup
    let mut sw = Sweep::new("lookup-ops", "lookup", "ops_per_sec", "names");
    sw.lines[0].whisker = Some(("ops_per_sec_min", "ops_per_sec_max"));
    sw.title = "Lookup throughput vs registered names";
    sw.x_desc = "registered names N (count)";
    sw.y_desc = "lookups per second (ops/s)";
    sw.caption = "`whereis` throughput, median of runs with min..max whiskers, in lookups per second (ops/s) against the number of registered names; dashed: the raw `get` of the backend's own table (the floor).";
    sw.floors = true;
    sw.pick = ends_of_clients;
    out.sweep(sw)?;

    let mut sw = Sweep::new("lookup-threads", "lookup", "ops_per_sec", "clients");
    sw.title = "Lookup thread scaling";
    sw.x_desc = "concurrent clients (tasks)";
    sw.y_desc = "lookups per second (ops/s)";
    sw.caption = "Lookup throughput (ops/s) against the number of concurrent clients, at the largest name count; dashed: floors.";
    sw.floors = true;
    sw.min_x = 2;
    sw.pick = largest;
    out.sweep(sw)?;

    // routing
    let pct = [
        ("p50_ns", "p50"),
        ("p99_ns", "p99"),
        ("p999_ns", "p99.9"),
        ("max_ns", "max"),
    ];
    out.bars(BarSpec {
        id: "routing-latency",
        workload: "routing",
        metrics: &pct,
        filter: not_open,
        title: "Routed call latency, closed loop",
        y_desc: "latency per call (ns)",
        caption: "Latency percentiles of a call through a name, in nanoseconds, closed loop; outlined bars: floors (a call to a held pid, a bare tokio mpsc + oneshot round trip).",
    })?;
    out.bars(BarSpec {
        id: "routing-latency-open",
        workload: "routing",
        metrics: &pct,
        filter: open,
        title: "Routed call latency, open loop",
        y_desc: "latency per call (ns)",
        caption: "Latency percentiles of a call through a name at a fixed offered rate (open loop, so queueing shows), in nanoseconds; outlined bars: floors.",
    })?;
    let mut sw = Sweep::new("routing-threads", "routing", "ops_per_sec", "clients");
    sw.title = "Routing thread scaling";
    sw.x_desc = "concurrent clients (tasks)";
    sw.y_desc = "calls per second (ops/s)";
    sw.caption = "Calls through a name per second (ops/s) against concurrent clients, closed loop; dashed: floors.";
    sw.filter = not_open;
    sw.floors = true;
    sw.min_x = 2;
    out.sweep(sw)?;
    let mut sw = Sweep::new("routing-open-p99", "routing", "p99_ns", "rate");
    sw.title = "Routed call p99 vs offered rate";
    sw.x_desc = "offered rate (calls/s)";
    sw.y_desc = "p99 latency (ns)";
    sw.caption = "p99 latency of a call through a name (ns) against the offered rate (calls/s), open loop; dashed: floors.";
    sw.filter = open;
    sw.floors = true;
    sw.min_x = 2;
    out.sweep(sw)?;

    // churn
    let mut sw = Sweep::new(
        "churn-failed",
        "churn",
        "failed_stale_per_call",
        "kill_rate",
    );
    sw.title = "Failed and stale calls under churn";
    sw.x_desc = "kill rate (fraction of workers killed per tick)";
    sw.y_desc = "failed + stale calls (fraction of calls)";
    sw.caption = "Calls answered `noproc`, timed out or not found, plus deliveries to a stale process, as a fraction of all calls, against the kill rate.";
    out.sweep(sw)?;
    for (id, p50, p99, what) in [
        (
            "churn-release",
            "release_p50_ns",
            "release_p99_ns",
            "Name release after exit",
        ),
        (
            "churn-reregister",
            "reregister_p50_ns",
            "reregister_p99_ns",
            "Re-registration after restart",
        ),
    ] {
        let mut sw = Sweep::new(id, "churn", p50, "kill_rate");
        sw.lines.push(Line {
            metric: p99,
            dashed: true,
            whisker: None,
        });
        sw.title = what;
        sw.x_desc = "kill rate (fraction of workers killed per tick)";
        sw.y_desc = "latency (ns)";
        sw.caption = match id {
            "churn-release" => "Time from a worker's exit until its name is free, in nanoseconds: solid p50, dashed p99.",
            _ => "Time from a worker's exit until its restarted successor is found under the same name, in nanoseconds: solid p50, dashed p99.",
        };
        sw.notes = vec!["solid: p50, dashed: p99".into()];
        out.sweep(sw)?;
    }

    // scale
    for (id, metric, title, y, caption) in [
        (
            "scale-bytes",
            "bytes_per_name",
            "Memory per registered name",
            "heap bytes per name (bytes)",
            "Heap bytes per registered name (counting allocator), against the number of names.",
        ),
        (
            "scale-register",
            "register_ns",
            "Registration time vs names",
            "time per registration (ns)",
            "Time per registration in nanoseconds, against the number of names.",
        ),
        (
            "scale-register-unregister",
            "register_unregister_ns",
            "Register + unregister (a short-lived session)",
            "time per register+unregister (ns)",
            "Time to register and then unregister one name, in nanoseconds, with N names held.",
        ),
        (
            "scale-release-all",
            "release_all_ns",
            "Releasing every name",
            "time to release all names (ns)",
            "Time for every holder to exit and its name to be released, in nanoseconds.",
        ),
    ] {
        let mut sw = Sweep::new(id, "scale", metric, "names");
        sw.title = title;
        sw.x_desc = "registered names N (count)";
        sw.y_desc = y;
        sw.caption = caption;
        out.sweep(sw)?;
    }

    // fanout
    let mut sw = Sweep::new("fanout", "fanout", "dispatch_all_received_ns", "members");
    sw.lines[0].whisker = Some((
        "dispatch_all_received_ns_min",
        "dispatch_all_received_ns_max",
    ));
    sw.title = "Dispatch to a group until every member received";
    sw.x_desc = "group members M (count)";
    sw.y_desc = "time until all received (ns)";
    sw.caption = "Time from dispatch to the last member's receipt, median with min..max whiskers, in nanoseconds, against the group size.";
    out.sweep(sw)?;

    // soak
    for (id, metric, title, y, caption) in [
        ("soak-memory", "live_bytes", "Live heap over soak phases", "live heap (bytes)",
         "Live heap bytes (counting allocator) at the end of each soak phase: flat is good, growth is a leak."),
        ("soak-registered", "registered", "Registered names over soak phases", "registered names (count)",
         "Names registered at the end of each phase."),
        ("soak-atoms", "atom_count", "Atoms created over soak phases", "atoms in the table (count)",
         "Atoms in the (never collected) atom table at the end of each phase, dynamic-atom backends only."),
    ] {
        let mut sw = Sweep::new(id, "soak", metric, "phase");
        sw.title = title;
        sw.x_desc = "soak phase (index)";
        sw.y_desc = y;
        sw.caption = caption;
        out.sweep(sw)?;
    }

    // reshard (the shard module's metric names first, the brief's older names as fallback)
    let first = |names: &[&'static str]| {
        names
            .iter()
            .copied()
            .find(|m| data.measured("reshard", m).next().is_some())
    };
    let mut sw = Sweep::new("reshard-grow", "reshard", "moved_fraction_grow", "k");
    sw.title = "Keys moved when adding a shard";
    sw.x_desc = "shards K before growth (count)";
    sw.y_desc = "keys moved on K -> K+1 (fraction of keys)";
    sw.caption = "Fraction of keys whose shard changes when a shard is added; black dashed: the minimum any balanced router must move, 1/(K+1).";
    sw.ideal = Some(("minimum 1/(K+1)", |k| 1.0 / (k + 1.0)));
    out.sweep(sw)?;
    let mut sw = Sweep::new("reshard-grow-ratio", "reshard", "moved_ratio_grow", "k");
    sw.title = "Keys moved when adding a shard, over the minimum";
    sw.x_desc = "shards K before growth (count)";
    sw.y_desc = "moved on K -> K+1 / minimum 1/(K+1) (ratio)";
    sw.caption = "The fraction of keys moved when a shard is added, over the minimum 1/(K+1) any balanced router must move: 1.0 is minimal disruption.";
    sw.refs = vec![("minimal disruption 1.0".into(), 1.0)];
    out.sweep(sw)?;
    let mut sw = Sweep::new("reshard-shrink", "reshard", "moved_fraction_shrink", "k");
    sw.title = "Keys moved when removing a shard";
    sw.x_desc = "shards K before shrinking (count)";
    sw.y_desc = "keys moved on K -> K-1 (fraction of keys)";
    sw.caption = "Fraction of keys whose shard changes when the last shard is removed; black dashed: the minimum, 1/K.";
    sw.ideal = Some(("minimum 1/K", |k| 1.0 / k));
    out.sweep(sw)?;
    let mut sw = Sweep::new("reshard-shrink-ratio", "reshard", "moved_ratio_shrink", "k");
    sw.title = "Keys moved when removing a shard, over the minimum";
    sw.x_desc = "shards K before shrinking (count)";
    sw.y_desc = "moved on K -> K-1 / minimum 1/K (ratio)";
    sw.caption = "The fraction of keys moved when a shard is removed, over the minimum 1/K: 1.0 is minimal disruption.";
    sw.refs = vec![("minimal disruption 1.0".into(), 1.0)];
    out.sweep(sw)?;
    if let Some(m) = first(&["load_max_over_mean", "max_over_mean"]) {
        let mut sw = Sweep::new("reshard-balance", "reshard", m, "k");
        sw.title = "Load balance across shards";
        sw.x_desc = "shards K (count)";
        sw.y_desc = "max / mean keys per shard (ratio)";
        sw.caption = "The fullest shard's key count over the mean (1.0 is perfect balance).";
        sw.refs = vec![("perfect balance 1.0".into(), 1.0)];
        out.sweep(sw)?;
    }
    if let Some(m) = first(&["load_stddev_ratio", "stddev_over_binomial"]) {
        let mut sw = Sweep::new("reshard-spread", "reshard", m, "k");
        sw.title = "Spread of shard loads against random";
        sw.x_desc = "shards K (count)";
        sw.y_desc = "stddev of keys per shard / binomial stddev (ratio)";
        sw.caption = "The standard deviation of keys per shard over that of a uniformly random assignment: 1.0 is as good as random, above is worse.";
        sw.refs = vec![("as random 1.0".into(), 1.0)];
        out.sweep(sw)?;
    }
    let mut sw = Sweep::new("reshard-lookup", "reshard", "lookup_ns", "k");
    sw.title = "Router lookup time";
    sw.x_desc = "shards K (count)";
    sw.y_desc = "time per key lookup (ns)";
    sw.caption = "Time to map one key to its shard, in nanoseconds.";
    out.sweep(sw)?;
    let mut sw = Sweep::new("reshard-memory", "reshard", "memory_bytes", "k");
    sw.title = "Router memory";
    sw.x_desc = "shards K (count)";
    sw.y_desc = "router state (bytes)";
    sw.caption = "Heap bytes of the router's own state (tables, rings), against the shard count.";
    out.sweep(sw)?;

    // recovery
    out.bars(BarSpec {
        id: "recovery-lost",
        workload: "recovery",
        metrics: &[
            ("lost_updates", "lost updates"),
            ("failed_calls", "failed calls"),
        ],
        filter: all,
        title: "Updates lost and calls failed when the state owner dies",
        y_desc: "updates or calls (count)",
        caption: "Acknowledged updates missing after the state's owner was killed and restarted, and calls that failed meanwhile (counts).",
    })?;
    let us = data.measured("recovery", "recover_us_p50").next().is_some();
    out.bars(BarSpec {
        id: "recovery-latency",
        workload: "recovery",
        metrics: if us {
            &[
                ("recover_us_p50", "p50"),
                ("recover_us_p99", "p99"),
                ("recover_us_max", "max"),
            ]
        } else {
            &[
                ("kill_to_serving_p50_ns", "p50"),
                ("kill_to_serving_p99_ns", "p99"),
            ]
        },
        filter: all,
        title: "Kill to serving again",
        y_desc: if us {
            "time until served again (µs)"
        } else {
            "time until served again (ns)"
        },
        caption: if us {
            "Time from killing the state's owner until calls are answered again, in microseconds."
        } else {
            "Time from killing the state's owner until calls are answered again, in nanoseconds."
        },
    })?;

    multinode(&mut out)?;

    Ok(out.figures)
}

/// The multi-node section: the three distributed designs beside the single-node
/// `registry-local` (the reference: same work, one node, no network).
fn multinode(out: &mut Out) -> Result<(), ReportError> {
    out.bars(BarSpec {
        id: "multinode-call",
        workload: "multinode-call",
        metrics: &[
            ("same_p50_ns", "p50 same node"),
            ("cross_p50_ns", "p50 cross node"),
            ("same_p99_ns", "p99 same node"),
            ("cross_p99_ns", "p99 cross node"),
        ],
        filter: all,
        title: "Lookup + call through a name, same node vs across nodes",
        y_desc: "latency of whereis + call (ns)",
        caption: "Latency of a lookup plus a call through a name, in nanoseconds, measured inside a node: to a worker on the same node, and to a worker on another node (a real socket between two OS processes). `registry-local` is the single-node reference; it cannot see other nodes' names. Outlined: a bare RPC round trip between the two nodes over the same transport (the floor under any cross-node call).",
    })?;
    out.bars(BarSpec {
        id: "multinode-register-rate",
        workload: "multinode-register",
        metrics: &[("registrations_per_sec", "registrations")],
        filter: all,
        title: "Registration rate on one node of a cluster",
        y_desc: "registrations per second (1/s)",
        caption: "Workers started and registered back to back on one node, per second; `registry-local` is the single-node reference.",
    })?;
    out.bars(BarSpec {
        id: "multinode-propagation",
        workload: "multinode-register",
        metrics: &[
            ("propagation_p50_ms", "p50"),
            ("propagation_max_ms", "max"),
        ],
        filter: all,
        title: "Registered on node A, visible on node B",
        y_desc: "time until visible on another node (ms)",
        caption: "Time from a registration returning on one node until another node's `whereis` finds it, in milliseconds (polled over the control connection, so about 0.2 ms is the resolution).",
    })?;
    out.bars(BarSpec {
        id: "multinode-crash",
        workload: "multinode-crash",
        metrics: &[("release_ms", "names released")],
        filter: all,
        title: "Node killed: time until its names are released elsewhere",
        y_desc: "time from SIGKILL until no survivor finds the names (ms)",
        caption: "A node holding names in every backend is killed with SIGKILL; time until a surviving node no longer finds any of them, in milliseconds. etcd releases with the lease TTL, gossip and the ring with failure detection.",
    })?;
    out.bars(BarSpec {
        id: "multinode-netsplit-names",
        workload: "multinode-netsplit",
        metrics: &[
            ("accepted_both_sides", "accepted on both sides"),
            ("duplicates_during", "duplicates during split"),
            ("duplicates_after", "duplicates after heal"),
            ("names_lost", "names lost"),
            ("conflict_kills", "losers killed"),
            ("losers_alive", "losers still alive"),
        ],
        filter: all,
        title: "Netsplit: the same names registered on both sides, then healed",
        y_desc: "names (count)",
        caption: "The cluster is cut in two, the same names are registered on both sides, and the cut is healed. Duplicates after the heal and names lost must be 0.",
    })?;
    out.bars(BarSpec {
        id: "multinode-netsplit-converge",
        workload: "multinode-netsplit",
        metrics: &[("converge_ms", "converged")],
        filter: all,
        title: "Netsplit: time from heal until every node agrees",
        y_desc: "time until one owner per name everywhere (ms)",
        caption: "Time from restoring the links until every node names the same single live owner for every name (the losers gone), in milliseconds. Measured by polling every node's `whereis` for every name over the control connections, so the resolution is one polling round (tens of milliseconds at quick sizes, about half a second at full sizes); where nothing needs resolving (etcd), the bar is that resolution.",
    })?;
    out.bars(BarSpec {
        id: "multinode-netsplit-calls",
        workload: "multinode-netsplit",
        metrics: &[("failed_calls_ratio_during_heal", "calls failed during the heal")],
        filter: all,
        title: "Netsplit: calls through the contested names while the cluster heals",
        y_desc: "failed or not found (fraction of calls)",
        caption: "Calls through the names registered on both sides, made from one node from the heal until convergence: the fraction that failed or found no process (a loser killed under the caller, a handoff not yet arrived).",
    })?;
    Ok(())
}

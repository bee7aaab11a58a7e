//! The chart engine: draws each chart a workload declares ([`Sweep`] lines against a
//! parameter, one chart per combination of its split parameters; [`Bars`] at the headline
//! parameters), with floors dashed or outlined and skipped backends named in the legend.
//! It knows no workload, metric or backend: everything comes from the declarations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use naming_schema::{Bars, Chart, Metric, Params, Pick, Sweep, Workload};

use super::data::{Data, Rec};
use super::plot::{self, BarChart, Bars as PlotBars, LineChart, Point, RefLine, Series};
use super::select::{headline, row_at, size_score, Focus};
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
    /// Series drawn or listed as skipped, in report order.
    pub backends: Vec<String>,
}

/// Skipped series matching a chart's parameters (`x` aside), as legend notes, plus their
/// keys. A skip of another shape of the workload (no parameter key in common) is left out.
fn skip_notes(data: &Data, workload: &str, group: &Params, x: &str) -> (Vec<String>, Vec<String>) {
    let keys = |p: &Params| -> BTreeSet<String> {
        p.keys().filter(|k| *k != x).map(str::to_string).collect()
    };
    let group_keys = keys(group);
    let mut by: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in data.skips(workload) {
        let skip_keys = keys(&r.row.params);
        let related =
            group_keys.is_empty() || skip_keys.is_empty() || !skip_keys.is_disjoint(&group_keys);
        let group_but_x = group.only(|k| k != x);
        if related && r.row.params.only(|k| k != x).agrees_with(&group_but_x) {
            by.entry((r.who.clone(), r.row.skip_reason().unwrap_or("").to_string()))
                .or_default()
                .push(r.row.param(x).unwrap_or_default());
        }
    }
    let (mut notes, mut whos) = (Vec::new(), Vec::new());
    for b in data.ordered(|_| true) {
        for ((who, reason), ats) in by.iter().filter(|((w, _), _)| w == b) {
            let mut ats: Vec<&str> = ats
                .iter()
                .map(String::as_str)
                .filter(|a| !a.is_empty())
                .collect();
            ats.sort_by(|a, b| {
                let n = |s: &str| s.parse::<f64>().unwrap_or(0.0);
                n(a).total_cmp(&n(b))
            });
            ats.dedup();
            let at = if ats.is_empty() {
                String::new()
            } else {
                format!(" at {x}={}", ats.join(","))
            };
            notes.push(format!("✗ {who} skipped{at}: {reason}"));
            whos.push(who.clone());
        }
    }
    (notes, whos)
}

/// Draws charts into a directory and records them.
struct Out<'d> {
    data: &'d Data,
    dir: &'d Path,
    figures: Vec<Figure>,
}

impl<'d> Out<'d> {
    /// Draws one chart with `draw` into its file and records it as a figure.
    fn push(
        &mut self,
        fig: Figure,
        draw: impl FnOnce(&Path) -> Result<(), String>,
    ) -> Result<(), ReportError> {
        draw(&self.dir.join(&fig.file)).map_err(|message| ReportError::Plot {
            chart: fig.file.clone(),
            message,
        })?;
        self.figures.push(fig);
        Ok(())
    }

    /// Draws the charts of one sweep.
    fn sweep(&mut self, w: &Workload, sw: &Sweep) -> Result<(), ReportError> {
        let data = self.data;
        let rows: Vec<&Rec> = sw
            .lines
            .iter()
            .flat_map(|l| data.measured(w.name, l.metric))
            .filter(|r| sw.filter.pass(&r.row.params))
            .filter(|r| sw.floors || !data.is_floor(&r.who))
            .filter(|r| r.row.params.num(sw.x).is_some())
            .collect();
        let mut groups: BTreeMap<String, (Params, Vec<&Rec>)> = BTreeMap::new();
        for r in &rows {
            let key = r.row.params.only(|k| sw.split_by.contains(&k));
            groups
                .entry(key.to_string())
                .or_insert_with(|| (key, Vec::new()))
                .1
                .push(r);
        }
        let xs_of = |rows: &[&Rec]| -> BTreeSet<u64> {
            rows.iter()
                .filter_map(|r| r.row.params.num(sw.x).map(f64::to_bits))
                .collect()
        };
        // Groups with a sweep (two or more x values) are drawn; single points only when
        // no group has a sweep and the chart allows them.
        let widest = groups.values().map(|g| xs_of(&g.1).len()).max();
        let need = if widest >= Some(2) {
            sw.min_x.max(2)
        } else {
            sw.min_x
        };
        let keys: Vec<&Params> = groups
            .values()
            .filter(|g| xs_of(&g.1).len() >= need)
            .map(|g| &g.0)
            .collect();
        let picked: Vec<&Params> = match sw.pick {
            Pick::All => keys,
            Pick::EndsOf(p) if keys.len() > 4 => {
                let vals = || keys.iter().filter_map(|k| k.num(p));
                let ends = [vals().reduce(f64::min), vals().reduce(f64::max)];
                let at_end = |k: &&Params| k.num(p).is_none_or(|c| ends.contains(&Some(c)));
                keys.iter().copied().filter(at_end).collect()
            }
            Pick::EndsOf(_) => keys,
            Pick::Largest => {
                let best = keys
                    .iter()
                    .map(|k| size_score(k))
                    .fold(f64::NEG_INFINITY, f64::max);
                keys.into_iter().filter(|k| size_score(k) == best).collect()
            }
        };
        let many = picked.len() > 1;
        for (n, key) in picked.iter().enumerate() {
            let grows = &groups[&key.to_string()].1;
            let id = if many {
                format!("{}-{}", sw.id, n + 1)
            } else {
                sw.id.to_string()
            };
            self.sweep_chart(w, sw, id, key, grows)?;
        }
        Ok(())
    }

    /// One chart of a sweep: the rows of one split group.
    fn sweep_chart(
        &mut self,
        w: &Workload,
        sw: &Sweep,
        id: String,
        key: &Params,
        grows: &[&'d Rec],
    ) -> Result<(), ReportError> {
        let data = self.data;
        let sources: BTreeSet<usize> = grows.iter().map(|r| r.source).collect();
        let multi = sources.len() > 1;
        let xs: BTreeSet<u64> = grows
            .iter()
            .filter_map(|r| r.row.params.num(sw.x).map(f64::to_bits))
            .collect();
        if xs.len() == 1 && !multi && sw.ideal.is_none() {
            // A single point per series reads better as bars.
            return self.point_bars(w, sw, id, key, grows);
        }
        let mut series = Vec::new();
        let mut whos: Vec<String> = Vec::new();
        for b in data.ordered(|_| true) {
            for &src in &sources {
                for (li, line) in sw.lines.iter().enumerate() {
                    let mut pts: Vec<Point> = grows
                        .iter()
                        .filter(|r| {
                            r.who == b && r.source == src && r.row.metric == line.metric.name
                        })
                        .filter_map(|r| {
                            let declared = line.whisker.and_then(|(lo, hi)| {
                                let find = |m| {
                                    data.measured(w.name, m)
                                        .find(|o| {
                                            o.source == src
                                                && o.who == b
                                                && o.row.params == r.row.params
                                        })
                                        .and_then(|o| o.row.value())
                                };
                                Some((find(lo)?, find(hi)?))
                            });
                            let whisker = declared.or(r.row.interval);
                            Some(Point {
                                x: r.row.params.num(sw.x)?,
                                y: r.row.value()?,
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
                    series.push(Series {
                        label: (li == 0).then_some(label),
                        color: data.color(b),
                        dashed: line.dashed || data.is_floor(b),
                        marker: src,
                        points: pts,
                    });
                    if !whos.iter().any(|x| x == b) {
                        whos.push(b.to_string());
                    }
                }
            }
        }
        if series.is_empty() {
            return Ok(());
        }
        if let Some(ideal) = sw.ideal {
            let mut xv: Vec<f64> = grows
                .iter()
                .filter_map(|r| r.row.params.num(sw.x))
                .collect();
            xv.sort_by(f64::total_cmp);
            xv.dedup();
            series.push(Series {
                label: Some(ideal.label.to_string()),
                color: (0, 0, 0),
                dashed: true,
                marker: 3,
                points: xv
                    .into_iter()
                    .map(|x| Point {
                        x,
                        y: (ideal.f)(x),
                        whisker: None,
                    })
                    .collect(),
            });
        }
        let (skips, skipped) = skip_notes(data, w.name, key, sw.x);
        for s in skipped {
            if !whos.contains(&s) {
                whos.push(s);
            }
        }
        let mut notes: Vec<String> = sw.notes.iter().map(|n| n.to_string()).collect();
        if sw.floors && whos.iter().any(|b| data.is_floor(b)) {
            notes.push("dashed: floor (no naming layer)".into());
        }
        if multi {
            let marks = ["●", "▲", "✚", "○"];
            for &s in &sources {
                notes.push(format!("{} {}", marks[s % 4], data.sources[s].tag));
            }
        }
        notes.extend(skips);
        let shown = key.to_string().replace(';', ", ");
        let chart = LineChart {
            y_log: sw.y.log(),
            title: if key.is_empty() {
                sw.title.to_string()
            } else {
                format!("{} ({shown})", sw.title)
            },
            x_desc: sw.x_desc.into(),
            y_desc: sw.y_desc.into(),
            series,
            refs: sw
                .refs
                .iter()
                .map(|(l, y)| RefLine {
                    label: l.to_string(),
                    y: *y,
                    color: (0, 0, 0),
                })
                .collect(),
            notes,
        };
        let fig = Figure {
            file: format!("fig-{id}.svg"),
            id,
            workload: w.name.into(),
            title: chart.title.clone(),
            caption: format!(
                "{} Parameters: {}.",
                sw.caption,
                if key.is_empty() {
                    "as recorded"
                } else {
                    &shown
                }
            ),
            sources: sources.into_iter().collect(),
            backends: whos,
        };
        self.push(fig, |path| plot::draw_line_chart(path, &chart))
    }

    /// A sweep group with one x value, as grouped bars (one group per line's metric).
    fn point_bars(
        &mut self,
        w: &Workload,
        sw: &Sweep,
        id: String,
        key: &Params,
        grows: &[&'d Rec],
    ) -> Result<(), ReportError> {
        let spec = Bars {
            id: sw.id,
            title: sw.title,
            caption: sw.caption,
            y_desc: sw.y_desc,
            groups: &[],
            filter: sw.filter,
            y: sw.y,
        };
        let place = Place {
            id,
            titles: sw
                .lines
                .iter()
                .map(|l| l.metric.title.to_string())
                .collect(),
            shown: grows[0]
                .row
                .params
                .only(|k| k == sw.x || sw.split_by.contains(&k)),
            source: grows[0].source,
            skips: (key, sw.x),
        };
        let row = |b: &str, i: usize| {
            let m = sw.lines[i].metric.name;
            grows
                .iter()
                .copied()
                .find(|r| r.who == b && r.row.metric == m)
        };
        self.draw_bars(w, &spec, place, row)
    }

    /// Grouped bars (one group per metric) for every series at the headline parameters.
    fn bars(
        &mut self,
        w: &Workload,
        spec: &Bars,
        groups: &[(&'static Metric, &'static str)],
    ) -> Result<(), ReportError> {
        let data = self.data;
        let groups: Vec<_> = groups
            .iter()
            .filter(|(m, _)| {
                data.measured(w.name, m)
                    .any(|r| spec.filter.pass(&r.row.params))
            })
            .collect();
        let Some(at) = groups
            .first()
            .and_then(|(m, _)| headline(data, w, m, Focus::rows(spec.filter)))
        else {
            return Ok(());
        };
        let place = Place {
            id: spec.id.to_string(),
            titles: groups.iter().map(|(_, g)| g.to_string()).collect(),
            shown: at.params.clone(),
            source: at.source,
            skips: (&at.params, ""),
        };
        self.draw_bars(w, spec, place, |b, i| {
            row_at(data, w.name, groups[i].0, b, &at)
        })
    }

    /// Draws grouped bars: `value(series, group)` for every series with a value.
    fn draw_bars(
        &mut self,
        w: &Workload,
        spec: &Bars,
        place: Place,
        row: impl Fn(&str, usize) -> Option<&'d Rec>,
    ) -> Result<(), ReportError> {
        let data = self.data;
        let mut bars = Vec::new();
        for b in data.ordered(|_| true) {
            let rows: Vec<Option<&Rec>> = (0..place.titles.len()).map(|i| row(b, i)).collect();
            let values: Vec<Option<f64>> =
                rows.iter().map(|r| r.and_then(|r| r.row.value())).collect();
            if values.iter().any(Option::is_some) {
                bars.push(PlotBars {
                    label: b.to_string(),
                    color: data.color(b),
                    outline: data.is_floor(b),
                    values,
                    ranges: rows
                        .iter()
                        .map(|r| r.and_then(|r| r.row.interval))
                        .collect(),
                });
            }
        }
        let (mut notes, skipped) = skip_notes(data, w.name, place.skips.0, place.skips.1);
        if bars.iter().any(|b| b.outline) {
            notes.insert(0, "outlined: floor (no naming layer)".into());
        }
        let mut whos: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        whos.extend(
            skipped
                .into_iter()
                .filter(|s| !bars.iter().any(|b| &b.label == s)),
        );
        let shown = place.shown.to_string();
        let chart = BarChart {
            y_log: spec.y.log(),
            title: format!("{} ({})", spec.title, shown.replace(';', ", ")),
            y_desc: spec.y_desc.into(),
            groups: place.titles,
            bars,
            notes,
        };
        let fig = Figure {
            file: format!("fig-{}.svg", place.id),
            id: place.id,
            workload: w.name.into(),
            title: chart.title.clone(),
            caption: format!("{} Parameters: {shown}.", spec.caption),
            sources: vec![place.source],
            backends: whos,
        };
        self.push(fig, |path| plot::draw_bar_chart(path, &chart))
    }
}

/// Where a bar chart stands: its id, group titles, the parameters shown, its source, and
/// the parameters (and swept key) its skip notes are matched against.
struct Place<'a> {
    id: String,
    titles: Vec<String>,
    shown: Params,
    source: usize,
    skips: (&'a Params, &'a str),
}

/// Draws every chart the declarations ask for and the rows allow into `dir`.
pub fn draw_all(data: &Data, dir: &Path) -> Result<Vec<Figure>, ReportError> {
    let mut out = Out {
        data,
        dir,
        figures: Vec::new(),
    };
    for w in &data.catalogue.workloads {
        for chart in w.charts {
            match chart {
                Chart::Sweep(s) => out.sweep(w, s)?,
                Chart::Bars(b) => out.bars(w, b, b.groups)?,
            }
        }
    }
    Ok(out.figures)
}

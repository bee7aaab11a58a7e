//! The chart engine: draws each chart a workload declares ([`Sweep`] lines against a
//! parameter, one chart per combination of its split parameters; [`Bars`] at the headline
//! parameters), with floors dashed or outlined and skipped backends named in the legend.
//! It knows no workload, metric or backend: everything comes from the declarations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use naming_schema::{Bars, Chart, Metric, Params, Pick, Sweep, Workload};

use super::data::{Data, Rec};
use super::plot::{self, BarChart, Bars as PlotBars, LineChart, Point, RefLine, Rgb, Series};
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
    /// The panels (small multiples) drawn, top to bottom.
    pub panels: Vec<Panel>,
}

/// One panel of a figure: the series drawn in it, each with its colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Every series drawn (contenders, their floors, shared floors), in legend order.
    pub series: Vec<(String, Rgb)>,
    /// Lines or bar sets drawn (a series with a dashed second metric counts twice).
    pub lines: usize,
}

impl Figure {
    /// The most series any panel of the figure draws.
    pub fn most_series(&self) -> usize {
        self.panels
            .iter()
            .map(|p| p.series.len())
            .max()
            .unwrap_or(0)
    }

    /// The colour `who` is drawn in, if the figure draws it.
    pub fn color_of(&self, who: &str) -> Option<Rgb> {
        self.panels
            .iter()
            .flat_map(|p| &p.series)
            .find(|(w, _)| w == who)
            .map(|(_, c)| *c)
    }
}

/// Contenders in one panel, at most.
pub const MAX_SERIES: usize = 6;
/// Series or lines drawn in one panel (floors and second metrics included), at most.
pub const MAX_LINES: usize = 8;

/// Splits the series `whos` of one figure into panels of at most [`MAX_SERIES`]
/// contenders and [`MAX_LINES`] lines (`per` lines each): a contender's floor stays beside
/// it, a floor whose contender is not drawn is shared by every panel, a family stays in one
/// panel where it fits (else its backends do, with their variants), and the panels are as
/// even as their count allows.
fn pack(data: &Data, whos: &[String], per: usize) -> Vec<Vec<String>> {
    let per = per.max(1);
    let has = |w: &str| whos.iter().any(|x| x == w);
    let shared: Vec<&String> = whos
        .iter()
        .filter(|w| data.is_floor(w) && data.owner_of_floor(w).is_none_or(|o| !has(o)))
        .collect();
    let contenders: Vec<&String> = whos.iter().filter(|w| !data.is_floor(w)).collect();
    let floor_of = |w: &str| data.floor_of(w).filter(|f| has(f));
    // A unit: members (contenders and their floors), contender count, line count.
    type Unit = (Vec<String>, usize, usize);
    let unit = |members: &[&String]| -> Unit {
        let mut out: Vec<String> = Vec::new();
        for w in members {
            out.push(w.to_string());
            if let Some(f) = floor_of(w) {
                if !out.iter().any(|o| o == f) {
                    out.push(f.to_string());
                }
            }
        }
        let lines = out.len() * per;
        (out, members.len(), lines)
    };
    let cap_lines = MAX_LINES.saturating_sub(shared.len() * per).max(per);
    let fits = |u: &Unit, cap: usize| u.1 <= cap && u.2 <= cap_lines;
    // Group by family, then by backend, then one by one, until each unit fits.
    fn by<'w>(ws: &[&'w String], key: &dyn Fn(&str) -> String) -> Vec<Vec<&'w String>> {
        let mut groups: Vec<(String, Vec<&'w String>)> = Vec::new();
        for w in ws {
            let k = key(w);
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some(g) => g.1.push(w),
                None => groups.push((k, vec![*w])),
            }
        }
        groups.into_iter().map(|(_, g)| g).collect()
    }
    let mut units: Vec<Unit> = Vec::new();
    let family = |w: &str| format!("{:?}", data.family(w));
    for fam in by(&contenders, &family) {
        let u = unit(&fam);
        if fits(&u, MAX_SERIES) {
            units.push(u);
            continue;
        }
        for backend in by(&fam, &|w: &str| data.backend_of(w).to_string()) {
            let u = unit(&backend);
            if fits(&u, MAX_SERIES) {
                units.push(u);
            } else {
                units.extend(backend.iter().map(|w| unit(&[*w])));
            }
        }
    }
    // First fit in report order (families stay in order), with a contender cap.
    let first_fit = |cap: usize| -> Vec<Unit> {
        let mut bins: Vec<Unit> = Vec::new();
        for u in units.iter().cloned() {
            match bins
                .iter_mut()
                .find(|b| b.1 + u.1 <= cap && b.2 + u.2 <= cap_lines)
            {
                Some(b) => {
                    b.0.extend(u.0);
                    b.1 += u.1;
                    b.2 += u.2;
                }
                None => bins.push(u),
            }
        }
        bins
    };
    let mut bins = first_fit(MAX_SERIES);
    let n = bins.len().max(1);
    // As even as n panels allow: the smallest contender cap that still packs into n.
    for cap in contenders.len().div_ceil(n)..MAX_SERIES {
        let even = first_fit(cap);
        if even.len() == n {
            bins = even;
            break;
        }
    }
    let rank = |w: &str| {
        let owner = if data.is_floor(w) {
            data.owner_of_floor(w).unwrap_or(w)
        } else {
            w
        };
        let pos = data.order.iter().position(|o| o == owner);
        (pos.unwrap_or(usize::MAX), data.is_floor(w))
    };
    let mut panels: Vec<Vec<String>> = bins
        .into_iter()
        .map(|(mut members, ..)| {
            members.sort_by_key(|w| rank(w));
            members.extend(shared.iter().map(|w| w.to_string()));
            members
        })
        .collect();
    panels.sort_by_key(|p| p.first().map(|w| rank(w)));
    if panels.is_empty() {
        panels.push(shared.iter().map(|w| w.to_string()).collect());
    }
    panels
}

/// A panel's subtitle: the families it draws, where the figure has several panels.
fn panel_title(data: &Data, title: &str, members: &[String], panels: usize) -> String {
    if panels < 2 {
        return title.to_string();
    }
    let mut families: Vec<&str> = Vec::new();
    for w in members.iter().filter(|w| !data.is_floor(w)) {
        let f = data.family(w).map_or("undeclared", |f| f.name());
        if !families.contains(&f) {
            families.push(f);
        }
    }
    format!("{title} — {}", families.join(", "))
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

/// The skip notes one panel of a split chart carries: those of its own series, and, on the
/// last panel, those of series drawn in none.
fn panel_skips(
    notes: &[String],
    whos: &[String],
    members: &[String],
    drawn: &[String],
    last: bool,
) -> Vec<String> {
    notes
        .iter()
        .zip(whos)
        .filter(|(_, who)| members.contains(who) || (last && !drawn.contains(who)))
        .map(|(n, _)| n.clone())
        .collect()
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
        let mut owners: Vec<String> = Vec::new();
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
                    owners.push(b.to_string());
                    series.push(Series {
                        label: (li == 0).then_some(label),
                        color: data.color(b),
                        dashed: line.dashed || data.is_floor(b),
                        marker: if data.is_beam(b) {
                            super::plot::BEAM_MARKER + src
                        } else {
                            src
                        },
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
        let drawn = whos.clone();
        let per = drawn
            .iter()
            .map(|w| owners.iter().filter(|o| *o == w).count())
            .max()
            .unwrap_or(1);
        let mut extra = Vec::new();
        if let Some(ideal) = sw.ideal {
            let mut xv: Vec<f64> = grows
                .iter()
                .filter_map(|r| r.row.params.num(sw.x))
                .collect();
            xv.sort_by(f64::total_cmp);
            xv.dedup();
            extra.push(Series {
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
        for s in &skipped {
            if !whos.contains(s) {
                whos.push(s.clone());
            }
        }
        let shown = key.to_string().replace(';', ", ");
        let title = if key.is_empty() {
            sw.title.to_string()
        } else {
            format!("{} ({shown})", sw.title)
        };
        let groups = pack(data, &drawn, per);
        let mut charts = Vec::new();
        let mut panels = Vec::new();
        for (pi, members) in groups.iter().enumerate() {
            let last = pi + 1 == groups.len();
            let mut notes: Vec<String> = sw.notes.iter().map(|n| n.to_string()).collect();
            if sw.floors && members.iter().any(|b| data.is_floor(b)) {
                notes.push("dashed: floor (no naming layer)".into());
            }
            if members.iter().any(|b| data.is_beam(b)) {
                notes.push(
                    "■ squares, lighter: BEAM originals (the Erlang/Elixir system on a BEAM node)"
                        .into(),
                );
            }
            if multi {
                let marks = ["●", "▲", "✚", "○"];
                for &s in &sources {
                    notes.push(format!("{} {}", marks[s % 4], data.sources[s].tag));
                }
            }
            // A skip goes with its series' panel; one never drawn, with the last panel.
            notes.extend(panel_skips(&skips, &skipped, members, &drawn, last));
            let mut panel_series: Vec<Series> = series
                .iter()
                .zip(&owners)
                .filter(|(_, o)| members.contains(o))
                .map(|(s, _)| s.clone())
                .collect();
            panels.push(Panel {
                series: members.iter().map(|m| (m.clone(), data.color(m))).collect(),
                lines: panel_series.len(),
            });
            panel_series.extend(extra.iter().cloned());
            charts.push(LineChart {
                y_log: sw.y.log(),
                title: panel_title(data, &title, members, groups.len()),
                x_desc: sw.x_desc.into(),
                y_desc: sw.y_desc.into(),
                series: panel_series,
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
            });
        }
        let fig = Figure {
            file: format!("fig-{id}.svg"),
            id,
            workload: w.name.into(),
            title,
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
            panels,
        };
        self.push(fig, |path| plot::draw_line_charts(path, &charts))
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
            whiskers: sw.lines.iter().map(|l| l.whisker).collect(),
            targets: sw.lines.iter().map(|l| l.metric.target).collect(),
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
            whiskers: Vec::new(),
            targets: groups.iter().map(|(m, _)| m.target).collect(),
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
                        .enumerate()
                        .map(|(i, r)| {
                            let r = (*r)?;
                            let declared = place.whiskers.get(i).copied().flatten();
                            let find = |m| {
                                data.measured(w.name, m)
                                    .find(|o| {
                                        o.source == r.source
                                            && o.who == r.who
                                            && o.row.params == r.row.params
                                    })
                                    .and_then(|o| o.row.value())
                            };
                            declared
                                .and_then(|(lo, hi)| Some((find(lo)?, find(hi)?)))
                                .or(r.row.interval)
                        })
                        .collect(),
                });
            }
        }
        let (skips, skipped) = skip_notes(data, w.name, place.skips.0, place.skips.1);
        let drawn: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let mut whos = drawn.clone();
        whos.extend(skipped.iter().filter(|s| !drawn.contains(s)).cloned());
        let shown = place.shown.to_string();
        let title = format!("{} ({})", spec.title, shown.replace(';', ", "));
        let groups = pack(data, &drawn, 1);
        let mut charts = Vec::new();
        let mut panels = Vec::new();
        for (pi, members) in groups.iter().enumerate() {
            let last = pi + 1 == groups.len();
            let panel_bars: Vec<PlotBars> = bars
                .iter()
                .filter(|b| members.contains(&b.label))
                .cloned()
                .collect();
            let mut notes = Vec::new();
            if panel_bars.iter().any(|b| b.outline) {
                notes.push("outlined: floor (no naming layer)".into());
            }
            if place.targets.iter().any(Option::is_some) {
                notes.push("red line: the suite's target".into());
            }
            notes.extend(panel_skips(&skips, &skipped, members, &drawn, last));
            panels.push(Panel {
                series: members.iter().map(|m| (m.clone(), data.color(m))).collect(),
                lines: panel_bars.len(),
            });
            charts.push(BarChart {
                y_log: spec.y.log(),
                title: panel_title(data, &title, members, groups.len()),
                y_desc: spec.y_desc.into(),
                groups: place.titles.clone(),
                targets: place.targets.clone(),
                bars: panel_bars,
                notes,
            });
        }
        let fig = Figure {
            file: format!("fig-{}.svg", place.id),
            id: place.id,
            workload: w.name.into(),
            title,
            caption: format!("{} Parameters: {shown}.", spec.caption),
            sources: vec![place.source],
            backends: whos,
            panels,
        };
        self.push(fig, |path| plot::draw_bar_charts(path, &charts))
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
    /// Per group, the metrics giving its whisker ends where declared (else the row's
    /// range over repeats).
    whiskers: Vec<Option<(&'static Metric, &'static Metric)>>,
    /// Per group, the suite's target for its metric, where it sets one.
    targets: Vec<Option<f64>>,
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

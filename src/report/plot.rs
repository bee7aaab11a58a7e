//! Chart primitives over plotters' SVG backend: a line chart (x sweep) and a grouped bar
//! chart, both with log axes where values span decades and a legend panel of their own.
//!
//! Log axes are drawn by plotting `log10(v)` on a linear axis and labelling ticks with
//! `10^t`, so one coordinate type serves all four axis combinations.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// A colour as RGB.
pub type Rgb = (u8, u8, u8);

/// One point of a series, with an optional min..max whisker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// x value (data units).
    pub x: f64,
    /// y value (data units).
    pub y: f64,
    /// Optional whisker low and high ends.
    pub whisker: Option<(f64, f64)>,
}

/// Markers from this index on are drawn as filled squares: the series of a BEAM original
/// (see [`Series::marker`]).
pub const BEAM_MARKER: usize = 16;

/// One line of a line chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label (`None`: no legend entry of its own).
    pub label: Option<String>,
    /// Line colour.
    pub color: Rgb,
    /// Dashed (floors, second percentile) or solid.
    pub dashed: bool,
    /// Marker shape index (0 circle, 1 triangle, 2 cross, 3 ring): one per source;
    /// [`BEAM_MARKER`] and above, a filled square (a BEAM original).
    pub marker: usize,
    /// Points, sorted by x.
    pub points: Vec<Point>,
}

/// A horizontal reference line (a floor, an ideal value).
#[derive(Clone, Debug)]
pub struct RefLine {
    /// Legend label.
    pub label: String,
    /// y value.
    pub y: f64,
    /// Colour.
    pub color: Rgb,
}

/// A line chart: y against an x sweep, every backend one series.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    /// The y axis: `Some(true)` log10, `Some(false)` linear, `None` fitted to the values.
    pub y_log: Option<bool>,
    /// Title above the plot.
    pub title: String,
    /// x axis description, with unit.
    pub x_desc: String,
    /// y axis description, with unit.
    pub y_desc: String,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal reference lines.
    pub refs: Vec<RefLine>,
    /// Extra legend lines (line-style keys, markers per source, skipped backends).
    pub notes: Vec<String>,
}

/// One coloured bar per group of a grouped bar chart.
#[derive(Clone, Debug)]
pub struct Bars {
    /// Legend label.
    pub label: String,
    /// Fill colour.
    pub color: Rgb,
    /// Outline only (floors), instead of filled.
    pub outline: bool,
    /// One value per group (`None`: no bar).
    pub values: Vec<Option<f64>>,
    /// Each value's interval (drawn as a black whisker), where known.
    pub ranges: Vec<Option<(f64, f64)>>,
}

/// A grouped bar chart: groups along x, one bar per backend in each group.
#[derive(Clone, Debug, Default)]
pub struct BarChart {
    /// The y axis: `Some(true)` log10, `Some(false)` linear, `None` fitted to the values.
    pub y_log: Option<bool>,
    /// Title above the plot.
    pub title: String,
    /// y axis description, with unit.
    pub y_desc: String,
    /// Group names along x.
    pub groups: Vec<String>,
    /// Per group, a target drawn across it as a red line (none: nothing drawn).
    pub targets: Vec<Option<f64>>,
    /// The bars, one entry per backend.
    pub bars: Vec<Bars>,
    /// Extra legend lines.
    pub notes: Vec<String>,
}

/// An axis: linear or log10, over `lo..hi` in axis units (log10 of data for log axes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// Whether the axis is log10.
    pub log: bool,
    /// Lower end, axis units.
    pub lo: f64,
    /// Upper end, axis units.
    pub hi: f64,
}

/// Values spanning at least this ratio get a log axis.
const LOG_SPAN: f64 = 30.0;

impl Axis {
    /// An axis fitting `values` (finite ones only); `from_zero` anchors a linear axis at 0.
    pub fn fit(values: impl IntoIterator<Item = f64>, from_zero: bool) -> Axis {
        Axis::fit_as(values, from_zero, None)
    }

    /// As [`Axis::fit`], with the scale declared: `Some(true)` log10 (where every value is
    /// positive), `Some(false)` linear, `None` log only across decades.
    pub fn fit_as(
        values: impl IntoIterator<Item = f64>,
        from_zero: bool,
        log: Option<bool>,
    ) -> Axis {
        let vals: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let (mut min, mut max) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if vals.is_empty() {
            (min, max) = (0.0, 1.0);
        }
        let span_log = min > 0.0 && max / min >= LOG_SPAN;
        if min > 0.0 && log.unwrap_or(span_log) {
            return Axis {
                log: true,
                lo: min.log10().floor(),
                hi: max.log10().ceil(),
            };
        }
        if from_zero {
            min = min.min(0.0);
            max = max.max(0.0);
        }
        if max == min {
            let pad = if max == 0.0 { 1.0 } else { max.abs() * 0.1 };
            return Axis {
                log: false,
                lo: if from_zero && min >= 0.0 {
                    0.0
                } else {
                    min - pad
                },
                hi: max + pad,
            };
        }
        let pad = (max - min) * 0.08;
        Axis {
            log: false,
            lo: if from_zero && min >= 0.0 {
                0.0
            } else {
                min - pad
            },
            hi: max + pad,
        }
    }

    /// Data value to axis units (`None` where a log axis cannot show it).
    pub fn pos(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    /// The axis-unit value as a tick label.
    pub fn label(self, t: f64) -> String {
        if self.log {
            si(10f64.powf(t))
        } else {
            si(t)
        }
    }

    /// Bottom of a bar: the axis floor.
    fn base(self) -> f64 {
        if self.log {
            self.lo
        } else {
            0f64.clamp(self.lo, self.hi)
        }
    }

    /// How many ticks to ask for.
    fn ticks(self) -> usize {
        if self.log {
            ((self.hi - self.lo).round() as usize + 1).clamp(2, 12)
        } else {
            8
        }
    }
}

/// A number in short SI form: `1.5k`, `12M`, `0.25`, `3.2µ`.
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else if a >= 1.0 {
        (v, "")
    } else if a >= 1e-3 {
        return trim(format!("{v:.3}"));
    } else {
        (v * 1e6, "µ")
    };
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{}{suffix}", trim(format!("{scaled:.digits$}")))
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn color(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

type Err = String;

fn e<E: std::fmt::Display>(err: E) -> Err {
    err.to_string()
}

const W: u32 = 1000;
const LEGEND_W: u32 = 340;
const ROW_H: i32 = 18;

/// One legend line: a sample (line, bar or none) and its text.
enum Sample {
    Line {
        color: Rgb,
        dashed: bool,
        marker: Option<usize>,
    },
    Bar {
        color: Rgb,
        outline: bool,
    },
    Text,
}

fn height_for(entries: usize) -> u32 {
    (60 + entries as u32 * ROW_H as u32).max(520)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Wraps notes (plain text lines) at word boundaries to fit the legend panel, up to four
/// lines each; labelled entries stay one line.
fn wrap_notes(entries: Vec<(Sample, String)>) -> Vec<(Sample, String)> {
    const WIDTH: usize = 48;
    let mut out = Vec::new();
    for (sample, text) in entries {
        if !matches!(sample, Sample::Text) || text.chars().count() <= WIDTH {
            out.push((sample, text));
            continue;
        }
        let mut lines: Vec<String> = vec![String::new()];
        for word in text.split(' ') {
            let cur = lines.last_mut().expect("never empty");
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > WIDTH {
                lines.push(format!("   {word}"));
            } else {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(word);
            }
        }
        if lines.len() > 4 {
            lines.truncate(4);
            lines[3].push('…');
        }
        out.extend(lines.into_iter().map(|l| (Sample::Text, l)));
    }
    out
}

fn draw_legend(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[(Sample, String)],
) -> Result<(), Err> {
    let font = ("sans-serif", 13).into_font();
    let mut y = 40;
    for (sample, text) in entries {
        match sample {
            Sample::Line {
                color: c,
                dashed,
                marker,
            } => {
                let style = ShapeStyle::from(color(*c)).stroke_width(2);
                if *dashed {
                    area.draw(&DashedPathElement::new(vec![(8, y), (38, y)], 5, 3, style))
                        .map_err(e)?;
                } else {
                    area.draw(&PathElement::new(vec![(8, y), (38, y)], style))
                        .map_err(e)?;
                }
                if let Some(m) = marker {
                    draw_marker(area, (23, y), *m, *c)?;
                }
            }
            Sample::Bar { color: c, outline } => {
                let style = if *outline {
                    ShapeStyle::from(color(*c)).stroke_width(2)
                } else {
                    color(*c).filled()
                };
                area.draw(&Rectangle::new([(12, y - 6), (34, y + 6)], style))
                    .map_err(e)?;
            }
            Sample::Text => {}
        }
        let x = if matches!(sample, Sample::Text) {
            8
        } else {
            44
        };
        area.draw(&Text::new(shorten(text, 50), (x, y - 7), font.clone()))
            .map_err(e)?;
        y += ROW_H;
    }
    Ok(())
}

fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    marker: usize,
    c: Rgb,
) -> Result<(), Err>
where
    CT::From: Clone,
{
    let style = color(c).filled();
    if marker >= BEAM_MARKER {
        // A BEAM original: a filled square, whatever its source.
        return area
            .draw(&(EmptyElement::at(at) + Rectangle::new([(-4, -4), (4, 4)], style)))
            .map_err(|err| err.to_string());
    }
    match marker % 4 {
        0 => area.draw(&Circle::new(at, 4, style)),
        1 => area.draw(&TriangleMarker::new(at, 5, style)),
        2 => area.draw(&Cross::new(
            at,
            4,
            ShapeStyle::from(color(c)).stroke_width(2),
        )),
        _ => area.draw(&Circle::new(
            at,
            4,
            ShapeStyle::from(color(c)).stroke_width(2),
        )),
    }
    .map_err(|err| err.to_string())
}

/// The legend of a line chart: one entry per labelled series, the reference lines, then
/// the notes (wrapped).
fn line_legend(chart: &LineChart) -> Vec<(Sample, String)> {
    let mut legend = Vec::new();
    for s in &chart.series {
        if let Some(l) = &s.label {
            if !legend.iter().any(|(_, t): &(Sample, String)| t == l) {
                legend.push((
                    Sample::Line {
                        color: s.color,
                        dashed: s.dashed,
                        marker: Some(s.marker),
                    },
                    l.clone(),
                ));
            }
        }
    }
    for r in &chart.refs {
        legend.push((
            Sample::Line {
                color: r.color,
                dashed: true,
                marker: None,
            },
            r.label.clone(),
        ));
    }
    legend.extend(chart.notes.iter().map(|n| (Sample::Text, n.clone())));
    wrap_notes(legend)
}

/// The height of a panel with `entries` legend lines, in a figure of `panels` panels.
fn panel_height(entries: usize, panels: usize) -> u32 {
    if panels > 1 {
        (60 + entries as u32 * ROW_H as u32).max(430)
    } else {
        height_for(entries)
    }
}

/// One SVG at `path` with a panel per legend, stacked top to bottom, each as tall as its
/// legend needs; `draw(i, area)` draws panel `i`.
fn draw_stacked(
    path: &Path,
    legends: &[Vec<(Sample, String)>],
    mut draw: impl FnMut(usize, &DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    let heights: Vec<u32> = legends
        .iter()
        .map(|l| panel_height(l.len(), legends.len()))
        .collect();
    let root = SVGBackend::new(path, (W + LEGEND_W, heights.iter().sum::<u32>().max(1)))
        .into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    for (i, area) in rows(&root, &heights).iter().enumerate() {
        draw(i, area)?;
    }
    root.present().map_err(e)
}

/// Splits `root` into one row per height.
fn rows<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    heights: &[u32],
) -> Vec<DrawingArea<SVGBackend<'a>, Shift>> {
    let mut out = Vec::new();
    let mut rest = root.clone();
    for (i, h) in heights.iter().enumerate() {
        if i + 1 == heights.len() {
            out.push(rest.clone());
        } else {
            let (top, bottom) = rest.split_vertically(*h);
            out.push(top);
            rest = bottom;
        }
    }
    out
}

/// Draws `panels` (small multiples of one figure) one under another as an SVG file at
/// `path`, every panel on the same axes so heights compare across panels.
pub fn draw_line_charts(path: &Path, panels: &[LineChart]) -> Result<(), String> {
    let xs = panels
        .iter()
        .flat_map(|c| c.series.iter().flat_map(|s| s.points.iter().map(|p| p.x)));
    let x_axis = Axis::fit(xs, false);
    let ys = panels.iter().flat_map(|c| {
        c.series
            .iter()
            .flat_map(|s| {
                s.points.iter().flat_map(|p| {
                    let (lo, hi) = p.whisker.unwrap_or((p.y, p.y));
                    [p.y, lo, hi]
                })
            })
            .chain(c.refs.iter().map(|r| r.y))
    });
    let y_log = panels.first().and_then(|c| c.y_log);
    let y_axis = Axis::fit_as(ys, true, y_log);
    let legends: Vec<_> = panels.iter().map(line_legend).collect();
    draw_stacked(path, &legends, |i, area| {
        line_panel(area, &panels[i], &legends[i], x_axis, y_axis)
    })
}

/// One panel of a line chart: the plot on the left, its legend on the right.
fn line_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    chart: &LineChart,
    legend: &[(Sample, String)],
    x_axis: Axis,
    y_axis: Axis,
) -> Result<(), String> {
    let (plot_area, legend_area) = area.split_horizontally(W);
    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(x_axis.lo..x_axis.hi, y_axis.lo..y_axis.hi)
        .map_err(e)?;
    let xl = |v: &f64| x_axis.label(*v);
    let yl = |v: &f64| y_axis.label(*v);
    ctx.configure_mesh()
        .x_desc(chart.x_desc.as_str())
        .y_desc(chart.y_desc.as_str())
        .x_labels(x_axis.ticks())
        .y_labels(y_axis.ticks())
        .x_label_formatter(&xl)
        .y_label_formatter(&yl)
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;

    for r in &chart.refs {
        if let Some(y) = y_axis.pos(r.y) {
            let style = ShapeStyle::from(color(r.color)).stroke_width(2);
            ctx.draw_series(std::iter::once(DashedPathElement::new(
                vec![(x_axis.lo, y), (x_axis.hi, y)],
                8,
                5,
                style,
            )))
            .map_err(e)?;
        }
    }
    // Whisker caps: 0.6% of the x range either side.
    let cap = (x_axis.hi - x_axis.lo) * 0.006;
    for s in &chart.series {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|p| Some((x_axis.pos(p.x)?, y_axis.pos(p.y)?)))
            .collect();
        let style = ShapeStyle::from(color(s.color)).stroke_width(2);
        if s.dashed {
            ctx.draw_series(DashedLineSeries::new(pts.clone(), 7, 4, style))
                .map_err(e)?;
        } else {
            ctx.draw_series(LineSeries::new(pts.clone(), style))
                .map_err(e)?;
        }
        for p in &s.points {
            if let (Some(x), Some((lo, hi))) = (x_axis.pos(p.x), p.whisker) {
                if let (Some(lo), Some(hi)) = (y_axis.pos(lo), y_axis.pos(hi)) {
                    let thin = ShapeStyle::from(color(s.color)).stroke_width(1);
                    ctx.draw_series([
                        PathElement::new(vec![(x, lo), (x, hi)], thin),
                        PathElement::new(vec![(x - cap, lo), (x + cap, lo)], thin),
                        PathElement::new(vec![(x - cap, hi), (x + cap, hi)], thin),
                    ])
                    .map_err(e)?;
                }
            }
        }
        for p in pts {
            draw_marker(ctx.plotting_area(), p, s.marker, s.color)?;
        }
    }
    draw_legend(&legend_area, legend)
}

/// The legend of a bar chart: one entry per backend, then the notes (wrapped).
fn bar_legend(chart: &BarChart) -> Vec<(Sample, String)> {
    let mut legend: Vec<(Sample, String)> = chart
        .bars
        .iter()
        .map(|b| {
            (
                Sample::Bar {
                    color: b.color,
                    outline: b.outline,
                },
                b.label.clone(),
            )
        })
        .collect();
    legend.extend(chart.notes.iter().map(|t| (Sample::Text, t.clone())));
    wrap_notes(legend)
}

/// Draws `panels` (small multiples of one figure) one under another as an SVG file at
/// `path`, every panel on the same y axis.
pub fn draw_bar_charts(path: &Path, panels: &[BarChart]) -> Result<(), String> {
    let ys = panels.iter().flat_map(|c| {
        let targets = c.targets.iter().flatten().copied();
        c.bars
            .iter()
            .flat_map(|b| {
                let ranges = b.ranges.iter().flatten().flat_map(|(l, h)| [*l, *h]);
                b.values.iter().flatten().copied().chain(ranges)
            })
            .chain(targets)
    });
    let y_log = panels.first().and_then(|c| c.y_log);
    let y_axis = Axis::fit_as(ys, true, y_log);
    let legends: Vec<_> = panels.iter().map(bar_legend).collect();
    draw_stacked(path, &legends, |i, area| {
        bar_panel(area, &panels[i], &legends[i], y_axis)
    })
}

/// One panel of a bar chart: the plot on the left, its legend on the right.
fn bar_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    chart: &BarChart,
    legend: &[(Sample, String)],
    y_axis: Axis,
) -> Result<(), String> {
    let n = chart.groups.len().max(1);
    let (plot_area, legend_area) = area.split_horizontally(W);
    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y_axis.lo..y_axis.hi)
        .map_err(e)?;
    let groups = &chart.groups;
    let xl = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            groups.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let yl = |v: &f64| y_axis.label(*v);
    ctx.configure_mesh()
        .disable_x_mesh()
        .y_desc(chart.y_desc.as_str())
        .x_labels(n)
        .y_labels(y_axis.ticks())
        .x_label_formatter(&xl)
        .y_label_formatter(&yl)
        .axis_desc_style(("sans-serif", 15))
        .x_label_style(("sans-serif", 14))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;

    let k = chart.bars.len().max(1) as f64;
    let width = 0.8 / k;
    let base = y_axis.base();
    for (j, b) in chart.bars.iter().enumerate() {
        let style = if b.outline {
            ShapeStyle::from(color(b.color)).stroke_width(2)
        } else {
            color(b.color).filled()
        };
        for (i, v) in b.values.iter().enumerate() {
            let Some(top) = v.and_then(|v| y_axis.pos(v)) else {
                continue;
            };
            let x0 = i as f64 - 0.4 + j as f64 * width;
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(x0 + width * 0.08, base), (x0 + width * 0.92, top)],
                style,
            )))
            .map_err(e)?;
            let range = b.ranges.get(i).copied().flatten();
            if let Some((lo, hi)) = range.and_then(|(l, h)| Some((y_axis.pos(l)?, y_axis.pos(h)?)))
            {
                let x = x0 + width / 2.0;
                let cap = width * 0.2;
                let whisker = ShapeStyle::from(BLACK).stroke_width(2);
                ctx.draw_series([
                    PathElement::new(vec![(x, lo), (x, hi)], whisker),
                    PathElement::new(vec![(x - cap, lo), (x + cap, lo)], whisker),
                    PathElement::new(vec![(x - cap, hi), (x + cap, hi)], whisker),
                ])
                .map_err(e)?;
            }
        }
    }
    // Each group's target across the whole group, over the bars.
    let target_style = ShapeStyle::from(RGBColor(214, 39, 40)).stroke_width(3);
    for (i, t) in chart.targets.iter().enumerate() {
        if let Some(y) = t.and_then(|t| y_axis.pos(t)) {
            let x = i as f64;
            ctx.draw_series(std::iter::once(PathElement::new(
                vec![(x - 0.45, y), (x + 0.45, y)],
                target_style,
            )))
            .map_err(e)?;
        }
    }
    draw_legend(&legend_area, legend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_go_log_across_decades_only() {
        let a = Axis::fit([10.0, 1e6], true);
        assert!(a.log && a.lo == 1.0 && a.hi == 6.0);
        let b = Axis::fit([10.0, 20.0], true);
        assert!(!b.log && b.lo == 0.0 && b.hi > 20.0);
        let c = Axis::fit([0.0, 1e6], true);
        assert!(!c.log, "a zero cannot sit on a log axis");
        let d = Axis::fit(std::iter::empty(), false);
        assert!(d.hi > d.lo);
    }

    #[test]
    fn a_target_is_drawn_across_its_group_and_fits_on_the_axis() {
        let dir = std::env::temp_dir().join(format!("naming-bench-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = |targets: Vec<Option<f64>>| BarChart {
            y_log: Some(false),
            title: "t".into(),
            y_desc: "ratio".into(),
            groups: vec!["call".into(), "spawn".into()],
            targets,
            bars: vec![Bars {
                label: "runtime".into(),
                color: (31, 119, 180),
                outline: false,
                values: vec![Some(1.2), Some(1.1)],
                ranges: vec![None, None],
            }],
            notes: Vec::new(),
        };
        let with = dir.join("with.svg");
        draw_bar_charts(&with, &[chart(vec![None, Some(5.0)])]).unwrap();
        let svg = std::fs::read_to_string(&with).unwrap();
        assert_eq!(
            svg.matches("#D62728").count(),
            1,
            "one target, one red line"
        );
        // The axis reaches the target, far above the bars: a tick at 5 is labelled.
        let labels: Vec<&str> = svg
            .split("</text>")
            .filter_map(|chunk| chunk.rsplit('>').next())
            .map(str::trim)
            .collect();
        assert!(
            labels.contains(&"5"),
            "the axis stops short of 5: {labels:?}"
        );
        let without = dir.join("without.svg");
        draw_bar_charts(&without, &[chart(vec![None, None])]).unwrap();
        let svg = std::fs::read_to_string(&without).unwrap();
        assert!(!svg.contains("#D62728"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn si_is_short() {
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(12_000_000.0), "12M");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(si(0.0), "0");
        assert_eq!(si(250.0), "250");
    }
}

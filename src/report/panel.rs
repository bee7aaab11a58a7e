//! The "which strategy" panel that opens the report: for each situation of the decision
//! guide, its winner (or its tie), a small chart of the contenders' values with their
//! ranges over repeats, and one sentence why.
//!
//! Each small chart is an SVG drawn with plotters' primitives: one row per contender
//! (best first) with a dot at its value and a bar over its range, the winner and every
//! backend tied with it filled and shaded, the rest hollow; backends that could not take
//! part are listed below in grey. The axis goes logarithmic when values span more than
//! `LOG_SPAN` (a factor), so a slow outlier does not squash the rest.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::Data;
use super::guide::{Guide, Verdict, RERUN_NOISE};
use super::render::Card;
use super::{si, ReportError};

/// The width of a small chart, in SVG pixels (it scales down in narrow columns).
const W: u32 = 340;
/// The left column, for backend names.
const LABEL_W: i32 = 124;
/// Margin right of the plot.
const RIGHT: i32 = 14;
/// The height of one contender's row.
const ROW: i32 = 18;
/// Above the first row.
const TOP: i32 = 6;
/// The axis: ticks, their labels and the axis title.
const AXIS_H: i32 = 40;
/// Values spanning more than this factor go on a log axis.
const LOG_SPAN: f64 = 30.0;
/// At most this many backends that could not take part are listed in a chart.
const MAX_FAILED: usize = 3;

/// A value axis over `[lo, hi]`, linear or log10.
#[derive(Clone, Copy, Debug)]
struct Scale {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Scale {
    /// Fits the values (all finite); a linear axis starts at 0 for non-negative values.
    fn fit(values: &[f64]) -> Scale {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if min > 0.0 && max / min > LOG_SPAN {
            let lo = 10f64.powf(min.log10().floor());
            let hi = 10f64.powf(max.log10().ceil());
            return Scale { log: true, lo, hi };
        }
        let lo = if min >= 0.0 { 0.0 } else { min };
        let hi = if max > lo { max } else { lo + 1.0 };
        let step = nice_step((hi - lo) / 4.0);
        Scale {
            log: false,
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
        }
    }

    /// Where `v` falls, 0..=1 (clamped).
    fn frac(self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The tick values: powers of ten on a log axis, a round step on a linear one.
    fn ticks(self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            let every = ((b - a) as usize).div_ceil(4).max(1);
            (a..=b).step_by(every).map(|e| 10f64.powi(e)).collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 4.0);
            let n = ((self.hi - self.lo) / step).round() as usize;
            (0..=n).map(|i| self.lo + step * i as f64).collect()
        }
    }
}

/// A round step (1, 2 or 5 times a power of ten) at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * p)
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

/// A file name for the situation's chart: `fig-guide-<slug>.svg` (removed with the other
/// `fig-*.svg` files when the report is rebuilt).
fn file_of(v: &Verdict) -> String {
    let slug: String = v
        .situation
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("fig-guide-{slug}.svg")
}

/// The verdict in a few words: the winner, the tie, or that nothing was measured.
fn verdict_text(v: &Verdict) -> String {
    match v.tied.len() {
        0 => "not measured".into(),
        1 => format!("`{}`", v.tied[0]),
        _ => format!("tie: {}", super::code_list(&v.tied, " = ")),
    }
}

/// One sentence why.
fn why(v: &Verdict) -> String {
    let failed = match v.failures.len() {
        0 => String::new(),
        1 => format!(" `{}` could not take part.", v.failures[0].0),
        n => format!(" {n} backends could not take part."),
    };
    let sentence = if v.tied.is_empty() {
        format!("Nothing measured: {}.", v.basis)
    } else if v.tied.len() > 1 {
        format!(
            "No measurable difference on {}: their ranges overlap or they differ by less \
             than {:.0}% (the re-run noise).",
            v.metric,
            (RERUN_NOISE - 1.0) * 100.0
        )
    } else if v.ranking.len() == 1 {
        format!("The only backend measured on {}.", v.metric)
    } else {
        format!("Best on {}: {}.", v.metric, v.margin)
    };
    format!("{sentence}{failed}")
}

/// Draws one small chart per situation with a measured contender into `out` and returns
/// the panel's cards, in guide order (a situation with nothing measured has no chart).
pub fn draw(data: &Data, guide: &Guide, out: &Path) -> Result<Vec<Card>, ReportError> {
    let mut cards = Vec::new();
    for v in &guide.verdicts {
        let file = if v.ranking.is_empty() {
            None
        } else {
            let file = file_of(v);
            draw_verdict(data, v, &out.join(&file)).map_err(|message| ReportError::Plot {
                chart: file.clone(),
                message,
            })?;
            Some(file)
        };
        cards.push(Card {
            title: v.situation.name().to_string(),
            verdict: verdict_text(v),
            decided: !v.tied.is_empty(),
            file,
            alt: format!(
                "{}: {} of each backend, best first, with its range over repeats",
                v.situation.name(),
                v.metric
            ),
            why: why(v),
        });
    }
    Ok(cards)
}

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// Draws the contenders of `v` as a dot-and-range chart into `path`.
fn draw_verdict(data: &Data, v: &Verdict, path: &Path) -> Result<(), String> {
    let failed: Vec<&(String, String)> = v.failures.iter().take(MAX_FAILED).collect();
    let rows = v.ranking.len() as i32;
    let extra = failed.len() as i32 + i32::from(v.failures.len() > MAX_FAILED);
    let plot_h = rows * ROW;
    let h = (TOP + plot_h + AXIS_H + extra * 14 + 4) as u32;
    let values: Vec<f64> = v
        .ranking
        .iter()
        .map(|r| r.1)
        .chain(v.intervals.iter().flat_map(|i| [i.0, i.1]))
        .filter(|x| x.is_finite())
        .collect();
    let scale = Scale::fit(&values);
    let (x0, x1) = (LABEL_W, W as i32 - RIGHT);
    let xpos = |val: f64| x0 + (scale.frac(val) * f64::from(x1 - x0)).round() as i32;

    let root = SVGBackend::new(path, (W, h)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let font = |size: f64| ("sans-serif", size).into_font();
    let grey = RGBColor(110, 110, 110);
    let grid = RGBColor(225, 225, 225);

    // Grid and tick labels.
    let axis_y = TOP + plot_h;
    for t in scale.ticks() {
        let x = xpos(t);
        root.draw(&PathElement::new(vec![(x, TOP), (x, axis_y)], grid))
            .map_err(e)?;
        root.draw(&PathElement::new(vec![(x, axis_y), (x, axis_y + 3)], grey))
            .map_err(e)?;
        let style = font(11.0)
            .color(&grey)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(si(t), (x, axis_y + 5), style))
            .map_err(e)?;
    }
    root.draw(&PathElement::new(vec![(x0, axis_y), (x1, axis_y)], grey))
        .map_err(e)?;
    let direction = if v.higher_better {
        "higher is better →"
    } else {
        "← lower is better"
    };
    let title = format!(
        "{}{}, {direction}",
        shorten(&v.metric, 30),
        if scale.log { ", log" } else { "" }
    );
    let style = font(11.0)
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title, ((x0 + x1) / 2, axis_y + 20), style))
        .map_err(e)?;

    // One row per contender, best first.
    for (i, (who, val)) in v.ranking.iter().enumerate() {
        let y = TOP + i as i32 * ROW + ROW / 2;
        let tied = v.tied.contains(who);
        let c = data.color(who);
        let c = RGBColor(c.0, c.1, c.2);
        if tied {
            root.draw(&Rectangle::new(
                [(0, y - ROW / 2), (W as i32, y + ROW / 2)],
                RGBColor(217, 242, 217).filled(),
            ))
            .map_err(e)?;
        }
        let label = font(12.0)
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let name = format!("{}{}", if tied { "★ " } else { "" }, shorten(who, 19));
        root.draw(&Text::new(name, (x0 - 6, y), label)).map_err(e)?;
        let (lo, hi) = v.intervals.get(i).copied().unwrap_or((*val, *val));
        if hi > lo {
            root.draw(&PathElement::new(
                vec![(xpos(lo), y), (xpos(hi), y)],
                c.stroke_width(3),
            ))
            .map_err(e)?;
            for end in [lo, hi] {
                root.draw(&PathElement::new(
                    vec![(xpos(end), y - 4), (xpos(end), y + 4)],
                    c.stroke_width(1),
                ))
                .map_err(e)?;
            }
        }
        let dot = if tied { c.filled() } else { WHITE.filled() };
        root.draw(&Circle::new((xpos(*val), y), 4, dot))
            .map_err(e)?;
        root.draw(&Circle::new((xpos(*val), y), 4, c.stroke_width(2)))
            .map_err(e)?;
    }

    // Backends that could not take part.
    let mut y = axis_y + AXIS_H;
    let style = font(10.0).color(&grey).pos(Pos::new(HPos::Left, VPos::Top));
    for (who, reason) in failed {
        let line = format!("✗ {}: {}", who, shorten(reason, 44));
        root.draw(&Text::new(line, (6, y), style.clone()))
            .map_err(e)?;
        y += 14;
    }
    if v.failures.len() > MAX_FAILED {
        let line = format!(
            "✗ and {} more (see the decision guide)",
            v.failures.len() - MAX_FAILED
        );
        root.draw(&Text::new(line, (6, y), style)).map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_go_log_only_across_a_wide_span() {
        let s = Scale::fit(&[2.0, 5.0, 9.0]);
        assert!(!s.log && s.lo == 0.0 && s.hi >= 9.0);
        assert_eq!(s.frac(0.0), 0.0);
        let s = Scale::fit(&[3.0, 4000.0]);
        assert!(s.log && s.lo == 1.0 && s.hi == 10_000.0);
        assert!((s.frac(100.0) - 0.5).abs() < 1e-9);
        assert_eq!(s.ticks(), vec![1.0, 10.0, 100.0, 1000.0, 10_000.0]);
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(120.0), 200.0);
    }
}

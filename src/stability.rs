//! Does a verdict survive a re-run? [`check`] runs the same selection twice (two runs, two
//! result directories) and compares them: the share of points whose medians agree within
//! ±10%, and whether every verdict of the decision guide names the same winner (or a tie
//! that includes it) both times.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use naming_schema::{Row, Situation};

use crate::report;
use crate::workloads::{run, Progress, RunOptions};

/// Two medians agree when they differ by at most this share of the larger.
pub const TOLERANCE: f64 = 0.10;

/// One guide verdict in both runs.
#[derive(Clone, Debug)]
pub struct VerdictCheck {
    /// The situation.
    pub situation: Situation,
    /// The winners (the tie, if one) of the first run.
    pub first: Vec<String>,
    /// The winners (the tie, if one) of the second run.
    pub second: Vec<String>,
}

impl VerdictCheck {
    /// The same winner, or a tie in one run that includes the other's winner.
    pub fn holds(&self) -> bool {
        match (self.first.first(), self.second.first()) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b || self.first.contains(b) || self.second.contains(a),
            _ => false,
        }
    }
}

/// What two runs of one selection agree on.
#[derive(Clone, Debug)]
pub struct Stability {
    /// Points measured in both runs.
    pub compared: usize,
    /// Points whose medians agree within [`TOLERANCE`].
    pub agreeing: usize,
    /// The points that do not: key and the two medians.
    pub disagreeing: Vec<(String, f64, f64)>,
    /// Points measured in both runs with a range (min..max over several measurements) in
    /// both.
    pub ranged: usize,
    /// Of those, the points whose two ranges overlap: how often a figure's range covers what
    /// a re-run measures, i.e. whether ranges are as wide as the re-run noise.
    pub ranges_overlapping: usize,
    /// Every verdict of the guide, in both runs.
    pub verdicts: Vec<VerdictCheck>,
}

impl Stability {
    /// The share of points that agree (1.0 when none were compared).
    pub fn fraction(&self) -> f64 {
        if self.compared == 0 {
            1.0
        } else {
            self.agreeing as f64 / self.compared as f64
        }
    }

    /// Whether every verdict holds.
    pub fn verdicts_hold(&self) -> bool {
        self.verdicts.iter().all(VerdictCheck::holds)
    }

    /// The comparison in a few lines.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} of {} points agree within ±{:.0}% ({:.1}%); verdicts: {}\n",
            self.agreeing,
            self.compared,
            TOLERANCE * 100.0,
            self.fraction() * 100.0,
            if self.verdicts_hold() {
                "all the same (or a declared tie) in both runs"
            } else {
                "SOME DIFFER"
            }
        );
        if self.ranged > 0 {
            let _ = writeln!(
                out,
                "{} of {} points with a range in both runs have overlapping ranges ({:.1}%)",
                self.ranges_overlapping,
                self.ranged,
                100.0 * self.ranges_overlapping as f64 / self.ranged as f64
            );
        }
        for v in &self.verdicts {
            let _ = writeln!(
                out,
                "  {} {:<40} {} | {}",
                if v.holds() { "ok  " } else { "DIFF" },
                v.situation.name(),
                v.first.join(" = "),
                v.second.join(" = ")
            );
        }
        out
    }
}

/// Whether two medians agree within [`TOLERANCE`].
pub fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * a.abs().max(b.abs())
}

fn key(r: &Row) -> String {
    format!("{}/{}/{}/{}", r.workload, r.backend, r.params, r.metric)
}

/// Compares the rows and guides of two result directories.
pub fn compare(first: &Path, second: &Path) -> Result<Stability, report::ReportError> {
    type Point = (f64, Option<(f64, f64)>);
    let rows = |d: &Path| -> Result<HashMap<String, Point>, report::ReportError> {
        let read = crate::results::read_dir(d)?;
        Ok(read
            .iter()
            .filter_map(|r| Some((key(r), (r.value()?, r.interval))))
            .collect())
    };
    let (a, b) = (rows(first)?, rows(second)?);
    let mut disagreeing = Vec::new();
    let (mut compared, mut ranged, mut ranges_overlapping) = (0, 0, 0);
    for (k, (va, ra)) in &a {
        if let Some((vb, rb)) = b.get(k) {
            compared += 1;
            if !agree(*va, *vb) {
                disagreeing.push((k.clone(), *va, *vb));
            }
            if let (Some((alo, ahi)), Some((blo, bhi))) = (ra, rb) {
                ranged += 1;
                if alo <= bhi && blo <= ahi {
                    ranges_overlapping += 1;
                }
            }
        }
    }
    disagreeing.sort_by(|x, y| x.0.cmp(&y.0));
    let guide = |d: &Path| report::build(&[d.to_path_buf()], d).map(|r| r.guide);
    let (ga, gb) = (guide(first)?, guide(second)?);
    let winners = |v: &report::Verdict| {
        if v.tied.is_empty() {
            v.winner.iter().cloned().collect()
        } else {
            v.tied.clone()
        }
    };
    let verdicts = ga
        .verdicts
        .iter()
        .zip(&gb.verdicts)
        .map(|(x, y)| VerdictCheck {
            situation: x.situation,
            first: winners(x),
            second: winners(y),
        })
        .collect();
    Ok(Stability {
        compared,
        agreeing: compared - disagreeing.len(),
        disagreeing,
        ranged,
        ranges_overlapping,
        verdicts,
    })
}

/// Runs `opts`'s selection twice, into `<opts.out>/first` and `<opts.out>/second` (each
/// emptied first), and compares the two.
pub fn check(opts: &RunOptions, progress: &dyn Progress) -> io::Result<Stability> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for name in ["first", "second"] {
        let dir = opts.out.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        }
        let mut o = opts.clone();
        o.out = dir.clone();
        run(&o, progress)?;
        dirs.push(dir);
    }
    compare(&dirs[0], &dirs[1]).map_err(|e| io::Error::other(e.to_string()))
}

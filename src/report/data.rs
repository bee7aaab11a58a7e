//! The rows a report is built from, read from one or more result directories (each with
//! the machine it came from), and who is who: the catalogue of declared workloads and
//! backend identities, series keys, the stable order that fixes colours.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use naming_schema::{Catalogue, Family, Metric, Origin, Params, Row};

use super::plot::Rgb;
use super::ReportError;
use crate::environment::Environment;

/// One input directory and the machine its rows came from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The directory.
    pub dir: PathBuf,
    /// A short tag for legends: the directory's name (made unique).
    pub tag: String,
    /// Its `environment.json`, if it has one.
    pub env: Option<Environment>,
    /// Every run its rows came from: the run id, that run's own environment
    /// (`runs/<id>.json`, where kept) and how many of the rows are its.
    pub runs: Vec<(String, Option<Environment>, usize)>,
}

impl Source {
    /// The machine in one line, for captions.
    pub fn describe(&self) -> String {
        match &self.env {
            Some(env) => format!("`{}`: {}", self.tag, env.summary()),
            None => format!("`{}`: no environment.json (machine unknown)", self.tag),
        }
    }

    /// Each run in one line: its id, its row count, and its own machine, revision, mode,
    /// load and settings where `runs/<id>.json` was kept.
    pub fn describe_runs(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|(id, env, n)| {
                let id = if id.is_empty() { "(no run id)" } else { id };
                match env {
                    Some(e) => {
                        let load = match (&e.load_start, &e.load_end) {
                            (Some(a), Some(b)) => format!("load {a} at start, {b} at end"),
                            (Some(a), None) => format!("load {a} at start"),
                            _ => "load not recorded".into(),
                        };
                        let settings = e.settings.as_deref().unwrap_or("settings not recorded");
                        format!("run `{id}`: {n} rows; {}; {load}; {settings}", e.summary())
                    }
                    None => format!("run `{id}`: {n} rows; its environment was not kept"),
                }
            })
            .collect()
    }
}

/// The runs `rows` came from, in order of first appearance, each with its kept environment
/// (`dir/runs/<id>.json`) and row count.
fn runs_of(dir: &Path, rows: &[Row]) -> Vec<(String, Option<Environment>, usize)> {
    let mut out: Vec<(String, Option<Environment>, usize)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(id, ..)| *id == r.run) {
            Some(run) => run.2 += 1,
            None => {
                let kept = dir.join("runs").join(format!("{}.json", r.run));
                let env = (!r.run.is_empty())
                    .then(|| fs::read_to_string(kept).ok())
                    .flatten()
                    .and_then(|t| Environment::from_json(&t));
                out.push((r.run.clone(), env, 1));
            }
        }
    }
    out
}

/// A row, the source it came from, and its series key.
#[derive(Clone, Debug)]
pub struct Rec {
    /// The row.
    pub row: Row,
    /// Index into [`Data::sources`].
    pub source: usize,
    /// The backend and its variant (`ring (vnodes=10)`): one series, one table row.
    pub who: String,
    /// The parameters without the variant ones: where it was measured.
    pub at: Params,
}

/// Every row of a report, with its sources, catalogue and series order.
#[derive(Clone, Debug)]
pub struct Data {
    /// The input directories, in the order given.
    pub sources: Vec<Source>,
    /// All rows.
    pub recs: Vec<Rec>,
    /// The declarations and identities.
    pub catalogue: Catalogue,
    /// Every series key, in report order: declared backends first (catalogue order,
    /// variants sorted), then undeclared ones, floors last.
    pub order: Vec<String>,
}

fn read_env(dir: &Path) -> Result<Option<Environment>, ReportError> {
    let path = dir.join("environment.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Environment::from_json(&text)
        .map(Some)
        .ok_or(ReportError::Environment { path })
}

/// Refuses a row whose value its metric cannot take ([`Metric::possible`]; an undeclared
/// metric must at least be finite), naming the file and line.
fn check_values(catalogue: &Catalogue, file: &crate::results::ReadFile) -> Result<(), ReportError> {
    let lines = file.lines();
    for (i, row) in file.rows.iter().enumerate() {
        let naming_schema::Outcome::Value(v) = row.outcome else {
            continue;
        };
        let metric = catalogue
            .workload(&row.workload)
            .and_then(|w| w.metric(&row.metric));
        let possible = metric.map_or(v.is_finite(), |m| m.possible(v));
        if !possible {
            return Err(ReportError::Impossible {
                path: file.path.clone(),
                line: lines.get(i).copied().unwrap_or(i + 2),
                workload: row.workload.clone(),
                metric: row.metric.clone(),
                unit: metric.map_or_else(|| row.unit.clone(), |m| m.unit.symbol().to_string()),
                value: v,
            });
        }
    }
    Ok(())
}

/// Checks each results file against the manifest of the run that last wrote the directory
/// ([`Environment::files`]): fewer rows than recorded is an error (a file cut short); other
/// differences (more rows, another hash) are said on stderr. Older directories without a
/// manifest are not checked.
fn check_counts(
    dir: &Path,
    files: &[crate::results::ReadFile],
    env: Option<&Environment>,
) -> Result<(), ReportError> {
    let Some(env) = env else { return Ok(()) };
    let Some(manifest) = &env.files else {
        return Ok(());
    };
    let run = env.run_id.clone().unwrap_or_else(|| "?".into());
    for entry in manifest {
        let path = dir.join(&entry.name);
        let found = files.iter().find(|f| f.path == path);
        let rows = found.map_or(0, |f| f.rows.len());
        if rows < entry.rows {
            return Err(ReportError::Truncated {
                path,
                found: rows,
                expected: entry.rows,
                run,
            });
        }
        if let Some(f) = found {
            let hash = crate::environment::FileCount::of(&entry.name, &f.text, rows).hash;
            if hash != entry.hash {
                eprintln!(
                    "naming-bench: warning: {}: changed since run {run} wrote it ({rows} rows, {} recorded)",
                    path.display(),
                    entry.rows
                );
            }
        }
    }
    Ok(())
}

/// A fixed palette of 20 strong colours (Tableau 10, then darker and earthier ones), as
/// `0xRRGGBB`: no pale entries, so a lightened variant shade stays visible.
const PALETTE: [u32; 20] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22,
    0x000080, 0x006d2c, 0xb15928, 0x6a3d9a, 0xe6ab02, 0x1b9e77, 0x66a61e, 0xa6761d, 0x8b0000,
    0x4d4d4d, 0x00868b,
];

/// Greys for floors with no contender of their own.
const GREYS: [u32; 4] = [0x000000, 0x5a5a5a, 0x969696, 0x3c3c3c];

fn rgb(c: u32) -> Rgb {
    ((c >> 16) as u8, (c >> 8) as u8, c as u8)
}

/// `c` darkened (`t < 0`, towards black) or lightened (`t > 0`, towards white) by `|t|`.
fn shade(c: Rgb, t: f64) -> Rgb {
    let f = |v: u8| {
        let v = f64::from(v);
        let out = if t < 0.0 {
            v * (1.0 + t)
        } else {
            v + (255.0 - v) * t
        };
        out.round().clamp(0.0, 255.0) as u8
    };
    (f(c.0), f(c.1), f(c.2))
}

impl Data {
    /// Reads every directory in `dirs` (CSV rows and `environment.json`).
    pub fn load(catalogue: Catalogue, dirs: &[PathBuf]) -> Result<Data, ReportError> {
        if dirs.is_empty() {
            return Err(ReportError::NoInput);
        }
        let mut sources = Vec::new();
        let mut rows = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            if !dir.is_dir() {
                return Err(ReportError::MissingDir(dir.clone()));
            }
            let files = crate::results::read_dir_files(dir)?;
            let env = read_env(dir)?;
            check_counts(dir, &files, env.as_ref())?;
            for f in &files {
                check_values(&catalogue, f)?;
            }
            let read: Vec<Row> = files.into_iter().flat_map(|f| f.rows).collect();
            let base = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string());
            let tag = if sources.iter().any(|s: &Source| s.tag == base) {
                format!("{base}-{i}")
            } else {
                base
            };
            sources.push(Source {
                dir: dir.clone(),
                tag,
                env,
                runs: runs_of(dir, &read),
            });
            rows.extend(read.into_iter().map(|row| (row, i)));
        }
        if rows.is_empty() {
            return Err(ReportError::NoRows(dirs.to_vec()));
        }
        Ok(Data::from_rows(catalogue, sources, rows))
    }

    /// Builds from rows already read, each with its source index.
    pub fn from_rows(catalogue: Catalogue, sources: Vec<Source>, rows: Vec<(Row, usize)>) -> Data {
        let recs: Vec<Rec> = rows
            .into_iter()
            .map(|(row, source)| {
                let variant: &[&str] = catalogue
                    .workload(&row.workload)
                    .map_or(&[], |w| w.variant_params);
                let v = row.params.only(|k| variant.contains(&k));
                let who = if v.is_empty() {
                    row.backend.clone()
                } else {
                    format!("{} ({})", row.backend, v.to_string().replace(';', ", "))
                };
                let at = row.params.only(|k| !variant.contains(&k));
                Rec {
                    row,
                    source,
                    who,
                    at,
                }
            })
            .collect();
        // Variants of one backend in the numeric order of their parameters.
        let variant_key = |r: &Rec| -> Vec<u64> {
            r.row
                .params
                .pairs()
                .filter(|(k, _)| r.at.get(k).is_none())
                .map(|(_, v)| v.num().map_or(u64::MAX, |n| n.max(0.0) as u64))
                .collect()
        };
        let seen: BTreeSet<(usize, usize, &str, Vec<u64>, &str)> = recs
            .iter()
            .map(|r| {
                let pos = catalogue
                    .backends
                    .iter()
                    .position(|i| i.label == r.row.backend);
                let tier = match catalogue.identity(&r.row.backend) {
                    Some(i) if i.is_floor() => 2,
                    Some(_) => 0,
                    None => 1,
                };
                let backend = r.row.backend.as_str();
                (
                    tier,
                    pos.unwrap_or(usize::MAX),
                    backend,
                    variant_key(r),
                    r.who.as_str(),
                )
            })
            .collect();
        let mut order: Vec<String> = Vec::new();
        for (.., who) in seen {
            if !order.iter().any(|o| o == who) {
                order.push(who.to_string());
            }
        }
        Data {
            sources,
            recs,
            catalogue,
            order,
        }
    }

    /// The family of a series (by its backend's declared identity; `None` if undeclared).
    pub fn family(&self, who: &str) -> Option<Family> {
        self.catalogue
            .identity(self.backend_of(who))
            .map(|i| i.family)
    }

    /// Whether a series is a reference floor.
    pub fn is_floor(&self, who: &str) -> bool {
        self.family(who) == Some(Family::Floor)
    }

    /// The backend label of a series key (the key itself if no row has it).
    pub fn backend_of<'a>(&'a self, who: &'a str) -> &'a str {
        let rec = self.recs.iter().find(|r| r.who == who);
        rec.map_or(who, |r| r.row.backend.as_str())
    }

    /// The contender whose floor `floor` is, if any.
    pub fn owner_of_floor(&self, floor: &str) -> Option<&str> {
        let label = self
            .catalogue
            .backends
            .iter()
            .find(|i| i.floor == Some(floor))?
            .label;
        self.order.iter().map(String::as_str).find(|w| *w == label)
    }

    /// The floor drawn beside `who`: its backend's declared floor, if a series of that
    /// name exists.
    pub fn floor_of(&self, who: &str) -> Option<&str> {
        let floor = self.catalogue.identity(self.backend_of(who))?.floor?;
        self.order.iter().map(String::as_str).find(|w| *w == floor)
    }

    /// The palette slot of a backend label: its position among the catalogue's declared
    /// non-floor backends of its class (naming strategies together; routers, recovery
    /// schemes each apart, as they never share a chart), so a backend has one colour in
    /// every chart and every report; an undeclared label takes a slot from a hash of it.
    fn slot(&self, backend: &str) -> usize {
        let class = |f: Family| (!f.is_naming()).then_some(f);
        let declared = self.catalogue.identity(backend).and_then(|me| {
            self.catalogue
                .backends
                .iter()
                .filter(|i| !i.is_floor() && class(i.family) == class(me.family))
                .position(|i| i.label == backend)
        });
        declared.unwrap_or_else(|| {
            // FNV-1a: stable across runs and platforms.
            let h = backend.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            h as usize
        })
    }

    /// The colour of a series, the same in every chart (lines and bars alike): one palette
    /// keyed by backend label (its slot in the catalogue); a backend's variants
    /// (`ring (vnodes=10)`) are shades of its colour, darkest first; a floor takes its
    /// contender's colour (else a grey).
    pub fn color(&self, who: &str) -> Rgb {
        if self.is_floor(who) {
            if let Some(owner) = self.owner_of_floor(who) {
                return self.color(owner);
            }
            let i = self
                .order
                .iter()
                .filter(|b| self.is_floor(b) && self.owner_of_floor(b).is_none())
                .position(|b| b == who)
                .unwrap_or(0);
            return rgb(GREYS[i % GREYS.len()]);
        }
        let backend = self.backend_of(who);
        if let Some(rebuilding) = self.rebuilding_of(backend) {
            // A BEAM original: the colour of its family's first rebuilding, lighter.
            return shade(self.color(rebuilding), 0.35);
        }
        let base = rgb(PALETTE[self.slot(backend) % PALETTE.len()]);
        let variants: Vec<&String> = self
            .order
            .iter()
            .filter(|w| *w != backend && self.backend_of(w) == backend)
            .collect();
        match variants.iter().position(|w| *w == who) {
            Some(i) if variants.len() > 1 => {
                // From 40% darker to 45% lighter across the variants.
                let t = -0.4 + 0.85 * i as f64 / (variants.len() - 1) as f64;
                shade(base, t)
            }
            _ => base,
        }
    }

    /// Whether `who` is a BEAM original (the Erlang/Elixir system itself, run on a BEAM
    /// node) rather than a rebuilding on this suite's runtime.
    pub fn is_beam(&self, who: &str) -> bool {
        self.catalogue
            .identity(self.backend_of(who))
            .is_some_and(|i| i.origin == Origin::Beam)
    }

    /// For a BEAM original, the first of its family's rebuildings in this suite (the
    /// backend whose colour it shares); `None` for anything else.
    pub fn rebuilding_of(&self, who: &str) -> Option<&'static str> {
        let me = self.catalogue.identity(who)?;
        (me.origin == Origin::Beam).then_some(())?;
        self.catalogue
            .backends
            .iter()
            .find(|i| i.family == me.family && i.origin == Origin::Suite && !i.is_floor())
            .map(|i| i.label)
    }

    /// Measured rows (finite value) of `workload` and `metric`.
    pub fn measured<'a>(
        &'a self,
        workload: &'a str,
        metric: &'a Metric,
    ) -> impl Iterator<Item = &'a Rec> + 'a {
        self.recs.iter().filter(move |r| {
            r.row.workload == workload && r.row.metric == metric.name && r.row.value().is_some()
        })
    }

    /// Skip rows of `workload`.
    pub fn skips<'a>(&'a self, workload: &'a str) -> impl Iterator<Item = &'a Rec> + 'a {
        self.recs
            .iter()
            .filter(move |r| r.row.workload == workload && r.row.is_skip())
    }

    /// Whether any row (measured or skipped) of `workload` exists.
    pub fn has_workload(&self, workload: &str) -> bool {
        self.recs.iter().any(|r| r.row.workload == workload)
    }

    /// Series in report order, filtered by `keep`.
    pub fn ordered<'a>(&'a self, keep: impl Fn(&str) -> bool + 'a) -> Vec<&'a str> {
        self.order
            .iter()
            .map(String::as_str)
            .filter(|b| keep(b))
            .collect()
    }
}

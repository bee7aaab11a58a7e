//! The rows a report is built from: read from one or more result directories, each with
//! the machine it came from, plus a few rows derived from them (ratios to floors, the
//! failed share of calls under churn), and the stable backend order that fixes colours.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::contenders::{self, Contender, Visitor};
use crate::environment::Environment;
use crate::results::{self, Row};

use super::plot::Rgb;
use super::ReportError;

/// One input directory and the machine its rows came from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The directory.
    pub dir: PathBuf,
    /// A short tag for legends: the directory's name (made unique).
    pub tag: String,
    /// Its `environment.json`, if it has one.
    pub env: Option<Environment>,
}

impl Source {
    /// The machine in one line, for captions.
    pub fn describe(&self) -> String {
        match &self.env {
            Some(env) => format!("`{}`: {}", self.tag, env.summary()),
            None => format!("`{}`: no environment.json (machine unknown)", self.tag),
        }
    }
}

/// A row and the index of the source it came from.
#[derive(Clone, Debug)]
pub struct Rec {
    /// The row.
    pub row: Row,
    /// Index into [`Data::sources`].
    pub source: usize,
}

/// Every row of a report, with its sources and the backend order.
#[derive(Clone, Debug)]
pub struct Data {
    /// The input directories, in the order given.
    pub sources: Vec<Source>,
    /// All rows, measured, skipped and derived.
    pub recs: Vec<Rec>,
    /// Every backend label, in report order: known contenders first (in
    /// [`contenders::labels`] order), then other naming backends, then routers and
    /// recovery strategies, then floors (each sorted).
    pub order: Vec<String>,
    /// Contender label -> the label of its lookup floor backend.
    floors: BTreeMap<String, String>,
}

/// Reads the CSV files of one directory, each checked against the schema.
fn read_source(dir: &Path) -> Result<Vec<Row>, ReportError> {
    let entries = fs::read_dir(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for path in paths {
        let text = fs::read_to_string(&path).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        let bad = |message: String| ReportError::Csv {
            path: path.clone(),
            message,
        };
        let header = text.lines().next().unwrap_or("").trim();
        if header != results::HEADER {
            return Err(bad(format!(
                "first line is {header:?}, expected the header {:?}",
                results::HEADER
            )));
        }
        let parsed = results::from_csv(&text).map_err(|e| bad(e.to_string()))?;
        for (i, r) in parsed.iter().enumerate() {
            if r.backend.is_empty() || r.workload.is_empty() || r.metric.is_empty() {
                return Err(bad(format!(
                    "row {} has an empty backend, workload or metric",
                    i + 1
                )));
            }
            if let Some(kv) = r
                .params
                .split(';')
                .find(|kv| !kv.is_empty() && !kv.contains('='))
            {
                return Err(bad(format!(
                    "row {}: parameter {kv:?} is not key=value",
                    i + 1
                )));
            }
        }
        rows.extend(parsed);
    }
    Ok(rows)
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

/// The input directories under `dir`: `dir` itself and each immediate subdirectory holding
/// a `*.csv` file (e.g. `results/device-16core/`), sorted.
pub fn discover_inputs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![dir.to_path_buf()];
    let Ok(entries) = fs::read_dir(dir) else {
        return dirs;
    };
    let mut subs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            fs::read_dir(p).is_ok_and(|mut it| {
                it.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "csv")))
            })
        })
        .collect();
    subs.sort();
    dirs.extend(subs);
    dirs
}

/// The lookup floor of every known contender, from [`contenders::for_each`].
fn contender_floors() -> BTreeMap<String, String> {
    struct Floors(BTreeMap<String, String>);
    impl Visitor for Floors {
        fn visit<C: Contender>(&mut self, c: &C) {
            if let Some(table) = c.floor() {
                self.0
                    .insert(c.label().to_string(), format!("floor-{table}-get"));
            }
        }
    }
    let mut f = Floors(BTreeMap::new());
    contenders::for_each(&mut f);
    f.0
}

/// Whether `backend` is a reference floor rather than a contender.
pub fn is_floor(backend: &str) -> bool {
    backend.starts_with("floor-")
}

/// (workload, metric) -> value, for one backend at one parameter set.
type Metrics = BTreeMap<(String, String), f64>;

/// Workloads whose backends are not naming backends (routers, recovery strategies).
const SIDE_WORKLOADS: &[&str] = &[
    "reshard",
    "recovery",
    "multinode",
    "multinode-call",
    "multinode-register",
    "multinode-crash",
    "multinode-netsplit",
];

/// A fixed palette (Tableau 20 order, strong colours first).
const PALETTE: [Rgb; 20] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
    (188, 189, 34),
    (127, 127, 127),
    (0, 0, 128),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (158, 218, 229),
    (219, 219, 141),
];

/// Greys for floors with no contender of their own.
const GREYS: [Rgb; 4] = [(0, 0, 0), (90, 90, 90), (150, 150, 150), (60, 60, 60)];

impl Data {
    /// Reads every directory in `dirs` (CSV rows and `environment.json`).
    pub fn load(dirs: &[PathBuf]) -> Result<Data, ReportError> {
        if dirs.is_empty() {
            return Err(ReportError::NoInput);
        }
        let mut sources = Vec::new();
        let mut recs = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            if !dir.is_dir() {
                return Err(ReportError::MissingDir(dir.clone()));
            }
            let rows = read_source(dir)?;
            let env = read_env(dir)?;
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
            });
            recs.extend(rows.into_iter().map(|row| Rec { row, source: i }));
        }
        if recs.is_empty() {
            return Err(ReportError::NoRows(dirs.to_vec()));
        }
        Ok(Data::from_recs(sources, recs))
    }

    /// Builds from rows already read (adds the derived rows and the order).
    pub fn from_recs(sources: Vec<Source>, recs: Vec<Rec>) -> Data {
        let known = contenders::labels();
        let seen: BTreeSet<&str> = recs.iter().map(|r| r.row.backend.as_str()).collect();
        let mut order: Vec<String> = known
            .iter()
            .filter(|k| seen.contains(**k))
            .map(|k| k.to_string())
            .collect();
        // Then other naming backends, then routers and recovery strategies (labels seen
        // only in those workloads), then floors, each sorted: the strong colours of the
        // palette go to the naming backends.
        let side = |b: &str| {
            recs.iter()
                .filter(|r| r.row.backend == b)
                .all(|r| SIDE_WORKLOADS.contains(&r.row.workload.as_str()))
        };
        let rank = |b: &str| {
            if is_floor(b) {
                2
            } else if side(b) {
                1
            } else {
                0
            }
        };
        for tier in 0..3 {
            order.extend(
                seen.iter()
                    .filter(|b| !known.contains(b) && rank(b) == tier)
                    .map(|b| b.to_string()),
            );
        }
        let mut data = Data {
            sources,
            recs,
            order,
            floors: contender_floors(),
        };
        let derived = data.derive();
        data.recs.extend(derived);
        data
    }

    /// The label of `backend`'s lookup floor (`registry-X` -> `floor-X-get` if unknown).
    pub fn floor_of(&self, backend: &str) -> Option<String> {
        self.floors.get(backend).cloned().or_else(|| {
            backend
                .strip_prefix("registry-")
                .map(|t| format!("floor-{t}-get"))
        })
    }

    /// The contender whose floor `floor` is, if any.
    fn owner_of_floor(&self, floor: &str) -> Option<&str> {
        self.order
            .iter()
            .find(|b| !is_floor(b) && self.floor_of(b).as_deref() == Some(floor))
            .map(String::as_str)
    }

    /// The colour of `backend`, the same in every chart of a report: contenders by their
    /// position in [`Data::order`], a floor in its contender's colour (else a grey).
    pub fn color(&self, backend: &str) -> Rgb {
        if is_floor(backend) {
            if let Some(owner) = self.owner_of_floor(backend) {
                return self.color(owner);
            }
            let i = self
                .order
                .iter()
                .filter(|b| is_floor(b) && self.owner_of_floor(b).is_none())
                .position(|b| b == backend)
                .unwrap_or(0);
            return GREYS[i % GREYS.len()];
        }
        let i = self
            .order
            .iter()
            .filter(|b| !is_floor(b))
            .position(|b| b == backend)
            .unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    }

    /// Measured rows (finite value, not a skip) of `workload` and `metric`.
    pub fn measured<'a>(
        &'a self,
        workload: &'a str,
        metric: &'a str,
    ) -> impl Iterator<Item = &'a Rec> + 'a {
        self.recs.iter().filter(move |r| {
            r.row.workload == workload
                && r.row.metric == metric
                && !r.row.is_skip()
                && r.row.value.is_finite()
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

    /// Backends in report order, filtered by `keep`.
    pub fn ordered<'a>(&'a self, keep: impl Fn(&str) -> bool + 'a) -> Vec<&'a str> {
        self.order
            .iter()
            .map(String::as_str)
            .filter(|b| keep(b))
            .collect()
    }

    /// Rows computed from others: `lookup/ops_vs_floor`, `routing/ops_vs_direct`,
    /// `churn/failed_stale_per_call`.
    fn derive(&self) -> Vec<Rec> {
        let mut out = Vec::new();
        let key = |r: &Rec| (r.source, r.row.backend.clone(), r.row.params.clone());
        let mut by: BTreeMap<(usize, String, String), Metrics> = BTreeMap::new();
        for r in &self.recs {
            if !r.row.is_skip() && r.row.value.is_finite() {
                by.entry(key(r))
                    .or_default()
                    .insert((r.row.workload.clone(), r.row.metric.clone()), r.row.value);
            }
        }
        let get = |src: usize, b: &str, p: &str, w: &str, m: &str| {
            by.get(&(src, b.to_string(), p.to_string()))
                .and_then(|ms| ms.get(&(w.to_string(), m.to_string())))
                .copied()
        };
        for ((src, backend, params), metrics) in &by {
            if is_floor(backend) {
                continue;
            }
            let mk = |w: &str, m: &str, v: f64, unit: &str| Rec {
                row: Row::new(backend, w, params, m, v, unit),
                source: *src,
            };
            let m = |w: &str, name: &str| metrics.get(&(w.to_string(), name.to_string())).copied();
            if let (Some(ops), Some(floor)) = (m("lookup", "ops_per_sec"), self.floor_of(backend)) {
                // The floor measured beside this backend (`of=`), else one at the same params.
                let beside = format!("{params};of={backend}");
                let f = get(*src, &floor, &beside, "lookup", "ops_per_sec")
                    .or_else(|| get(*src, &floor, params, "lookup", "ops_per_sec"));
                if let Some(f) = f {
                    if f > 0.0 {
                        out.push(mk("lookup", "ops_vs_floor", ops / f, "x floor"));
                    }
                }
            }
            if let Some(ops) = m("routing", "ops_per_sec") {
                if let Some(f) = get(*src, "floor-direct-call", params, "routing", "ops_per_sec") {
                    if f > 0.0 {
                        out.push(mk("routing", "ops_vs_direct", ops / f, "x direct call"));
                    }
                }
            }
            if let Some(ok) = m("churn", "calls_ok") {
                let c = |name| m("churn", name).unwrap_or(0.0);
                let failed = c("calls_noproc") + c("calls_timeout") + c("calls_not_found");
                let total = ok + failed;
                if total > 0.0 {
                    let bad = failed + c("stale_deliveries");
                    out.push(mk(
                        "churn",
                        "failed_stale_per_call",
                        bad / total,
                        "fraction of calls",
                    ));
                }
            }
        }
        out
    }
}

/// The backend-private parameter keys among `rows`: keys that some backend never records
/// and every other backend records on all its rows (a ring router's `vnodes=`, a Maglev
/// router's `table_size=`). They say which variant a backend is, not where it was
/// measured, so comparisons across backends ignore them.
pub fn private_keys<'a>(rows: impl Iterator<Item = &'a Rec>) -> BTreeSet<String> {
    // key -> backend -> (rows with the key, rows in all)
    let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut with: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for r in rows {
        let e = seen.entry(r.row.backend.as_str()).or_default();
        e.1 += 1;
        for kv in r.row.params.split(';') {
            if let Some((k, _)) = kv.split_once('=') {
                *with
                    .entry((k.to_string(), r.row.backend.as_str()))
                    .or_default() += 1;
            }
        }
    }
    let keys: BTreeSet<&String> = with.keys().map(|(k, _)| k).collect();
    keys.into_iter()
        .filter(|k| {
            let count = |b: &str| with.get(&((*k).clone(), b)).copied().unwrap_or(0);
            let some_never = seen.keys().any(|b| count(b) == 0);
            let others_always = seen
                .iter()
                .all(|(b, (_, all))| count(b) == 0 || count(b) == *all);
            some_never && others_always
        })
        .cloned()
        .collect()
}

/// `params` without the keys in `private` (see [`private_keys`]).
pub fn normalize(params: &str, private: &BTreeSet<String>) -> String {
    let drop: Vec<&str> = private.iter().map(String::as_str).collect();
    params_without(params, &drop)
}

/// `params` without the keys in `drop`, in their order.
pub fn params_without(params: &str, drop: &[&str]) -> String {
    params
        .split(';')
        .filter(|kv| {
            let k = kv.split_once('=').map_or(*kv, |(k, _)| k);
            !kv.is_empty() && !drop.contains(&k)
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The value of `key` in `params` as a number.
pub fn param_num(row: &Row, key: &str) -> Option<f64> {
    row.param(key)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Whether every `key=value` of `sub` agrees with `params` (keys absent there are ignored).
pub fn params_agree(sub: &str, params: &str, ignore: &[&str]) -> bool {
    let row = Row::new("", "", params, "", 0.0, "");
    sub.split(';')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !ignore.contains(k))
        .all(|(k, v)| match row.param(k) {
            Some(w) => w == v,
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_helpers() {
        assert_eq!(
            params_without("names=10;keys=zipf;clients=2", &["names"]),
            "keys=zipf;clients=2"
        );
        assert!(params_agree("names=1000000", "keys=zipf;clients=2", &[]));
        assert!(!params_agree("keys=uniform", "keys=zipf;clients=2", &[]));
        assert!(params_agree(
            "keys=uniform;names=5",
            "keys=uniform",
            &["names"]
        ));
    }
}

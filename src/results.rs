//! The raw results every workload writes: one row per measured number (or per skip), as
//! CSV, one file per workload under the results directory (`lookup.csv`, `routing.csv`,
//! ...), plus `environment.json` beside them for the machine and the build of the latest
//! run, and `runs/<run-id>.json` for every run's.
//!
//! A run writes through [`write_run`], which merges into what is there: a file keeps the
//! rows of every (backend, workload) pair this run did not measure, so a run over one
//! backend never erases another's rows. Each row names its run (`Row::run`).
//!
//! The row type and its CSV form are `naming-schema`'s ([`Row`], [`Params`], [`Outcome`]),
//! shared with the strategy and cluster crates and the report; rows are made through a
//! workload's declaration (`Workload::row`, `Workload::skip`), never from metric names
//! written by hand.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use naming_schema::{Outcome, Params, Row};

use crate::environment::Environment;

/// Why a results directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading a file or listing the directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A CSV file does not follow the result schema.
    #[error("{path}: not a valid results file: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
}

/// The results directory: `flag` (`--out DIR`) if given, else `NAMING_BENCH_OUT` if set and
/// not empty, else `default`.
pub fn out_dir(flag: Option<PathBuf>, default: PathBuf) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("NAMING_BENCH_OUT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or(default)
}

/// Writes `rows` to `dir/<workload>.csv`, replacing the file (no merge, no environment:
/// runs write through [`write_run`]).
pub fn write_workload(dir: &Path, workload: &str, rows: &[Row]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join(format!("{workload}.csv")),
        naming_schema::row::to_csv(rows),
    )
}

/// The rows of one results file; an error names the file (and, for a malformed file, the
/// line).
pub fn read_file(path: &Path) -> Result<Vec<Row>, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    naming_schema::row::from_csv(&text).map_err(|message| ReadError::Csv {
        path: path.to_path_buf(),
        message,
    })
}

/// `old` merged with `new`: the rows of `old` whose (backend, workload) pair has no row in
/// `new` are kept (in their order), then every row of `new`. A pair measured again is
/// replaced as a whole, so a file never mixes two runs' rows for one backend in one
/// workload.
pub fn merge_rows(old: Vec<Row>, new: &[Row]) -> Vec<Row> {
    let measured: HashSet<(&str, &str)> = new
        .iter()
        .map(|r| (r.backend.as_str(), r.workload.as_str()))
        .collect();
    let mut merged: Vec<Row> = old
        .into_iter()
        .filter(|r| !measured.contains(&(r.backend.as_str(), r.workload.as_str())))
        .collect();
    merged.extend_from_slice(new);
    merged
}

/// Writes `text` to `path` through a temporary file beside it and a rename.
fn write_atomic(path: &Path, tmp_tag: &str, text: &str) -> io::Result<()> {
    let tmp = temp_path(path, tmp_tag);
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

/// `.<name>.tmp-<tag>` beside `path` (never `*.csv`, so [`read_dir`] never reads it).
fn temp_path(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "results".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.tmp-{tag}"))
}

/// Writes one run's results under `dir`: for each `(workload, rows)`, `<workload>.csv`
/// merged with what the file held (see [`merge_rows`]); then `runs/<run-id>.json` and
/// `environment.json` (this run's environment, `env`).
///
/// Every CSV is first written to a temporary file, and only when all are written are they
/// renamed into place, the environment files last: an interrupted run leaves the old files
/// and the old `environment.json`, never new rows beside another run's environment. An
/// existing file that cannot be read as results is kept as `<workload>.csv.unreadable-<run>`
/// (and named on stderr) rather than merged or lost.
pub fn write_run(dir: &Path, env: &Environment, workloads: &[(&str, Vec<Row>)]) -> io::Result<()> {
    let run = env.run_id.clone().unwrap_or_else(|| "run".to_string());
    fs::create_dir_all(dir.join("runs"))?;
    let mut staged = Vec::new();
    let result = (|| {
        for (workload, rows) in workloads {
            let path = dir.join(format!("{workload}.csv"));
            let old = if path.exists() {
                match read_file(&path) {
                    Ok(old) => old,
                    Err(e) => {
                        let aside = path.with_extension(format!("csv.unreadable-{run}"));
                        eprintln!("naming-bench: {e}; kept as {}", aside.display());
                        fs::copy(&path, &aside)?;
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let merged = merge_rows(old, rows);
            let tmp = temp_path(&path, &run);
            fs::write(&tmp, naming_schema::row::to_csv(&merged))?;
            staged.push((tmp, path));
        }
        Ok::<(), io::Error>(())
    })();
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, path) in &staged {
        fs::rename(tmp, path)?;
    }
    let json = env.to_json();
    write_atomic(&dir.join("runs").join(format!("{run}.json")), &run, &json)?;
    write_atomic(&dir.join("environment.json"), &run, &json)
}

/// Reads every `*.csv` file in `dir`, in file-name order; an error names the file (and,
/// for a malformed file, the line).
pub fn read_dir(dir: &Path) -> Result<Vec<Row>, ReadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadError::Io { path, source }
    };
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    for path in paths {
        rows.extend(read_file(&path)?);
    }
    Ok(rows)
}

/// The result directories under `dir`: `dir` itself and each immediate subdirectory holding
/// a `*.csv` file (e.g. `results/multinode/`, `results/device-16core/`), sorted.
pub fn discover_inputs(dir: &Path) -> Vec<PathBuf> {
    let has_csv = |p: &Path| {
        fs::read_dir(p).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "csv")))
        })
    };
    let mut subs: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            let paths = entries.filter_map(|e| e.ok().map(|e| e.path()));
            paths.filter(|p| p.is_dir() && has_csv(p)).collect()
        })
        .unwrap_or_default();
    subs.sort();
    subs.insert(0, dir.to_path_buf());
    subs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::lookup::{LOOKUP, OPS_PER_SEC};

    #[test]
    fn files_round_trip_with_quotes_and_skips() {
        let p = Params::new().with("names", 100).with("keys", "uniform");
        let rows = vec![
            LOOKUP.row("registry-dashmap", &p, &OPS_PER_SEC, 1.5e7),
            LOOKUP.skip("static-names", &p, "Undeclared: only 64 names, \"fixed\""),
        ];
        let dir = std::env::temp_dir().join(format!("naming-bench-results-{}", std::process::id()));
        write_workload(&dir, "lookup", &rows).unwrap();
        let back = read_dir(&dir).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(back, rows);
        assert_eq!(back[0].param("keys").as_deref(), Some("uniform"));
        assert!(back[1].is_skip());
    }
}

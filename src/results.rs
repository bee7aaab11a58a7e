//! The raw results every workload writes: one row per measured number (or per skip), as
//! CSV, one file per workload under the results directory (`lookup.csv`, `routing.csv`,
//! ...), plus `environment.json` beside them for the machine and the build.
//!
//! The row type and its CSV form are `naming-schema`'s ([`Row`], [`Params`], [`Outcome`]),
//! shared with the strategy and cluster crates and the report; rows are made through a
//! workload's declaration (`Workload::row`, `Workload::skip`), never from metric names
//! written by hand.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use naming_schema::{Outcome, Params, Row};

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

/// Writes `rows` to `dir/<workload>.csv`, replacing the file.
pub fn write_workload(dir: &Path, workload: &str, rows: &[Row]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join(format!("{workload}.csv")),
        naming_schema::row::to_csv(rows),
    )
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
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let parsed = naming_schema::row::from_csv(&text)
            .map_err(|message| ReadError::Csv { path, message })?;
        rows.extend(parsed);
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

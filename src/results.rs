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
use std::path::Path;

pub use naming_schema::{Outcome, Params, Row};

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Writes `rows` to `dir/<workload>.csv`, replacing the file.
pub fn write_workload(dir: &Path, workload: &str, rows: &[Row]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join(format!("{workload}.csv")),
        naming_schema::row::to_csv(rows),
    )
}

/// Reads every `*.csv` in `dir`, in file-name order; a malformed file is `InvalidData`
/// naming the file and line.
pub fn read_dir(dir: &Path) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut paths: Vec<_> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    for p in paths {
        let text = fs::read_to_string(&p)?;
        let parsed = naming_schema::row::from_csv(&text)
            .map_err(|e| invalid(format!("{}: {e}", p.display())))?;
        rows.extend(parsed);
    }
    Ok(rows)
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

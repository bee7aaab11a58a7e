//! The raw results every workload writes: one row per measured number, plus the machine.
//!
//! CSV, one file per workload under the results directory (`lookup.csv`, `routing.csv`, ...),
//! with the header `backend,workload,params,metric,value,unit`. `params` is a `;`-separated
//! list of `key=value` pairs (e.g. `names=10000;keys=zipf;clients=2`). A backend that cannot
//! run a workload writes a row with metric `skipped`, value `NaN` and the reason in `unit`,
//! so the limit shows up in the report as a finding rather than a blank.
//! `environment.json` beside them records the machine and the build.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// One measured number.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The backend's label, e.g. `registry-dashmap`, or a floor such as `floor-dashmap-get`.
    pub backend: String,
    /// The workload, e.g. `lookup`.
    pub workload: String,
    /// `key=value` pairs separated by `;`, in a stable order.
    pub params: String,
    /// What was measured, e.g. `ops_per_sec`, `p99_ns`.
    pub metric: String,
    /// The value (`NaN` for a skip).
    pub value: f64,
    /// The unit, or for a skip the reason.
    pub unit: String,
}

impl Row {
    /// A measured row.
    pub fn new(
        backend: &str,
        workload: &str,
        params: &str,
        metric: &str,
        value: f64,
        unit: &str,
    ) -> Self {
        Row {
            backend: backend.into(),
            workload: workload.into(),
            params: params.into(),
            metric: metric.into(),
            value,
            unit: unit.into(),
        }
    }

    /// A backend that cannot run this workload (or these parameters), and why.
    pub fn skipped(backend: &str, workload: &str, params: &str, reason: &str) -> Self {
        Row::new(backend, workload, params, "skipped", f64::NAN, reason)
    }

    /// Whether this row records a skip.
    pub fn is_skip(&self) -> bool {
        self.metric == "skipped"
    }

    /// The value of parameter `key` in `params`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// The unit of a metric named by the suite's conventions (`_ns`, `_us`, `_bytes`, ...).
pub fn unit_of(metric: &str) -> &'static str {
    match metric {
        m if m.ends_with("_ns") => "ns",
        m if m.ends_with("_us") || m.contains("_us_") => "us",
        m if m.ends_with("_ms") => "ms",
        m if m.ends_with("_per_sec") => "per_sec",
        m if m.ends_with("_bytes") => "bytes",
        m if m.contains("ratio") || m.contains("_vs_") || m.contains("over") => "ratio",
        m if m.contains("fraction") => "fraction",
        m if m.contains("updates") || m.contains("increments") => "updates",
        m if m.contains("calls") => "calls",
        _ => "count",
    }
}

/// Rows from the shard and recovery measurements (which live in `naming-strategies`), in
/// this schema.
pub fn from_strategy_rows(rows: &[naming_schema::Row]) -> Vec<Row> {
    rows.iter()
        .map(|r| match &r.outcome {
            naming_schema::Outcome::Value(v) => Row::new(
                &r.backend,
                &r.workload,
                &r.params.to_string(),
                &r.metric,
                *v,
                unit_of(&r.metric),
            ),
            naming_schema::Outcome::Skipped(reason) => {
                Row::skipped(&r.backend, &r.workload, &r.params.to_string(), reason)
            }
        })
        .collect()
}

/// The CSV header.
pub const HEADER: &str = "backend,workload,params,metric,value,unit";

fn escape(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// Renders rows as CSV text with the header.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            escape(&r.backend),
            escape(&r.workload),
            escape(&r.params),
            escape(&r.metric),
            r.value,
            escape(&r.unit)
        );
    }
    out
}

/// Parses CSV text written by [`to_csv`].
pub fn from_csv(text: &str) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 || line.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(line);
        if f.len() != 6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {}: expected 6 fields, found {}", i + 1, f.len()),
            ));
        }
        let value = f[4].parse::<f64>().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line {}: bad value {:?}: {e}", i + 1, f[4]),
            )
        })?;
        rows.push(Row {
            backend: f[0].clone(),
            workload: f[1].clone(),
            params: f[2].clone(),
            metric: f[3].clone(),
            value,
            unit: f[5].clone(),
        });
    }
    Ok(rows)
}

/// Writes `rows` to `dir/<workload>.csv`, replacing the file.
pub fn write_workload(dir: &Path, workload: &str, rows: &[Row]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("{workload}.csv")), to_csv(rows))
}

/// Reads every `*.csv` in `dir`.
pub fn read_dir(dir: &Path) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut paths: Vec<_> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    for p in paths {
        rows.extend(from_csv(&fs::read_to_string(&p)?)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_with_quotes_and_skips() {
        let rows = vec![
            Row::new(
                "registry-dashmap",
                "lookup",
                "names=100;keys=uniform",
                "ops_per_sec",
                1.5e7,
                "ops/s",
            ),
            Row::skipped(
                "static-names",
                "scale",
                "names=1000000",
                "Undeclared: only 64 names, \"fixed\"",
            ),
        ];
        let back = from_csv(&to_csv(&rows)).unwrap();
        assert_eq!(back[0], rows[0]);
        assert!(back[1].is_skip() && back[1].value.is_nan());
        assert_eq!(back[1].unit, rows[1].unit);
        assert_eq!(back[0].param("keys"), Some("uniform"));
    }
}

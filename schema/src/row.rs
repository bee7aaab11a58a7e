//! The one result row type, for every workload (single-node, shard, recovery, multi-node),
//! and its CSV form.
//!
//! CSV, one file per workload run: `run,backend,workload,params,metric,value,unit,skipped`.
//! `params` is `key=value` pairs joined by `;`. A skip has an empty metric and value and its
//! reason in `skipped`. Files in the older six-column form
//! (`backend,workload,params,metric,value,unit`, a skip as metric `skipped` with its reason
//! in `unit`) are read too.

use std::fmt::{self, Write as _};

/// A parameter's value: a number where it parses as one, else text.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// An integer (`names=10000`).
    Int(i64),
    /// A number with a fraction (`kill_rate=0.01`), kept with the text it was written as.
    Num(f64, String),
    /// Anything else (`keys=zipf`).
    Text(String),
}

impl ParamValue {
    /// Parses `text`: an integer, else a finite number, else text.
    pub fn parse(text: &str) -> ParamValue {
        if let Ok(i) = text.parse::<i64>() {
            return ParamValue::Int(i);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => ParamValue::Num(v, text.to_string()),
            _ => ParamValue::Text(text.to_string()),
        }
    }

    /// The value as a number, if it is one.
    pub fn num(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Num(v, _) => Some(*v),
            ParamValue::Text(_) => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Num(_, text) | ParamValue::Text(text) => f.write_str(text),
        }
    }
}

/// Where a row was measured: parameters in the order the workload gave them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(Vec<(String, ParamValue)>);

impl Params {
    /// No parameters.
    pub fn new() -> Params {
        Params(Vec::new())
    }

    /// These parameters and `key=value` (replacing an earlier `key`).
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Params {
        let v = ParamValue::parse(&value.to_string());
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key.to_string(), v)),
        }
        self
    }

    /// Parses `k=v;k=v` (`None` if a pair has no `=` or an empty key).
    pub fn parse(text: &str) -> Option<Params> {
        let mut p = Params::new();
        for kv in text.split(';').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=')?;
            if k.is_empty() {
                return None;
            }
            p.0.push((k.to_string(), ParamValue::parse(v)));
        }
        Some(p)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key` as text.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(ToString::to_string)
    }

    /// The value of `key` as a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(ParamValue::num)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Only the pairs whose key passes `keep`.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Params {
        Params(self.0.iter().filter(|(k, _)| keep(k)).cloned().collect())
    }

    /// Whether every pair of `self` agrees with `other` where `other` has the key.
    pub fn agrees_with(&self, other: &Params) -> bool {
        self.0.iter().all(|(k, v)| match other.get(k) {
            Some(w) => w.to_string() == v.to_string(),
            None => true,
        })
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(';')?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// What a measurement gave: a value, or the reason the backend could not be measured.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The measured value.
    Value(f64),
    /// The backend cannot do this (by design or by a failure), and why.
    Skipped(String),
}

/// One measured number (or one skip) of one backend in one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The run that measured it (empty for rows of older files).
    pub run: String,
    /// The backend's label (a contender, a floor, a router, a recovery scheme).
    pub backend: String,
    /// The workload's name.
    pub workload: String,
    /// Where it was measured.
    pub params: Params,
    /// The metric's name (empty for a skip).
    pub metric: String,
    /// The value or the skip.
    pub outcome: Outcome,
    /// The unit, as declared by the metric.
    pub unit: String,
}

impl Row {
    /// The value, if measured and finite.
    pub fn value(&self) -> Option<f64> {
        match self.outcome {
            Outcome::Value(v) if v.is_finite() => Some(v),
            _ => None,
        }
    }

    /// The skip reason, if a skip.
    pub fn skip_reason(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Skipped(r) => Some(r),
            Outcome::Value(_) => None,
        }
    }

    /// Whether this row records a skip.
    pub fn is_skip(&self) -> bool {
        matches!(self.outcome, Outcome::Skipped(_))
    }

    /// The value of parameter `key` as text.
    pub fn param(&self, key: &str) -> Option<String> {
        self.params.text(key)
    }
}

/// The CSV header this crate writes.
pub const HEADER: &str = "run,backend,workload,params,metric,value,unit,skipped";
/// The older six-column header, still read.
pub const OLD_HEADER: &str = "backend,workload,params,metric,value,unit";

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

/// Rows as CSV text with the header.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        let (value, skipped) = match &r.outcome {
            Outcome::Value(v) => (v.to_string(), String::new()),
            Outcome::Skipped(reason) => (String::new(), reason.clone()),
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            escape(&r.run),
            escape(&r.backend),
            escape(&r.workload),
            escape(&r.params.to_string()),
            escape(&r.metric),
            value,
            escape(&r.unit),
            escape(&skipped)
        );
    }
    out
}

/// Parses CSV text in either form; the error names the line.
pub fn from_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines().enumerate();
    let old = match lines.next() {
        Some((_, h)) if h.trim() == HEADER => false,
        Some((_, h)) if h.trim() == OLD_HEADER => true,
        Some((_, h)) => return Err(format!("line 1: not a results header: {h:?}")),
        None => return Ok(Vec::new()),
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let f = split_csv_line(line);
        let want = if old { 6 } else { 8 };
        if f.len() != want {
            return Err(format!(
                "line {n}: expected {want} fields, found {}",
                f.len()
            ));
        }
        let (run, rest) = if old {
            (String::new(), &f[..])
        } else {
            (f[0].clone(), &f[1..])
        };
        let params =
            Params::parse(&rest[2]).ok_or_else(|| format!("line {n}: bad params {:?}", rest[2]))?;
        let skipped_old = old && rest[3] == "skipped";
        let skipped_new = !old && !f[7].is_empty();
        let (metric, outcome, unit) = if skipped_old {
            (
                String::new(),
                Outcome::Skipped(rest[5].clone()),
                String::new(),
            )
        } else if skipped_new {
            (
                rest[3].clone(),
                Outcome::Skipped(f[7].clone()),
                rest[5].clone(),
            )
        } else {
            let v = rest[4]
                .parse::<f64>()
                .map_err(|e| format!("line {n}: bad value {:?}: {e}", rest[4]))?;
            (rest[3].clone(), Outcome::Value(v), rest[5].clone())
        };
        if rest[0].is_empty() || rest[1].is_empty() {
            return Err(format!("line {n}: empty backend or workload"));
        }
        if metric.is_empty() && !matches!(outcome, Outcome::Skipped(_)) {
            return Err(format!("line {n}: a value with no metric"));
        }
        rows.push(Row {
            run,
            backend: rest[0].clone(),
            workload: rest[1].clone(),
            params,
            metric,
            outcome,
            unit,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str, outcome: Outcome) -> Row {
        Row {
            run: "r1".into(),
            backend: "registry-dashmap".into(),
            workload: "lookup".into(),
            params: Params::new().with("names", 100).with("keys", "zipf"),
            metric: metric.into(),
            outcome,
            unit: "ops/s".into(),
        }
    }

    #[test]
    fn csv_round_trips_values_and_skips() {
        let rows = vec![
            row("ops_per_sec", Outcome::Value(1.5e7)),
            row(
                "",
                Outcome::Skipped("Undeclared: only 64, \"fixed\"".into()),
            ),
        ];
        let back = from_csv(&to_csv(&rows)).unwrap();
        assert_eq!(back, rows);
        assert_eq!(back[0].params.num("names"), Some(100.0));
        assert_eq!(back[0].param("keys").as_deref(), Some("zipf"));
    }

    #[test]
    fn reads_the_older_form() {
        let text = "backend,workload,params,metric,value,unit\n\
                    gproc,scale,names=10,bytes_per_name,300,bytes\n\
                    static-names,scale,names=1000000,skipped,NaN,\"static set, 1000\"\n";
        let rows = from_csv(text).unwrap();
        assert_eq!(rows[0].value(), Some(300.0));
        assert_eq!(rows[1].skip_reason(), Some("static set, 1000"));
        assert!(from_csv("a,b\nx,y\n").is_err());
        assert!(from_csv(&format!("{OLD_HEADER}\ngproc,scale,names,m,1,ns\n")).is_err());
    }

    #[test]
    fn params_keep_their_text() {
        let p = Params::parse("kill_rate=0.010;names=100;keys=zipf").unwrap();
        assert_eq!(p.to_string(), "kill_rate=0.010;names=100;keys=zipf");
        assert_eq!(p.num("kill_rate"), Some(0.01));
        assert!(Params::parse("names").is_none());
        let sub = Params::parse("keys=zipf").unwrap();
        assert!(sub.agrees_with(&p));
    }
}

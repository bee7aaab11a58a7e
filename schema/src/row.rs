//! The one result row type, for every workload (single-node, shard, recovery, multi-node),
//! and its CSV form.
//!
//! CSV, one file per workload: `run,backend,workload,params,metric,value,lo,hi,repeats,unit,
//! skipped`. `params` is `key=value` pairs joined by `;`. `value` is the median over
//! `repeats` measurements (each in a fresh process) and `lo..hi` their range (min..max);
//! both are empty for a single measurement. A skip has an empty value and its reason in
//! `skipped`. Files in the older six-column form
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
    /// The range (min..max) of the measurements `value` is the median of, if repeated.
    pub interval: Option<(f64, f64)>,
    /// How many measurements `value` is the median of (1 for a single one).
    pub repeats: u32,
}

impl Row {
    /// This row as the median of `n` measurements spanning `range` (min..max); one
    /// measurement keeps no interval.
    pub fn over(self, n: u32, range: (f64, f64)) -> Row {
        Row {
            interval: (n > 1).then_some(range),
            repeats: n.max(1),
            ..self
        }
    }

    /// The interval of the value: its range over repeats, or the value itself.
    pub fn range(&self) -> Option<(f64, f64)> {
        let v = self.value()?;
        Some(self.interval.unwrap_or((v, v)))
    }

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
pub const HEADER: &str = "run,backend,workload,params,metric,value,lo,hi,repeats,unit,skipped";
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
        let (lo, hi) = r.interval.map_or((String::new(), String::new()), |(l, h)| {
            (l.to_string(), h.to_string())
        });
        let _ = writeln!(
            out,
            "{},{},{},{},{},{value},{lo},{hi},{},{},{}",
            escape(&r.run),
            escape(&r.backend),
            escape(&r.workload),
            escape(&r.params.to_string()),
            escape(&r.metric),
            r.repeats,
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
        let want = if old { 6 } else { 11 };
        if f.len() != want {
            return Err(format!(
                "line {n}: expected {want} fields, found {}",
                f.len()
            ));
        }
        // The older form, mapped onto the newer one's columns.
        let f: Vec<String> = if old {
            let skip = f[3] == "skipped";
            let (metric, value, unit, reason) = if skip {
                (String::new(), String::new(), String::new(), f[5].clone())
            } else {
                (f[3].clone(), f[4].clone(), f[5].clone(), String::new())
            };
            let (b, w, p) = (f[0].clone(), f[1].clone(), f[2].clone());
            let none = String::new;
            vec![
                none(),
                b,
                w,
                p,
                metric,
                value,
                none(),
                none(),
                none(),
                unit,
                reason,
            ]
        } else {
            f
        };
        let num = |s: &str, what: &str| {
            s.parse::<f64>()
                .map_err(|e| format!("line {n}: bad {what} {s:?}: {e}"))
        };
        let params =
            Params::parse(&f[3]).ok_or_else(|| format!("line {n}: bad params {:?}", f[3]))?;
        let outcome = if !f[10].is_empty() {
            Outcome::Skipped(f[10].clone())
        } else {
            Outcome::Value(num(&f[5], "value")?)
        };
        let interval = match (f[6].as_str(), f[7].as_str()) {
            ("", "") => None,
            (lo, hi) => Some((num(lo, "lo")?, num(hi, "hi")?)),
        };
        let repeats = match f[8].as_str() {
            "" => 1,
            r => r
                .parse()
                .map_err(|e| format!("line {n}: bad repeats {r:?}: {e}"))?,
        };
        if f[1].is_empty() || f[2].is_empty() {
            return Err(format!("line {n}: empty backend or workload"));
        }
        if f[4].is_empty() && !matches!(outcome, Outcome::Skipped(_)) {
            return Err(format!("line {n}: a value with no metric"));
        }
        rows.push(Row {
            run: f[0].clone(),
            backend: f[1].clone(),
            workload: f[2].clone(),
            params,
            metric: f[4].clone(),
            outcome,
            unit: f[9].clone(),
            interval,
            repeats,
        });
    }
    Ok(rows)
}

/// Rows of repeated measurements (each repeat in a fresh process, or a round in one) as one
/// row per point: the median value, the range (min..max) of every measurement behind it
/// (a repeat's own range where it has one: a row that is itself the median of rounds) and
/// how many measurements that is. A single row is kept as it is. A point measured in some
/// repeats keeps those; a point skipped in every repeat stays a skip. Points keep their
/// first-seen order.
pub fn aggregate(rows: Vec<Row>) -> Vec<Row> {
    let key = |r: &Row| {
        (
            r.backend.clone(),
            r.workload.clone(),
            r.params.to_string(),
            r.metric.clone(),
        )
    };
    let mut order = Vec::new();
    let mut groups: std::collections::HashMap<_, Vec<Row>> = std::collections::HashMap::new();
    for r in rows {
        let k = key(&r);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(r);
    }
    let mut out = Vec::new();
    for k in order {
        let group = groups.remove(&k).unwrap_or_default();
        let (mut measured, skips): (Vec<Row>, Vec<Row>) =
            group.into_iter().partition(|r| r.value().is_some());
        if measured.len() <= 1 {
            // Nothing to combine: a single measurement keeps its own range and count, and a
            // point skipped in every repeat stays its first skip.
            out.extend(measured.pop().or_else(|| skips.into_iter().next()));
            continue;
        }
        let mut values: Vec<f64> = measured.iter().filter_map(Row::value).collect();
        let ranges: Vec<(f64, f64)> = measured.iter().filter_map(Row::range).collect();
        let measurements: u32 = measured.iter().map(|r| r.repeats.max(1)).sum();
        let first = measured.swap_remove(0);
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        let lo = ranges.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let hi = ranges.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
        out.push(Row {
            outcome: Outcome::Value(median),
            interval: Some((lo, hi)),
            repeats: measurements,
            ..first
        });
    }
    out
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
            interval: None,
            repeats: 1,
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
    fn aggregates_repeats_into_median_and_range() {
        let mut rows = Vec::new();
        for v in [3.0, 1.0, 2.0] {
            rows.push(row("ops_per_sec", Outcome::Value(v)));
        }
        rows.push(row("", Outcome::Skipped("never".into())));
        let agg = aggregate(rows);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[0].value(), Some(2.0));
        assert_eq!(agg[0].interval, Some((1.0, 3.0)));
        assert_eq!(agg[0].repeats, 3);
        assert!(agg[1].is_skip());
        let back = from_csv(&to_csv(&agg)).unwrap();
        assert_eq!(back, agg);
    }

    #[test]
    fn a_repeat_that_is_itself_a_median_of_rounds_keeps_its_range() {
        let with = |v: f64, lo: f64, hi: f64, n: u32| Row {
            interval: Some((lo, hi)),
            repeats: n,
            ..row("ops_per_sec", Outcome::Value(v))
        };
        // `over` gives a median of several its range, and a single measurement none.
        let r = row("ops_per_sec", Outcome::Value(10.0));
        assert_eq!(r.clone().over(6, (8.0, 12.0)).interval, Some((8.0, 12.0)));
        assert_eq!(r.over(1, (10.0, 10.0)).interval, None);
        // One process: its row is kept whole, range and round count included.
        let one = aggregate(vec![with(10.0, 8.0, 12.0, 6)]);
        assert_eq!((one[0].interval, one[0].repeats), (Some((8.0, 12.0)), 6));
        // A skip beside one measurement does not hide it.
        let mixed = aggregate(vec![
            row("ops_per_sec", Outcome::Skipped("no overlap".into())),
            with(10.0, 8.0, 12.0, 6),
        ]);
        assert_eq!(mixed.len(), 1);
        assert_eq!(mixed[0].value(), Some(10.0));
        // Several processes: the median of their medians, and the range of every round.
        let three = aggregate(vec![
            with(10.0, 8.0, 12.0, 6),
            with(20.0, 19.0, 25.0, 6),
            with(11.0, 5.0, 11.5, 6),
        ]);
        assert_eq!(three[0].value(), Some(11.0));
        assert_eq!(three[0].interval, Some((5.0, 25.0)));
        assert_eq!(three[0].repeats, 18);
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

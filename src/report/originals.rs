//! Each rebuilding against its BEAM original: for every summary column of every
//! workload (the metrics the workloads declare as their headline figures), how many times
//! faster or slower (smaller, better, ...) each of a family's backends on this suite's
//! runtime measured than the BEAM original of that family, at the same parameters, with
//! the ratio's range from the two values' ranges over repeats.

use naming_schema::{Better, Origin, Unit};

use super::data::{Data, Rec};
use super::plot::si;

/// One comparison, in words: `registry-dashmap is 3.1× faster than its BEAM original
/// beam-registry on lookup throughput (names=10000, ...): ...`.
pub fn statements(data: &Data) -> Vec<String> {
    let mut out = Vec::new();
    let originals: Vec<_> = data
        .catalogue
        .backends
        .iter()
        .filter(|i| i.origin == Origin::Beam)
        .collect();
    for w in &data.catalogue.workloads {
        for col in w.columns {
            let m = col.metric;
            if m.better == Better::Neither {
                continue;
            }
            let recs: Vec<&Rec> = data
                .measured(w.name, m)
                .filter(|r| col.filter.pass(&r.row.params))
                .collect();
            for o in &originals {
                let theirs: Vec<&&Rec> = recs.iter().filter(|r| r.who == o.label).collect();
                if theirs.is_empty() {
                    continue;
                }
                let rebuildings =
                    data.catalogue.backends.iter().filter(|i| {
                        i.family == o.family && i.origin == Origin::Suite && !i.is_floor()
                    });
                for rb in rebuildings {
                    // The last point both measured (the sweeps run small to large).
                    let pair = recs
                        .iter()
                        .rev()
                        .filter(|r| r.who == rb.label)
                        .find_map(|r| {
                            let b = theirs
                                .iter()
                                .find(|b| b.at == r.at && b.source == r.source)?;
                            Some((*r, **b))
                        });
                    if let Some((mine, beam)) = pair {
                        if let Some(s) = statement(rb.label, o.label, m, w.name, mine, beam) {
                            out.push(s);
                        }
                    }
                }
            }
        }
    }
    out
}

/// `mine` over `beam` in words, with the ratio's range; `None` where a value is zero (a
/// ratio would say nothing).
fn statement(
    mine_label: &str,
    beam_label: &str,
    m: &naming_schema::Metric,
    workload: &str,
    mine: &Rec,
    beam: &Rec,
) -> Option<String> {
    let (v, b) = (mine.row.value()?, beam.row.value()?);
    let (vlo, vhi) = mine.row.range()?;
    let (blo, bhi) = beam.row.range()?;
    if v <= 0.0 || b <= 0.0 || vlo <= 0.0 || blo <= 0.0 {
        return None;
    }
    // How many times better the rebuilding is (> 1) or worse (< 1), and its range.
    let (ratio, lo, hi) = match m.better {
        Better::Higher => (v / b, vlo / bhi, vhi / blo),
        _ => (b / v, blo / vhi, bhi / vlo),
    };
    let (better, worse) = match m.unit {
        Unit::Ns | Unit::Us | Unit::Ms | Unit::OpsPerSec | Unit::PerSec => ("faster", "slower"),
        Unit::Bytes => ("smaller", "larger"),
        _ => ("better", "worse"),
    };
    let (factor, word, flo, fhi) = if ratio >= 1.0 {
        (ratio, better, lo, hi)
    } else {
        (1.0 / ratio, worse, 1.0 / hi, 1.0 / lo)
    };
    let unit = m.unit.symbol();
    Some(format!(
        "`{mine_label}` is {factor:.2}× {word} than its BEAM original `{beam_label}` on {} ({workload}; {}): {} {unit} [{}..{}] against {} {unit} [{}..{}], so {flo:.2}×..{fhi:.2}× over the ranges",
        m.title,
        mine.at.to_string().replace(';', ", "),
        si(v),
        si(vlo),
        si(vhi),
        si(b),
        si(blo),
        si(bhi),
    ))
}

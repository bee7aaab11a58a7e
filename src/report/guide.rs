//! The decision guide, computed from the rows: for each situation a designer meets, the
//! backend that measured best, its margin over the runner-up, the backends that could not
//! take part and why (their skip rows), and how that compares with seed 003's table of
//! which naming strategy to use when.

use std::collections::{BTreeMap, BTreeSet};

use super::data::{is_floor, normalize, param_num, params_agree, private_keys, Data};
use super::figures::size_score;
use super::plot::si;

/// The naming strategy families of seed 003's "what? / when?" table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// Processes find each other at startup (pids passed down): no registry at all.
    StartupDiscovery,
    /// A fixed set of locally registered names (`Process.register/2`).
    SimpleRegistration,
    /// Names made as atoms at run time (`:"worker_#{id}"`), bounded by the atom table.
    DynamicAtoms,
    /// A registry of arbitrary terms: Elixir `Registry` (unique or duplicate keys), gproc,
    /// a monitor-based registry.
    RichRegistration,
    /// Anything else (routers, recovery strategies, unknown labels).
    Other,
}

impl Family {
    /// The family of a backend label, by the words its label carries.
    pub fn of(label: &str) -> Family {
        let l = label.to_ascii_lowercase();
        if l.contains("discovery") || l.contains("startup") {
            Family::StartupDiscovery
        } else if l.contains("static") {
            Family::SimpleRegistration
        } else if l.contains("atom") {
            Family::DynamicAtoms
        } else if l.contains("registry") || l.contains("gproc") || l.contains("duplicate") {
            Family::RichRegistration
        } else {
            Family::Other
        }
    }

    /// The name seed 003 uses.
    pub fn name(self) -> &'static str {
        match self {
            Family::StartupDiscovery => "startup discovery",
            Family::SimpleRegistration => "simple registration",
            Family::DynamicAtoms => "dynamic atoms",
            Family::RichRegistration => "rich registration",
            Family::Other => "other",
        }
    }
}

/// A situation of the guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Situation {
    /// A handful of long-lived services, looked up often.
    FewFixedServices,
    /// Many short-lived sessions, each registered under its id.
    ManySessions,
    /// Publish/subscribe groups: one key, many members.
    PubSubGroups,
    /// Workers dying and restarting under load.
    HeavyChurn,
    /// A very large number of registered names.
    VeryManyNames,
}

/// Every situation, in guide order.
pub const SITUATIONS: [Situation; 5] = [
    Situation::FewFixedServices,
    Situation::ManySessions,
    Situation::PubSubGroups,
    Situation::HeavyChurn,
    Situation::VeryManyNames,
];

impl Situation {
    /// The situation in words.
    pub fn name(self) -> &'static str {
        match self {
            Situation::FewFixedServices => "a few fixed services",
            Situation::ManySessions => "many short-lived sessions keyed by id",
            Situation::PubSubGroups => "pub/sub groups",
            Situation::HeavyChurn => "heavy churn",
            Situation::VeryManyNames => "a very large number of names",
        }
    }

    /// How it is judged: criteria tried in order until one has rows.
    fn criteria(self) -> &'static [Criterion] {
        match self {
            Situation::FewFixedServices => &[
                Criterion {
                    workload: "lookup",
                    metric: "ops_per_sec",
                    what: "lookup throughput",
                    higher_better: true,
                    at: ("names", Extreme::Min),
                    prefer: &[("keys", "uniform")],
                    tiebreak: None,
                },
                Criterion {
                    workload: "routing",
                    metric: "ops_per_sec",
                    what: "routed calls per second",
                    higher_better: true,
                    at: ("workers", Extreme::Min),
                    prefer: &[("mode", "closed")],
                    tiebreak: None,
                },
            ],
            Situation::ManySessions => &[
                Criterion {
                    workload: "scale",
                    metric: "register_unregister_ns",
                    what: "register + unregister time",
                    higher_better: false,
                    at: ("names", Extreme::Max),
                    prefer: &[],
                    tiebreak: None,
                },
                Criterion {
                    workload: "scale",
                    metric: "register_ns",
                    what: "registration time",
                    higher_better: false,
                    at: ("names", Extreme::Max),
                    prefer: &[],
                    tiebreak: None,
                },
            ],
            Situation::PubSubGroups => &[Criterion {
                workload: "fanout",
                metric: "dispatch_all_received_ns",
                what: "time until every member received",
                higher_better: false,
                at: ("members", Extreme::Max),
                prefer: &[],
                tiebreak: None,
            }],
            Situation::HeavyChurn => &[
                Criterion {
                    workload: "churn",
                    metric: "failed_stale_per_call",
                    what: "failed + stale calls per call",
                    higher_better: false,
                    at: ("kill_rate", Extreme::Max),
                    prefer: &[],
                    tiebreak: Some(("reregister_p99_ns", "re-registration p99")),
                },
                Criterion {
                    workload: "churn",
                    metric: "reregister_p99_ns",
                    what: "re-registration p99",
                    higher_better: false,
                    at: ("kill_rate", Extreme::Max),
                    prefer: &[],
                    tiebreak: None,
                },
            ],
            Situation::VeryManyNames => &[Criterion {
                workload: "scale",
                metric: "bytes_per_name",
                what: "heap bytes per name",
                higher_better: false,
                at: ("names", Extreme::Max),
                prefer: &[],
                tiebreak: Some(("register_ns", "registration time")),
            }],
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Extreme {
    Min,
    Max,
}

/// One way of judging a situation.
#[derive(Clone, Copy, Debug)]
struct Criterion {
    workload: &'static str,
    metric: &'static str,
    what: &'static str,
    higher_better: bool,
    /// The parameter and the end of its range that the situation is about.
    at: (&'static str, Extreme),
    /// Parameter values to use where recorded.
    prefer: &'static [(&'static str, &'static str)],
    /// A second metric (same workload, lower is better) that orders ties.
    tiebreak: Option<(&'static str, &'static str)>,
}

/// Seed 003's "what? / when?" table, and the situations of this guide each row speaks for.
/// Rich registration also covers pub/sub: the seed's rich-registration slides show gproc
/// properties (`{:p, :l, key}`) with `lookup_pids` and `send` to the whole group.
pub const SEED_003: &[(Family, &str, &[Situation])] = &[
    (
        Family::StartupDiscovery,
        "small scope; high coupling; all-or-nothing",
        &[Situation::FewFixedServices],
    ),
    (
        Family::SimpleRegistration,
        "statical services",
        &[Situation::FewFixedServices],
    ),
    (
        Family::DynamicAtoms,
        "a few instances; finite set of possible aliases",
        &[Situation::FewFixedServices],
    ),
    (
        Family::RichRegistration,
        "many instances; unknown number of aliases",
        &[
            Situation::ManySessions,
            Situation::PubSubGroups,
            Situation::HeavyChurn,
            Situation::VeryManyNames,
        ],
    ),
];

/// A family within this factor of the winner counts as "close".
pub const CLOSE: f64 = 1.25;

/// What the guide concluded for one situation.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The situation.
    pub situation: Situation,
    /// What was compared: workload, metric, parameters, source, direction.
    pub basis: String,
    /// Backends and their values, best first.
    pub ranking: Vec<(String, f64)>,
    /// The unit of the values.
    pub unit: String,
    /// Whether higher values are better.
    pub higher_better: bool,
    /// The winner, if any backend was measured.
    pub winner: Option<String>,
    /// The runner-up.
    pub runner_up: Option<String>,
    /// How much better the winner is than the runner-up (>= 1; infinite if the runner-up
    /// is infinitely worse, e.g. any failures against none; NaN for negative values).
    pub ratio: Option<f64>,
    /// The margin in words.
    pub margin: String,
    /// Backends that could not take part, with the reason (skip rows, correctness).
    pub failures: Vec<(String, String)>,
    /// Backends with rows in this workload but none at these parameters.
    pub unmeasured: Vec<String>,
    /// Whether the winner's family is one seed 003 recommends here (`None`: no winner).
    pub seed_agrees: Option<bool>,
    /// The comparison with seed 003 in words.
    pub seed_text: String,
}

/// One cell of the seed comparison: a seed row against a situation.
#[derive(Clone, Debug)]
pub struct SeedCell {
    /// The situation.
    pub situation: Situation,
    /// Whether the seed recommends the family here.
    pub recommended: bool,
    /// What was measured for the family's best backend.
    pub outcome: String,
    /// Whether measurement and seed agree (`None`: the family was not measured).
    pub agrees: Option<bool>,
}

/// One row of seed 003's table, checked against the measurements.
#[derive(Clone, Debug)]
pub struct SeedRow {
    /// The family ("what?").
    pub family: Family,
    /// The seed's "when?".
    pub when: &'static str,
    /// Backends of that family in the results.
    pub backends: Vec<String>,
    /// One cell per situation.
    pub cells: Vec<SeedCell>,
}

/// The whole guide.
#[derive(Clone, Debug)]
pub struct Guide {
    /// One verdict per situation.
    pub verdicts: Vec<Verdict>,
    /// Seed 003's table, row by row, against the measurements.
    pub seed: Vec<SeedRow>,
}

/// `o.is_none_or(f)`, which needs Rust 1.82.
fn none_or<T>(o: Option<T>, f: impl FnOnce(T) -> bool) -> bool {
    match o {
        Some(x) => f(x),
        None => true,
    }
}

fn ratio_text(v: f64) -> String {
    if v.is_nan() {
        "n/a (negative values)".into()
    } else if v.is_infinite() {
        "∞".into()
    } else {
        format!("{v:.2}×")
    }
}

/// How much better `a` is than `b` (>= 1 when `a` is better).
/// NaN where a value is negative (no ratio means anything there).
fn ratio(a: f64, b: f64, higher_better: bool) -> f64 {
    let (good, bad) = if higher_better { (a, b) } else { (b, a) };
    if good < 0.0 || bad < 0.0 {
        f64::NAN
    } else if good == bad {
        1.0
    } else if bad == 0.0 {
        f64::INFINITY
    } else {
        good / bad
    }
}

/// Backends whose rows show a broken uniqueness guarantee (`duplicate_owners` > 0).
fn incorrect(data: &Data) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in data
        .recs
        .iter()
        .filter(|r| r.row.metric == "duplicate_owners")
    {
        if r.row.value > 0.0 {
            out.entry(r.row.backend.clone()).or_insert_with(|| {
                format!(
                    "two live owners of one name ({} in {} at {})",
                    r.row.value, r.row.workload, r.row.params
                )
            });
        }
    }
    out
}

fn judge(data: &Data, situation: Situation, bad: &BTreeMap<String, String>) -> Verdict {
    let mut verdict = Verdict {
        situation,
        basis: String::new(),
        ranking: Vec::new(),
        unit: String::new(),
        higher_better: true,
        winner: None,
        runner_up: None,
        ratio: None,
        margin: String::new(),
        failures: Vec::new(),
        unmeasured: Vec::new(),
        seed_agrees: None,
        seed_text: String::new(),
    };
    let Some((c, src, params)) = situation
        .criteria()
        .iter()
        .find_map(|c| choose(data, c).map(|(s, p)| (*c, s, p)))
    else {
        verdict.basis = format!(
            "no rows for {}",
            situation
                .criteria()
                .iter()
                .map(|c| format!("{}/{}", c.workload, c.metric))
                .collect::<Vec<_>>()
                .join(" or ")
        );
        // Still report who cannot do it at all.
        let w = situation.criteria()[0].workload;
        verdict.failures = skipped(data, w, None);
        verdict.seed_text = "not measured".into();
        return verdict;
    };
    verdict.higher_better = c.higher_better;
    let tag = &data.sources[src].tag;
    verdict.basis = format!(
        "{} (`{}/{}`) at `{}` from `{}`, {} is better{}",
        c.what,
        c.workload,
        c.metric,
        params,
        tag,
        if c.higher_better { "higher" } else { "lower" },
        c.tiebreak
            .map(|(_, w)| format!("; ties broken by {w}"))
            .unwrap_or_default()
    );
    let at = |backend: &str, metric: &str| {
        let private = private_keys(data.measured(c.workload, metric));
        data.measured(c.workload, metric)
            .find(|r| {
                r.source == src
                    && r.row.backend == backend
                    && normalize(&r.row.params, &private) == params
            })
            .map(|r| (r.row.value, r.row.unit.clone()))
    };
    let mut ranked: Vec<(String, f64, f64)> = Vec::new();
    for b in data.ordered(|b| !is_floor(b)) {
        if let Some((v, unit)) = at(b, c.metric) {
            if let Some(reason) = bad.get(b) {
                verdict.failures.push((b.to_string(), reason.clone()));
                continue;
            }
            verdict.unit = unit;
            let t = c
                .tiebreak
                .and_then(|(m, _)| at(b, m))
                .map_or(f64::INFINITY, |(v, _)| v);
            ranked.push((b.to_string(), v, t));
        }
    }
    ranked.sort_by(|a, b| {
        let primary = if c.higher_better {
            b.1.total_cmp(&a.1)
        } else {
            a.1.total_cmp(&b.1)
        };
        primary.then(a.2.total_cmp(&b.2))
    });
    verdict.ranking = ranked.iter().map(|(b, v, _)| (b.clone(), *v)).collect();
    verdict
        .failures
        .extend(skipped(data, c.workload, Some(&params)));
    let ranked_names: BTreeSet<&str> = ranked.iter().map(|r| r.0.as_str()).collect();
    let failed: BTreeSet<String> = verdict.failures.iter().map(|f| f.0.clone()).collect();
    let in_workload: BTreeSet<&str> = data
        .recs
        .iter()
        .filter(|r| r.row.workload == c.workload && !is_floor(&r.row.backend))
        .map(|r| r.row.backend.as_str())
        .collect();
    verdict.unmeasured = data
        .ordered(|b| in_workload.contains(b) && !ranked_names.contains(b) && !failed.contains(b))
        .into_iter()
        .map(String::from)
        .collect();

    if let Some(w) = ranked.first() {
        verdict.winner = Some(w.0.clone());
        if let Some(r) = ranked.get(1) {
            verdict.runner_up = Some(r.0.clone());
            let q = ratio(w.1, r.1, c.higher_better);
            verdict.ratio = Some(q);
            verdict.margin = if q == 1.0 {
                match c.tiebreak {
                    Some((_, what)) if w.2.is_finite() && r.2.is_finite() => format!(
                        "tied with {} at {}; wins on {} by {} ({} vs {})",
                        r.0,
                        si(w.1),
                        what,
                        ratio_text(ratio(w.2, r.2, false)),
                        si(w.2),
                        si(r.2)
                    ),
                    _ => format!("tied with {} at {}", r.0, si(w.1)),
                }
            } else {
                format!(
                    "{} better than runner-up {} ({} vs {} {})",
                    ratio_text(q),
                    r.0,
                    si(w.1),
                    si(r.1),
                    verdict.unit
                )
            };
        } else {
            verdict.margin = "the only backend measured".into();
        }
    }
    let recommended: Vec<Family> = SEED_003
        .iter()
        .filter(|(_, _, s)| s.contains(&situation))
        .map(|(f, _, _)| *f)
        .collect();
    let names = recommended
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ");
    match &verdict.winner {
        None => verdict.seed_text = "no backend measured".into(),
        Some(w) => {
            let fam = Family::of(w);
            let agrees = recommended.contains(&fam);
            verdict.seed_agrees = Some(agrees);
            verdict.seed_text = if agrees {
                format!(
                    "agrees: seed 003 suggests {names} here, and the winner `{w}` is {}",
                    fam.name()
                )
            } else {
                let best_rec = ranked
                    .iter()
                    .find(|(b, ..)| recommended.contains(&Family::of(b)));
                let behind = match best_rec {
                    Some((b, v, _)) => format!(
                        "; the best of those, `{b}`, is {} behind",
                        ratio_text(ratio(ranked[0].1, *v, c.higher_better))
                    ),
                    None => "; none of those was measured here".into(),
                };
                format!(
                    "disagrees: seed 003 suggests {names} here, but the winner `{w}` is {}{behind}",
                    fam.name()
                )
            };
        }
    }
    verdict
}

/// The (source, params) a criterion looks at: rows at the chosen end of its parameter,
/// preferring its preferred values, then the most backends, then the largest sizes.
fn choose(data: &Data, c: &Criterion) -> Option<(usize, String)> {
    let rows: Vec<_> = data
        .measured(c.workload, c.metric)
        .filter(|r| !is_floor(&r.row.backend))
        .collect();
    let preferred: Vec<_> = rows
        .iter()
        .filter(|r| {
            c.prefer
                .iter()
                .all(|(k, v)| none_or(r.row.param(k), |x| x == *v))
        })
        .copied()
        .collect();
    let rows = if preferred.is_empty() {
        rows
    } else {
        preferred
    };
    let (key, end) = c.at;
    let vals = rows.iter().filter_map(|r| param_num(&r.row, key));
    let target = match end {
        Extreme::Min => vals.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))),
        Extreme::Max => vals.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
    };
    let private = private_keys(data.measured(c.workload, c.metric));
    let mut cover: BTreeMap<(usize, String), BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        if target.is_none() || param_num(&r.row, key) == target {
            cover
                .entry((r.source, normalize(&r.row.params, &private)))
                .or_default()
                .insert(&r.row.backend);
        }
    }
    cover
        .into_iter()
        .max_by(|(a, ab), (b, bb)| {
            ab.len()
                .cmp(&bb.len())
                .then(size_score(&a.1).total_cmp(&size_score(&b.1)))
                .then(b.0.cmp(&a.0))
                .then(b.1.cmp(&a.1))
        })
        .map(|(k, _)| k)
}

/// Skip rows of `workload` (at parameters agreeing with `params`, if given), one per
/// backend and reason.
fn skipped(data: &Data, workload: &str, params: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for b in data.ordered(|b| !is_floor(b)) {
        for r in data.skips(workload).filter(|r| r.row.backend == b) {
            if none_or(params, |p| params_agree(&r.row.params, p, &[])) {
                let reason = if r.row.params.is_empty() {
                    r.row.unit.clone()
                } else {
                    format!("{} (at `{}`)", r.row.unit, r.row.params)
                };
                if !out.iter().any(|(ob, _)| ob == b) {
                    out.push((b.to_string(), reason));
                }
            }
        }
    }
    out
}

fn seed_rows(data: &Data, verdicts: &[Verdict]) -> Vec<SeedRow> {
    SEED_003
        .iter()
        .map(|(family, when, fits)| {
            let backends: Vec<String> = data
                .ordered(|b| !is_floor(b) && Family::of(b) == *family)
                .into_iter()
                .map(String::from)
                .collect();
            let cells = verdicts
                .iter()
                .map(|v| {
                    let recommended = fits.contains(&v.situation);
                    let best = v
                        .ranking
                        .iter()
                        .enumerate()
                        .find(|(_, (b, _))| Family::of(b) == *family);
                    let fails: Vec<&(String, String)> = v
                        .failures
                        .iter()
                        .filter(|(b, _)| Family::of(b) == *family)
                        .collect();
                    let (outcome, won) = match (best, v.ranking.first()) {
                        (Some((0, (b, _))), _) => (format!("`{b}` wins"), Some(true)),
                        (Some((i, (b, val))), Some((_, top))) => {
                            let q = ratio(*top, *val, v.higher_better);
                            let close = q.is_finite() && q <= CLOSE;
                            (
                                format!(
                                    "`{b}` ranks {} of {}, {} behind{}",
                                    i + 1,
                                    v.ranking.len(),
                                    ratio_text(q),
                                    if close { " (close)" } else { "" }
                                ),
                                Some(close),
                            )
                        }
                        _ if !fails.is_empty() => (
                            fails
                                .iter()
                                .map(|(b, r)| format!("`{b}` cannot: {r}"))
                                .collect::<Vec<_>>()
                                .join("; "),
                            Some(false),
                        ),
                        _ => ("not measured".into(), None),
                    };
                    let agrees = won.map(|good| good == recommended);
                    SeedCell {
                        situation: v.situation,
                        recommended,
                        outcome,
                        agrees,
                    }
                })
                .collect();
            SeedRow {
                family: *family,
                when,
                backends,
                cells,
            }
        })
        .collect()
}

/// Computes the guide from the rows.
pub fn compute(data: &Data) -> Guide {
    let bad = incorrect(data);
    let verdicts: Vec<Verdict> = SITUATIONS.iter().map(|s| judge(data, *s, &bad)).collect();
    let seed = seed_rows(data, &verdicts);
    Guide { verdicts, seed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_label() {
        assert_eq!(Family::of("registry-dashmap"), Family::RichRegistration);
        assert_eq!(Family::of("monitor-registry"), Family::RichRegistration);
        assert_eq!(Family::of("gproc"), Family::RichRegistration);
        assert_eq!(Family::of("duplicate-dashmap"), Family::RichRegistration);
        assert_eq!(Family::of("interned-atoms"), Family::DynamicAtoms);
        assert_eq!(Family::of("static-names"), Family::SimpleRegistration);
        assert_eq!(Family::of("dynamic-atoms"), Family::DynamicAtoms);
        assert_eq!(Family::of("startup-discovery"), Family::StartupDiscovery);
        assert_eq!(Family::of("modulo"), Family::Other);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(10.0, 5.0, true), 2.0);
        assert_eq!(ratio(5.0, 10.0, false), 2.0);
        assert!(ratio(0.0, 3.0, false).is_infinite());
        assert_eq!(ratio(0.0, 0.0, false), 1.0);
        assert!(ratio(0.0, -3.0, true).is_nan());
    }
}

//! The decision guide, computed from the rows: for each situation a designer meets, the
//! backend that measured best on the metric the workloads' declared judges name, its
//! margin over the runner-up, the backends that could not take part and why, and how that
//! compares with the "what? / when?" table of Saša Jurić's talk *Discovering processes*
//! (which strategy a BEAM designer is advised to use when).

use std::collections::{BTreeMap, BTreeSet};

use naming_schema::advice::{TalkRow, TALK};
use naming_schema::{Better, Judge, Situation, Workload};

use super::data::Data;
use super::plot::si;
use super::select::{headline, row_at, value_at, At, Focus};

/// The talk's row of a series (by its backend's declared family).
fn talk_row(data: &Data, who: &str) -> Option<&'static TalkRow> {
    let family = data.family(who)?;
    TALK.iter().find(|r| r.families.contains(&family))
}

/// A strategy within this factor of the winner counts as "close".
pub const CLOSE: f64 = 1.25;

/// Differences smaller than this factor are not told apart from re-run noise: the band
/// within which `naming-bench stability` counts two runs' medians as agreeing (±10%). A
/// backend this close to the winner ties with it (measured once or repeated: a single
/// measurement on a shared machine moves by this much between runs), as does one whose range
/// over repeats overlaps the winner's; a tie-break metric decides only by at least this much.
pub const RERUN_NOISE: f64 = 1.10;

/// What the guide concluded for one situation.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The situation.
    pub situation: Situation,
    /// What was compared: workload, metric, parameters, source, direction.
    pub basis: String,
    /// Series and their values, best first.
    pub ranking: Vec<(String, f64)>,
    /// Each ranked series' range [min, max] over repeats (`min == max` when measured once),
    /// in [`ranking`](Self::ranking)'s order.
    pub intervals: Vec<(f64, f64)>,
    /// The judged metric in a few words with its unit (`lookup throughput (ops/s)`); empty
    /// when nothing was measured.
    pub metric: String,
    /// Whether higher values are better.
    pub higher_better: bool,
    /// The winner, if any backend was measured.
    pub winner: Option<String>,
    /// The runner-up.
    pub runner_up: Option<String>,
    /// The winner and every backend whose interval overlaps the winner's: more than one is
    /// a tie (no measurable difference).
    pub tied: Vec<String>,
    /// How much better the winner is than the runner-up (>= 1; infinite if the runner-up
    /// is infinitely worse).
    pub ratio: Option<f64>,
    /// The margin in words.
    pub margin: String,
    /// Backends that could not take part, with the reason (skip rows, correctness).
    pub failures: Vec<(String, String)>,
    /// Backends with rows in this workload but none at these parameters.
    pub unmeasured: Vec<String>,
    /// Whether the winner's strategy is one the talk suggests here (`None`: no winner).
    pub talk_agrees: Option<bool>,
    /// The comparison with the talk in words.
    pub talk_text: String,
}

/// One cell of the talk comparison: a talk row against a situation.
#[derive(Clone, Debug)]
pub struct TalkCell {
    /// Whether the talk suggests the row's strategy here.
    pub recommended: bool,
    /// What was measured for the strategy's best backend.
    pub outcome: String,
    /// Whether measurement and talk agree (`None`: the strategy was not measured).
    pub agrees: Option<bool>,
}

/// One row of the talk's table, checked against the measurements.
#[derive(Clone, Debug)]
pub struct TalkCheck {
    /// The row.
    pub row: &'static TalkRow,
    /// Backends of that strategy in the results.
    pub backends: Vec<String>,
    /// One cell per situation.
    pub cells: Vec<TalkCell>,
}

/// The whole guide.
#[derive(Clone, Debug)]
pub struct Guide {
    /// One verdict per situation.
    pub verdicts: Vec<Verdict>,
    /// The talk's table, row by row, against the measurements.
    pub talk: Vec<TalkCheck>,
}

fn ratio_text(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else if v.is_infinite() {
        "∞".into()
    } else {
        format!("{v:.2}×")
    }
}

/// How much better `a` is than `b` (>= 1 when `a` is better); NaN for negative values.
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

/// Naming backends (one node or distributed) whose rows fail a correctness check (a
/// must-be-zero metric above 0).
fn incorrect(data: &Data) -> BTreeMap<String, String> {
    use naming_schema::Subject;
    let mut out = BTreeMap::new();
    for w in data
        .catalogue
        .workloads
        .iter()
        .filter(|w| matches!(w.subject, Subject::NamingBackends | Subject::Distributed))
    {
        for m in w.metrics.iter().filter(|m| m.must_be_zero) {
            for r in data
                .measured(w.name, m)
                .filter(|r| r.row.value() > Some(0.0))
            {
                out.entry(r.who.clone()).or_insert_with(|| {
                    format!(
                        "{} = {} in {} at {} (must be 0)",
                        m.title,
                        si(r.row.value().unwrap_or(0.0)),
                        w.name,
                        r.row.params
                    )
                });
            }
        }
    }
    out
}

/// Backends whose rows show a leak: a metric declared `leak_along` a parameter that grew
/// from the first to the last value of that parameter (at the same other parameters).
fn leaks(data: &Data) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for w in &data.catalogue.workloads {
        for m in w.metrics.iter().filter(|m| m.leak_along.is_some()) {
            let along = m.leak_along.unwrap_or_default();
            let mut series: BTreeMap<(String, usize, String), Vec<(f64, f64)>> = BTreeMap::new();
            for r in data.measured(w.name, m) {
                if let (Some(x), Some(v)) = (r.row.params.num(along), r.row.value()) {
                    let rest = r.at.only(|k| k != along && k != "ops").to_string();
                    let key = (r.who.clone(), r.source, rest);
                    series.entry(key).or_default().push((x, v));
                }
            }
            for ((who, ..), mut pts) in series {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
                    if last.1 > first.1 {
                        out.entry(who).or_insert_with(|| {
                            format!(
                                "leaks: {} grew from {} to {} over {along} {}..{} in {}",
                                m.title,
                                si(first.1),
                                si(last.1),
                                first.0,
                                last.0,
                                w.name
                            )
                        });
                    }
                }
            }
        }
    }
    out
}

/// The judges of `situation`, in rank order, with their workloads.
fn judges_of(data: &Data, situation: Situation) -> Vec<(&'static Workload, &'static Judge)> {
    let mut out: Vec<_> = data
        .catalogue
        .workloads
        .iter()
        .flat_map(|w| w.judges.iter().map(move |j| (*w, j)))
        .filter(|(_, j)| j.situation == situation)
        .collect();
    out.sort_by_key(|(_, j)| j.rank);
    out
}

fn judge(
    data: &Data,
    situation: Situation,
    bad: &BTreeMap<String, String>,
    leaking: &BTreeMap<String, String>,
) -> Verdict {
    let mut verdict = Verdict {
        situation,
        basis: String::new(),
        ranking: Vec::new(),
        intervals: Vec::new(),
        metric: String::new(),
        higher_better: true,
        winner: None,
        runner_up: None,
        tied: Vec::new(),
        ratio: None,
        margin: String::new(),
        failures: Vec::new(),
        unmeasured: Vec::new(),
        talk_agrees: None,
        talk_text: String::new(),
    };
    let judges = judges_of(data, situation);
    let focus = |j: &Judge| Focus {
        filter: naming_schema::Filter::All,
        at: Some(j.at),
        prefer: j.prefer,
    };
    let Some((w, j, at)) = judges
        .iter()
        .find_map(|(w, j)| headline(data, w, j.metric, focus(j)).map(|a| (*w, *j, a)))
    else {
        let tried = judges
            .iter()
            .map(|(w, j)| format!("{}/{}", w.name, j.metric.name));
        verdict.basis = format!("no rows for {}", super::code_list(tried, " or "));
        if let Some((w, _)) = judges.first() {
            verdict.failures = skipped(data, w, None);
        }
        verdict.talk_text = "not measured".into();
        return verdict;
    };
    let higher = j.metric.better == Better::Higher;
    verdict.higher_better = higher;
    verdict.metric = format!("{} ({})", j.metric.title, j.metric.unit.symbol());
    let source = &data.sources[at.source];
    let quick = source.env.as_ref().is_some_and(|e| e.mode == "quick");
    let tiebreak = j.tiebreak.map(|t| format!("; ties broken by {}", t.title));
    verdict.basis = format!(
        "{} (`{}/{}`) at `{}` from `{}`{}, {} is better{}",
        j.metric.title,
        w.name,
        j.metric.name,
        at.params,
        source.tag,
        if quick {
            " (quick mode: small sizes)"
        } else {
            ""
        },
        j.metric.better.word(),
        tiebreak.unwrap_or_default()
    );
    let mut ranked: Vec<(String, f64, f64, (f64, f64))> = Vec::new();
    for b in data.ordered(|b| !data.is_floor(b)) {
        if let Some(r) = row_at(data, w.name, j.metric, b, &at) {
            let (Some(v), Some(range)) = (r.row.value(), r.row.range()) else {
                continue;
            };
            let leak = leaking.get(b).filter(|_| situation.penalises_leaks());
            if let Some(reason) = bad.get(b).or(leak) {
                verdict.failures.push((b.to_string(), reason.clone()));
                continue;
            }
            let t = j
                .tiebreak
                .and_then(|m| value_at(data, w.name, m, b, &at))
                .unwrap_or(f64::INFINITY);
            ranked.push((b.to_string(), v, t, range));
        }
    }
    let sign = if higher { -1.0 } else { 1.0 };
    ranked.sort_by(|a, b| {
        (sign * a.1)
            .total_cmp(&(sign * b.1))
            .then(a.2.total_cmp(&b.2))
    });
    verdict.ranking = ranked.iter().map(|(b, v, ..)| (b.clone(), *v)).collect();
    verdict.intervals = ranked.iter().map(|r| r.3).collect();
    let ranked_names: BTreeSet<&str> = ranked.iter().map(|r| r.0.as_str()).collect();
    // A backend measured on the judged metric took part, whatever else it skipped there
    // (a memory reading at the same point, say).
    let others = skipped(data, w, Some(&at));
    verdict.failures.extend(
        others
            .into_iter()
            .filter(|(b, _)| !ranked_names.contains(b.as_str())),
    );
    let failed: BTreeSet<String> = verdict.failures.iter().map(|f| f.0.clone()).collect();
    let in_workload: BTreeSet<&str> = data
        .recs
        .iter()
        .filter(|r| r.row.workload == w.name && !data.is_floor(&r.who))
        .map(|r| r.who.as_str())
        .collect();
    verdict.unmeasured = data
        .ordered(|b| in_workload.contains(b) && !ranked_names.contains(b) && !failed.contains(b))
        .into_iter()
        .map(String::from)
        .collect();

    if let Some(first) = ranked.first() {
        verdict.winner = Some(first.0.clone());
        let (lo, hi) = first.3;
        verdict.tied = ranked
            .iter()
            .filter(|r| {
                let overlaps = r.3 .0 <= hi && lo <= r.3 .1;
                let within_noise = ratio(first.1, r.1, higher) < RERUN_NOISE;
                overlaps || within_noise
            })
            .map(|r| r.0.clone())
            .collect();
        // A tie on the metric that a tie-break metric does not settle by more than the noise.
        if let (Some(second), Some(_)) = (ranked.get(1), j.tiebreak) {
            let tq = ratio(first.2, second.2, false);
            if ratio(first.1, second.1, higher) == 1.0
                && first.2.is_finite()
                && second.2.is_finite()
                && tq < RERUN_NOISE
                && !verdict.tied.contains(&second.0)
            {
                verdict.tied.push(second.0.clone());
            }
        }
        verdict.margin = match ranked.get(1) {
            None => "the only backend measured".into(),
            Some(second) => {
                verdict.runner_up = Some(second.0.clone());
                let q = ratio(first.1, second.1, higher);
                verdict.ratio = Some(q);
                let (a, b) = (first.3, second.3);
                let span = if higher {
                    (ratio(a.0, b.1, true), ratio(a.1, b.0, true))
                } else {
                    (ratio(a.1, b.0, false), ratio(a.0, b.1, false))
                };
                match j.tiebreak {
                    _ if verdict.tied.len() > 1 && (a.0 < a.1 || b.0 < b.1) => {
                        format!(
                            "tie: no measurable difference between {} here (their ranges over \
                             repeats overlap, or they differ by less than {:.0}%, the re-run noise)",
                            super::code_list(&verdict.tied, ", "),
                            (RERUN_NOISE - 1.0) * 100.0
                        )
                    }
                    _ if verdict.tied.len() > 1 && q != 1.0 => {
                        format!(
                            "tie: no measurable difference between {} here (measured once each, \
                             they differ by less than {:.0}%, the re-run noise)",
                            super::code_list(&verdict.tied, ", "),
                            (RERUN_NOISE - 1.0) * 100.0
                        )
                    }
                    Some(t) if verdict.tied.len() > 1 && q == 1.0 => {
                        format!(
                            "tie: {} at {}, and within {:.0}% on {} ({} vs {}), the re-run noise",
                            super::code_list(&verdict.tied, " = "),
                            si(first.1),
                            (RERUN_NOISE - 1.0) * 100.0,
                            t.title,
                            si(first.2),
                            si(second.2)
                        )
                    }
                    Some(t) if q == 1.0 && first.2.is_finite() && second.2.is_finite() => {
                        format!(
                            "tied with {} at {}; wins on {} by {} ({} vs {})",
                            second.0,
                            si(first.1),
                            t.title,
                            ratio_text(ratio(first.2, second.2, false)),
                            si(first.2),
                            si(second.2)
                        )
                    }
                    _ if q == 1.0 => format!("tied with {} at {}", second.0, si(first.1)),
                    _ => format!(
                        "{}{} better than runner-up {} ({} vs {} {})",
                        ratio_text(q),
                        if span.0 == span.1 {
                            String::new()
                        } else {
                            format!(" (range {}..{})", ratio_text(span.0), ratio_text(span.1))
                        },
                        second.0,
                        si(first.1),
                        si(second.1),
                        j.metric.unit.symbol()
                    ),
                }
            }
        };
    }
    if !situation.in_talk() {
        verdict.talk_text = "outside the talk (it is about one node)".into();
        return verdict;
    }
    let recommended: Vec<&TalkRow> = TALK
        .iter()
        .filter(|r| r.fits.contains(&situation))
        .collect();
    let names: Vec<&str> = recommended.iter().map(|r| r.what).collect();
    let names = names.join(", ");
    let row_of = |b: &str| talk_row(data, b);
    // The talk advises among BEAM strategies: it is checked against this suite's best
    // strategy; a Rust actor framework that won is named beside it.
    let framework = |b: &str| data.family(b) == Some(naming_schema::Family::ActorFramework);
    let ranked: Vec<_> = ranked.into_iter().filter(|r| !framework(&r.0)).collect();
    let framework_won = verdict.winner.as_deref().is_some_and(framework);
    let suite_tied: Vec<String> = if framework_won {
        ranked.first().map(|r| r.0.clone()).into_iter().collect()
    } else {
        verdict
            .tied
            .iter()
            .filter(|t| !framework(t))
            .cloned()
            .collect()
    };
    let talk_win = if framework_won {
        ranked.first().map(|r| r.0.clone())
    } else {
        verdict.winner.clone()
    };
    let framework_note = match (&verdict.winner, framework_won) {
        (Some(w), true) => {
            format!(" (overall winner `{w}` is a Rust actor framework, outside the talk)")
        }
        _ => String::new(),
    };
    match &talk_win {
        None => verdict.talk_text = "no backend measured".into(),
        Some(win) => {
            let fam = row_of(win);
            let agrees = suite_tied
                .iter()
                .any(|t| row_of(t).is_some_and(|f| recommended.contains(&f)));
            verdict.talk_agrees = Some(agrees);
            let fam_name = fam.map_or("none of its rows", |r| r.what);
            let win_word = if framework_won {
                "this suite's best strategy"
            } else {
                "the winner"
            };
            verdict.talk_text = if agrees {
                format!(
                    "agrees: the talk suggests {names} here, and {win_word} `{win}` is {fam_name}{framework_note}"
                )
            } else {
                let behind = match ranked
                    .iter()
                    .find(|(b, ..)| row_of(b).is_some_and(|f| recommended.contains(&f)))
                {
                    Some((b, v, ..)) => format!(
                        "; the best of those, `{b}`, is {} behind",
                        ratio_text(ratio(ranked[0].1, *v, higher))
                    ),
                    None => "; none of those was measured here".into(),
                };
                format!(
                    "disagrees: the talk suggests {names} here, but {win_word} `{win}` is {fam_name}{behind}{framework_note}"
                )
            };
        }
    }
    verdict
}

/// Skip rows of `w` (at parameters agreeing with `at`, if given), one per series.
fn skipped(data: &Data, w: &Workload, at: Option<&At>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for b in data.ordered(|b| !data.is_floor(b)) {
        for r in data.skips(w.name).filter(|r| r.who == b) {
            if at.is_none_or(|a| r.row.params.agrees_with(&a.params)) {
                let why = r.row.skip_reason().unwrap_or("").to_string();
                let reason = if r.row.params.is_empty() {
                    why
                } else {
                    format!("{why} (at `{}`)", r.row.params)
                };
                if !out.iter().any(|(ob, _)| ob == b) {
                    out.push((b.to_string(), reason));
                }
            }
        }
    }
    out
}

fn talk_checks(data: &Data, verdicts: &[Verdict]) -> Vec<TalkCheck> {
    let row_of = |b: &str| talk_row(data, b);
    TALK.iter()
        .map(|row| {
            let backends: Vec<String> = data
                .ordered(|b| row_of(b) == Some(row))
                .into_iter()
                .map(String::from)
                .collect();
            let cells = verdicts
                .iter()
                .filter(|v| v.situation.in_talk())
                .map(|v| {
                    let recommended = row.fits.contains(&v.situation);
                    let best = v
                        .ranking
                        .iter()
                        .enumerate()
                        .find(|(_, (b, _))| row_of(b) == Some(row));
                    let fails: Vec<String> = v
                        .failures
                        .iter()
                        .filter(|(b, _)| row_of(b) == Some(row))
                        .map(|(b, r)| format!("`{b}` cannot: {r}"))
                        .collect();
                    let (outcome, won) = match (best, v.ranking.first()) {
                        (Some((0, (b, _))), _) => (format!("`{b}` wins"), Some(true)),
                        (Some((_, (b, _))), _) if v.tied.contains(b) => {
                            (format!("`{b}` ties for best"), Some(true))
                        }
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
                        _ if !fails.is_empty() => (fails.join("; "), Some(false)),
                        _ => ("not measured".into(), None),
                    };
                    TalkCell {
                        recommended,
                        outcome,
                        agrees: won.map(|good| good == recommended),
                    }
                })
                .collect();
            TalkCheck {
                row,
                backends,
                cells,
            }
        })
        .collect()
}

/// Computes the guide from the rows.
pub fn compute(data: &Data) -> Guide {
    let bad = incorrect(data);
    let leaking = leaks(data);
    let verdicts: Vec<Verdict> = Situation::ALL
        .iter()
        .map(|s| judge(data, *s, &bad, &leaking))
        .collect();
    let talk = talk_checks(data, &verdicts);
    Guide { verdicts, talk }
}

#[cfg(test)]
mod tests {
    use super::*;
    use naming_schema::Family;

    #[test]
    fn ratios() {
        assert_eq!(ratio(10.0, 5.0, true), 2.0);
        assert_eq!(ratio(5.0, 10.0, false), 2.0);
        assert!(ratio(0.0, 3.0, false).is_infinite());
        assert_eq!(ratio(0.0, 0.0, false), 1.0);
        assert!(ratio(0.0, -3.0, true).is_nan());
    }

    #[test]
    fn every_naming_family_has_one_talk_row() {
        let naming = [
            Family::StartupDiscovery,
            Family::StaticNames,
            Family::DynamicAtoms,
            Family::Registry,
            Family::MonitorRegistry,
            Family::RichRegistry,
        ];
        for f in naming {
            let rows = TALK.iter().filter(|r| r.families.contains(&f)).count();
            assert_eq!(rows, 1, "{f:?}");
        }
        assert!(TALK.iter().all(|r| !r.families.contains(&Family::Floor)));
    }
}

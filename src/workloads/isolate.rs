//! Fresh processes and repeats: each unit of a workload (one backend; the routing floors;
//! or the whole workload where it compares routers, recovery schemes or a cluster) runs in
//! a new OS process, every repeat in a new shuffled order, so that no backend inherits
//! another's allocator state, deferred frees or warmed caches, and no order effect favours
//! one. The parent collects the rows of every repeat and keeps, per point, the median and
//! its range over the repeats ([`naming_schema::row::aggregate`]).
//!
//! A unit's process is this crate's binary: `naming-bench measure --workload W --unit U
//! --sizes S`, which writes its rows as CSV on stdout ([`measure_unit`] is its body).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use naming_schema::row::{aggregate, from_csv};
use naming_schema::{Params, Row};

use super::{routing, run_contenders, run_workload, Progress, RunError, Specs, PER_BACKEND};
use crate::contenders;

/// Where a unit runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// In this process (tests and benches that cannot spawn the binary).
    InProcess,
    /// In a fresh process of this binary (the `measure` subcommand).
    FreshProcess(PathBuf),
}

impl Isolation {
    /// Words for the run's settings.
    pub fn describe(&self) -> &'static str {
        match self {
            Isolation::InProcess => "in-process",
            Isolation::FreshProcess(_) => "fresh process per unit",
        }
    }
}

/// The sizes a run uses: which [`Specs`] a unit's process builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizes {
    /// For tests: seconds in all.
    Tiny,
    /// A few minutes in all.
    Quick,
    /// The full run.
    Full,
}

impl Sizes {
    /// The flag value (`tiny`, `quick`, `full`).
    pub fn name(self) -> &'static str {
        match self {
            Sizes::Tiny => "tiny",
            Sizes::Quick => "quick",
            Sizes::Full => "full",
        }
    }

    /// Parses a flag value.
    pub fn parse(s: &str) -> Result<Sizes, String> {
        match s {
            "tiny" => Ok(Sizes::Tiny),
            "quick" => Ok(Sizes::Quick),
            "full" => Ok(Sizes::Full),
            other => Err(format!("unknown sizes {other:?}: tiny, quick or full")),
        }
    }

    /// The workloads' parameters at these sizes (client counts from `NAMING_BENCH_CLIENTS`).
    pub fn specs(self) -> Result<Specs, String> {
        match self {
            Sizes::Tiny => Ok(Specs::tiny()),
            Sizes::Quick => Specs::new(true),
            Sizes::Full => Specs::new(false),
        }
    }
}

/// The unit that measures the routing floors.
const FLOORS: &str = "floors";
/// The unit that runs a whole workload.
const WHOLE: &str = "all";

/// The units of `workload` over the selected backends that take part in it.
pub fn units(workload: &str, backends: Option<&[String]>) -> Vec<String> {
    if !PER_BACKEND.contains(&workload) {
        return vec![WHOLE.to_string()];
    }
    let mut out: Vec<String> = contenders::labels_in(workload)
        .into_iter()
        .filter(|l| backends.is_none_or(|b| b.iter().any(|x| x == l)))
        .map(String::from)
        .collect();
    if workload == "routing" {
        out.push(FLOORS.to_string());
    }
    out
}

/// The sizes of the workloads whose sizes each get a process of their own (the number of
/// names, or of group members): what one size leaves in the allocator or the maps must
/// not weigh on the next.
fn sizes_of(workload: &str, specs: &Specs) -> Option<Vec<usize>> {
    match workload {
        "lookup" => Some(specs.lookup.sizes.clone()),
        "scale" => Some(specs.scale.sizes.clone()),
        "fanout" => Some(specs.fanout.members.clone()),
        _ => None,
    }
}

/// `specs` with `workload`'s sizes cut to `size` alone.
fn at_size(workload: &str, specs: &Specs, size: usize) -> Specs {
    let mut one = specs.clone();
    match workload {
        "lookup" => one.lookup.sizes = vec![size],
        "scale" => one.scale.sizes = vec![size],
        "fanout" => one.fanout.members = vec![size],
        _ => {}
    }
    one
}

/// The units of `workload` with each backend split by size where the workload has sizes
/// (`label@size`). A foreign contender stays one unit: its system starts afresh for
/// each unit anyway (a BEAM node of its own), and one start per workload keeps its
/// start-up out of the budget.
pub fn units_by_size(workload: &str, backends: Option<&[String]>, specs: &Specs) -> Vec<String> {
    let units = units(workload, backends);
    let foreign = crate::foreign::labels();
    match sizes_of(workload, specs) {
        Some(sizes) if sizes.len() > 1 => units
            .iter()
            .flat_map(|u| {
                if foreign.contains(&u.as_str()) {
                    vec![u.clone()]
                } else {
                    sizes.iter().map(|s| format!("{u}@{s}")).collect()
                }
            })
            .collect(),
        _ => units,
    }
}

/// Measures one unit in this process: the body of `naming-bench measure`. A unit
/// `label@size` measures that backend at that size alone.
pub fn measure_unit(
    workload: &str,
    unit: &str,
    specs: &Specs,
    progress: &dyn Progress,
) -> Vec<Row> {
    let sized = unit
        .rsplit_once('@')
        .and_then(|(label, size)| Some((label, size.parse::<usize>().ok()?)));
    let (unit, specs) = match sized {
        Some((label, size)) => (label, at_size(workload, specs, size)),
        None => (unit, specs.clone()),
    };
    match unit {
        WHOLE => run_workload(workload, &specs, None, progress),
        FLOORS => routing::routing_floors(&specs.routing, progress),
        // A foreign system measures its own direct call beside it (a call to a held pid on
        // its own runtime); the suite's would compare across runtimes.
        label if workload == "routing" && !crate::foreign::labels().contains(&label) => {
            routing::with_direct_ratio(
                run_contenders(workload, &specs, Some(&[label.to_string()]), progress),
                &specs.routing,
                progress,
            )
        }
        label => run_contenders(workload, &specs, Some(&[label.to_string()]), progress),
    }
}

/// A small deterministic shuffle (xorshift), so a run's order can be reproduced from its id.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..items.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

/// A seed from a run id.
pub fn seed_of(run_id: &str) -> u64 {
    crate::environment::fnv1a(run_id.as_bytes())
}

/// Runs one unit in a fresh process of `exe` (see [`crate::interrupt::spawn`]); rows, or
/// skip rows saying why it failed; `Interrupted` if the run was interrupted.
fn in_fresh_process(
    exe: &PathBuf,
    workload: &str,
    unit: &str,
    sizes: Sizes,
) -> Result<Vec<Row>, RunError> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "measure",
        "--workload",
        workload,
        "--unit",
        unit,
        "--sizes",
        sizes.name(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let out = match crate::interrupt::spawn(&mut cmd) {
        Ok(child) => {
            let pid = child.id();
            let out = child.wait_with_output();
            crate::interrupt::forget(pid);
            out
        }
        Err(e) => Err(e),
    };
    if crate::interrupt::interrupted() {
        return Err(RunError::Interrupted);
    }
    let why = match out {
        Ok(o) if o.status.success() => match from_csv(&String::from_utf8_lossy(&o.stdout)) {
            Ok(rows) => return Ok(rows),
            Err(e) => format!("the measuring process wrote no valid rows: {e}"),
        },
        Ok(o) => format!("the measuring process failed: {}", o.status),
        Err(e) => format!(
            "the measuring process ({}) did not start: {e}",
            exe.display()
        ),
    };
    Ok(failure_rows(workload, unit, &why))
}

/// Skip rows for a unit that could not be measured.
fn failure_rows(workload: &str, unit: &str, why: &str) -> Vec<Row> {
    let cat = crate::catalogue::catalogue();
    let decls: Vec<_> = cat
        .workloads
        .iter()
        .filter(|w| w.name == workload || w.name.starts_with(&format!("{workload}-")))
        .collect();
    let who: Vec<&str> = match unit {
        WHOLE | FLOORS => cat
            .backends
            .iter()
            .filter(|i| !i.is_floor() || unit == FLOORS)
            .map(|i| i.label)
            .collect(),
        label => vec![label],
    };
    let mut rows = Vec::new();
    for w in decls {
        let in_workload = |b: &str| {
            unit != WHOLE
                || cat
                    .identity(b)
                    .is_some_and(|i| !i.is_floor() && family_fits(w.subject, i.family))
        };
        for b in who.iter().filter(|b| in_workload(b)) {
            rows.push(w.skip(b, &Params::new(), why));
        }
    }
    rows
}

/// Whether backends of `family` take part in workloads of `subject`.
fn family_fits(subject: naming_schema::Subject, family: naming_schema::Family) -> bool {
    use naming_schema::{Family, Subject};
    match subject {
        Subject::Routers => family == Family::Router,
        Subject::RecoverySchemes => family == Family::RecoveryScheme,
        Subject::Distributed => family == Family::Distributed || family == Family::Registry,
        Subject::NamingBackends => family.is_naming() && family != Family::Distributed,
    }
}

/// What [`measure`] needs besides the workload.
pub struct Plan<'a> {
    /// The sizes.
    pub sizes: Sizes,
    /// The parameters at those sizes (used in-process).
    pub specs: &'a Specs,
    /// Only these backends; `None` for all.
    pub backends: Option<&'a [String]>,
    /// Measurements per point.
    pub repeats: usize,
    /// Where each unit runs.
    pub isolation: &'a Isolation,
    /// The shuffle's seed (from the run id).
    pub seed: u64,
}

/// Measures every unit of `workload` `plan.repeats` times, each repeat in a new shuffled
/// order, and returns one row per point (median, range, repeat count). Routing's ratio to
/// the direct call is taken from the aggregated medians.
pub fn measure(workload: &str, plan: &Plan, progress: &dyn Progress) -> Result<Vec<Row>, RunError> {
    let mut units = units_by_size(workload, plan.backends, plan.specs);
    // Quick mode keeps to a few minutes: unless chosen by name, the foreign contenders (a
    // BEAM node or another framework per unit) join only the workloads of
    // [`crate::foreign::QUICK_WORKLOADS`]; full runs take them everywhere.
    if plan.sizes == Sizes::Quick
        && plan.backends.is_none()
        && !crate::foreign::QUICK_WORKLOADS.contains(&workload)
    {
        let foreign = crate::foreign::labels();
        units.retain(|u| {
            let label = u.rsplit_once('@').map_or(u.as_str(), |(l, _)| l);
            !foreign.contains(&label)
        });
    }
    if units.is_empty() {
        progress.step(&format!(
            "{workload}: none of the selected backends takes part in it"
        ));
    }
    let mut rows = Vec::new();
    for r in 0..plan.repeats.max(1) {
        shuffle(
            &mut units,
            plan.seed ^ (r as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        for unit in &units {
            progress.step(&format!(
                "{workload} {unit} (repeat {}/{})",
                r + 1,
                plan.repeats
            ));
            rows.extend(match plan.isolation {
                Isolation::InProcess => measure_unit(workload, unit, plan.specs, progress),
                Isolation::FreshProcess(exe) => in_fresh_process(exe, workload, unit, plan.sizes)?,
            });
        }
    }
    let mut rows = aggregate(rows);
    if workload == "routing" {
        rows = routing::finish(rows);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_shuffles() {
        let all = units("routing", None);
        assert_eq!(all.last().map(String::as_str), Some(FLOORS));
        assert_eq!(units("reshard", None), [WHOLE]);
        let one = units("lookup", Some(&["gproc".to_string()]));
        assert_eq!(one, ["gproc"]);
        // A variant joins only the workloads it declares.
        let churn = units("churn", None);
        assert!(churn.iter().any(|u| u == "duplicate-dashmap"));
        assert!(!churn.iter().any(|u| u == "duplicate-flurry"));
        assert!(units("fanout", None)
            .iter()
            .any(|u| u == "duplicate-flurry"));
        assert!(units("scale", Some(&["registry-dashmap-partitioned".to_string()])).is_empty());
        let mut specs = Specs::tiny();
        specs.scale.sizes = vec![10, 20, 30];
        let sized = units_by_size("scale", Some(&["gproc".to_string()]), &specs);
        assert_eq!(sized, ["gproc@10", "gproc@20", "gproc@30"]);
        specs.scale.sizes = vec![10];
        assert_eq!(
            units_by_size("scale", Some(&["gproc".to_string()]), &specs),
            ["gproc"]
        );
        assert_eq!(at_size("scale", &specs, 7).scale.sizes, [7]);
        assert_eq!(units_by_size("reshard", None, &specs), [WHOLE]);
        let mut a: Vec<u32> = (0..20).collect();
        shuffle(&mut a, 7);
        let mut b = a.clone();
        b.sort();
        assert_eq!(b, (0..20).collect::<Vec<_>>(), "a permutation");
        assert_ne!(a, b, "and not the identity");
    }
}

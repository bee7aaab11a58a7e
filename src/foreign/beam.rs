//! The BEAM originals: each strategy's Erlang/Elixir original, run on a real BEAM node by
//! the project's Elixir harness (`beam/harness.exs`) through the same workloads, at the
//! same parameters, answering with rows in the suite's own form.
//!
//! Each unit (an original in a workload) starts a fresh node ([`node::Node`]), sends one
//! request (`run <label> <workload> <k=v;...>`, the workload's [`Specs`] flattened), reads
//! the rows back with a time limit and shuts the node down. Every row is checked against
//! the workload's declaration (metric, unit, backend) and re-made through it. Without
//! `elixir` every row is a skip saying to run `scripts/ensure-elixir.sh`; without a built
//! gproc (`NAMING_BENCH_GPROC_EBIN`) so are `beam-gproc`'s.

pub mod node;

use std::time::Duration;

use naming_schema::row::{from_csv, HEADER};
use naming_schema::{Family, Identity, Origin, Params, Row, Workload};

use super::ForeignSystem;
use crate::workloads::{Progress, Specs, DECLARATIONS};
use node::{elixir_installed, harness_path, Node};

/// Elixir's `Registry`, unique keys, one partition per scheduler, via tuples.
pub const REGISTRY: Identity = Identity::new("beam-registry", Family::Registry).on(Origin::Beam);
/// Elixir's `Registry`, duplicate keys and `Registry.dispatch/3`.
pub const REGISTRY_DUPLICATE: Identity =
    Identity::new("beam-registry-duplicate", Family::Registry).on(Origin::Beam);
/// `Process.register/2` with a declared set of names.
pub const REGISTER: Identity = Identity::new("beam-register", Family::StaticNames).on(Origin::Beam);
/// Dynamic atoms, `:"session_#{id}"`.
pub const ATOMS: Identity = Identity::new("beam-atoms", Family::DynamicAtoms).on(Origin::Beam);
/// The `KV.Registry` GenServer with monitors, lookups as calls.
pub const KV_REGISTRY: Identity =
    Identity::new("beam-kv-registry", Family::MonitorRegistry).on(Origin::Beam);
/// The `KV.Registry` variant whose lookups read its protected ETS table.
pub const KV_REGISTRY_ETS: Identity =
    Identity::new("beam-kv-registry-ets", Family::MonitorRegistry).on(Origin::Beam);
/// Pids handed over at start.
pub const STARTUP_DISCOVERY: Identity =
    Identity::new("beam-startup-discovery", Family::StartupDiscovery).on(Origin::Beam);
/// A scan of `Supervisor.which_children/1`.
pub const WHICH_CHILDREN: Identity =
    Identity::new("beam-which-children", Family::StartupDiscovery).on(Origin::Beam);
/// `:global` names on one node.
pub const GLOBAL: Identity = Identity::new("beam-global", Family::Distributed).on(Origin::Beam);
/// `:pg` process groups.
pub const PG: Identity = Identity::new("beam-pg", Family::Distributed).on(Origin::Beam);
/// gproc, when a built gproc is given (`NAMING_BENCH_GPROC_EBIN`).
pub const GPROC: Identity = Identity::new("beam-gproc", Family::RichRegistry).on(Origin::Beam);

/// Every BEAM original, in report order.
pub const ORIGINALS: [Identity; 11] = [
    REGISTRY,
    REGISTRY_DUPLICATE,
    REGISTER,
    ATOMS,
    KV_REGISTRY,
    KV_REGISTRY_ETS,
    STARTUP_DISCOVERY,
    WHICH_CHILDREN,
    GLOBAL,
    PG,
    GPROC,
];

/// The originals with groups (one key, many processes): the only ones fan-out measures.
const WITH_GROUPS: [&str; 3] = [REGISTRY_DUPLICATE.label, PG.label, GPROC.label];

/// The skip reason when `elixir` is missing.
pub const NOT_INSTALLED: &str =
    "elixir is not installed: run scripts/ensure-elixir.sh to run the BEAM originals";

/// The skip reason when no built gproc is given.
pub const NO_GPROC: &str =
    "gproc is not installed: set NAMING_BENCH_GPROC_EBIN to a built gproc ebin directory";

/// How long a node may take to start and load the harness.
const STARTUP: Duration = Duration::from_secs(60);

/// The BEAM originals as a foreign system.
pub struct Beam;

impl ForeignSystem for Beam {
    fn contenders(&self) -> Vec<Identity> {
        ORIGINALS.to_vec()
    }

    fn run(&self, label: &str, workload: &str, specs: &Specs, progress: &dyn Progress) -> Vec<Row> {
        let Some(decl) = DECLARATIONS.iter().copied().find(|w| w.name == workload) else {
            return Vec::new();
        };
        let Some((params, limit)) = request_params(workload, specs) else {
            return Vec::new();
        };
        let skip = |reason: &str| vec![decl.skip(label, &Params::new(), reason)];
        if workload == "fanout" && !WITH_GROUPS.contains(&label) {
            return specs
                .fanout
                .members
                .iter()
                .map(|m| {
                    decl.skip(
                        label,
                        &Params::new().with("members", m),
                        "no duplicate keys or properties: one process per name",
                    )
                })
                .collect();
        }
        if label == GPROC.label
            && std::env::var_os("NAMING_BENCH_GPROC_EBIN").is_none_or(|v| v.is_empty())
        {
            return skip(NO_GPROC);
        }
        if !elixir_installed() {
            return skip(NOT_INSTALLED);
        }
        progress.step(&format!("{workload} {label} (BEAM node)"));
        let line = format!("run {label} {workload} {params}");
        match run_request(&line, limit) {
            Ok((rows, error)) => {
                let (mut out, bad) = check_rows(decl, label, &rows);
                if let Some(reason) = bad.or(error) {
                    out.push(decl.skip(label, &Params::new(), &reason));
                }
                if out.is_empty() {
                    return skip("the BEAM harness answered with no rows");
                }
                out
            }
            Err(reason) => skip(&reason),
        }
    }
}

/// Starts a node, sends `line`, and returns the rows and the harness's error, if any; the
/// node is shut down on every path.
fn run_request(line: &str, limit: Duration) -> Result<(Vec<String>, Option<String>), String> {
    let mut node = Node::start(&harness_path(), STARTUP).map_err(|e| e.to_string())?;
    let answer = node.request(line, limit).map_err(|e| e.to_string())?;
    drop(node);
    Ok((answer.rows, answer.error))
}

/// The VM the BEAM originals run on, in one line (`None` without `elixir`): a node started
/// for this, exactly as each unit starts its own, so the run's environment record says
/// which OTP, ERTS, Elixir, schedulers and flags measured the BEAM rows.
pub fn vm_line() -> Option<String> {
    if !elixir_installed() {
        return None;
    }
    let node = Node::start(&harness_path(), STARTUP).ok()?;
    Some(node.vm().to_string())
}

/// Whether any of `backends` (all when `None`) is a BEAM original.
pub fn selected(backends: Option<&[String]>) -> bool {
    backends.is_none_or(|b| ORIGINALS.iter().any(|o| b.iter().any(|l| l == o.label)))
}

/// The rows in `lines` (the harness's CSV rows) re-made through `decl`, and the first
/// problem found: a row for another backend or workload, an undeclared metric, a unit
/// other than the declared one, or text that is not a row.
pub fn check_rows(decl: &Workload, label: &str, lines: &[String]) -> (Vec<Row>, Option<String>) {
    let text = format!("{HEADER}\n{}\n", lines.join("\n"));
    let rows = match from_csv(&text) {
        Ok(r) => r,
        Err(e) => {
            return (
                Vec::new(),
                Some(format!("the BEAM harness wrote a bad row: {e}")),
            )
        }
    };
    let mut out = Vec::new();
    let mut bad = None;
    for r in rows {
        if r.backend != label || r.workload != decl.name {
            bad.get_or_insert(format!(
                "the BEAM harness wrote a row of {} in {} for a request of {label} in {}",
                r.backend, r.workload, decl.name
            ));
            continue;
        }
        if let Some(reason) = r.skip_reason() {
            out.push(decl.skip(label, &r.params, reason));
            continue;
        }
        let Some(metric) = decl.metric(&r.metric) else {
            bad.get_or_insert(format!(
                "the BEAM harness wrote metric {:?}, which {} does not declare",
                r.metric, decl.name
            ));
            continue;
        };
        if r.unit != metric.unit.symbol() {
            bad.get_or_insert(format!(
                "the BEAM harness wrote {} in {:?}, declared in {:?}",
                r.metric,
                r.unit,
                metric.unit.symbol()
            ));
            continue;
        }
        match r.value() {
            // A median of several measurements keeps their range, if the range holds it.
            Some(v) if r.interval.is_some_and(|(lo, hi)| !(lo <= v && v <= hi)) => {
                bad.get_or_insert(format!(
                    "the BEAM harness wrote {} = {v} outside its range {:?}",
                    r.metric, r.interval
                ));
            }
            Some(v) => out.push(
                decl.row(label, &r.params, metric, v)
                    .over(r.repeats, r.interval.unwrap_or((v, v))),
            ),
            None => {
                bad.get_or_insert(format!("the BEAM harness wrote no number for {}", r.metric));
            }
        }
    }
    (out, bad)
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The request parameters of `workload` (its part of `specs`, flattened to `k=v;...`,
/// numbers as the suite writes them in rows) and how long the node may take to answer,
/// from the same figures with room for a slow, shared machine; `None` for a workload the
/// originals do not run.
pub fn request_params(workload: &str, s: &Specs) -> Option<(String, Duration)> {
    let ms = |d: Duration| d.as_millis();
    let (params, estimate) = match workload {
        "lookup" => {
            let l = &s.lookup;
            let points = l.sizes.len() * l.dists.len() * l.clients.len();
            let dists: Vec<&str> = l.dists.iter().map(|d| d.label()).collect();
            (
                format!(
                    "sizes={};dists={};clients={};ops_per_client={};max_client_time_ms={};repeats={}",
                    list(&l.sizes),
                    dists.join(","),
                    list(&l.clients),
                    l.ops_per_client,
                    ms(l.max_client_time),
                    l.repeats
                ),
                l.max_client_time * (points * (l.repeats + 1) * 6) as u32,
            )
        }
        "routing" => {
            let r = &s.routing;
            (
                format!(
                    "workers={};clients={};calls_per_client={};open_rates={};open_duration_ms={}",
                    r.workers,
                    list(&r.clients),
                    r.calls_per_client,
                    list(&r.open_rates),
                    ms(r.open_duration)
                ),
                r.open_duration * r.open_rates.len() as u32
                    + Duration::from_micros((r.calls_per_client * r.clients.len() * 100) as u64),
            )
        }
        "churn" => {
            let c = &s.churn;
            (
                format!(
                    "workers={};clients={};call_rate={};kill_rates={};duration_ms={}",
                    c.workers,
                    c.clients,
                    c.call_rate,
                    list(&c.kill_rates),
                    ms(c.duration)
                ),
                // Each point also settles (5 s at most) twice.
                (c.duration + Duration::from_secs(12)) * c.kill_rates.len() as u32,
            )
        }
        "scale" => {
            let c = &s.scale;
            let names: usize = c.sizes.iter().sum();
            (
                format!(
                    "sizes={};tasks={};max_named_starts={};max_concurrent_size={};pairs={};rounds={}",
                    list(&c.sizes),
                    list(&c.tasks),
                    c.max_named_starts,
                    c.max_concurrent_size,
                    c.pairs,
                    c.rounds
                ),
                Duration::from_micros(
                    (names * c.tasks.len() * c.rounds.max(1) * 200 + c.pairs * 50) as u64,
                ),
            )
        }
        "fanout" => {
            let f = &s.fanout;
            (
                format!("members={};repeats={}", list(&f.members), f.repeats),
                Duration::from_micros(
                    (f.members.iter().sum::<usize>() * (f.repeats + 1) * 50) as u64,
                ),
            )
        }
        "soak" => {
            let k = &s.soak;
            (
                format!(
                    "sessions={};phases={};ops_per_phase={};replace_rate={};clients={}",
                    k.sessions, k.phases, k.ops_per_phase, k.replace_rate, k.clients
                ),
                (Duration::from_micros((k.ops_per_phase * 50) as u64) + Duration::from_secs(5))
                    * (k.phases + 1) as u32,
            )
        }
        _ => return None,
    };
    Some((params, Duration::from_secs(60) + estimate * 4))
}

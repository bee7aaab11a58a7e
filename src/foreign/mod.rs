//! Contenders that do not run on this suite's runtime: the BEAM originals (a BEAM node
//! running the project's Elixir harness) and other Rust actor frameworks (ractor, kameo).
//!
//! They all go through one small interface, [`ForeignSystem`]: "run this workload, at
//! these parameters, for this contender" in, result rows out. The rows use the same
//! workload names, metric names and parameters as the suite's own backends, so every chart
//! and verdict draws them beside the strategies without knowing where they came from. A
//! system that cannot do what a workload needs answers with `skipped` rows that say why,
//! never with nothing. Each system is one adapter and one line in [`systems`]; each of its
//! contenders is then a unit of the per-backend workloads like any other backend (its own
//! fresh process, repeats, shuffled order).

pub mod actor_system;
pub mod beam;
pub mod drive;
pub mod frameworks;
pub mod kameo;
pub mod ractor;
pub mod soak;

use naming_schema::{Identity, Row};

use crate::workloads::{Progress, Specs};

/// A naming system outside this suite's runtime, driven workload by workload.
pub trait ForeignSystem: Send + Sync {
    /// The contenders this system provides: label, family (the strategy it is an
    /// original of, or [`Family::ActorFramework`](naming_schema::Family::ActorFramework))
    /// and [`Origin`](naming_schema::Origin).
    fn contenders(&self) -> Vec<Identity>;

    /// Runs `workload` (one of the per-backend workloads: lookup, routing, churn, scale,
    /// fanout, soak) for the contender labelled `label`, at the parameters in `specs`
    /// (the same ones the suite's backends get). Returns its rows, with `skipped` rows for
    /// whatever the system cannot do or what failed; never an empty answer for a known
    /// workload, never a panic.
    fn run(&self, label: &str, workload: &str, specs: &Specs, progress: &dyn Progress) -> Vec<Row>;
}

/// The workloads the foreign contenders join in quick mode when no backends are chosen by
/// name: a call through a name (lookup and call end to end), what a designer compares
/// first, so quick mode stays within its few minutes; full runs (and a quick run that names
/// them) take them through every per-backend workload.
pub const QUICK_WORKLOADS: &[&str] = &["routing"];

/// Every foreign system, in report order. Adding one is one line here.
pub fn systems() -> Vec<Box<dyn ForeignSystem>> {
    vec![Box::new(frameworks::RustFrameworks), Box::new(beam::Beam)]
}

/// The identities of every foreign contender, in report order.
pub fn identities() -> Vec<Identity> {
    systems().iter().flat_map(|s| s.contenders()).collect()
}

/// The labels of every foreign contender.
pub fn labels() -> Vec<&'static str> {
    identities().into_iter().map(|i| i.label).collect()
}

/// Runs `workload` for the foreign contender `label`, if one has that label.
pub fn run(
    label: &str,
    workload: &str,
    specs: &Specs,
    progress: &dyn Progress,
) -> Option<Vec<Row>> {
    let systems = systems();
    let system = systems
        .iter()
        .find(|s| s.contenders().iter().any(|i| i.label == label))?;
    Some(system.run(label, workload, specs, progress))
}

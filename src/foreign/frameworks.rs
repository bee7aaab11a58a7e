//! The Rust actor frameworks as one foreign system: ractor's registry, ractor's process
//! groups and kameo's registry, each driven through [`drive`](super::drive) on tokio
//! runtimes the driver makes.

use naming_schema::{Family, Identity, Origin, Row};

use super::kameo::{KameoRegistry, KAMEO_REGISTRY};
use super::ractor::{RactorPg, RactorRegistry, RACTOR_PG, RACTOR_REGISTRY};
use super::{drive, ForeignSystem};
use crate::workloads::{Progress, Specs};

/// The framework contenders, in report order.
pub const CONTENDERS: [Identity; 3] = [
    Identity::new(RACTOR_REGISTRY, Family::ActorFramework).on(Origin::RustFramework),
    Identity::new(RACTOR_PG, Family::ActorFramework).on(Origin::RustFramework),
    Identity::new(KAMEO_REGISTRY, Family::ActorFramework).on(Origin::RustFramework),
];

/// ractor and kameo, measured in this process with the suite's workloads.
pub struct RustFrameworks;

impl ForeignSystem for RustFrameworks {
    fn contenders(&self) -> Vec<Identity> {
        CONTENDERS.to_vec()
    }

    fn run(&self, label: &str, workload: &str, specs: &Specs, progress: &dyn Progress) -> Vec<Row> {
        match label {
            RACTOR_REGISTRY => drive::run(RactorRegistry, workload, specs, progress),
            RACTOR_PG => drive::run(RactorPg, workload, specs, progress),
            KAMEO_REGISTRY => drive::run(KameoRegistry, workload, specs, progress),
            _ => Vec::new(),
        }
    }
}

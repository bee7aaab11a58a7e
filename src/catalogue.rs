//! The suite's catalogue: every declared workload, in report order, and every backend's
//! identity, gathered from the modules that declare them.

use crate::report::Catalogue;

/// Every workload and backend the suite knows.
pub fn catalogue() -> Catalogue {
    Catalogue::default()
}

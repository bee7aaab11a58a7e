//! The naming strategies of the BEAM as interchangeable backends of one [`Naming`] trait.
//!
//! | backend | BEAM original |
//! |---|---|
//! | [`Registry`] | Elixir `Registry` (unique keys, partitioned) + `{:via, Registry, key}` |
//!
//! Every backend is held to one conformance suite (`tests/conformance.rs`) and driven by
//! the same workloads; a workload only ever sees `N: Naming`.

mod naming;
pub mod recovery;
mod registry;
pub mod shard;
mod storage;

pub use naming::{via, Capabilities, Capability, Naming, NamingError};
pub use registry::Registry;
pub use storage::{DashMapTable, FastHasher, NameTable};

/// Re-exported runtime, so a backend's users need one dependency.
pub use process_runtime as runtime;

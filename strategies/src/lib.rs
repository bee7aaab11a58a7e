#![warn(missing_docs)]
//! The naming strategies of the BEAM as interchangeable backends of one [`Naming`] trait.
//!
//! | backend | BEAM original |
//! |---|---|
//! | [`Registry`] | Elixir `Registry` (unique keys, partitioned) + `{:via, Registry, key}` |
//! | `Registry<`[`FlurryTable`]`>`, [`SccTable`], [`RwLockTable`] | the same, over other concurrent maps (ETS's role); [`DashMapTable`] is the default |
//! | [`DuplicateRegistry`] | Elixir `Registry` with `keys: :duplicate`: many processes per key, `dispatch/3` (pub/sub) |
//! | [`StartupDiscovery`] | no registry: pids handed at start, or `Supervisor.which_children` (seed 003) |
//! | [`StaticNames`] (+ [`WorkerPool`]) | `Process.register(self(), :db_worker)` for a fixed, declared set of names; `:"db_worker_#{n}"` |
//! | [`InternedNames`] | dynamic atoms `:"session_#{id}"`: never freed, limited to 1,048,576 |
//! | [`MonitorRegistry`] (`monitor-registry`, `monitor-registry-ets`) | the fixed `KV.Registry`: one `GenServer` owning `names` + monitor `refs`, cleanup on `:DOWN`; lookups as calls, or (`ReadPath::Table`) from a `:protected` ETS-like table |
//! | [`Gproc`] (`gproc`) | `uwiger/gproc`, local scope: unique names `n`, properties `p`, counters `c`, aggregated counters `a`, `await`, send to a property, select by key pattern; every write in the caller, cleanup through a reverse index in the exit path |
//!
//! Every backend is held to one conformance suite (`tests/conformance.rs`) and driven by
//! the same workloads; a workload only ever sees `N: Naming`.

mod duplicate_registry;
mod gproc;
mod interned_names;
mod monitor_registry;
mod naming;
pub mod recovery;
mod registry;
pub mod shard;
mod startup_discovery;
mod static_names;
mod storage;
mod tables;

pub use duplicate_registry::{
    DashMapDuplicates, Dispatched, DuplicateRegistry, DuplicateStorage, DuplicateTable, EntryValue,
    FlurryDuplicates, RwLockDuplicates, SccDuplicates,
};
pub use gproc::{Gproc, GprocKey, KeyPattern};
pub use interned_names::{Atom, InternedNames, BEAM_ATOM_LIMIT};
pub use monitor_registry::{MonitorRegistry, ReadPath, StaleWindow};
pub use naming::{via, Capabilities, Capability, Naming, NamingError};
pub use registry::Registry;
pub use startup_discovery::StartupDiscovery;
pub use static_names::{StaticNames, StaticSlot, WorkerPool};
pub use storage::{DashMapTable, FastHasher, NameTable};
pub use tables::{FlurryTable, RwLockTable, SccTable};

/// Re-exported runtime, so a backend's users need one dependency.
pub use process_runtime as runtime;

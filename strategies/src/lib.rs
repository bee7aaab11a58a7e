#![warn(missing_docs)]
//! The naming strategies of the BEAM as interchangeable backends of one [`Naming`] trait,
//! plus the shard routers and crash-recovery schemes the suite measures beside them.
//!
//! # What is here
//!
//! | file | what |
//! |---|---|
//! | `naming.rs` | the [`Naming`] trait every backend implements, [`SyncNaming`] (a backend whose operations finish in the caller; a blanket impl makes it a [`Naming`]), [`Capabilities`], [`NamingError`], [`via`] |
//! | `registry.rs` | [`Registry`]: Elixir's `Registry` with unique keys + `{:via, Registry, key}`, a value per entry, `update_value`, `keys` / `values`, `match` / `select` |
//! | `duplicate_registry.rs` | [`DuplicateRegistry`]: `Registry` with `keys: :duplicate`, `dispatch/3` (pub/sub) |
//! | [`registry_api`] | what both registries share: listeners ([`RegistryEvent`]), `meta` / `put_meta`, the typed [`Query`] of `select` |
//! | `storage/` | the concurrent maps both registries sit on, one file per map (`dashmap.rs`, `flurry.rs`, `scc.rs`, `rwlock.rs`, `papaya.rs`), each with its unique-key [`NameTable`] / [`UniqueTable`] and duplicate-key [`DuplicateTable`] adapter |
//! | `startup_discovery.rs` | [`StartupDiscovery`]: no registry, pids handed at start or found with `which_children` |
//! | `static_names.rs` | [`StaticNames`], [`WorkerPool`]: a fixed, declared set of registered names |
//! | `interned_names.rs` | [`InternedNames`]: dynamic atoms, never freed |
//! | `monitor_registry.rs` | [`MonitorRegistry`]: the `KV.Registry` `GenServer`, truly async |
//! | `gproc.rs` | [`Gproc`]: gproc's unique names, properties, counters, `await` |
//! | [`shard`] | five shard routers (modulo, rendezvous, ring, jump, Maglev) behind [`shard::ShardRouter`], and the reshard workload ([`shard::RESHARD`], [`shard::reshard_rows`]) |
//! | [`recovery`] | three ways to keep a counter's state across a crash, and the recovery workload ([`recovery::RECOVERY`], [`recovery::recovery_rows`]) |
//!
//! The shard and recovery workloads declare their metrics, charts and summary columns as
//! `naming_schema` constants beside the code that makes their rows, and give their
//! backends' identities ([`shard::identities`], [`recovery::identities`]). The naming
//! backends here carry no labels: the name each configuration goes by in results is given
//! once, by the suite's contender list.
//!
//! # Backends
//!
//! | backend | BEAM original |
//! |---|---|
//! | [`Registry`] | Elixir `Registry` (unique keys, partitioned) + `{:via, Registry, key}`; `Registry<T, V>` keeps a value `V` per entry, and the rest of Elixir's API (listeners, meta, match, select, `unregister_match`, `dispatch`) |
//! | `Registry<`[`FlurryTable`]`>`, [`SccTable`], [`RwLockTable`], [`PapayaTable`] | the same, over other concurrent maps (ETS's role); [`DashMapTable`] is the default |
//! | [`DuplicateRegistry`] | Elixir `Registry` with `keys: :duplicate`: many processes per key, `dispatch/3` (pub/sub) |
//! | [`StartupDiscovery`] | no registry: pids handed at start, or `Supervisor.which_children` (from Saša Jurić's talk "Discovering processes") |
//! | [`StaticNames`] (+ [`WorkerPool`]) | `Process.register(self(), :db_worker)` for a fixed, declared set of names; `:"db_worker_#{n}"` |
//! | [`InternedNames`] | dynamic atoms `:"session_#{id}"`: never freed, limited to 1,048,576 |
//! | [`MonitorRegistry`] ([`ReadPath::Call`], [`ReadPath::Table`]) | the fixed `KV.Registry`: one `GenServer` owning `names` + monitor `refs`, cleanup on `:DOWN`; lookups as calls, or from a `:protected` ETS-like table |
//! | [`Gproc`] | `uwiger/gproc`, local scope: unique names `n` (with values), properties `p`, counters `c` (reset), aggregated counters `a`, `await`, `reg_or_locate`, `mreg`, name monitors (`info`, `follow`), `give_away`, send to a property, select by key pattern and by value; every write in the caller, cleanup through a reverse index in the exit path |
//!
//! Every backend is held to one conformance suite (`tests/conformance.rs`) and driven by
//! the same workloads; a workload only ever sees `N: Naming`.
//!
//! # Sources
//!
//! Module docs cite the suite's four source documents by number:
//!
//! - seed 000: the "Naming & Fleets" study notes on *Adopting Elixir* (Registry, via names,
//!   DynamicSupervisor fleets; drill 4 shards workers as `{:shard, k}`);
//! - seed 001: the Elixir Forum thread "Supervision strategy for a stateful web client?" and
//!   its `DontLose` demo (a supervisor-created public ETS table, or a keeper that plays the
//!   heir / `give_away` game);
//! - seed 002: notes on the `KV.Registry` `GenServer` of the Elixir getting-started guide;
//! - seed 003: Saša Jurić's talk "Discovering processes" (handed pids, `which_children`,
//!   registered names, gproc, `Registry`).

mod duplicate_registry;
mod gproc;
mod interned_names;
mod monitor_registry;
mod naming;
pub mod recovery;
mod registry;
pub mod registry_api;
pub mod shard;
mod startup_discovery;
mod static_names;
pub mod storage;

pub use duplicate_registry::{Dispatched, DuplicateRegistry};
pub use gproc::{Gproc, GprocKey, KeyPattern, MonitorMode, MonitorRef, NameEvent, NameEventKind};
pub use interned_names::{Atom, InternedNames, BEAM_ATOM_LIMIT};
pub use monitor_registry::{MonitorRegistry, ReadPath, StaleWindow};
pub use naming::{via, Capabilities, Capability, Naming, NamingError, SyncNaming};
pub use registry::Registry;
pub use registry_api::{Guard, Query, RegistryEvent, RegistryId, Selected};
pub use startup_discovery::StartupDiscovery;
pub use static_names::{StaticNames, StaticSlot, WorkerPool};
pub use storage::{
    DashMapDuplicates, DashMapTable, DuplicateStorage, DuplicateTable, EntryValue, FastHasher,
    FlurryDuplicates, FlurryTable, NameTable, PapayaDuplicates, PapayaTable, RwLockDuplicates,
    RwLockTable, SccDuplicates, SccTable, UniqueTable,
};

/// Re-exported runtime, so a backend's users need one dependency.
pub use process_runtime as runtime;

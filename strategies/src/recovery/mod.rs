//! State that survives a crash, after seed 001 (the Elixir Forum thread "Supervision strategy
//! for a stateful web client?" and its `DontLose` demo): three ways to keep a counter worker's state
//! across its restart, and a workload that kills it over and over.
//!
//! - (a) [`Backup::SupervisorTable`]: a public table created on the supervisor's side,
//!   captured by the worker's child spec and handed to each new worker at start.
//! - (b) [`Backup::KeeperHeir`]: a keeper process owns a protected table; a starting worker
//!   asks for it, the keeper monitors the worker and gives the table away; when the worker
//!   dies the `Down` brings the table back to the keeper (its heir), which hands it to the
//!   next worker. `rest_for_one` with the keeper first, as in the seed.
//! - (c) [`Backup::None`]: the count lives in the worker only and restarts at zero.
//!
//! A [`Table`] (shared map + owner + heir) stands in for ETS; the runtime's own processes,
//! calls and monitors carry the ownership protocol, and a protected table refuses writes
//! from anyone but its owner, so a worker only writes while it owns the table.

mod counter;
mod table;
pub mod workload;

pub use counter::{
    Backup, CounterError, CounterOpts, CounterRequest, CounterService, KeeperError, KeeperRequest,
    COUNTER_KEY,
};
pub use table::{Access, Table, TableError};
pub use workload::{
    identities, lost_updates, recovery_rows, run_recovery, RecoveryConfig, RecoveryRun, RECOVERY,
};

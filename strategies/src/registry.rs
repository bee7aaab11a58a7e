//! Registry + via: Elixir's `Registry` with unique keys, the recommended default.
//!
//! **BEAM original**: `{Registry, keys: :unique, name: My.Registry}` with
//! `{:via, Registry, {My.Registry, id}}` names and a `DynamicSupervisor` starting workers
//! on demand. Lookups read a partitioned table directly from the caller, registration is
//! done by the caller too, and a process's keys are removed when it exits.
//!
//! **Here**: `partitions` tables over a [`NameTable`] (dashmap by default), chosen by the
//! key's hash. Registration runs in the caller and attaches the name to the process
//! ([`ProcessRef::hold_name`]), so the process's own exit path deletes it: no registry
//! process, no polling, no sweeper. A lookup is one table read plus a liveness check, like
//! `whereis_name` filtering dead pids.
//!
//! **Costs**: one hash-table read per lookup, a table insert plus a short per-process lock
//! per registration. **Choose it** for many dynamic, short-lived workers keyed by id.

use std::hash::BuildHasher;
use std::sync::Arc;

use process_runtime::{Ctx, ExitObserver, Name, Pid, ProcessRef};

use crate::naming::claim_unique;
use crate::naming::{Capabilities, NamingError, SyncNaming};
use crate::storage::{DashMapTable, NameTable};

struct Partitions<T> {
    tables: Box<[T]>,
    hasher: foldhash::fast::FixedState,
}

impl<T: NameTable> Partitions<T> {
    #[inline]
    fn of(&self, name: &Name) -> &T {
        if self.tables.len() == 1 {
            &self.tables[0]
        } else {
            let h = self.hasher.hash_one(name);
            &self.tables[(h % self.tables.len() as u64) as usize]
        }
    }
}

impl<T: NameTable> ExitObserver for Partitions<T> {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        let _ = self.of(name).remove_if_owner(name, pid);
    }
}

/// An Elixir-style unique-key registry over the storage `T`.
pub struct Registry<T: NameTable = DashMapTable> {
    partitions: Arc<Partitions<T>>,
    observer: Arc<dyn ExitObserver>,
}

impl<T: NameTable> Clone for Registry<T> {
    fn clone(&self) -> Self {
        Registry {
            partitions: Arc::clone(&self.partitions),
            observer: Arc::clone(&self.observer),
        }
    }
}

impl<T: NameTable> Default for Registry<T> {
    fn default() -> Self {
        Self::new(1)
    }
}

impl<T: NameTable> Registry<T> {
    /// A registry with `partitions` tables (at least one; Elixir's default is 1).
    pub fn new(partitions: usize) -> Self {
        Self::with_capacity(partitions, 0)
    }

    /// A registry sized for about `capacity` names in all.
    pub fn with_capacity(partitions: usize, capacity: usize) -> Self {
        let n = partitions.max(1);
        let tables = (0..n).map(|_| T::with_capacity(capacity / n)).collect();
        let partitions = Arc::new(Partitions {
            tables,
            hasher: foldhash::fast::FixedState::with_seed(0x5EED),
        });
        let observer: Arc<dyn ExitObserver> = partitions.clone();
        Registry {
            partitions,
            observer,
        }
    }

    /// How many partitions the registry has.
    pub fn partition_count(&self) -> usize {
        self.partitions.tables.len()
    }

    /// The lookup itself, without the future wrapper (what `whereis` returns at once).
    #[inline]
    pub fn lookup(&self, name: &Name) -> Option<ProcessRef> {
        self.partitions
            .of(name)
            .get(name)
            .filter(ProcessRef::is_alive)
    }
}

impl<T: NameTable> SyncNaming for Registry<T> {
    const CAPABILITIES: Capabilities = Capabilities::UNIQUE_DYNAMIC;

    fn register_sync(&self, name: Name, process: &ProcessRef) -> Result<(), NamingError> {
        let table = self.partitions.of(&name);
        claim_unique(
            process,
            &self.observer,
            &name,
            0,
            || table.insert_new(name.clone(), process.clone()),
            |stale| {
                let _ = table.remove_if_owner(&name, stale);
            },
        )
    }

    fn unregister_sync(&self, name: &Name, owner: &Ctx) -> Result<(), NamingError> {
        match self.partitions.of(name).remove_if_owner(name, owner.pid()) {
            Ok(process) => {
                process.release_name(&self.observer, name, 0);
                Ok(())
            }
            Err(Some(holder)) => Err(NamingError::NotOwner { owner: holder }),
            Err(None) => Err(NamingError::NotRegistered),
        }
    }

    fn whereis_sync(&self, name: &Name) -> Option<ProcessRef> {
        self.lookup(name)
    }

    fn registered_count_sync(&self) -> usize {
        self.partitions.tables.iter().map(|t| t.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use process_runtime::{ExitReason, Runtime};

    use super::*;
    use crate::storage::PapayaTable;

    /// Partitions are Elixir's: each key lives in the one table its hash picks, every
    /// table its own map, and the keys spread over all of them.
    async fn keys_live_in_their_partition<T: NameTable>(partitions: usize) {
        let rt = Runtime::new();
        let holder = rt.spawn(|mut ctx: Ctx| async move {
            let _ = ctx.recv().await;
            ExitReason::Normal
        });
        let reg = Registry::<T>::with_capacity(partitions, 1_000);
        assert_eq!(reg.partition_count(), partitions);
        let names: Vec<Name> = (0..1_000u64).map(Name::Id).collect();
        for name in &names {
            reg.register_sync(name.clone(), &holder).unwrap();
        }
        let tables = &reg.partitions.tables;
        for name in &names {
            let home = reg.partitions.of(name);
            for table in tables.iter() {
                assert_eq!(
                    table.get(name).is_some(),
                    std::ptr::eq(table, home),
                    "{name:?} must be in its own partition only"
                );
            }
        }
        let sizes: Vec<usize> = tables.iter().map(|t| t.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), names.len());
        let fair = names.len() / partitions;
        assert!(
            sizes.iter().all(|&n| n > fair / 2 && n < fair * 2),
            "keys spread unevenly over the partitions: {sizes:?}"
        );
        assert_eq!(reg.registered_count_sync(), names.len());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dashmap_keys_live_in_their_partition() {
        keys_live_in_their_partition::<DashMapTable>(4).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn papaya_keys_live_in_their_partition() {
        keys_live_in_their_partition::<PapayaTable>(3).await;
    }

    #[test]
    fn zero_partitions_is_one() {
        assert_eq!(Registry::<DashMapTable>::new(0).partition_count(), 1);
    }
}

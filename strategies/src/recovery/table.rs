//! A stand-in for an ETS table: a shared concurrent map with an owner, an access mode and an heir.
//!
//! What matters for seed 001 (the Elixir Forum thread "Supervision strategy for a stateful
//! web client?", whose answers keep state in ETS tables) is the ownership protocol, so that is what this models: a
//! `Protected` table accepts writes only from its owner; the owner can hand it to another
//! process ([`Table::give_away`], `:ets.give_away/3`); and a table with an heir goes back to
//! the heir when the owner dies ([`Table::claim_as_heir`], the `{:heir, pid, data}` option).
//! On the BEAM the runtime performs the heir transfer; here the heir process monitors the
//! owner and claims the table when the `Down` arrives, which is the same ordering: the dead
//! owner can no longer write, and nobody else writes until the heir hands the table on.

use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;
use process_runtime::Pid;

/// Who may write (`:public` / `:protected` in ETS; both let anyone read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Any process may write.
    Public,
    /// Only the owner may write.
    Protected,
}

/// Why a table operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A write or transfer by a process that does not own the (protected) table.
    #[error("{caller} does not own the table (owner: {owner:?})")]
    NotOwner {
        /// Who tried.
        caller: Pid,
        /// Who owns it.
        owner: Option<Pid>,
    },
    /// An heir claim by a process that is not the table's heir.
    #[error("{caller} is not the table's heir")]
    NotHeir {
        /// Who tried.
        caller: Pid,
    },
}

struct Inner {
    access: Access,
    heir: Option<Pid>,
    /// The owner; writes to a protected table hold this lock, so a transfer waits for them.
    owner: Mutex<Option<Pid>>,
    data: DashMap<&'static str, u64>,
}

/// A shared table handle; clones refer to the same table.
#[derive(Clone)]
pub struct Table(Arc<Inner>);

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("access", &self.0.access)
            .field("owner", &self.owner())
            .field("heir", &self.0.heir)
            .finish()
    }
}

impl Table {
    /// A public table (anyone writes), owned by `owner` if given: seed 001's supervisor table.
    pub fn public(owner: Option<Pid>) -> Self {
        Self::new(Access::Public, owner, None)
    }

    /// A protected table owned by `owner`, going back to `heir` (if any) when its owner dies.
    pub fn protected(owner: Pid, heir: Option<Pid>) -> Self {
        Self::new(Access::Protected, Some(owner), heir)
    }

    fn new(access: Access, owner: Option<Pid>, heir: Option<Pid>) -> Self {
        Table(Arc::new(Inner {
            access,
            heir,
            owner: Mutex::new(owner),
            data: DashMap::new(),
        }))
    }

    /// The access mode.
    pub fn access(&self) -> Access {
        self.0.access
    }

    /// The current owner.
    pub fn owner(&self) -> Option<Pid> {
        *self.0.owner.lock()
    }

    /// The heir set at creation.
    pub fn heir(&self) -> Option<Pid> {
        self.0.heir
    }

    /// Reads `key` (any process may read).
    pub fn lookup(&self, key: &'static str) -> Option<u64> {
        self.0.data.get(key).map(|v| *v)
    }

    /// Writes `key` on behalf of `caller`; a protected table refuses non-owners.
    pub fn insert(&self, caller: Pid, key: &'static str, value: u64) -> Result<(), TableError> {
        match self.0.access {
            Access::Public => {
                self.0.data.insert(key, value);
                Ok(())
            }
            Access::Protected => {
                let owner = self.0.owner.lock();
                if *owner != Some(caller) {
                    return Err(TableError::NotOwner {
                        caller,
                        owner: *owner,
                    });
                }
                // Written under the owner lock: a transfer cannot slip in between check and write.
                self.0.data.insert(key, value);
                Ok(())
            }
        }
    }

    /// Hands the table from its owner `from` to `to` (`:ets.give_away/3`); only the owner may.
    pub fn give_away(&self, from: Pid, to: Pid) -> Result<(), TableError> {
        let mut owner = self.0.owner.lock();
        if *owner != Some(from) {
            return Err(TableError::NotOwner {
                caller: from,
                owner: *owner,
            });
        }
        *owner = Some(to);
        Ok(())
    }

    /// The heir takes the table back after `dead_owner` exited (the `ETS-TRANSFER` to the heir).
    ///
    /// Refused if `caller` is not the heir, or if the table no longer belongs to `dead_owner`
    /// (someone already took it over).
    pub fn claim_as_heir(&self, caller: Pid, dead_owner: Pid) -> Result<(), TableError> {
        if self.0.heir != Some(caller) {
            return Err(TableError::NotHeir { caller });
        }
        let mut owner = self.0.owner.lock();
        if *owner != Some(dead_owner) {
            return Err(TableError::NotOwner {
                caller: dead_owner,
                owner: *owner,
            });
        }
        *owner = Some(caller);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_tables_take_writes_from_their_owner_only() {
        let (keeper, worker, other) = (Pid::new(0, 1), Pid::new(0, 2), Pid::new(0, 3));
        let t = Table::protected(keeper, Some(keeper));
        t.insert(keeper, "counter", 0).unwrap();
        assert!(t.insert(worker, "counter", 1).is_err());
        t.give_away(keeper, worker).unwrap();
        assert!(t.insert(keeper, "counter", 1).is_err());
        t.insert(worker, "counter", 1).unwrap();
        assert!(t.give_away(keeper, other).is_err());
        assert!(t.claim_as_heir(other, worker).is_err());
        t.claim_as_heir(keeper, worker).unwrap();
        assert!(t.insert(worker, "counter", 2).is_err());
        assert_eq!(t.lookup("counter"), Some(1));
        assert_eq!(t.owner(), Some(keeper));
    }

    #[test]
    fn public_tables_take_anyones_writes() {
        let t = Table::public(None);
        t.insert(Pid::new(0, 9), "counter", 5).unwrap();
        assert_eq!(t.lookup("counter"), Some(5));
    }
}

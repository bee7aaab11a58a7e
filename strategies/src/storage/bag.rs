//! The bag of entries a duplicate-key table keeps under each key, indexed by pid, shared
//! by every map's [`DuplicateTable`](super::DuplicateTable) adapter.

use std::collections::hash_map::Entry as StdEntry;
use std::collections::HashMap;

use process_runtime::{Pid, ProcessRef};

use super::{EntryValue, FastHasher};

/// One process's entries under one key: its handle and the values of its registrations.
pub(crate) struct Holder<V> {
    process: ProcessRef,
    first: V,
    more: Vec<V>,
}

/// All the entries under one key, indexed by pid.
pub(crate) struct Bag<V> {
    holders: HashMap<Pid, Holder<V>, FastHasher>,
    pub(crate) entries: usize,
}

impl<V: EntryValue> Bag<V> {
    pub(crate) fn with(process: ProcessRef, value: V) -> Self {
        let mut bag = Bag {
            holders: HashMap::with_hasher(FastHasher::default()),
            entries: 0,
        };
        bag.push(process, value);
        bag
    }

    pub(crate) fn push(&mut self, process: ProcessRef, value: V) {
        match self.holders.entry(process.pid()) {
            StdEntry::Occupied(held) => held.into_mut().more.push(value),
            StdEntry::Vacant(free) => {
                free.insert(Holder {
                    process,
                    first: value,
                    more: Vec::new(),
                });
            }
        }
        self.entries += 1;
    }

    /// Adds the entry if the bag is empty; `Err(holder)` otherwise. (Tables never keep an
    /// empty bag, so on an occupied key this refuses; it is written to be total anyway.)
    pub(crate) fn push_if_vacant(
        &mut self,
        process: ProcessRef,
        value: V,
    ) -> Result<(), ProcessRef> {
        match self.any_holder() {
            Some(holder) => Err(holder.clone()),
            None => {
                self.push(process, value);
                Ok(())
            }
        }
    }

    /// Removes one of `pid`'s entries.
    pub(crate) fn pop_one(&mut self, pid: Pid) -> bool {
        match self.holders.entry(pid) {
            StdEntry::Occupied(mut held) => {
                if held.get_mut().more.pop().is_none() {
                    held.remove();
                }
                self.entries -= 1;
                true
            }
            StdEntry::Vacant(_) => false,
        }
    }

    /// Removes all of `pid`'s entries: its handle and how many there were.
    pub(crate) fn remove_holder(&mut self, pid: Pid) -> Option<(ProcessRef, usize)> {
        let holder = self.holders.remove(&pid)?;
        let n = 1 + holder.more.len();
        self.entries -= n;
        Some((holder.process, n))
    }

    /// Removes those of `pid`'s entries whose value satisfies `pattern`; how many.
    pub(crate) fn remove_matching(
        &mut self,
        pid: Pid,
        mut pattern: impl FnMut(&V) -> bool,
    ) -> usize {
        let StdEntry::Occupied(mut held) = self.holders.entry(pid) else {
            return 0;
        };
        let holder = held.get_mut();
        let before = 1 + holder.more.len();
        holder.more.retain(|v| !pattern(v));
        if pattern(&holder.first) {
            match holder.more.pop() {
                Some(next) => holder.first = next,
                None => {
                    held.remove();
                    self.entries -= before;
                    return before;
                }
            }
        }
        let removed = before - (1 + holder.more.len());
        self.entries -= removed;
        removed
    }

    /// A holder, a live one if there is one.
    pub(crate) fn any_holder(&self) -> Option<&ProcessRef> {
        let mut any = None;
        for h in self.holders.values() {
            if h.process.is_alive() {
                return Some(&h.process);
            }
            any = Some(&h.process);
        }
        any
    }

    pub(crate) fn for_each(&self, f: &mut impl FnMut(&ProcessRef, &V)) {
        for h in self.holders.values() {
            f(&h.process, &h.first);
            for v in &h.more {
                f(&h.process, v);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// Removes all of `pid`'s entries from `bag`: its handle and how many there were;
/// `Err(Some(holder))` if only others hold the key, `Err(None)` if nobody does.
pub(crate) fn take_holder<V: EntryValue>(
    bag: &mut Bag<V>,
    pid: Pid,
) -> Result<(ProcessRef, usize), Option<Pid>> {
    match bag.remove_holder(pid) {
        Some(removed) => Ok(removed),
        None => Err(bag.any_holder().map(ProcessRef::pid)),
    }
}

#[cfg(test)]
mod tests {
    use process_runtime::{Ctx, ExitReason, Runtime};

    use super::*;

    fn values_of(bag: &Bag<u32>, pid: Pid) -> Vec<u32> {
        let mut out = Vec::new();
        bag.for_each(&mut |p, v| {
            if p.pid() == pid {
                out.push(*v);
            }
        });
        out.sort();
        out
    }

    #[tokio::test]
    async fn remove_matching_takes_only_the_matching_values_of_one_holder() {
        let rt = Runtime::new();
        let idle = || {
            rt.spawn(|mut ctx: Ctx| async move {
                let _ = ctx.recv().await;
                ExitReason::Normal
            })
        };
        let (a, b) = (idle(), idle());
        let mut bag = Bag::with(a.clone(), 1);
        for v in [2, 1, 3] {
            bag.push(a.clone(), v);
        }
        bag.push(b.clone(), 1);
        // The first value matches too: the holder keeps its other values.
        assert_eq!(bag.remove_matching(a.pid(), |v| *v == 1), 2);
        assert_eq!(values_of(&bag, a.pid()), vec![2, 3]);
        assert_eq!(values_of(&bag, b.pid()), vec![1]);
        assert_eq!(bag.entries, 3);
        assert_eq!(bag.remove_matching(a.pid(), |v| *v == 9), 0);
        assert_eq!(bag.remove_matching(a.pid(), |_| true), 2);
        assert!(values_of(&bag, a.pid()).is_empty());
        assert_eq!(bag.entries, 1);
        assert_eq!(bag.remove_matching(a.pid(), |_| true), 0);
        assert_eq!(bag.remove_matching(b.pid(), |_| true), 1);
        assert!(bag.is_empty());
    }
}

//! The process table: the live processes of a runtime by serial number, for lookups by pid.
//!
//! Serials are handed out in order, and most processes live briefly, so the table is laid
//! out like the BEAM's (a slot per pid index) rather than scattered by a hash: a run of
//! consecutive serials shares a shard and neighbouring buckets. A spawn then writes next to
//! the previous spawn's bucket and an exit usually clears a bucket still in cache, instead
//! of each touching a cold line somewhere in a table as large as the number of processes.
//!
//! An entry does not own its process: it is a pointer to the cell, present only while the
//! process's task holds the cell (from spawn until the exit path removes the entry), and a
//! lookup takes its own reference under the shard's lock, which the removal also takes.
//! A spawn and an exit thus count no references here.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::cell_lock::CellMutex as Mutex;

use crate::process::{CellPtr, ProcessRef};

/// Consecutive serials per shard before the next shard takes over (a power of two).
const RUN: u64 = 8;
/// Shards (a power of two): enough that workers spawning at once rarely share one.
const SHARDS: usize = 64;

/// Live processes by serial.
pub(crate) struct ProcessTable {
    shards: Box<[Mutex<HashMap<u64, CellPtr, SerialHash>>]>,
}

impl ProcessTable {
    pub(crate) fn new() -> Self {
        ProcessTable {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(SerialHash)))
                .collect(),
        }
    }

    #[inline]
    fn shard(&self, serial: u64) -> &Mutex<HashMap<u64, CellPtr, SerialHash>> {
        &self.shards[((serial / RUN) as usize) % SHARDS]
    }

    /// Enters `process` under `serial`. The caller's task must keep a reference to it until
    /// it has called [`remove`](Self::remove) for `serial`.
    pub(crate) fn insert(&self, serial: u64, process: &ProcessRef) {
        self.shard(serial).lock().insert(serial, process.cell_ptr());
    }

    pub(crate) fn remove(&self, serial: u64) {
        self.shard(serial).lock().remove(&serial);
    }

    pub(crate) fn get(&self, serial: u64) -> Option<ProcessRef> {
        let shard = self.shard(serial).lock();
        // SAFETY: an entry is removed (under this lock) before its process's task drops
        // the reference it held since the insert, so the cell is alive while we hold it.
        shard
            .get(&serial)
            .map(|&cell| unsafe { ProcessRef::from_cell_ptr(cell) })
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// Hashes a serial to its place within its shard: the serials of one shard, in order, get
/// consecutive bucket positions (the low bits), and the top seven bits, which the table
/// compares before the key, vary from one serial to the next.
#[derive(Clone, Copy, Default)]
pub(crate) struct SerialHash;

impl BuildHasher for SerialHash {
    type Hasher = SerialHasher;

    fn build_hasher(&self) -> SerialHasher {
        SerialHasher(0)
    }
}

/// See [`SerialHash`].
pub(crate) struct SerialHasher(u64);

impl Hasher for SerialHasher {
    fn finish(&self) -> u64 {
        let serial = self.0;
        // Position among this shard's serials: the runs before it, then the place in its run.
        let dense = (serial / (RUN * SHARDS as u64)) * RUN + serial % RUN;
        // Tag bits from a multiplicative mix, so that serials of any spacing differ there.
        let tag = serial.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (0x7F << 57);
        tag | (dense & ((1 << 57) - 1))
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; any other input still hashes consistently.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn consecutive_serials_of_a_shard_sit_side_by_side_with_distinct_tags() {
        let h = |serial: u64| SerialHash.hash_one(serial);
        let mask = (1u64 << 57) - 1;
        // One run of a shard, then that shard's next run: positions follow on.
        let positions: Vec<u64> = (0..RUN)
            .chain(RUN * SHARDS as u64..RUN * SHARDS as u64 + RUN)
            .map(|s| h(s) & mask)
            .collect();
        assert_eq!(positions, (0..2 * RUN).collect::<Vec<_>>());
        // The tags (top seven bits) of neighbours differ, so a probe compares few keys.
        let tags: std::collections::HashSet<u64> = (0..RUN).map(|s| h(s) >> 57).collect();
        assert!(tags.len() as u64 >= RUN - 1, "tags {tags:?}");
    }

    #[test]
    fn serials_spread_over_every_shard() {
        let table = ProcessTable::new();
        let used: std::collections::HashSet<usize> = (0..RUN * SHARDS as u64)
            .map(|s| std::ptr::from_ref(table.shard(s)) as usize)
            .collect();
        assert_eq!(used.len(), SHARDS);
    }
}

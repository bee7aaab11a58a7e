//! The process table: the live processes of a runtime by serial number, for lookups by pid.
//!
//! Serials are handed out in order, and most processes live briefly, so a run of
//! consecutive serials shares a shard and neighbouring buckets: a spawn then writes next to
//! the previous spawn's bucket and an exit usually clears a bucket still in cache, instead
//! of each touching a cold line somewhere in a table as large as the number of processes.
//! The runs themselves are scattered by a hash, so that long-lived processes with
//! consecutive serials do not pile up into one stretch of buckets that later inserts would
//! have to probe across.
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

/// Hashes a serial to its place within its shard: the serials of one run get consecutive
/// bucket positions (the low bits), each run's start is scattered by a hash, and the top
/// seven bits, which the table compares before the key, vary from one serial to the next.
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

/// A bijective 64-bit mix whose every output bit depends on every input bit.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 32;
    x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^= x >> 32;
    x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^ (x >> 32)
}

impl Hasher for SerialHasher {
    fn finish(&self) -> u64 {
        let serial = self.0;
        // Which of its shard's runs the serial is in, scattered; then its place in the run.
        let run = mix(serial / (RUN * SHARDS as u64));
        let position = run.wrapping_mul(RUN) | (serial % RUN);
        // Tag bits from a mix of the whole serial, so that neighbours differ there.
        let tag = mix(serial) & (0x7F << 57);
        tag | (position & ((1 << 57) - 1))
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
    fn a_run_of_serials_sits_side_by_side_and_runs_are_scattered() {
        let h = |serial: u64| SerialHash.hash_one(serial);
        let mask = (1u64 << 57) - 1;
        let stride = RUN * SHARDS as u64;
        for run in [0u64, 1, 2, 1_000, 123_456] {
            let first = run * stride;
            // The serials of one run: consecutive positions.
            let positions: Vec<u64> = (first..first + RUN).map(|s| h(s) & mask).collect();
            let start = positions[0];
            assert_eq!(positions, (start..start + RUN).collect::<Vec<_>>());
            // The tags (top seven bits) of neighbours differ, so a probe compares few keys.
            let tags: std::collections::HashSet<u64> =
                (first..first + RUN).map(|s| h(s) >> 57).collect();
            assert!(tags.len() as u64 >= RUN - 2, "tags {tags:?}");
        }
        // The shard's next runs start far apart in a table of 4,096 buckets, not one after
        // another: a long-lived range of serials forms no long stretch of full buckets.
        let starts: Vec<u64> = (0..64u64).map(|r| h(r * stride) & 4095).collect();
        let adjacent = starts
            .windows(2)
            .filter(|w| w[0].abs_diff(w[1]) <= RUN)
            .count();
        assert!(adjacent <= 2, "runs start next to each other: {starts:?}");
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

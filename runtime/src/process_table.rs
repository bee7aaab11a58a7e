//! The process table: the live processes of a runtime by serial number, for lookups by pid.
//!
//! Serials are handed out in order and most processes live briefly, so the table is in the
//! first place an array indexed by the serial: serial `s` sits in slot `s % SLOTS`, put
//! there by one compare-and-swap at spawn and taken out by one at exit, with no hash, no
//! probe and no lock (on the 2-core host a hashed, locked table cost about 100 ns of a
//! named spawn + stop on a current-thread runtime; see README). Consecutive spawns write
//! consecutive slots, eight to a cache line.
//!
//! A serial whose slot still holds an older process (one that has lived through `SLOTS`
//! spawns since) goes to an overflow map instead: sharded and locked, hashed by serial.
//! A lookup reads the slot first and then the overflow, so it finds a process wherever
//! its spawn put it; the overflow is never read on a spawn or an exit that used its slot.
//!
//! An entry does not own its process: it is the cell's address, present only while the
//! process's task holds the cell (from spawn until the exit path removes the entry). A
//! lookup takes its own reference while it holds the slot (a lock bit in the slot word)
//! or the overflow shard's lock, and a removal waits for either: a spawn and an exit thus
//! count no references here.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::cell_lock::CellMutex as Mutex;

use crate::process::{CellPtr, ProcessRef};

/// Slots in the array (a power of two): 512 KiB of address space, touched as serials pass.
/// Long-lived processes keep theirs, so with `n` of them about `n / SLOTS` of later spawns
/// go to the overflow (15% with the 10,000 workers of the `runtime` workload).
const SLOTS: usize = 1 << 16;
/// A slot's lock bit: a cell is line-aligned, so its address never has it set.
const READING: usize = 1;
/// Consecutive serials per overflow shard before the next shard takes over (a power of two).
const RUN: u64 = 8;
/// Overflow shards (a power of two): enough that workers spawning at once rarely share one.
const SHARDS: usize = 64;

/// Live processes by serial.
pub(crate) struct ProcessTable {
    /// Each null (empty), a cell, or that cell with [`READING`] set in its address.
    slots: Box<[AtomicPtr<()>]>,
    overflow: Box<[Mutex<HashMap<u64, CellPtr, SerialHash>>]>,
}

impl ProcessTable {
    pub(crate) fn new() -> Self {
        ProcessTable {
            slots: (0..SLOTS).map(|_| AtomicPtr::new(null_mut())).collect(),
            overflow: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(SerialHash)))
                .collect(),
        }
    }

    #[inline]
    fn slot(&self, serial: u64) -> &AtomicPtr<()> {
        &self.slots[serial as usize & (SLOTS - 1)]
    }

    #[inline]
    fn shard(&self, serial: u64) -> &Mutex<HashMap<u64, CellPtr, SerialHash>> {
        &self.overflow[((serial / RUN) as usize) % SHARDS]
    }

    /// Enters `process` under `serial`. The caller's task must keep a reference to it until
    /// it has called [`remove`](Self::remove) for it.
    #[inline]
    pub(crate) fn insert(&self, serial: u64, process: &ProcessRef) {
        let cell = process.cell_ptr();
        // Release: a lookup that finds the cell finds it built.
        if self
            .slot(serial)
            .compare_exchange(null_mut(), cell.raw(), Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.shard(serial).lock().insert(serial, cell);
        }
    }

    /// Takes out the entry [`insert`](Self::insert) made for `process` under `serial`.
    #[inline]
    pub(crate) fn remove(&self, serial: u64, process: &ProcessRef) {
        let cell = process.cell_ptr().raw();
        let slot = self.slot(serial);
        let mut spins = 0u32;
        loop {
            // Acquire: a lookup that read this cell (even one that found another serial
            // and took no reference) finished reading it before the cell can be freed.
            match slot.compare_exchange(cell, null_mut(), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return,
                // A lookup holds the slot for a few instructions: wait for it.
                Err(now) if now == reading(cell) => backoff(&mut spins),
                Err(_) => break,
            }
        }
        self.shard(serial).lock().remove(&serial);
    }

    pub(crate) fn get(&self, serial: u64) -> Option<ProcessRef> {
        let slot = self.slot(serial);
        let mut spins = 0u32;
        let mut now = slot.load(Ordering::Relaxed);
        while !now.is_null() {
            if now.addr() & READING != 0 {
                backoff(&mut spins);
                now = slot.load(Ordering::Relaxed);
                continue;
            }
            match slot.compare_exchange_weak(
                now,
                reading(now),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let cell = CellPtr::from_raw(now);
                    // SAFETY: the slot is held, so the entry's removal waits, and the
                    // process's task keeps the cell alive until that removal.
                    let found = (unsafe { cell.serial() } == serial)
                        .then(|| unsafe { ProcessRef::from_cell_ptr(cell) });
                    slot.store(now, Ordering::Release);
                    if found.is_some() {
                        return found;
                    }
                    break;
                }
                Err(changed) => now = changed,
            }
        }
        let shard = self.shard(serial).lock();
        // SAFETY: an entry is removed (under this lock) before its process's task drops
        // the reference it held since the insert, so the cell is alive while we hold it.
        shard
            .get(&serial)
            .map(|&cell| unsafe { ProcessRef::from_cell_ptr(cell) })
    }

    /// How many processes are entered (a walk over every slot: for tests and reports).
    pub(crate) fn len(&self) -> usize {
        let in_slots = self
            .slots
            .iter()
            .filter(|s| !s.load(Ordering::Relaxed).is_null())
            .count();
        in_slots + self.overflow.iter().map(|s| s.lock().len()).sum::<usize>()
    }
}

/// `cell` marked as held by a lookup.
#[inline]
fn reading(cell: *mut ()) -> *mut () {
    cell.map_addr(|a| a | READING)
}

/// Waits a little for a slot's reader: spins, then yields the thread, so that a reader
/// preempted while it holds the slot is not starved (as the cell lock does).
#[cold]
fn backoff(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
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
    use crate::envelope::Protocol;
    use crate::Pid;

    fn cell(serial: u64) -> ProcessRef {
        ProcessRef::new_cell(Pid::new(0, serial), Protocol::ANY, false)
    }

    #[test]
    fn a_serial_whose_slot_is_taken_goes_to_the_overflow_and_is_found_there() {
        let table = ProcessTable::new();
        let old = cell(5);
        let young = cell(5 + SLOTS as u64);
        let younger = cell(5 + 2 * SLOTS as u64);
        table.insert(5, &old);
        table.insert(5 + SLOTS as u64, &young);
        assert!(table
            .shard(5 + SLOTS as u64)
            .lock()
            .contains_key(&(5 + SLOTS as u64)));
        assert_eq!(table.len(), 2);
        let pid_of = |s: u64| table.get(s).map(|p| p.pid().serial());
        assert_eq!(pid_of(5), Some(5));
        assert_eq!(pid_of(5 + SLOTS as u64), Some(5 + SLOTS as u64));
        assert_eq!(
            pid_of(5 + 2 * SLOTS as u64),
            None,
            "same slot, never entered"
        );
        // The slot's holder leaves; the overflowed entry stays where it was put.
        table.remove(5, &old);
        assert_eq!(pid_of(5), None);
        assert_eq!(pid_of(5 + SLOTS as u64), Some(5 + SLOTS as u64));
        // A later serial takes the freed slot, beside the one in the overflow.
        table.insert(5 + 2 * SLOTS as u64, &younger);
        assert_eq!(pid_of(5 + 2 * SLOTS as u64), Some(5 + 2 * SLOTS as u64));
        table.remove(5 + SLOTS as u64, &young);
        table.remove(5 + 2 * SLOTS as u64, &younger);
        assert_eq!(table.len(), 0);
        assert!(table
            .slots
            .iter()
            .all(|s| s.load(Ordering::Relaxed).is_null()));
        assert!(table.overflow.iter().all(|s| s.lock().is_empty()));
    }

    #[test]
    fn lookups_racing_removals_get_the_right_process_or_none() {
        // Threads look up serials that others enter and take out again, sharing slots
        // (serials `SLOTS` apart) and overflow shards: a lookup must return a process
        // with the serial asked for, or nothing, and every removal must finish.
        let table = std::sync::Arc::new(ProcessTable::new());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let serials: Vec<u64> = (0..4u64)
            .flat_map(|k| [3 + k * SLOTS as u64, 4 + k * SLOTS as u64])
            .collect();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (table, stop, serials) = (table.clone(), stop.clone(), serials.clone());
                std::thread::spawn(move || {
                    let mut found = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for &s in &serials {
                            if let Some(p) = table.get(s) {
                                assert_eq!(p.pid().serial(), s);
                                found += 1;
                            }
                        }
                    }
                    found
                })
            })
            .collect();
        let writers: Vec<_> = serials
            .chunks(4)
            .map(|mine| {
                let (table, mine) = (table.clone(), mine.to_vec());
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        let cells: Vec<ProcessRef> = mine.iter().map(|&s| cell(s)).collect();
                        for (s, c) in mine.iter().zip(&cells) {
                            table.insert(*s, c);
                        }
                        for (s, c) in mine.iter().zip(&cells) {
                            table.remove(*s, c);
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let found: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(found > 0, "the readers never saw an entry");
        assert_eq!(table.len(), 0);
    }

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

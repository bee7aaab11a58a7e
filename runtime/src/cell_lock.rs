//! The lock of a process's cell and of a process-table shard: held for a few dozen
//! instructions, almost never contended, and taken several times per spawn and exit.
//!
//! A spin lock whose release is a plain store: half the atomic read-modify-writes of a
//! lock that must check for parked waiters on release, which is what these paths pay most
//! for. A waiter spins briefly and then yields its thread, so a holder preempted on a busy
//! machine is not starved by its waiters.

use std::sync::atomic::{AtomicBool, Ordering};

/// A mutex over `T` using [`RawCellLock`].
pub(crate) type CellMutex<T> = lock_api::Mutex<RawCellLock, T>;

/// See the module documentation.
pub(crate) struct RawCellLock(AtomicBool);

/// Spins before a waiter starts yielding its thread.
const SPINS: u32 = 64;

// SAFETY: `lock` returns only after this thread changed the flag from free to held (with
// acquire ordering), and `unlock` frees it (with release ordering): one holder at a time,
// and what a holder wrote is visible to the next.
unsafe impl lock_api::RawMutex for RawCellLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawCellLock = RawCellLock(AtomicBool::new(false));

    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        if self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

impl RawCellLock {
    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            // Wait until it looks free before trying again, without writing the line.
            while self.0.load(Ordering::Relaxed) {
                if spins < SPINS {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .0
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_under_contention() {
        // More threads than cores, so holders are preempted while others wait.
        let counter = std::sync::Arc::new(CellMutex::new(0u64));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        let mut n = counter.lock();
                        // A read and a write apart: a second holder would lose an update.
                        let seen = *n;
                        std::hint::black_box(&seen);
                        *n = seen + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 8 * 20_000);
        assert!(
            counter.try_lock().is_some(),
            "free once every guard is gone"
        );
    }
}

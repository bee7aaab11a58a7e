//! A global allocator that can count heap bytes, switched on only while a workload measures
//! memory (bytes per name, soak drift, churn's heap), so that timing runs never pay for it.
//! Install it in a binary with `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
//!
//! # The counting rule
//!
//! Counting is off by default: then `alloc` and `dealloc` go straight to [`System`] after
//! one relaxed load of a flag. While it is on ([`count_during`], or a [`Counting`] guard),
//! every allocation adds its size to one signed counter and every free (and every
//! `realloc`'s change of size) subtracts its size, whoever allocated the block. A free,
//! while counting, of a block allocated while counting was off subtracts bytes that were
//! never added: the counter is signed, so it never wraps, but it can go below the bytes
//! the window really kept. So a memory figure is always a *delta* of [`counted_bytes`] over
//! one window in which counting stayed on, and the window opens only after
//! [`flush_deferred_frees`] has let earlier phases' deferred frees (epoch-based
//! reclamation in scc and flurry, exited tasks) land: then the frees inside the window are
//! of memory the window allocated, up to what could not be flushed. A workload that still
//! reads a negative figure reports a measurement error, never the number.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

/// How many [`Counting`] guards are alive: counting is on while this is not zero.
static COUNTING: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated minus bytes freed while counting was on (signed: see the module docs).
static NET: AtomicIsize = AtomicIsize::new(0);
/// Whether this binary's global allocator is [`CountingAlloc`]: 0 unknown, 1 no, 2 yes.
static INSTALLED: AtomicU8 = AtomicU8::new(0);

#[inline(always)]
fn counting() -> bool {
    COUNTING.load(Ordering::Relaxed) != 0
}

/// The system allocator, counting heap bytes while counting is switched on.
pub struct CountingAlloc;

unsafe impl GlobalAlloc for CountingAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if counting() && !p.is_null() {
            NET.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            NET.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        System.dealloc(ptr, layout)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if counting() && !p.is_null() {
            NET.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if counting() && !p.is_null() {
            NET.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

/// Counting stays on while a `Counting` is alive (guards nest: it goes off when the last
/// one is dropped).
#[must_use = "counting stops when the guard is dropped"]
pub struct Counting(());

impl Counting {
    /// Switches counting on until the guard is dropped.
    pub fn start() -> Self {
        COUNTING.fetch_add(1, Ordering::SeqCst);
        Counting(())
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        COUNTING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f` with counting on.
pub fn count_during<R>(f: impl FnOnce() -> R) -> R {
    let _on = Counting::start();
    f()
}

/// Whether this binary's global allocator is [`CountingAlloc`] (probed once, by counting
/// one small allocation).
pub fn installed() -> bool {
    match INSTALLED.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let before = NET.load(Ordering::SeqCst);
            let grew = count_during(|| {
                let probe = std::hint::black_box(vec![0u8; 4096]);
                let grew = NET.load(Ordering::SeqCst) != before;
                drop(probe);
                grew
            });
            INSTALLED.store(if grew { 2 } else { 1 }, Ordering::Relaxed);
            grew
        }
    }
}

/// The counter: bytes allocated minus bytes freed while counting was on, since the process
/// started; `None` if the counting allocator is not installed. Only a difference of two
/// readings within one counting window means anything (see the module docs).
pub fn counted_bytes() -> Option<isize> {
    installed().then(|| NET.load(Ordering::SeqCst))
}

/// Lets deferred frees land before a memory reading: scc's epoch-based reclamation (its
/// epoch is pushed forward from every tokio worker, several times) and whatever exited
/// tasks and flurry's collectors release once their threads pass a few scheduling points.
/// flurry's collectors belong to each map and cannot be flushed from outside: their
/// batches are what a negative figure can still come from.
pub async fn flush_deferred_frees() {
    let threads = tokio::runtime::Handle::current().metrics().num_workers();
    for _ in 0..4 {
        let pushes: Vec<_> = (0..threads.max(1) * 2)
            .map(|_| {
                tokio::spawn(async {
                    accelerate_reclamation();
                    tokio::task::yield_now().await;
                    accelerate_reclamation();
                })
            })
            .collect();
        for p in pushes {
            let _ = p.await;
        }
        accelerate_reclamation();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Pushes scc's epoch forward from this thread, reclaiming what it can.
fn accelerate_reclamation() {
    let guard = scc::ebr::Guard::new();
    guard.accelerate();
    drop(guard);
}

/// The allocator description for the environment record.
pub fn description() -> &'static str {
    if installed() {
        "system (glibc malloc); naming_bench::alloc::CountingAlloc counts bytes only during memory measurements"
    } else {
        "system (glibc malloc), not counted"
    }
}

//! A shared, reference-counted value that starts on a cache-line boundary and keeps its
//! count inside itself, allocated through the allocator's plain (fast) path: how a process
//! cell is held, so that what a call touches lies in one line of it.
//!
//! An `Arc` of a 64-byte-aligned value needs an aligned allocation, which glibc serves
//! through `posix_memalign`, outside its per-thread cache: several times a plain `malloc`
//! on the spawn path (12% of a named spawn + stop in its profile), and its counts take a
//! line of their own. Here the allocation is a plain one, one line larger than the value;
//! the value is placed at the first line boundary at least one word past its start, and the
//! distance back to the start is kept in the word before the value. Where the count lies
//! is the value's own layout's choice.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// The cache line a value is placed on.
const LINE: usize = 64;

/// A value that carries its own reference count.
///
/// # Safety
/// `refs` returns the same counter for the value's whole life, and that counter reads 1
/// when the value is handed to [`LineRc::new`].
pub(crate) unsafe trait Counted {
    /// The value's reference count.
    fn refs(&self) -> &AtomicUsize;
}

/// A shared reference to a `T` placed at the start of a cache line (see the module).
pub(crate) struct LineRc<T: Counted>(NonNull<T>);

// SAFETY: as `Arc<T>`: a `LineRc` hands out only `&T` and drops `T` on one thread, once.
unsafe impl<T: Counted + Send + Sync> Send for LineRc<T> {}
// SAFETY: as above.
unsafe impl<T: Counted + Send + Sync> Sync for LineRc<T> {}

impl<T: Counted> LineRc<T> {
    /// The allocation that holds a `T` wherever its start falls.
    fn layout() -> Layout {
        const { assert!(std::mem::align_of::<T>() <= LINE) };
        match Layout::from_size_align(std::mem::size_of::<T>() + LINE, 8) {
            Ok(layout) => layout,
            // A value's size plus one line never overflows for the types this holds.
            Err(_) => unreachable!("a process cell's layout is valid"),
        }
    }

    /// Moves `value` into a new allocation; its count must read 1.
    pub(crate) fn new(value: T) -> LineRc<T> {
        let layout = Self::layout();
        // SAFETY: the layout has a non-zero size.
        let start = unsafe { alloc(layout) };
        if start.is_null() {
            handle_alloc_error(layout);
        }
        let addr = start as usize;
        let offset = (addr + 8).next_multiple_of(LINE) - addr;
        // SAFETY: `8 <= offset <= LINE`, so the word before the value and the value itself
        // (`size_of::<T>()` bytes, aligned to the line) lie inside the allocation.
        unsafe {
            start.add(offset - 8).cast::<usize>().write(offset);
            let at = start.add(offset).cast::<T>();
            at.write(value);
            LineRc(NonNull::new_unchecked(at))
        }
    }

    /// The value's address, for a holder that keeps no reference of its own.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *const T {
        self.0.as_ptr()
    }

    /// A new reference to the value at `ptr`.
    ///
    /// # Safety
    /// `ptr` came from [`as_ptr`](Self::as_ptr), and some reference to the value is held
    /// for the whole call.
    #[inline]
    pub(crate) unsafe fn clone_from_ptr(ptr: *const T) -> LineRc<T> {
        // SAFETY: per the contract the value is alive while we add our count.
        let counted = unsafe { &*ptr };
        Self::add_ref(counted);
        // SAFETY: `ptr` is non-null, as it came from a live `LineRc`.
        LineRc(unsafe { NonNull::new_unchecked(ptr.cast_mut()) })
    }

    #[inline]
    fn add_ref(value: &T) {
        // Relaxed, as `Arc`: a new reference is made from an existing one, which keeps the
        // value alive meanwhile.
        if value.refs().fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            // Billions of leaked references: abort rather than wrap, as `Arc` does.
            std::process::abort();
        }
    }
}

impl<T: Counted> Clone for LineRc<T> {
    #[inline]
    fn clone(&self) -> Self {
        Self::add_ref(self);
        LineRc(self.0)
    }
}

impl<T: Counted> Deref for LineRc<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the value lives while any reference to it does, this one included.
        unsafe { self.0.as_ref() }
    }
}

impl<T: Counted> Drop for LineRc<T> {
    #[inline]
    fn drop(&mut self) {
        // Release, then acquire before the drop, as `Arc`: every use of the value through
        // another reference happens before it is dropped.
        if self.refs().fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        let at = self.0.as_ptr();
        // SAFETY: this was the last reference; `new` stored the distance back to the
        // allocation's start in the word before the value, and allocated with `layout`.
        unsafe {
            let offset = at.cast::<u8>().sub(8).cast::<usize>().read();
            std::ptr::drop_in_place(at);
            dealloc(at.cast::<u8>().sub(offset), Self::layout());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[repr(align(64))]
    struct Probe {
        refs: AtomicUsize,
        dropped: Arc<AtomicUsize>,
    }

    // SAFETY: `refs` is the one counter, created at 1.
    unsafe impl Counted for Probe {
        fn refs(&self) -> &AtomicUsize {
            &self.refs
        }
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn values_sit_on_a_line_and_drop_once_with_the_last_reference() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let held: Vec<LineRc<Probe>> = (0..100)
            .map(|_| {
                LineRc::new(Probe {
                    refs: AtomicUsize::new(1),
                    dropped: dropped.clone(),
                })
            })
            .collect();
        for p in &held {
            assert_eq!(p.as_ptr() as usize % LINE, 0);
        }
        let copies: Vec<_> = held.iter().map(LineRc::clone).collect();
        // SAFETY: each pointer comes from a `LineRc` that `held` keeps alive.
        let more: Vec<_> = held
            .iter()
            .map(|p| unsafe { LineRc::clone_from_ptr(p.as_ptr()) })
            .collect();
        drop(held);
        drop(copies);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            0,
            "a reference is still held"
        );
        assert!(more.iter().all(|p| p.refs().load(Ordering::SeqCst) == 1));
        drop(more);
        assert_eq!(dropped.load(Ordering::SeqCst), 100);
    }
}

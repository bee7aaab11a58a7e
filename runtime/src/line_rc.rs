//! A shared, reference-counted value that starts on a cache-line boundary and keeps its
//! count inside itself, allocated through the allocator's plain (fast) path: how a process
//! cell is held, so that what a call touches lies in one line of it.
//!
//! An `Arc` of a 64-byte-aligned value needs an aligned allocation, which glibc serves
//! through `posix_memalign`, outside its per-thread cache: several times a plain `malloc`
//! on the spawn path (12% of a named spawn + stop in its profile), and its counts take a
//! line of their own. Here the allocation is a plain one, one line larger than the value;
//! the value is placed at the first line boundary at least one word past its start, and the
//! distance back to the start (with the allocation's size) is kept in the word before the
//! value. Where the count lies is the value's own layout's choice.
//!
//! The allocation can also hold room for a second value after the first
//! ([`LineRc::with_room`]), which its owner fills, uses and drops itself: a process's body
//! lives there, beside its cell, so that its tokio task stays three words long.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// The cache line a value is placed on.
const LINE: usize = 64;

/// The bits of the word before the value that hold the distance back to the start; the
/// allocation's size is kept in the bits above.
const OFFSET_BITS: u32 = 8;

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
    /// Moves `value` into a new allocation; its count must read 1.
    #[cfg(test)]
    pub(crate) fn new(value: T) -> LineRc<T> {
        Self::with_room::<()>(|| value).0
    }

    /// Places the value `make` builds in a new allocation with room for a `U` after it, and
    /// returns that room, uninitialised. The room is the caller's: nothing here reads,
    /// writes or drops it; it stays valid (and never moves) while any reference to the value
    /// is held. The value is built once its place is known, so that it can be written there
    /// directly rather than built aside and copied in (a `make` that panics leaks the
    /// allocation; the cell's builder never does).
    #[inline]
    pub(crate) fn with_room<U>(make: impl FnOnce() -> T) -> (LineRc<T>, NonNull<MaybeUninit<U>>) {
        const { assert!(std::mem::align_of::<T>() <= LINE) };
        let value_size = std::mem::size_of::<T>();
        // The room follows the value, aligned for a `U`; the value's start is only known
        // to be line-aligned, so a `U` aligned beyond a line may need that much more.
        let room_align = std::mem::align_of::<U>();
        let slack = room_align.saturating_sub(LINE);
        let size =
            LINE + value_size.next_multiple_of(room_align) + slack + std::mem::size_of::<U>();
        let layout = Self::layout(size);
        // SAFETY: the layout has a non-zero size (at least one line).
        let start = unsafe { alloc(layout) };
        if start.is_null() {
            handle_alloc_error(layout);
        }
        let addr = start as usize;
        // The allocation is 8-aligned, so `8 <= offset <= LINE`.
        let offset = (addr + 8).next_multiple_of(LINE) - addr;
        let room_at = (addr + offset + value_size).next_multiple_of(room_align);
        debug_assert!(room_at + std::mem::size_of::<U>() <= addr + size);
        // SAFETY: the word before the value, the value itself (`size_of::<T>()` bytes,
        // aligned to the line) and the room (aligned for `U`, counted in `size` with its
        // padding) lie inside the allocation.
        unsafe {
            start
                .add(offset - 8)
                .cast::<usize>()
                .write(size << OFFSET_BITS | offset);
            let at = start.add(offset).cast::<T>();
            at.write(make());
            let room = start.add(room_at - addr).cast::<MaybeUninit<U>>();
            (
                LineRc(NonNull::new_unchecked(at)),
                NonNull::new_unchecked(room),
            )
        }
    }

    /// A plain allocation of `size` bytes (word-aligned: the allocator's fast path).
    fn layout(size: usize) -> Layout {
        match Layout::from_size_align(size, 8) {
            Ok(layout) => layout,
            // A value's size plus its room and one line never overflows for the types
            // this holds.
            Err(_) => unreachable!("a cell's layout is valid"),
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
        // SAFETY: this was the last reference; `with_room` stored the distance back to the
        // allocation's start and its size in the word before the value.
        unsafe {
            let word = at.cast::<u8>().sub(8).cast::<usize>().read();
            let offset = word & ((1 << OFFSET_BITS) - 1);
            std::ptr::drop_in_place(at);
            dealloc(
                at.cast::<u8>().sub(offset),
                Self::layout(word >> OFFSET_BITS),
            );
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

    #[test]
    fn room_lies_after_the_value_aligned_for_its_type() {
        #[repr(align(128))]
        struct Wide(#[allow(dead_code)] [u8; 200]);
        fn check<U>() {
            let dropped = Arc::new(AtomicUsize::new(0));
            for _ in 0..50 {
                let (value, room) = LineRc::with_room::<U>(|| Probe {
                    refs: AtomicUsize::new(1),
                    dropped: dropped.clone(),
                });
                let (v, r) = (value.as_ptr() as usize, room.as_ptr() as usize);
                assert_eq!(v % LINE, 0);
                assert_eq!(r % std::mem::align_of::<U>(), 0);
                assert!(
                    r >= v + std::mem::size_of::<Probe>(),
                    "room overlaps the value"
                );
                // The room is writable to its end, and the value drops once, with its room
                // left to its owner.
                // SAFETY: the room is ours, and valid while `value` is held.
                unsafe {
                    std::ptr::write_bytes(
                        room.as_ptr().cast::<u8>(),
                        0xA5,
                        std::mem::size_of::<U>(),
                    )
                };
                drop(value);
            }
            assert_eq!(dropped.load(Ordering::SeqCst), 50);
        }
        check::<()>();
        check::<u64>();
        check::<[u8; 176]>();
        check::<Wide>();
    }
}

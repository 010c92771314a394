//! Per-thread reuse of the evaluator's large buffers.
//!
//! A chunk of 128 images needs tens of megabytes of activations. Allocated afresh on every
//! pass, each megabyte comes back from the kernel as new zeroed pages, and that paging cost
//! more than the arithmetic. The evaluator takes its buffers from a small per-thread pool
//! and gives them back when a pass ends. A buffer always leaves the pool empty (length 0),
//! so old contents can never be read: reuse cannot change a result.

use std::cell::RefCell;

/// Most buffers of one element type a thread keeps.
const MAX_KEPT: usize = 48;
/// Largest buffer (in elements) a thread keeps; larger ones are freed.
const MAX_KEPT_ELEMS: usize = 1 << 25;

thread_local! {
    static F32: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
    static F64: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
    static U32: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// An element type with a per-thread buffer pool.
pub(crate) trait Pooled: Copy + Sized + 'static {
    /// Runs `f` on this thread's pool of this type.
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R;
}

impl Pooled for f32 {
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<f32>>) -> R) -> R {
        F32.with(|p| f(&mut p.borrow_mut()))
    }
}
impl Pooled for f64 {
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<f64>>) -> R) -> R {
        F64.with(|p| f(&mut p.borrow_mut()))
    }
}
impl Pooled for u32 {
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<u32>>) -> R) -> R {
        U32.with(|p| f(&mut p.borrow_mut()))
    }
}

/// An empty buffer with room for at least `cap` values: the smallest pooled one that fits,
/// else a new one.
pub(crate) fn take<T: Pooled>(cap: usize) -> Vec<T> {
    let found = T::with_pool(|pool| {
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= cap)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| pool.swap_remove(i))
    });
    match found {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(cap),
    }
}

/// `len` copies of `value` in a pooled buffer.
pub(crate) fn filled<T: Pooled>(len: usize, value: T) -> Vec<T> {
    let mut v = take(len);
    v.resize(len, value);
    v
}

/// A pooled copy of `src`.
pub(crate) fn copied<T: Pooled>(src: &[T]) -> Vec<T> {
    let mut v = take(src.len());
    v.extend_from_slice(src);
    v
}

/// Returns a buffer to this thread's pool (or frees it if the pool is full or it is huge).
pub(crate) fn give<T: Pooled>(v: Vec<T>) {
    if v.capacity() == 0 || v.capacity() > MAX_KEPT_ELEMS {
        return;
    }
    T::with_pool(|pool| {
        pool.push(v);
        if pool.len() > MAX_KEPT {
            // Drop the smallest: the large ones are the costly ones to make again.
            if let Some(i) = pool
                .iter()
                .enumerate()
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i)
            {
                pool.swap_remove(i);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_comes_back_empty_and_large_enough() {
        let mut v = take::<f32>(1000);
        v.extend(std::iter::repeat_n(7.0, 1000));
        give(v);
        let again = take::<f32>(600);
        assert!(again.is_empty());
        assert!(again.capacity() >= 1000, "the pooled buffer was not reused");
        let zeros = filled::<f32>(800, 0.0);
        assert_eq!(zeros, vec![0.0; 800]);
    }
}

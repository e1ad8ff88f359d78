//! f32 scratch buffers that start on a 64-byte boundary, so packed panels can be read with
//! aligned vector loads (which LLVM never splits, unlike unaligned 256-bit loads under the
//! baseline CPU's tuning), reused per thread so small products do not pay for allocation and
//! page faults on every call.
//!
//! Contents are unspecified on entry: the packing routines write every element they use,
//! padding included.

use std::cell::RefCell;

/// One cache line of f32.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

thread_local! {
    static B_SCRATCH: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    static A_SCRATCH: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Which per-thread scratch area to use (B is held by the calling thread while tasks, possibly
/// on the same thread, use A).
#[derive(Clone, Copy)]
pub(super) enum Scratch {
    B,
    A,
}

fn view(lines: &mut [Line], len: usize) -> &mut [f32] {
    debug_assert!(lines.len() * 16 >= len);
    // SAFETY: `Line` is repr(C) around [f32; 16] with size 64 and no padding, so `lines` is
    // `16 * lines.len() >= len` contiguous, initialised f32s, exclusively borrowed.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<f32>(), len) }
}

/// Runs `f` on a 64-byte-aligned buffer of `len` floats with unspecified contents: this
/// thread's scratch area when it is free, a fresh buffer when it is in use (nested calls).
pub(super) fn with_scratch<R>(which: Scratch, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let lines = len.div_ceil(16);
    let key = match which {
        Scratch::B => &B_SCRATCH,
        Scratch::A => &A_SCRATCH,
    };
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < lines {
                *v = vec![Line([0.0; 16]); lines];
            }
            f(view(&mut v, len))
        }
        Err(_) => {
            let mut v = vec![Line([0.0; 16]); lines];
            f(view(&mut v, len))
        }
    })
}

/// Grows this thread's scratch area to at least `len` floats now, so that later products up
/// to that size do not allocate.
pub(super) fn reserve(which: Scratch, len: usize) {
    with_scratch(which, len, |_| ());
}

/// An owned f32 buffer that starts on a 64-byte boundary and keeps its storage between uses
/// (it only grows).
#[derive(Clone, Debug, Default)]
pub(crate) struct AlignedVec {
    lines: Vec<Line>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Line")
    }
}

impl AlignedVec {
    /// The first `len` floats (contents unspecified on first use: callers write before
    /// reading), growing the storage if needed.
    pub(crate) fn get(&mut self, len: usize) -> &mut [f32] {
        let lines = len.div_ceil(16);
        if self.lines.len() < lines {
            self.lines.resize(lines, Line([0.0; 16]));
        }
        view(&mut self.lines, len)
    }
}

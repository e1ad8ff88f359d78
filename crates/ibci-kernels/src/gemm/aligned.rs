//! Zero-initialised f32 buffers that start on a 64-byte boundary, so packed panels can be read
//! with aligned vector loads (which LLVM never splits, unlike unaligned 256-bit loads under the
//! baseline CPU's tuning).

/// One cache line of f32.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A 64-byte-aligned, zero-initialised f32 buffer of a fixed length.
pub(super) struct AlignedBuf {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBuf {
    /// `len` zeros.
    pub fn zeros(len: usize) -> AlignedBuf {
        AlignedBuf {
            lines: vec![Line([0.0; 16]); len.div_ceil(16)],
            len,
        }
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: `Line` is repr(C) around [f32; 16] with size 64 and no padding, so the lines
        // are `16 * lines.len() >= len` contiguous, initialised f32s; `&mut self` makes the
        // borrow exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

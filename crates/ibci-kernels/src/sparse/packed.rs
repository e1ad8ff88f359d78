//! The right operand of the first layer's sparse products ([`super::cols`]) as the kernels
//! read it: in place when its rows are contiguous (W1 in training: a packed copy would double
//! what the product streams), else packed into [`Packed`]'s aligned rows of
//! `ld = round_up(n, 16)` floats, zero beyond column `n`. [`Packed`] also holds the
//! kernel path, the forward product's per-thread tiles and the weight gradient's per-thread
//! copies of its right operand's column blocks.

use super::exact::{exponent_floor, ExponentFloor};
use crate::dispatch::KernelPath;
use crate::gemm::aligned::AlignedVec;
use crate::mat::MatRef;

/// The scratch of the sparse products, reused between calls: the kernel path, the right
/// operand packed once per product (`rows x n` floats, row `p` at `p * ld` from a 64-byte
/// boundary, `ld = round_up(n, 16)`, padding zero), the forward product's tiles and the
/// weight gradient's block copies.
#[derive(Clone, Debug)]
pub struct Packed {
    path: KernelPath,
    buf: AlignedVec,
    tiles: AlignedVec,
    blocks: AlignedVec,
    rows: usize,
    n: usize,
    ld: usize,
}

impl Default for Packed {
    /// Scratch for the process-wide default path ([`KernelPath::default_path`]).
    fn default() -> Packed {
        Packed::new(KernelPath::default_path())
    }
}

impl Packed {
    /// Empty scratch for products on `path`.
    ///
    /// # Panics
    /// If this host does not support `path`.
    #[track_caller]
    pub fn new(path: KernelPath) -> Packed {
        assert!(path.supported(), "sparse: path {path} not supported here");
        Packed {
            path,
            buf: AlignedVec::default(),
            tiles: AlignedVec::default(),
            blocks: AlignedVec::default(),
            rows: 0,
            n: 0,
            ld: 0,
        }
    }

    /// The kernel path the products run on.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Copies `b` (`rows x n`, any strides) in, rows padded to a multiple of 16 floats (one
    /// AVX-512 vector, two AVX2 ones), and returns its exponent floor (for
    /// [`super::exact`]'s guard) from the same pass. Allocates only when `b` is larger than
    /// anything packed before.
    pub(super) fn pack(&mut self, b: MatRef<'_>) -> ExponentFloor {
        let (rows, n) = (b.rows(), b.cols());
        let ld = n.div_ceil(16) * 16;
        let dst = self.buf.get(rows * ld);
        let mut floor = ExponentFloor::EMPTY;
        for (p, d) in dst.chunks_exact_mut(ld.max(1)).take(rows).enumerate() {
            match b.row(p) {
                Some(src) => d[..n].copy_from_slice(src),
                None => d[..n]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, x)| *x = b.at(p, j)),
            }
            d[n..].fill(0.0);
            floor = floor.merge(exponent_floor(&d[..n]));
        }
        (self.rows, self.n, self.ld) = (rows, n, ld);
        floor
    }

    /// Grows the forward product's tiles and the weight gradient's block copies for products
    /// of up to `rows` batch rows split over up to `threads` threads, so that such products
    /// allocate nothing afterwards (a caller that runs them on one thread at first and on
    /// more later, say). Upper bounds: [`super::rows_times`] takes at most `rows + threads`
    /// tile rows of at most `max_vectors * lanes` floats (rounded up to 16),
    /// [`super::cols_t_times`] one block of `rows * BW` floats a thread.
    pub fn reserve(&mut self, threads: usize, rows: usize) {
        let path = self.path;
        let ts = (super::forward_kernels::max_vectors(path) * super::forward_kernels::lanes(path))
            .div_ceil(16)
            * 16;
        self.tiles.get((rows + threads) * ts);
        self.blocks.get(threads * rows * super::batch::BW);
    }

    /// `threads` tiles of `len` floats each, the first on a 64-byte boundary (contents
    /// unspecified).
    pub(super) fn tiles(&mut self, threads: usize, len: usize) -> *mut f32 {
        self.tiles.get(threads * len).as_mut_ptr()
    }

    /// `threads` buffers of `len` floats each for [`super::cols`]'s copies of column blocks,
    /// the first on a 64-byte boundary (contents unspecified).
    pub(super) fn blocks(&mut self, threads: usize, len: usize) -> *mut f32 {
        self.blocks.get(threads * len).as_mut_ptr()
    }

    /// The packed operand, as the kernels read it.
    pub(super) fn rhs(&mut self) -> Rhs {
        let (rows, n, ld) = (self.rows, self.n, self.ld);
        Rhs {
            ptr: self.buf.get(rows * ld).as_ptr(),
            ld,
            rows,
            n,
        }
    }
}

/// A right operand as the kernels read it: packed (see [`Packed`]), a block of columns
/// copied into aligned rows ([`Rhs::copy_block`]), or a matrix read where it lies (rows of
/// `n` floats at stride `ld`, any alignment).
#[derive(Clone, Copy, Debug)]
pub(super) struct Rhs {
    ptr: *const f32,
    ld: usize,
    rows: usize,
    n: usize,
}

impl Rhs {
    /// Row `r`'s first float.
    ///
    /// # Safety
    /// `r < self.rows`.
    pub(super) unsafe fn row_ptr(&self, r: usize) -> *const f32 {
        debug_assert!(r < self.rows);
        // SAFETY: row r lies inside the operand by the caller's contract.
        unsafe { self.ptr.add(r * self.ld) }
    }

    /// Columns.
    pub(super) fn cols(&self) -> usize {
        self.n
    }

    /// Columns `j0..j0 + bw` of `b` copied to `dst`, row `r` at `dst + r * ld` with `ld =
    /// round_up(bw, 16)` and zeros after its `bw` floats, and read from there.
    ///
    /// # Safety
    /// `dst` is valid for writes of `b.rows() * round_up(bw, 16)` floats, starts on a
    /// 64-byte boundary and stays unaliased while the result is used; `j0 + bw <= b.cols()`.
    pub(super) unsafe fn copy_block(b: MatRef<'_>, j0: usize, bw: usize, dst: *mut f32) -> Rhs {
        let (rows, ld) = (b.rows(), bw.div_ceil(16) * 16);
        // SAFETY: the caller's contract.
        let d = unsafe { std::slice::from_raw_parts_mut(dst, rows * ld) };
        for (r, row) in d.chunks_exact_mut(ld.max(1)).enumerate() {
            match b.row(r) {
                Some(src) => row[..bw].copy_from_slice(&src[j0..j0 + bw]),
                None => row[..bw]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, x)| *x = b.at(r, j0 + j)),
            }
            row[bw..].fill(0.0);
        }
        Rhs {
            ptr: dst,
            ld,
            rows,
            n: bw,
        }
    }

    /// `b` read in place, when its rows are contiguous (`None` otherwise: pack it). The caller keeps `b` borrowed, unchanged, while the result is used.
    pub(super) fn in_place(b: MatRef<'_>) -> Option<Rhs> {
        (b.rows() > 0 && b.row(0).is_some()).then(|| Rhs {
            ptr: b.ptr_at(0, 0),
            ld: b.row_stride(),
            rows: b.rows(),
            n: b.cols(),
        })
    }
}

// SAFETY: the right operand is only read, by every task, while its owner keeps it borrowed;
// shared reads from several threads are no data race.
unsafe impl Send for Rhs {}
// SAFETY: as above.
unsafe impl Sync for Rhs {}

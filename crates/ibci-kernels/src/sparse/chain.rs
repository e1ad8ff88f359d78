//! One output row of a sparse product: `out[j] = chain over the row's nonzeros (p, v) of
//! v * b[p, j]`, fused multiply-adds in list order, then an epilogue.
//!
//! ```text
//! acc[j] = fma(v_last, b[p_last, j], ... fma(v_1, b[p_1, j], +0))      j in 0..n
//! out[j] = acc[j]                 (+ bias[j], one rounding, when given)
//! ```
//!
//! The right operand ([`Rhs`]) is read where it lies when its rows are contiguous and at least
//! one vector wide (W1 in training: a packed copy would double what the product streams
//! through L2), with `vlddqu` loads (one instruction; the build's baseline tuning splits a
//! plain unaligned 256-bit load in two); otherwise it is packed ([`Packed`]: rows of
//! `ld = round_up(n, 8)` floats from a 64-byte boundary, zero beyond column `n`) and read
//! with aligned loads. The AVX2+FMA kernel holds up to [`MAX_NV`] vectors of eight
//! accumulators in registers and walks the list once per chunk of columns; the chunks split
//! `ceil(n/8)` vectors evenly. In place, the last vector ends at column `n` (it may overlap
//! the one before it: both compute the same chains there); packed, the epilogue masks the
//! padding columns. The portable kernel is `f32::mul_add` in the same order. Both give the
//! same bits for every element; only the number of elements in flight differs.

use super::exact::{exponent_floor, ExponentFloor};
use crate::dispatch::KernelPath;
use crate::gemm::aligned::AlignedVec;
use crate::mat::MatRef;

/// Most accumulator vectors per chunk (14 ymm + one broadcast; loads fold into the FMAs).
const MAX_NV: usize = 14;

/// The scratch of the sparse products, reused between calls: the kernel path, the right
/// operand packed once per product (`rows x n` floats, row `p` at `p * ld` from a 64-byte
/// boundary, `ld = round_up(n, 8)` (16 for the gradient), padding zero), and the gradient's
/// tiles.
#[derive(Clone, Debug)]
pub struct Packed {
    path: KernelPath,
    buf: AlignedVec,
    tiles: AlignedVec,
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
            rows: 0,
            n: 0,
            ld: 0,
        }
    }

    /// The kernel path the products run on.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Copies `b` (`rows x n`, any strides) in, rows padded to a multiple of `lanes` floats
    /// (8 or 16), and returns its exponent floor (for [`super::exact`]'s guard) from the same
    /// pass. Allocates only when `b` is larger than anything packed before.
    pub(super) fn pack(&mut self, b: MatRef<'_>, lanes: usize) -> ExponentFloor {
        debug_assert!(lanes == 8 || lanes == 16);
        let (rows, n) = (b.rows(), b.cols());
        let ld = n.div_ceil(lanes) * lanes;
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

    /// `threads` tiles of `len` floats each, the first on a 64-byte boundary (contents
    /// unspecified), for [`super::grad`].
    pub(super) fn tiles(&mut self, threads: usize, len: usize) -> *mut f32 {
        self.tiles.get(threads * len).as_mut_ptr()
    }

    /// The packed operand for [`row`].
    pub(super) fn rhs(&mut self) -> Rhs {
        let (rows, n, ld) = (self.rows, self.n, self.ld);
        Rhs {
            ptr: self.buf.get(rows * ld).as_ptr(),
            ld,
            rows,
            n,
            packed: true,
        }
    }
}

/// A right operand as the kernels read it: packed (see [`Packed`]), or a matrix read where it
/// lies (rows of `n >= 8` floats at stride `ld`, any alignment).
#[derive(Clone, Copy, Debug)]
pub(super) struct Rhs {
    ptr: *const f32,
    ld: usize,
    rows: usize,
    n: usize,
    packed: bool,
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

    /// `b` read in place, when its rows are contiguous and at least one vector wide (`None`
    /// otherwise: pack it). The caller keeps `b` borrowed, unchanged, while the result is used.
    pub(super) fn in_place(b: MatRef<'_>) -> Option<Rhs> {
        (b.cols() >= 8 && b.rows() > 0 && b.row(0).is_some()).then(|| Rhs {
            ptr: b.ptr_at(0, 0),
            ld: b.row_stride(),
            rows: b.rows(),
            n: b.cols(),
            packed: false,
        })
    }
}

// SAFETY: the right operand is only read, by every task, while its owner keeps it borrowed;
// shared reads from several threads are no data race.
unsafe impl Send for Rhs {}
// SAFETY: as above.
unsafe impl Sync for Rhs {}

/// Runs one row: `out` from the list of (column of A, value) pairs.
///
/// # Safety
/// Every index in the list is below `b.rows`; the memory `b` points to (a [`Packed`] or a
/// borrowed matrix) is alive and unchanged; `out` is valid for writes of `b.n` floats and
/// does not alias the operand; a bias holds `b.n` floats; `path` is supported by this CPU.
pub(super) unsafe fn row(
    path: KernelPath,
    list: &[(u32, f32)],
    b: Rhs,
    bias: Option<&[f32]>,
    out: *mut f32,
) {
    debug_assert!(list.iter().all(|&(p, _)| (p as usize) < b.rows));
    match path {
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => {
            // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
            unsafe { super::avx512::row(list, b, bias, out) }
        }
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma => {
            // SAFETY: the caller's contract; the path is supported, so AVX2 and FMA are there.
            unsafe { x86::row(list, b, bias, out) }
        }
        _ => {
            // SAFETY: the caller's contract.
            unsafe { portable(list, b, bias, out) }
        }
    }
}

/// # Safety
/// As [`row`].
unsafe fn portable(list: &[(u32, f32)], b: Rhs, bias: Option<&[f32]>, out: *mut f32) {
    for j in 0..b.n {
        let mut s = 0f32;
        for &(p, v) in list {
            // SAFETY: p < b.rows and j < b.n by the caller's contract.
            s = v.mul_add(unsafe { *b.ptr.add(p as usize * b.ld + j) }, s);
        }
        // SAFETY: j < b.n, inside `out` and the bias.
        unsafe {
            let o = out.add(j);
            *o = match bias {
                None => s,
                Some(bias) => s + *bias.get_unchecked(j),
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Rhs, MAX_NV};

    /// Terms ahead whose row is prefetched.
    const PREFETCH: usize = 4;

    /// # Safety
    /// As [`super::row`], on a host with AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn row(list: &[(u32, f32)], b: Rhs, bias: Option<&[f32]>, out: *mut f32) {
        let nvec = b.n.div_ceil(8);
        let chunks = nvec.div_ceil(MAX_NV);
        let mut v0 = 0;
        for c in 0..chunks {
            // Even split: the first `nvec % chunks` chunks take one vector more.
            let nv = nvec / chunks + usize::from(c < nvec % chunks);
            // An in-place operand has no padding: its last vector ends at column n, overlapping
            // the one before it (both compute the same chains for the shared columns).
            let last = if b.packed || c + 1 < chunks {
                v0 * 8 + (nv - 1) * 8
            } else {
                b.n - 8
            };
            macro_rules! go {
                ($($k:literal)*) => {
                    match nv {
                        // SAFETY: vectors at v0*8 + 8k (k < nv - 1) and at `last` lie inside
                        // the rows (packed: ld = 8 nvec; in place: last + 8 = n); the rest is
                        // the forwarded contract.
                        $($k => unsafe { chunk::<$k>(list, b, v0 * 8, last, bias, out) },)*
                        _ => unreachable!("chunks hold 1 to MAX_NV vectors"),
                    }
                };
            }
            go!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
            v0 += nv;
        }
    }

    /// One 8-float load: aligned from a packed operand; through `vlddqu` from an in-place one
    /// (a plain unaligned 256-bit load would be split in two under the build's baseline
    /// tuning; `vlddqu` is one instruction).
    ///
    /// # Safety
    /// `p` is valid for 8 floats, 32-byte aligned when `packed`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn load(p: *const f32, packed: bool) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe {
            if packed {
                _mm256_load_ps(p)
            } else {
                _mm256_castsi256_ps(_mm256_lddqu_si256(p.cast()))
            }
        }
    }

    /// Columns `c0 + 8k` for `k < NV - 1` and `last` for the last vector; output columns from
    /// `b.n` on (a packed operand's padding) are masked off.
    ///
    /// # Safety
    /// As [`row`], with every column read below the row's length (`ld` when packed, `n` in
    /// place) and, when packed, `c0` and `last` multiples of 8.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn chunk<const NV: usize>(
        list: &[(u32, f32)],
        b: Rhs,
        c0: usize,
        last: usize,
        bias: Option<&[f32]>,
        out: *mut f32,
    ) {
        let off = |k: usize| if k + 1 == NV { last } else { c0 + 8 * k };
        let mut acc = [_mm256_setzero_ps(); NV];
        // SAFETY: p < b.rows (caller); the columns off(k) .. off(k) + 8 lie inside row p
        // (caller); packed rows are 32-byte aligned at multiples of 8. Prefetch is a hint: it
        // reads nothing and cannot fault.
        unsafe {
            for (t, &(p, v)) in list.iter().enumerate() {
                let row = b.ptr.add(p as usize * b.ld);
                // The rows come in data order, not memory order: ask for a later term's row.
                if let Some(&(q, _)) = list.get(t + PREFETCH) {
                    let ahead = b.ptr.wrapping_add(q as usize * b.ld + c0) as *const i8;
                    for l in (0..NV * 32).step_by(64) {
                        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(l));
                    }
                }
                let av = _mm256_set1_ps(v);
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(av, load(row.add(off(k)), b.packed), *a);
                }
            }
        }
        // Every result is formed before any is stored (an in-place operand's last vector
        // overlaps the one before it; both give the same bits for the shared columns).
        let mut res = [_mm256_setzero_ps(); NV];
        let mut lanes = [8usize; NV];
        for (k, (&a, r)) in acc.iter().zip(res.iter_mut()).enumerate() {
            let j = off(k);
            lanes[k] = b.n.saturating_sub(j).min(8);
            // SAFETY: only columns j .. j + lanes (< b.n) of the bias are read: plainly for a
            // full vector, masked otherwise.
            unsafe {
                let mask = tail_mask(lanes[k]);
                let load = |p: *const f32| {
                    if lanes[k] == 8 {
                        _mm256_castsi256_ps(_mm256_lddqu_si256(p.cast()))
                    } else {
                        _mm256_maskload_ps(p, mask)
                    }
                };
                *r = match bias {
                    None => a,
                    Some(bias) => _mm256_add_ps(a, load(bias.as_ptr().add(j))),
                };
            }
        }
        for (k, &r) in res.iter().enumerate() {
            // SAFETY: as above, for writes.
            unsafe {
                let o = out.add(off(k));
                if lanes[k] == 8 {
                    _mm256_storeu_ps(o, r);
                } else if lanes[k] > 0 {
                    _mm256_maskstore_ps(o, tail_mask(lanes[k]), r);
                }
            }
        }
    }

    /// The first `lanes` lanes set.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn tail_mask(lanes: usize) -> __m256i {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(lanes as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

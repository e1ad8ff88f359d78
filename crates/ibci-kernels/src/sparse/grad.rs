//! The first layer's weight gradient on a batch named by row indices, skipping A's zeros, by
//! scattering each sample's terms into a transposed tile (no per-batch transpose of A):
//!
//! ```text
//! G = A[rows]^T D          g_pj = chain over r = 0, 1, .. of a_{rows[r], p} d_rj
//!                          (A: data set m x k, D: batch x n, G: k x n)
//! for each block of 16 columns j0..j0+16 of D:
//!     T[p] = +0 (16 lanes, one cache line)    for p in 0..k      -- k x 16 floats
//!     for r in batch order:  for (p, a) in row rows[r] of A (p ascending):
//!         T[p] = fma(a, D[r, j0..j0+16], T[p])
//!     Store:  G[p, j0..j0+16] = T[p]
//!     Sgd:    W[p, j0..j0+16] = W[p, j0..j0+16] - lr * T[p]      (every p)
//! ```
//!
//! Each element's chain runs over the batch in order, exactly as the dense GEMM's `k` loop over
//! the batch does, with the zero terms left out; [`super::exact`]'s guard decides beforehand
//! that leaving them out changes no bit, or the function declines (writing nothing). For a
//! row `p` with no nonzero in the batch the tile stays +0, which is also the dense chain's
//! value, and the SGD form writes `w - lr * (+0) = w` (exact for finite `lr` of positive sign,
//! which is required). The tile (k x 16 floats: 49 KiB for MNIST, so mostly in L2 here) is
//! touched one cache line per term (two vectors per load and store); D is packed with rows
//! padded to 16 floats, so its loads need no mask.
//! Threads take whole column blocks, each with its own tile, so the thread count changes no
//! bit.

use rayon::prelude::*;

use super::chain::{Packed, Rhs};
use super::exact::skipping_is_exact;
use super::rows::CsrRows;
use crate::dispatch::KernelPath;
use crate::gemm::Par;
use crate::mat::{MatMut, MatRef};
use crate::ptr::SendPtr;

/// What [`rows_t_times`] does with each gradient row.
#[derive(Debug)]
pub enum GradOut<'a> {
    /// `G = A[rows]^T D` into this `a.cols() x d.cols()` matrix.
    Store(MatMut<'a>),
    /// `W <- W - lr * A[rows]^T D` on this `a.cols() x d.cols()` matrix.
    Sgd(MatMut<'a>, f32),
}

/// The weight gradient `A[rows]^T D` (or the SGD step that consumes it), skipping A's zeros;
/// `false` (nothing written) when the guard of [`super::exact`] fails or an SGD step's
/// learning rate is not finite and of positive sign (then `lr * (+0)` could be `-0` or NaN,
/// and the untouched rows would differ).
///
/// D is copied into `scratch` (padded rows, reused between calls).
///
/// # Panics
/// If `d` is not `rows.len() x n`, the output is not `a.cols() x n` with unit column stride,
/// or a row index is out of range.
#[track_caller]
pub fn rows_t_times(
    out: GradOut<'_>,
    a: &CsrRows,
    rows: &[usize],
    d: MatRef<'_>,
    scratch: &mut Packed,
    par: Par,
) -> bool {
    let (o, lr) = match out {
        GradOut::Store(o) => (o, None),
        GradOut::Sgd(o, lr) => (o, Some(lr)),
    };
    let (k, n) = (a.cols(), d.cols());
    assert!(
        d.rows() == rows.len() && o.rows() == k && o.cols() == n,
        "rows_t_times: out is {} x {}, A[rows]^T is {k} x {}, D is {} x {n}",
        o.rows(),
        o.cols(),
        rows.len(),
        d.rows()
    );
    assert!(
        o.col_stride() == 1 || n <= 1,
        "rows_t_times: the output needs a unit column stride"
    );
    if let Some(&bad) = rows.iter().find(|&&i| i >= a.rows()) {
        panic!("rows_t_times: row {bad} out of range for {} rows", a.rows());
    }
    if k == 0 || n == 0 {
        return true;
    }
    if lr.is_some_and(|lr| !(lr.is_finite() && lr.is_sign_positive()))
        || !skipping_is_exact(a.floor(), scratch.pack(d, W))
    {
        return false;
    }
    let path = scratch.path();
    let threads = match par {
        Par::Seq => 1,
        Par::Rayon => rayon::current_num_threads().max(1),
    };
    // Blocks of 16 columns; of 8 when that divides the work more evenly among the threads
    // (100 columns: 7 blocks of 16 split 4:3 over two threads, 13 blocks of 8 split 7:6).
    let bw = if threads > 1 && n.div_ceil(W) % threads != 0 && n > 8 {
        8
    } else {
        W
    };
    let blocks = n.div_ceil(bw);
    let tiles = SendPtr::from_raw(scratch.tiles(threads, k * W));
    let rhs = scratch.rhs();
    let rs = o.row_stride();
    let op = SendPtr::new(o);
    let block = |q: usize| {
        let t = match par {
            Par::Seq => 0,
            Par::Rayon => rayon::current_thread_index().unwrap_or(0) % threads,
        };
        // SAFETY: tile t (k*W floats from a 64-byte boundary) is used by one task at a time:
        // the task running on thread t, which finishes it before taking another; columns
        // q*W .. q*W + W lie inside D's padded rows; the output block is this task's alone;
        // every column index of `a` is below k; the path was checked when `scratch` was made.
        unsafe {
            let tile = tiles.get().add(t * k * W);
            scatter(path, a, rows, rhs, q * bw, bw, tile, k);
            let cols = bw.min(n - q * bw);
            write(path, tile, k, op.get().add(q * bw), rs, cols, lr);
        }
    };
    match par {
        Par::Seq => (0..blocks).for_each(block),
        Par::Rayon => (0..blocks).into_par_iter().for_each(block),
    }
    true
}

/// Columns per block (two AVX2 vectors or one AVX-512 vector: a tile row is one cache line).
pub(super) const W: usize = 16;

/// `tile[p][..bw] = chains over the batch` for columns `j0..j0+bw` (`bw` 8 or 16) of the
/// packed D.
///
/// # Safety
/// `tile` holds `k * W` floats on a 64-byte boundary, unaliased; `d` is packed with
/// `j0 + bw <= ld` and `rows.len()` rows; column indices of `a` are below `k`; `path` is
/// supported here.
#[allow(clippy::too_many_arguments)]
unsafe fn scatter(
    path: KernelPath,
    a: &CsrRows,
    rows: &[usize],
    d: Rhs,
    j0: usize,
    bw: usize,
    tile: *mut f32,
    k: usize,
) {
    match path {
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 if bw == W => {
            // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
            unsafe { super::avx512::scatter(a, rows, d, j0, tile, k) }
        }
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma | KernelPath::Avx512 => {
            // SAFETY: the caller's contract; hosts of either path have AVX2 and FMA.
            unsafe {
                if bw == W {
                    x86::scatter::<2>(a, rows, d, j0, tile, k)
                } else {
                    x86::scatter::<1>(a, rows, d, j0, tile, k)
                }
            }
        }
        _ => {
            // SAFETY: the caller's contract.
            unsafe {
                std::slice::from_raw_parts_mut(tile, k * W).fill(0.0);
                for (r, &i) in rows.iter().enumerate() {
                    let dr = std::slice::from_raw_parts(d.row_ptr(r).add(j0), bw);
                    for &(p, v) in a.row(i) {
                        let t = std::slice::from_raw_parts_mut(tile.add(p as usize * W), bw);
                        for (t, &dv) in t.iter_mut().zip(dr) {
                            *t = v.mul_add(dv, *t);
                        }
                    }
                }
            }
        }
    }
}

/// Writes the tile's first `cols` lanes of every row `p` to `out + p * rs` (or applies the SGD
/// step there).
///
/// # Safety
/// `tile` holds `k * W` floats; `out + p * rs + j` is valid for reads and writes for `p < k`,
/// `j < cols <= W`, and only this call touches it.
unsafe fn write(
    path: KernelPath,
    tile: *const f32,
    k: usize,
    out: *mut f32,
    rs: usize,
    cols: usize,
    lr: Option<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if path == KernelPath::Avx512 {
        // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
        return unsafe { super::avx512::write(tile, k, out, rs, cols, lr) };
    }
    #[cfg(target_arch = "x86_64")]
    if path == KernelPath::Avx2Fma && cols.is_multiple_of(8) {
        // SAFETY: the caller's contract; hosts of either path have AVX2 and FMA.
        return unsafe { x86::write(tile, k, out, rs, cols / 8, lr) };
    }
    let _ = path;
    // Element by element: the portable path, and a last block narrower than a vector (a
    // masked store would do it in one instruction, but AMD runs those in microcode).
    for p in 0..k {
        // SAFETY: the caller's contract.
        unsafe {
            let t = std::slice::from_raw_parts(tile.add(p * W), cols);
            let o = std::slice::from_raw_parts_mut(out.add(p * rs), cols);
            match lr {
                None => o.copy_from_slice(t),
                // w - lr*g: one product and one difference, each rounded, as sgd_step.
                Some(lr) => o.iter_mut().zip(t).for_each(|(w, &g)| *w -= lr * g),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::chain::Rhs;
    use super::super::rows::CsrRows;
    use super::W;

    /// As [`super::write`] for `nv` whole vectors (`cols = 8 nv`) a row, on a host with AVX2.
    ///
    /// # Safety
    /// As [`super::write`] with `cols = 8 nv <= W`; the tile is 64-byte aligned.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn write(
        tile: *const f32,
        k: usize,
        out: *mut f32,
        rs: usize,
        nv: usize,
        lr: Option<f32>,
    ) {
        let vlr = _mm256_set1_ps(lr.unwrap_or(0.0));
        for p in 0..k {
            for v in 0..nv {
                // SAFETY: tile row p's vector v (aligned) is inside the tile; output row p
                // has 8 nv columns from `out + p * rs`.
                unsafe {
                    let (t, o) = (tile.add(p * W + 8 * v), out.add(p * rs + 8 * v));
                    let g = _mm256_load_ps(t);
                    let r = match lr {
                        None => g,
                        // w - lr*g: one product and one difference, each rounded, as sgd_step.
                        Some(_) => _mm256_sub_ps(
                            _mm256_castsi256_ps(_mm256_lddqu_si256(o.cast())),
                            _mm256_mul_ps(vlr, g),
                        ),
                    };
                    _mm256_storeu_ps(o, r);
                }
            }
        }
    }

    /// `NV` vectors (8 or 16 columns) a block.
    ///
    /// # Safety
    /// As [`super::scatter`], on a host with AVX2 and FMA, with `bw = 8 NV`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scatter<const NV: usize>(
        a: &CsrRows,
        rows: &[usize],
        d: Rhs,
        j0: usize,
        tile: *mut f32,
        k: usize,
    ) {
        // SAFETY: tile rows p < k (column indices of `a`) lie inside the tile, 64-byte
        // aligned; D's row r holds columns j0..j0 + 8 NV (packed, 32-byte aligned: ld and
        // j0 are multiples of 8).
        unsafe {
            let zero = _mm256_setzero_ps();
            for p in 0..k {
                for v in 0..NV {
                    _mm256_store_ps(tile.add(p * W + 8 * v), zero);
                }
            }
            for (r, &i) in rows.iter().enumerate() {
                let dv: [__m256; NV] =
                    std::array::from_fn(|v| _mm256_load_ps(d.row_ptr(r).add(j0 + 8 * v)));
                for &(p, x) in a.row(i) {
                    let t = tile.add(p as usize * W);
                    let av = _mm256_set1_ps(x);
                    for (v, &dv) in dv.iter().enumerate() {
                        let tv = t.add(8 * v);
                        _mm256_store_ps(tv, _mm256_fmadd_ps(av, dv, _mm256_load_ps(tv)));
                    }
                }
            }
        }
    }
}

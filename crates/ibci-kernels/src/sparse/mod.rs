//! Products whose left operand is mostly exact zeros: `C = A B`, A `m x k` (MNIST's training
//! pixels are 80.9% zeros, as `ibci data info` reports), B dense `k x n`. The campaign's
//! first layer, `X W` over 60,000 images and up to thousands of candidates, is this product.
//!
//! ```text
//! c_ij = fma(a_ip_last, b_p_last j, ... fma(a_ip1, b_p1 j, +0))   p1 < p2 < ... : a_ip != 0
//! ```
//!
//! The same sequential FMA chain over p as [`gemm`](crate::gemm()) with alpha 1 and beta 0,
//! with the terms where `a_ip == 0` skipped. Skipping is exact when [`exact`]'s guard holds
//! (B finite, and no product small enough to underflow to a signed zero: see its proof), so
//! **the result is `gemm`'s, bit for bit** (the tests check it on every path): each chunk of
//! rows checks the guard and, if it fails (a weight below about 2^-95 against MNIST's
//! pixels, say), runs every term, zeros included, which is the GEMM's chain itself.
//!
//! Layout: [`PackedRhs`] holds B in panels of [`NB`] columns (each panel `k x NB`,
//! row-major, the last zero-padded), packed once and reused for every block of rows. A chunk
//! of rows of A is turned into lists of nonzeros (CSR); then panel by panel, so that the
//! panel stays in cache, each row's NB accumulators (eight AVX2 vectors) run the chain and
//! are stored. Chunks go to threads; every element is computed by one chain, so the thread
//! count changes nothing.

use rayon::prelude::*;

pub mod batch;
pub mod cols;
mod cols_kernels;
pub mod exact;
pub mod forward;
mod forward_kernels;
mod packed;
pub mod rows;

pub use batch::BatchCols;
pub use cols::{cols_t_times, GradOut};
pub use exact::Operand;
pub use forward::rows_times;
pub use packed::Packed;
pub use rows::CsrRows;

use crate::dispatch::KernelPath;
use crate::mat::{MatMut, MatRef};
use crate::par::Par;

/// Columns per packed panel of B.
pub const NB: usize = 64;

/// Rows of A per parallel work item (and per pass over B's panels).
const ROWS_PER_TASK: usize = 256;

/// B packed for [`gemm_sparse_lhs`].
#[derive(Clone, Debug)]
pub struct PackedRhs {
    k: usize,
    n: usize,
    /// Panel q: `k x NB` floats at `off + q * k * NB`; `off` puts the first float on a
    /// 32-byte boundary, so every panel row (256 bytes) is aligned for AVX loads (unaligned
    /// 32-byte loads are split in two at this build's CPU level).
    data: Vec<f32>,
    off: usize,
    /// B's exponent floor, for [`exact`]'s guard.
    floor: exact::ExponentFloor,
}

impl PackedRhs {
    /// Packs `b` (`k x n`, any strides).
    pub fn new(b: MatRef<'_>) -> PackedRhs {
        let (k, n) = (b.rows(), b.cols());
        let panels = n.div_ceil(NB);
        let mut data = vec![0f32; panels * k * NB + 8];
        let off = data.as_ptr().align_offset(32).min(8);
        for q in 0..panels {
            for p in 0..k {
                let dst = &mut data[off + (q * k + p) * NB..][..NB];
                for (t, d) in dst.iter_mut().enumerate().take(n.saturating_sub(q * NB)) {
                    *d = b.at(p, q * NB + t);
                }
            }
        }
        assert_eq!(
            data[off..].as_ptr() as usize % 32,
            0,
            "PackedRhs: the panels must start on a 32-byte boundary"
        );
        let floor = exact::exponent_floor(&data);
        PackedRhs {
            k,
            n,
            data,
            off,
            floor,
        }
    }

    /// Rows of B.
    pub fn rows(&self) -> usize {
        self.k
    }

    /// Columns of B.
    pub fn cols(&self) -> usize {
        self.n
    }
}

/// Fraction of the entries of `a` that are not exactly zero.
pub fn density(a: MatRef<'_>) -> f64 {
    let (m, k) = (a.rows(), a.cols());
    if m * k == 0 {
        return 0.0;
    }
    let nz: usize = (0..m)
        .map(|i| match a.row(i) {
            Some(r) => r.iter().filter(|&&v| v != 0.0).count(),
            None => (0..k).filter(|&p| a.at(i, p) != 0.0).count(),
        })
        .sum();
    nz as f64 / (m * k) as f64
}

/// `C <- A B` (overwriting C) for a mostly-zero A, with B packed (see the module text).
///
/// # Panics
/// If `a.rows() != c.rows()`, `a.cols() != b.rows()` or `b.cols() != c.cols()`.
#[track_caller]
pub fn gemm_sparse_lhs(c: MatMut<'_>, a: MatRef<'_>, b: &PackedRhs, par: Par) {
    gemm_sparse_lhs_with(KernelPath::default_path(), c, a, b, par);
}

/// [`gemm_sparse_lhs`] on an explicit path (portable: `f32::mul_add`; AVX2+FMA and AVX-512:
/// the AVX2 kernel).
///
/// # Panics
/// As [`gemm_sparse_lhs`], or if the host does not support `path`.
#[track_caller]
pub fn gemm_sparse_lhs_with(
    path: KernelPath,
    mut c: MatMut<'_>,
    a: MatRef<'_>,
    b: &PackedRhs,
    par: Par,
) {
    assert!(
        path.supported(),
        "gemm_sparse_lhs: path {path} not supported here"
    );
    assert!(
        a.rows() == c.rows() && a.cols() == b.k && b.n == c.cols(),
        "gemm_sparse_lhs: A is {} x {}, B is {} x {}, C is {} x {}",
        a.rows(),
        a.cols(),
        b.k,
        b.n,
        c.rows(),
        c.cols()
    );
    let (m, n) = (c.rows(), c.cols());
    if m == 0 || n == 0 {
        return;
    }
    // The nonzeros of a chunk of rows of A (CSR), then panel by panel over the chunk, so one
    // panel of B (k x NB floats) stays in cache while every row of the chunk uses it.
    let chunk_rows =
        |r0: usize, rows: usize, idx: &mut Vec<u32>, val: &mut Vec<f32>, start: &mut Vec<usize>| {
            idx.clear();
            val.clear();
            start.clear();
            let k = a.cols();
            for i in r0..r0 + rows {
                let s0 = idx.len();
                start.push(s0);
                // Branchless compaction: write every entry, advance past the nonzeros only
                // (zeros are unpredictable in images, a branch would mispredict often).
                idx.resize(s0 + k, 0);
                val.resize(s0 + k, 0.0);
                let mut m = s0;
                for p in 0..k {
                    let v = match a.row(i) {
                        Some(row) => row[p],
                        None => a.at(i, p),
                    };
                    idx[m] = p as u32;
                    val[m] = v;
                    m += usize::from(v != 0.0);
                }
                idx.truncate(m);
                val.truncate(m);
            }
            start.push(idx.len());
        };
    let run_chunk = |r0: usize, rows: usize, out: &mut dyn FnMut(usize, usize, &[f32])| {
        let (mut idx, mut val, mut start) = (Vec::new(), Vec::new(), Vec::new());
        chunk_rows(r0, rows, &mut idx, &mut val, &mut start);
        // Skipping the zeros of this chunk of A gives the GEMM's bits unless a product could
        // underflow to a signed zero or B is not finite (`exact`); then the chunk runs every
        // term, zeros included: the GEMM's chain itself.
        let skip = exact::skipping_is_exact(exact::exponent_floor(&val), b.floor);
        let mut tmp = [0f32; NB];
        for q in 0..n.div_ceil(NB) {
            let panel = &b.data[b.off + q * b.k * NB..b.off + (q + 1) * b.k * NB];
            for r in 0..rows {
                if skip {
                    let (s0, s1) = (start[r], start[r + 1]);
                    panel_product(path, &idx[s0..s1], &val[s0..s1], panel, &mut tmp);
                } else {
                    tmp = [0.0; NB];
                    for (p, row) in panel.chunks_exact(NB).enumerate() {
                        let v = a.at(r0 + r, p);
                        for (t, &bv) in tmp.iter_mut().zip(row) {
                            *t = v.mul_add(bv, *t);
                        }
                    }
                }
                out(r, q * NB, &tmp[..NB.min(n - q * NB)]);
            }
        }
    };
    if let Some(all) = c.as_contiguous_mut() {
        let task = |(t, chunk): (usize, &mut [f32])| {
            let rows = chunk.len() / n;
            run_chunk(t * ROWS_PER_TASK, rows, &mut |r, j0, seg| {
                chunk[r * n + j0..r * n + j0 + seg.len()].copy_from_slice(seg)
            });
        };
        match par {
            Par::Seq => all.chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(task),
            Par::Rayon => all
                .par_chunks_mut(ROWS_PER_TASK * n)
                .enumerate()
                .for_each(task),
        }
    } else {
        for r0 in (0..m).step_by(ROWS_PER_TASK) {
            run_chunk(r0, ROWS_PER_TASK.min(m - r0), &mut |r, j0, seg| {
                for (j, &v) in seg.iter().enumerate() {
                    c.set(r0 + r, j0 + j, v);
                }
            });
        }
    }
}

/// One row of one panel: `out[t] = sum over the nonzeros (p, v) of v * panel[p, t]`, FMA
/// chains in p order.
fn panel_product(path: KernelPath, idx: &[u32], val: &[f32], panel: &[f32], out: &mut [f32; NB]) {
    match path {
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma | KernelPath::Avx512 => {
            // SAFETY: the dispatch only selects these paths on CPUs with AVX2 and FMA (AVX-512
            // hosts have both); every index in `idx` is < k, so each panel row read lies inside
            // `panel` (k * NB floats), and rows start on 32-byte boundaries (PackedRhs aligns
            // the data, a row is 256 bytes); `out` holds NB floats.
            unsafe { x86::panel_avx2(idx, val, panel.as_ptr(), out.as_mut_ptr()) }
        }
        _ => {
            *out = [0.0; NB];
            for (&p, &v) in idx.iter().zip(val) {
                let row = &panel[p as usize * NB..][..NB];
                for (t, &bv) in out.iter_mut().zip(row) {
                    *t = v.mul_add(bv, *t);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// `out[0..64] = chains over the nonzeros` with eight ymm accumulators.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `panel` holds `64 * (max idx + 1)` floats and is 32-byte
    /// aligned; `out` holds 64.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn panel_avx2(idx: &[u32], val: &[f32], panel: *const f32, out: *mut f32) {
        // Eight named accumulators: an array indexed in a loop can end up in memory, where
        // every update waits on a store-to-load round trip.
        let z = _mm256_setzero_ps();
        let (mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7) =
            (z, z, z, z, z, z, z, z);
        // SAFETY: reads `panel[p * 64 .. p * 64 + 64]` for indices the caller bounds, with
        // aligned loads (the caller aligns `panel`; 64 floats keep the alignment), and writes
        // `out[0..64]` with unaligned stores.
        unsafe {
            for (&p, &v) in idx.iter().zip(val) {
                let bp = panel.add(p as usize * 64);
                let av = _mm256_set1_ps(v);
                c0 = _mm256_fmadd_ps(av, _mm256_load_ps(bp), c0);
                c1 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(8)), c1);
                c2 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(16)), c2);
                c3 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(24)), c3);
                c4 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(32)), c4);
                c5 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(40)), c5);
                c6 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(48)), c6);
                c7 = _mm256_fmadd_ps(av, _mm256_load_ps(bp.add(56)), c7);
            }
            for (q, c) in [c0, c1, c2, c3, c4, c5, c6, c7].into_iter().enumerate() {
                _mm256_storeu_ps(out.add(q * 8), c);
            }
        }
    }
}

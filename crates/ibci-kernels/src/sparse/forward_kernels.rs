//! The kernel of [`super::forward`]: one block of columns of `C = A[rows] B` for a chunk of
//! batch rows, walked pixel block by pixel block, on each path. Per element every path runs
//! the same chain of fused multiply-adds in the same order (p ascending, from +0); only how
//! many columns run side by side differs (portable: one, AVX2: eight a vector, AVX-512:
//! sixteen).
//!
//! ```text
//! tile = +0                                   (rows x ts floats, row r at tile + r * ts)
//! for each block P of pb consecutive pixels:  B[P, block] (pb x bw floats) stays in L1
//!   for each row r:  its next nonzeros (p, x) with p in P (a cursor per row)
//!     acc = tile[r] (registers);  acc = fma(x, B[p, block], acc) for each;  tile[r] = acc
//! ```
//!
//! A row's accumulators are loaded and stored once per pixel block it has terms in, not once
//! per term (the pixel-by-pixel walk over a transposed batch stored a whole tile row per
//! term, and stores bounded it); B's rows are read where they lie, the last partial vector
//! of a block through a masked load (lanes past `bw` read as zero and are never stored).

pub(super) use super::cols_kernels::lanes;
use super::packed::Rhs;
use super::rows::CsrRows;
use crate::dispatch::KernelPath;

/// The most vectors of accumulators one row keeps in registers on `path`.
pub(super) fn max_vectors(path: KernelPath) -> usize {
    match path {
        KernelPath::Avx512 => 16,
        _ => 13,
    }
}

/// The most rows one call walks (its cursors live on the stack).
pub(super) const MAX_ROWS: usize = 128;

/// One block: `tile[r][0..bw] = chain over p ascending of a[rows[r], p] * b[p, j0 + j]`.
///
/// # Safety
/// `tile` holds `rows.len() * ts` floats on a 64-byte boundary, unaliased, `ts` a multiple
/// of 16 at least `bw` rounded up to `lanes(path)`; `1 <= bw <= max_vectors(path) *
/// lanes(path)` and `j0 + bw <= b.cols()`; `rows.len() <= MAX_ROWS`, every row index below
/// `a.rows()`; `b` has `a.cols()` rows and stays alive and unchanged; `pb >= 1`; `path` is
/// supported here.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn forward(
    path: KernelPath,
    a: &CsrRows,
    rows: &[usize],
    b: Rhs,
    j0: usize,
    bw: usize,
    tile: *mut f32,
    ts: usize,
    pb: usize,
) {
    debug_assert!(rows.len() <= MAX_ROWS && bw >= 1 && j0 + bw <= b.cols());
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
        KernelPath::Avx512 => unsafe { avx512::forward(a, rows, b, j0, bw, tile, ts, pb) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX2 and FMA are there.
        KernelPath::Avx2Fma => unsafe { avx2::forward(a, rows, b, j0, bw, tile, ts, pb) },
        // SAFETY: the caller's contract.
        _ => unsafe {
            let mut rest: [&[(u32, f32)]; MAX_ROWS] = [&[]; MAX_ROWS];
            for (r, &i) in rows.iter().enumerate() {
                rest[r] = a.row(i);
                std::slice::from_raw_parts_mut(tile.add(r * ts), bw).fill(0.0);
            }
            for p0 in (0..a.cols()).step_by(pb) {
                let end = (p0 + pb).min(a.cols()) as u32;
                for (r, list) in rest[..rows.len()].iter_mut().enumerate() {
                    let t = std::slice::from_raw_parts_mut(tile.add(r * ts), bw);
                    while let Some((&(p, x), later)) = list.split_first() {
                        if p >= end {
                            break;
                        }
                        let w = std::slice::from_raw_parts(b.row_ptr(p as usize).add(j0), bw);
                        t.iter_mut()
                            .zip(w)
                            .for_each(|(t, &w)| *t = x.mul_add(w, *t));
                        *list = later;
                    }
                }
            }
        },
    }
}

/// Generates the vector kernel of one instruction set.
macro_rules! isa_forward {
    ($isa:ident, $feat:literal, $lanes:literal, $vt:ty, $zero:ident, $load:ident,
     $store:ident, $fma_at:path, $set1:ident, $fma:ident, $mask:ty, $tail_mask:expr,
     $mload:expr, [$($nv:literal)*]) => {
        #[cfg(target_arch = "x86_64")]
        mod $isa {
            use std::arch::x86_64::*;

            use super::MAX_ROWS;
            use crate::sparse::packed::Rhs;
            use crate::sparse::rows::CsrRows;

            const L: usize = $lanes;

            /// # Safety
            /// As [`super::forward`], on a host with the target features.
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn forward(
                a: &CsrRows,
                rows: &[usize],
                b: Rhs,
                j0: usize,
                bw: usize,
                tile: *mut f32,
                ts: usize,
                pb: usize,
            ) {
                match bw.div_ceil(L) {
                    // SAFETY: forwarded.
                    $($nv => unsafe { fwd::<$nv>(a, rows, b, j0, bw, tile, ts, pb) },)*
                    _ => unreachable!("a block is 1 to max_vectors vectors"),
                }
            }

            #[target_feature(enable = $feat)]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn fwd<const NV: usize>(
                a: &CsrRows,
                rows: &[usize],
                b: Rhs,
                j0: usize,
                bw: usize,
                tile: *mut f32,
                ts: usize,
                pb: usize,
            ) {
                // Lanes of the last vector that are columns of the block (1..=L).
                let tail: $mask = $tail_mask(bw - (NV - 1) * L);
                let mut rest: [&[(u32, f32)]; MAX_ROWS] = [&[]; MAX_ROWS];
                // SAFETY: tile rows r < rows.len() hold ts >= NV * L floats at 64-byte
                // boundaries (aligned vector accesses); B's row p < a.cols() = b.rows() holds
                // columns j0..j0+bw: whole vectors below NV - 1, the last one masked to its
                // `bw - (NV - 1) * L` columns.
                unsafe {
                    for (r, &i) in rows.iter().enumerate() {
                        rest[r] = a.row(i);
                        for v in 0..NV {
                            $store(tile.add(r * ts + v * L), $zero());
                        }
                    }
                    let k = a.cols();
                    let mut p0 = 0;
                    while p0 < k {
                        let end = (p0 + pb).min(k) as u32;
                        for (r, list) in rest[..rows.len()].iter_mut().enumerate() {
                            if !list.first().is_some_and(|&(p, _)| p < end) {
                                continue;
                            }
                            let t = tile.add(r * ts);
                            let mut acc: [$vt; NV] = std::array::from_fn(|v| $load(t.add(v * L)));
                            while let Some((&(p, x), later)) = list.split_first() {
                                if p >= end {
                                    break;
                                }
                                let w = b.row_ptr(p as usize).add(j0);
                                let xv = $set1(x);
                                for (v, acc) in acc[..NV - 1].iter_mut().enumerate() {
                                    *acc = $fma_at(*acc, xv, w.add(v * L));
                                }
                                acc[NV - 1] =
                                    $fma(xv, $mload(w.add((NV - 1) * L), tail), acc[NV - 1]);
                                *list = later;
                            }
                            for (v, &acc) in acc.iter().enumerate() {
                                $store(t.add(v * L), acc);
                            }
                            // The row's next entries, wanted at its next visit (after every
                            // other row's): a hint that reads nothing architecturally and
                            // cannot fault (wrapping_add: the address may pass the index's
                            // end), so no effect on results. About 10% off the product
                            // (`cargo bench --bench first_layer`, AVX2 host, 2026-12-02).
                            _mm_prefetch::<_MM_HINT_T0>(list.as_ptr().cast::<i8>());
                            _mm_prefetch::<_MM_HINT_T0>(list.as_ptr().cast::<i8>().wrapping_add(64));
                        }
                        p0 += pb;
                    }
                }
            }
        }
    };
}

/// `fma(x, w[0..8], acc)`, w read unaligned by the FMA itself: as `_mm256_fmadd_ps(x,
/// _mm256_loadu_ps(w), acc)`, the same single rounding, but this build's CPU level (tuned
/// for CPUs where unaligned 32-byte loads were slow) would split that load in two, and B's
/// rows in place (400 bytes for a 100-unit layer) are only 16-byte aligned.
///
/// # Safety
/// `w` is valid for reads of 8 floats; the host has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn avx2_fma_at(
    acc: std::arch::x86_64::__m256,
    x: std::arch::x86_64::__m256,
    w: *const f32,
) -> std::arch::x86_64::__m256 {
    let mut acc = acc;
    // SAFETY: the caller's contract: 32 readable bytes at `w`, no alignment needed;
    // vfmadd231ps computes acc = x * [w] + acc with one rounding, writes nothing else.
    unsafe {
        std::arch::asm!(
            "vfmadd231ps {acc}, {x}, ymmword ptr [{w}]",
            acc = inout(ymm_reg) acc,
            x = in(ymm_reg) x,
            w = in(reg) w,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    acc
}

/// `fma(x, w[0..16], acc)` (unaligned 64-byte loads are not split).
///
/// # Safety
/// `w` is valid for reads of 16 floats; the host has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn avx512_fma_at(
    acc: std::arch::x86_64::__m512,
    x: std::arch::x86_64::__m512,
    w: *const f32,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe { _mm512_fmadd_ps(x, _mm512_loadu_ps(w), acc) }
}

isa_forward!(
    avx2, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_load_ps, _mm256_store_ps,
    super::avx2_fma_at, _mm256_set1_ps, _mm256_fmadd_ps, __m256i, crate::lanes::x86::first8,
    |p, m| _mm256_maskload_ps(p, m), [1 2 3 4 5 6 7 8 9 10 11 12 13]
);

isa_forward!(
    avx512, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_load_ps, _mm512_store_ps,
    super::avx512_fma_at, _mm512_set1_ps, _mm512_fmadd_ps, __mmask16,
    crate::lanes::x86::first16,
    |p, m| _mm512_maskz_loadu_ps(m, p), [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16]
);

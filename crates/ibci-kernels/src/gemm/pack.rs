//! Packing: B into NR-column panels once per product, A into MR-row panels per task and k
//! block (see the layout in [`super`]). Every element a kernel reads is written here, padding
//! included (zeros), so scratch contents never leak into results.

use super::{div_ceil, MAX_MR};
use crate::mat::MatRef;

/// Proof that the host has AVX, which the packers' register transposes need: made only by
/// [`Avx::detect`], once per product (a `kernels::Spec` holds it), not once per panel.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx(());

impl Avx {
    /// `Some` when this host has AVX.
    pub(super) fn detect() -> Option<Avx> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            return Some(Avx(()));
        }
        None
    }
}

/// Packs the panel of B at columns `j0 .. j0+nr` (all rows) into `dst`: row `p` at
/// `dst[p*nr..]`, zero beyond the last column.
pub(super) fn pack_b_panel(b: MatRef<'_>, j0: usize, nr: usize, dst: &mut [f32], avx: Option<Avx>) {
    let (k, n) = (b.rows(), b.cols());
    let w = nr.min(n - j0);
    // Full panels of row-major B at the kernels' widths: fixed-size copies (inlined moves,
    // not a call to memcpy per row).
    if w == nr && b.row(0).is_some() {
        match nr {
            8 => return copy_rows::<8>(b, j0, dst),
            16 => return copy_rows::<16>(b, j0, dst),
            32 => return copy_rows::<32>(b, j0, dst),
            _ => {}
        }
    }
    // Full panels of a transposed B (unit row stride): its columns are contiguous. With AVX,
    // eight rows and eight columns at a time through registers (100 x 100 x 784 with B
    // transposed, one thread, 2026-12-03, AMD EPYC: 7-15% off the product on the AVX2 path,
    // 10-13% on AVX-512's 32-wide panels; packing was 17.5% of its `perf` samples); else
    // through a block on the stack at the AVX2 widths only (AVX-512's 32-wide panels measured
    // no faster that way).
    if w == nr && b.row(0).is_none() && b.col(0).is_some() {
        #[cfg(target_arch = "x86_64")]
        if let Some(Avx(())) = avx.filter(|_| nr.is_multiple_of(8)) {
            // SAFETY: AVX is there (an `Avx` exists); the panel's columns j0..j0+nr lie
            // inside B (w == nr).
            return unsafe { x86::transpose_panel(b, j0, nr, dst) };
        }
        match nr {
            8 => return transpose_cols::<8>(b, j0, dst),
            16 => return transpose_cols::<16>(b, j0, dst),
            _ => {}
        }
    }
    for p in 0..k {
        let row = &mut dst[p * nr..(p + 1) * nr];
        row[w..].fill(0.0);
        // Unit column stride: a straight copy.
        if let Some(src) = b.row(p) {
            row[..w].copy_from_slice(&src[j0..j0 + w]);
        } else if b.row_stride() != 1 {
            for (jj, d) in row[..w].iter_mut().enumerate() {
                // SAFETY: p < k = b.rows() and j0 + jj < j0 + w <= n = b.cols().
                *d = unsafe { b.get_unchecked(p, j0 + jj) };
            }
        }
    }
    // Unit row stride (a transposed matrix): walk each column, which is contiguous.
    if b.row_stride() == 1 && b.row(0).is_none() {
        for jj in 0..w {
            for p in 0..k {
                // SAFETY: p < k = b.rows() and j0 + jj < j0 + w <= n = b.cols().
                dst[p * nr + jj] = unsafe { b.get_unchecked(p, j0 + jj) };
            }
        }
    }
}

/// `dst[p * NR + jj] = b[p, j0 + jj]` for a full panel of a B with unit column stride.
#[inline]
fn copy_rows<const NR: usize>(b: MatRef<'_>, j0: usize, dst: &mut [f32]) {
    for (p, row) in dst.chunks_exact_mut(NR).take(b.rows()).enumerate() {
        let src = b.row(p).expect("unit column stride");
        let run: &[f32; NR] = src[j0..j0 + NR].try_into().expect("NR values");
        let out: &mut [f32; NR] = row.try_into().expect("NR values");
        *out = *run;
    }
}

/// A full panel of B whose columns `j0 .. j0+NR` are contiguous (B transposed): eight rows
/// at a time through a block on the stack, so that reads run along B's columns (eight floats
/// each) and writes along the panel's rows (NR floats), instead of one float at a time at a
/// stride of NR.
#[inline]
fn transpose_cols<const NR: usize>(b: MatRef<'_>, j0: usize, dst: &mut [f32]) {
    let k = b.rows();
    let cols: [&[f32]; NR] = std::array::from_fn(|jj| b.col(j0 + jj).expect("unit row stride"));
    let mut p = 0;
    while p + 8 <= k {
        let mut block = [[0f32; NR]; 8];
        for (jj, col) in cols.iter().enumerate() {
            let run: &[f32; 8] = col[p..p + 8].try_into().expect("8 values");
            for (row, &v) in block.iter_mut().zip(run) {
                row[jj] = v;
            }
        }
        for (r, row) in block.iter().enumerate() {
            let out: &mut [f32; NR] = (&mut dst[(p + r) * NR..(p + r + 1) * NR])
                .try_into()
                .expect("NR values");
            *out = *row;
        }
        p += 8;
    }
    for p in p..k {
        for (jj, col) in cols.iter().enumerate() {
            dst[p * NR + jj] = col[p];
        }
    }
}

/// Packs rows `i0..i0+mcur`, columns `pc..pc+kc` of A into MR-row panels: panel `ip` holds,
/// for each `p` in `0..kc`, the MR values `a[i0+ip*mr+r, pc+p]` (zero beyond `mcur`). With
/// `avx_rows`, a row-major A's full 12-row panels go through AVX registers (`Spec::gather_rows`).
#[allow(clippy::too_many_arguments)]
pub(super) fn pack_a(
    a: MatRef<'_>,
    i0: usize,
    mcur: usize,
    pc: usize,
    kc: usize,
    mr: usize,
    ap: &mut [f32],
    avx_rows: Option<Avx>,
) {
    let ipanels = div_ceil(mcur, mr);
    // Walk the source along its contiguous dimension.
    let rows_contiguous = a.row_stride() == 1 && a.col_stride() != 1;
    for ip in 0..ipanels {
        let panel = &mut ap[ip * mr * kc..(ip + 1) * mr * kc];
        let rows = mr.min(mcur - ip * mr);
        // Full 12-row panels (AVX-512's) of a row-major A: eight columns at a time, transposed
        // in AVX registers. One thread against matrixmultiply, four interleaved runs of the
        // kernels bench (2026-12-03, AMD EPYC): 100 x 784 x 100 1.19-1.21 against 1.11-1.13,
        // 100 x 100 x 10 1.46-1.65 against 1.14-1.21. The AVX2 path's 6-row panels measured
        // no faster this way (0.98-1.05 against 1.03-1.16 on 100 x 100 x 10), so they are
        // gathered below.
        #[cfg(target_arch = "x86_64")]
        if let Some(Avx(())) = avx_rows.filter(|_| a.col_stride() == 1 && rows == mr && mr == 12) {
            // SAFETY: AVX is there (an `Avx` exists); the panel's 12 rows and kc columns lie
            // inside A (the caller's block), which has unit column stride; the panel holds
            // 12 * kc floats.
            unsafe { x86::gather_rows(a, i0 + ip * mr, pc, panel) };
            continue;
        }
        // Unit column stride (row-major A): read the panel's rows as slices and write the
        // panel in order, column p after column p.
        if a.col_stride() == 1 || kc == 1 {
            if let Some(first) = a.row(i0 + ip * mr) {
                let mut src: [&[f32]; MAX_MR] = [&first[pc..pc + kc]; MAX_MR];
                for (r, s) in src.iter_mut().enumerate().take(rows).skip(1) {
                    let row = a.row(i0 + ip * mr + r).expect("unit column stride");
                    *s = &row[pc..pc + kc];
                }
                // Full panels of the kernels' heights: the row loop unrolled (a third of the
                // time of the general loop below, which a 100 x 100 x 10 product spends most
                // of its time in).
                match (rows == mr).then_some(mr) {
                    Some(4) => gather::<4>(&src, panel),
                    Some(6) => gather::<6>(&src, panel),
                    Some(12) => gather::<12>(&src, panel),
                    _ => {
                        for (p, col) in panel.chunks_exact_mut(mr).enumerate() {
                            for (d, s) in col[..rows].iter_mut().zip(&src) {
                                *d = s[p];
                            }
                            col[rows..].fill(0.0);
                        }
                    }
                }
                continue;
            }
        }
        if rows_contiguous {
            // Unit row stride (a transposed matrix): each packed column is a contiguous run
            // of A's column.
            let r0 = i0 + ip * mr;
            // Full panels of the kernels' heights copy fixed-size runs (inlined moves; a
            // run-time length is a call to memcpy per column, most of a K = 100 packing).
            match (rows == mr).then_some(mr) {
                Some(4) => copy_columns::<4>(a, r0, pc, panel),
                Some(6) => copy_columns::<6>(a, r0, pc, panel),
                Some(12) => copy_columns::<12>(a, r0, pc, panel),
                _ => {
                    for (p, col) in panel.chunks_exact_mut(mr).enumerate() {
                        let src = a.col(pc + p).expect("unit row stride");
                        col[..rows].copy_from_slice(&src[r0..r0 + rows]);
                        col[rows..].fill(0.0);
                    }
                }
            }
            continue;
        }
        for r in 0..mr {
            let i = ip * mr + r;
            if i < mcur {
                for p in 0..kc {
                    // SAFETY: i0 + i < i0 + mcur <= m = a.rows(); pc + p < pc + kc <= k.
                    panel[p * mr + r] = unsafe { a.get_unchecked(i0 + i, pc + p) };
                }
            } else {
                for p in 0..kc {
                    panel[p * mr + r] = 0.0;
                }
            }
        }
    }
}

/// `panel[p * MR + r] = a[r0 + r, pc + p]` for a full panel of MR rows of an A with unit row
/// stride (each packed column a contiguous run of A's column `pc + p`). One bounds check for
/// the panel, then a fixed-size copy per column (with a slice and its checks per column, the
/// packing took 8.2% of a 784 x 100 x 100 product's `perf` samples on the AVX2 path; 6.9%
/// this way).
#[inline]
fn copy_columns<const MR: usize>(a: MatRef<'_>, r0: usize, pc: usize, panel: &mut [f32]) {
    assert_eq!(a.row_stride(), 1, "copy_columns: A needs a unit row stride");
    let Some(base) = panel_origin(a, r0, MR, pc, panel.len() / MR) else {
        return;
    };
    let cs = a.col_stride();
    for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
        // SAFETY: rows r0..r0+MR and column pc+p < pc+kc of A lie inside its view (checked
        // above), and with unit row stride they are MR contiguous floats at base + p*cs.
        let run = unsafe { &*base.add(p * cs).cast::<[f32; MR]>() };
        let dst: &mut [f32; MR] = col.try_into().expect("MR values");
        *dst = *run;
    }
}

/// A's element (r0, pc), the first of the panel of rows `r0..r0 + rows` and columns
/// `pc..pc + kc`, once the panel is checked to lie inside A; `None` for an empty panel.
fn panel_origin(a: MatRef<'_>, r0: usize, rows: usize, pc: usize, kc: usize) -> Option<*const f32> {
    assert!(
        r0 + rows <= a.rows() && pc + kc <= a.cols(),
        "pack: the panel lies outside A"
    );
    (kc > 0).then(|| a.ptr_at(r0, pc))
}

/// `panel[p * MR + r] = src[r][p]` for a full panel of MR rows, each `panel.len() / MR` long.
#[inline]
fn gather<const MR: usize>(src: &[&[f32]; MAX_MR], panel: &mut [f32]) {
    let kc = panel.len() / MR;
    let rows: [&[f32]; MR] = std::array::from_fn(|r| &src[r][..kc]);
    for (p, col) in panel.chunks_exact_mut(MR).enumerate() {
        for (d, row) in col.iter_mut().zip(&rows) {
            // SAFETY: p < kc = panel.len() / MR, and every row was cut to kc floats above.
            *d = unsafe { *row.get_unchecked(p) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use crate::mat::MatRef;

    /// `panel[p * 12 + r] = a[r0 + r, pc + p]` for a full panel of 12 rows of an A with unit
    /// column stride: eight columns at a time, the rows' runs of eight loaded, transposed in
    /// registers (rows 8..12 padded with zero rows to eight) and each column's 12 values
    /// stored (8, then 4); the last `kc % 8` columns one value at a time
    /// (`kc = panel.len() / 12`).
    ///
    /// # Safety
    /// The host has AVX.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn gather_rows(a: MatRef<'_>, r0: usize, pc: usize, panel: &mut [f32]) {
        const MR: usize = 12;
        let kc = panel.len() / MR;
        assert_eq!(
            a.col_stride(),
            1,
            "gather_rows: A needs a unit column stride"
        );
        let Some(base) = super::panel_origin(a, r0, MR, pc, kc) else {
            return;
        };
        let rs = a.row_stride();
        let out = panel.as_mut_ptr();
        // Rows r..r+8 of the panel's columns p..p+8 (rows past 12 read as zero).
        let block = |r: usize, p: usize| -> [__m256; 8] {
            std::array::from_fn(|i| {
                if r + i < MR {
                    // SAFETY: row r0 + r + i < r0 + 12 and columns pc + p..pc + p + 8 <=
                    // pc + kc lie inside A, contiguous (unit column stride).
                    unsafe { _mm256_loadu_ps(base.add((r + i) * rs + p)) }
                } else {
                    _mm256_setzero_ps()
                }
            })
        };
        let mut p = 0;
        while p + 8 <= kc {
            let (lo, hi) = (transpose8(block(0, p)), transpose8(block(8, p)));
            for (j, (lo, hi)) in lo.iter().zip(&hi).enumerate() {
                // SAFETY: column p + j < kc of the panel is 12 floats at out + (p + j) * 12.
                unsafe {
                    let dst = out.add((p + j) * MR);
                    _mm256_storeu_ps(dst, *lo);
                    _mm_storeu_ps(dst.add(8), _mm256_castps256_ps128(*hi));
                }
            }
            p += 8;
        }
        for (pp, col) in panel.chunks_exact_mut(MR).enumerate().skip(p) {
            for (r, d) in col.iter_mut().enumerate() {
                // SAFETY: row r0 + r and column pc + pp < pc + kc lie inside A.
                *d = unsafe { *base.add(r * rs + pp) };
            }
        }
    }

    /// `dst[p * nr + jj] = b[p, j0 + jj]` for a full panel of `nr` (a multiple of 8) columns
    /// of a B with unit row stride: each 8 x 8 block is eight loads along B's columns, a
    /// transpose in registers (unpack, shuffle, exchange of 128-bit halves) and eight stores
    /// along the panel's rows; the last `k % 8` rows one value at a time.
    ///
    /// # Safety
    /// The host has AVX; `b` has unit row stride and columns `j0..j0 + nr`; `dst` holds at
    /// least `b.rows() * nr` floats.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn transpose_panel(b: MatRef<'_>, j0: usize, nr: usize, dst: &mut [f32]) {
        let k = b.rows();
        assert!(
            b.row_stride() == 1
                && j0 + nr <= b.cols()
                && nr.is_multiple_of(8)
                && dst.len() >= k * nr,
            "transpose_panel: the panel lies outside B or dst"
        );
        let cs = b.col_stride();
        let out = dst.as_mut_ptr();
        for jb in (0..nr).step_by(8) {
            let src = b.ptr_at(0, j0 + jb);
            let mut p = 0;
            while p + 8 <= k {
                // SAFETY: column j0 + jb + c (c < 8) holds rows p..p+8 contiguously at
                // src + c*cs + p (unit row stride, p + 8 <= k); the panel's rows p..p+8 hold
                // floats jb..jb+8 at out + (p + r)*nr + jb, inside dst (checked above).
                unsafe {
                    let v: [__m256; 8] =
                        std::array::from_fn(|c| _mm256_loadu_ps(src.add(c * cs + p)));
                    let t = transpose8(v);
                    for (r, row) in t.iter().enumerate() {
                        _mm256_storeu_ps(out.add((p + r) * nr + jb), *row);
                    }
                }
                p += 8;
            }
            for p in p..k {
                for c in 0..8 {
                    // SAFETY: as above, for the one value at row p < k of column j0 + jb + c.
                    unsafe { *out.add(p * nr + jb + c) = *src.add(c * cs + p) };
                }
            }
        }
    }

    /// The 4 x 4 transpose of the rows `v` within each 128-bit half: lane `c` of `out[i]` is
    /// lane `i` of `v[c]`, and lane `4 + c` of `out[i]` is lane `4 + i` of `v[c]`. Pairs of
    /// rows interleaved, then pairs of pairs.
    #[target_feature(enable = "avx")]
    #[inline]
    pub(in crate::gemm) fn transpose4_halves(v: [__m256; 4]) -> [__m256; 4] {
        let (a0, a1) = (
            _mm256_unpacklo_ps(v[0], v[1]),
            _mm256_unpackhi_ps(v[0], v[1]),
        );
        let (a2, a3) = (
            _mm256_unpacklo_ps(v[2], v[3]),
            _mm256_unpackhi_ps(v[2], v[3]),
        );
        [
            _mm256_shuffle_ps::<0x44>(a0, a2),
            _mm256_shuffle_ps::<0xEE>(a0, a2),
            _mm256_shuffle_ps::<0x44>(a1, a3),
            _mm256_shuffle_ps::<0xEE>(a1, a3),
        ]
    }

    /// The 8 x 8 transpose of the rows `v`: lane `c` of row `r` out is lane `r` of `v[c]`.
    #[target_feature(enable = "avx")]
    #[inline]
    fn transpose8(v: [__m256; 8]) -> [__m256; 8] {
        // Each half of the rows transposed within the 128-bit halves, then the halves
        // exchanged.
        let [b0, b1, b2, b3] = transpose4_halves([v[0], v[1], v[2], v[3]]);
        let [b4, b5, b6, b7] = transpose4_halves([v[4], v[5], v[6], v[7]]);
        [
            _mm256_permute2f128_ps::<0x20>(b0, b4),
            _mm256_permute2f128_ps::<0x20>(b1, b5),
            _mm256_permute2f128_ps::<0x20>(b2, b6),
            _mm256_permute2f128_ps::<0x20>(b3, b7),
            _mm256_permute2f128_ps::<0x31>(b0, b4),
            _mm256_permute2f128_ps::<0x31>(b1, b5),
            _mm256_permute2f128_ps::<0x31>(b2, b6),
            _mm256_permute2f128_ps::<0x31>(b3, b7),
        ]
    }
}

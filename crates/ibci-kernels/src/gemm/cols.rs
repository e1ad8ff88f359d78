//! Column-edge micro-kernels: the last panel of B, when it has at most four columns, against
//! a transposed A read in place, vectorised down the rows of C instead of along them.
//!
//! `X^T dY` with n = 100 ends in a panel of four columns. The row-panel kernels run it with
//! half of every vector on padding (their narrowest B panel is eight wide), and on AVX2 with
//! only six accumulators, too few to hide the FMA's latency: that panel took 9-10% of a
//! 784 x 100 x 100 product's time for 4% of its columns. A transposed A (unit row stride)
//! holds each column's rows contiguously, so here each lane is one row of C and each
//! accumulator one column of the panel:
//!
//! ```text
//! a[i+vL .. i+vL+L, p]  (one vector of A's column p, in place)
//!      x  broadcast(b[p, j])                      acc[v][j],  v < 2, j < 4  (8 chains)
//! ```
//!
//! Each lane's sum is the contract's: one FMA per step over `p` in order, from zero, so the
//! bits are those of every other kernel. At the end the accumulators (four columns of `L`
//! rows) are transposed in registers, four rows at a time, into rows of four floats.

use super::kernels::Dst;

/// The width of the B panel the column-edge kernels take.
pub(super) const COLS_WIDTH: usize = 4;

/// A column-edge kernel: `kc` steps over `rows` rows of A (at most the path's chunk, two
/// vectors), `a[r + p * a_cs]`, and a packed B panel of four columns (`b[p * 4 + j]`). The sums
/// go to `tile` (`rows` rows of four floats) or, with `dst`, straight into C (four columns,
/// unit column stride, `dst.rows == rows`). One k block: the sums start at zero.
pub(super) type ColsFn = unsafe fn(
    kc: usize,
    a: *const f32,
    a_cs: usize,
    rows: usize,
    b: *const f32,
    tile: *mut f32,
    dst: Option<&Dst>,
);

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::super::pack::x86::transpose4_halves;
    use super::Dst;
    use crate::lanes::x86::{first16, first8};

    /// Generates a column-edge kernel for one instruction set (`$lanes` rows per vector).
    macro_rules! cols_kernel {
        ($(#[$doc:meta])* $name:ident, $feat:literal, $lanes:literal, $vt:ty, $zero:ident,
         $loadu:ident, $set1:ident, $fma:ident, $mask:ident, $maskload:ident, $quads:ident) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU supports the target features; `rows <= 2 * LANES`; `a` holds `rows`
            /// floats at each of `p * a_cs` for `p < kc`; `b` holds `kc * 4` floats; `tile`
            /// holds `rows * 4` (written when `dst` is `None`); a `dst` is valid for `rows`
            /// rows of four floats at row stride `rs`.
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn $name(
                kc: usize,
                a: *const f32,
                a_cs: usize,
                rows: usize,
                b: *const f32,
                tile: *mut f32,
                dst: Option<&Dst>,
            ) {
                const L: usize = $lanes;
                let mut acc: [[$vt; 4]; 2] = [[$zero(); 4]; 2];
                let (mut ap, mut bp) = (a, b);
                // SAFETY: reads stay inside what the caller guarantees: rows below `rows` of
                // A's columns p < kc (the second vector's pointer is formed with wrapping
                // arithmetic and, past `rows`, only read through a mask that loads nothing),
                // kc * 4 floats of b; writes go to rows below `rows` of the tile or of C.
                unsafe {
                    // One step over p: A's column (two vectors of rows) times each of B's four
                    // values of row p, at `bp`.
                    let mut step = |av: [$vt; 2], bp: *const f32| {
                        for j in 0..4 {
                            let bv = $set1(*bp.add(j));
                            for v in 0..2 {
                                acc[v][j] = $fma(av[v], bv, acc[v][j]);
                            }
                        }
                    };
                    // Whole vectors load plainly; a last chunk of rows through masks.
                    if rows == 2 * L {
                        for _ in 0..kc {
                            step([$loadu(ap), $loadu(ap.add(L))], bp);
                            ap = ap.add(a_cs);
                            bp = bp.add(4);
                        }
                    } else {
                        let m = [$mask(rows.min(L)), $mask(rows.saturating_sub(L))];
                        for _ in 0..kc {
                            step([$maskload(ap, m[0]), $maskload(ap.wrapping_add(L), m[1])], bp);
                            ap = ap.wrapping_add(a_cs);
                            bp = bp.add(4);
                        }
                    }
                    for (v, cols) in acc.iter().enumerate() {
                        for (q, quad) in $quads(*cols).iter().enumerate() {
                            for (i, &row) in quad.iter().enumerate() {
                                let r = v * L + q * 4 + i;
                                if r < rows {
                                    write_row(row, r, tile, dst);
                                }
                            }
                        }
                    }
                }
            }
        };
    }

    /// Row `r`'s four sums `s` to the tile, or into C as `alpha*s (+ beta*c)`, each product
    /// and the sum rounded as in the scalar epilogue (with alpha 1 and beta 0, `s` itself).
    ///
    /// # Safety
    /// AVX is there; `tile` holds `(r + 1) * 4` floats (when `dst` is `None`); a `dst` holds
    /// row `r`'s four floats at `c + r * rs`.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn write_row(s: __m128, r: usize, tile: *mut f32, dst: Option<&Dst>) {
        // SAFETY: the caller's contract.
        unsafe {
            match dst {
                None => _mm_storeu_ps(tile.add(r * 4), s),
                Some(d) => {
                    let c = d.c.add(r * d.rs);
                    let x = if d.beta == 0.0 && d.alpha == 1.0 {
                        s
                    } else if d.beta == 0.0 {
                        _mm_mul_ps(_mm_set1_ps(d.alpha), s)
                    } else {
                        let (va, vb) = (_mm_set1_ps(d.alpha), _mm_set1_ps(d.beta));
                        _mm_add_ps(_mm_mul_ps(va, s), _mm_mul_ps(vb, _mm_loadu_ps(c)))
                    };
                    _mm_storeu_ps(c, x);
                }
            }
        }
    }

    /// Eight floats at `p`, lanes outside `m` zero (and not read).
    ///
    /// # Safety
    /// AVX is there; the lanes inside `m` are readable.
    #[target_feature(enable = "avx")]
    #[inline]
    unsafe fn maskload8(p: *const f32, m: __m256i) -> __m256 {
        // SAFETY: the caller's contract; masked-off lanes are not accessed.
        unsafe { _mm256_maskload_ps(p, m) }
    }

    /// Columns `c[j]` (eight rows each) as rows of four: `[q][i]` is row `q * 4 + i`.
    #[target_feature(enable = "avx")]
    #[inline]
    fn quads8(c: [__m256; 4]) -> [[__m128; 4]; 2] {
        // u[i] holds row i in its low half and row i + 4 in its high half.
        let u = transpose4_halves(c);
        [
            u.map(|x| _mm256_castps256_ps128(x)),
            u.map(|x| _mm256_extractf128_ps::<1>(x)),
        ]
    }

    /// Sixteen floats at `p`, lanes outside `m` zero (and not read).
    ///
    /// # Safety
    /// AVX-512F is there; the lanes inside `m` are readable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn maskload16(p: *const f32, m: __mmask16) -> __m512 {
        // SAFETY: the caller's contract; masked-off lanes are not accessed.
        unsafe { _mm512_maskz_loadu_ps(m, p) }
    }

    /// Columns `c[j]` (sixteen rows each) as rows of four: `[q][i]` is row `q * 4 + i`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn quads16(c: [__m512; 4]) -> [[__m128; 4]; 4] {
        // As `transpose4_halves` (zmm), in each of the four 128-bit lanes: u[i]'s lane q
        // holds row q * 4 + i.
        let (t0, t1) = (
            _mm512_unpacklo_ps(c[0], c[1]),
            _mm512_unpackhi_ps(c[0], c[1]),
        );
        let (t2, t3) = (
            _mm512_unpacklo_ps(c[2], c[3]),
            _mm512_unpackhi_ps(c[2], c[3]),
        );
        let u = [
            _mm512_shuffle_ps::<0x44>(t0, t2),
            _mm512_shuffle_ps::<0xEE>(t0, t2),
            _mm512_shuffle_ps::<0x44>(t1, t3),
            _mm512_shuffle_ps::<0xEE>(t1, t3),
        ];
        [
            u.map(|x| _mm512_extractf32x4_ps::<0>(x)),
            u.map(|x| _mm512_extractf32x4_ps::<1>(x)),
            u.map(|x| _mm512_extractf32x4_ps::<2>(x)),
            u.map(|x| _mm512_extractf32x4_ps::<3>(x)),
        ]
    }

    cols_kernel!(
        /// AVX2 + FMA3: up to 16 rows x 4 columns, 8 ymm accumulators.
        avx2_cols16x4, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_loadu_ps,
        _mm256_set1_ps, _mm256_fmadd_ps, first8, maskload8, quads8
    );

    cols_kernel!(
        /// AVX-512F: up to 32 rows x 4 columns, 8 zmm accumulators.
        avx512_cols32x4, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_loadu_ps,
        _mm512_set1_ps, _mm512_fmadd_ps, first16, maskload16, quads16
    );
}

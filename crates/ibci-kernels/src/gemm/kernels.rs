//! GEMM micro-kernels: `tile (MR x NR) <- [tile +] sum_p a_panel[p] (x) b_panel[p]`.
//!
//! Layouts: `a` holds `kc` columns of MR contiguous floats, `a_cs` floats apart
//! (`a[p*a_cs + r]`: `a_cs = MR` when packed, A's column stride when a transposed A is read in
//! place), or, for the AVX2 kernels with `ROWS`, MR rows of a row-major A in place
//! (`a[r*a_cs + p]`); a pair kernel (SPLIT = MR / 2, packed) reads its rows SPLIT.. from the
//! next packed panel, `SPLIT*kc` floats on; `b` holds `kc` rows of NR floats
//! (`b[p*NR + j]`), `tile` is MR rows of NR floats. Every accumulator lane is
//! one output element whose sum runs over `p` in order, one fused multiply-add per step; the
//! three paths differ only in how many elements run side by side.
//!
//! ```text
//!            b[p, 0..NR]  ->  NV vectors of LANES floats
//! a[p, 0]  x  acc[0][0..NV]
//! a[p, 1]  x  acc[1][0..NV]      acc[r][v] = fma(broadcast(a[p, r]), b_vec[v], acc[r][v])
//!   ...
//! a[p, MR-1] x acc[MR-1][0..NV]
//! ```

use super::cols::{self, ColsFn};
use super::pack::Avx;
use crate::dispatch::KernelPath;

/// Where a finished tile goes: `c[r*rs + j] = alpha*s (+ beta*c)` for its first `rows` rows
/// (at most MR; all NR columns, unit column stride), with the contract's roundings.
pub(super) struct Dst {
    pub c: *mut f32,
    pub rs: usize,
    pub rows: usize,
    pub alpha: f32,
    pub beta: f32,
}

/// A micro-kernel: `kc` steps, `a` (MR contiguous floats per step, `a_cs` apart) and packed
/// `b`, the `mr x nr` tile; `load` continues the running sums stored in the tile (k blocking),
/// otherwise they start at zero. The sums go back to the tile, or with `dst` straight into C.
pub(super) type KernelFn = unsafe fn(
    kc: usize,
    a: *const f32,
    a_cs: usize,
    b: *const f32,
    tile: *mut f32,
    load: bool,
    dst: Option<&Dst>,
);

/// A path's micro-kernel and its tile shape, and narrower kernels (`MR x width`, widths
/// ascending) for a last panel that fits one: n = 100 on AVX-512 is three 32-column panels
/// and one of 8, not four of 32 (a quarter of the FMAs would be padding) nor three and one of
/// 16 (6% of them).
#[derive(Clone, Copy)]
pub(super) struct Spec {
    pub mr: usize,
    pub nr: usize,
    pub kernel: KernelFn,
    pub edges: &'static [(usize, KernelFn)],
    /// Whether full panels of an A with unit row stride (a transposed matrix) are read in
    /// place rather than packed: measured faster for 12-row panels (48 contiguous bytes a
    /// step), no faster for 6-row ones (see the `super` module's notes).
    pub a_in_place: bool,
    /// Kernels that read full panels of a row-major A in place (`a[r * a_cs + p]`), the
    /// main one and edges as above, for products with a small k (see `super::task`).
    pub rows: Option<(KernelFn, &'static [(usize, KernelFn)])>,
    /// Edge kernels over two panels of A at once (`2 MR x width`), for paths whose MR rows
    /// alone give too few accumulators to hide the FMA's latency: `(width, kernel for two
    /// packed panels, kernel for 2 MR rows of a row-major A in place)`. The packed kernel
    /// reads the second panel `MR * kc` floats after the first, where `pack_a` puts it.
    pub pairs: &'static [(usize, KernelFn, KernelFn)],
    /// The column-edge kernel for a last panel of `COLS_WIDTH` columns against a transposed A
    /// (see `super::cols`), and the rows it takes per call.
    pub cols: Option<(usize, ColsFn)>,
    /// AVX for the packers' register transposes (a transposed B's panels), when the host has
    /// it: found once per product.
    pub avx: Option<Avx>,
    /// Whether a row-major A's full panels (12 rows) are packed through AVX registers
    /// (`pack_a`'s gather; the AVX2 path's 6-row panels measured no faster that way).
    pub gather_rows: bool,
}

impl Spec {
    /// The width of panel `q` of `panels` over `n` columns: `nr`, or the narrowest edge
    /// kernel's width that holds a last panel.
    pub fn panel_width(&self, q: usize, panels: usize, n: usize) -> usize {
        let rest = n - q * self.nr;
        match self.edges.iter().find(|&&(w, _)| rest <= w) {
            Some(&(w, _)) if q + 1 == panels => w,
            _ => self.nr,
        }
    }

    /// The kernel for panels of `width` columns.
    pub fn kernel_for(&self, width: usize) -> KernelFn {
        pick(self.kernel, self.edges, width, self.nr)
    }

    /// The kernel for two panels of A (packed, or with `rows` a row-major A in place) against
    /// a B panel of `width` columns, if the path has one.
    pub fn pair_for(&self, width: usize, rows: bool) -> Option<KernelFn> {
        self.pairs
            .iter()
            .find(|&&(w, _, _)| w == width)
            .map(|&(_, packed, in_place)| if rows { in_place } else { packed })
    }

    /// The kernel for panels of `width` columns reading a row-major A in place, if any.
    pub fn rows_kernel_for(&self, width: usize) -> Option<KernelFn> {
        self.rows
            .map(|(kernel, edges)| pick(kernel, edges, width, self.nr))
    }
}

/// The edge kernel of `width`, or the main one.
fn pick(kernel: KernelFn, edges: &[(usize, KernelFn)], width: usize, nr: usize) -> KernelFn {
    match edges.iter().find(|&&(w, _)| w == width) {
        Some(&(_, f)) if width != nr => f,
        _ => kernel,
    }
}

/// Largest tile of any path (AVX-512: 12 x 32).
const MAX_TILE: usize = 12 * 32;

/// A tile buffer aligned for the widest vectors.
#[repr(C, align(64))]
pub(super) struct Tile(pub [f32; MAX_TILE]);

impl Tile {
    pub fn new() -> Tile {
        Tile([0.0; MAX_TILE])
    }
}

/// The micro-kernel of a path. The caller checks that the path is supported.
pub(super) fn spec(path: KernelPath) -> Spec {
    match path {
        KernelPath::Portable => Spec {
            mr: PORTABLE_MR,
            nr: PORTABLE_NR,
            kernel: portable,
            edges: &[],
            a_in_place: false,
            rows: None,
            pairs: &[],
            cols: None,
            avx: None,
            gather_rows: false,
        },
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma => Spec {
            mr: 6,
            nr: 16,
            kernel: x86::avx2_6x16::<false>,
            edges: &[(4, x86::avx2_6x4::<false>), (8, x86::avx2_6x8::<false>)],
            a_in_place: false,
            rows: Some((
                x86::avx2_6x16::<true>,
                &[(4, x86::avx2_6x4::<true>), (8, x86::avx2_6x8::<true>)],
            )),
            pairs: &[
                (4, x86::avx2_12x4::<false>, x86::avx2_12x4::<true>),
                (8, x86::avx2_12x8::<false>, x86::avx2_12x8::<true>),
            ],
            cols: Some((16, cols::x86::avx2_cols16x4)),
            avx: Avx::detect(),
            gather_rows: false,
        },
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => Spec {
            mr: 12,
            nr: 32,
            kernel: x86::avx512_12x32::<false>,
            edges: &[
                (4, x86::avx512_12x4::<false>),
                (8, x86::avx512_12x8::<false>),
                (16, x86::avx512_12x16::<false>),
            ],
            a_in_place: true,
            rows: None,
            pairs: &[],
            cols: Some((32, cols::x86::avx512_cols32x4)),
            avx: Avx::detect(),
            gather_rows: true,
        },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!("only the portable path exists off x86-64"),
    }
}

const PORTABLE_MR: usize = 4;
const PORTABLE_NR: usize = 8;

/// Portable micro-kernel: `f32::mul_add` rounds exactly as a hardware FMA (in software when
/// the build level has no FMA: slow, but bit-identical to the SIMD paths).
///
/// # Safety
/// `a` holds 4 floats at each of `p * a_cs` for `p < kc`, `b` holds `kc * 8`, `tile` holds 32
/// (read when `load`); a `dst` is valid for `rows <= 4` rows of 8 floats at row stride `rs`.
unsafe fn portable(
    kc: usize,
    a: *const f32,
    a_cs: usize,
    b: *const f32,
    tile: *mut f32,
    load: bool,
    dst: Option<&Dst>,
) {
    const MR: usize = PORTABLE_MR;
    const NR: usize = PORTABLE_NR;
    let mut acc = [[0f32; NR]; MR];
    // SAFETY: all reads and writes stay within the sizes the caller guarantees.
    unsafe {
        if load {
            for (r, row) in acc.iter_mut().enumerate() {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = *tile.add(r * NR + j);
                }
            }
        }
        for p in 0..kc {
            for (r, row) in acc.iter_mut().enumerate() {
                let av = *a.add(p * a_cs + r);
                for (j, x) in row.iter_mut().enumerate() {
                    *x = av.mul_add(*b.add(p * NR + j), *x);
                }
            }
        }
        let rows = dst.map_or(MR, |d| d.rows);
        for (r, row) in acc.iter().enumerate().take(rows) {
            for (j, &x) in row.iter().enumerate() {
                match dst {
                    None => *tile.add(r * NR + j) = x,
                    Some(d) => {
                        let c = d.c.add(r * d.rs + j);
                        *c = if d.beta == 0.0 {
                            d.alpha * x
                        } else {
                            d.alpha * x + d.beta * *c
                        };
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// A micro-kernel's write-back to C: for each of the tile's first `d.rows` rows (the loop
    /// over the constant MR unrolls, so the accumulators stay in registers; a last panel of
    /// rows stops early) and each of its vectors, `$storeu(p, $value)` with `p` the vector's
    /// place in C and `$sum` its accumulator, bound for `$value`.
    macro_rules! write_rows {
        ($d:ident, $acc:ident, $lanes:literal, $storeu:ident, |$p:ident, $sum:ident| $value:expr) => {
            for r in 0..MR {
                if r == $d.rows {
                    break;
                }
                for v in 0..NV {
                    let $p = $d.c.add(r * $d.rs + v * $lanes);
                    let $sum = $acc[r][v];
                    $storeu($p, $value);
                }
            }
        };
    }

    /// Generates an MR x (NV * LANES) micro-kernel for one instruction set: `name, MR, SPLIT
    /// (0, or MR / 2 for a pair kernel), NV, registers` (`xmm` and `ymm` with AVX2 + FMA3,
    /// `zmm` with AVX-512F), which the first three arms spell out for the last one.
    macro_rules! simd_kernel {
        ($(#[$doc:meta])* $name:ident, $mr:literal, $split:literal, $nv:literal, xmm) => {
            simd_kernel!($(#[$doc])* $name, "avx2,fma", $mr, $split, $nv, 4, __m128,
                _mm_setzero_ps, _mm_load_ps, _mm_store_ps, _mm_loadu_ps, _mm_storeu_ps,
                _mm_set1_ps, _mm_fmadd_ps, _mm_mul_ps, _mm_add_ps);
        };
        ($(#[$doc:meta])* $name:ident, $mr:literal, $split:literal, $nv:literal, ymm) => {
            simd_kernel!($(#[$doc])* $name, "avx2,fma", $mr, $split, $nv, 8, __m256,
                _mm256_setzero_ps, _mm256_load_ps, _mm256_store_ps, _mm256_loadu_ps,
                _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps,
                _mm256_add_ps);
        };
        ($(#[$doc:meta])* $name:ident, $mr:literal, $split:literal, $nv:literal, zmm) => {
            simd_kernel!($(#[$doc])* $name, "avx512f", $mr, $split, $nv, 16, __m512,
                _mm512_setzero_ps, _mm512_load_ps, _mm512_store_ps, _mm512_loadu_ps,
                _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps,
                _mm512_add_ps);
        };
        ($(#[$doc:meta])* $name:ident, $feat:literal, $mr:literal, $split:literal, $nv:literal,
         $lanes:literal,
         $vt:ty, $zero:ident, $load:ident, $store:ident, $loadu:ident, $storeu:ident,
         $set1:ident, $fma:ident, $mul:ident, $add:ident) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU supports the target features; `a` holds MR floats at each of
            /// `p * a_cs` for `p < kc` (with `ROWS`: `kc` floats at each of `r * a_cs` for
            /// `r < MR`; with SPLIT > 0 and not `ROWS`: SPLIT floats at each of `p * a_cs`
            /// and MR - SPLIT at each of `SPLIT * kc + p * a_cs`), `b` holds
            /// `kc * NV * LANES`, `tile` holds `MR * NV * LANES` (read when `load`); `b` and `tile` are aligned to
            /// `LANES * 4` bytes (aligned loads are never split); a `dst` is valid for
            /// `rows <= MR` rows of NR floats at row stride `rs` (any alignment).
            ///
            /// With `ROWS` the A panel is MR rows of a row-major A read in place: `a[r * a_cs
            /// + p]` (`a_cs` is then A's row stride), each row's values contiguous.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name<const ROWS: bool>(
                kc: usize,
                a: *const f32,
                a_cs: usize,
                b: *const f32,
                tile: *mut f32,
                load: bool,
                dst: Option<&super::Dst>,
            ) {
                const MR: usize = $mr;
                // Rows SPLIT.. of a packed A come from a second panel, SPLIT * kc floats on
                // (0: one panel).
                const SPLIT: usize = $split;
                const NV: usize = $nv;
                const NR: usize = $nv * $lanes;
                let mut acc: [[$vt; NV]; MR] = [[$zero(); NV]; MR];
                // SAFETY: every pointer offset stays inside the sizes the caller guarantees
                // (p < kc, r < MR, v < NV; C's rows below `d.rows`); vector accesses to `b`
                // and `tile` are at multiples of LANES floats from pointers the caller
                // aligned to LANES * 4 bytes.
                unsafe {
                    if load {
                        for r in 0..MR {
                            for v in 0..NV {
                                acc[r][v] = $load(tile.add(r * NR + v * $lanes));
                            }
                        }
                    }
                    let mut ap = a;
                    let mut ap2 = a.wrapping_add(SPLIT * kc);
                    // Rows read in place (`ROWS`): one base per row, one index over p.
                    let row_ptrs: [*const f32; MR] =
                        std::array::from_fn(|r| a.wrapping_add(r * a_cs));
                    let mut bp = b;
                    for p in 0..kc {
                        let mut bv: [$vt; NV] = [$zero(); NV];
                        for v in 0..NV {
                            bv[v] = $load(bp.add(v * $lanes));
                        }
                        for r in 0..MR {
                            let av = if ROWS {
                                $set1(*row_ptrs[r].add(p))
                            } else if SPLIT > 0 && r >= SPLIT {
                                $set1(*ap2.add(r - SPLIT))
                            } else {
                                $set1(*ap.add(r))
                            };
                            for v in 0..NV {
                                acc[r][v] = $fma(av, bv[v], acc[r][v]);
                            }
                        }
                        if !ROWS {
                            ap = ap.add(a_cs);
                            ap2 = ap2.wrapping_add(a_cs);
                        }
                        bp = bp.add(NR);
                    }
                    match dst {
                        None => {
                            for r in 0..MR {
                                for v in 0..NV {
                                    $store(tile.add(r * NR + v * $lanes), acc[r][v]);
                                }
                            }
                        }
                        // alpha*s, or alpha*s + beta*c: two products and a sum, each rounded,
                        // exactly as the scalar epilogue. With alpha 1 the sums are stored as
                        // they are (1 * s is s, bit for bit: an FMA's result is never a
                        // signalling NaN).
                        Some(d) if d.beta == 0.0 && d.alpha == 1.0 => {
                            write_rows!(d, acc, $lanes, $storeu, |_c, s| s);
                        }
                        Some(d) if d.beta == 0.0 => {
                            let va = $set1(d.alpha);
                            write_rows!(d, acc, $lanes, $storeu, |_c, s| $mul(va, s));
                        }
                        Some(d) => {
                            let (va, vb) = ($set1(d.alpha), $set1(d.beta));
                            write_rows!(d, acc, $lanes, $storeu, |c, s| {
                                $add($mul(va, s), $mul(vb, $loadu(c)))
                            });
                        }
                    }
                }
            }
        };
    }

    simd_kernel!(
        /// AVX2 + FMA3: 6 x 16 tile, 12 ymm accumulators.
        avx2_6x16, 6, 0, 2, ymm
    );

    simd_kernel!(
        /// AVX2 + FMA3: 6 x 8 tile for a last narrow panel, 6 ymm accumulators.
        avx2_6x8, 6, 0, 1, ymm
    );

    simd_kernel!(
        /// AVX2 + FMA3: 6 x 4 tile for a last panel of at most four columns, 6 xmm
        /// accumulators.
        avx2_6x4, 6, 0, 1, xmm
    );

    simd_kernel!(
        /// AVX2 + FMA3: 12 x 4 tile over two 6-row panels of A, for a last panel of at most
        /// four columns, 12 xmm accumulators.
        avx2_12x4, 12, 6, 1, xmm
    );

    simd_kernel!(
        /// AVX2 + FMA3: 12 x 8 tile over two 6-row panels of A, for a last panel of at most
        /// eight columns, 12 ymm accumulators.
        avx2_12x8, 12, 6, 1, ymm
    );

    simd_kernel!(
        /// AVX-512 path, SSE registers with FMA3: 12 x 4 tile for a last panel of at most
        /// four columns, 12 xmm accumulators.
        avx512_12x4, 12, 0, 1, xmm
    );

    simd_kernel!(
        /// AVX-512 path, AVX2 + FMA3 registers: 12 x 8 tile for a last panel of at most eight
        /// columns, 12 ymm accumulators.
        avx512_12x8, 12, 0, 1, ymm
    );

    simd_kernel!(
        /// AVX-512F: 12 x 16 tile for a last narrow panel, 12 zmm accumulators.
        avx512_12x16, 12, 0, 1, zmm
    );

    simd_kernel!(
        /// AVX-512F: 12 x 32 tile, 24 zmm accumulators.
        avx512_12x32, 12, 0, 2, zmm
    );
}

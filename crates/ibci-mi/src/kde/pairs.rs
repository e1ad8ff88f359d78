//! The pair kernel of the KDE bounds: one 256 x 256 tile of the symmetric kernel matrix.
//!
//! Layout and math. Rows of the tile are met two at a time, columns 32 at a time (a block).
//! For each pair the GEMM's distance D~_ij and its error bound E_i + E_j decide inclusion
//! (certainly far: skipped; see the parent module); a block with any pair included gets all
//! its distances exactly, each lane summing (t_ik − t_jk)² over k = 0..d in order, in f64,
//! from the transposed copy of T (on AVX-512 and AVX2 by two-row kernels that share each
//! column load), then k8 = [`exp_lanes`] of −D / (8σ²) and k2 = (k8²)². Sums: each row's on
//! 32 lanes (lane l takes its columns j ≡ l mod 32, in order) added pairwise at the end,
//! each column's over the rows in order.
//!
//! Every operation is an IEEE add, subtract, multiply or compare on one lane, with no fused
//! multiply-add, so the same source compiled for AVX2 or AVX-512 ([`KernelPath`]) and the
//! intrinsics kernels give the portable code's bits on wider registers (tested).

use ibci_kernels::KernelPath;

/// Per tile row or column: [all (2σ²), same class (2σ²), all (8σ²), same class (8σ²)].
pub type Sums = [f64; 4];

/// exp(x) on N lanes for x in [-700, 0] (callers clamp), to a few ulps: x = n ln 2 + r
/// with n = round(x / ln 2) (by the 1.5 * 2^52 shift) and r split off by Cody and Waite's
/// two-part ln 2 (fdlibm's constants), e^r by its Taylor series to r^13 (|r| <= 0.347, the
/// truncation below 5e-18), times 2^n built in the exponent bits. No FMA, so every ISA gives
/// the same bits.
#[inline(always)]
pub fn exp_lanes<const N: usize>(x: [f64; N]) -> [f64; N] {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with 11 trailing zero bits (n * LN2_HI is exact).
    let ln2_hi = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    let ln2_lo = f64::from_bits(0x3DEA_39EF_3579_3C76);
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    const BIAS: f64 = 4_503_599_627_371_519.0; // 2^52 + 1023
    let mut out = [0f64; N];
    for l in 0..N {
        let n = (x[l] * LOG2E + SHIFT) - SHIFT;
        let r = (x[l] - n * ln2_hi) - n * ln2_lo;
        let mut p = 1.0 / 6_227_020_800.0; // 1/13!
        for c in INV_FACTORIALS {
            p = p * r + c;
        }
        let scale = f64::from_bits((n + BIAS).to_bits() << 52);
        out[l] = p * scale;
    }
    out
}

/// 1/12!, 1/11!, ..., 1/1!, 1/0!: Horner's coefficients below 1/13!.
const INV_FACTORIALS: [f64; 13] = [
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// What every tile reads: the layer in f64 (row-major, and transposed), the f32 GEMM's
/// squared norms and error bounds, the labels, and the kernel's constants. Per-sample
/// vectors are padded to a multiple of [`PAD`] samples; a padded sample has slack −inf, so
/// it is never included.
pub struct Prep {
    /// Rows, d each.
    pub rows: Vec<f64>,
    /// Coordinate k of sample j at `k * padded + j`.
    pub cols: Vec<f64>,
    /// Samples rounded up to a multiple of [`PAD`].
    pub padded: usize,
    /// Coordinates per sample.
    pub d: usize,
    /// ‖t_i‖² as the GEMM computes it.
    pub norms: Vec<f64>,
    /// E_i.
    pub slack: Vec<f64>,
    /// Class of each sample.
    pub labels: Vec<usize>,
    /// 1 / (8σ²).
    pub inv8: f64,
    /// Pairs with D~ − E above this are skipped.
    pub far: f64,
}

/// One tile's sums: `rows[r]` for its rows; `cols[c]` for its columns (on a diagonal tile,
/// what row c received as the column of earlier rows).
pub struct TileSums {
    /// Per row.
    pub rows: Vec<Sums>,
    /// Per column.
    pub cols: Vec<Sums>,
}

/// The tile of rows `i0..i0 + g.len() / stride` and columns `j0..j0 + rj`; `g` holds their
/// f32 dot products, row-major with `stride` (`rj` rounded up to [`PAD`]) entries per row;
/// on the diagonal (`i0 == j0`) only the pairs j > i.
pub fn tile(
    p: &Prep,
    g: &[f32],
    stride: usize,
    i0: usize,
    j0: usize,
    rj: usize,
    path: KernelPath,
) -> TileSums {
    match path {
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => {
            // SAFETY: the path is Avx512 only on hosts with AVX-512F (KernelPath's contract).
            unsafe { x86::tile_avx512(p, g, stride, i0, j0, rj) }
        }
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma => {
            // SAFETY: the path is Avx2Fma only on hosts with AVX2.
            unsafe { x86::tile_avx2(p, g, stride, i0, j0, rj) }
        }
        _ => tile_body(p, g, stride, i0, j0, rj, dist2_generic),
    }
}

/// Columns met together: four groups of eight lanes, whose independent sums hide the add
/// latency. Each lane sums over k in order whatever the grouping.
const BLOCK: usize = 32;

/// The transposed copy's and the per-sample vectors' padding.
pub const PAD: usize = BLOCK;

/// Lane sums added pairwise: (0 + 1) + (2 + 3), ..., then those pairwise, to one.
#[inline(always)]
fn pairwise(mut a: [f64; BLOCK]) -> f64 {
    let mut w = BLOCK;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            a[l] = a[2 * l] + a[2 * l + 1];
        }
    }
    a[0]
}

/// The distances from rows `ia` and `ib` to the [`BLOCK`] columns from `j` (in the
/// transposed copy), one row at a time as the compiler vectorises it: each lane sums
/// (t_ik − t_jk)² over k in order. (The `dist2` of [`tile_body`].)
#[inline(always)]
fn dist2_generic(p: &Prep, ia: usize, ib: usize, j: usize) -> [[f64; BLOCK]; 2] {
    [dist_row(p, ia, j), dist_row(p, ib, j)]
}

#[inline(always)]
fn dist_row(p: &Prep, i: usize, j: usize) -> [f64; BLOCK] {
    let mut dist = [0f64; BLOCK];
    for (k, &x) in p.rows[i * p.d..][..p.d].iter().enumerate() {
        let col = &p.cols[k * p.padded + j..][..BLOCK];
        for l in 0..BLOCK {
            let t = x - col[l];
            dist[l] += t * t;
        }
    }
    dist
}

/// Which of row `r`'s columns in the block from `base` are included: above the diagonal
/// and not certainly far (a NaN distance is included, so that it reaches the result;
/// padded columns never are).
#[inline(always)]
fn include(t: &Tile<'_>, r: usize, base: usize) -> [bool; BLOCK] {
    let p = t.p;
    let i = t.i0 + r;
    let gb = &t.g[r * t.stride + base..][..BLOCK];
    let (nb, sb) = (
        &p.norms[t.j0 + base..][..BLOCK],
        &p.slack[t.j0 + base..][..BLOCK],
    );
    let (ni, si, diag) = (p.norms[i], p.slack[i], t.i0 == t.j0);
    let mut inc = [false; BLOCK];
    for l in 0..BLOCK {
        let approx = (ni + nb[l]) - 2.0 * f64::from(gb[l]);
        let lo = approx - (si + sb[l]);
        inc[l] = ((lo <= p.far) | lo.is_nan()) & (!diag | (base + l > r));
    }
    inc
}

/// Adds row `r`'s included terms of the block from `base` to its lane sums `acc` and to
/// the columns' sums `cols` ([kind][column]).
#[inline(always)]
fn accumulate(
    t: &Tile<'_>,
    r: usize,
    base: usize,
    inc: &[bool; BLOCK],
    dist: &[f64; BLOCK],
    acc: &mut [[f64; BLOCK]; 4],
    cols: &mut [Vec<f64>; 4],
) {
    let p = t.p;
    let mut arg = [0f64; BLOCK];
    for l in 0..BLOCK {
        // Clamped into exp_lanes' domain; a NaN stays NaN (f64::max would drop it).
        let a = -dist[l] * p.inv8;
        arg[l] = if a < -700.0 { -700.0 } else { a };
    }
    let k8 = exp_lanes(arg);
    let ci = p.labels[t.i0 + r];
    let lab = &p.labels[t.j0 + base..][..BLOCK];
    for l in 0..BLOCK {
        let k8 = if inc[l] { k8[l] } else { 0.0 };
        let k4 = k8 * k8;
        let k2 = k4 * k4;
        let same = ci == lab[l];
        let v = [
            k2,
            if same { k2 } else { 0.0 },
            k8,
            if same { k8 } else { 0.0 },
        ];
        for w in 0..4 {
            acc[w][l] += v[w];
            cols[w][base + l] += v[w];
        }
    }
}

/// A tile's inputs.
struct Tile<'a> {
    p: &'a Prep,
    g: &'a [f32],
    stride: usize,
    i0: usize,
    j0: usize,
}

/// Rows are met two at a time, sharing the columns' loads on the AVX2 and AVX-512 paths; each
/// column still receives its rows' terms in row order, and each row's lanes their columns
/// in order, so the pairing changes no bit.
#[inline(always)]
fn tile_body(
    p: &Prep,
    g: &[f32],
    stride: usize,
    i0: usize,
    j0: usize,
    rj: usize,
    dist2: impl Fn(&Prep, usize, usize, usize) -> [[f64; BLOCK]; 2],
) -> TileSums {
    let ri = g.len() / stride;
    let t = Tile {
        p,
        g,
        stride,
        i0,
        j0,
    };
    let mut rows = vec![[0f64; 4]; ri];
    let mut cols = [(); 4].map(|_| vec![0f64; stride]);
    let mut r = 0;
    while r < ri {
        let two = r + 1 < ri;
        let rb = if two { r + 1 } else { r };
        let mut acc = [[[0f64; BLOCK]; 4]; 2];
        let first = if i0 == j0 { (r + 1) / BLOCK } else { 0 };
        for q in first..rj.div_ceil(BLOCK) {
            let base = q * BLOCK;
            let inc_a = include(&t, r, base);
            let inc_b = if two {
                include(&t, rb, base)
            } else {
                [false; BLOCK]
            };
            let (any_a, any_b) = (inc_a.contains(&true), inc_b.contains(&true));
            if !(any_a | any_b) {
                continue;
            }
            let [da, db] = dist2(p, i0 + r, i0 + rb, j0 + base);
            if any_a {
                accumulate(&t, r, base, &inc_a, &da, &mut acc[0], &mut cols);
            }
            if any_b {
                accumulate(&t, rb, base, &inc_b, &db, &mut acc[1], &mut cols);
            }
        }
        for (h, a) in acc.iter().enumerate().take(if two { 2 } else { 1 }) {
            for w in 0..4 {
                rows[r + h][w] = pairwise(a[w]);
            }
        }
        r += if two { 2 } else { 1 };
    }
    let cols = (0..rj)
        .map(|c| [cols[0][c], cols[1][c], cols[2][c], cols[3][c]])
        .collect();
    TileSums { rows, cols }
}

/// [`tile_body`] compiled for AVX2 and for AVX-512, each with its own two-row distance
/// kernel.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{tile_body, Prep, TileSums, BLOCK};

    /// The tile function and its two-row distance kernel for one ISA: the block's columns
    /// in passes of 4 vectors of `$lanes` f64, each pass keeping the two rows' 4 + 4 sums in
    /// registers and sharing each column load; per lane the generic code's subtract,
    /// multiply and add, in its order (so the portable bits).
    macro_rules! isa {
        ($tile:ident, $dist:ident, $feature:literal, $lanes:literal, $zero:ident, $set1:ident,
         $load:ident, $sub:ident, $mul:ident, $add:ident, $store:ident) => {
            #[doc = concat!("[`super::tile`] on ", $feature, ".")]
            ///
            /// # Safety
            #[doc = concat!("The host must have ", $feature, ".")]
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn $tile(
                p: &Prep,
                g: &[f32],
                stride: usize,
                i0: usize,
                j0: usize,
                rj: usize,
            ) -> TileSums {
                tile_body(p, g, stride, i0, j0, rj, |p, ia, ib, j| {
                    // SAFETY: this closure runs only inside the tile function above, whose
                    // caller guarantees the feature.
                    unsafe { $dist(p, ia, ib, j) }
                })
            }

            #[doc = concat!("[`super::dist2_generic`] on ", $feature, ".")]
            ///
            /// # Safety
            #[doc = concat!("The host must have ", $feature, ".")]
            #[target_feature(enable = $feature)]
            unsafe fn $dist(p: &Prep, ia: usize, ib: usize, j: usize) -> [[f64; BLOCK]; 2] {
                const L: usize = $lanes;
                let d = p.d;
                let (ta, tb) = (&p.rows[ia * d..][..d], &p.rows[ib * d..][..d]);
                // The block's columns for every k lie within the transposed copy.
                assert!(j + BLOCK <= p.padded && p.cols.len() >= d * p.padded);
                let mut out = [[0f64; BLOCK]; 2];
                for pass in (0..BLOCK).step_by(4 * L) {
                    let mut a = [$zero(); 4];
                    let mut b = [$zero(); 4];
                    for k in 0..d {
                        let (xa, xb) = ($set1(ta[k]), $set1(tb[k]));
                        // SAFETY: k * padded + j + BLOCK <= d * padded <= cols.len()
                        // (asserted), and pass + 4 L <= BLOCK.
                        let col = unsafe { p.cols.as_ptr().add(k * p.padded + j + pass) };
                        for v in 0..4 {
                            // SAFETY: L f64 at col + L v, within the block (see above).
                            let c = unsafe { $load(col.add(L * v)) };
                            let (sa, sb) = ($sub(xa, c), $sub(xb, c));
                            a[v] = $add(a[v], $mul(sa, sa));
                            b[v] = $add(b[v], $mul(sb, sb));
                        }
                    }
                    for v in 0..4 {
                        // SAFETY: each store writes L f64 within out's BLOCK per row.
                        unsafe {
                            $store(out[0].as_mut_ptr().add(pass + L * v), a[v]);
                            $store(out[1].as_mut_ptr().add(pass + L * v), b[v]);
                        }
                    }
                }
                out
            }
        };
    }

    isa!(
        tile_avx2,
        dist2_avx2,
        "avx2",
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        _mm256_sub_pd,
        _mm256_mul_pd,
        _mm256_add_pd,
        _mm256_storeu_pd
    );
    isa!(
        tile_avx512,
        dist2_avx512,
        "avx512f",
        8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_loadu_pd,
        _mm512_sub_pd,
        _mm512_mul_pd,
        _mm512_add_pd,
        _mm512_storeu_pd
    );
}

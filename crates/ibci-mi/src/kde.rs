//! Pairwise-distance bounds on the information of a noisy layer (Kolchinsky & Tracey 2017;
//! Kolchinsky, Tracey & Van Kuyk 2019; the estimator of Saxe et al. 2018, `ibsgd`'s `kde.py`).
//!
//! The layer is modelled as T = h(X) + Z, Z ~ N(0, σ² I). With D_ij = ‖t_i − t_j‖² and
//! K_ij = exp(−D_ij / (2σ²)):
//!
//! ```text
//! upper (KL):      I(X;T) <= −(1/N) Σ_i ln[(1/N) Σ_j K_ij]
//!                  I(T;Y) <=  (1/N) Σ_i ln[((1/N_c(i)) Σ_{j in c(i)} K_ij) / ((1/N) Σ_j K_ij)]
//! lower (Bhattacharyya): the same with 8σ² in place of 2σ².
//! ```
//!
//! The self term j = i is included (not leave-one-out), so 0 <= I(X;T) <= ln N. σ² is the
//! resolution the result depends on (0.1 in Saxe et al.'s MNIST runs) and must be reported.
//!
//! Distances come from ibci-kernels' GEMM in row blocks: G = T_block T^T, D_ij = ‖t_i‖² +
//! ‖t_j‖² − 2 G_ij, clamped at 0. The squared norms are computed with the same sequential
//! fused multiply-add chain as the GEMM's contract, so ‖t_i‖² equals G_ii bit for bit and
//! identical points are at distance exactly 0. Sums over j use a log-sum-exp in f64; rows run
//! in parallel and their terms are added in row order (the same bits for any thread count).

use ibci_kernels::{gemm, KernelPath, Mat, MatRef, Par};
use rayon::prelude::*;

/// Upper and lower bounds, in nats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The KL (upper) bound.
    pub upper: f64,
    /// The Bhattacharyya (lower) bound.
    pub lower: f64,
}

/// Rows per GEMM block.
const BLOCK: usize = 512;

/// ‖t_i‖² as the GEMM contract computes `t_i · t_i`.
fn squared_norms(t: MatRef<'_>) -> Vec<f32> {
    (0..t.rows())
        .map(|i| (0..t.cols()).fold(0f32, |s, k| t.at(i, k).mul_add(t.at(i, k), s)))
        .collect()
}

fn logsumexp(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = v.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// `sum_i f(i, d_i)` over the rows i in order, `d_i` the squared distances from row i to
/// all rows. Rows run in parallel under `Par::Rayon`; their terms are added in row order, so
/// the thread count changes no bit.
fn sum_over_rows<const K: usize>(
    t: MatRef<'_>,
    par: Par,
    f: impl Fn(usize, &[f64]) -> [f64; K] + Sync,
) -> [f64; K] {
    let n = t.rows();
    let norms = squared_norms(t);
    let mut total = [0f64; K];
    let mut i0 = 0;
    while i0 < n {
        let rows = BLOCK.min(n - i0);
        let mut g = Mat::zeros(rows, n);
        gemm(g.as_mut(), t.rows_range(i0, rows), t.t(), 1.0, 0.0, par);
        let g = &g;
        let term = |d: &mut Vec<f64>, r: usize| {
            let i = i0 + r;
            let gi = g.as_ref().row(r).expect("row-major");
            d.clear();
            d.extend(gi.iter().enumerate().map(|(j, &gij)| {
                ((f64::from(norms[i]) + f64::from(norms[j])) - 2.0 * f64::from(gij)).max(0.0)
            }));
            f(i, d)
        };
        let terms: Vec<[f64; K]> = match par {
            Par::Seq => {
                let mut d = Vec::with_capacity(n);
                (0..rows).map(|r| term(&mut d, r)).collect()
            }
            Par::Rayon => (0..rows)
                .into_par_iter()
                .map_init(|| Vec::with_capacity(n), |d, r| term(d, r))
                .collect(),
        };
        for t in &terms {
            total.iter_mut().zip(t).for_each(|(a, b)| *a += b);
        }
        i0 += rows;
    }
    total
}

/// Bounds on I(X;T) for the layer `t` (`n x d`) with noise variance `noise_var`.
///
/// # Panics
/// If `t` has no rows or `noise_var` is not positive and finite.
#[track_caller]
pub fn mi_xt(t: MatRef<'_>, noise_var: f64, par: Par) -> Bounds {
    check(t, None, noise_var, "kde::mi_xt");
    let n = t.rows() as f64;
    let [up, lo] = sum_over_rows(t, par, |_, d| {
        [2.0, 8.0].map(|s| logsumexp(d.iter().map(|&x| -x / (s * noise_var))) - n.ln())
    });
    Bounds {
        upper: -up / n,
        lower: -lo / n,
    }
}

/// Both bounds on I(X;T) and on I(T;Y) in one pass: `(I(X;T), I(T;Y))`.
///
/// The self term makes the largest summand exactly 1 (`d_ii = 0`), so the sums need no
/// shift: each kernel value is computed once per width and feeds both the sum over all j
/// and the sum over i's class.
///
/// # Panics
/// As [`mi_ty`].
#[track_caller]
pub fn mi_both(t: MatRef<'_>, labels: &[usize], noise_var: f64, par: Par) -> (Bounds, Bounds) {
    let count = check(t, Some(labels), noise_var, "kde::mi_both");
    let n = t.rows() as f64;
    let terms = |i: usize, d: &[f64]| {
        let c = labels[i];
        let nc = count[c] as f64;
        let mut out = [0f64; 4];
        for (w, s) in [2.0 * noise_var, 8.0 * noise_var].into_iter().enumerate() {
            let (mut all, mut same) = (0f64, 0f64);
            for (&x, &l) in d.iter().zip(labels) {
                let e = (-x / s).exp();
                all += e;
                if l == c {
                    same += e;
                }
            }
            let all = all.ln() - n.ln();
            out[w] = all;
            out[2 + w] = (same.ln() - nc.ln()) - all;
        }
        out
    };
    let [xu, xl, yu, yl] = sum_over_rows(t, par, terms);
    (
        Bounds {
            upper: -xu / n,
            lower: -xl / n,
        },
        Bounds {
            upper: yu / n,
            lower: yl / n,
        },
    )
}

/// Tile edge of [`mi_both_fast`]'s symmetric pass.
const TILE: usize = 256;

/// One tile's f32 sums, widened: for each of its rows and (off the diagonal) each of its
/// columns, [all (2 s2), same class (2 s2), all (8 s2), same class (8 s2)].
struct TileSums {
    rows: Vec<[f64; 4]>,
    cols: Vec<[f64; 4]>,
}

/// [`mi_both`] with the kernel values computed in f32 on eight lanes by ibci-kernels' `exp`
/// (1.02 ulp), once per pair: the 2 s2 kernel is the 8 s2 one to the fourth power, and the
/// kernel matrix is symmetric, so only the tiles on and above the diagonal are computed (their
/// row sums feed the tile's rows, their column sums the tile's columns). Far pairs are skipped
/// eight at a time, moving each bound by less than n e^−30 nats ([`FAR`]). Sums run in f32
/// within a 256 x 256 tile and in f64 across tiles, in tile order for any thread count (the
/// same bits). Within 1e-5 of [`mi_both`] (tested); for the information plane, where it runs
/// after every epoch.
///
/// # Panics
/// As [`mi_both`].
#[track_caller]
pub fn mi_both_fast(t: MatRef<'_>, labels: &[usize], noise_var: f64, par: Par) -> (Bounds, Bounds) {
    let count = check(t, Some(labels), noise_var, "kde::mi_both_fast");
    let avx2 = KernelPath::default_path() != KernelPath::Portable;
    let n = t.rows();
    let nf = n as f64;
    let blocks = n.div_ceil(TILE);
    // Per class, a 0/1 mask over the samples, padded to whole tiles.
    let masks: Vec<Vec<f32>> = (0..count.len())
        .map(|c| {
            let mut m = vec![0f32; blocks * TILE];
            labels
                .iter()
                .enumerate()
                .filter(|(_, &l)| l == c)
                .for_each(|(j, _)| m[j] = 1.0);
            m
        })
        .collect();
    let norms = squared_norms(t);
    // k8 = exp(-d / (8 s2)) from arg = -d / (8 s2); k2 = exp(-d / (2 s2)) = k8^4.
    let inv = (-1.0 / (8.0 * noise_var)) as f32;
    let tile = |&(a, b): &(usize, usize)| -> TileSums {
        let (i0, j0) = (a * TILE, b * TILE);
        let (ri, rj) = (TILE.min(n - i0), TILE.min(n - j0));
        let mut g = Mat::zeros(ri, rj);
        gemm(
            g.as_mut(),
            t.rows_range(i0, ri),
            t.rows_range(j0, rj).t(),
            1.0,
            0.0,
            Par::Seq,
        );
        let lanes = rj.div_ceil(8);
        let mut arg = vec![f32::NEG_INFINITY; lanes * 8]; // exp(-inf) = 0: padding adds nothing
        let mut col: Vec<Lanes> = vec![[[0f32; 8]; 4]; if a == b { 0 } else { lanes }];
        let mut rows = Vec::with_capacity(ri);
        for r in 0..ri {
            let i = i0 + r;
            let gi = g.as_ref().row(r).expect("row-major");
            for ((x, &gij), &nj) in arg.iter_mut().zip(gi).zip(&norms[j0..j0 + rj]) {
                *x = ((norms[i] + nj) - 2.0 * gij).max(0.0) * inv;
            }
            let mask = &masks[labels[i]][j0..j0 + lanes * 8];
            #[cfg(target_arch = "x86_64")]
            let v = if avx2 {
                // SAFETY: the default path is AVX2 or wider only on hosts with AVX2.
                unsafe { x86::tile_row(&arg, mask, &mut col) }
            } else {
                tile_row(&arg, mask, &mut col)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let v = {
                let _ = avx2; // no AVX2 copy off x86-64
                tile_row(&arg, mask, &mut col)
            };
            rows.push(v.map(|x| x.iter().map(|&e| f64::from(e)).sum::<f64>()));
        }
        let cols = col
            .iter()
            .flat_map(|c| (0..8).map(move |l| c.map(|x| f64::from(x[l]))))
            .take(if a == b { 0 } else { rj })
            .collect();
        TileSums { rows, cols }
    };
    let pairs: Vec<(usize, usize)> = (0..blocks)
        .flat_map(|a| (a..blocks).map(move |b| (a, b)))
        .collect();
    let tiles: Vec<TileSums> = match par {
        Par::Seq => pairs.iter().map(tile).collect(),
        Par::Rayon => pairs.par_iter().map(tile).collect(),
    };
    // partial[i * blocks + b]: row i's sums over the samples of block b.
    let mut partial = vec![[0f64; 4]; n * blocks];
    for (&(a, b), ts) in pairs.iter().zip(&tiles) {
        for (r, v) in ts.rows.iter().enumerate() {
            partial[(a * TILE + r) * blocks + b] = *v;
        }
        for (c, v) in ts.cols.iter().enumerate() {
            partial[(b * TILE + c) * blocks + a] = *v;
        }
    }
    let mut total = [0f64; 4];
    for (i, row) in partial.chunks_exact(blocks).enumerate() {
        let mut sums = [0f64; 4];
        for v in row {
            sums.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
        let nc = count[labels[i]] as f64;
        for w in 0..2 {
            let all = sums[2 * w].ln() - nf.ln();
            total[w] += all;
            total[2 + w] += (sums[2 * w + 1].ln() - nc.ln()) - all;
        }
    }
    let [xu, xl, yu, yl] = total;
    (
        Bounds {
            upper: -xu / nf,
            lower: -xl / nf,
        },
        Bounds {
            upper: yu / nf,
            lower: yl / nf,
        },
    )
}

/// The far-pair cut of [`mi_both_fast`]: a vector of eight pairs whose arguments
/// −d_ij / (8 s2) are all at most −30 is skipped. Each skipped k8 term is below
/// e^−30 < 1e−13 (its k2 term below e^−120), and every sum it would join holds the self term
/// 1 (both the sum over all samples and the one over the row's class), so with n samples a
/// sum moves by less than n e^−30 relative and each bound by less than n e^−30 nats
/// (5e−10 at n = 5,000).
pub const FAR: f32 = -30.0;

/// Per-lane f32 sums [all (2 s2), same class (2 s2), all (8 s2), same class (8 s2)].
type Lanes = [[f32; 8]; 4];

/// One row of a [`mi_both_fast`] tile: `arg` holds `-d_ij / (8 s2)` for the tile's columns
/// (padded with -inf to whole vectors), `mask` the 0/1 same-class flags. Returns the row's
/// sums by lane and, unless `col` is empty (a diagonal tile), adds each term to its column's
/// sums too.
fn tile_row(arg: &[f32], mask: &[f32], col: &mut [Lanes]) -> Lanes {
    use ibci_kernels::math::exp_x8;
    use wide::f32x8;
    let far = f32x8::splat(FAR);
    let mut v = [f32x8::ZERO; 4];
    for (q, (x, mm)) in arg.chunks_exact(8).zip(mask.chunks_exact(8)).enumerate() {
        let xv = f32x8::new([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        // Far pairs (see FAR): skipped when all eight are.
        if !xv.simd_gt(far).any() {
            continue;
        }
        let k8 = exp_x8(xv);
        let k4 = k8 * k8;
        let k2 = k4 * k4;
        let mk = f32x8::new([mm[0], mm[1], mm[2], mm[3], mm[4], mm[5], mm[6], mm[7]]);
        let terms = [k2, k2 * mk, k8, k8 * mk];
        for (acc, term) in v.iter_mut().zip(terms) {
            *acc += term;
        }
        if let Some(c) = col.get_mut(q) {
            for (acc, term) in c.iter_mut().zip(terms) {
                *acc = (f32x8::from(*acc) + term).to_array();
            }
        }
    }
    v.map(|x| x.to_array())
}

/// The AVX2 copy of [`tile_row`] (the build's CPU level gives `wide` only SSE).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use ibci_kernels::math::avx2::exp;

    use super::Lanes;

    /// [`super::tile_row`] on AVX registers: the same operations in the same order, with
    /// [`exp`] giving `exp_x8`'s bits, so the same sums.
    ///
    /// # Safety
    /// The host must have AVX2; `arg` and `mask` have equal lengths, a multiple of 8, and
    /// `col` is empty or holds `arg.len() / 8` entries.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_row(arg: &[f32], mask: &[f32], col: &mut [Lanes]) -> Lanes {
        debug_assert!(arg.len() == mask.len() && arg.len().is_multiple_of(8));
        debug_assert!(col.is_empty() || col.len() == arg.len() / 8);
        let far = _mm256_set1_ps(super::FAR);
        let mut v = [_mm256_setzero_ps(); 4];
        for q in 0..arg.len() / 8 {
            // SAFETY: q * 8 + 8 <= arg.len() = mask.len().
            let (xv, mk) = unsafe {
                (
                    _mm256_loadu_ps(arg.as_ptr().add(q * 8)),
                    _mm256_loadu_ps(mask.as_ptr().add(q * 8)),
                )
            };
            if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OS>(xv, far)) == 0 {
                continue;
            }
            let k8 = exp(xv);
            let k4 = _mm256_mul_ps(k8, k8);
            let k2 = _mm256_mul_ps(k4, k4);
            let terms = [k2, _mm256_mul_ps(k2, mk), k8, _mm256_mul_ps(k8, mk)];
            for (acc, &term) in v.iter_mut().zip(&terms) {
                *acc = _mm256_add_ps(*acc, term);
            }
            if let Some(c) = col.get_mut(q) {
                for (acc, &term) in c.iter_mut().zip(&terms) {
                    // SAFETY: `acc` holds 8 f32, what the unaligned load and store touch.
                    unsafe {
                        let p = acc.as_mut_ptr();
                        _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), term));
                    }
                }
            }
        }
        let mut out = [[0f32; 8]; 4];
        for (o, x) in out.iter_mut().zip(v) {
            // SAFETY: `o` holds 8 f32.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), x) };
        }
        out
    }
}

/// The argument checks every estimator here shares; returns the samples per class (empty
/// without labels).
#[track_caller]
fn check(t: MatRef<'_>, labels: Option<&[usize]>, noise_var: f64, who: &str) -> Vec<usize> {
    assert!(t.rows() > 0, "{who}: no samples");
    assert!(
        noise_var.is_finite() && noise_var > 0.0,
        "{who}: noise variance {noise_var}"
    );
    let Some(labels) = labels else {
        return Vec::new();
    };
    assert_eq!(
        labels.len(),
        t.rows(),
        "{who}: {} labels for {} rows",
        labels.len(),
        t.rows()
    );
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; classes];
    labels.iter().for_each(|&c| count[c] += 1);
    count
}

/// Bounds on I(T;Y) for the layer `t` (`n x d`), labels and noise variance `noise_var`.
///
/// # Panics
/// As [`mi_xt`], or if `labels.len() != t.rows()`.
#[track_caller]
pub fn mi_ty(t: MatRef<'_>, labels: &[usize], noise_var: f64, par: Par) -> Bounds {
    let count = check(t, Some(labels), noise_var, "kde::mi_ty");
    let n = t.rows() as f64;
    let [up, lo] = sum_over_rows(t, par, |i, d| {
        let c = labels[i];
        let nc = count[c] as f64;
        [2.0 * noise_var, 8.0 * noise_var].map(|s| {
            let all = logsumexp(d.iter().map(|&x| -x / s)) - n.ln();
            let same = logsumexp(
                d.iter()
                    .zip(labels)
                    .filter(|&(_, &l)| l == c)
                    .map(|(&x, _)| -x / s),
            ) - nc.ln();
            same - all
        })
    });
    Bounds {
        upper: up / n,
        lower: lo / n,
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn avx2_tile_row_gives_the_portable_bits() {
        // Skipped (by name) without AVX2; a failure when IBCI_REQUIRE_PATHS names avx2.
        if !ibci_kernels::dispatch::tested_paths("avx2_tile_row_gives_the_portable_bits")
            .contains(&ibci_kernels::KernelPath::Avx2Fma)
        {
            return;
        }
        // Arguments from 0 down past the far-pair cut (FAR), -inf padding, random masks; with
        // and without column sums, over several rows so the column sums accumulate.
        let mut s = 5u64;
        let mut u = move || (crate::lcg_step(&mut s) >> 40) as f32 / (1u64 << 24) as f32;
        for lanes in [1usize, 3, 32] {
            let mut col_a = vec![[[0f32; 8]; 4]; lanes];
            let mut col_b = col_a.clone();
            for row in 0..5 {
                let arg: Vec<f32> = (0..lanes * 8)
                    .map(|k| match (k + row) % 11 {
                        0 => f32::NEG_INFINITY,
                        1 => -90.0 - u(),
                        _ => -95.0 * u() * u(),
                    })
                    .collect();
                let mask: Vec<f32> = (0..lanes * 8).map(|_| (u() < 0.3) as u8 as f32).collect();
                let a = tile_row(&arg, &mask, &mut col_a);
                // SAFETY: AVX2 detected above; lengths as the function requires.
                let b = unsafe { x86::tile_row(&arg, &mask, &mut col_b) };
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "rows, {lanes} lanes");
                let (c, d) = (tile_row(&arg, &mask, &mut []), unsafe {
                    // SAFETY: as above, with no column sums.
                    x86::tile_row(&arg, &mask, &mut [])
                });
                assert_eq!(format!("{c:?}"), format!("{d:?}"));
            }
            assert_eq!(
                format!("{col_a:?}"),
                format!("{col_b:?}"),
                "columns, {lanes} lanes"
            );
        }
    }
}

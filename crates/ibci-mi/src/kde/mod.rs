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
//! Precision: the estimates agree with an f64 brute force on the same (f32) data to about
//! 1e-14 nats (tests/kde.rs asks 1e-8 at noise variances 1e-3, 0.1 and 1, layers of 2 to 100
//! units, 500 to 5,000 samples; the former f32-expansion code failed it, off by 1.2e-7 at
//! noise 1e-3 on 500 samples of 2 units, and issue 17 measured 1e-6). Forming
//! every distance as ‖t_i‖² + ‖t_j‖² − 2 t_i·t_j would cancel catastrophically for near pairs,
//! which decide the sums; so the f32 GEMM's expansion only *sorts* the pairs, and every pair
//! that matters is computed in f64 from coordinate differences. This module chooses that
//! over a compensated expansion: its error does not grow with the activations' size.
//! - G = T T^T by ibci-kernels' GEMM in 256 x 256 tiles on and above the diagonal (K is
//!   symmetric), and D~_ij = (‖t_i‖² + ‖t_j‖²) − 2 G_ij in f64 from the f32 norms and G.
//!   For a dot product of length d in f32 in any order, |error| <= γ_d Σ_k |a_k b_k| with
//!   γ_d = d u / (1 − d u), u = 2^-24; so |D~_ij − D_ij| <= E_i + E_j with
//!   E_i = 1.01 (2 γ_d + 2^-50) ‖t_i‖~² / (1 − γ_d) + d 2^-146 (underflow).
//! - A pair with D~_ij − E_i − E_j > [`CUT`] · 8σ² is certainly far: its kernel values are
//!   below e^-40 for both widths and it is skipped. Every sum holds its self term 1, so with
//!   N samples a skipped pair moves a logarithm by less than N e^-40 (2e-14 at N = 5,000).
//! - Every other pair ([`pairs`]): D_ij = Σ_k (t_ik − t_jk)² in f64 (differences of f32
//!   values are exact in f64; relative error about d 2^-53), k8 = exp(−D_ij / (8σ²)) to a few
//!   ulps, k2 = k8^4, added to its row's and its column's sums.
//!
//! Sums run in f64, in tile order for any thread count and kernel path (the same bits). Far
//! pairs cost a comparison, so a saturated plane (most pairs far) costs little more than the
//! GEMM; near pairs cost d f64 operations each, about four times the former f32 code's time
//! when all pairs are near (docs/benchmarks.md).

use ibci_kernels::{gemm, KernelPath, MatMut, MatRef, Par};

pub mod pairs;
use rayon::prelude::*;

/// Upper and lower bounds, in nats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The KL (upper) bound.
    pub upper: f64,
    /// The Bhattacharyya (lower) bound.
    pub lower: f64,
}

/// The version of this estimator's numerics, raised whenever the numbers it returns change,
/// so that caches of its results can tell: 1 formed every distance from the f32 GEMM's
/// expansion (and the information plane summed f32 kernel values); 2 computes every pair
/// that matters from f64 differences (agreeing with an f64 brute force to about 1e-14).
pub const VERSION: u32 = 2;

/// Tile edge of the symmetric pass.
const TILE: usize = 256;

/// A pair whose wide-kernel argument −D_ij / (8σ²) is certainly below −CUT is skipped (see
/// the module's notes on precision).
pub const CUT: f64 = 40.0;

/// ‖t_i‖² in f32, as the GEMM would compute `t_i · t_i` (a sequential FMA chain).
fn squared_norms(t: MatRef<'_>) -> Vec<f32> {
    (0..t.rows())
        .map(|i| (0..t.cols()).fold(0f32, |s, k| t.at(i, k).mul_add(t.at(i, k), s)))
        .collect()
}

/// For every row i, the kernel sums [Σ_j K2_ij, Σ_{j in c(i)} K2_ij, Σ_j K8_ij,
/// Σ_{j in c(i)} K8_ij], the self term included; K2 at 2σ², K8 at 8σ².
fn row_sums(
    t: MatRef<'_>,
    labels: &[usize],
    noise_var: f64,
    par: Par,
    path: KernelPath,
) -> Vec<[f64; 4]> {
    let (n, d) = (t.rows(), t.cols());
    let padded = n.div_ceil(pairs::PAD) * pairs::PAD;
    let norms32 = squared_norms(t);
    // The GEMM distances' error bound per row (module notes); every pair is exact when the
    // bound is void.
    let du = d as f64 * f64::from(f32::EPSILON) / 2.0;
    let slack: Vec<f64> = if du < 0.5 {
        let g = du / (1.0 - du);
        let c = 1.01 * (2.0 * g + 2f64.powi(-50)) / (1.0 - g);
        let under = d as f64 * 2f64.powi(-146);
        norms32.iter().map(|&v| c * f64::from(v) + under).collect()
    } else {
        vec![f64::INFINITY; n]
    };
    let mut cols = vec![0f64; d * padded];
    for i in 0..n {
        for k in 0..d {
            cols[k * padded + i] = f64::from(t.at(i, k));
        }
    }
    let pad = |v: Vec<f64>, fill: f64| -> Vec<f64> {
        let mut v = v;
        v.resize(padded, fill);
        v
    };
    let mut labels = labels.to_vec();
    labels.resize(padded, usize::MAX);
    let prep = pairs::Prep {
        rows: (0..n)
            .flat_map(|i| (0..d).map(move |k| f64::from(t.at(i, k))))
            .collect(),
        cols,
        padded,
        d,
        norms: pad(norms32.iter().map(|&v| f64::from(v)).collect(), 0.0),
        slack: pad(slack, f64::NEG_INFINITY),
        labels,
        inv8: 1.0 / (8.0 * noise_var),
        far: CUT * 8.0 * noise_var,
    };
    let blocks = n.div_ceil(TILE);
    let tile = |&(a, b): &(usize, usize)| -> pairs::TileSums {
        let (i0, j0) = (a * TILE, b * TILE);
        let (ri, rj) = (TILE.min(n - i0), TILE.min(n - j0));
        // G into rows padded to whole blocks of columns (zeros; padded columns are never
        // included), written in place by the GEMM.
        let stride = rj.div_ceil(pairs::PAD) * pairs::PAD;
        let mut gp = vec![0f32; ri * stride];
        gemm(
            MatMut::from_slice_strided(&mut gp, ri, rj, stride, 1),
            t.rows_range(i0, ri),
            t.rows_range(j0, rj).t(),
            1.0,
            0.0,
            Par::Seq,
        );
        pairs::tile(&prep, &gp, stride, i0, j0, rj, path)
    };
    let pairs: Vec<(usize, usize)> = (0..blocks)
        .flat_map(|a| (a..blocks).map(move |b| (a, b)))
        .collect();
    let tiles: Vec<pairs::TileSums> = match par {
        Par::Seq => pairs.iter().map(tile).collect(),
        Par::Rayon => pairs.par_iter().map(tile).collect(),
    };
    // partial[i * blocks + b]: row i's sums over the samples of block b (on the diagonal
    // block, what it met as a row plus what it met as a column).
    let mut partial = vec![[0f64; 4]; n * blocks];
    for (&(a, b), ts) in pairs.iter().zip(&tiles) {
        for (r, v) in ts.rows.iter().enumerate() {
            partial[(a * TILE + r) * blocks + b] = *v;
        }
        for (c, v) in ts.cols.iter().enumerate() {
            let p = &mut partial[(b * TILE + c) * blocks + a];
            p.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
    }
    partial
        .chunks_exact(blocks.max(1))
        .take(n)
        .map(|row| {
            let mut sums = [1f64; 4];
            for v in row {
                sums.iter_mut().zip(v).for_each(|(s, x)| *s += x);
            }
            sums
        })
        .collect()
}

/// The four sums of every row, turned into (I(X;T), I(T;Y)) bounds.
fn bounds(sums: &[[f64; 4]], labels: &[usize], count: &[usize]) -> (Bounds, Bounds) {
    let nf = sums.len() as f64;
    let mut total = [0f64; 4];
    for (s, &c) in sums.iter().zip(labels) {
        let nc = count[c] as f64;
        for w in 0..2 {
            let all = s[2 * w].ln() - nf.ln();
            total[w] += all;
            total[2 + w] += (s[2 * w + 1].ln() - nc.ln()) - all;
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

/// Bounds on I(X;T) for the layer `t` (`n x d`) with noise variance `noise_var`.
///
/// # Panics
/// If `t` has no rows or `noise_var` is not positive and finite.
#[track_caller]
pub fn mi_xt(t: MatRef<'_>, noise_var: f64, par: Par) -> Bounds {
    check(t, None, noise_var, "kde::mi_xt");
    let one = vec![0; t.rows()];
    bounds(
        &row_sums(t, &one, noise_var, par, KernelPath::default_path()),
        &one,
        &[t.rows()],
    )
    .0
}

/// Both bounds on I(X;T) and on I(T;Y) in one pass: `(I(X;T), I(T;Y))`.
///
/// # Panics
/// As [`mi_ty`].
#[track_caller]
pub fn mi_both(t: MatRef<'_>, labels: &[usize], noise_var: f64, par: Par) -> (Bounds, Bounds) {
    let count = check(t, Some(labels), noise_var, "kde::mi_both");
    bounds(
        &row_sums(t, labels, noise_var, par, KernelPath::default_path()),
        labels,
        &count,
    )
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
    bounds(
        &row_sums(t, labels, noise_var, par, KernelPath::default_path()),
        labels,
        &count,
    )
    .1
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibci_kernels::Mat;

    #[test]
    fn every_path_gives_the_portable_bits() {
        // Sizes around the 32-column blocks and 256-row tiles, widths around the lanes, at
        // a noise where some pairs are far and some near; thread counts too.
        let mut s = 17u64;
        let mut u = move || (crate::lcg_step(&mut s) >> 40) as f32 / (1u64 << 24) as f32;
        let paths = ibci_kernels::dispatch::tested_paths("kde every_path_gives_the_portable_bits");
        for (n, d) in [
            (1usize, 3usize),
            (31, 1),
            (33, 7),
            (257, 9),
            (300, 100),
            (530, 2),
        ] {
            let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
            let t = Mat::from_fn(n, d, |i, _| (labels[i] as f32 + u()) * 0.7);
            let want = row_sums(t.as_ref(), &labels, 0.05, Par::Seq, KernelPath::Portable);
            for &path in &paths {
                for par in [Par::Seq, Par::Rayon] {
                    let got = row_sums(t.as_ref(), &labels, 0.05, par, path);
                    assert_eq!(
                        format!("{got:?}"),
                        format!("{want:?}"),
                        "{n} x {d}, path {path}, {par:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_nan_activation_gives_nan_bounds() {
        let labels = [0, 1, 0, 1, 0];
        let t = Mat::from_fn(5, 3, |i, k| {
            if (i, k) == (3, 1) {
                f32::NAN
            } else {
                (i + k) as f32
            }
        });
        let (xt, ty) = mi_both(t.as_ref(), &labels, 0.1, Par::Seq);
        assert!(xt.upper.is_nan() && xt.lower.is_nan() && ty.upper.is_nan() && ty.lower.is_nan());
    }

    #[test]
    fn exp_lanes_is_within_two_ulps_of_std() {
        let mut worst = 0f64;
        let xs: Vec<f64> = (0..=700_000)
            .map(|k| -(k as f64) * 1e-3 - 1e-9 * k as f64)
            .collect();
        for c in xs.chunks(8) {
            let mut x = [0f64; 8];
            x[..c.len()].copy_from_slice(c);
            let got = pairs::exp_lanes(x);
            for l in 0..c.len() {
                let want = x[l].exp();
                let ulp = f64::from_bits(want.to_bits() + 1) - want;
                worst = worst.max((got[l] - want).abs() / ulp);
            }
        }
        assert!(worst <= 2.0, "{worst} ulps");
        assert_eq!(pairs::exp_lanes([0.0; 8]), [1.0; 8]);
    }
}

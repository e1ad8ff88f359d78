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
//! identical points are at distance exactly 0. Sums over j use a log-sum-exp in f64.

use ibci_kernels::{gemm, Mat, MatRef, Par};

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

/// Calls `f(i, d_i)` for every row i with its squared distances to all rows.
fn for_each_row(t: MatRef<'_>, par: Par, mut f: impl FnMut(usize, &[f64])) {
    let n = t.rows();
    let norms = squared_norms(t);
    let mut d = vec![0f64; n];
    let mut i0 = 0;
    while i0 < n {
        let rows = BLOCK.min(n - i0);
        let mut g = Mat::zeros(rows, n);
        gemm(g.as_mut(), t.rows_range(i0, rows), t.t(), 1.0, 0.0, par);
        for r in 0..rows {
            let i = i0 + r;
            let gi = g.as_ref().row(r).expect("row-major");
            for (j, dj) in d.iter_mut().enumerate() {
                let v = (f64::from(norms[i]) + f64::from(norms[j])) - 2.0 * f64::from(gi[j]);
                *dj = v.max(0.0);
            }
            f(i, &d);
        }
        i0 += rows;
    }
}

/// Bounds on I(X;T) for the layer `t` (`n x d`) with noise variance `noise_var`.
///
/// # Panics
/// If `t` has no rows or `noise_var` is not positive and finite.
#[track_caller]
pub fn mi_xt(t: MatRef<'_>, noise_var: f64, par: Par) -> Bounds {
    assert!(t.rows() > 0, "kde::mi_xt: no samples");
    assert!(
        noise_var.is_finite() && noise_var > 0.0,
        "kde::mi_xt: noise variance {noise_var}"
    );
    let n = t.rows() as f64;
    let (mut up, mut lo) = (0f64, 0f64);
    for_each_row(t, par, |_, d| {
        up += logsumexp(d.iter().map(|&x| -x / (2.0 * noise_var))) - n.ln();
        lo += logsumexp(d.iter().map(|&x| -x / (8.0 * noise_var))) - n.ln();
    });
    Bounds {
        upper: -up / n,
        lower: -lo / n,
    }
}

/// Bounds on I(T;Y) for the layer `t` (`n x d`), labels and noise variance `noise_var`.
///
/// # Panics
/// As [`mi_xt`], or if `labels.len() != t.rows()`.
#[track_caller]
pub fn mi_ty(t: MatRef<'_>, labels: &[usize], noise_var: f64, par: Par) -> Bounds {
    assert!(t.rows() > 0, "kde::mi_ty: no samples");
    assert!(
        noise_var.is_finite() && noise_var > 0.0,
        "kde::mi_ty: noise variance {noise_var}"
    );
    assert_eq!(
        labels.len(),
        t.rows(),
        "kde::mi_ty: {} labels for {} rows",
        labels.len(),
        t.rows()
    );
    let n = t.rows() as f64;
    let classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; classes];
    labels.iter().for_each(|&c| count[c] += 1);
    let (mut up, mut lo) = (0f64, 0f64);
    for_each_row(t, par, |i, d| {
        let c = labels[i];
        let nc = count[c] as f64;
        for (acc, s) in [(&mut up, 2.0 * noise_var), (&mut lo, 8.0 * noise_var)] {
            let all = logsumexp(d.iter().map(|&x| -x / s)) - n.ln();
            let same = logsumexp(
                d.iter()
                    .zip(labels)
                    .filter(|&(_, &l)| l == c)
                    .map(|(&x, _)| -x / s),
            ) - nc.ln();
            *acc += same - all;
        }
    });
    Bounds {
        upper: up / n,
        lower: lo / n,
    }
}

//! The matrix-based Rényi α-entropy (Sanchez Giraldo, Rao & Príncipe 2015) and the mutual
//! information built from it (as used for information planes by Yu et al. and Wickstrøm et
//! al.), in nats ([`crate::bits`] gives the published unit, bits).
//!
//! Math. For samples x_1..x_n, the Gram matrix of the Gaussian kernel
//! `K_ij = exp(-|x_i - x_j|^2 / (2 sigma^2))` is normalised to unit trace, `A = K / tr K`;
//! with `λ_i` the eigenvalues of `A` (non-negative, summing to 1),
//! `S_α(A) = ln(Σ λ_i^α) / (1 - α)`, and as α -> 1 the von Neumann entropy `-Σ λ_i ln λ_i`.
//! The joint entropy of two variables sampled together uses the Hadamard product:
//! `S_α(A, B) = S_α(A ∘ B / tr(A ∘ B))`, and `I_α(A; B) = S_α(A) + S_α(B) - S_α(A, B)`.
//! Labels use the indicator kernel (1 for the same label, 0 otherwise), the σ -> 0 limit of
//! the Gaussian kernel on one-hot codes.
//!
//! Precision: distances are formed in f64 from coordinate differences (no |a|^2 + |b|^2 - 2ab
//! cancellation), the eigenvalues by [`ibci_kernels::eigen`] to about `n eps` absolutely;
//! eigenvalues within that accuracy of 0 (below `n eps λ_max`) are taken as 0, since for
//! α < 1 their powers would not be negligible. Cost: O(n^2 d) for
//! the Gram matrix and O(n^3) for the eigenvalues (n = 1,000: about half a second).

use ibci_kernels::eigen::symmetric_eigenvalues;
use ibci_kernels::{MatRef, Par};
use rayon::prelude::*;

/// The squared Euclidean distances between the rows of `x` (n x n, row-major, symmetric,
/// zero diagonal), each from f64 coordinate differences; rows in parallel under
/// `Par::Rayon` (each entry is computed alone, so the bits do not depend on the threads).
pub fn sq_distances(x: MatRef<'_>, par: Par) -> Vec<f64> {
    let (n, d) = (x.rows(), x.cols());
    let row = |i: usize, out: &mut [f64]| {
        for (j, o) in out.iter_mut().enumerate().take(i) {
            *o = (0..d)
                .map(|c| {
                    let t = f64::from(x.at(i, c)) - f64::from(x.at(j, c));
                    t * t
                })
                .sum();
        }
    };
    let mut d2 = vec![0.0; n * n];
    if n == 0 {
        return d2;
    }
    match par {
        Par::Seq => d2.chunks_mut(n).enumerate().for_each(|(i, r)| row(i, r)),
        Par::Rayon => d2
            .par_chunks_mut(n)
            .enumerate()
            .for_each(|(i, r)| row(i, r)),
    }
    // Mirror the lower triangle.
    for i in 0..n {
        for j in 0..i {
            d2[j * n + i] = d2[i * n + j];
        }
    }
    d2
}

/// The Gaussian-kernel Gram matrix `exp(-d2 / (2 sigma^2))` of squared distances `d2`.
///
/// # Panics
/// If `sigma` is not positive and finite.
#[track_caller]
pub fn gram_of_sq_distances(d2: &[f64], sigma: f64) -> Vec<f64> {
    assert!(
        sigma.is_finite() && sigma > 0.0,
        "gram: sigma {sigma} must be positive"
    );
    let scale = -1.0 / (2.0 * sigma * sigma);
    d2.iter().map(|&v| (v * scale).exp()).collect()
}

/// The Gaussian-kernel Gram matrix of the rows of `x` (n x n, row-major).
///
/// # Panics
/// If `sigma` is not positive and finite.
#[track_caller]
pub fn gram(x: MatRef<'_>, sigma: f64) -> Vec<f64> {
    gram_of_sq_distances(&sq_distances(x, Par::Seq), sigma)
}

/// Steps of the kernel-width search per octave, and its range in octaves around the median
/// pairwise distance.
const ALIGN_STEPS_PER_OCTAVE: i32 = 4;
const ALIGN_OCTAVES: (i32, i32) = (-6, 2);

/// The kernel width whose Gram matrix is best aligned with the labels' (Wickstrøm et al.
/// 2019, "Information plane analysis of deep neural networks via matrix-based Rényi's
/// entropy and tensor kernels", who choose σ so; alignment after Cristianini et al. 2002):
/// the σ maximising `<K_σ, K_Y>_F / ‖K_σ‖_F` (`‖K_Y‖_F` does not depend on σ). The best of
/// the grid `m 2^(k/4)`, k = -24..=8 (m the median of the nonzero pairwise distances; the
/// smallest σ wins a tie) is refined by a golden-section search in ln σ between its grid
/// neighbours, to a relative 1e-6, so that σ, and the entropies, move continuously as the
/// data do. Returns 1 when all points coincide (every σ gives the same all-ones matrix).
/// `d2` are the squared distances of the `labels.len()` samples ([`sq_distances`]).
///
/// # Panics
/// If `d2.len() != labels.len()^2`.
#[track_caller]
pub fn aligned_sigma(d2: &[f64], labels: &[usize], par: Par) -> f64 {
    let n = labels.len();
    assert_eq!(
        d2.len(),
        n * n,
        "aligned_sigma: {} distances for {n} samples",
        d2.len()
    );
    let mut off: Vec<f64> = (0..n)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .map(|(i, j)| d2[i * n + j])
        .filter(|&v| v > 0.0)
        .collect();
    if off.is_empty() {
        return 1.0;
    }
    let mid = off.len() / 2;
    let median = off.select_nth_unstable_by(mid, f64::total_cmp).1.sqrt();
    let grid: Vec<f64> = (ALIGN_OCTAVES.0 * ALIGN_STEPS_PER_OCTAVE
        ..=ALIGN_OCTAVES.1 * ALIGN_STEPS_PER_OCTAVE)
        .map(|k| median * 2f64.powf(f64::from(k) / f64::from(ALIGN_STEPS_PER_OCTAVE)))
        .collect();
    // Off-diagonal pairs counted twice by symmetry, the unit diagonal once; each row's
    // terms summed alone (rows in parallel under Par::Rayon), the rows then in order.
    let alignment = |sigma: &f64| -> f64 {
        let scale = -1.0 / (2.0 * sigma * sigma);
        let row = |i: usize| -> (f64, f64) {
            let (mut same, mut all) = (0.0, 0.0);
            for j in 0..i {
                let k = (d2[i * n + j] * scale).exp();
                all += k * k;
                if labels[i] == labels[j] {
                    same += k;
                }
            }
            (same, all)
        };
        let rows: Vec<(f64, f64)> = match par {
            Par::Seq => (0..n).map(row).collect(),
            Par::Rayon => (0..n).into_par_iter().map(row).collect(),
        };
        let (mut same, mut all) = (n as f64, n as f64);
        for (s, a) in rows {
            same += 2.0 * s;
            all += 2.0 * a;
        }
        same / all.sqrt()
    };
    let scores: Vec<f64> = grid.iter().map(alignment).collect();
    let best = scores
        .iter()
        .enumerate()
        .fold(0, |b, (k, &s)| if s > scores[b] { k } else { b });
    // Golden-section search for the maximum in ln σ on the best point's bracket.
    let (mut lo, mut hi) = (
        grid[best.saturating_sub(1)].ln(),
        grid[(best + 1).min(grid.len() - 1)].ln(),
    );
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let score = |l: f64| alignment(&l.exp());
    let (mut a, mut b) = (hi - r * (hi - lo), lo + r * (hi - lo));
    let (mut fa, mut fb) = (score(a), score(b));
    while hi - lo > 1e-6 {
        if fa >= fb {
            (hi, b, fb) = (b, a, fa);
            a = hi - r * (hi - lo);
            fa = score(a);
        } else {
            (lo, a, fa) = (a, b, fb);
            b = lo + r * (hi - lo);
            fb = score(b);
        }
    }
    let refined = (0.5 * (lo + hi)).exp();
    // The grid point stands if the search found nothing better (a kink at the bracket's end).
    if alignment(&refined) >= scores[best] {
        refined
    } else {
        grid[best]
    }
}

/// The indicator-kernel Gram matrix of labels: 1 where two samples share a label.
pub fn label_gram(labels: &[usize]) -> Vec<f64> {
    let n = labels.len();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            k[i * n + j] = f64::from(u8::from(labels[i] == labels[j]));
        }
    }
    k
}

/// `S_α` of the n x n Gram matrix `k` (normalised here), nats; α = 1 is the von Neumann
/// entropy.
///
/// # Panics
/// If `k.len() != n * n`, `n == 0`, `alpha` is negative or not finite, or the trace is not
/// positive.
#[track_caller]
pub fn entropy(k: &[f64], n: usize, alpha: f64, par: Par) -> f64 {
    let trace = checked_trace(k, n, alpha, "entropy");
    let a: Vec<f64> = k.iter().map(|v| v / trace).collect();
    of_eigenvalues(symmetric_eigenvalues(&a, n, par), n, alpha)
}

/// The trace of the n x n Gram matrix `k`, after the checks every entropy makes (`who`
/// names the caller in the panic).
#[track_caller]
fn checked_trace(k: &[f64], n: usize, alpha: f64, who: &str) -> f64 {
    assert!(
        n > 0 && k.len() == n * n,
        "{who}: {} values for {n} x {n}",
        k.len()
    );
    assert!(
        alpha.is_finite() && alpha >= 0.0,
        "{who}: alpha {alpha} must be >= 0"
    );
    let trace: f64 = (0..n).map(|i| k[i * n + i]).sum();
    assert!(trace > 0.0, "{who}: the Gram matrix has trace {trace}");
    trace
}

/// `S_α` from the eigenvalues of an n x n unit-trace matrix (or of its diagonal blocks).
fn of_eigenvalues(raw: Vec<f64>, n: usize, alpha: f64) -> f64 {
    // Eigenvalues below the solver's accuracy (n eps times the largest) are rounding noise
    // around 0; for α < 1 their powers would not be negligible, so they count as 0.
    let top = raw.iter().copied().fold(0.0, f64::max);
    let floor = n as f64 * f64::EPSILON * top;
    let lambda: Vec<f64> = raw
        .into_iter()
        .map(|l| if l > floor { l } else { 0.0 })
        .collect();
    if (alpha - 1.0).abs() < 1e-12 {
        -lambda
            .iter()
            .filter(|&&l| l > 0.0)
            .map(|l| l * l.ln())
            .sum::<f64>()
    } else {
        lambda.iter().map(|l| l.powf(alpha)).sum::<f64>().ln() / (1.0 - alpha)
    }
}

/// The joint `S_α` of a Gram matrix `kt` and labels under the indicator kernel: the
/// Hadamard product keeps only same-label entries, so (with the samples grouped by label)
/// it is block-diagonal and its eigenvalues are its blocks' (one per label). As
/// [`joint_entropy`] with [`label_gram`], for about the cost of the largest class's block.
///
/// # Panics
/// If `kt.len() != labels.len()^2`, there are no samples, or `alpha` is negative or not
/// finite.
#[track_caller]
pub fn joint_entropy_with_labels(kt: &[f64], labels: &[usize], alpha: f64, par: Par) -> f64 {
    let n = labels.len();
    let trace = checked_trace(kt, n, alpha, "joint_entropy_with_labels");
    let mut classes = std::collections::BTreeMap::<usize, Vec<usize>>::new();
    for (i, &l) in labels.iter().enumerate() {
        classes.entry(l).or_default().push(i);
    }
    let mut raw = Vec::with_capacity(n);
    for idx in classes.values() {
        let m = idx.len();
        let block: Vec<f64> = idx
            .iter()
            .flat_map(|&i| idx.iter().map(move |&j| kt[i * n + j] / trace))
            .collect();
        raw.extend(symmetric_eigenvalues(&block, m, par));
    }
    of_eigenvalues(raw, n, alpha)
}

/// The joint `S_α` of two Gram matrices of the same samples (their Hadamard product).
#[track_caller]
pub fn joint_entropy(ka: &[f64], kb: &[f64], n: usize, alpha: f64, par: Par) -> f64 {
    assert_eq!(
        ka.len(),
        kb.len(),
        "joint_entropy: Gram matrices of different sizes"
    );
    let h: Vec<f64> = ka.iter().zip(kb).map(|(a, b)| a * b).collect();
    entropy(&h, n, alpha, par)
}

/// `I_α(A; B) = S_α(A) + S_α(B) - S_α(A, B)`, nats.
#[track_caller]
pub fn mutual_information(ka: &[f64], kb: &[f64], n: usize, alpha: f64, par: Par) -> f64 {
    entropy(ka, n, alpha, par) + entropy(kb, n, alpha, par) - joint_entropy(ka, kb, n, alpha, par)
}

/// `S_α` of labels under the indicator kernel, in closed form: the normalised indicator
/// matrix is block-diagonal (after sorting) with blocks `J_c / n`, whose only nonzero
/// eigenvalues are the class proportions `n_c / n`. Nats; α = 1 is Shannon's entropy.
pub fn label_entropy(labels: &[usize], alpha: f64) -> f64 {
    let n = labels.len() as f64;
    let mut counts = std::collections::BTreeMap::<usize, usize>::new();
    for &l in labels {
        *counts.entry(l).or_default() += 1;
    }
    let p: Vec<f64> = counts.values().map(|&c| c as f64 / n).collect();
    if (alpha - 1.0).abs() < 1e-12 {
        -p.iter().map(|q| q * q.ln()).sum::<f64>()
    } else {
        p.iter().map(|q| q.powf(alpha)).sum::<f64>().ln() / (1.0 - alpha)
    }
}

/// `I_α(T; Y)` for a Gram matrix of T and labels Y (indicator kernel), nats: as
/// [`mutual_information`] with [`label_gram`], with one n x n eigenvalue problem instead of
/// three ([`label_entropy`], [`joint_entropy_with_labels`]).
#[track_caller]
pub fn mutual_information_with_labels(kt: &[f64], labels: &[usize], alpha: f64, par: Par) -> f64 {
    entropy(kt, labels.len(), alpha, par) + label_entropy(labels, alpha)
        - joint_entropy_with_labels(kt, labels, alpha, par)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibci_kernels::eigen::jacobi_eigenvalues;
    use ibci_kernels::Mat;

    fn points(n: usize, d: usize, seed: u64) -> Mat {
        let mut s = seed;
        Mat::from_fn(n, d, |_, _| {
            (crate::lcg_step(&mut s) >> 40) as f32 / (1u64 << 24) as f32 * 4.0
        })
    }

    /// The published formula transcribed directly: log2 of the sum of the normalised
    /// matrix's eigenvalues (by Jacobi) to the α, over 1 - α; in bits.
    fn published_bits(k: &[f64], n: usize, alpha: f64) -> f64 {
        let tr: f64 = (0..n).map(|i| k[i * n + i]).sum();
        let a: Vec<f64> = k.iter().map(|v| v / tr).collect();
        let s: f64 = jacobi_eigenvalues(&a, n)
            .iter()
            .map(|l| l.max(0.0).powf(alpha))
            .sum();
        s.log2() / (1.0 - alpha)
    }

    #[test]
    fn agrees_with_the_published_formula() {
        let x = points(30, 3, 7);
        let k = gram(x.as_ref(), 1.5);
        for alpha in [0.5, 1.01, 2.0, 3.0] {
            let s = crate::bits(entropy(&k, 30, alpha, Par::Seq));
            let want = published_bits(&k, 30, alpha);
            assert!((s - want).abs() < 1e-10, "alpha {alpha}: {s} vs {want}");
        }
    }

    #[test]
    fn closed_cases() {
        let n = 40;
        let x = points(n, 4, 3);
        let k = gram(x.as_ref(), 2.0);
        let alpha = 1.01;
        // Identical variables: I(Y; Y) = S(Y) (the indicator kernel is its own Hadamard
        // square, so the joint is the variable itself).
        let labels: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let ky = label_gram(&labels);
        let sy = entropy(&ky, n, alpha, Par::Seq);
        assert!((mutual_information(&ky, &ky, n, alpha, Par::Seq) - sy).abs() < 1e-10);
        // The closed form for labels matches the eigenvalues, also for unequal classes.
        let uneven: Vec<usize> = (0..n).map(|i| [0, 0, 0, 1, 2, 2, 5][i % 7]).collect();
        for a in [0.5, 1.0, 1.01, 2.0] {
            let (closed, eig) = (
                label_entropy(&uneven, a),
                entropy(&label_gram(&uneven), n, a, Par::Seq),
            );
            assert!((closed - eig).abs() < 1e-10, "alpha {a}: {closed} vs {eig}");
        }
        let (i1, i2) = (
            mutual_information(&k, &label_gram(&uneven), n, 1.01, Par::Seq),
            mutual_information_with_labels(&k, &uneven, 1.01, Par::Seq),
        );
        assert!((i1 - i2).abs() < 1e-10, "{i1} vs {i2}");
        // The joint entropy with labels by blocks equals the full Hadamard product's.
        for a in [0.5, 1.0, 1.01, 2.0] {
            let (full, blocks) = (
                joint_entropy(&k, &label_gram(&uneven), n, a, Par::Seq),
                joint_entropy_with_labels(&k, &uneven, a, Par::Seq),
            );
            assert!(
                (full - blocks).abs() < 1e-10,
                "alpha {a}: {full} vs {blocks}"
            );
        }
        // Four equally frequent labels: the normalised indicator matrix has 4 eigenvalues
        // 1/4, so S = ln 4 for every α.
        for a in [0.5, 1.0, 2.0] {
            assert!(
                (entropy(&ky, n, a, Par::Seq) - 4f64.ln()).abs() < 1e-10,
                "alpha {a}"
            );
        }
        // Entropy is at most ln n, and n distinct far-apart points reach it.
        assert!(entropy(&k, n, alpha, Par::Seq) <= (n as f64).ln() + 1e-12);
        let far = Mat::from_fn(n, 1, |i, _| 1000.0 * i as f32);
        let kf = gram(far.as_ref(), 1.0);
        assert!((entropy(&kf, n, 2.0, Par::Seq) - (n as f64).ln()).abs() < 1e-9);
        // Independent blocks: samples (i, j) on a p x q grid, A depending on i only, B on j
        // only; then A ∘ B is the Kronecker product of the two small Gram matrices, whose
        // entropies add, so I = 0.
        let (p, q) = (5, 6);
        let m = p * q;
        let ui = Mat::from_fn(p, 1, |i, _| i as f32 * 0.7);
        let vj = Mat::from_fn(q, 2, |j, c| (j * (c + 1)) as f32 * 0.4);
        let (ka0, kb0) = (gram(ui.as_ref(), 1.0), gram(vj.as_ref(), 1.0));
        let mut ka = vec![0.0; m * m];
        let mut kb = vec![0.0; m * m];
        for s in 0..m {
            for t in 0..m {
                ka[s * m + t] = ka0[(s / q) * p + t / q];
                kb[s * m + t] = kb0[(s % q) * q + t % q];
            }
        }
        for a in [0.5, 1.01, 2.0] {
            let i = mutual_information(&ka, &kb, m, a, Par::Seq);
            assert!(i.abs() < 1e-9, "alpha {a}: I = {i} for independent blocks");
        }
    }

    #[test]
    fn alpha_to_one_is_von_neumann_and_order_does_not_matter() {
        let n = 25;
        let x = points(n, 2, 11);
        let k = gram(x.as_ref(), 1.0);
        let vn = entropy(&k, n, 1.0, Par::Seq);
        for (a, tol) in [(1.001, 5e-3), (1.000_01, 5e-5), (0.999_99, 5e-5)] {
            let s = entropy(&k, n, a, Par::Seq);
            assert!((s - vn).abs() < tol, "alpha {a}: {s} vs von Neumann {vn}");
        }
        // Permuting the samples permutes K symmetrically: same entropy.
        let perm: Vec<usize> = (0..n).map(|i| (i * 7 + 3) % n).collect();
        let xp = Mat::from_fn(n, 2, |i, c| x.at(perm[i], c));
        let kp = gram(xp.as_ref(), 1.0);
        for a in [0.5, 1.01, 2.0] {
            let (s, sp) = (entropy(&k, n, a, Par::Seq), entropy(&kp, n, a, Par::Seq));
            assert!((s - sp).abs() < 1e-11, "alpha {a}: {s} vs permuted {sp}");
        }
    }

    #[test]
    fn distances_are_exact_and_thread_independent() {
        let x = points(37, 5, 2);
        let seq = sq_distances(x.as_ref(), Par::Seq);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let par = pool.install(|| sq_distances(x.as_ref(), Par::Rayon));
        assert_eq!(seq, par);
        for i in 0..37 {
            for j in 0..37 {
                let want: f64 = (0..5)
                    .map(|c| (f64::from(x.at(i, c)) - f64::from(x.at(j, c))).powi(2))
                    .sum();
                assert_eq!(seq[i * 37 + j], want, "({i}, {j})");
            }
        }
        assert!(sq_distances(Mat::zeros(0, 3).as_ref(), Par::Seq).is_empty());
    }

    #[test]
    fn aligned_sigma_separates_label_clusters() {
        // Two labels, each a cluster of spread about 1, 100 apart: the best-aligned kernel
        // is near 1 within a cluster and near 0 across, so σ lies well between the two
        // scales; the choice does not depend on the threads, and on the samples' order only
        // through rounding.
        let n = 40;
        let mut s = 5u64;
        let x = Mat::from_fn(n, 2, |i, _| {
            let jitter = (crate::lcg_step(&mut s) >> 40) as f32 / (1u64 << 24) as f32;
            jitter + if i < n / 2 { 0.0 } else { 100.0 }
        });
        let labels: Vec<usize> = (0..n).map(|i| usize::from(i >= n / 2)).collect();
        let d2 = sq_distances(x.as_ref(), Par::Seq);
        let sigma = aligned_sigma(&d2, &labels, Par::Seq);
        let k = gram_of_sq_distances(&d2, sigma);
        for i in 0..n {
            for j in 0..n {
                let v = k[i * n + j];
                if labels[i] == labels[j] {
                    assert!(v > 0.99, "within a cluster: {v} at sigma {sigma}");
                } else {
                    assert!(v < 0.05, "across clusters: {v} at sigma {sigma}");
                }
            }
        }
        let perm: Vec<usize> = (0..n).map(|i| (i * 17 + 5) % n).collect();
        let xp = Mat::from_fn(n, 2, |i, c| x.at(perm[i], c));
        let lp: Vec<usize> = perm.iter().map(|&i| labels[i]).collect();
        let sp = aligned_sigma(&sq_distances(xp.as_ref(), Par::Seq), &lp, Par::Seq);
        // (The alignment is flat at its maximum, so its rounding in another order moves
        // the refined σ slightly.)
        assert!(
            (sigma - sp).abs() < 1e-4 * sigma,
            "{sigma} vs permuted {sp}"
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(|| aligned_sigma(&d2, &labels, Par::Rayon)),
            sigma
        );
        // All points equal: any σ gives the all-ones matrix; 1 is returned.
        let same = sq_distances(Mat::zeros(6, 3).as_ref(), Par::Seq);
        assert_eq!(aligned_sigma(&same, &[0, 1, 0, 1, 0, 1], Par::Seq), 1.0);
    }
}

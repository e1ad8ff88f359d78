//! Naive references, kept forever for the tests: every fast path is checked against these.

/// The election as the reference code writes it, in f64: classical Gram-Schmidt (deflate
/// the residuals by `a . W_j`, the original columns), argmax over the group with elected
/// candidates masked out. `wt` is `C x dim`, candidate-major.
pub fn elect_naive(
    wt: &[f32],
    dim: usize,
    scores: &[f64],
    group: &[usize],
    quota: usize,
) -> Vec<usize> {
    let w: Vec<Vec<f64>> = group
        .iter()
        .map(|&j| {
            wt[j * dim..(j + 1) * dim]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        })
        .collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut p = w.clone();
    let mut elected = vec![false; group.len()];
    let mut picks = Vec::new();
    for _ in 0..quota {
        let mut best = usize::MAX;
        let mut best_v = f64::NEG_INFINITY;
        for g in 0..group.len() {
            let n0 = norm(&w[g]);
            let r = norm(&p[g]) / n0;
            let v = scores[group[g]] * if n0 > 0.0 && r > 1e-6 { r } else { 0.0 };
            if !elected[g] && (best == usize::MAX || v > best_v) {
                (best, best_v) = (g, v);
            }
        }
        elected[best] = true;
        picks.push(group[best]);
        let nb = norm(&p[best]);
        if nb <= 1e-6 * norm(&w[best]) {
            continue;
        }
        let a: Vec<f64> = p[best].iter().map(|x| x / nb).collect();
        for g in 0..group.len() {
            let t: f64 = a.iter().zip(&w[g]).map(|(x, y)| x * y).sum();
            for (pi, ai) in p[g].iter_mut().zip(&a) {
                *pi -= ai * t;
            }
        }
    }
    picks
}

/// Per-candidate mean, unbiased std and per-class means of `r` (`n x c`, row-major) in f64,
/// two passes: the reference for [`crate::score::Moments::stats`].
pub fn response_stats_naive(
    r: &[f32],
    n: usize,
    c: usize,
    labels: &[usize],
    classes: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut mean = vec![0f64; c];
    let mut cm = vec![0f64; classes * c];
    let mut cnt = vec![0usize; classes];
    for i in 0..n {
        cnt[labels[i]] += 1;
        for j in 0..c {
            let v = f64::from(r[i * c + j]);
            mean[j] += v / n as f64;
            cm[labels[i] * c + j] += v;
        }
    }
    for k in 0..classes {
        for j in 0..c {
            if cnt[k] > 0 {
                cm[k * c + j] /= cnt[k] as f64;
            }
        }
    }
    let mut std = vec![0f64; c];
    for i in 0..n {
        for j in 0..c {
            std[j] += (f64::from(r[i * c + j]) - mean[j]).powi(2);
        }
    }
    std.iter_mut()
        .for_each(|s| *s = (*s / (n as f64 - 1.0)).sqrt());
    (mean, std, cm)
}

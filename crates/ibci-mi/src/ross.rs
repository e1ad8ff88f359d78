//! Ross's estimator of I(X;Y) for a continuous scalar X and a discrete Y (Ross 2014, "Mutual
//! information between discrete and continuous data sets"): what scikit-learn's
//! `mutual_info_classif` computes for each feature, here in O(N log N) per variable.
//!
//! For each sample i of class c with N_c > 1 samples: k_i = min(k, N_c − 1), d_i = distance to
//! its k_i-th nearest neighbour among the samples of class c, and m_i = the number of samples
//! of any class (itself included) within distance d_i, counted **strictly**: |x_j − x_i| <= r_i
//! with r_i = next_down(d_i) for d_i > 0 and r_i = 0 for d_i = 0 (scikit-learn's
//! `np.nextafter(d, 0)` with a `<=` radius query). Samples of singleton classes are left out,
//! as scikit-learn does. With N' the samples kept:
//!
//! ```text
//! I = ψ(N') + <ψ(k_i)> − <ψ(N_c(i))> − <ψ(m_i)>
//! ```
//!
//! The raw estimate is returned (it can be slightly negative); scikit-learn reports max(0, I).
//! Distances are |x_j − x_i| in f64 of f32 inputs. Ties matter: ReLU responses with many exact
//! zeros give d_i = 0; scikit-learn adds seeded noise first, [`jitter`] does the same here with
//! an explicit seed.
//!
//! Per variable: one integer sort of (value, index) keys, the class orders taken from it, a
//! two-pointer walk for the k-th in-class neighbour, and a galloping search outwards from the
//! sample for m_i. [`ross_mi_columns`] runs
//! the columns of a matrix in parallel (each column alone, so threads do not change a bit).

use ibci_kernels::{MatRef, Par};
use rayon::prelude::*;

use crate::digamma::digamma_table;

/// Ross's I(X;Y) in nats for values `x` and labels `y`, with `k` neighbours (scikit-learn's
/// default is 3).
///
/// # Panics
/// If `x.len() != y.len()` or `k == 0`.
#[track_caller]
pub fn ross_mi(x: &[f32], y: &[usize], k: usize) -> f64 {
    assert_eq!(
        x.len(),
        y.len(),
        "ross_mi: {} values, {} labels",
        x.len(),
        y.len()
    );
    assert!(k > 0, "ross_mi: k must be at least 1");
    let classes = y.iter().copied().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; classes];
    y.iter().for_each(|&c| count[c] += 1);
    // Keep samples whose class has another member; sort them by value (then index). The key
    // packs an order-preserving image of the f32 bits above the index, so one integer sort
    // gives the same order as sorting (value by total_cmp, index).
    let mut keys: Vec<u64> = x
        .iter()
        .zip(y)
        .enumerate()
        .filter(|(_, (_, &c))| count[c] > 1)
        .map(|(i, (&v, _))| (u64::from(ordered_bits(v)) << 32) | i as u64)
        .collect();
    let n = keys.len();
    if n == 0 {
        return 0.0;
    }
    keys.sort_unstable();
    let order: Vec<(f64, usize)> = keys
        .iter()
        .map(|&k| {
            let i = (k & 0xFFFF_FFFF) as usize;
            (f64::from(x[i]), i)
        })
        .collect();
    let sorted: Vec<f64> = order.iter().map(|p| p.0).collect();
    // Each class's values in sorted order, and each kept sample's position in its class.
    let mut by_class: Vec<Vec<f64>> = vec![Vec::new(); classes];
    let mut pos = vec![0usize; n];
    for (r, &(v, i)) in order.iter().enumerate() {
        let c = y[i];
        pos[r] = by_class[c].len();
        by_class[c].push(v);
    }
    let psi = digamma_table(n.max(k) + 1);
    let (mut sum_k, mut sum_nc, mut sum_m) = (0f64, 0f64, 0f64);
    for (r, &(v, i)) in order.iter().enumerate() {
        let cls = &by_class[y[i]];
        let kc = k.min(cls.len() - 1);
        // k_c-th nearest neighbour in the class: walk outwards from the sample's position.
        let (mut lo, mut hi) = (pos[r], pos[r]);
        let mut d = 0f64;
        for _ in 0..kc {
            let left = (lo > 0).then(|| v - cls[lo - 1]);
            let right = (hi + 1 < cls.len()).then(|| cls[hi + 1] - v);
            match (left, right) {
                (Some(a), Some(b)) if a <= b => {
                    lo -= 1;
                    d = a;
                }
                (Some(a), None) => {
                    lo -= 1;
                    d = a;
                }
                (_, Some(b)) => {
                    hi += 1;
                    d = b;
                }
                (None, None) => unreachable!("k_c < class size"),
            }
        }
        let radius = if d > 0.0 { d.next_down() } else { 0.0 };
        // m_i: kept samples with |x_j - v| <= radius, a contiguous run of `sorted` around r
        // (which is in it); m_i is small, so gallop outwards from r instead of searching all.
        let first = r - gallop(r, |s| v - sorted[r - s] <= radius);
        let end = r + 1 + gallop(n - 1 - r, |s| sorted[r + s] - v <= radius);
        let m = end - first;
        sum_k += psi[kc - 1];
        sum_nc += psi[cls.len() - 1];
        sum_m += psi[m - 1];
    }
    let nf = n as f64;
    psi[n - 1] + sum_k / nf - sum_nc / nf - sum_m / nf
}

/// An image of the f32 bits whose unsigned order is `f32::total_cmp`'s order.
fn ordered_bits(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The largest `s` in `0..=max` with `ok(s)`, for a predicate that holds for 0 and, once
/// false, stays false: exponential search, then binary search in the last step's range.
fn gallop(max: usize, ok: impl Fn(usize) -> bool) -> usize {
    let mut good = 0;
    let mut step = 1;
    while good < max {
        let probe = (good + step).min(max);
        if ok(probe) {
            good = probe;
            step *= 2;
        } else {
            // The answer lies in good..probe.
            let (mut lo, mut hi) = (good, probe);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if ok(mid) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return lo;
        }
    }
    good
}

/// [`ross_mi`] of every column of `x` (`n x c`, one column per neuron) against `y`.
///
/// # Panics
/// As [`ross_mi`].
#[track_caller]
pub fn ross_mi_columns(x: MatRef<'_>, y: &[usize], k: usize, par: Par) -> Vec<f64> {
    assert_eq!(
        x.rows(),
        y.len(),
        "ross_mi_columns: {} rows, {} labels",
        x.rows(),
        y.len()
    );
    // Columns are taken COLS at a time: one pass along the rows fills COLS contiguous
    // buffers, instead of a strided walk (a cache miss per element) for every column.
    const COLS: usize = 16;
    let (n, c) = (x.rows(), x.cols());
    let block = |b: usize| -> Vec<f64> {
        let j0 = b * COLS;
        let w = COLS.min(c - j0);
        let mut bufs = vec![vec![0f32; n]; w];
        for i in 0..n {
            match x.row(i) {
                Some(row) => row[j0..j0 + w]
                    .iter()
                    .zip(bufs.iter_mut())
                    .for_each(|(&v, buf)| buf[i] = v),
                None => (0..w).for_each(|jj| bufs[jj][i] = x.at(i, j0 + jj)),
            }
        }
        bufs.iter().map(|v| ross_mi(v, y, k)).collect()
    };
    let blocks = c.div_ceil(COLS);
    let per_block: Vec<Vec<f64>> = match par {
        Par::Seq => (0..blocks).map(block).collect(),
        Par::Rayon => (0..blocks).into_par_iter().map(block).collect(),
    };
    per_block.into_iter().flatten().collect()
}

/// Adds `scale * max(1, mean |x|) * u` to each value, with `u` uniform in [-1, 1) from a
/// SplitMix64 stream seeded by `seed`, to break the ties of discrete-valued responses (such
/// as ReLU zeros) before a k-NN estimator; scikit-learn does the same with 1e-10 and Gaussian
/// noise from its `random_state`. The sum is rounded to f32, so a small `scale` separates the
/// values near 0 (the ReLU zeros) but not equal values far from 0, whose f32 spacing is
/// larger than the noise.
pub fn jitter(x: &mut [f32], scale: f64, seed: u64) {
    let mean_abs = x.iter().map(|&v| f64::from(v).abs()).sum::<f64>() / x.len().max(1) as f64;
    let amp = scale * mean_abs.max(1.0);
    let mut s = seed;
    for v in x.iter_mut() {
        // SplitMix64 (Steele, Lea & Flood 2014).
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        *v = (f64::from(*v) + amp * u) as f32;
    }
}

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
//! Per variable: one stable radix sort of (value, class) keys on the value's order-preserving
//! bits (so ties stay in index order), the class orders taken from it, the k-th in-class
//! neighbour from the k + 1 windows of consecutive class values around the sample, and m_i by
//! a search outwards from the sample (blocks of 8 compares, then galloping). The class sizes
//! and the digamma table depend on the labels only: [`Ross`] computes them once for many
//! variables. [`ross_mi_columns`] runs the columns of a matrix in parallel (each column alone,
//! so threads do not change a bit).

use ibci_kernels::{MatRef, Par};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::SplitMix64;
use rayon::prelude::*;

use crate::digamma::digamma_table;

/// Ross's I(X;Y) in nats for values `x` and labels `y`, with `k` neighbours (scikit-learn's
/// default is 3); NaN if a value is not finite.
///
/// # Panics
/// If `x.len() != y.len()`, `k == 0` or there are 2^32 samples or more.
#[track_caller]
pub fn ross_mi(x: &[f32], y: &[usize], k: usize) -> f64 {
    Ross::new(y, k).mi(x)
}

/// Ross's estimator for many variables against one labelling: the class sizes and the digamma
/// table are computed once.
pub struct Ross<'a> {
    y: &'a [usize],
    k: usize,
    /// Samples per class.
    count: Vec<usize>,
    /// Where each class starts in the class-major order of the kept samples.
    start: Vec<usize>,
    /// Samples whose class has another member.
    kept: usize,
    /// ψ(1), ψ(2), ... far enough for every count.
    psi: Vec<f64>,
}

impl<'a> Ross<'a> {
    /// The estimator for labels `y` with `k` neighbours.
    ///
    /// # Panics
    /// If `k == 0` or `y` has 2^32 samples or more.
    #[track_caller]
    pub fn new(y: &'a [usize], k: usize) -> Self {
        assert!(k > 0, "ross_mi: k must be at least 1");
        assert!(
            u32::try_from(y.len()).is_ok(),
            "ross_mi: {} samples, at most 2^32 - 1",
            y.len()
        );
        let classes = y.iter().copied().max().map_or(0, |m| m + 1);
        assert!(
            u32::try_from(classes).is_ok(),
            "ross_mi: label {} too large (labels are class indices)",
            classes - 1
        );
        let mut count = vec![0usize; classes];
        y.iter().for_each(|&c| count[c] += 1);
        let mut start = Vec::with_capacity(classes);
        let mut kept = 0;
        for &c in &count {
            start.push(kept);
            if c > 1 {
                kept += c;
            }
        }
        Ross {
            y,
            k,
            count,
            start,
            kept,
            psi: digamma_table(y.len().max(k) + 1),
        }
    }

    /// I(X;Y) in nats for the values `x` of one variable; NaN if a value is not finite
    /// (its distances mean nothing).
    ///
    /// # Panics
    /// If `x.len()` differs from the number of labels.
    #[track_caller]
    pub fn mi(&self, x: &[f32]) -> f64 {
        self.mi_with(x, &mut Work::default())
    }

    #[track_caller]
    fn mi_with(&self, x: &[f32], w: &mut Work) -> f64 {
        let (y, k, psi) = (self.y, self.k, &self.psi);
        assert_eq!(
            x.len(),
            y.len(),
            "ross_mi: {} values, {} labels",
            x.len(),
            y.len()
        );
        if !x.iter().all(|v| v.is_finite()) {
            return f64::NAN;
        }
        let n = self.kept;
        if n == 0 {
            return 0.0;
        }
        // Keep samples whose class has another member; sort them by value (then index: the
        // keys start in index order and the radix sort is stable). The key packs an
        // order-preserving image of the f32 bits above the sample's class, so the sorted keys
        // give each sample's class without a random access to the labels.
        w.keys.clear();
        w.keys.extend(
            x.iter()
                .zip(y)
                .filter(|(_, &c)| self.count[c] > 1)
                .map(|(&v, &c)| (u64::from(ordered_bits(v)) << 32) | c as u64),
        );
        radix_sort_high_half(&mut w.keys, &mut w.spare);
        // The values in sorted order, each one's class, and each class's values in sorted
        // order (class-major, one buffer) with each sample's position in its class.
        w.sorted.resize(n, 0.0);
        w.class_of.resize(n, 0);
        w.pos.resize(n, 0);
        w.by_class.resize(n, 0.0);
        w.fill.clear();
        w.fill.extend_from_slice(&self.start);
        for (r, &key) in w.keys.iter().enumerate() {
            let c = (key & 0xFFFF_FFFF) as usize;
            let v = from_ordered_bits((key >> 32) as u32);
            let f = w.fill[c];
            w.sorted[r] = v;
            w.class_of[r] = c as u32;
            w.by_class[f] = v;
            w.pos[r] = (f - self.start[c]) as u32;
            w.fill[c] = f + 1;
        }
        let (sorted, by_class) = (&w.sorted[..], &w.by_class[..]);
        let at = |s: &[f32], j: usize| f64::from(s[j]);
        let (mut sum_k, mut sum_nc, mut sum_m) = (0f64, 0f64, 0f64);
        for r in 0..n {
            let v = at(sorted, r);
            let c = w.class_of[r] as usize;
            let cls = &by_class[self.start[c]..self.start[c] + self.count[c]];
            let kc = k.min(cls.len() - 1);
            // d = distance to the k_c-th nearest neighbour in the class. The sample and its k_c
            // nearest neighbours are k_c + 1 consecutive class values: d is the smallest, over
            // such windows holding the sample, of the window's largest distance from v.
            let p = w.pos[r] as usize;
            let mut d = f64::INFINITY;
            for lo in p.saturating_sub(kc)..=p.min(cls.len() - 1 - kc) {
                d = d.min((v - at(cls, lo)).max(at(cls, lo + kc) - v));
            }
            let radius = if d > 0.0 { d.next_down() } else { 0.0 };
            // m_i: kept samples with |x_j - v| <= radius, a contiguous run of `sorted` around
            // r (which is in it); m_i is small, so search outwards from r.
            let first = r - reach(r, |s| v - at(sorted, r - s) <= radius);
            let end = r + 1 + reach(n - 1 - r, |s| at(sorted, r + s) - v <= radius);
            let m = end - first;
            sum_k += psi[kc - 1];
            sum_nc += psi[cls.len() - 1];
            sum_m += psi[m - 1];
        }
        let nf = n as f64;
        psi[n - 1] + sum_k / nf - sum_nc / nf - sum_m / nf
    }
}

/// Buffers for one column, reused from column to column.
#[derive(Default)]
struct Work {
    keys: Vec<u64>,
    spare: Vec<u64>,
    sorted: Vec<f32>,
    /// Each sorted sample's class and its position in its class, packed as u32 (half the
    /// memory traffic of usize: a column's working set is what limits the speed).
    class_of: Vec<u32>,
    pos: Vec<u32>,
    by_class: Vec<f32>,
    fill: Vec<usize>,
}

/// Sorts `keys` by their high 32 bits, stably (keys equal there keep their order): LSD radix
/// sort in digits of 11, 11 and 10 bits, skipping a digit that all keys share.
fn radix_sort_high_half(keys: &mut Vec<u64>, spare: &mut Vec<u64>) {
    const SHIFTS: [u32; 3] = [32, 43, 54];
    const MASK: u64 = 0x7FF;
    let mut hist = [[0usize; 2048]; 3];
    for &key in keys.iter() {
        for (h, s) in hist.iter_mut().zip(SHIFTS) {
            h[((key >> s) & MASK) as usize] += 1;
        }
    }
    spare.resize(keys.len(), 0);
    for (h, s) in hist.iter_mut().zip(SHIFTS) {
        if h.contains(&keys.len()) {
            continue;
        }
        // Counts to starting offsets.
        let mut next = 0;
        for slot in h.iter_mut() {
            let c = *slot;
            *slot = next;
            next += c;
        }
        for &key in keys.iter() {
            let d = ((key >> s) & MASK) as usize;
            spare[h[d]] = key;
            h[d] += 1;
        }
        std::mem::swap(keys, spare);
    }
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

/// The inverse of [`ordered_bits`].
fn from_ordered_bits(b: u32) -> f32 {
    f32::from_bits(if b & 0x8000_0000 != 0 {
        b & 0x7FFF_FFFF
    } else {
        !b
    })
}

/// The largest `s` in `0..=max` with `ok(s)`, for a predicate that holds for 0 and, once
/// false, stays false. The answer is usually small: the first [`SCAN`] steps are tested in
/// blocks of 8 without branching on each (a block's count of true is the prefix that holds),
/// then exponential search and a binary search in the last step's range.
fn reach(max: usize, ok: impl Fn(usize) -> bool) -> usize {
    let mut good = 0;
    while good < SCAN && max - good >= 8 {
        let held = (1..=8).map(|t| usize::from(ok(good + t))).sum::<usize>();
        good += held;
        if held < 8 {
            return good;
        }
    }
    while good < max.min(SCAN) {
        if !ok(good + 1) {
            return good;
        }
        good += 1;
    }
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

/// Steps [`reach`] scans before it gallops.
const SCAN: usize = 32;

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
    let ross = Ross::new(y, k);
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
        let mut work = Work::default();
        bufs.iter().map(|v| ross.mi_with(v, &mut work)).collect()
    };
    let blocks = c.div_ceil(COLS);
    let per_block: Vec<Vec<f64>> = match par {
        Par::Seq => (0..blocks).map(block).collect(),
        Par::Rayon => (0..blocks).into_par_iter().map(block).collect(),
    };
    per_block.into_iter().flatten().collect()
}

/// Adds `scale * max(1, mean |x|) * u` to each value, with `u` uniform in [-1, 1) from a
/// SplitMix64 stream (rand_xoshiro's) seeded by `seed`, to break the ties of discrete-valued responses (such
/// as ReLU zeros) before a k-NN estimator; scikit-learn does the same with 1e-10 and Gaussian
/// noise from its `random_state`. The sum is rounded to f32, so a small `scale` separates the
/// values near 0 (the ReLU zeros) but not equal values far from 0, whose f32 spacing is
/// larger than the noise.
pub fn jitter(x: &mut [f32], scale: f64, seed: u64) {
    let mean_abs = x.iter().map(|&v| f64::from(v).abs()).sum::<f64>() / x.len().max(1) as f64;
    let amp = scale * mean_abs.max(1.0);
    let mut rng = SplitMix64::seed_from_u64(seed);
    for v in x.iter_mut() {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        *v = (f64::from(*v) + amp * u) as f32;
    }
}

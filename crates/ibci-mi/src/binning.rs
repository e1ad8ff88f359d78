//! Binned estimators of a layer's information (Saxe et al. 2018, `ibsgd`'s `simplebinmi`):
//! each activation `t` goes to bin `floor(t / width)`, a row's bins form one symbol (grouped
//! exactly), and the plug-in estimates of [`crate::discrete`] follow:
//!
//! ```text
//! I(X;T) = H(T)                                   (deterministic network, distinct inputs)
//! I(T;Y) = H(T) − Σ_c p(c) H(T | Y = c) = I(T;Y) of the discrete symbols
//! ```
//!
//! The resolution ([`Resolution`]) is what the result depends on: a bin width (0.5 in Saxe et
//! al.'s MNIST runs), or a number of equal bins on a fixed range; it is an explicit parameter
//! and belongs in every report. A scalar variable is a one-column layer. With N samples,
//! I(X;T) <= ln N.

use ibci_kernels::MatRef;

use crate::discrete::{self, Correction};

/// How activations are binned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolution {
    /// Bin `floor(t / width)`, unbounded.
    Width(f64),
    /// `count` equal bins on `[lo, hi]`: bin `floor((t - lo) / ((hi - lo) / count))`, values
    /// below `lo` in the first bin and values at or above `hi` in the last.
    Bins {
        /// Number of bins.
        count: usize,
        /// Lower end of the range.
        lo: f64,
        /// Upper end of the range.
        hi: f64,
    },
}

/// The bin pattern of every row as a dense symbol id (ids in order of first appearance).
///
/// # Panics
/// If `width` is not positive and finite, or an activation is NaN or infinite.
#[track_caller]
pub fn bin_patterns(t: MatRef<'_>, width: f64) -> Vec<usize> {
    bin_patterns_at(t, Resolution::Width(width))
}

/// [`bin_patterns`] at any [`Resolution`].
///
/// Rows are grouped exactly: their bin vectors are sorted (stably, so each group's first
/// member is its first appearance) and equal neighbours share an id; no hashing.
///
/// # Panics
/// If the resolution is invalid (a width not positive and finite; no bins, or a range that
/// is not finite and increasing), or an activation is NaN or infinite.
#[track_caller]
pub fn bin_patterns_at(t: MatRef<'_>, res: Resolution) -> Vec<usize> {
    // t -> floor((t - origin) / width), clamped to [first, last].
    let (origin, width, first, last) = match res {
        Resolution::Width(w) => {
            assert!(
                w.is_finite() && w > 0.0,
                "bin_patterns: width {w} must be positive"
            );
            (0.0, w, i64::MIN, i64::MAX)
        }
        Resolution::Bins { count, lo, hi } => {
            assert!(
                count > 0 && lo.is_finite() && hi.is_finite() && lo < hi,
                "bin_patterns: {count} bins on [{lo}, {hi}]: need at least one bin and lo < hi"
            );
            (lo, (hi - lo) / count as f64, 0, count as i64 - 1)
        }
    };
    let (n, d) = (t.rows(), t.cols());
    let mut keys: Vec<i64> = Vec::with_capacity(n * d);
    for i in 0..n {
        let mut push = |j: usize, v: f32| {
            let v = f64::from(v);
            assert!(v.is_finite(), "bin_patterns: activation ({i}, {j}) is {v}");
            keys.push((((v - origin) / width).floor() as i64).clamp(first, last));
        };
        match t.row(i) {
            Some(row) => row.iter().enumerate().for_each(|(j, &v)| push(j, v)),
            None => (0..d).for_each(|j| push(j, t.at(i, j))),
        }
    }
    let key = |i: usize| &keys[i * d..(i + 1) * d];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| key(a).cmp(key(b)));
    // Each group's first member (smallest row), then ids by first appearance.
    let mut first = vec![0usize; n];
    let mut groups: Vec<usize> = Vec::new();
    for (s, &i) in order.iter().enumerate() {
        if s == 0 || key(order[s - 1]) != key(i) {
            groups.push(i);
        }
        first[i] = *groups.last().expect("a group was opened");
    }
    groups.sort_unstable();
    let mut id = vec![usize::MAX; n];
    for (g, &rep) in groups.iter().enumerate() {
        id[rep] = g;
    }
    (0..n).map(|i| id[first[i]]).collect()
}

/// Binned estimates for one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binned {
    /// I(X;T) = H(T), nats.
    pub i_xt: f64,
    /// I(T;Y), nats.
    pub i_ty: f64,
    /// Distinct bin patterns among the rows.
    pub patterns: usize,
}

/// I(X;T) and I(T;Y) of a layer's activations `t` (`n x d`) at bin width `width`.
///
/// # Panics
/// As [`bin_patterns`], or if `labels.len() != t.rows()`.
#[track_caller]
pub fn binned(t: MatRef<'_>, labels: &[usize], width: f64, correction: Correction) -> Binned {
    binned_at(t, labels, Resolution::Width(width), correction)
}

/// [`binned`] at any [`Resolution`].
///
/// # Panics
/// As [`bin_patterns_at`], or if `labels.len() != t.rows()`.
#[track_caller]
pub fn binned_at(
    t: MatRef<'_>,
    labels: &[usize],
    res: Resolution,
    correction: Correction,
) -> Binned {
    assert_eq!(
        labels.len(),
        t.rows(),
        "binned: {} labels for {} rows",
        labels.len(),
        t.rows()
    );
    let p = bin_patterns_at(t, res);
    Binned {
        i_xt: discrete::entropy(&p, correction),
        i_ty: discrete::mutual_information(&p, labels, correction),
        patterns: p.iter().copied().max().map_or(0, |m| m + 1),
    }
}

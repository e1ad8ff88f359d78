//! Binned estimators of a layer's information (Saxe et al. 2018, `ibsgd`'s `simplebinmi`):
//! each activation `t` goes to bin `floor(t / width)`, a row's bins form one symbol (hashed
//! exactly), and the plug-in estimates of [`crate::discrete`] follow:
//!
//! ```text
//! I(X;T) = H(T)                                   (deterministic network, distinct inputs)
//! I(T;Y) = H(T) − Σ_c p(c) H(T | Y = c) = I(T;Y) of the discrete symbols
//! ```
//!
//! `width` is the resolution the result depends on (0.5 in Saxe et al.'s MNIST runs); it is
//! an explicit parameter and belongs in every report. With N samples, I(X;T) <= ln N.

use std::collections::HashMap;

use ibci_kernels::MatRef;

use crate::discrete::{self, Correction};

/// The bin pattern of every row as a dense symbol id (ids in order of first appearance).
///
/// # Panics
/// If `width` is not positive and finite, or an activation is NaN or infinite.
#[track_caller]
pub fn bin_patterns(t: MatRef<'_>, width: f64) -> Vec<usize> {
    assert!(
        width.is_finite() && width > 0.0,
        "bin_patterns: width {width} must be positive"
    );
    let mut ids: HashMap<Vec<i64>, usize> = HashMap::new();
    let mut out = Vec::with_capacity(t.rows());
    let mut key = Vec::with_capacity(t.cols());
    for i in 0..t.rows() {
        key.clear();
        for j in 0..t.cols() {
            let v = f64::from(t.at(i, j));
            assert!(v.is_finite(), "bin_patterns: activation ({i}, {j}) is {v}");
            key.push((v / width).floor() as i64);
        }
        let next = ids.len();
        out.push(*ids.entry(key.clone()).or_insert(next));
    }
    out
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
    assert_eq!(
        labels.len(),
        t.rows(),
        "binned: {} labels for {} rows",
        labels.len(),
        t.rows()
    );
    let p = bin_patterns(t, width);
    Binned {
        i_xt: discrete::entropy(&p, correction),
        i_ty: discrete::mutual_information(&p, labels, correction),
        patterns: p.iter().copied().max().map_or(0, |m| m + 1),
    }
}

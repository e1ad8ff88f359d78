//! `--score mi`: the criteria as estimated information instead of the proxies.
//!
//! - TIE = I(neuron; label) by Ross's k-NN estimator (k = [`ROSS_K`], scikit-learn's
//!   `mutual_info_classif`), after a seeded jitter of 1e-10 x max(1, mean |r|) that breaks the
//!   ties of ReLU zeros (the seed of candidate j is the layer's draw from the campaign's
//!   generator plus j).
//! - IIM = H(neuron), the plug-in entropy of the response binned into [`IIM_BINS`] equal bins
//!   over its own range (a constant response has 0). For a deterministic network
//!   I(X; Z) = H(Z), and binning is the resolution this entropy is measured at.
//!
//! Both are in nats and mixed without normalisation: score = alpha IIM + (1 - alpha) TIE.
//! Needs every candidate's whole response (the `C x n` matrix; 240 MB for 1,000 x 60,000).

use ibci_kernels::Mat;
use ibci_mi::discrete::{entropy_from_counts, Correction};
use ibci_mi::ross::{jitter, Ross};
use rayon::prelude::*;

use crate::score::Scores;

/// Neighbours for Ross's estimator.
pub const ROSS_K: usize = 3;

/// Bins of the IIM entropy.
pub const IIM_BINS: usize = 30;

/// Plug-in entropy of `x` binned into [`IIM_BINS`] equal bins over `[min, max]`.
pub fn binned_entropy(x: &[f32]) -> f64 {
    // Responses are finite (the campaign checks); an empty or constant one has entropy 0.
    let (lo, hi) = x
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if hi <= lo {
        return 0.0;
    }
    let w = (f64::from(hi) - f64::from(lo)) / IIM_BINS as f64;
    let mut counts = [0usize; IIM_BINS];
    for &v in x {
        let b = ((f64::from(v) - f64::from(lo)) / w) as usize;
        counts[b.min(IIM_BINS - 1)] += 1;
    }
    entropy_from_counts(counts, Correction::None)
}

/// The scores of the candidates whose responses are the rows of `rt` (`C x n`, each
/// candidate's responses contiguous).
pub fn mi_scores(rt: &Mat, labels: &[usize], alpha: f64, seed: u64) -> Scores {
    let n = rt.cols();
    let ross = Ross::new(labels, ROSS_K);
    let per: Vec<(f64, f64)> = rt
        .as_slice()
        .par_chunks(n.max(1))
        .enumerate()
        .map(|(j, col)| {
            let iim = binned_entropy(col);
            let mut jit = col.to_vec();
            jitter(&mut jit, 1e-10, seed.wrapping_add(j as u64));
            (iim, ross.mi(&jit).max(0.0))
        })
        .collect();
    let iim: Vec<f64> = per.iter().map(|p| p.0).collect();
    let tie: Vec<f64> = per.iter().map(|p| p.1).collect();
    Scores::mix(iim, tie, alpha)
}

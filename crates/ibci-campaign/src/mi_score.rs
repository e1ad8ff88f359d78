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
//! Needs every candidate's whole response (the `n x C` matrix; 240 MB for 60,000 x 1,000).

use ibci_kernels::Mat;
use ibci_mi::discrete::{entropy_from_counts, Correction};
use ibci_mi::ross::{jitter, ross_mi};
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

/// The scores of the candidates whose responses are the columns of `r` (`n x C`).
pub fn mi_scores(r: &Mat, labels: &[usize], alpha: f64, seed: u64) -> Scores {
    let rt = r.as_ref().t().to_mat(); // C x n: each candidate's responses contiguous
    let n = r.rows();
    let per: Vec<(f64, f64)> = rt
        .as_slice()
        .par_chunks(n.max(1))
        .enumerate()
        .map(|(j, col)| {
            let iim = binned_entropy(col);
            let mut jit = col.to_vec();
            jitter(&mut jit, 1e-10, seed.wrapping_add(j as u64));
            (iim, ross_mi(&jit, labels, ROSS_K).max(0.0))
        })
        .collect();
    let iim: Vec<f64> = per.iter().map(|p| p.0).collect();
    let tie: Vec<f64> = per.iter().map(|p| p.1).collect();
    Scores::mix(iim, tie, alpha)
}

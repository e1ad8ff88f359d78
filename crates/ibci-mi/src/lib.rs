//! ibci-mi: mutual-information estimators, in nats (see [`bits`]).
//!
//! - [`digamma`]: ψ exactly at positive integers (what k-NN estimators need).
//! - [`discrete`]: plug-in entropy, mutual information and conditional mutual information of
//!   discrete variables, with an optional Miller-Madow correction.
//! - [`binning`]: a layer's (or a scalar's) activations binned at an explicit resolution (a
//!   width, or a bin count on a fixed range), each row's bin pattern one symbol (grouped
//!   exactly), then [`discrete`] (Saxe et al. 2018's estimator).
//! - [`kde`]: the upper (KL) and lower (Bhattacharyya) pairwise-distance bounds of Kolchinsky
//!   & Tracey for T plus Gaussian noise of variance σ², with the distances from ibci-kernels'
//!   GEMM.
//! - [`ksg`]: the Kraskov-Stoegbauer-Grassberger estimators 1 and 2 (max-norm, exact strict
//!   counts), by k-d trees or brute force.
//! - [`gaussian`]: entropy and mutual information of jointly Gaussian variables from a
//!   covariance matrix.
//! - [`renyi`]: the matrix-based Rényi α-entropy of Gram matrices (Sanchez Giraldo, Rao &
//!   Príncipe), its joint entropy and mutual information.
//! - [`ross`]: Ross's estimator of I(neuron; label) for a continuous response and discrete
//!   labels (scikit-learn's `mutual_info_classif`), O(N log N) per neuron, batched.
//!
//! For a deterministic network and distinct inputs, I(X;T) is infinite for continuous T;
//! binning and the KDE bounds measure it at a chosen resolution (a bin width, a noise
//! variance), which is therefore an explicit parameter everywhere. References and test values:
//! `shared/docs/mi-reference.md`.

pub mod binning;
pub mod digamma;
pub mod discrete;
pub mod gaussian;
pub mod kde;
pub mod ksg;
pub mod renyi;
pub mod ross;

/// Converts nats to bits.
pub fn bits(nats: f64) -> f64 {
    nats / std::f64::consts::LN_2
}

/// Unit-test data: one step of a 64-bit LCG (Knuth's MMIX constants), returning the new state.
#[cfg(test)]
pub(crate) fn lcg_step(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state
}

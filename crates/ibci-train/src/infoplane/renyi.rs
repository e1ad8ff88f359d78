//! The matrix-based Rényi estimator on the information plane ([`ibci_mi::renyi`]; Sanchez
//! Giraldo, Rao & Príncipe 2015, as Yu et al. and Wickstrøm et al. draw planes with it).
//!
//! Measured on the first `samples` images of the plane's subset (a seeded random draw, so its
//! prefix is one too), since each point solves two n x n eigenvalue problems (O(n^3)):
//! with `A`, `B`, `C` the normalised Gram matrices of X (the images), T (the layer) and Y (the
//! labels, indicator kernel), `I(X;T) = S(A) + S(B) - S(A ∘ B)` and
//! `I(T;Y) = S(B) + S(C) - S(B ∘ C)`, in nats. S(A) is computed once per run, S(C) in
//! closed form, and S(B ∘ C) from its per-label diagonal blocks.
//!
//! The published choices are the defaults: α = 1.01 (Yu et al.'s code), and each kernel width
//! (the images' once, each layer's at each epoch) the one best aligned with the labels'
//! kernel (Wickstrøm et al. 2019; [`ibci_mi::renyi::aligned_sigma`]). Their running average
//! of σ over training iterations is not used: each epoch's point is measured on its own, so
//! a resumed run gives the same rows. `--renyi-sigma W` fixes every width to W instead.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use ibci_kernels::{MatRef, Par};
use ibci_mi::renyi::{
    aligned_sigma, entropy, gram_of_sq_distances, joint_entropy, joint_entropy_with_labels,
    label_entropy, sq_distances,
};
use serde::{Deserialize, Serialize};

/// How a Gram matrix's kernel width is chosen.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Sigma {
    /// Best aligned with the labels' kernel, per variable and epoch.
    Aligned,
    /// One fixed width for every variable.
    Fixed(f64),
}

impl FromStr for Sigma {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "aligned" {
            return Ok(Sigma::Aligned);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Sigma::Fixed(v)),
            _ => Err(format!(
                "{s:?}: expected \"aligned\" or a finite width above 0"
            )),
        }
    }
}

impl fmt::Display for Sigma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sigma::Aligned => write!(f, "aligned"),
            Sigma::Fixed(v) => write!(f, "{v}"),
        }
    }
}

impl Sigma {
    fn choose(self, d2: &[f64], labels: &[usize], par: Par) -> f64 {
        match self {
            Sigma::Aligned => aligned_sigma(d2, labels, par),
            Sigma::Fixed(v) => v,
        }
    }
}

/// The Rényi estimator's settings (part of `infoplane.json`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct RenyiSettings {
    /// Images measured: the first this many of the plane's subset.
    pub samples: usize,
    /// The entropy's order α.
    pub alpha: f64,
    /// The kernel widths.
    pub sigma: Sigma,
}

impl RenyiSettings {
    /// Checks the settings against the plane's sample count (flag names in the errors).
    pub fn check(&self, plane_samples: usize) -> Result<()> {
        if self.samples < 2 || self.samples > plane_samples {
            bail!(
                "--renyi-samples {}: expected 2 to {plane_samples} (--infoplane-samples)",
                self.samples
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            bail!(
                "--renyi-alpha {}: expected a finite number above 0",
                self.alpha
            );
        }
        Ok(())
    }
}

/// One layer's Rényi point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenyiValues {
    /// The images' kernel width.
    pub sigma_x: f64,
    /// The layer's kernel width.
    pub sigma_t: f64,
    /// I(X;T), nats.
    pub ixt: f64,
    /// I(T;Y), nats.
    pub ity: f64,
}

/// What is fixed for a run: the images' and labels' Gram matrices and entropies.
pub struct RenyiPlane {
    settings: RenyiSettings,
    labels: Vec<usize>,
    sigma_x: f64,
    k_x: Vec<f64>,
    s_x: f64,
    s_y: f64,
}

impl RenyiPlane {
    /// For the first `settings.samples` rows of `x` and `labels`.
    pub fn new(x: MatRef<'_>, labels: &[usize], settings: RenyiSettings, par: Par) -> Self {
        let n = settings.samples;
        let labels = labels[..n].to_vec();
        let d2 = sq_distances(x.rows_range(0, n), par);
        let sigma_x = settings.sigma.choose(&d2, &labels, par);
        let k_x = gram_of_sq_distances(&d2, sigma_x);
        let s_x = entropy(&k_x, n, settings.alpha, par);
        RenyiPlane {
            s_y: label_entropy(&labels, settings.alpha),
            settings,
            labels,
            sigma_x,
            k_x,
            s_x,
        }
    }

    /// The point of layer activations `t` (the plane's rows; the first `samples` are used).
    pub fn measure(&self, t: MatRef<'_>, par: Par) -> RenyiValues {
        let (n, alpha) = (self.settings.samples, self.settings.alpha);
        let d2 = sq_distances(t.rows_range(0, n), par);
        let sigma_t = self.settings.sigma.choose(&d2, &self.labels, par);
        let k_t = gram_of_sq_distances(&d2, sigma_t);
        let s_t = entropy(&k_t, n, alpha, par);
        RenyiValues {
            sigma_x: self.sigma_x,
            sigma_t,
            ixt: self.s_x + s_t - joint_entropy(&self.k_x, &k_t, n, alpha, par),
            ity: s_t + self.s_y - joint_entropy_with_labels(&k_t, &self.labels, alpha, par),
        }
    }
}

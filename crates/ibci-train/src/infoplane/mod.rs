//! The information plane (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018): I(X;T) and I(T;Y)
//! of every layer T after every epoch, on a fixed seeded subset of the test set.
//!
//! Three estimators (`--infoplane-estimator`, binning and KDE by default), each at an explicit
//! resolution (written into every CSV row, the plot and the manifest, since the numbers mean
//! nothing without it):
//! - binning at width `bin_width` (each activation to `floor(t / width)`, a row's bins one
//!   symbol; [`ibci_mi::binning`]);
//! - the KDE upper and lower bounds for T plus Gaussian noise of variance `noise_var`
//!   ([`ibci_mi::kde::mi_both`]);
//! - the matrix-based Rényi α-entropy on the subset's first images ([`renyi`]).
//!
//! `infoplane.csv` ([`rows`]) holds one row per layer and epoch. A resumed run (`--resume`)
//! keeps the rows of the epochs already run ([`rows::resumable`]), and only with the settings
//! of `infoplane.json` (samples, subset seed, bin width, noise, estimators; [`Settings`]),
//! written when the plane starts. [`draw`] plots each estimator.

use std::path::Path;

use anyhow::{Context, Result};
use clap::ValueEnum;
use ibci_kernels::{Mat, Par};
use ibci_mi::binning::binned;
use ibci_mi::discrete::Correction;
use ibci_mi::kde::mi_both;
use ibci_nn::init::sample_indices;
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::Split;
use ibci_nn::Mlp;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub mod draw;
pub mod renyi;
pub mod rows;
pub mod run;

pub use draw::write_svgs;
pub use rows::{read_csv, resumable, Point, HEADER};

use self::renyi::{RenyiPlane, RenyiSettings};
use self::rows::RenyiRow;

/// An information-plane estimator (`--infoplane-estimator`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estimator {
    /// Binning at `--infoplane-bin-width` (Saxe et al.).
    Binning,
    /// The KDE upper and lower bounds at noise variance `--infoplane-noise`.
    Kde,
    /// The matrix-based Rényi α-entropy (`--renyi-alpha`, `--renyi-sigma`, `--renyi-samples`).
    Renyi,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn first_kde() -> u32 {
    1
}

/// What a plane's numbers depend on besides the network: `infoplane.json`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Test images measured.
    pub samples: usize,
    /// The seed that draws them.
    pub subset_seed: u64,
    /// Binning width.
    pub bin_width: f64,
    /// KDE noise variance.
    pub noise_var: f64,
    /// Binning measured (files from before the choice hold no field: both were).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub binning: bool,
    /// KDE bounds measured.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub kde: bool,
    /// [`ibci_mi::kde::VERSION`] of the KDE's numerics (files from before it: 1).
    #[serde(default = "first_kde")]
    pub kde_version: u32,
    /// The Rényi estimator, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renyi: Option<RenyiSettings>,
}

impl Settings {
    /// Records the settings of a fresh plane in `dir/infoplane.json`; on resume, requires them
    /// to be those recorded (a usage error naming both otherwise). A run from before the file
    /// existed is checked on its rows' bin width and noise only, which is said.
    pub fn record_or_check(&self, dir: &Path, resume: bool) -> Result<()> {
        let path = dir.join("infoplane.json");
        if !resume {
            let text = serde_json::to_string_pretty(self)?;
            ibci_nn::atomic::write_atomically(&path, text.as_bytes())?;
            return Ok(());
        }
        match std::fs::read(&path) {
            Ok(bytes) => {
                let old: Settings = serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading {}", path.display()))?;
                if old != *self {
                    return Err(crate::usage::usage(anyhow::anyhow!(
                        "--resume: the information plane in {} was measured with {}; this run asks for {} (pass the same --infoplane-samples, --infoplane-bin-width, --infoplane-noise, --infoplane-estimator and --renyi-* flags)",
                        dir.display(),
                        old.describe(),
                        self.describe()
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => eprintln!(
                "ibci train: {} is missing (a run of an older ibci, or one without --infoplane): the plane's sample count cannot be checked",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        Ok(())
    }

    /// Checks the flag values for a test set of `n` images: a usage error naming the flag.
    pub fn check(&self, n: usize) -> Result<()> {
        let bad = |msg: String| Err(crate::usage::usage(anyhow::anyhow!(msg)));
        if self.samples < 2 || self.samples > n {
            return bad(format!(
                "--infoplane-samples {}: expected 2 to {n} (the test set's size)",
                self.samples
            ));
        }
        if !(self.bin_width.is_finite() && self.bin_width > 0.0) {
            return bad(format!(
                "--infoplane-bin-width {}: expected a positive number",
                self.bin_width
            ));
        }
        if !(self.noise_var.is_finite() && self.noise_var > 0.0) {
            return bad(format!(
                "--infoplane-noise {}: expected a positive number",
                self.noise_var
            ));
        }
        if !(self.binning || self.kde || self.renyi.is_some()) {
            return bad("--infoplane-estimator: expected at least one estimator".into());
        }
        if let Some(r) = &self.renyi {
            r.check(self.samples).map_err(crate::usage::usage)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut est: Vec<String> = Vec::new();
        if self.binning {
            est.push("binning".into());
        }
        if self.kde {
            est.push(format!("kde (numerics version {})", self.kde_version));
        }
        if let Some(r) = &self.renyi {
            est.push(format!(
                "renyi (alpha {}, sigma {}, {} samples)",
                r.alpha, r.sigma, r.samples
            ));
        }
        format!(
            "{} samples (seed {:#x}), bin width {}, noise variance {}, estimators {}",
            self.samples,
            self.subset_seed,
            self.bin_width,
            self.noise_var,
            est.join(", ")
        )
    }

    /// The settings that measure with `estimators` (Rényi with `renyi`'s settings).
    pub fn with_estimators(mut self, estimators: &[Estimator], renyi: RenyiSettings) -> Self {
        self.binning = estimators.contains(&Estimator::Binning);
        self.kde = estimators.contains(&Estimator::Kde);
        self.renyi = estimators.contains(&Estimator::Renyi).then_some(renyi);
        self
    }
}

/// The fixed sample the plane is measured on, and the resolutions.
pub struct InfoPlane {
    x: Mat,
    labels: Vec<usize>,
    settings: Settings,
    renyi: Option<RenyiPlane>,
}

impl InfoPlane {
    /// `samples` test images drawn without replacement by a generator seeded with `seed`
    /// (the Rényi estimator's images and kernel matrices prepared with `par`).
    pub fn new(test: Split<'_>, settings: &Settings, par: Par) -> Result<Self> {
        let (samples, seed, n) = (settings.samples, settings.subset_seed, test.y.len());
        settings.check(n)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let idx = sample_indices(&mut rng, n, samples);
        let x = gather_rows(test.x, idx.iter().copied());
        let labels: Vec<usize> = idx.iter().map(|&i| test.y[i]).collect();
        let renyi = settings
            .renyi
            .map(|r| RenyiPlane::new(x.as_ref(), &labels, r, par));
        Ok(InfoPlane {
            x,
            labels,
            settings: *settings,
            renyi,
        })
    }

    /// Every layer's point for the network as it is after `epoch`.
    pub fn measure(&self, mlp: &Mlp, epoch: usize, par: Par) -> Vec<Point> {
        let acts = mlp.forward(self.x.as_ref(), par);
        acts.iter()
            .enumerate()
            .map(|(l, t)| {
                let start = std::time::Instant::now();
                let s = &self.settings;
                let bin = s.binning.then(|| {
                    let b = binned(t.as_ref(), &self.labels, s.bin_width, Correction::None);
                    (b.i_xt, b.i_ty)
                });
                let kde = s
                    .kde
                    .then(|| mi_both(t.as_ref(), &self.labels, s.noise_var, par));
                let renyi = self.renyi.as_ref().zip(s.renyi).map(|(plane, r)| RenyiRow {
                    samples: r.samples,
                    alpha: r.alpha,
                    values: plane.measure(t.as_ref(), par),
                });
                Point {
                    epoch,
                    layer: l + 1,
                    width: t.cols(),
                    bin_width: s.bin_width,
                    noise_var: s.noise_var,
                    bin,
                    kde_xt: kde.map(|(xt, _)| (xt.upper, xt.lower)),
                    kde_ty: kde.map(|(_, ty)| (ty.upper, ty.lower)),
                    seconds: start.elapsed().as_secs_f64(),
                    renyi,
                }
            })
            .collect()
    }
}

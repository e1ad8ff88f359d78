//! The information plane (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018): I(X;T) and I(T;Y)
//! of every layer T after every epoch, on a fixed seeded subset of the test set.
//!
//! Two estimators, each at an explicit resolution (written into every CSV row, the plot and
//! the manifest, since the numbers mean nothing without it):
//! - binning at width `bin_width` (each activation to `floor(t / width)`, a row's bins one
//!   symbol; [`ibci_mi::binning`]);
//! - the KDE upper and lower bounds for T plus Gaussian noise of variance `noise_var`
//!   ([`ibci_mi::kde::mi_both_fast`]).
//!
//! `infoplane.csv`: epoch, layer, width, bin_width, noise_var, binned I(X;T), binned I(T;Y),
//! KDE upper/lower I(X;T), KDE upper/lower I(T;Y), seconds. A resumed run (`--resume`) keeps
//! the rows of the epochs already run, at the same resolution ([`resumable`]), and only with
//! the settings of `infoplane.json` (samples, subset seed, bin width, noise; [`Settings`]),
//! written when the plane starts. The SVGs draw one path per layer
//! through the epochs, points coloured from the first epoch (blue) to the last (red).

use std::path::Path;

use anyhow::{bail, Context, Result};
use ibci_kernels::{Mat, Par};
use ibci_mi::binning::binned;
use ibci_mi::discrete::Correction;
use ibci_mi::kde::mi_both_fast;
use ibci_nn::init::sample_indices;
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::Split;
use ibci_nn::Mlp;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::svg::plane::{self, PlanePoint};

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
                        "--resume: the information plane in {} was measured with {}; this run asks for {} (pass the same --infoplane-samples, --infoplane-bin-width and --infoplane-noise)",
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

    fn describe(&self) -> String {
        format!(
            "{} samples (seed {:#x}), bin width {}, noise variance {}",
            self.samples, self.subset_seed, self.bin_width, self.noise_var
        )
    }
}

/// Header of `infoplane.csv`.
pub const HEADER: &str = "epoch,layer,width,bin_width,noise_var,bin_ixt,bin_ity,kde_ixt_upper,kde_ixt_lower,kde_ity_upper,kde_ity_lower,seconds";

/// One layer at one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Epoch (0 = untrained).
    pub epoch: usize,
    /// Layer, 1-based.
    pub layer: usize,
    /// Its width.
    pub width: usize,
    /// Binning resolution.
    pub bin_width: f64,
    /// KDE noise variance.
    pub noise_var: f64,
    /// Binned I(X;T), I(T;Y), nats.
    pub bin: (f64, f64),
    /// KDE I(X;T) (upper, lower), nats.
    pub kde_xt: (f64, f64),
    /// KDE I(T;Y) (upper, lower), nats.
    pub kde_ty: (f64, f64),
    /// Seconds spent on this point.
    pub seconds: f64,
}

impl Point {
    /// The CSV row.
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.4}",
            self.epoch,
            self.layer,
            self.width,
            self.bin_width,
            self.noise_var,
            self.bin.0,
            self.bin.1,
            self.kde_xt.0,
            self.kde_xt.1,
            self.kde_ty.0,
            self.kde_ty.1,
            self.seconds
        )
    }
}

/// The fixed sample the plane is measured on, and the resolutions.
pub struct InfoPlane {
    x: Mat,
    labels: Vec<usize>,
    bin_width: f64,
    noise_var: f64,
}

impl InfoPlane {
    /// `samples` test images drawn without replacement by a generator seeded with `seed`.
    pub fn new(test: Split<'_>, settings: &Settings) -> Result<Self> {
        let Settings {
            samples,
            subset_seed: seed,
            bin_width,
            noise_var,
        } = *settings;
        let n = test.y.len();
        if samples < 2 || samples > n {
            bail!("--infoplane-samples {samples}: expected 2 to {n} (the test set's size)");
        }
        if !(bin_width.is_finite() && bin_width > 0.0) {
            bail!("--infoplane-bin-width {bin_width}: expected a positive number");
        }
        if !(noise_var.is_finite() && noise_var > 0.0) {
            bail!("--infoplane-noise {noise_var}: expected a positive number");
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let idx = sample_indices(&mut rng, n, samples);
        Ok(InfoPlane {
            x: gather_rows(test.x, idx.iter().copied()),
            labels: idx.iter().map(|&i| test.y[i]).collect(),
            bin_width,
            noise_var,
        })
    }

    /// Every layer's point for the network as it is after `epoch`.
    pub fn measure(&self, mlp: &Mlp, epoch: usize, par: Par) -> Vec<Point> {
        let acts = mlp.forward(self.x.as_ref(), par);
        acts.iter()
            .enumerate()
            .map(|(l, t)| {
                let start = std::time::Instant::now();
                let b = binned(t.as_ref(), &self.labels, self.bin_width, Correction::None);
                let (xt, ty) = mi_both_fast(t.as_ref(), &self.labels, self.noise_var, par);
                Point {
                    epoch,
                    layer: l + 1,
                    width: t.cols(),
                    bin_width: self.bin_width,
                    noise_var: self.noise_var,
                    bin: (b.i_xt, b.i_ty),
                    kde_xt: (xt.upper, xt.lower),
                    kde_ty: (ty.upper, ty.lower),
                    seconds: start.elapsed().as_secs_f64(),
                }
            })
            .collect()
    }
}

/// Parses `infoplane.csv`.
pub fn read_csv(path: &Path) -> Result<Vec<Point>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        bail!(
            "{}: not an infoplane.csv (expected the header {HEADER:?})",
            path.display()
        );
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |k: usize| -> Result<f64> {
                f.get(k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .with_context(|| {
                        format!(
                            "{} line {}: field {} is not a number",
                            path.display(),
                            i + 2,
                            k + 1
                        )
                    })
            };
            if f.len() != 12 {
                bail!(
                    "{} line {}: {} fields, expected 12",
                    path.display(),
                    i + 2,
                    f.len()
                );
            }
            Ok(Point {
                epoch: num(0)? as usize,
                layer: num(1)? as usize,
                width: num(2)? as usize,
                bin_width: num(3)?,
                noise_var: num(4)?,
                bin: (num(5)?, num(6)?),
                kde_xt: (num(7)?, num(8)?),
                kde_ty: (num(9)?, num(10)?),
                seconds: num(11)?,
            })
        })
        .collect()
}

/// Writes `infoplane.svg` (binned) and `infoplane-kde.svg` (KDE upper bounds) into `dir`.
pub fn write_svgs(dir: &Path, pts: &[Point]) -> Result<()> {
    let name = dir
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    for (kde, file) in [(false, "infoplane.svg"), (true, "infoplane-kde.svg")] {
        let plane: Vec<PlanePoint> = pts
            .iter()
            .map(|p| {
                let (x, y) = if kde { (p.kde_xt.0, p.kde_ty.0) } else { p.bin };
                PlanePoint {
                    epoch: p.epoch,
                    layer: p.layer,
                    x,
                    y,
                }
            })
            .collect();
        let res = pts.first().map_or(String::new(), |p| {
            if kde {
                format!("KDE upper bound, noise variance {}", p.noise_var)
            } else {
                format!("binning, bin width {}", p.bin_width)
            }
        });
        let svg = plane::svg(&plane, &res, &format!("information plane: {name}"));
        ibci_nn::atomic::write_atomically(&dir.join(file), svg.as_bytes())?;
    }
    Ok(())
}

/// The rows of an earlier `infoplane.csv` to keep when a run resumes after epoch `done`:
/// those of epochs 0..=done, which must all be there (`layers` rows each) and at the
/// resolution asked for now.
pub fn resumable(
    rows: Vec<Point>,
    done: usize,
    layers: usize,
    bin_width: f64,
    noise_var: f64,
) -> Result<Vec<Point>> {
    if let Some(p) = rows
        .iter()
        .find(|p| p.bin_width != bin_width || p.noise_var != noise_var)
    {
        bail!(
            "measured at bin width {} and noise variance {}, but this run asks for {bin_width} and {noise_var}",
            p.bin_width,
            p.noise_var
        );
    }
    let kept: Vec<Point> = rows.into_iter().filter(|p| p.epoch <= done).collect();
    for e in 0..=done {
        let n = kept.iter().filter(|p| p.epoch == e).count();
        if n != layers {
            bail!("epoch {e} has {n} rows, expected one per layer ({layers})");
        }
    }
    Ok(kept)
}

//! The plane of one training run: `infoplane.json`, `infoplane.csv` written as the run goes,
//! the SVGs and the manifest's record at the end.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use ibci_kernels::Par;
use ibci_nn::train::Split;
use ibci_nn::Mlp;
use serde::Serialize;

use super::renyi::RenyiSettings;
use super::{read_csv, resumable, write_svgs, InfoPlane, Point, Settings, HEADER};

/// The plane being measured, its file and its rows so far.
pub struct PlaneRun {
    plane: InfoPlane,
    settings: Settings,
    file: File,
    pts: Vec<Point>,
    seconds: f64,
}

impl PlaneRun {
    /// Starts (or, with `resume`, continues after epoch `done`) the plane of the run in `out`
    /// whose network `mlp` has `layers` layers: epoch 0 is measured now unless resumed.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        settings: Settings,
        out: &Path,
        resume: bool,
        done: usize,
        layers: usize,
        test: Split<'_>,
        mlp: &Mlp,
        par: Par,
    ) -> Result<Self> {
        settings.check(test.y.len())?;
        settings.record_or_check(out, resume)?;
        let plane = InfoPlane::new(test, &settings, par)?;
        let path = out.join("infoplane.csv");
        // On resume, the epochs already run keep their rows (rows of a later epoch, from a run
        // stopped after measuring but before its checkpoint, are measured again).
        let pts = if resume {
            let old = read_csv(&path).with_context(|| {
                format!(
                    "--infoplane with --resume: the run being resumed has no readable {} (was it run with --infoplane?)",
                    path.display()
                )
            })?;
            resumable(old, done, layers, settings.bin_width, settings.noise_var)
                .with_context(|| format!("--infoplane with --resume: {}", path.display()))?
        } else {
            plane.measure(mlp, 0, par)
        };
        let mut file =
            File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        writeln!(file, "{HEADER}")?;
        for p in &pts {
            writeln!(file, "{}", p.csv())?;
        }
        let seconds = pts.iter().map(|p| p.seconds).sum::<f64>();
        Ok(PlaneRun {
            plane,
            settings,
            file,
            pts,
            seconds,
        })
    }

    /// Measures the network as it is after `epoch` and appends the rows.
    pub fn measure(&mut self, mlp: &Mlp, epoch: usize, par: Par) -> Result<()> {
        let t = std::time::Instant::now();
        let pts = self.plane.measure(mlp, epoch, par);
        for p in &pts {
            writeln!(self.file, "{}", p.csv())?;
        }
        self.file.flush()?;
        self.pts.extend(pts);
        self.seconds += t.elapsed().as_secs_f64();
        Ok(())
    }

    /// Draws the plots and returns the manifest's record; `train_seconds` is the training
    /// time the plane's cost is compared with.
    pub fn finish(self, out: &Path, train_seconds: f64, subset: String) -> Result<PlaneRecord> {
        let mut files = vec!["infoplane.csv"];
        files.extend(write_svgs(out, &self.pts)?);
        let overhead = self.seconds / train_seconds.max(1e-9);
        eprintln!(
            "ibci train: information plane in {}: {:.1} s, {:.0}% of the training time",
            out.join("infoplane.csv").display(),
            self.seconds,
            100.0 * overhead
        );
        let s = self.settings;
        Ok(PlaneRecord {
            samples: s.samples,
            subset,
            bin_width: s.binning.then_some(s.bin_width),
            kde_noise_var: s.kde.then_some(s.noise_var),
            renyi: s.renyi,
            seconds: self.seconds,
            overhead_vs_training: overhead,
            files,
        })
    }
}

/// The information plane's settings and cost (the manifest's `results.infoplane`).
#[derive(Serialize)]
pub struct PlaneRecord {
    samples: usize,
    subset: String,
    /// Binning's width, when binned.
    #[serde(skip_serializing_if = "Option::is_none")]
    bin_width: Option<f64>,
    /// The KDE noise variance, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    kde_noise_var: Option<f64>,
    /// The Rényi estimator's settings, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    renyi: Option<RenyiSettings>,
    seconds: f64,
    overhead_vs_training: f64,
    files: Vec<&'static str>,
}

//! `infoplane.csv`: one row per layer and epoch.
//!
//! Columns: epoch, layer, width, bin_width, noise_var, binned I(X;T) and I(T;Y), KDE upper
//! and lower I(X;T), KDE upper and lower I(T;Y), seconds, then the Rényi estimator's sample
//! count, α, the images' and the layer's kernel widths, I(X;T) and I(T;Y). An estimator not
//! measured leaves its fields empty. Files written before the Rényi columns existed (12
//! fields) are read too.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::renyi::RenyiValues;

/// Header of `infoplane.csv`.
pub const HEADER: &str = "epoch,layer,width,bin_width,noise_var,bin_ixt,bin_ity,kde_ixt_upper,kde_ixt_lower,kde_ity_upper,kde_ity_lower,seconds,renyi_samples,renyi_alpha,renyi_sigma_x,renyi_sigma_t,renyi_ixt,renyi_ity";

/// The header of files written before the Rényi estimator (its first 12 columns).
const HEADER_12: &str = "epoch,layer,width,bin_width,noise_var,bin_ixt,bin_ity,kde_ixt_upper,kde_ixt_lower,kde_ity_upper,kde_ity_lower,seconds";

/// The Rényi estimator's values with its resolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenyiRow {
    /// Images measured.
    pub samples: usize,
    /// The order α.
    pub alpha: f64,
    /// Kernel widths and estimates.
    pub values: RenyiValues,
}

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
    pub bin: Option<(f64, f64)>,
    /// KDE I(X;T) (upper, lower), nats.
    pub kde_xt: Option<(f64, f64)>,
    /// KDE I(T;Y) (upper, lower), nats.
    pub kde_ty: Option<(f64, f64)>,
    /// Seconds spent on this point.
    pub seconds: f64,
    /// The matrix-based Rényi estimates.
    pub renyi: Option<RenyiRow>,
}

fn pair(p: Option<(f64, f64)>) -> String {
    p.map_or(",".into(), |(a, b)| format!("{a:.6},{b:.6}"))
}

impl Point {
    /// The CSV row.
    pub fn csv(&self) -> String {
        let renyi = self.renyi.map_or(",,,,,".into(), |r| {
            format!(
                "{},{},{},{},{:.6},{:.6}",
                r.samples, r.alpha, r.values.sigma_x, r.values.sigma_t, r.values.ixt, r.values.ity
            )
        });
        format!(
            "{},{},{},{},{},{},{},{},{:.4},{renyi}",
            self.epoch,
            self.layer,
            self.width,
            self.bin_width,
            self.noise_var,
            pair(self.bin),
            pair(self.kde_xt),
            pair(self.kde_ty),
            self.seconds
        )
    }
}

/// Parses `infoplane.csv`.
pub fn read_csv(path: &Path) -> Result<Vec<Point>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let fields = match lines.next() {
        Some(HEADER) => 18,
        Some(HEADER_12) => 12,
        _ => bail!(
            "{}: not an infoplane.csv (expected the header {HEADER:?})",
            path.display()
        ),
    };
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != fields {
                bail!(
                    "{} line {}: {} fields, expected {fields}",
                    path.display(),
                    i + 2,
                    f.len()
                );
            }
            let at = |k: usize| -> Result<Option<f64>> {
                if f[k].is_empty() {
                    return Ok(None);
                }
                f[k].parse::<f64>().map(Some).ok().with_context(|| {
                    format!(
                        "{} line {}: field {} is not a number",
                        path.display(),
                        i + 2,
                        k + 1
                    )
                })
            };
            let num = |k: usize| -> Result<f64> {
                at(k)?.with_context(|| {
                    format!(
                        "{} line {}: field {} is empty",
                        path.display(),
                        i + 2,
                        k + 1
                    )
                })
            };
            // A pair is measured (both numbers) or not (both empty).
            let pair = |k: usize| -> Result<Option<(f64, f64)>> {
                match (at(k)?, at(k + 1)?) {
                    (Some(a), Some(b)) => Ok(Some((a, b))),
                    (None, None) => Ok(None),
                    _ => bail!(
                        "{} line {}: fields {} and {} must both be numbers or both empty",
                        path.display(),
                        i + 2,
                        k + 1,
                        k + 2
                    ),
                }
            };
            let renyi = if fields == 12 || f[12].is_empty() {
                None
            } else {
                Some(RenyiRow {
                    samples: num(12)? as usize,
                    alpha: num(13)?,
                    values: RenyiValues {
                        sigma_x: num(14)?,
                        sigma_t: num(15)?,
                        ixt: num(16)?,
                        ity: num(17)?,
                    },
                })
            };
            Ok(Point {
                epoch: num(0)? as usize,
                layer: num(1)? as usize,
                width: num(2)? as usize,
                bin_width: num(3)?,
                noise_var: num(4)?,
                bin: pair(5)?,
                kde_xt: pair(7)?,
                kde_ty: pair(9)?,
                seconds: num(11)?,
                renyi,
            })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_rows_and_files_from_before_the_renyi_columns() {
        let dir = std::env::temp_dir().join(format!("ibci-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("infoplane.csv");
        let p = Point {
            epoch: 2,
            layer: 1,
            width: 100,
            bin_width: 0.5,
            noise_var: 0.1,
            bin: None,
            kde_xt: Some((8.5, 8.25)),
            kde_ty: Some((2.25, 2.0)),
            seconds: 0.125,
            renyi: Some(RenyiRow {
                samples: 1000,
                alpha: 1.01,
                values: RenyiValues {
                    sigma_x: 4.5,
                    sigma_t: 3.25,
                    ixt: 5.5,
                    ity: 2.0625,
                },
            }),
        };
        std::fs::write(&path, format!("{HEADER}\n{}\n", p.csv())).unwrap();
        assert_eq!(read_csv(&path).unwrap(), vec![p]);
        // A file of the 12-column format: every estimate there, no Rényi columns.
        let old = "0,2,10,0.5,0.1,7.864853,1.987390,5.148068,1.947358,1.077460,0.417274,0.8204";
        std::fs::write(&path, format!("{HEADER_12}\n{old}\n")).unwrap();
        let rows = read_csv(&path).unwrap();
        assert_eq!(rows[0].bin, Some((7.864853, 1.98739)));
        assert_eq!(rows[0].kde_ty, Some((1.07746, 0.417274)));
        assert_eq!(rows[0].renyi, None);
        // Half a pair is refused, naming the line and fields.
        let half = "0,2,10,0.5,0.1,7.8,,5.1,1.9,1.0,0.4,0.8,,,,,,";
        std::fs::write(&path, format!("{HEADER}\n{half}\n")).unwrap();
        let e = read_csv(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("fields 6 and 7"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

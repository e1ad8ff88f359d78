//! The plane's SVGs: one path per layer through the epochs, points coloured from the first
//! epoch (blue) to the last (red); one file per estimator measured.

use std::path::Path;

use anyhow::Result;

use super::rows::Point;
use crate::svg::plane::{self, PlanePoint};

/// An estimator's plot: its file, its resolution's caption and its (I(X;T), I(T;Y)).
struct Plot {
    file: &'static str,
    caption: fn(&Point) -> Option<String>,
    xy: fn(&Point) -> Option<(f64, f64)>,
}

const PLOTS: [Plot; 3] = [
    Plot {
        file: "infoplane.svg",
        caption: |p| p.bin.map(|_| format!("binning, bin width {}", p.bin_width)),
        xy: |p| p.bin,
    },
    Plot {
        file: "infoplane-kde.svg",
        caption: |p| {
            p.kde_xt
                .map(|_| format!("KDE upper bound, noise variance {}", p.noise_var))
        },
        xy: |p| p.kde_xt.zip(p.kde_ty).map(|(x, y)| (x.0, y.0)),
    },
    Plot {
        file: "infoplane-renyi.svg",
        caption: |p| {
            p.renyi
                .map(|r| format!("matrix-based Rényi, α {}, {} images", r.alpha, r.samples))
        },
        xy: |p| p.renyi.map(|r| (r.values.ixt, r.values.ity)),
    },
];

/// Writes the plot of every estimator `pts` hold into `dir`; returns the files written.
pub fn write_svgs(dir: &Path, pts: &[Point]) -> Result<Vec<&'static str>> {
    let name = dir
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    let mut files = Vec::new();
    for plot in &PLOTS {
        let Some(caption) = pts.iter().find_map(plot.caption) else {
            continue;
        };
        let points: Vec<PlanePoint> = pts
            .iter()
            .filter_map(|p| {
                (plot.xy)(p).map(|(x, y)| PlanePoint {
                    epoch: p.epoch,
                    layer: p.layer,
                    x,
                    y,
                })
            })
            .collect();
        let svg = plane::svg(&points, &caption, &format!("information plane: {name}"));
        ibci_nn::atomic::write_atomically(&dir.join(plot.file), svg.as_bytes())?;
        files.push(plot.file);
    }
    Ok(files)
}

//! `plots/NET-BASE.svg`: mean test-error curves with +-1 std bands, one per network and base.

use std::fs;
use std::path::Path;

use anyhow::Result;
use ibci_nn::atomic::write_atomically;

use crate::reproduce::paper::METHODS;
use crate::reproduce::sweep::Sweep;
use crate::stats::{mean, std};
use crate::svg::forest::forest;
use crate::svg::{line_chart, Series};

use super::{base_label, net_label, Cells};

/// Writes one plot per network and base into `plots`; returns their file names.
pub(super) fn write_plots(sweep: &Sweep, c: &Cells<'_>, plots: &Path) -> Result<Vec<String>> {
    fs::create_dir_all(plots)?;
    let mut plot_files = Vec::new();
    for (n, net) in sweep.nets.iter().enumerate() {
        for (b, base) in sweep.bases.iter().enumerate() {
            let mut curves = Vec::new();
            for (k, (_, label)) in METHODS.iter().enumerate() {
                let Some(rs) = c.get(&(n, b, k)) else {
                    continue;
                };
                let e = sweep.epochs;
                let x: Vec<f64> = (1..=e).map(|v| v as f64).collect();
                let per: Vec<Vec<f64>> = (1..=e)
                    .map(|ep| rs.iter().map(|r| 100.0 * r.history[ep][4]).collect())
                    .collect();
                let m: Vec<f64> = per.iter().map(|v| mean(v)).collect();
                let s: Vec<f64> = per.iter().map(|v| std(v)).collect();
                curves.push((label.to_string(), x, m, s));
            }
            if curves.is_empty() {
                continue;
            }
            // y range: from the lowest band to the highest mean after the first tenth.
            let skip = sweep.epochs / 10;
            let lo = curves
                .iter()
                .flat_map(|(_, _, m, s)| m.iter().zip(s).map(|(m, s)| m - s))
                .fold(f64::INFINITY, f64::min);
            let hi = curves
                .iter()
                .flat_map(|(_, _, m, s)| m.iter().zip(s).skip(skip).map(|(m, s)| m + s))
                .fold(f64::NEG_INFINITY, f64::max);
            let pad = 0.05 * (hi - lo).max(0.1);
            let series: Vec<Series<'_>> = curves
                .iter()
                .map(|(l, x, m, s)| Series {
                    label: l,
                    x,
                    mean: m,
                    band: s,
                })
                .collect();
            let svg = line_chart(
                &format!(
                    "{} on {}, base init {}: test error, {}",
                    net_label(net),
                    sweep.dataset,
                    base_label(base),
                    match sweep.seeds {
                        1 => "1 seed".to_string(),
                        n => format!("mean ± 1 std over {n} seeds"),
                    }
                ),
                "epoch",
                "test error (%)",
                &series,
                ((lo - pad).max(0.0), hi + pad),
            );
            let name = format!("{net}-{base}.svg");
            write_atomically(&plots.join(&name), svg.as_bytes())?;
            plot_files.push(name);
        }
    }
    let rows = super::compare::min_error_rows(sweep, c);
    if !rows.is_empty() {
        let seeds = match sweep.seeds {
            1 => "1 seed".to_string(),
            n => format!("{n} seeds"),
        };
        let svg = forest(
            &format!(
                "IBCI minus baseline on {}: minimal test error, Welch 95% intervals over {seeds}",
                sweep.dataset
            ),
            "difference in minimal test error, percentage points (negative: IBCI better)",
            &rows,
            0.10,
        );
        let name = "differences.svg".to_string();
        write_atomically(&plots.join(&name), svg.as_bytes())?;
        plot_files.push(name);
    }
    Ok(plot_files)
}

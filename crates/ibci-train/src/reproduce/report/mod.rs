//! The sweep's outputs, a pure function of its runs: `runs.csv`, `summary.md`, the plots
//! and `manifest.json`.

mod compare;
pub(super) use compare::p_text;
mod csv;
mod plots;
mod tables;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use ibci_idx::sha256::{sha256, to_hex};
use ibci_nn::atomic::write_atomically;
use serde::Serialize;
use serde_json::Value;

use crate::manifest::{Data, Machine, Manifest, Provenance};
use crate::reproduce::cache::RunResult;
use crate::reproduce::paper::METHODS;
use crate::reproduce::sweep::{Run, Sweep};
use crate::stats::{mean, std};
use tables::summary_md;

/// Per (net, base, method): the runs' results in seed order.
pub(super) type Cells<'a> = BTreeMap<(usize, usize, usize), Vec<&'a RunResult>>;

pub(super) fn cells<'a>(sweep: &Sweep, all: &[Run], results: &'a [RunResult]) -> Cells<'a> {
    let mut m: Cells<'a> = BTreeMap::new();
    for (r, res) in all.iter().zip(results) {
        let n = sweep.nets.iter().position(|x| *x == r.net).unwrap_or(0);
        let b = sweep.bases.iter().position(|x| *x == r.base).unwrap_or(0);
        let k = METHODS
            .iter()
            .position(|(x, _)| *x == r.method)
            .unwrap_or(0);
        m.entry((n, b, k)).or_default().push(res);
    }
    m
}

pub(super) fn net_label(n: &str) -> String {
    match n {
        "mlp2" => "MLP-2".into(),
        "mlp3" => "MLP-3".into(),
        "mlp5" => "MLP-5".into(),
        other => other.into(),
    }
}

pub(super) fn base_label(b: &str) -> &'static str {
    if b == "xavier" {
        "Xavier"
    } else {
        "He"
    }
}

/// "2.04 ± 0.03 (75.0)" for a cell's minimal errors and epochs.
pub(super) fn cell_text(rs: &[&RunResult]) -> (String, f64) {
    let best: Vec<f64> = rs.iter().map(|r| 100.0 * r.best().0).collect();
    let ep: Vec<f64> = rs.iter().map(|r| r.best().1).collect();
    (
        match rs.len() {
            // A spread of one value is no spread: say how many seeds there are.
            1 => format!("{:.2}, 1 seed ({:.1})", mean(&best), mean(&ep)),
            _ => format!("{:.2} ± {:.2} ({:.1})", mean(&best), std(&best), mean(&ep)),
        },
        mean(&best),
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn write_outputs(
    sweep: &Sweep,
    describe: &Value,
    all: &[Run],
    results: &[RunResult],
    out: &Path,
    argv: &[String],
    start: Instant,
    (jobs, threads): (usize, usize),
    computed_now: usize,
) -> Result<()> {
    let csv = csv::runs_csv(all, results);
    write_atomically(&out.join("runs.csv"), csv.as_bytes())?;
    let c = cells(sweep, all, results);
    let summary = summary_md(sweep, &c);
    write_atomically(&out.join("summary.md"), summary.as_bytes())?;
    let plot_files = plots::write_plots(sweep, &c, &out.join("plots"))?;
    let digest = to_hex(&sha256(format!("{summary}{csv}").as_bytes()));
    let data_sha256: Vec<String> = describe["data_sha256"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let manifest = Manifest::new(
        Provenance {
            command: "reproduce",
            argv: argv.to_vec(),
            threads,
            data: Data::from_digests(&sweep.data_dir, &data_sha256),
        },
        describe,
        SweepResults {
            runs: all.len(),
            computed_now,
            from_cache: all.len() - computed_now,
            provenances: provenances(results),
            jobs,
            plots: plot_files,
        },
        start.elapsed().as_secs_f64(),
        (digest.clone(), "sha256 of summary.md followed by runs.csv"),
    );
    write_atomically(&out.join("manifest.json"), manifest.to_json()?.as_bytes())?;
    say!("{summary}");
    say!(
        "wrote {}/summary.md, runs.csv, manifest.json and plots/ ({:.0} s); results digest {digest}",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The distinct machines (code, CPU, kernel path, threads) that computed `results`, with how
/// many runs each did and their summed wall time.
fn provenances(results: &[RunResult]) -> Vec<ProvenanceCount> {
    let mut m: BTreeMap<Option<&Machine>, (usize, f64)> = BTreeMap::new();
    for r in results {
        let e = m.entry(r.provenance.as_ref()).or_default();
        e.0 += 1;
        e.1 += r.seconds;
    }
    m.into_iter()
        .map(|(machine, (runs, run_seconds))| ProvenanceCount {
            machine: machine.cloned(),
            runs,
            run_seconds,
        })
        .collect()
}

/// One machine of a sweep and its share of the runs.
#[derive(Serialize)]
struct ProvenanceCount {
    /// `null`: runs adopted from a cache written before ibci recorded provenance.
    machine: Option<Machine>,
    /// Runs it computed.
    runs: usize,
    /// Their wall time, summed, seconds.
    run_seconds: f64,
}

/// `results` of `reproduce`'s manifest (the tables themselves are summary.md and runs.csv,
/// named by the results digest).
#[derive(Serialize)]
struct SweepResults {
    /// Runs in the sweep.
    runs: usize,
    /// Runs computed by this command.
    computed_now: usize,
    /// Runs read from the cache (or from shards, for a merge).
    from_cache: usize,
    /// Where every run was computed, per distinct machine (each run keeps its own record in
    /// its cache entry).
    provenances: Vec<ProvenanceCount>,
    /// Runs at a time (0 for a merge).
    jobs: usize,
    /// The plot files written.
    plots: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_is_said_not_shown_as_zero_spread() {
        let run = |err: f64| RunResult {
            history: vec![
                [0.0, f64::NAN, f64::NAN, 2.3, 0.9],
                [1.0, 0.5, 0.8, 0.4, err],
            ],
            seconds: 1.0,
            provenance: None,
            weights_sha256: None,
        };
        let (a, b) = (run(0.05), run(0.07));
        assert_eq!(cell_text(&[&a]).0, "5.00, 1 seed (1.0)");
        assert_eq!(cell_text(&[&a, &b]).0, "6.00 ± 1.41 (1.0)");
    }
}

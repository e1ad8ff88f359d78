//! `--init-info`: what each method's initialisation does to information, before training.
//!
//! For every run of the sweep, the network is initialised exactly as the run initialises it
//! (same seed, same stream) and each layer T is measured on a fixed seeded subset of the
//! test set, as the information plane measures it ([`InfoPlane`]): the KDE upper and lower
//! bounds on I(X;T) and I(T;Y) for T plus Gaussian noise of variance [`NOISE_VAR`], and the
//! binned I(T;Y) at width [`BIN_WIDTH`], in nats. Nothing is trained.
//!
//! Each measurement is cached in `OUT/init/KEY.json` (KEY: the run's key), sealed with a
//! checksum like the runs (see [`super::cache`]) and read back only when its run
//! configuration and measurement settings match. Outputs: `init-info.csv` (one row per run
//! and layer) and `init-info.md` (IBCI against each baseline, per network, base and layer,
//! with Welch's 95% interval and Holm-adjusted p-values over each table's family), named by
//! their SHA-256 together.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::atomic::write_atomically;
use ibci_nn::train::Split;
use ibci_nn::{ArchSpec, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cache::{seal, verify};
use super::paper::METHODS;
use super::report::{base_label, net_label};
use super::sweep::{Run, Sweep};
use crate::infoplane::{InfoPlane, Settings};
use crate::init::initialise;
use crate::stats::{holm, mean, welch95};

/// Test images measured (all of a smaller test set).
pub(super) const SAMPLES: usize = 2000;
/// The seed that draws them.
const SUBSET_SEED: u64 = 0x0141_71f0;
/// KDE noise variance (Saxe et al.'s, as the information plane's default).
const NOISE_VAR: f64 = 0.1;
/// Binning width (the information plane's default).
const BIN_WIDTH: f64 = 0.5;

/// One layer at initialisation, nats.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(super) struct LayerInfo {
    layer: usize,
    width: usize,
    kde_ixt_upper: f64,
    kde_ixt_lower: f64,
    kde_ity_upper: f64,
    kde_ity_lower: f64,
    bin_ity: f64,
}

/// A cache entry.
#[derive(Serialize, Deserialize)]
struct Entry {
    config: Value,
    settings: Settings,
    layers: Vec<LayerInfo>,
}

/// The cached measurement of the run with configuration `cfg`, if sound.
fn cached(path: &Path, cfg: &Value, settings: &Settings) -> Option<Vec<LayerInfo>> {
    let text = fs::read_to_string(path).ok()?;
    if verify(&text) != Ok(true) {
        // Missing files are simply measured; a present but unsealed or altered one is said.
        eprintln!(
            "ibci reproduce: {} is not used (no checksum, or it does not match); measured again",
            path.display()
        );
        return None;
    }
    let e: Entry = serde_json::from_str(&text).ok()?;
    (e.config == *cfg && e.settings == *settings).then_some(e.layers)
}

/// Measures (or reads back) every run's layers at initialisation; writes the outputs.
pub(super) fn init_info(
    sweep: &Sweep,
    all: &[Run],
    configs: &[(Value, String)],
    (train, test): (Split<'_>, Split<'_>),
    out: &Path,
    pool: &rayon::ThreadPool,
) -> Result<()> {
    let dir = out.join("init");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let settings = Settings {
        samples: SAMPLES.min(test.y.len()),
        subset_seed: SUBSET_SEED,
        noise_var: NOISE_VAR,
        bin_width: BIN_WIDTH,
        binning: true,
        kde: true,
        kde_version: ibci_mi::kde::VERSION,
        renyi: None,
    };
    let par = Par::for_threads(pool.current_num_threads());
    let plane = InfoPlane::new(test, &settings, par)?;
    let mut infos = Vec::with_capacity(all.len());
    let mut measured = 0;
    for (k, (run, (cfg, key))) in all.iter().zip(configs).enumerate() {
        let path = dir.join(format!("{key}.json"));
        if let Some(layers) = cached(&path, cfg, &settings) {
            infos.push(layers);
            continue;
        }
        let spec = ArchSpec::parse(&run.net)?;
        let (mlp, _) = initialise(
            &sweep.init_args(run),
            &spec,
            0.0,
            run.seed,
            TrainConfig::default().batch,
            train,
            pool,
            false,
        )?;
        let layers: Vec<LayerInfo> = pool
            .install(|| plane.measure(&mlp, 0, par))
            .into_iter()
            .map(|p| {
                // Both estimators are in the settings above, so both are measured.
                let (kde_xt, kde_ty, bin) = p
                    .kde_xt
                    .zip(p.kde_ty)
                    .zip(p.bin)
                    .map(|((x, y), b)| (x, y, b))
                    .expect("init-info measures binning and KDE");
                LayerInfo {
                    layer: p.layer,
                    width: p.width,
                    kde_ixt_upper: kde_xt.0,
                    kde_ixt_lower: kde_xt.1,
                    kde_ity_upper: kde_ty.0,
                    kde_ity_lower: kde_ty.1,
                    bin_ity: bin.1,
                }
            })
            .collect();
        let entry = Entry {
            config: cfg.clone(),
            settings,
            layers,
        };
        write_atomically(&path, seal(&serde_json::to_string(&entry)?).as_bytes())?;
        // Read back through the text, as a later rebuild will.
        infos.push(cached(&path, cfg, &settings).context("an init-info entry does not read back")?);
        measured += 1;
        eprintln!(
            "[{}/{}] {} {} {} seed {}: measured at initialisation",
            k + 1,
            all.len(),
            run.net,
            run.base,
            run.method,
            run.seed
        );
    }
    let csv = csv(all, &infos);
    let md = tables(sweep, all, &infos, settings.samples);
    write_atomically(&out.join("init-info.csv"), csv.as_bytes())?;
    write_atomically(&out.join("init-info.md"), md.as_bytes())?;
    say!("{md}");
    say!(
        "wrote {}/init-info.md and init-info.csv ({measured} runs measured now, {} from init/); digest {}",
        out.display(),
        all.len() - measured,
        to_hex(&sha256(format!("{md}{csv}").as_bytes()))
    );
    Ok(())
}

fn csv(all: &[Run], infos: &[Vec<LayerInfo>]) -> String {
    let mut s = String::from(
        "net,base,method,seed,layer,width,kde_ixt_upper,kde_ixt_lower,kde_ity_upper,kde_ity_lower,bin_ity\n",
    );
    for (r, layers) in all.iter().zip(infos) {
        for l in layers {
            s += &format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                r.net,
                r.base,
                r.method,
                r.seed,
                l.layer,
                l.width,
                l.kde_ixt_upper,
                l.kde_ixt_lower,
                l.kde_ity_upper,
                l.kde_ity_lower,
                l.bin_ity
            );
        }
    }
    s
}

fn tables(sweep: &Sweep, all: &[Run], infos: &[Vec<LayerInfo>], samples: usize) -> String {
    let mut s = format!(
        "# Information at initialisation\n\nDataset {}; each layer T of each run's network as initialised (before any training), on {samples} test images drawn with seed {SUBSET_SEED:#x}: KDE bounds for T plus Gaussian noise of variance {NOISE_VAR}, binned I(T;Y) at width {BIN_WIDTH}; nats. Each row: IBCI minus the baseline, mean over seeds, with Welch's 95% interval; `p`: Welch's two-sided test, Holm-Bonferroni adjusted over the table's family (its size given). Verdict at level 0.05.\n",
        sweep.dataset
    );
    type Of = fn(&LayerInfo) -> f64;
    let measures: [(&str, Of); 4] = [
        ("I(T;Y), KDE upper bound", |l| l.kde_ity_upper),
        ("I(T;Y), KDE lower bound", |l| l.kde_ity_lower),
        ("I(T;Y), binned", |l| l.bin_ity),
        ("I(X;T), KDE upper bound", |l| l.kde_ixt_upper),
    ];
    let ibci = "ibci";
    for (title, of) in measures {
        // (base, net, layer, baseline, IBCI values, baseline values).
        let mut rows = Vec::new();
        for base in &sweep.bases {
            for net in &sweep.nets {
                let values = |method: &str, layer: usize| -> Vec<f64> {
                    all.iter()
                        .zip(infos)
                        .filter(|(r, _)| r.base == *base && r.net == *net && r.method == method)
                        .filter_map(|(_, ls)| ls.get(layer).map(of))
                        .collect()
                };
                let layers = ArchSpec::parse(net).map_or(0, |s| s.layers());
                for layer in 0..layers {
                    let iv = values(ibci, layer);
                    for (m, label) in METHODS
                        .iter()
                        .filter(|(m, _)| *m == "vanilla" || *m == "lsuv")
                    {
                        let ov = values(m, layer);
                        if !iv.is_empty() && !ov.is_empty() {
                            rows.push((base, net, layer + 1, *label, iv.clone(), ov));
                        }
                    }
                }
            }
        }
        let tests: Vec<_> = rows.iter().map(|(.., iv, ov)| welch95(iv, ov)).collect();
        let p = holm(
            &tests
                .iter()
                .flatten()
                .map(|t| t.p_value())
                .collect::<Vec<_>>(),
        );
        s += &format!(
            "\n## {title} (family of {} comparisons)\n\n| base | net | layer | baseline | IBCI mean | baseline mean | IBCI − baseline [95% CI] | p (Holm) | verdict |\n|---|---|---|---|---|---|---|---|---|\n",
            p.len()
        );
        let mut f = 0;
        for ((base, net, layer, label, iv, ov), t) in rows.iter().zip(&tests) {
            s += &format!(
                "| {} | {} | {layer} | {label} | {:.4} | {:.4} |",
                base_label(base),
                net_label(net),
                mean(iv),
                mean(ov)
            );
            match t {
                Some(t) => {
                    let verdict = match (p[f] < 0.05, t.diff < 0.0) {
                        (true, false) => "IBCI higher",
                        (true, true) => "IBCI lower",
                        (false, _) => "no significant difference",
                    };
                    s += &format!(
                        " {:+.4} [{:+.4}, {:+.4}] | {} | {verdict} |\n",
                        t.diff,
                        t.lo,
                        t.hi,
                        super::report::p_text(p[f])
                    );
                    f += 1;
                }
                None => s += &format!(" {:+.4} (needs 2 seeds) | – | – |\n", mean(iv) - mean(ov)),
            }
        }
    }
    s
}

//! Network initialisation for `ibci train` and `ibci init`: the torch.nn.init schemes, LSUV,
//! and the neuron campaign (`--init ibci`), all drawing from the one seeded generator.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use ibci_campaign::{campaign, LayerReport};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::init::{sample_indices, BiasInit};
use ibci_nn::lsuv::{lsuv, LsuvConfig, LsuvRule};
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::OwnedSplit;
use ibci_nn::train::Split;
use ibci_nn::{ArchSpec, Mlp};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use serde_json::Value;

use crate::args::{InitArgs, NetArgs};
use crate::init_report::{CampaignRecord, InitReport, LayerRecord, LsuvRecord};
use crate::lock::OutLock;
use crate::manifest::{Data, Manifest, Provenance};
use crate::safetensors::encode_weights;
use crate::setup::Setup;

/// The initialised network and a JSON account of how it was made.
#[allow(clippy::too_many_arguments)]
pub fn initialise(
    args: &InitArgs,
    spec: &ArchSpec,
    bias: f32,
    seed: u64,
    default_lsuv_batch: usize,
    train: Split<'_>,
    pool: &rayon::ThreadPool,
    verbose: bool,
) -> Result<(Mlp, InitReport)> {
    let par = Par::for_threads(pool.current_num_threads());
    let classes = spec.outputs();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let Some((init, with_lsuv)) = args.init.weight_init() else {
        let opts = args.campaign_options(bias)?;
        let t = Instant::now();
        let c = pool
            .install(|| campaign(spec, train.x, train.y, classes, &opts, &mut rng, par))
            .context("--init ibci")?;
        let seconds = t.elapsed().as_secs_f64();
        if verbose {
            for r in &c.layers {
                eprintln!("{}", layer_line(r));
            }
            eprintln!("ibci: campaign on {} images in {seconds:.2} s", c.samples);
        }
        let report = InitReport {
            options: args.describe(),
            campaign: Some(CampaignRecord {
                bias,
                samples: c.samples,
                seconds,
                layers: c.layers.iter().map(LayerRecord::from).collect(),
            }),
            lsuv: None,
        };
        return Ok((c.mlp, report));
    };
    let inits = vec![init; spec.layers()];
    let mut mlp = Mlp::init(spec, &inits, BiasInit::Constant(bias), &mut rng);
    if !with_lsuv {
        let report = InitReport {
            options: args.describe(),
            campaign: None,
            lsuv: None,
        };
        return Ok((mlp, report));
    }
    // The LSUV batch: distinct training images drawn by the initialisation stream.
    let n = args
        .lsuv_batch
        .unwrap_or(default_lsuv_batch)
        .clamp(1, train.y.len());
    let idx = sample_indices(&mut rng, train.y.len(), n);
    let batch = gather_rows(train.x, idx.iter().copied());
    let cfg = LsuvConfig {
        tol: args.lsuv_tol.unwrap_or(LsuvConfig::default().tol),
        rule: if args.init.is_lsuv_pytorch() {
            LsuvRule::AuthorPytorch
        } else {
            LsuvRule::Algorithm1
        },
        ..LsuvConfig::default()
    };
    let report = pool.install(|| lsuv(&mut mlp, batch.as_ref(), &cfg, par));
    for (l, r) in report.iter().enumerate().filter(|_| verbose) {
        eprintln!(
            "ibci: LSUV layer {}: output variance {:.4} -> {:.4} after {} rescaling(s)",
            l + 1,
            r.initial_var,
            r.final_var,
            r.rescalings
        );
    }
    let record = InitReport {
        options: args.describe(),
        campaign: None,
        lsuv: Some(LsuvRecord::new(n, &cfg, &report)),
    };
    Ok((mlp, record))
}

fn layer_line(r: &LayerReport) -> String {
    let groups = if r.groups.is_empty() {
        "one global election".to_string()
    } else {
        let q: Vec<String> = r.groups.iter().map(|g| g.quota.to_string()).collect();
        format!("picks per class [{}]", q.join(" "))
    };
    format!(
        "ibci: layer {} ({} -> {}): {} candidates (std {:.4}), alpha {:.2}, score {:.3}..{:.3}, elected mean {:.3} vs pool {:.3}; {groups}; {:.2} s",
        r.layer,
        r.fan_in,
        r.width,
        r.candidates,
        r.candidate_std,
        r.alpha,
        r.score.min,
        r.score.max,
        r.score_elected.mean,
        r.score.mean,
        r.seconds.draw + r.seconds.score + r.seconds.elect + r.seconds.propagate
    )
}

/// `ibci init` flags.
#[derive(clap::Args, Debug)]
pub struct InitCli {
    #[command(flatten)]
    pub net: NetArgs,
    /// Where to write the weights (safetensors, PyTorch layout); a manifest goes to FILE.json.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `ibci init`: initialises a network and writes it (safetensors) with a manifest.
pub fn init_only(args: &InitCli, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    let (init, bias, seed, out) = (&args.net.init, args.net.bias, args.net.seed, &args.out);
    let Setup {
        spec,
        threads,
        pool,
        data,
        ..
    } = Setup::new(&args.net)?;
    let train = OwnedSplit::from_images(
        data.train.images_f32(),
        data.train.dim(),
        &data.train.labels,
    );
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut lock = out.as_os_str().to_owned();
    lock.push(".lock");
    let _lock = OutLock::take(Path::new(&lock), &format!("--out {}", out.display()))?;
    let (mlp, report) = initialise(init, &spec, bias, seed, 100, train.view(), &pool, true)?;
    let weights = encode_weights(&mlp);
    ibci_nn::atomic::write_atomically(out, &weights)
        .with_context(|| format!("--out {}", out.display()))?;
    let digest = to_hex(&sha256(&weights));
    let manifest = Manifest::new(
        Provenance {
            command: "init",
            argv: argv.to_vec(),
            threads,
            data: Data::new(&args.net.data, &data.files),
        },
        InitRecord {
            seed,
            rng: "Xoshiro256PlusPlus (rand_xoshiro 0.7), seed_from_u64(seed)",
            arch: spec.widths.clone(),
            activations: spec.acts.iter().map(|a| a.name()).collect(),
            init: init.describe(),
            bias,
        },
        InitResults {
            weights_sha256: digest.clone(),
            initialisation: report,
        },
        start.elapsed().as_secs_f64(),
        (digest.clone(), "sha256 of the weights file"),
    );
    let mut side = out.as_os_str().to_owned();
    side.push(".json");
    ibci_nn::atomic::write_atomically(Path::new(&side), manifest.to_json()?.as_bytes())?;
    say!("wrote {} ({spec}, {})", out.display(), init.label());
    say!("weights sha256: {digest}");
    Ok(())
}

/// `config` of `ibci init`'s manifest.
#[derive(Serialize)]
struct InitRecord {
    seed: u64,
    rng: &'static str,
    arch: Vec<usize>,
    activations: Vec<&'static str>,
    init: Value,
    bias: f32,
}

/// `results` of `ibci init`'s manifest.
#[derive(Serialize)]
struct InitResults {
    weights_sha256: String,
    initialisation: InitReport,
}

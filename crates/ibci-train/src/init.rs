//! Network initialisation for `ibci train` and `ibci init`: the torch.nn.init schemes, LSUV,
//! and the neuron campaign (`--init ibci`), all drawing from the one seeded generator.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use ibci_campaign::{campaign, LayerReport};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::checkpoint;
use ibci_nn::init::{sample_indices, BiasInit};
use ibci_nn::lsuv::{lsuv, LsuvConfig};
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::OwnedSplit;
use ibci_nn::train::Split;
use ibci_nn::{ArchSpec, Mlp};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};

use crate::args::{InitArgs, NetArgs};
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
) -> Result<(Mlp, Value)> {
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
        let report = json!({
            "options": args.describe(),
            "bias": bias,
            "samples": c.samples,
            "seconds": seconds,
            "layers": c.layers.iter().map(layer_json).collect::<Vec<_>>(),
        });
        return Ok((c.mlp, report));
    };
    let inits = vec![init; spec.layers()];
    let mut mlp = Mlp::init(spec, &inits, BiasInit::Constant(bias), &mut rng);
    if !with_lsuv {
        return Ok((mlp, json!({ "options": args.describe() })));
    }
    // The LSUV batch: distinct training images drawn by the initialisation stream.
    let n = args
        .lsuv_batch
        .unwrap_or(default_lsuv_batch)
        .clamp(1, train.y.len());
    let idx = sample_indices(&mut rng, train.y.len(), n);
    let batch = gather_rows(train.x, idx.iter().copied());
    let cfg = LsuvConfig::default();
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
    let json = json!({
        "options": args.describe(),
        "lsuv": {
            "batch": n,
            "tol": cfg.tol,
            "max_iter": cfg.max_iter,
            "layers": report.iter().map(|r| json!({
                "initial_var": r.initial_var,
                "final_var": r.final_var,
                "rescalings": r.rescalings,
            })).collect::<Vec<_>>(),
        },
    });
    Ok((mlp, json))
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

fn layer_json(r: &LayerReport) -> Value {
    let s =
        |x: &ibci_campaign::campaign::Summary| json!({"min": x.min, "mean": x.mean, "max": x.max});
    json!({
        "layer": r.layer,
        "fan_in": r.fan_in,
        "width": r.width,
        "candidates": r.candidates,
        "candidate_std": r.candidate_std,
        "alpha_iim": r.alpha,
        "iim": s(&r.iim),
        "tie": s(&r.tie),
        "score": s(&r.score),
        "score_elected": s(&r.score_elected),
        "groups": r.groups.iter().map(|g| json!({
            "class": g.class, "candidates": g.candidates, "elected": g.quota
        })).collect::<Vec<_>>(),
        "empty_output_groups": r.empty_output_groups,
        "picks": r.picks,
        "response_std_elected": r.spread_elected,
        "response_std_pool": r.spread_pool,
        "seconds": {
            "draw": r.seconds.draw,
            "score": r.seconds.score,
            "responses_cpu": r.seconds.responses_cpu,
            "statistics_cpu": r.seconds.statistics_cpu,
            "elect": r.seconds.elect,
            "propagate": r.seconds.propagate,
        },
    })
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
    let (mlp, report) = initialise(init, &spec, bias, seed, 100, train.view(), &pool, true)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let weights = encode_weights(&mlp);
    checkpoint::write_atomically(out, &weights)
        .with_context(|| format!("--out {}", out.display()))?;
    let digest = to_hex(&sha256(&weights));
    let b = ibci_kernels::dispatch::build_info();
    let manifest = json!({
        "ibci_version": env!("CARGO_PKG_VERSION"),
        "git_commit": env!("IBCI_GIT_COMMIT"),
        "command": argv,
        "seed": seed,
        "rng": "Xoshiro256PlusPlus (rand_xoshiro 0.7), seed_from_u64(seed)",
        "config": {
            "arch": spec.widths,
            "activations": spec.acts.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "init": init.describe(),
            "bias": bias,
        },
        "initialisation": report,
        "cpu": {
            "build_level": crate::cpu::build_level(),
            "host_features": crate::cpu::host_simd_features(),
        },
        "kernels": { "gemm_path": b.selected.name() },
        "threads": threads,
        "data": data.files.iter().map(|f| json!({
            "file": f.path.display().to_string(),
            "sha256": f.sha256,
        })).collect::<Vec<_>>(),
        "weights_sha256": digest,
    });
    let mut side = out.as_os_str().to_owned();
    side.push(".json");
    checkpoint::write_atomically(
        Path::new(&side),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    say!("wrote {} ({spec}, {})", out.display(), init.label());
    say!("weights sha256: {digest}");
    Ok(())
}

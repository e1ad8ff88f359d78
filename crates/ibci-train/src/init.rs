//! Network initialisation for `ibci train` and `ibci init`: the torch.nn.init schemes, LSUV,
//! and the neuron campaign (`--init ibci`), all drawing from the one seeded generator.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_campaign::{
    campaign, Base, CampaignOptions, CandidateScale, Criteria, Dist, LayerReport, ScoreSource,
    Variant,
};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::checkpoint;
use ibci_nn::init::{below, BiasInit, FanMode, Nonlinearity, WeightInit};
use ibci_nn::lsuv::{lsuv, LsuvConfig};
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::OwnedSplit;
use ibci_nn::train::Split;
use ibci_nn::{ArchSpec, Mlp};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};

use crate::train::{encode_weights, setup, NetArgs};

/// The initialisation flags shared by `ibci train` and `ibci init`.
#[derive(clap::Args, Clone, Debug)]
pub struct InitArgs {
    /// Weight initialiser: a torch.nn.init scheme for every layer, LSUV (pre-initialised
    /// orthonormally, or with Xavier/He), or `ibci`, the neuron campaign.
    #[arg(long, default_value = "he-normal", value_parser = [
        "xavier-uniform", "xavier-normal", "he-uniform", "he-normal", "orthogonal", "torch-default",
        "lsuv", "lsuv-xavier", "lsuv-he", "ibci"
    ])]
    pub init: String,
    /// Training images LSUV measures variances on (default: --batch, or 100).
    #[arg(long)]
    pub lsuv_batch: Option<usize>,
    /// IBCI: the distribution candidates are drawn from.
    #[arg(long, default_value = "he", value_parser = ["he", "xavier"])]
    pub base: String,
    /// IBCI: normal or uniform candidates (same standard deviation).
    #[arg(long, default_value = "normal", value_parser = ["normal", "uniform"])]
    pub candidate_dist: String,
    /// IBCI: `reference` (the official code, defects fixed) or `paper` (Algorithm 1).
    #[arg(long, default_value = "reference", value_parser = ["reference", "paper"])]
    pub variant: String,
    /// IBCI: both criteria, or one (the paper's Table 2 ablations).
    #[arg(long, default_value = "both", value_parser = ["both", "tie", "iim"])]
    pub criteria: String,
    /// IBCI: the IIM weight of each layer, comma-separated, in the PAPER's convention (the
    /// reference code's `--alphas 0 1` is `--alpha 1,0`). Default: 1 at the first layer,
    /// falling linearly to 0 at the output.
    #[arg(long)]
    pub alpha: Option<String>,
    /// IBCI: candidates per neuron, `R` for every layer or `R_HIDDEN,R_OUTPUT` (default:
    /// 5 for reference, 10,20 for paper).
    #[arg(long)]
    pub candidates: Option<String>,
    /// IBCI: at most this many candidates per layer (default: 1000 for reference, 4096 for
    /// paper).
    #[arg(long)]
    pub max_candidates: Option<usize>,
    /// IBCI: `proper` fans, or `code` for the reference code's sqrt(2/C) quirk.
    #[arg(long, default_value = "proper", value_parser = ["proper", "code"])]
    pub candidate_scale: String,
    /// IBCI: score candidates on a seeded subset of this many training images (default:
    /// all).
    #[arg(long)]
    pub init_samples: Option<usize>,
    /// IBCI: `proxy` (the variant's criteria) or `mi` (estimated information: Ross's
    /// I(neuron; label) for TIE, the neuron's binned entropy for IIM).
    #[arg(long, default_value = "proxy", value_parser = ["proxy", "mi"])]
    pub score: String,
}

/// The weight initialiser named on the command line (the same for every layer), and whether
/// LSUV then rescales it: `lsuv` pre-initialises orthonormally (the LSUV paper), `lsuv-xavier`
/// and `lsuv-he` with Xavier-normal or He-normal (the IBCI paper's LSUV columns).
pub fn weight_init(name: &str) -> Result<(WeightInit, bool)> {
    let relu = Nonlinearity::Relu;
    let (base, lsuv) = match name {
        "lsuv" => ("orthogonal", true),
        "lsuv-xavier" => ("xavier-normal", true),
        "lsuv-he" => ("he-normal", true),
        other => (other, false),
    };
    let w = match base {
        "xavier-uniform" => WeightInit::XavierUniform { gain: 1.0 },
        "xavier-normal" => WeightInit::XavierNormal { gain: 1.0 },
        "he-uniform" => WeightInit::KaimingUniform { mode: FanMode::FanIn, nl: relu },
        "he-normal" => WeightInit::KaimingNormal { mode: FanMode::FanIn, nl: relu },
        "orthogonal" => WeightInit::Orthogonal { gain: 1.0 },
        "torch-default" => WeightInit::LinearDefault,
        other => bail!(
            "--init {other:?}: expected xavier-uniform, xavier-normal, he-uniform, he-normal, orthogonal, torch-default, lsuv, lsuv-xavier, lsuv-he or ibci"
        ),
    };
    Ok((w, lsuv))
}

impl InitArgs {
    /// The flags' defaults with `--init init`.
    pub fn named(init: &str) -> InitArgs {
        InitArgs {
            init: init.to_string(),
            lsuv_batch: None,
            base: "he".into(),
            candidate_dist: "normal".into(),
            variant: "reference".into(),
            criteria: "both".into(),
            alpha: None,
            candidates: None,
            max_candidates: None,
            candidate_scale: "proper".into(),
            init_samples: None,
            score: "proxy".into(),
        }
    }

    /// The campaign options these flags give (`bias` is the layers' constant bias).
    pub fn campaign_options(&self, bias: f32) -> Result<CampaignOptions> {
        let list = |flag: &str, s: &str| -> Result<Vec<f64>> {
            s.split(',')
                .map(|v| {
                    v.trim().parse::<f64>().with_context(|| {
                        format!(
                            "{flag} {s:?}: {v:?} is not a number (expected a comma-separated list)"
                        )
                    })
                })
                .collect()
        };
        let ratios = match &self.candidates {
            None => None,
            Some(s) => {
                let v = list("--candidates", s)?;
                let ok = |r: f64| r >= 1.0 && r.fract() == 0.0;
                match v[..] {
                    [r] if ok(r) => Some((r as usize, r as usize)),
                    [h, o] if ok(h) && ok(o) => Some((h as usize, o as usize)),
                    _ => bail!(
                        "--candidates {s:?}: expected R or R_HIDDEN,R_OUTPUT, whole numbers of at least 1"
                    ),
                }
            }
        };
        if self.max_candidates == Some(0) {
            bail!("--max-candidates must be at least 1");
        }
        Ok(CampaignOptions {
            variant: match self.variant.as_str() {
                "paper" => Variant::Paper,
                _ => Variant::Reference,
            },
            base: match self.base.as_str() {
                "xavier" => Base::Xavier,
                _ => Base::He,
            },
            dist: match self.candidate_dist.as_str() {
                "uniform" => Dist::Uniform,
                _ => Dist::Normal,
            },
            scale: match self.candidate_scale.as_str() {
                "code" => CandidateScale::Code,
                _ => CandidateScale::Proper,
            },
            criteria: match self.criteria.as_str() {
                "tie" => Criteria::Tie,
                "iim" => Criteria::Iim,
                _ => Criteria::Both,
            },
            alpha: self
                .alpha
                .as_deref()
                .map(|s| list("--alpha", s))
                .transpose()?,
            ratios,
            max_candidates: self.max_candidates,
            bias,
            init_samples: self.init_samples,
            score: match self.score.as_str() {
                "mi" => ScoreSource::Mi,
                _ => ScoreSource::Proxy,
            },
            ..CampaignOptions::default()
        })
    }

    /// A short name for directory names: the init, plus the campaign's non-default choices.
    pub fn label(&self) -> String {
        if self.init != "ibci" {
            return self.init.clone();
        }
        let mut s = format!("ibci-{}", self.base);
        if self.variant != "reference" {
            s += &format!("-{}", self.variant);
        }
        if self.criteria != "both" {
            s += &format!("-{}", self.criteria);
        }
        if self.score != "proxy" {
            s += &format!("-{}", self.score);
        }
        s
    }

    /// Every flag that changes the initial weights, for fingerprints and manifests.
    pub fn describe(&self) -> Value {
        if self.init == "ibci" {
            let mut v = json!({
                "init": "ibci",
                "base": self.base,
                "candidate_dist": self.candidate_dist,
                "variant": self.variant,
                "criteria": self.criteria,
                "alpha": self.alpha,
                "candidates": self.candidates,
                "max_candidates": self.max_candidates,
                "candidate_scale": self.candidate_scale,
                "init_samples": self.init_samples,
            });
            // Only when not the default, so the configurations (and reproduce's cache keys)
            // of proxy-scored runs stay as they were before the flag existed.
            if self.score != "proxy" {
                v["score"] = json!(self.score);
            }
            v
        } else if self.init.starts_with("lsuv") {
            json!({ "init": self.init, "lsuv_batch": self.lsuv_batch })
        } else {
            json!({ "init": self.init })
        }
    }
}

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
    let par = if pool.current_num_threads() == 1 {
        Par::Seq
    } else {
        Par::Rayon
    };
    let classes = spec.outputs();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    if args.init == "ibci" {
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
    }
    let (init, with_lsuv) = weight_init(&args.init)?;
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
    let mut idx: Vec<usize> = (0..train.y.len()).collect();
    for i in 0..n {
        let j = i + below(&mut rng, (idx.len() - i) as u64) as usize;
        idx.swap(i, j);
    }
    let batch = gather_rows(train.x, idx[..n].iter().copied());
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
    let (spec, threads, pool, _, data) = setup(&args.net)?;
    let train = OwnedSplit::from_mnist(&data.train);
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

//! `ibci train`: trains an MLP on an MNIST-style data set and writes the run's record.
//!
//! Output directory: `metrics.csv` (one row per epoch, epoch 0 = untrained, written as the
//! run goes), `manifest.json` (full configuration, seed, RNG streams, git commit, CPU and
//! kernel path, threads, data digests, results and the results digest), and
//! `weights.safetensors` (PyTorch layout; the results digest is this file's SHA-256).
//!
//! Random streams, all from the one `--seed`: the initialisation draws from
//! `Xoshiro256PlusPlus::seed_from_u64(seed)`; epoch e shuffles from
//! [`ibci_nn::train::shuffle_stream`]`(seed, e)` (the seeded generator after `jump()` and e
//! `long_jump()`s), so the streams never overlap, changing the initialiser does not change
//! the shuffles, and a resumed run needs no saved RNG state.
//!
//! After every epoch `checkpoint.bin` is written atomically (see [`ibci_nn::checkpoint`]).
//! `--resume` continues from it with bit-identical results; only `--epochs` may differ from
//! the original flags (to extend a run), and a corrupt or mismatched checkpoint is an error.

use std::fs::{self, File};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_idx::mnist::{self};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_nn::checkpoint::{self, Checkpoint};
use ibci_nn::train::{epoch_zero, shuffle_stream, EpochMetrics, OwnedSplit, SgdState, Trainer};
use ibci_nn::{ArchSpec, TrainConfig};
use serde::Serialize;
use serde_json::Value;

use crate::args::{at_least_one, momentum, non_negative, positive, DistArg, NetArgs, ScaleArg};
use crate::infoplane::renyi::{RenyiSettings, Sigma};
use crate::infoplane::run::{PlaneRecord, PlaneRun};
use crate::infoplane::{self, Estimator};
use crate::init::initialise;
use crate::init_report::InitReport;
use crate::lock::OutLock;
use crate::manifest::{Data, Manifest, Provenance};
use crate::safetensors::encode_weights;
use crate::setup::Setup;

/// `ibci train` flags (defaults: the reference code's protocol).
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Epochs to train.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub epochs: usize,
    /// Learning rate (finite, above 0).
    #[arg(long, default_value_t = 0.1, value_parser = positive, allow_negative_numbers = true)]
    pub lr: f32,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    pub batch: usize,
    /// SGD momentum, in [0, 1).
    #[arg(long, default_value_t = 0.0, value_parser = momentum, allow_negative_numbers = true)]
    pub momentum: f32,
    /// L2 weight decay, at least 0.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative, allow_negative_numbers = true)]
    pub weight_decay: f32,
    /// Output directory (default: runs/ARCH-INIT-seedSEED).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its checkpoint (same flags; --epochs may grow).
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Replace what --out holds even if it is another run's.
    #[arg(long)]
    pub force: bool,
    /// Record every layer's I(X;T) and I(T;Y) after every epoch (binning and KDE bounds) in
    /// infoplane.csv, and draw infoplane.svg and infoplane-kde.svg.
    #[arg(long)]
    pub infoplane: bool,
    /// Test images the information plane is measured on (a fixed seeded subset).
    #[arg(long, default_value_t = 5000, value_parser = at_least_one)]
    pub infoplane_samples: usize,
    /// Bin width of the binned estimates (activation units).
    #[arg(long, default_value_t = 0.5)]
    pub infoplane_bin_width: f64,
    /// Noise variance of the KDE bounds.
    #[arg(long, default_value_t = 0.1)]
    pub infoplane_noise: f64,
    /// The estimators the plane is measured with, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "binning,kde",
        requires = "infoplane"
    )]
    pub infoplane_estimator: Vec<Estimator>,
    /// The Rényi estimator's order α (Yu et al.'s 1.01 by default; 1 is von Neumann's).
    #[arg(long, value_parser = positive_f64, requires = "infoplane")]
    pub renyi_alpha: Option<f64>,
    /// The Rényi estimator's kernel widths: "aligned" (each variable's width best aligned
    /// with the labels' kernel, Wickstrøm et al.; the default) or one fixed width.
    #[arg(long, requires = "infoplane")]
    pub renyi_sigma: Option<Sigma>,
    /// Images the Rényi estimator measures: the first N of the plane's (default 1000, or all
    /// of them if fewer); each point costs two N x N eigenvalue problems.
    #[arg(long, value_parser = at_least_one, requires = "infoplane")]
    pub renyi_samples: Option<usize>,
}

/// The Rényi estimator's defaults: the published α and kernel-width rule, 1,000 images.
pub const RENYI_ALPHA: f64 = 1.01;
/// Images the Rényi estimator measures by default.
pub const RENYI_SAMPLES: usize = 1000;

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a finite number above 0")),
    }
}

impl TrainArgs {
    /// `--infoplane`'s settings; a usage error when a --renyi-* flag is given without the
    /// Rényi estimator (it would be ignored).
    fn plane(&self) -> Result<Option<infoplane::Settings>> {
        let renyi = self.infoplane_estimator.contains(&Estimator::Renyi);
        if !renyi {
            for (given, flag) in [
                (self.renyi_alpha.is_some(), "--renyi-alpha"),
                (self.renyi_sigma.is_some(), "--renyi-sigma"),
                (self.renyi_samples.is_some(), "--renyi-samples"),
            ] {
                if given {
                    return Err(crate::usage::usage(anyhow::anyhow!(
                        "{flag} is for the Rényi estimator: add renyi to --infoplane-estimator"
                    )));
                }
            }
        }
        if !self.infoplane {
            return Ok(None);
        }
        let settings = infoplane::Settings {
            samples: self.infoplane_samples,
            subset_seed: INFOPLANE_SEED,
            bin_width: self.infoplane_bin_width,
            noise_var: self.infoplane_noise,
            binning: true,
            kde: true,
            kde_version: ibci_mi::kde::VERSION,
            renyi: None,
        };
        let rs = RenyiSettings {
            samples: self
                .renyi_samples
                .unwrap_or(RENYI_SAMPLES.min(self.infoplane_samples)),
            alpha: self.renyi_alpha.unwrap_or(RENYI_ALPHA),
            sigma: self.renyi_sigma.unwrap_or(Sigma::Aligned),
        };
        Ok(Some(
            settings.with_estimators(&self.infoplane_estimator, rs),
        ))
    }
}

/// The seed of the information plane's test subset: one fixed subset for every run, so
/// planes of different runs are measured on the same images.
pub const INFOPLANE_SEED: u64 = 0x1f0_91a7e;

/// Runs `ibci train`.
pub fn run(args: &TrainArgs, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    let plane_settings = args.plane()?;
    let Setup {
        spec,
        threads,
        pool,
        par,
        data,
    } = Setup::new(&args.net)?;
    let fingerprint = fingerprint(args, &spec, &data);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(args, &fingerprint));
    fs::create_dir_all(&out).with_context(|| format!("creating --out {}", out.display()))?;
    let _lock = OutLock::take(&out.join(".ibci.lock"), &format!("--out {}", out.display()))?;

    let (train_split, test_split) = (
        OwnedSplit::from_images(
            data.train.images_f32(),
            data.train.dim(),
            &data.train.labels,
        ),
        OwnedSplit::from_images(data.test.images_f32(), data.test.dim(), &data.test.labels),
    );
    let (train, test) = (train_split.view(), test_split.view());

    let ckpt_path = out.join("checkpoint.bin");
    let cfg = TrainConfig {
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
    };

    // A fresh run, or the state of the checkpoint being resumed.
    let mut init_report = None;
    let (mut mlp, mut state, mut history) = if args.resume {
        if !ckpt_path.exists() {
            bail!(
                "--resume: no checkpoint at {}; run without --resume to start",
                ckpt_path.display()
            );
        }
        let c = checkpoint::load(&ckpt_path, &fingerprint).context("--resume")?;
        if c.mlp.spec() != spec || c.history.len() as u64 != c.epoch + 1 {
            bail!(
                "--resume: {} does not hold a consistent {spec} network",
                ckpt_path.display()
            );
        }
        if c.epoch > args.epochs as u64 {
            return Err(crate::usage::usage(anyhow::anyhow!(
                "--resume --epochs {}: the checkpoint in {} is already at epoch {}; --epochs \
                 may only stay or grow",
                args.epochs,
                out.display(),
                c.epoch
            )));
        }
        eprintln!(
            "ibci train: resuming {} after epoch {}",
            out.display(),
            c.epoch
        );
        (c.mlp, c.state, c.history)
    } else {
        if ckpt_path.exists() {
            // Another run's directory is not overwritten by accident.
            match checkpoint::load(&ckpt_path, &fingerprint) {
                Ok(_) => {}
                Err(e) if !args.force => bail!(
                    "--out {} holds another run ({:#}); pass --force to replace it, or choose \
                     another --out",
                    out.display(),
                    anyhow::Error::from(e)
                ),
                Err(_) => {}
            }
            eprintln!(
                "ibci train: starting afresh in {} (its checkpoint is replaced; --resume would continue it)",
                out.display()
            );
        } else if out.join("manifest.json").exists() && !args.force {
            // A finished run without its checkpoint: nothing tells whose it is. (A run that
            // failed before its first checkpoint leaves only metrics.csv, which is replaced.)
            bail!(
                "--out {} holds a finished run without a checkpoint; pass --force to replace \
                 it, or choose another --out",
                out.display()
            );
        }
        let (mlp, report) = initialise(
            &args.net.init,
            &spec,
            args.net.bias,
            args.net.seed,
            args.batch,
            train,
            &pool,
            true,
        )?;
        init_report = Some(report);
        let state = SgdState::new(&mlp, cfg.momentum);
        (mlp, state, Vec::new())
    };

    let metrics_path = out.join("metrics.csv");
    let mut csv = File::create(&metrics_path)
        .with_context(|| format!("creating {}", metrics_path.display()))?;
    writeln!(csv, "epoch,train_loss,train_acc,test_loss,test_err,seconds")?;
    let mut record = |m: &EpochMetrics| -> Result<()> {
        writeln!(
            csv,
            "{},{:.6},{:.6},{:.6},{:.6},{:.3}",
            m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_err, m.seconds
        )?;
        csv.flush()?;
        Ok(())
    };
    let tty = std::io::stderr().is_terminal();
    eprintln!(
        "ibci train: {spec}, init {}, seed {}, lr {}, batch {}, {} epoch{}, {threads} thread(s), kernel path {}",
        args.net.init.label(),
        args.net.seed,
        args.lr,
        args.batch,
        args.epochs,
        if args.epochs == 1 { "" } else { "s" },
        ibci_kernels::KernelPath::default_path()
    );
    if history.is_empty() {
        let m0 = pool.install(|| epoch_zero(&mlp, test, par));
        history.push(m0);
    }
    // The information plane: measured after every epoch (and at epoch 0) on a fixed subset.
    if args.resume && !args.infoplane && out.join("infoplane.csv").exists() {
        return Err(crate::usage::usage(anyhow::anyhow!(
            "--resume: the run in {} measures the information plane (infoplane.csv); pass \
             --infoplane with its settings to continue it",
            out.display()
        )));
    }
    let mut plane = match plane_settings {
        Some(settings) => {
            let done = history.len() - 1;
            Some(pool.install(|| {
                PlaneRun::start(
                    settings,
                    &out,
                    args.resume,
                    done,
                    spec.layers(),
                    test,
                    &mlp,
                    par,
                )
            })?)
        }
        None => None,
    };
    for m in &history {
        record(m)?;
    }
    let resumed_from = history.len() - 1;
    let mut trainer = Trainer::new(&mlp, &cfg, par);
    for epoch in history.len()..=args.epochs {
        let mut shuffle = shuffle_stream(args.net.seed, epoch);
        let m = pool
            .install(|| trainer.epoch(&mut mlp, &mut state, train, test, epoch, &mut shuffle))
            .with_context(|| format!("run {}", out.display()))?;
        record(&m)?;
        if let Some(plane) = &mut plane {
            pool.install(|| plane.measure(&mlp, epoch, par))?;
        }
        history.push(m);
        let c = Checkpoint {
            fingerprint: fingerprint.clone(),
            epoch: epoch as u64,
            mlp,
            state,
            history,
        };
        checkpoint::save(&ckpt_path, &c)?;
        (mlp, state, history) = (c.mlp, c.state, c.history);
        progress(tty, epoch, args.epochs, &m);
    }
    if trainer.one_thread_steps() > 0 {
        say!(
            "{} steps ran on one thread: a probe found the two threads' cores far apart, where \
             a step split over them is slower (same weights either way; docs/benchmarks.md)",
            trainer.one_thread_steps()
        );
    }

    let weights = encode_weights(&mlp);
    let weights_path = out.join("weights.safetensors");
    ibci_nn::atomic::write_atomically(&weights_path, &weights)?;
    let digest = to_hex(&sha256(&weights));
    let best = history[1..]
        .iter()
        .min_by(|a, b| a.test_err.total_cmp(&b.test_err))
        .expect("at least one epoch");
    let last = history.last().expect("at least one epoch");
    let wall = start.elapsed().as_secs_f64();
    let infoplane = match plane {
        Some(plane) => {
            let train_secs: f64 = history[1..].iter().map(|m| m.seconds).sum();
            Some(plane.finish(
                &out,
                train_secs,
                format!(
                    "test images drawn by Xoshiro256PlusPlus::seed_from_u64({INFOPLANE_SEED:#x})"
                ),
            )?)
        }
        None => None,
    };
    let manifest = Manifest::new(
        Provenance {
            command: "train",
            argv: argv.to_vec(),
            threads,
            data: Data::new(&args.net.data, &data.files),
        },
        TrainRecord {
            seed: args.net.seed,
            rng: RngRecord {
                algorithm: "Xoshiro256PlusPlus (rand_xoshiro 0.7)",
                init_stream: "seed_from_u64(seed)",
                shuffle_stream_epoch_e: "seed_from_u64(seed), then jump(), then e x long_jump()",
            },
            arch: spec.widths.clone(),
            activations: spec.acts.iter().map(|a| a.name()).collect(),
            init: args.net.init.describe(),
            bias: args.net.bias,
            epochs: args.epochs,
            batch: args.batch,
            lr: args.lr,
            momentum: args.momentum,
            weight_decay: args.weight_decay,
            loss: "softmax cross-entropy, mean over the batch",
            optimizer: "SGD (torch.optim.SGD semantics)",
            train_images: data.train.len(),
            test_images: data.test.len(),
            resumed_after_epoch: args.resume.then_some(resumed_from),
        },
        TrainResults {
            min_test_err: best.test_err,
            min_test_err_epoch: best.epoch,
            final_test_err: last.test_err,
            final_epoch: last.epoch,
            untrained_test_err: history[0].test_err,
            weights_sha256: digest.clone(),
            initialisation: init_report,
            infoplane,
        },
        wall,
        (digest.clone(), "sha256 of weights.safetensors"),
    );
    ibci_nn::atomic::write_atomically(&out.join("manifest.json"), manifest.to_json()?.as_bytes())?;
    say!(
        "{}: min test error {:.2}% at epoch {}, final {:.2}% (epoch {}), wall {:.1} s",
        out.display(),
        100.0 * best.test_err,
        best.epoch,
        100.0 * last.test_err,
        last.epoch,
        wall
    );
    say!("results digest (sha256 of weights.safetensors): {digest}");
    Ok(())
}

fn progress(tty: bool, epoch: usize, epochs: usize, m: &EpochMetrics) {
    let line = format!(
        "epoch {epoch:>3}/{epochs}  train loss {:.4}  train acc {:.2}%  test error {:.2}%  ({:.2} s)",
        m.train_loss,
        100.0 * m.train_acc,
        100.0 * m.test_err,
        m.seconds
    );
    // Every epoch keeps its line; on a terminal the progress is shown beside it.
    if tty {
        let done = 20 * epoch / epochs;
        eprintln!("[{}{}] {line}", "#".repeat(done), ".".repeat(20 - done));
    } else {
        eprintln!("{line}");
    }
}

/// `runs/ARCH-INIT-seedSEED`, and a short digest of the configuration when any setting that
/// changes the results (learning rate, batch, momentum, weight decay, bias, activations, the
/// initialiser's other flags, the data) differs from the defaults: two runs with different
/// settings never share a default directory.
fn default_out(args: &TrainArgs, fingerprint: &str) -> PathBuf {
    let n = &args.net;
    let i = &n.init;
    let defaults = args.lr == 0.1
        && args.batch == 100
        && args.momentum == 0.0
        && args.weight_decay == 0.0
        && n.bias == 0.0
        && n.act.is_none()
        && n.data == Path::new("datasets/mnist")
        && i.lsuv_batch.is_none()
        && i.lsuv_tol.is_none()
        && i.alpha.is_none()
        && i.candidates.is_none()
        && i.max_candidates.is_none()
        && i.init_samples.is_none()
        && i.candidate_dist == DistArg::Normal
        && i.candidate_scale == ScaleArg::Proper;
    let mut name = format!("{}-{}-seed{}", n.arch, i.label(), n.seed);
    if !defaults {
        name += &format!("-{}", &to_hex(&sha256(fingerprint.as_bytes()))[..8]);
    }
    PathBuf::from("runs").join(name)
}

/// The configuration a checkpoint must match to be resumed: everything that changes the
/// numbers except `--epochs` (which may grow) and `--threads` (which never changes them).
fn fingerprint(args: &TrainArgs, spec: &ArchSpec, data: &mnist::Dataset) -> String {
    /// What a checkpoint must match (keys sorted, as the text checkpoints have always held).
    #[derive(Serialize)]
    struct Fingerprint {
        arch: String,
        init: Value,
        // f32 flags as their shortest round-trip text (exact, and readable in a mismatch).
        bias: String,
        seed: u64,
        lr: String,
        batch: usize,
        momentum: String,
        weight_decay: String,
        data_sha256: Vec<String>,
    }
    let f = Fingerprint {
        arch: spec.to_string(),
        init: args.net.init.describe(),
        bias: args.net.bias.to_string(),
        seed: args.net.seed,
        lr: args.lr.to_string(),
        batch: args.batch,
        momentum: args.momentum.to_string(),
        weight_decay: args.weight_decay.to_string(),
        data_sha256: data.files.iter().map(|f| f.sha256.clone()).collect(),
    };
    serde_json::to_value(f)
        .expect("records serialise")
        .to_string()
}

/// `config` of a training run's manifest.
#[derive(Serialize)]
struct TrainRecord {
    seed: u64,
    rng: RngRecord,
    arch: Vec<usize>,
    activations: Vec<&'static str>,
    init: Value,
    bias: f32,
    epochs: usize,
    batch: usize,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    loss: &'static str,
    optimizer: &'static str,
    train_images: usize,
    test_images: usize,
    /// The checkpoint's last epoch, when the run was resumed.
    resumed_after_epoch: Option<usize>,
}

/// The random streams of a run.
#[derive(Serialize)]
struct RngRecord {
    algorithm: &'static str,
    init_stream: &'static str,
    shuffle_stream_epoch_e: &'static str,
}

/// `results` of a training run's manifest.
#[derive(Serialize)]
struct TrainResults {
    min_test_err: f64,
    min_test_err_epoch: usize,
    final_test_err: f64,
    final_epoch: usize,
    untrained_test_err: f64,
    weights_sha256: String,
    /// How the network was initialised (absent when resumed).
    initialisation: Option<InitReport>,
    /// The information plane, when measured.
    infoplane: Option<PlaneRecord>,
}

//! `ibci reproduce`: the paper's Tables 1 and 2, re-run with statistics.
//!
//! A sweep is a list of runs: for each network, base initialiser (Xavier, He), method
//! (Vanilla, LSUV, IBCI, TIE only, IIM only) and seed, one training run exactly as
//! `ibci train --arch NET --init INIT --seed S --epochs E` would do it (same initialisation
//! stream, same shuffles, so the same bits). Runs execute in parallel, `--jobs` at a time
//! with `--threads-per-run` threads each; the thread counts change no result.
//!
//! Cache: each finished run is written to `OUT/runs/KEY.json`, KEY being a digest of its full
//! configuration (data digests, network, initialiser and its options, protocol, seed, subset)
//! and of [`RESULTS_REVISION`], so an interrupted sweep resumes where it stopped, a finished
//! run is never repeated, and a changed configuration is a new run.
//!
//! Outputs (a pure function of the runs, so merging shards gives the same bytes):
//! `runs.csv` (one row per run and epoch), `summary.md` (the tables), `plots/*.svg` (mean
//! test-error curves with +-1 std bands); and `manifest.json` (command, machine, timings).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ibci_idx::mnist::{self, DigestCheck, LoadOptions};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_kernels::Par;
use ibci_nn::checkpoint::write_atomically;
use ibci_nn::init::below;
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::{epoch_zero, shuffle_stream, OwnedSplit, SgdState, Split, Trainer};
use ibci_nn::{ArchSpec, TrainConfig};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{json, Value};

use crate::init::{initialise, InitArgs};
use crate::stats::{mean, std, welch95};
use crate::svg::{line_chart, Series};
use crate::train::encode_weights;

/// Bumped whenever a change to ibci changes the numbers a run produces: part of every cache
/// key, so results of older code are never mixed with new ones.
pub const RESULTS_REVISION: u32 = 1;

/// The seed of the training subset (`--train-subset`), fixed so that every run of a sweep
/// trains on the same images.
pub const SUBSET_SEED: u64 = 0x5eed_0f5a_b5e7;

/// `ibci reproduce` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// The paper's protocol: MLP-2, MLP-3 and MLP-5, 100 epochs, 5 seeds (default: the quick
    /// version: MLP-2, 20 epochs, 3 seeds).
    #[arg(long)]
    pub full: bool,
    /// Networks, comma-separated (mlp2, mlp3, mlp5 or widths like 784-100-10).
    #[arg(long)]
    pub nets: Option<String>,
    /// Epochs per run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seeds per configuration (seeds 1..=N).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Base initialisers, comma-separated: xavier, he.
    #[arg(long, default_value = "xavier,he")]
    pub bases: String,
    /// Methods, comma-separated: vanilla, lsuv, ibci, tie, iim (Table 1 is the first three,
    /// Table 2 the last three).
    #[arg(long, default_value = "vanilla,lsuv,ibci,tie,iim")]
    pub methods: String,
    /// IBCI variant for the ibci, tie and iim methods.
    #[arg(long, default_value = "reference", value_parser = ["reference", "paper"])]
    pub variant: String,
    /// `mnist` (datasets/mnist), `fashion-mnist` (/usr/share/datasets/fashion-mnist, from
    /// `apt-get install dataset-fashion-mnist`), `fashion-mnist=DIR`, or a directory.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Train on a seeded subset of this many training images (the test set stays whole).
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// Output directory (default: results/quick, results/full or results/custom).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time (default: cores / --threads-per-run).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Threads per run.
    #[arg(long, default_value_t = 1)]
    pub threads_per_run: usize,
    /// Run only shard I of N (1-based): every N-th run of the list, starting at the I-th.
    #[arg(long)]
    pub shard: Option<String>,
    /// Build the tables from these shard directories' runs instead of running anything.
    #[arg(long, num_args = 1..)]
    pub merge: Vec<PathBuf>,
}

/// The methods of the paper's tables, in table order.
const METHODS: [(&str, &str); 5] = [
    ("vanilla", "Vanilla"),
    ("lsuv", "LSUV"),
    ("ibci", "IBCI"),
    ("tie", "TIE only"),
    ("iim", "IIM only"),
];

/// The paper's Table 1 and Table 2: (base, net, method) -> (mean %, std %, epoch).
fn paper_value(base: &str, net: &str, method: &str) -> Option<(f64, f64, u32)> {
    type Cell = (f64, f64, u32);
    let rows: [(&str, &str, [Cell; 5]); 6] = [
        (
            "xavier",
            "mlp2",
            [
                (2.04, 0.03, 75),
                (2.05, 0.06, 51),
                (1.93, 0.06, 60),
                (2.04, 0.07, 58),
                (2.07, 0.09, 84),
            ],
        ),
        (
            "xavier",
            "mlp3",
            [
                (1.82, 0.05, 52),
                (1.80, 0.07, 63),
                (1.71, 0.09, 36),
                (1.82, 0.03, 43),
                (1.82, 0.05, 52),
            ],
        ),
        (
            "xavier",
            "mlp5",
            [
                (2.83, 0.16, 98),
                (3.13, 0.17, 69),
                (2.53, 0.09, 78),
                (2.68, 0.05, 82),
                (2.57, 0.09, 84),
            ],
        ),
        (
            "he",
            "mlp2",
            [
                (2.03, 0.03, 65),
                (2.00, 0.04, 70),
                (1.93, 0.07, 57),
                (2.07, 0.06, 59),
                (2.034, 0.09, 62),
            ],
        ),
        (
            "he",
            "mlp3",
            [
                (1.83, 0.05, 54),
                (1.86, 0.07, 71),
                (1.73, 0.04, 35),
                (1.83, 0.07, 42),
                (1.856, 0.05, 55),
            ],
        ),
        (
            "he",
            "mlp5",
            [
                (2.76, 0.07, 80),
                (2.90, 0.12, 77),
                (2.62, 0.08, 73),
                (2.89, 0.11, 74),
                (2.67, 0.12, 86),
            ],
        ),
    ];
    let m = METHODS.iter().position(|(k, _)| *k == method)?;
    rows.iter()
        .find(|(b, n, _)| *b == base && *n == net)
        .map(|(_, _, v)| v[m])
}

/// Everything that makes a sweep (the same for every run of it).
#[derive(Clone, Debug)]
struct Sweep {
    name: String,
    dataset: String,
    data_dir: PathBuf,
    digests: DigestCheck,
    nets: Vec<String>,
    bases: Vec<String>,
    methods: Vec<String>,
    variant: String,
    epochs: usize,
    seeds: usize,
    train_subset: Option<usize>,
}

/// One run of a sweep.
#[derive(Clone, Debug)]
struct Run {
    net: String,
    base: String,
    method: String,
    seed: u64,
}

impl Sweep {
    fn from_args(a: &ReproduceArgs) -> Result<Sweep> {
        let custom = a.nets.is_some() || a.epochs.is_some() || a.seeds.is_some();
        let name = if a.full {
            "full"
        } else if custom {
            "custom"
        } else {
            "quick"
        };
        let (nets, epochs, seeds) = if a.full {
            ("mlp2,mlp3,mlp5", 100, 5)
        } else {
            ("mlp2", 20, 3)
        };
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let nets = list(a.nets.as_deref().unwrap_or(nets));
        for n in &nets {
            ArchSpec::parse(n).with_context(|| format!("--nets: {n:?}"))?;
        }
        let bases = list(&a.bases);
        if let Some(b) = bases.iter().find(|b| *b != "xavier" && *b != "he") {
            bail!("--bases: {b:?} is not xavier or he");
        }
        let methods = list(&a.methods);
        if let Some(m) = methods
            .iter()
            .find(|m| !METHODS.iter().any(|(k, _)| k == m))
        {
            bail!("--methods: {m:?} is not one of vanilla, lsuv, ibci, tie, iim");
        }
        if nets.is_empty() || bases.is_empty() || methods.is_empty() {
            bail!("--nets, --bases and --methods must each name at least one entry");
        }
        let epochs = a.epochs.unwrap_or(epochs);
        let seeds = a.seeds.unwrap_or(seeds);
        if epochs == 0 || seeds == 0 {
            bail!("--epochs and --seeds must be at least 1");
        }
        let (dataset, data_dir, digests) = match a.dataset.as_str() {
            "mnist" => (
                "mnist".to_string(),
                PathBuf::from("datasets/mnist"),
                DigestCheck::KnownMnist,
            ),
            "fashion-mnist" => (
                "fashion-mnist".to_string(),
                PathBuf::from("/usr/share/datasets/fashion-mnist"),
                DigestCheck::Skip,
            ),
            other => match other.strip_prefix("fashion-mnist=") {
                Some(dir) => (
                    "fashion-mnist".to_string(),
                    PathBuf::from(dir),
                    DigestCheck::Skip,
                ),
                None => (other.to_string(), PathBuf::from(other), DigestCheck::Skip),
            },
        };
        Ok(Sweep {
            name: name.to_string(),
            dataset,
            data_dir,
            digests,
            nets,
            bases,
            methods,
            variant: a.variant.clone(),
            epochs,
            seeds,
            train_subset: a.train_subset,
        })
    }

    /// The run list, in a fixed order: net, base, method, seed.
    fn runs(&self) -> Vec<Run> {
        let mut v = Vec::new();
        for net in &self.nets {
            for base in &self.bases {
                for (method, _) in METHODS {
                    if !self.methods.iter().any(|m| m == method) {
                        continue;
                    }
                    for seed in 1..=self.seeds as u64 {
                        v.push(Run {
                            net: net.clone(),
                            base: base.clone(),
                            method: method.to_string(),
                            seed,
                        });
                    }
                }
            }
        }
        v
    }

    /// The sweep's identity (what shards must agree on), data digests included.
    fn describe(&self, data_sha256: &[String]) -> Value {
        json!({
            "dataset": self.dataset,
            "data_sha256": data_sha256,
            "nets": self.nets,
            "bases": self.bases,
            "methods": self.methods,
            "variant": self.variant,
            "epochs": self.epochs,
            "seeds": self.seeds,
            "train_subset": self.train_subset,
            "subset_seed": self.train_subset.map(|_| SUBSET_SEED),
            "protocol": protocol(),
            "results_revision": RESULTS_REVISION,
        })
    }

    fn init_args(&self, run: &Run) -> InitArgs {
        let mut a = InitArgs::named(match (run.method.as_str(), run.base.as_str()) {
            ("vanilla", "xavier") => "xavier-normal",
            ("vanilla", _) => "he-normal",
            ("lsuv", "xavier") => "lsuv-xavier",
            ("lsuv", _) => "lsuv-he",
            _ => "ibci",
        });
        if a.init == "ibci" {
            a.base = run.base.clone();
            a.variant = self.variant.clone();
            a.criteria = match run.method.as_str() {
                "tie" => "tie",
                "iim" => "iim",
                _ => "both",
            }
            .to_string();
        }
        a
    }

    /// A run's full configuration and its cache key.
    fn run_config(&self, run: &Run, data_sha256: &[String]) -> (Value, String) {
        let cfg = json!({
            "data_sha256": data_sha256,
            "train_subset": self.train_subset,
            "subset_seed": self.train_subset.map(|_| SUBSET_SEED),
            "net": ArchSpec::parse(&run.net).map(|s| s.to_string()).unwrap_or_default(),
            "base": run.base,
            "method": run.method,
            "init": self.init_args(run).describe(),
            "seed": run.seed,
            "epochs": self.epochs,
            "protocol": protocol(),
            "results_revision": RESULTS_REVISION,
        });
        let key = to_hex(&sha256(cfg.to_string().as_bytes()))[..20].to_string();
        (cfg, key)
    }
}

/// The training protocol every run uses: the reference code's.
fn protocol() -> Value {
    let c = TrainConfig::default();
    json!({
        "optimizer": "SGD", "lr": c.lr, "batch": c.batch, "momentum": c.momentum,
        "weight_decay": c.weight_decay, "bias": 0.0, "lsuv_batch": c.batch,
        "pixels": "[0, 1] (x / 255)", "loss": "softmax cross-entropy, mean over the batch",
    })
}

/// One finished run, as cached.
#[derive(Clone, Debug)]
struct RunResult {
    /// (epoch, train_loss, train_acc, test_loss, test_err), epoch 0 = untrained.
    history: Vec<[f64; 5]>,
}

impl RunResult {
    fn from_json(v: &Value) -> Option<RunResult> {
        let history = v["history"]
            .as_array()?
            .iter()
            .map(|row| {
                let r = row.as_array()?;
                let mut out = [0f64; 5];
                for (o, x) in out.iter_mut().zip(r) {
                    *o = x.as_f64().unwrap_or(f64::NAN);
                }
                (r.len() == 5).then_some(out)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(RunResult { history })
    }

    /// (minimal test error, its epoch) over epochs 1.. (the first minimum).
    fn best(&self) -> (f64, f64) {
        self.history[1..]
            .iter()
            .fold((f64::INFINITY, 0.0), |(b, e), r| {
                if r[4] < b {
                    (r[4], r[0])
                } else {
                    (b, e)
                }
            })
    }

    fn last(&self) -> f64 {
        self.history.last().map_or(f64::NAN, |r| r[4])
    }
}

/// Loads the sweep's data set (and the training subset).
fn load_data(sweep: &Sweep) -> Result<(OwnedSplit, OwnedSplit, Vec<String>)> {
    let data = mnist::load(
        &sweep.data_dir,
        &LoadOptions {
            classes: 10,
            digests: sweep.digests,
        },
    )
    .with_context(|| {
        let hint = if sweep.dataset == "fashion-mnist" {
            " (install it with: apt-get install dataset-fashion-mnist)"
        } else {
            ""
        };
        format!("loading --dataset {}{hint}", sweep.data_dir.display())
    })?;
    let digests: Vec<String> = data.files.iter().map(|f| f.sha256.clone()).collect();
    let mut train = OwnedSplit::from_mnist(&data.train);
    if let Some(n) = sweep.train_subset {
        if n == 0 || n > train.y.len() {
            bail!(
                "--train-subset {n}: expected 1 to {} (the training set's size)",
                train.y.len()
            );
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(SUBSET_SEED);
        let mut idx: Vec<usize> = (0..train.y.len()).collect();
        for i in 0..n {
            let j = i + below(&mut rng, (idx.len() - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(n);
        train = OwnedSplit::new(
            gather_rows(train.x.as_ref(), idx.iter().copied()),
            idx.iter().map(|&i| train.y[i]).collect(),
        );
    }
    Ok((train, OwnedSplit::from_mnist(&data.test), digests))
}

/// Trains one run; returns its cache record.
fn execute(
    sweep: &Sweep,
    run: &Run,
    cfg: &Value,
    train: Split<'_>,
    test: Split<'_>,
    pool: &rayon::ThreadPool,
) -> Result<Value> {
    let start = Instant::now();
    let spec = ArchSpec::parse(&run.net)?;
    let tc = TrainConfig::default();
    let (mut mlp, _) = initialise(
        &sweep.init_args(run),
        &spec,
        0.0,
        run.seed,
        tc.batch,
        train,
        pool,
        false,
    )?;
    let par = if pool.current_num_threads() == 1 {
        Par::Seq
    } else {
        Par::Rayon
    };
    let mut state = SgdState::new(&mlp, tc.momentum);
    let m0 = pool.install(|| epoch_zero(&mlp, test, par));
    let mut history = vec![[0.0, f64::NAN, f64::NAN, m0.test_loss, m0.test_err]];
    let mut trainer = Trainer::new(&mlp, &tc, par);
    for epoch in 1..=sweep.epochs {
        let mut shuffle = shuffle_stream(run.seed, epoch);
        let m =
            pool.install(|| trainer.epoch(&mut mlp, &mut state, train, test, epoch, &mut shuffle))?;
        history.push([
            epoch as f64,
            m.train_loss,
            m.train_acc,
            m.test_loss,
            m.test_err,
        ]);
    }
    let digest = to_hex(&sha256(&encode_weights(&mlp)));
    Ok(json!({
        "config": cfg,
        "history": history.iter().map(|r| r.iter().map(|&v| if v.is_finite() { json!(v) } else { Value::Null }).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "weights_sha256": digest,
        "seconds": start.elapsed().as_secs_f64(),
    }))
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// The result cached under `dir/runs/KEY.json`, if that file parses, was made with `cfg` and
/// holds every epoch.
fn cached(dir: &Path, cfg: &Value, key: &str, epochs: usize) -> Option<RunResult> {
    let v = read_json(&dir.join("runs").join(format!("{key}.json")))?;
    (v["config"] == *cfg)
        .then(|| RunResult::from_json(&v))
        .flatten()
        .filter(|r| r.history.len() == epochs + 1)
}

/// Runs `ibci reproduce`.
pub fn run(args: &ReproduceArgs, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    let sweep = Sweep::from_args(args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&sweep.name));
    let runs_dir = out.join("runs");
    fs::create_dir_all(&runs_dir).with_context(|| format!("creating {}", runs_dir.display()))?;
    if !args.merge.is_empty() {
        return merge(args, &sweep, &out, argv);
    }
    let shard = match &args.shard {
        None => None,
        Some(s) => {
            let parsed = s
                .split_once('/')
                .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
            match parsed {
                Some((i, n)) if n >= 1 && (1..=n).contains(&i) => Some((i, n)),
                _ => bail!("--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/8"),
            }
        }
    };
    if args.threads_per_run == 0 || args.jobs == Some(0) {
        bail!("--jobs and --threads-per-run must be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or((cores / args.threads_per_run).max(1));

    let (train, test, data_sha) = load_data(&sweep)?;
    let labels = 1 + train.y.iter().chain(&test.y).copied().max().unwrap_or(0);
    for net in &sweep.nets {
        let spec = ArchSpec::parse(net)?;
        if spec.outputs() < labels || spec.inputs() != train.x.cols() {
            bail!(
                "--nets {net}: {} inputs and {} outputs, but the data have {} pixels and labels up to {}",
                spec.inputs(),
                spec.outputs(),
                train.x.cols(),
                labels - 1
            );
        }
    }
    let describe = sweep.describe(&data_sha);
    write_atomically(
        &out.join("sweep.json"),
        serde_json::to_string_pretty(&describe)?.as_bytes(),
    )?;
    let all = sweep.runs();
    let mine: Vec<usize> = (0..all.len())
        .filter(|i| shard.is_none_or(|(s, n)| i % n == s - 1))
        .collect();
    let configs: Vec<(Value, String)> =
        all.iter().map(|r| sweep.run_config(r, &data_sha)).collect();
    // Each run's result: from the cache now, or from its worker below.
    let mut results: Vec<Option<RunResult>> = vec![None; all.len()];
    for &i in &mine {
        results[i] = cached(&out, &configs[i].0, &configs[i].1, sweep.epochs);
    }
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| results[i].is_none())
        .collect();
    if sweep.name == "quick" {
        eprintln!(
            "ibci reproduce: QUICK version (MLP-2, {} epochs, {} seeds); the paper's protocol is --full (MLP-2/3/5, 100 epochs, 5 seeds)",
            sweep.epochs, sweep.seeds
        );
    }
    eprintln!(
        "ibci reproduce: {} runs in the sweep{}, {} cached, {} to run; {jobs} at a time x {} thread(s); results in {}",
        all.len(),
        shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n}: {})", mine.len())),
        mine.len() - todo.len(),
        todo.len(),
        args.threads_per_run,
        out.display()
    );

    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<Value>)>();
    let (trv, tev) = (train.view(), test.view());
    let run_start = Instant::now();
    let mut failure = None;
    std::thread::scope(|s| {
        for _ in 0..jobs.min(todo.len()) {
            let tx = tx.clone();
            let (next, todo, all, configs, sweep) = (&next, &todo, &all, &configs, &sweep);
            let threads = args.threads_per_run;
            s.spawn(move || {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send((usize::MAX, Err(e.into())));
                        return;
                    }
                };
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = todo.get(k) else { break };
                    let r = execute(sweep, &all[i], &configs[i].0, trv, tev, &pool);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        // Stop taking runs after a failure; the others finish theirs.
                        next.store(todo.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, r) in rx {
            let v = match r {
                Ok(v) => v,
                Err(e) => {
                    let what = all.get(i).map_or("starting a worker".to_string(), |r| {
                        format!("run {} {} {} seed {}", r.net, r.base, r.method, r.seed)
                    });
                    failure.get_or_insert(e.context(what));
                    continue;
                }
            };
            let path = runs_dir.join(format!("{}.json", configs[i].1));
            // The result as the cache holds it (numbers through their JSON text), so a
            // resumed sweep reads the same values as this one.
            let written = serde_json::to_string(&v)
                .map_err(anyhow::Error::from)
                .and_then(|t| {
                    write_atomically(&path, t.as_bytes())?;
                    RunResult::from_json(&serde_json::from_str(&t)?)
                        .context("a run's result has no epoch history")
                });
            let res = match written {
                Ok(res) => res,
                Err(e) => {
                    failure.get_or_insert(e);
                    continue;
                }
            };
            done += 1;
            let r = &all[i];
            let (best, epoch) = res.best();
            let el = run_start.elapsed().as_secs_f64();
            let eta = el / done as f64 * (todo.len() - done) as f64;
            eprintln!(
                "[{done}/{}] {} {} {} seed {}: min test error {:.2}% at epoch {epoch}, final {:.2}%  ({:.0} s; ETA {:.0} min {:02.0} s)",
                todo.len(),
                r.net,
                r.base,
                r.method,
                r.seed,
                100.0 * best,
                100.0 * res.last(),
                v["seconds"].as_f64().unwrap_or(0.0),
                (eta / 60.0).floor(),
                eta % 60.0
            );
            results[i] = Some(res);
        }
    });
    if let Some(e) = failure {
        return Err(e.context("the sweep stopped; finished runs are cached, rerun to resume"));
    }
    if let Some((i, n)) = shard {
        say!(
            "shard {i}/{n}: {} runs done in {}; build the tables with: ibci reproduce {} --merge DIR1 DIR2 ... --out DIR",
            mine.len(),
            runs_dir.display(),
            same_sweep_flags(args)
        );
        return Ok(());
    }
    let results = results
        .into_iter()
        .collect::<Option<Vec<RunResult>>>()
        .context("a run of the sweep finished without a result")?;
    write_outputs(
        &sweep,
        &describe,
        &all,
        &results,
        &out,
        argv,
        start,
        jobs,
        args.threads_per_run,
    )
}

/// The flags that define the sweep, for the merge hint.
fn same_sweep_flags(a: &ReproduceArgs) -> String {
    let mut s = Vec::new();
    if a.full {
        s.push("--full".to_string());
    }
    for (flag, v) in [
        ("--nets", &a.nets),
        ("--epochs", &a.epochs.map(|e| e.to_string())),
        ("--seeds", &a.seeds.map(|e| e.to_string())),
        ("--train-subset", &a.train_subset.map(|e| e.to_string())),
    ] {
        if let Some(v) = v {
            s.push(format!("{flag} {v}"));
        }
    }
    s.push(format!(
        "--bases {} --methods {} --variant {} --dataset {}",
        a.bases, a.methods, a.variant, a.dataset
    ));
    s.join(" ")
}

/// The results of every run of the sweep, from the runs/ folders of `dirs`.
fn collect(
    sweep: &Sweep,
    all: &[Run],
    configs: &[(Value, String)],
    dirs: &[PathBuf],
) -> Result<Vec<RunResult>> {
    let mut out = Vec::with_capacity(all.len());
    let mut missing = Vec::new();
    for (run, (cfg, key)) in all.iter().zip(configs) {
        match dirs.iter().find_map(|d| cached(d, cfg, key, sweep.epochs)) {
            Some(r) => out.push(r),
            None => missing.push(format!(
                "{} {} {} seed {}",
                run.net, run.base, run.method, run.seed
            )),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} of {} runs of the sweep have no results in {} (first: {}); run the missing shards, or the sweep itself, first",
            missing.len(),
            all.len(),
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            missing[0]
        );
    }
    Ok(out)
}

/// `--merge`: the tables from shard directories.
fn merge(args: &ReproduceArgs, sweep: &Sweep, out: &Path, argv: &[String]) -> Result<()> {
    let start = Instant::now();
    let mut data_sha: Option<Vec<String>> = None;
    for d in &args.merge {
        let v = read_json(&d.join("sweep.json")).with_context(|| {
            format!(
                "--merge {}: no readable sweep.json (is it a reproduce output directory?)",
                d.display()
            )
        })?;
        let sha: Vec<String> = v["data_sha256"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if v != sweep.describe(&sha) {
            bail!(
                "--merge {}: its sweep differs from the one these flags describe (compare its sweep.json; pass the same sweep flags as the shards)",
                d.display()
            );
        }
        if data_sha.as_ref().is_some_and(|s| *s != sha) {
            bail!(
                "--merge {}: its data differ from the other shards'",
                d.display()
            );
        }
        data_sha = Some(sha);
    }
    let data_sha = data_sha.expect("at least one --merge directory");
    let all = sweep.runs();
    let configs: Vec<(Value, String)> =
        all.iter().map(|r| sweep.run_config(r, &data_sha)).collect();
    let results = collect(sweep, &all, &configs, &args.merge)?;
    // Gather the runs into the merged directory too, so it is a complete sweep on its own.
    for (cfg_key, d) in configs
        .iter()
        .map(|(_, k)| k)
        .flat_map(|k| args.merge.iter().map(move |d| (k, d)))
    {
        let src = d.join("runs").join(format!("{cfg_key}.json"));
        let dst = out.join("runs").join(format!("{cfg_key}.json"));
        if src.exists() && !dst.exists() && src != dst {
            fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
    }
    let describe = sweep.describe(&data_sha);
    write_atomically(
        &out.join("sweep.json"),
        serde_json::to_string_pretty(&describe)?.as_bytes(),
    )?;
    write_outputs(sweep, &describe, &all, &results, out, argv, start, 0, 0)
}

/// Per (net, base, method): the runs' results in seed order.
type Cells<'a> = BTreeMap<(usize, usize, usize), Vec<&'a RunResult>>;

fn cells<'a>(sweep: &Sweep, all: &[Run], results: &'a [RunResult]) -> Cells<'a> {
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

fn net_label(n: &str) -> String {
    match n {
        "mlp2" => "MLP-2".into(),
        "mlp3" => "MLP-3".into(),
        "mlp5" => "MLP-5".into(),
        other => other.into(),
    }
}

fn base_label(b: &str) -> &'static str {
    if b == "xavier" {
        "Xavier"
    } else {
        "He"
    }
}

/// "2.04 ± 0.03 (75.0)" for a cell's minimal errors and epochs.
fn cell_text(rs: &[&RunResult]) -> (String, f64) {
    let best: Vec<f64> = rs.iter().map(|r| 100.0 * r.best().0).collect();
    let ep: Vec<f64> = rs.iter().map(|r| r.best().1).collect();
    (
        format!("{:.2} ± {:.2} ({:.1})", mean(&best), std(&best), mean(&ep)),
        mean(&best),
    )
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    sweep: &Sweep,
    describe: &Value,
    all: &[Run],
    results: &[RunResult],
    out: &Path,
    argv: &[String],
    start: Instant,
    jobs: usize,
    threads: usize,
) -> Result<()> {
    // runs.csv
    let mut csv =
        String::from("net,base,method,seed,epoch,train_loss,train_acc,test_loss,test_err\n");
    for (r, res) in all.iter().zip(results) {
        for h in &res.history {
            let f = |v: f64| {
                if v.is_finite() {
                    format!("{v}")
                } else {
                    String::new()
                }
            };
            csv += &format!(
                "{},{},{},{},{},{},{},{},{}\n",
                r.net,
                r.base,
                r.method,
                r.seed,
                h[0] as usize,
                f(h[1]),
                f(h[2]),
                f(h[3]),
                f(h[4])
            );
        }
    }
    write_atomically(&out.join("runs.csv"), csv.as_bytes())?;
    let c = cells(sweep, all, results);
    let summary = summary_md(sweep, &c);
    write_atomically(&out.join("summary.md"), summary.as_bytes())?;
    // Plots: one per network and base.
    let plots = out.join("plots");
    fs::create_dir_all(&plots)?;
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
                    "{} on {}, base init {}: test error, mean ± 1 std over {} seeds",
                    net_label(net),
                    sweep.dataset,
                    base_label(base),
                    sweep.seeds
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
    let digest = to_hex(&sha256(format!("{summary}{csv}").as_bytes()));
    let b = ibci_kernels::dispatch::build_info();
    let manifest = json!({
        "ibci_version": env!("CARGO_PKG_VERSION"),
        "git_commit": env!("IBCI_GIT_COMMIT"),
        "command": argv,
        "sweep": describe,
        "data_dir": sweep.data_dir.display().to_string(),
        "runs": all.len(),
        "jobs": jobs,
        "threads_per_run": threads,
        "cpu": {
            "build_level": crate::cpu::build_level(),
            "host_features": crate::cpu::host_simd_features(),
        },
        "kernels": { "gemm_path": b.selected.name() },
        "wall_seconds": start.elapsed().as_secs_f64(),
        "plots": plot_files,
        "results_digest": digest,
        "results_digest_of": "sha256 of summary.md followed by runs.csv",
    });
    write_atomically(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    say!("{summary}");
    say!(
        "wrote {}/summary.md, runs.csv, manifest.json and plots/ ({:.0} s); results digest {digest}",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn summary_md(sweep: &Sweep, c: &Cells<'_>) -> String {
    let mut s = String::new();
    let title = match sweep.name.as_str() {
        "quick" => {
            "the QUICK version (fewer epochs and seeds than the paper; `--full` is its protocol)"
        }
        "full" => "the paper's protocol (`--full`)",
        _ => "a custom sweep",
    };
    s += &format!("# ibci reproduce: {title}\n\n");
    let p = TrainConfig::default();
    s += &format!(
        "Dataset {}{}; networks {}; bases {}; {} epochs; seeds 1..{}; SGD lr {}, batch {}, no momentum, no weight decay, biases 0; LSUV on one batch of {} training images; IBCI variant `{}`.\n\n",
        sweep.dataset,
        sweep.train_subset.map_or(String::new(), |n| format!(" (training subset of {n} images, seed {SUBSET_SEED:#x})")),
        sweep.nets.iter().map(|n| net_label(n)).collect::<Vec<_>>().join(", "),
        sweep.bases.join(", "),
        sweep.epochs,
        sweep.seeds,
        p.lr,
        p.batch,
        p.batch,
        sweep.variant
    );
    // The paper reports MNIST only: no published value next to another data set's.
    let mnist = sweep.dataset == "mnist";
    let paper = |b: &str, n: &str, m: &str| if mnist { paper_value(b, n, m) } else { None };
    if !mnist {
        s += "The paper reports MNIST only, so the `paper` and `Δ` columns are empty.\n\n";
    }
    s += "Each cell: minimal test error % over epochs 1..E (model selection on the test set, as in the paper), mean ± sample std over seeds, and in brackets the mean epoch at which the minimum is reached (epoch e = after e passes over the training set). `paper` is the published value; `Δ` is ours minus the paper's.\n";
    let table = |s: &mut String, title: &str, methods: &[usize]| {
        let present: Vec<usize> = methods
            .iter()
            .copied()
            .filter(|&k| c.keys().any(|&(_, _, kk)| kk == k))
            .collect();
        if present.is_empty() {
            return;
        }
        *s += &format!("\n## {title}\n\n| base | net |");
        for &k in &present {
            *s += &format!(" {} | paper | Δ |", METHODS[k].1);
        }
        *s += "\n|---|---|";
        for _ in &present {
            *s += "---|---|---|";
        }
        *s += "\n";
        for (b, base) in sweep.bases.iter().enumerate() {
            for (n, net) in sweep.nets.iter().enumerate() {
                *s += &format!("| {} | {} |", base_label(base), net_label(net));
                for &k in &present {
                    match c.get(&(n, b, k)) {
                        Some(rs) => {
                            let (txt, m) = cell_text(rs);
                            match paper(base, net, METHODS[k].0) {
                                Some((pm, ps, pe)) => {
                                    // As printed: two decimals, three where the paper has three.
                                    let pt = if (pm * 100.0 - (pm * 100.0).round()).abs() > 1e-6 {
                                        format!("{pm:.3}")
                                    } else {
                                        format!("{pm:.2}")
                                    };
                                    *s += &format!(
                                        " {txt} | {pt} ± {ps:.2} ({pe}) | {:+.2} |",
                                        m - pm
                                    )
                                }
                                None => *s += &format!(" {txt} | – | – |"),
                            }
                        }
                        None => *s += " – | – | – |",
                    }
                }
                *s += "\n";
            }
        }
    };
    table(
        &mut s,
        "Table 1: minimal test error %, IBCI against the baselines",
        &[0, 1, 2],
    );
    // Confidence intervals.
    let ibci = 2;
    let mut ci = String::new();
    for (b, base) in sweep.bases.iter().enumerate() {
        for (n, net) in sweep.nets.iter().enumerate() {
            let Some(i) = c.get(&(n, b, ibci)) else {
                continue;
            };
            let ib: Vec<f64> = i.iter().map(|r| 100.0 * r.best().0).collect();
            let mut row = format!("| {} | {} |", base_label(base), net_label(net));
            let mut any = false;
            for k in [0usize, 1] {
                let Some(o) = c.get(&(n, b, k)) else {
                    row += " – | – | – |";
                    continue;
                };
                any = true;
                let other: Vec<f64> = o.iter().map(|r| 100.0 * r.best().0).collect();
                let paper = match (paper(base, net, "ibci"), paper(base, net, METHODS[k].0)) {
                    (Some(a), Some(bb)) => format!("{:+.2}", a.0 - bb.0),
                    _ => "–".into(),
                };
                match welch95(&ib, &other) {
                    Some(w) => {
                        let verdict = if w.hi < 0.0 {
                            "IBCI better"
                        } else if w.lo > 0.0 {
                            "IBCI worse"
                        } else {
                            "no significant difference"
                        };
                        row += &format!(
                            " {:+.3} [{:+.3}, {:+.3}] | {verdict} | {paper} |",
                            w.diff, w.lo, w.hi
                        );
                    }
                    None => {
                        row += &format!(
                            " {:+.3} (needs 2 seeds) | – | {paper} |",
                            mean(&ib) - mean(&other)
                        )
                    }
                }
            }
            if any {
                ci += &row;
                ci += "\n";
            }
        }
    }
    if !ci.is_empty() {
        s += "\n## IBCI minus baseline: minimal test error, percentage points, with Welch's 95% confidence interval over seeds\n\n";
        s += "| base | net | IBCI − Vanilla [95% CI] | verdict | paper | IBCI − LSUV [95% CI] | verdict | paper |\n|---|---|---|---|---|---|---|---|\n";
        s += &ci;
    }
    table(
        &mut s,
        "Table 2: minimal test error %, IBCI against single-criterion versions",
        &[2, 3, 4],
    );
    // Final-epoch errors.
    s += &format!(
        "\n## Final-epoch (epoch {}) test error %, mean ± std over seeds\n\n| base | net |",
        sweep.epochs
    );
    let present: Vec<usize> = (0..METHODS.len())
        .filter(|&k| c.keys().any(|&(_, _, kk)| kk == k))
        .collect();
    for &k in &present {
        s += &format!(" {} |", METHODS[k].1);
    }
    s += "\n|---|---|";
    for _ in &present {
        s += "---|";
    }
    s += "\n";
    for (b, base) in sweep.bases.iter().enumerate() {
        for (n, net) in sweep.nets.iter().enumerate() {
            s += &format!("| {} | {} |", base_label(base), net_label(net));
            for &k in &present {
                match c.get(&(n, b, k)) {
                    Some(rs) => {
                        let v: Vec<f64> = rs.iter().map(|r| 100.0 * r.last()).collect();
                        s += &format!(" {:.2} ± {:.2} |", mean(&v), std(&v));
                    }
                    None => s += " – |",
                }
            }
            s += "\n";
        }
    }
    s
}

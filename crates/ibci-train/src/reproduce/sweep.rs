//! A sweep: its networks, bases, methods and seeds, the runs it holds and their
//! configurations (the cache keys).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ibci_idx::mnist::{known_dataset, DigestCheck};
use ibci_idx::sha256::{sha256, to_hex};
use ibci_nn::{ArchSpec, TrainConfig};
use serde::Serialize;
use serde_json::Value;

use super::args::{names, LsuvVariant, Method, ReproduceArgs};
use super::paper::METHODS;
use super::{RESULTS_REVISION, SUBSET_SEED};
use crate::args::{flag_name, BaseArg, CriteriaArg, InitArgs, InitScheme, VariantArg};

/// Everything that makes a sweep (the same for every run of it).
#[derive(Clone, Debug)]
pub(super) struct Sweep {
    pub(super) name: String,
    pub(super) dataset: String,
    pub(super) data_dir: PathBuf,
    pub(super) digests: DigestCheck,
    pub(super) nets: Vec<String>,
    pub(super) bases: Vec<String>,
    pub(super) methods: Vec<String>,
    pub(super) variant: VariantArg,
    pub(super) epochs: usize,
    pub(super) seeds: usize,
    pub(super) train_subset: Option<usize>,
    /// The lsuv method's variant, batch and tolerance (`None`: the defaults).
    pub(super) lsuv: (LsuvVariant, Option<usize>, Option<f32>),
}

/// One run of a sweep.
#[derive(Clone, Debug)]
pub(super) struct Run {
    pub(super) net: String,
    pub(super) base: String,
    pub(super) method: String,
    pub(super) seed: u64,
}

impl Run {
    /// `NET BASE METHOD seed S`, as progress lines and errors name a run.
    pub(super) fn label(&self) -> String {
        format!(
            "{} {} {} seed {}",
            self.net, self.base, self.method, self.seed
        )
    }
}

impl Sweep {
    pub(super) fn from_args(a: &ReproduceArgs) -> Result<Sweep> {
        let custom = a.nets.is_some() || a.epochs.is_some() || a.seeds.is_some();
        let name = if a.full {
            "full"
        } else if a.decisive {
            "decisive"
        } else if custom {
            "custom"
        } else {
            "quick"
        };
        let (nets, epochs, seeds) = if a.full {
            ("mlp2,mlp3,mlp5", 100, 5)
        } else if a.decisive {
            ("mlp2,mlp3,mlp5", 100, 20)
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
        // Each network in its canonical form, so mlp2 and 784-100-10 count as the same.
        let canonical = nets
            .iter()
            .map(|n| {
                ArchSpec::parse(n)
                    .map(|s| s.to_string())
                    .with_context(|| format!("--nets: {n:?}"))
            })
            .collect::<Result<Vec<String>>>()?;
        let bases = names(
            a.bases
                .as_deref()
                .unwrap_or(&[BaseArg::Xavier, BaseArg::He]),
        );
        let default_methods: &[Method] = if a.decisive {
            &[Method::Vanilla, Method::Ibci]
        } else {
            &Method::ALL
        };
        let methods = names(a.methods.as_deref().unwrap_or(default_methods));
        for (flag, list) in [
            ("--nets", &canonical),
            ("--bases", &bases),
            ("--methods", &methods),
        ] {
            if let Some((i, dup)) = list
                .iter()
                .enumerate()
                .find(|(i, v)| list[..*i].contains(v))
            {
                bail!("{flag}: {dup:?} is named twice (entry {})", i + 1);
            }
        }
        if nets.is_empty() || bases.is_empty() || methods.is_empty() {
            bail!("--nets, --bases and --methods must each name at least one entry");
        }
        let epochs = a.epochs.unwrap_or(epochs);
        let seeds = a.seeds.unwrap_or(seeds);
        if epochs == 0 || seeds == 0 {
            bail!("--epochs and --seeds must be at least 1");
        }
        let (dataset, data_dir, digests) = match a.dataset.as_deref().unwrap_or("mnist") {
            "mnist" => (
                "mnist".to_string(),
                PathBuf::from("datasets/mnist"),
                DigestCheck::KnownMnist,
            ),
            "fashion-mnist" => (
                "fashion-mnist".to_string(),
                PathBuf::from("/usr/share/datasets/fashion-mnist"),
                DigestCheck::KnownFashionMnist,
            ),
            other => match other.strip_prefix("fashion-mnist=") {
                Some(dir) => (
                    "fashion-mnist".to_string(),
                    PathBuf::from(dir),
                    DigestCheck::KnownFashionMnist,
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
            variant: a.variant.unwrap_or(VariantArg::Reference),
            epochs,
            seeds,
            train_subset: a.train_subset,
            lsuv: (
                a.lsuv_variant.unwrap_or(LsuvVariant::Base),
                a.lsuv_batch,
                a.lsuv_tol,
            ),
        })
    }

    /// The sweep a `sweep.json` describes (as [`Sweep::describe`] wrote it).
    pub(super) fn from_record(v: &Value) -> Result<Sweep> {
        fn parse<T: ValueEnum>(v: &Value, field: &str) -> Result<Vec<T>> {
            v[field]
                .as_array()
                .with_context(|| format!("no {field:?} list"))?
                .iter()
                .map(|x| {
                    let s = x.as_str().unwrap_or_default();
                    T::from_str(s, false).map_err(|_| anyhow::anyhow!("{field}: {s:?}"))
                })
                .collect()
        }
        let strings = |field: &str| -> Result<Vec<String>> {
            Ok(v[field]
                .as_array()
                .with_context(|| format!("no {field:?} list"))?
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect())
        };
        let count = |field: &str| -> Result<usize> {
            v[field]
                .as_u64()
                .map(|n| n as usize)
                .with_context(|| format!("no {field:?} count"))
        };
        let args = ReproduceArgs {
            full: false,
            decisive: false,
            nets: Some(strings("nets")?.join(",")),
            epochs: Some(count("epochs")?),
            seeds: Some(count("seeds")?),
            bases: Some(parse(v, "bases")?),
            methods: Some(parse(v, "methods")?),
            variant: Some(
                VariantArg::from_str(v["variant"].as_str().unwrap_or_default(), false)
                    .map_err(|_| anyhow::anyhow!("variant: {}", v["variant"]))?,
            ),
            dataset: Some(v["dataset"].as_str().context("no dataset")?.to_string()),
            train_subset: v["train_subset"].as_u64().map(|n| n as usize),
            lsuv_variant: match v["lsuv_variant"].as_str() {
                Some(s) => Some(
                    LsuvVariant::from_str(s, false)
                        .map_err(|_| anyhow::anyhow!("lsuv_variant: {s:?}"))?,
                ),
                None => None,
            },
            lsuv_batch: v["lsuv_batch"].as_u64().map(|n| n as usize),
            lsuv_tol: v["lsuv_tol"].as_f64().map(|t| t as f32),
            out: None,
            jobs: None,
            threads_per_run: 1,
            shard: None,
            adopt_unchecked_cache: false,
            init_info: false,
            merge: Vec::new(),
            verify: false,
        };
        let mut sweep = Sweep::from_args(&args)?;
        if let Some(p @ ("quick" | "full" | "decisive")) = v["preset"].as_str() {
            sweep.name = p.to_string();
        }
        Ok(sweep)
    }

    /// "1 epoch" or "N epochs".
    pub(super) fn epochs_text(&self) -> String {
        match self.epochs {
            1 => "1 epoch".to_string(),
            e => format!("{e} epochs"),
        }
    }

    /// The run list, in a fixed order: net, base, method, seed.
    pub(super) fn runs(&self) -> Vec<Run> {
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

    /// Names the data by their digests when they are a known data set (MNIST found through
    /// any path is `mnist`, with the paper's columns), so every spelling of `--dataset` gives
    /// the same sweep, tables and digests, and shards merge across spellings.
    pub(super) fn name_data(&mut self, data_sha256: &[String]) {
        if let Some(name) = known_dataset(data_sha256) {
            self.dataset = name.to_string();
        }
    }

    /// The sweep's identity (what shards must agree on), data digests included (after
    /// [`Sweep::name_data`] with the same digests).
    pub(super) fn describe(&self, data_sha256: &[String]) -> Value {
        sorted(&SweepRecord {
            preset: self.name.clone(),
            dataset: self.dataset.clone(),
            data_sha256: data_sha256.to_vec(),
            nets: self.nets.clone(),
            bases: self.bases.clone(),
            methods: self.methods.clone(),
            variant: flag_name(&self.variant),
            epochs: self.epochs,
            seeds: self.seeds,
            train_subset: self.train_subset,
            subset_seed: self.train_subset.map(|_| SUBSET_SEED),
            protocol: Protocol::reference(),
            results_revision: RESULTS_REVISION,
            lsuv_variant: (self.lsuv.0 != LsuvVariant::Base).then(|| flag_name(&self.lsuv.0)),
            lsuv_batch: self.lsuv.1,
            lsuv_tol: self.lsuv.2,
        })
    }

    pub(super) fn init_args(&self, run: &Run) -> InitArgs {
        // Bases and methods were checked against these names in `from_args`.
        let base = match run.base.as_str() {
            "xavier" => BaseArg::Xavier,
            "he" => BaseArg::He,
            other => unreachable!("--bases was validated, yet holds {other:?}"),
        };
        let (init, criteria) = match (run.method.as_str(), base) {
            ("vanilla", BaseArg::Xavier) => (InitScheme::XavierNormal, CriteriaArg::Both),
            ("vanilla", BaseArg::He) => (InitScheme::HeNormal, CriteriaArg::Both),
            ("lsuv", base) => (
                match (self.lsuv.0, base) {
                    (LsuvVariant::Base, BaseArg::Xavier) => InitScheme::LsuvXavier,
                    (LsuvVariant::Base, BaseArg::He) => InitScheme::LsuvHe,
                    (LsuvVariant::Orthonormal, _) => InitScheme::Lsuv,
                    (LsuvVariant::Pytorch, _) => InitScheme::LsuvPytorch,
                    (LsuvVariant::PytorchBase, BaseArg::Xavier) => InitScheme::LsuvPytorchXavier,
                    (LsuvVariant::PytorchBase, BaseArg::He) => InitScheme::LsuvPytorchHe,
                },
                CriteriaArg::Both,
            ),
            ("ibci", _) => (InitScheme::Ibci, CriteriaArg::Both),
            ("tie", _) => (InitScheme::Ibci, CriteriaArg::Tie),
            ("iim", _) => (InitScheme::Ibci, CriteriaArg::Iim),
            (other, _) => unreachable!("--methods was validated, yet holds {other:?}"),
        };
        let mut a = InitArgs::named(init);
        if init.is_lsuv() {
            (a.lsuv_batch, a.lsuv_tol) = (self.lsuv.1, self.lsuv.2);
        }
        if init == InitScheme::Ibci {
            a.base = base;
            a.variant = self.variant;
            a.criteria = criteria;
        }
        a
    }

    /// A run's full configuration and its cache key (the SHA-256 of the configuration's JSON,
    /// keys sorted).
    pub(super) fn run_config(&self, run: &Run, data_sha256: &[String]) -> (Value, String) {
        let cfg = sorted(&RunConfig {
            data_sha256: data_sha256.to_vec(),
            train_subset: self.train_subset,
            subset_seed: self.train_subset.map(|_| SUBSET_SEED),
            net: ArchSpec::parse(&run.net)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            base: run.base.clone(),
            method: run.method.clone(),
            init: self.init_args(run).describe(),
            seed: run.seed,
            epochs: self.epochs,
            protocol: Protocol::reference(),
            results_revision: RESULTS_REVISION,
        });
        let key = to_hex(&sha256(cfg.to_string().as_bytes()))[..20].to_string();
        (cfg, key)
    }
}

/// A record as JSON with its keys sorted (serde_json's map), as the cache keys and
/// `sweep.json` have always been written.
fn sorted(record: &impl Serialize) -> Value {
    serde_json::to_value(record).expect("records serialise")
}

/// What defines a sweep (`sweep.json`, and the manifest's `config`).
#[derive(Serialize)]
struct SweepRecord {
    /// `quick`, `full`, `decisive` or `custom`: the flags' preset (it titles the tables).
    preset: String,
    dataset: String,
    data_sha256: Vec<String>,
    nets: Vec<String>,
    bases: Vec<String>,
    methods: Vec<String>,
    variant: String,
    epochs: usize,
    seeds: usize,
    train_subset: Option<usize>,
    subset_seed: Option<u64>,
    protocol: Protocol,
    results_revision: u32,
    // The lsuv method's settings, only when not the defaults (so earlier sweeps' records
    // stay as they were).
    #[serde(skip_serializing_if = "Option::is_none")]
    lsuv_variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lsuv_batch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lsuv_tol: Option<f32>,
}

/// What defines one run (hashed into its cache key).
#[derive(Serialize)]
struct RunConfig {
    data_sha256: Vec<String>,
    train_subset: Option<usize>,
    subset_seed: Option<u64>,
    net: String,
    base: String,
    method: String,
    init: Value,
    seed: u64,
    epochs: usize,
    protocol: Protocol,
    results_revision: u32,
}

/// The training protocol every run uses: the reference code's.
#[derive(Serialize)]
pub(super) struct Protocol {
    optimizer: &'static str,
    lr: f32,
    batch: usize,
    momentum: f32,
    weight_decay: f32,
    bias: f64,
    lsuv_batch: usize,
    pixels: &'static str,
    loss: &'static str,
}

impl Protocol {
    /// The reference code's protocol.
    pub(super) fn reference() -> Protocol {
        let c = TrainConfig::default();
        Protocol {
            optimizer: "SGD",
            lr: c.lr,
            batch: c.batch,
            momentum: c.momentum,
            weight_decay: c.weight_decay,
            bias: 0.0,
            lsuv_batch: c.batch,
            pixels: "[0, 1] (x / 255)",
            loss: "softmax cross-entropy, mean over the batch",
        }
    }
}

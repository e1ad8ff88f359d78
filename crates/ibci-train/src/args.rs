//! The flags `ibci train` and `ibci init` share: the network, its initialiser (every choice
//! an enum that clap parses, so an unknown value is a usage error, never a silent default),
//! the seed, the threads and the data.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ibci_campaign::{Base, CampaignOptions, CandidateScale, Criteria, Dist, ScoreSource, Variant};
use ibci_nn::init::{FanMode, Nonlinearity, WeightInit};
use serde::Serialize;
use serde_json::Value;

use crate::data::Digests;

/// Most worker threads a flag accepts (more would only spawn threads this machine cannot run).
pub const MAX_THREADS: usize = 1024;

/// `--threads`-style counts: 1 to [`MAX_THREADS`].
pub fn threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number (expected 1 to {MAX_THREADS})"))?;
    if (1..=MAX_THREADS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is out of range (expected 1 to {MAX_THREADS})"))
    }
}

/// A count of at least 1.
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?}: expected a whole number of at least 1")),
    }
}

/// A finite number above 0 (a learning rate).
pub fn positive(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a finite number above 0")),
    }
}

/// A finite number of at least 0 (weight decay).
pub fn non_negative(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a finite number of at least 0")),
    }
}

/// A number in [0, 1) (momentum).
pub fn momentum(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a number in [0, 1)")),
    }
}

/// A finite number (a bias).
pub fn finite(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{s:?}: expected a finite number")),
    }
}

/// The name clap accepts for a choice (the spelling of manifests and cache keys too).
pub fn flag_name(v: &impl ValueEnum) -> String {
    v.to_possible_value()
        .expect("no choice is hidden")
        .get_name()
        .to_string()
}

/// `--init`: a torch.nn.init scheme for every layer, LSUV on top of one, or the campaign.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitScheme {
    XavierUniform,
    XavierNormal,
    HeUniform,
    HeNormal,
    Orthogonal,
    TorchDefault,
    /// LSUV on an orthonormal start (the LSUV paper).
    Lsuv,
    /// LSUV on Xavier-normal (the IBCI paper's LSUV column).
    LsuvXavier,
    /// LSUV on He-normal (the IBCI paper's LSUV column).
    LsuvHe,
    /// The LSUV author's PyTorch code: orthonormal start, |std - 1| tested, biases shifted
    /// to a zero output mean.
    LsuvPytorch,
    /// The LSUV author's PyTorch code on Xavier-normal (its `do_orthonorm=False`).
    LsuvPytorchXavier,
    /// The LSUV author's PyTorch code on He-normal (its `do_orthonorm=False`).
    LsuvPytorchHe,
    /// The neuron campaign.
    Ibci,
}

impl InitScheme {
    /// The weight initialiser (the same for every layer) and whether LSUV then rescales it;
    /// `None` for the campaign.
    pub fn weight_init(self) -> Option<(WeightInit, bool)> {
        let he = |uniform: bool| {
            let (mode, nl) = (FanMode::FanIn, Nonlinearity::Relu);
            if uniform {
                WeightInit::KaimingUniform { mode, nl }
            } else {
                WeightInit::KaimingNormal { mode, nl }
            }
        };
        Some(match self {
            InitScheme::XavierUniform => (WeightInit::XavierUniform { gain: 1.0 }, false),
            InitScheme::XavierNormal => (WeightInit::XavierNormal { gain: 1.0 }, false),
            InitScheme::HeUniform => (he(true), false),
            InitScheme::HeNormal => (he(false), false),
            InitScheme::Orthogonal => (WeightInit::Orthogonal { gain: 1.0 }, false),
            InitScheme::TorchDefault => (WeightInit::LinearDefault, false),
            InitScheme::Lsuv => (WeightInit::Orthogonal { gain: 1.0 }, true),
            InitScheme::LsuvXavier => (WeightInit::XavierNormal { gain: 1.0 }, true),
            InitScheme::LsuvHe => (he(false), true),
            InitScheme::LsuvPytorch => (WeightInit::Orthogonal { gain: 1.0 }, true),
            InitScheme::LsuvPytorchXavier => (WeightInit::XavierNormal { gain: 1.0 }, true),
            InitScheme::LsuvPytorchHe => (he(false), true),
            InitScheme::Ibci => return None,
        })
    }

    /// Whether LSUV follows its author's PyTorch code rather than Algorithm 1.
    pub fn is_lsuv_pytorch(self) -> bool {
        matches!(
            self,
            InitScheme::LsuvPytorch | InitScheme::LsuvPytorchXavier | InitScheme::LsuvPytorchHe
        )
    }

    /// Whether LSUV rescales the initial weights.
    pub fn is_lsuv(self) -> bool {
        self.weight_init().is_some_and(|(_, lsuv)| lsuv)
    }
}

/// `--base`: the distribution IBCI's candidates are drawn from.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseArg {
    He,
    Xavier,
}

/// `--candidate-dist`: normal or uniform candidates (same standard deviation).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DistArg {
    Normal,
    Uniform,
}

/// `--variant`: the official code's campaign (defects fixed) or the paper's Algorithm 1.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantArg {
    Reference,
    Paper,
}

/// `--criteria`: both criteria, or one (the paper's Table 2 ablations).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriteriaArg {
    Both,
    Tie,
    Iim,
}

/// `--candidate-scale`: proper fans, or the reference code's sqrt(2/C) quirk.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleArg {
    Proper,
    Code,
}

/// `--score`: the variant's criteria, or estimated information.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreArg {
    Proxy,
    Mi,
}

/// Each flag's enum as the campaign's own (whose names, `ibci_campaign::Named`, the tests
/// below hold clap's to).
macro_rules! campaign_choice {
    ($($arg:ident => $lib:ident { $($v:ident),+ })+) => {$(
        impl From<$arg> for $lib {
            fn from(a: $arg) -> $lib {
                match a {
                    $($arg::$v => $lib::$v,)+
                }
            }
        }
    )+};
}

campaign_choice! {
    VariantArg => Variant { Reference, Paper }
    BaseArg => Base { He, Xavier }
    DistArg => Dist { Normal, Uniform }
    ScaleArg => CandidateScale { Proper, Code }
    CriteriaArg => Criteria { Both, Tie, Iim }
    ScoreArg => ScoreSource { Proxy, Mi }
}

/// The initialisation flags shared by `ibci train` and `ibci init`.
#[derive(clap::Args, Clone, Debug)]
pub struct InitArgs {
    /// Weight initialiser: a torch.nn.init scheme for every layer, LSUV (pre-initialised
    /// orthonormally, or with Xavier/He), or `ibci`, the neuron campaign.
    #[arg(long, value_enum, default_value_t = InitScheme::HeNormal)]
    pub init: InitScheme,
    /// Training images LSUV measures variances on (default: --batch, or 100).
    #[arg(long, value_parser = at_least_one)]
    pub lsuv_batch: Option<usize>,
    /// LSUV's tolerance, above 0: on the output variance (lsuv, lsuv-xavier, lsuv-he) or
    /// its standard deviation (lsuv-pytorch*) [default: 0.1].
    #[arg(long, value_parser = positive)]
    pub lsuv_tol: Option<f32>,
    /// IBCI: the distribution candidates are drawn from.
    #[arg(long, value_enum, default_value_t = BaseArg::He)]
    pub base: BaseArg,
    /// IBCI: normal or uniform candidates (same standard deviation).
    #[arg(long, value_enum, default_value_t = DistArg::Normal)]
    pub candidate_dist: DistArg,
    /// IBCI: `reference` (the official code, defects fixed) or `paper` (Algorithm 1).
    #[arg(long, value_enum, default_value_t = VariantArg::Reference)]
    pub variant: VariantArg,
    /// IBCI: both criteria, or one (the paper's Table 2 ablations).
    #[arg(long, value_enum, default_value_t = CriteriaArg::Both)]
    pub criteria: CriteriaArg,
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
    #[arg(long, value_parser = at_least_one)]
    pub max_candidates: Option<usize>,
    /// IBCI: `proper` fans, or `code` for the reference code's sqrt(2/C) quirk.
    #[arg(long, value_enum, default_value_t = ScaleArg::Proper)]
    pub candidate_scale: ScaleArg,
    /// IBCI: score candidates on a seeded subset of this many training images (default:
    /// all).
    #[arg(long, value_parser = at_least_one)]
    pub init_samples: Option<usize>,
    /// IBCI: `proxy` (the variant's criteria) or `mi` (estimated information: Ross's
    /// I(neuron; label) for TIE, the neuron's binned entropy for IIM).
    #[arg(long, value_enum, default_value_t = ScoreArg::Proxy)]
    pub score: ScoreArg,
}

impl InitArgs {
    /// The flags' defaults with `--init init`.
    pub fn named(init: InitScheme) -> InitArgs {
        InitArgs {
            init,
            lsuv_batch: None,
            lsuv_tol: None,
            base: BaseArg::He,
            candidate_dist: DistArg::Normal,
            variant: VariantArg::Reference,
            criteria: CriteriaArg::Both,
            alpha: None,
            candidates: None,
            max_candidates: None,
            candidate_scale: ScaleArg::Proper,
            init_samples: None,
            score: ScoreArg::Proxy,
        }
    }

    /// Flags that only apply to another initialiser are refused (they would be ignored).
    pub fn check_flags(&self) -> Result<()> {
        if self.init != InitScheme::Ibci {
            for (flag, set) in [
                ("--alpha", self.alpha.is_some()),
                ("--candidates", self.candidates.is_some()),
                ("--max-candidates", self.max_candidates.is_some()),
                ("--init-samples", self.init_samples.is_some()),
            ] {
                if set {
                    bail!(
                        "{flag} applies only with --init ibci (the initialiser is {})",
                        flag_name(&self.init)
                    );
                }
            }
        }
        for (flag, set) in [
            ("--lsuv-batch", self.lsuv_batch.is_some()),
            ("--lsuv-tol", self.lsuv_tol.is_some()),
        ] {
            if set && !self.init.is_lsuv() {
                bail!(
                    "{flag} applies only with an LSUV initialiser (lsuv, lsuv-xavier, lsuv-he, lsuv-pytorch, lsuv-pytorch-xavier, lsuv-pytorch-he; the initialiser is {})",
                    flag_name(&self.init)
                );
            }
        }
        Ok(())
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
            variant: self.variant.into(),
            base: self.base.into(),
            dist: self.candidate_dist.into(),
            scale: self.candidate_scale.into(),
            criteria: self.criteria.into(),
            alpha: self
                .alpha
                .as_deref()
                .map(|s| list("--alpha", s))
                .transpose()?,
            ratios,
            max_candidates: self.max_candidates,
            bias,
            init_samples: self.init_samples,
            score: self.score.into(),
            ..CampaignOptions::default()
        })
    }

    /// A short name for directory names: the init, plus the campaign's non-default choices.
    pub fn label(&self) -> String {
        if self.init != InitScheme::Ibci {
            return flag_name(&self.init);
        }
        let mut s = format!("ibci-{}", flag_name(&self.base));
        if self.variant != VariantArg::Reference {
            s += &format!("-{}", flag_name(&self.variant));
        }
        if self.criteria != CriteriaArg::Both {
            s += &format!("-{}", flag_name(&self.criteria));
        }
        if self.score != ScoreArg::Proxy {
            s += &format!("-{}", flag_name(&self.score));
        }
        s
    }

    /// Every flag that changes the initial weights, for fingerprints, manifests and cache
    /// keys (keys sorted: the same JSON as when these flags were strings).
    pub fn describe(&self) -> Value {
        let record = if self.init == InitScheme::Ibci {
            InitRecord::Campaign {
                init: "ibci",
                base: flag_name(&self.base),
                candidate_dist: flag_name(&self.candidate_dist),
                variant: flag_name(&self.variant),
                criteria: flag_name(&self.criteria),
                alpha: self.alpha.clone(),
                candidates: self.candidates.clone(),
                max_candidates: self.max_candidates,
                candidate_scale: flag_name(&self.candidate_scale),
                init_samples: self.init_samples,
                // Only when not the default, so the configurations (and reproduce's cache
                // keys) of proxy-scored runs stay as they were before the flag existed.
                score: (self.score != ScoreArg::Proxy).then(|| flag_name(&self.score)),
            }
        } else if self.init.is_lsuv() {
            InitRecord::Lsuv {
                init: flag_name(&self.init),
                lsuv_batch: self.lsuv_batch,
                // Only when given, so the configurations of earlier runs stay as they were.
                lsuv_tol: self.lsuv_tol,
            }
        } else {
            InitRecord::Plain {
                init: flag_name(&self.init),
            }
        };
        serde_json::to_value(record).expect("records serialise")
    }
}

/// [`InitArgs::describe`]'s record: the flags that matter for the initialiser chosen.
#[derive(Serialize)]
#[serde(untagged)]
enum InitRecord {
    Campaign {
        init: &'static str,
        base: String,
        candidate_dist: String,
        variant: String,
        criteria: String,
        alpha: Option<String>,
        candidates: Option<String>,
        max_candidates: Option<usize>,
        candidate_scale: String,
        init_samples: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        score: Option<String>,
    },
    Lsuv {
        init: String,
        lsuv_batch: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        lsuv_tol: Option<f32>,
    },
    Plain {
        init: String,
    },
}

/// The flags `ibci train` and `ibci init` share: the network, its initialiser, the seed,
/// the threads and the data.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// Widths (784-100-10) or mlp2, mlp3, mlp5.
    #[arg(long, default_value = "mlp2")]
    pub arch: String,
    /// One activation per weight layer: relu, tanh, sigmoid, identity (default: relu hidden,
    /// identity output).
    #[arg(long)]
    pub act: Option<String>,
    #[command(flatten)]
    pub init: InitArgs,
    /// Constant bias of every layer (the reference code uses 0 or 0.01).
    #[arg(long, default_value_t = 0.0, value_parser = finite, allow_negative_numbers = true)]
    pub bias: f32,
    /// The one seed every random number flows from.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads)]
    pub threads: Option<usize>,
    /// Data set directory (its training images train the network and score IBCI's
    /// candidates).
    #[arg(long, default_value = "datasets/mnist")]
    pub data: PathBuf,
    /// Which SHA-256 digests the data files are checked against.
    #[arg(long, value_enum, default_value_t = Digests::Mnist)]
    pub digests: Digests,
}

#[cfg(test)]
mod tests {
    use ibci_campaign::Named;

    use super::*;

    /// Every value of a campaign flag is spelt as the library names it (the Python package
    /// takes the library's names), and the flag offers every value the library has.
    fn spelt_as_the_library<A, L>()
    where
        A: ValueEnum + Into<L> + Copy,
        L: Named + PartialEq + std::fmt::Debug,
    {
        let mut seen = Vec::new();
        for a in A::value_variants() {
            let clap_name = a
                .to_possible_value()
                .expect("no hidden values")
                .get_name()
                .to_string();
            let lib: L = (*a).into();
            assert_eq!(clap_name, lib.name());
            seen.push(lib);
        }
        assert_eq!(seen, L::ALL);
    }

    #[test]
    fn campaign_flags_use_the_librarys_names() {
        spelt_as_the_library::<VariantArg, Variant>();
        spelt_as_the_library::<BaseArg, Base>();
        spelt_as_the_library::<DistArg, Dist>();
        spelt_as_the_library::<ScaleArg, CandidateScale>();
        spelt_as_the_library::<CriteriaArg, Criteria>();
        spelt_as_the_library::<ScoreArg, ScoreSource>();
    }
}

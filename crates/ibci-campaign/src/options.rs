//! What a campaign is asked to do: the variant, the base initialiser and its candidates, the
//! score and its criteria, and the per-layer plan derived from them.

use ibci_nn::ArchSpec;

use crate::error::CampaignError;

/// Which campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The official code's choices, defects fixed: normalised std proxies, candidates grouped
    /// by preferred class with the quota split evenly, 5x candidates capped at 1000.
    Reference,
    /// Algorithm 1 as the poster states it: one global election, Eq. 2-3's variances, 10x
    /// candidates for hidden layers and 20x for the output layer, capped at 4096.
    Paper,
}

/// The distribution candidates are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Base {
    /// He (Kaiming), fan_in, ReLU gain: std sqrt(2 / fan).
    He,
    /// Xavier (Glorot): std sqrt(2 / (fan_in + fan_out)).
    Xavier,
}

/// Normal or uniform candidates (same standard deviation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dist {
    /// N(0, std^2).
    Normal,
    /// U(-sqrt(3) std, sqrt(3) std).
    Uniform,
}

/// Which fans set the candidates' scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CandidateScale {
    /// The layer's own fans: He sqrt(2 / fan_in), Xavier sqrt(2 / (fan_in + width)).
    Proper,
    /// The reference code's fans of the `(fan_in, C)` candidate tensor as PyTorch reads
    /// them (fan_in = C, fan_out = fan_in): He sqrt(2 / C), Xavier sqrt(2 / (C + fan_in)).
    Code,
}

/// What the criteria are computed as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoreSource {
    /// The variant's proxies (standard deviations or variances).
    Proxy,
    /// Estimated information: Ross's I(neuron; label) for TIE, the binned entropy of the
    /// response for IIM (see [`crate::mi_score`]).
    Mi,
}

/// Which criteria score the candidates (the paper's Table 2 ablations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Criteria {
    /// Both, mixed by the per-layer alpha.
    Both,
    /// TIE only (alpha = 0 in every layer): "IBCI without IIM".
    Tie,
    /// IIM only (alpha = 1 in every layer): "IBCI without TIE".
    Iim,
}

/// A choice whose values have lower-case names, the ones the `ibci` command line and the
/// Python package accept (one list here, so that the two spell them alike).
pub trait Named: Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    /// The value's name.
    fn name(self) -> &'static str;

    /// The value named `s`, if one is.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == s)
    }
}

/// `Named` for each choice: its values and their names, in declaration order.
macro_rules! named {
    ($($t:ident { $($v:ident => $name:literal),+ })+) => {$(
        impl Named for $t {
            const ALL: &'static [$t] = &[$($t::$v),+];
            fn name(self) -> &'static str {
                match self {
                    $($t::$v => $name,)+
                }
            }
        }
    )+};
}

named! {
    Variant { Reference => "reference", Paper => "paper" }
    Base { He => "he", Xavier => "xavier" }
    Dist { Normal => "normal", Uniform => "uniform" }
    CandidateScale { Proper => "proper", Code => "code" }
    Criteria { Both => "both", Tie => "tie", Iim => "iim" }
    ScoreSource { Proxy => "proxy", Mi => "mi" }
}

/// Everything a campaign can be asked to do. `None` fields take the variant's default.
#[derive(Clone, Debug, PartialEq)]
pub struct CampaignOptions {
    /// Reference or paper.
    pub variant: Variant,
    /// Candidate distribution.
    pub base: Base,
    /// Normal or uniform.
    pub dist: Dist,
    /// Proper fans or the code's.
    pub scale: CandidateScale,
    /// Both criteria or one.
    pub criteria: Criteria,
    /// The IIM weight per layer, in the PAPER's convention (alpha weights IIM; the reference
    /// code's `--alphas 0 1` is `[1, 0]` here). Default: 1 at the first layer falling
    /// linearly to 0 at the output. Only with [`Criteria::Both`].
    pub alpha: Option<Vec<f64>>,
    /// Candidates per neuron: (hidden layers, output layer).
    pub ratios: Option<(usize, usize)>,
    /// Cap on the candidates of a layer.
    pub max_candidates: Option<usize>,
    /// The constant bias of every layer, in scoring and in the network alike.
    pub bias: f32,
    /// Initialisation samples: all (None) or a seeded subset of this size.
    pub init_samples: Option<usize>,
    /// Proxies (the variant's form) or estimated information (`--score mi`).
    pub score: ScoreSource,
    /// Bytes the candidates' responses may occupy to be kept for propagation (the elected
    /// neurons' outputs are then copied, not recomputed); above it they are streamed and
    /// the propagation recomputes. The results are the same bits either way.
    pub response_memory: usize,
}

/// The default [`CampaignOptions::response_memory`]: 512 MiB.
pub const RESPONSE_MEMORY: usize = 512 << 20;

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            variant: Variant::Reference,
            base: Base::He,
            dist: Dist::Normal,
            scale: CandidateScale::Proper,
            criteria: Criteria::Both,
            alpha: None,
            ratios: None,
            max_candidates: None,
            bias: 0.0,
            init_samples: None,
            score: ScoreSource::Proxy,
            response_memory: RESPONSE_MEMORY,
        }
    }
}

/// What the options mean for one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerPlan {
    /// Candidates drawn.
    pub candidates: usize,
    /// The IIM weight.
    pub alpha: f64,
}

/// The default IIM weights: 1 at the first layer, falling linearly to 0 at the output
/// (`[1, 0]` for two layers: the reference code's default).
pub fn default_alpha(layers: usize) -> Vec<f64> {
    match layers {
        0 => Vec::new(),
        1 => vec![1.0],
        l => (0..l).map(|i| 1.0 - i as f64 / (l - 1) as f64).collect(),
    }
}

impl CampaignOptions {
    /// The per-variant defaults of the candidate ratios and cap.
    pub fn candidate_rule(&self) -> ((usize, usize), usize) {
        let (ratios, cap) = match self.variant {
            Variant::Reference => ((5, 5), 1000),
            Variant::Paper => ((10, 20), 4096),
        };
        (
            self.ratios.unwrap_or(ratios),
            self.max_candidates.unwrap_or(cap),
        )
    }

    /// Candidates and alpha for each layer of `spec`.
    ///
    /// # Errors
    /// [`CampaignError::Option`] for an alpha list of the wrong length, an alpha outside
    /// [0, 1], or an alpha list with a single-criterion ablation; and
    /// [`CampaignError::TooFewCandidates`] if a layer gets fewer candidates than neurons.
    pub fn plan(&self, spec: &ArchSpec) -> Result<Vec<LayerPlan>, CampaignError> {
        let layers = spec.layers();
        let alpha =
            match (self.criteria, &self.alpha) {
                (Criteria::Both, Some(a)) => {
                    if a.len() != layers {
                        return Err(CampaignError::Option(format!(
                            "--alpha: {} values for {layers} layers; give one IIM weight per layer",
                            a.len()
                        )));
                    }
                    if let Some(bad) = a.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                        return Err(CampaignError::Option(format!(
                            "--alpha: {bad} is outside [0, 1]"
                        )));
                    }
                    a.clone()
                }
                (Criteria::Both, None) => default_alpha(layers),
                (_, Some(_)) => return Err(CampaignError::Option(
                    "--alpha only applies with --criteria both (tie and iim fix alpha to 0 and 1)"
                        .into(),
                )),
                (Criteria::Tie, None) => vec![0.0; layers],
                (Criteria::Iim, None) => vec![1.0; layers],
            };
        let ((hidden, output), cap) = self.candidate_rule();
        (0..layers)
            .map(|l| {
                let width = spec.widths[l + 1];
                let ratio = if l + 1 == layers { output } else { hidden };
                let candidates = width.saturating_mul(ratio).min(cap);
                if candidates < width {
                    return Err(CampaignError::TooFewCandidates {
                        layer: l + 1,
                        candidates,
                        width,
                    });
                }
                Ok(LayerPlan {
                    candidates,
                    alpha: alpha[l],
                })
            })
            .collect()
    }

    /// The candidates' standard deviation for a layer.
    pub fn candidate_std(&self, fan_in: usize, width: usize, candidates: usize) -> f64 {
        let (fi, w, c) = (fan_in as f64, width as f64, candidates as f64);
        match (self.base, self.scale) {
            (Base::He, CandidateScale::Proper) => (2.0 / fi).sqrt(),
            (Base::He, CandidateScale::Code) => (2.0 / c).sqrt(),
            (Base::Xavier, CandidateScale::Proper) => (2.0 / (fi + w)).sqrt(),
            (Base::Xavier, CandidateScale::Code) => (2.0 / (c + fi)).sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each choice's names are distinct, lower-case, and parse back to their values; others
    /// parse to nothing.
    fn names_round_trip<T: Named + PartialEq + std::fmt::Debug>() {
        for (i, &v) in T::ALL.iter().enumerate() {
            let name = v.name();
            assert_eq!(name, name.to_lowercase());
            assert_eq!(T::parse(name), Some(v));
            assert!(T::ALL[..i].iter().all(|w| w.name() != name), "{name} twice");
        }
        assert_eq!(T::parse(""), None);
        assert_eq!(T::parse(&T::ALL[0].name().to_uppercase()), None);
    }

    #[test]
    fn every_choice_parses_its_names_back() {
        names_round_trip::<Variant>();
        names_round_trip::<Base>();
        names_round_trip::<Dist>();
        names_round_trip::<CandidateScale>();
        names_round_trip::<Criteria>();
        names_round_trip::<ScoreSource>();
    }
}

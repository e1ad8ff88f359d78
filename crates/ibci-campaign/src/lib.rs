//! ibci-campaign: the neuron campaign for initialisation (IBCI, Mao et al., CIKM 2021).
//!
//! A layer is initialised by drawing many more candidate neurons than it needs, scoring each
//! on the training set by two information-bottleneck criteria (IIM, input information kept;
//! TIE, label information gained) and electing the layer's neurons greedily, each score
//! weighted by how much of the candidate lies outside the span of those already elected.
//!
//! - [`campaign()`](campaign::campaign): the driver, layer by layer, with a report per layer.
//! - [`score`]: the candidates' responses, streamed into per-class moments, and the criteria
//!   in their `reference` (official code) and `paper` (Eq. 2-3) forms.
//! - [`elect`](mod@elect): the greedy orthogonal election.
//! - [`mi_score`]: `--score mi`, the criteria as estimated information (Ross, binned
//!   entropy).
//! - [`options`]: what a campaign is asked to do ([`CampaignOptions`]) and its per-layer
//!   plan.
//! - [`quota`]: the reference code's even split of a layer's neurons over class groups.
//! - [`reference`](mod@reference): naive f64 references for the tests.
//!
//! Conventions: alpha weights IIM, as in the paper (the reference code's `--alphas` weights
//! TIE: its `0 1` is `[1, 0]` here). The campaign takes `&mut impl RngCore` and never
//! creates a generator; the same generator state gives the same bits for any thread count.

pub mod campaign;
pub mod elect;
pub mod error;
pub mod mi_score;
pub mod options;
pub mod quota;
pub mod reference;
pub mod score;

pub use campaign::{
    campaign, default_alpha, Base, Campaign, CampaignOptions, CandidateScale, Criteria, Dist,
    LayerReport, ScoreSource, Variant,
};
pub use error::CampaignError;
pub use options::Named;

//! The records of how a network was initialised, as the manifests hold them (`results.
//! initialisation`): the options, and the campaign's per-layer account or LSUV's rescalings.

use ibci_campaign::campaign::{GroupReport, Summary};
use ibci_campaign::LayerReport;
use ibci_nn::lsuv::{LsuvConfig, LsuvLayer, LsuvRule};
use serde::Serialize;
use serde_json::Value;

/// How a network was initialised.
#[derive(Serialize, Debug)]
pub struct InitReport {
    /// The initialiser's flags ([`crate::args::InitArgs::describe`]).
    pub options: Value,
    /// The campaign's account, for `--init ibci`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignRecord>,
    /// LSUV's account, for the LSUV initialisers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsuv: Option<LsuvRecord>,
}

/// The campaign: its bias, samples, time and layers.
#[derive(Serialize, Debug)]
pub struct CampaignRecord {
    /// The layers' constant bias.
    pub bias: f32,
    /// Images the candidates were scored on.
    pub samples: usize,
    /// Wall time.
    pub seconds: f64,
    /// Per layer.
    pub layers: Vec<LayerRecord>,
}

/// min, mean and max of a list.
#[derive(Serialize, Debug)]
pub struct SummaryRecord {
    min: f64,
    mean: f64,
    max: f64,
}

impl From<&Summary> for SummaryRecord {
    fn from(s: &Summary) -> SummaryRecord {
        SummaryRecord {
            min: s.min,
            mean: s.mean,
            max: s.max,
        }
    }
}

/// One class group of the `reference` election.
#[derive(Serialize, Debug)]
pub struct GroupRecord {
    class: usize,
    candidates: usize,
    elected: usize,
}

impl From<&GroupReport> for GroupRecord {
    fn from(g: &GroupReport) -> GroupRecord {
        GroupRecord {
            class: g.class,
            candidates: g.candidates,
            elected: g.quota,
        }
    }
}

/// Where a layer's time went.
#[derive(Serialize, Debug)]
pub struct PhaseRecord {
    draw: f64,
    score: f64,
    responses_cpu: f64,
    statistics_cpu: f64,
    elect: f64,
    propagate: f64,
}

/// One layer of the campaign.
#[derive(Serialize, Debug)]
pub struct LayerRecord {
    layer: usize,
    fan_in: usize,
    width: usize,
    candidates: usize,
    candidate_std: f64,
    alpha_iim: f64,
    iim: SummaryRecord,
    tie: SummaryRecord,
    score: SummaryRecord,
    score_elected: SummaryRecord,
    groups: Vec<GroupRecord>,
    empty_output_groups: Vec<usize>,
    picks: Vec<usize>,
    response_std_elected: f64,
    response_std_pool: f64,
    seconds: PhaseRecord,
}

impl From<&LayerReport> for LayerRecord {
    fn from(r: &LayerReport) -> LayerRecord {
        LayerRecord {
            layer: r.layer,
            fan_in: r.fan_in,
            width: r.width,
            candidates: r.candidates,
            candidate_std: r.candidate_std,
            alpha_iim: r.alpha,
            iim: (&r.iim).into(),
            tie: (&r.tie).into(),
            score: (&r.score).into(),
            score_elected: (&r.score_elected).into(),
            groups: r.groups.iter().map(GroupRecord::from).collect(),
            empty_output_groups: r.empty_output_groups.clone(),
            picks: r.picks.clone(),
            response_std_elected: r.spread_elected,
            response_std_pool: r.spread_pool,
            seconds: PhaseRecord {
                draw: r.seconds.draw,
                score: r.seconds.score,
                responses_cpu: r.seconds.responses_cpu,
                statistics_cpu: r.seconds.statistics_cpu,
                elect: r.seconds.elect,
                propagate: r.seconds.propagate,
            },
        }
    }
}

/// LSUV: its batch, settings and what it did to each layer.
#[derive(Serialize, Debug)]
pub struct LsuvRecord {
    batch: usize,
    /// Which LSUV rule ran: Algorithm 1, or the author's PyTorch code.
    rule: &'static str,
    tol: f32,
    max_iter: usize,
    layers: Vec<LsuvLayerRecord>,
}

/// What LSUV did to one layer.
#[derive(Serialize, Debug)]
pub struct LsuvLayerRecord {
    initial_var: f64,
    final_var: f64,
    rescalings: usize,
}

impl LsuvRecord {
    /// The record of one LSUV pass on a batch of `batch` images.
    pub fn new(batch: usize, cfg: &LsuvConfig, layers: &[LsuvLayer]) -> LsuvRecord {
        LsuvRecord {
            batch,
            rule: match cfg.rule {
                LsuvRule::Algorithm1 => "algorithm 1 (variance, weights only)",
                LsuvRule::AuthorPytorch => "author's pytorch code (std, weights and bias shift)",
            },
            tol: cfg.tol,
            max_iter: cfg.max_iter,
            layers: layers
                .iter()
                .map(|r| LsuvLayerRecord {
                    initial_var: r.initial_var,
                    final_var: r.final_var,
                    rescalings: r.rescalings,
                })
                .collect(),
        }
    }
}

//! The campaign driver: layer by layer, draw candidates, score them, elect, fix, propagate.
//!
//! ```text
//! X_0 = the initialisation set (n x 784)          all training images, or a seeded subset
//! for layer l = 1..L (output layer included):
//!     W  = C_l candidates, d_{l-1} x C_l, from the base initialiser      (rng, in layer order)
//!     s  = scores of act_l(X_{l-1} W + b)                                 (see `score`)
//!     picks = election (see `elect`): one global election (`paper`), or one per class group
//!             with the quota split over groups (`reference`); the output layer of
//!             `reference` elects unit k from class group k
//!     W_l = the picked columns of W (unprojected), b_l = b
//!     X_l = act_l(X_{l-1} W_l + b_l)
//! ```
//!
//! Random numbers: the subset (if any) first, then each layer's candidates, all from the
//! caller's generator, so a seed fixes every bit; the thread count changes none (see the
//! `score` and `elect` modules).

use std::time::Instant;

use ibci_kernels::elementwise::{activate, bias_add};
use ibci_kernels::{gemm, Mat, MatRef, Par};
use ibci_nn::init::{fill_normal, fill_uniform, sample_indices};
use ibci_nn::mlp::{gather_rows, Layer};
use ibci_nn::{ArchSpec, Mlp};
use rand_core::RngCore;

pub use crate::options::{
    default_alpha, Base, CampaignOptions, CandidateScale, Criteria, Dist, LayerPlan, ScoreSource,
    Variant,
};

use crate::elect::elect;
use crate::error::CampaignError;
use crate::mi_score::mi_scores;
use crate::quota::split_quota;
use crate::score::{response_moments, scores, CandidateStats, Candidates, ScoreForm, Scores};

/// min, mean and max of a list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Smallest value.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// The summary of `v` (NaN fields for an empty list).
    pub fn of(v: impl IntoIterator<Item = f64>) -> Summary {
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        for x in v {
            (min, max, sum, n) = (min.min(x), max.max(x), sum + x, n + 1);
        }
        if n == 0 {
            return Summary {
                min: f64::NAN,
                mean: f64::NAN,
                max: f64::NAN,
            };
        }
        Summary {
            min,
            mean: sum / n as f64,
            max,
        }
    }
}

/// One class group of the `reference` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupReport {
    /// The class whose mean response the group's candidates prefer.
    pub class: usize,
    /// Candidates in the group.
    pub candidates: usize,
    /// Neurons elected from it.
    pub quota: usize,
}

/// Wall-clock seconds per phase of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// Drawing the candidates.
    pub draw: f64,
    /// Responses and their statistics (fused, streamed in blocks).
    pub score: f64,
    /// Of which: CPU seconds in the GEMM, bias and activation (summed over threads).
    pub responses_cpu: f64,
    /// Of which: CPU seconds folding responses into per-class moments.
    pub statistics_cpu: f64,
    /// The election.
    pub elect: f64,
    /// Propagating the initialisation set through the elected layer.
    pub propagate: f64,
}

/// What a campaign did in one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    /// Layer, 1-based.
    pub layer: usize,
    /// Inputs of the layer.
    pub fan_in: usize,
    /// Neurons elected.
    pub width: usize,
    /// Candidates drawn.
    pub candidates: usize,
    /// Their standard deviation.
    pub candidate_std: f64,
    /// The IIM weight.
    pub alpha: f64,
    /// IIM over the candidates.
    pub iim: Summary,
    /// TIE over the candidates.
    pub tie: Summary,
    /// Combined score over the candidates.
    pub score: Summary,
    /// Combined score over the elected.
    pub score_elected: Summary,
    /// Class groups (the `reference` variant; empty for `paper`).
    pub groups: Vec<GroupReport>,
    /// Elected candidates (indices into the layer's candidates), in neuron order.
    pub picks: Vec<usize>,
    /// Mean response std (unbiased) of the elected neurons.
    pub spread_elected: f64,
    /// Mean response std of all candidates.
    pub spread_pool: f64,
    /// For the aligned output layer: classes whose group was empty (unit k then went to the
    /// unelected candidate with the highest class-k mean).
    pub empty_output_groups: Vec<usize>,
    /// Seconds per phase.
    pub seconds: Phases,
}

/// An initialised network and the campaign's account of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    /// The network, ready to train.
    pub mlp: Mlp,
    /// One report per layer.
    pub layers: Vec<LayerReport>,
    /// Initialisation samples used.
    pub samples: usize,
}

/// Runs the campaign for `spec` on the initialisation set `x` (`n x inputs`) with `labels`
/// in `0..classes`, drawing every random number from `rng`.
///
/// # Errors
/// A [`CampaignError`] for shapes that do not fit, labels out of range, invalid options,
/// too few candidates, or non-finite responses.
pub fn campaign(
    spec: &ArchSpec,
    x: MatRef<'_>,
    labels: &[usize],
    classes: usize,
    opts: &CampaignOptions,
    rng: &mut impl RngCore,
    par: Par,
) -> Result<Campaign, CampaignError> {
    let plan = opts.plan(spec)?;
    if x.cols() != spec.inputs() {
        return Err(CampaignError::Shape(format!(
            "the network {spec} takes {} inputs, the initialisation set has {} features",
            spec.inputs(),
            x.cols()
        )));
    }
    if labels.len() != x.rows() {
        return Err(CampaignError::Shape(format!(
            "{} labels for {} samples",
            labels.len(),
            x.rows()
        )));
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        return Err(CampaignError::LabelOutOfRange {
            index,
            label,
            classes,
        });
    }
    let n = opts.init_samples.unwrap_or(x.rows());
    if n < 2 || n > x.rows() {
        return Err(CampaignError::Option(format!(
            "--init-samples {n}: expected 2 to {} (the training set's size)",
            x.rows()
        )));
    }
    // The seeded subset: a partial Fisher-Yates shuffle, first of the generator's draws.
    let (subset, sub_labels);
    let (input, cur_labels): (MatRef<'_>, &[usize]) = if n < x.rows() {
        let idx = sample_indices(rng, x.rows(), n);
        subset = gather_rows(x, idx.iter().copied());
        sub_labels = idx.iter().map(|&i| labels[i]).collect::<Vec<_>>();
        (subset.as_ref(), &sub_labels)
    } else {
        (x, labels)
    };
    // The current layer's input: the initialisation set, then each elected layer's output.
    let mut hidden: Option<Mat> = None;

    let layers = spec.layers();
    let mut out_layers = Vec::with_capacity(layers);
    let mut reports = Vec::with_capacity(layers);
    for (l, p) in plan.iter().enumerate() {
        let (fan_in, width, act) = (spec.widths[l], spec.widths[l + 1], spec.acts[l]);
        let mut ph = Phases::default();
        let t = Instant::now();
        let std = opts.candidate_std(fan_in, width, p.candidates);
        let mut w = Mat::zeros(fan_in, p.candidates);
        match opts.dist {
            Dist::Normal => fill_normal(rng, w.as_mut_slice(), 0.0, std as f32),
            Dist::Uniform => {
                let b = (3f64.sqrt() * std) as f32;
                fill_uniform(rng, w.as_mut_slice(), -b, b);
            }
        }
        ph.draw = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let cur = hidden.as_ref().map_or(input, Mat::as_ref);
        let mi = opts.score == ScoreSource::Mi;
        let keep = mi || (l + 1 < layers && cur.rows() * p.candidates * 4 <= opts.response_memory);
        // The jitter seed of `--score mi`, drawn after the layer's candidates (only then: the
        // proxies' stream is the one every earlier run used).
        let jitter_seed = if mi { rng.next_u64() } else { 0 };
        let (mom, kept) = response_moments(
            cur,
            cur_labels,
            classes,
            &Candidates {
                w: w.as_ref(),
                bias: opts.bias,
                act,
            },
            keep,
            par,
        );
        if !mom.sum.iter().chain(&mom.sumsq).all(|v| v.is_finite()) {
            return Err(CampaignError::NonFinite {
                layer: l + 1,
                what: "candidate responses",
            });
        }
        let st = mom.stats();
        let form = match opts.variant {
            Variant::Reference => ScoreForm::Reference,
            Variant::Paper => ScoreForm::Paper,
        };
        let sc = match (&kept, mi) {
            (Some(r), true) => mi_scores(&r.candidate_major(), cur_labels, p.alpha, jitter_seed),
            _ => scores(&st, form, p.alpha),
        };
        if !sc.score.iter().all(|v| v.is_finite()) {
            return Err(CampaignError::NonFinite {
                layer: l + 1,
                what: "scores",
            });
        }
        ph.score = t.elapsed().as_secs_f64();
        ph.responses_cpu = mom.gemm_cpu_seconds;
        ph.statistics_cpu = mom.fold_cpu_seconds;

        let t = Instant::now();
        let wt = w.as_ref().t().to_mat();
        let aligned = opts.variant == Variant::Reference && l + 1 == layers && width == classes;
        let (picks, groups, empty) = match opts.variant {
            Variant::Paper => {
                let all: Vec<usize> = (0..p.candidates).collect();
                (
                    elect(wt.as_slice(), fan_in, &sc.score, &all, width),
                    Vec::new(),
                    Vec::new(),
                )
            }
            Variant::Reference => elect_grouped(&wt, fan_in, &st, &sc, classes, width, aligned)?,
        };
        ph.elect = t.elapsed().as_secs_f64();

        let wl = Mat::from_fn(fan_in, width, |i, u| w.at(i, picks[u]));
        let b = vec![opts.bias; width];
        let t = Instant::now();
        if let Some(r) = kept.as_ref().filter(|_| l + 1 < layers) {
            hidden = Some(r.columns(&picks));
        } else if l + 1 < layers {
            let mut next = Mat::zeros(cur.rows(), width);
            gemm(next.as_mut(), cur, wl.as_ref(), 1.0, 0.0, par);
            bias_add(next.as_mut(), &b, par);
            activate(act, next.as_mut_slice(), par);
            hidden = Some(next);
        }
        ph.propagate = t.elapsed().as_secs_f64();

        let mean_of = |idx: &mut dyn Iterator<Item = usize>| {
            let v: Vec<f64> = idx.map(|j| st.std[j]).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        reports.push(LayerReport {
            layer: l + 1,
            fan_in,
            width,
            candidates: p.candidates,
            candidate_std: std,
            alpha: p.alpha,
            iim: Summary::of(sc.iim.iter().copied()),
            tie: Summary::of(sc.tie.iter().copied()),
            score: Summary::of(sc.score.iter().copied()),
            score_elected: Summary::of(picks.iter().map(|&j| sc.score[j])),
            groups,
            spread_elected: mean_of(&mut picks.iter().copied()),
            spread_pool: mean_of(&mut (0..p.candidates)),
            picks,
            empty_output_groups: empty,
            seconds: ph,
        });
        out_layers.push(Layer { w: wl, b, act });
    }
    Ok(Campaign {
        mlp: Mlp { layers: out_layers },
        layers: reports,
        samples: n,
    })
}

type Grouped = (Vec<usize>, Vec<GroupReport>, Vec<usize>);

/// The `reference` election: candidates grouped by preferred class, the quota split over
/// the groups, one election per group, picks in class order. With `aligned` (the output
/// layer, one unit per class) unit k comes from group k; an empty group k takes the
/// unelected candidate with the highest class-k mean.
fn elect_grouped(
    wt: &Mat,
    dim: usize,
    st: &CandidateStats,
    sc: &Scores,
    classes: usize,
    width: usize,
    aligned: bool,
) -> Result<Grouped, CampaignError> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (j, &k) in st.preferred.iter().enumerate() {
        members[k].push(j);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let quota = if aligned {
        vec![1; classes]
    } else {
        split_quota(&sizes, width)?
    };
    let mut per_class: Vec<Vec<usize>> = members
        .iter()
        .zip(&quota)
        .map(|(g, &q)| elect(wt.as_slice(), dim, &sc.score, g, q.min(g.len())))
        .collect();
    let mut empty = Vec::new();
    if aligned {
        let c = st.preferred.len();
        let mut used = vec![false; c];
        per_class.iter().flatten().for_each(|&j| used[j] = true);
        for (k, picks) in per_class.iter_mut().enumerate() {
            if picks.is_empty() {
                let j = (0..c)
                    .filter(|&j| !used[j])
                    .max_by(|&a, &b| {
                        st.class_mean[k * c + a]
                            .total_cmp(&st.class_mean[k * c + b])
                            .then(b.cmp(&a))
                    })
                    .ok_or(CampaignError::QuotaExceedsCandidates {
                        quota: classes,
                        candidates: c,
                    })?;
                used[j] = true;
                picks.push(j);
                empty.push(k);
            }
        }
    }
    let groups = (0..classes)
        .map(|k| GroupReport {
            class: k,
            candidates: sizes[k],
            quota: per_class[k].len(),
        })
        .collect();
    Ok((per_class.concat(), groups, empty))
}

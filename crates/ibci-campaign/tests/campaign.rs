//! The whole campaign on the real MNIST files: determinism across thread counts, output
//! alignment, the IIM criterion's effect, trainability; and the typed errors.

use std::path::Path;

use ibci_campaign::{campaign, CampaignError, CampaignOptions, Criteria, Variant};
use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::elementwise::{activate, bias_add};
use ibci_kernels::{gemm, Mat, Par};
use ibci_nn::train::{OwnedSplit, SgdState, Trainer};
use ibci_nn::{ArchSpec, Mlp, TrainConfig};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn mnist() -> (OwnedSplit, OwnedSplit) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let d = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    (
        OwnedSplit::from_images(d.train.images_f32(), d.train.dim(), &d.train.labels),
        OwnedSplit::from_images(d.test.images_f32(), d.test.dim(), &d.test.labels),
    )
}

fn run(
    spec: &ArchSpec,
    tr: &OwnedSplit,
    opts: &CampaignOptions,
    seed: u64,
    threads: usize,
) -> ibci_campaign::Campaign {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let par = Par::for_threads(threads);
    pool.install(|| {
        campaign(
            spec,
            tr.x.as_ref(),
            &tr.y,
            10,
            opts,
            &mut Xoshiro256PlusPlus::seed_from_u64(seed),
            par,
        )
    })
    .expect("campaign")
}

fn bits(mlp: &Mlp) -> Vec<u32> {
    mlp.layers
        .iter()
        .flat_map(|l| l.w.as_slice().iter().chain(&l.b).map(|v| v.to_bits()))
        .collect()
}

#[test]
fn same_seed_same_weights_for_any_thread_count() {
    let (tr, _) = mnist();
    let spec = ArchSpec::parse("mlp5").unwrap();
    for variant in [Variant::Reference, Variant::Paper] {
        let opts = CampaignOptions {
            variant,
            init_samples: Some(6000),
            bias: 0.01,
            ..CampaignOptions::default()
        };
        let one = run(&spec, &tr, &opts, 7, 1);
        let two = run(&spec, &tr, &opts, 7, 2);
        let three = run(&spec, &tr, &opts, 7, 3);
        assert_eq!(bits(&one.mlp), bits(&two.mlp), "{variant:?}");
        assert_eq!(bits(&one.mlp), bits(&three.mlp), "{variant:?}");
        assert!(one
            .mlp
            .layers
            .iter()
            .all(|l| l.b.iter().all(|&b| b == 0.01)));
        // Streaming the responses and recomputing the propagation gives the same bits.
        let streamed = CampaignOptions {
            response_memory: 0,
            ..opts.clone()
        };
        assert_eq!(bits(&one.mlp), bits(&run(&spec, &tr, &streamed, 7, 2).mlp));
        // Another seed elects other neurons.
        let other = run(&spec, &tr, &opts, 8, 2);
        assert_ne!(bits(&one.mlp), bits(&other.mlp));
        // Every layer has distinct picks and the right shape.
        for (r, l) in one.layers.iter().zip(&one.mlp.layers) {
            let mut p = r.picks.clone();
            p.sort_unstable();
            p.dedup();
            assert_eq!(p.len(), r.width);
            assert_eq!((l.w.rows(), l.w.cols()), (r.fan_in, r.width));
        }
    }
}

#[test]
fn output_unit_k_prefers_class_k() {
    let (tr, _) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    for seed in 1..=3 {
        let c = run(&spec, &tr, &CampaignOptions::default(), seed, 2);
        // Recompute the logits of the initialisation set (all training images) independently.
        let mut h = Mat::zeros(tr.y.len(), 100);
        let l1 = &c.mlp.layers[0];
        gemm(
            h.as_mut(),
            tr.x.as_ref(),
            l1.w.as_ref(),
            1.0,
            0.0,
            Par::Rayon,
        );
        bias_add(h.as_mut(), &l1.b, Par::Rayon);
        activate(l1.act, h.as_mut_slice(), Par::Rayon);
        let l2 = &c.mlp.layers[1];
        let mut z = Mat::zeros(tr.y.len(), 10);
        gemm(z.as_mut(), h.as_ref(), l2.w.as_ref(), 1.0, 0.0, Par::Rayon);
        let mut mean = [[0f64; 10]; 10]; // [unit][class]
        let mut count = [0usize; 10];
        for (i, &y) in tr.y.iter().enumerate() {
            count[y] += 1;
            for (u, m) in mean.iter_mut().enumerate() {
                m[y] += f64::from(z.at(i, u));
            }
        }
        let empty = &c.layers[1].empty_output_groups;
        for (u, m) in mean.iter().enumerate() {
            let best = (0..10)
                .max_by(|&a, &b| (m[a] / count[a] as f64).total_cmp(&(m[b] / count[b] as f64)))
                .unwrap();
            if !empty.contains(&u) {
                assert_eq!(best, u, "seed {seed}: output unit {u} prefers class {best}");
            }
        }
        assert!(empty.len() <= 2, "seed {seed}: empty groups {empty:?}");
    }
}

/// The election follows the scores: in every layer the elected neurons' mean score is above
/// the candidates' mean and the elected are not simply the first candidates drawn, and
/// electing by another criterion (TIE instead of IIM) picks other candidates from the same
/// draw. (A campaign that ignored its scores would train as well as its base initialiser,
/// which `an_ibci_mlp2_trains` cannot tell apart.)
#[test]
fn the_election_follows_the_scores() {
    let (tr, _) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    for variant in [Variant::Reference, Variant::Paper] {
        let mut first_layer = Vec::new();
        for criteria in [Criteria::Both, Criteria::Tie, Criteria::Iim] {
            let opts = CampaignOptions {
                variant,
                criteria,
                init_samples: Some(10_000),
                ..CampaignOptions::default()
            };
            let c = run(&spec, &tr, &opts, 5, 2);
            for r in &c.layers {
                assert!(
                    r.score_elected.mean > r.score.mean,
                    "{variant:?} {criteria:?} layer {}: elected mean score {} <= pool's {}",
                    r.layer,
                    r.score_elected.mean,
                    r.score.mean
                );
                let mut sorted = r.picks.clone();
                sorted.sort_unstable();
                assert_ne!(
                    sorted,
                    (0..r.picks.len()).collect::<Vec<_>>(),
                    "{variant:?} {criteria:?} layer {}: the first candidates drawn",
                    r.layer
                );
            }
            first_layer.push(c.layers[0].picks.clone());
        }
        assert_ne!(
            first_layer[1], first_layer[2],
            "{variant:?}: TIE and IIM elect the same first layer"
        );
    }
}

#[test]
fn iim_elects_neurons_with_more_spread_than_the_pool() {
    let (tr, _) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    for variant in [Variant::Reference, Variant::Paper] {
        let opts = CampaignOptions {
            variant,
            criteria: Criteria::Iim,
            ..CampaignOptions::default()
        };
        let c = run(&spec, &tr, &opts, 3, 2);
        let l1 = &c.layers[0];
        eprintln!(
            "{variant:?}: spread elected {:.4}, pool {:.4}",
            l1.spread_elected, l1.spread_pool
        );
        assert!(l1.spread_elected > l1.spread_pool, "{variant:?}");
        assert_eq!(c.samples, 60_000);
    }
}

#[test]
fn an_ibci_mlp2_trains() {
    let (tr, te) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    let c = run(&spec, &tr, &CampaignOptions::default(), 1, 2);
    let mut mlp = c.mlp;
    let cfg = TrainConfig::default();
    let mut state = SgdState::new(&mlp, cfg.momentum);
    let m = Trainer::new(&mlp, &cfg, Par::Rayon)
        .epoch(
            &mut mlp,
            &mut state,
            tr.view(),
            te.view(),
            1,
            &mut Xoshiro256PlusPlus::seed_from_u64(1),
        )
        .expect("no divergence");
    eprintln!("IBCI MLP-2, 1 epoch: test error {:.2}%", 100.0 * m.test_err);
    assert!(
        m.test_err <= 0.09,
        "test error after 1 epoch {}",
        m.test_err
    );
}

#[test]
fn bad_input_gives_typed_errors() {
    let spec = ArchSpec::parse("8-4-3").unwrap();
    let x = Mat::filled(20, 8, 0.5);
    let labels: Vec<usize> = (0..20).map(|i| i % 3).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let ok = CampaignOptions::default();
    let go = |x: &Mat, l: &[usize], o: &CampaignOptions, rng: &mut Xoshiro256PlusPlus| {
        campaign(&spec, x.as_ref(), l, 3, o, rng, Par::Seq).map(|_| ())
    };
    assert!(go(&x, &labels, &ok, &mut rng).is_ok());
    assert!(matches!(
        go(&Mat::filled(20, 7, 0.5), &labels, &ok, &mut rng),
        Err(CampaignError::Shape(_))
    ));
    assert!(matches!(
        go(&x, &labels[..19], &ok, &mut rng),
        Err(CampaignError::Shape(_))
    ));
    let mut bad = labels.clone();
    bad[5] = 3;
    assert_eq!(
        go(&x, &bad, &ok, &mut rng),
        Err(CampaignError::LabelOutOfRange {
            index: 5,
            label: 3,
            classes: 3
        })
    );
    let o = CampaignOptions {
        alpha: Some(vec![1.0]),
        ..ok.clone()
    };
    assert!(matches!(
        go(&x, &labels, &o, &mut rng),
        Err(CampaignError::Option(_))
    ));
    let o = CampaignOptions {
        alpha: Some(vec![1.0, 1.5]),
        ..ok.clone()
    };
    assert!(matches!(
        go(&x, &labels, &o, &mut rng),
        Err(CampaignError::Option(_))
    ));
    let o = CampaignOptions {
        alpha: Some(vec![1.0, 0.0]),
        criteria: Criteria::Tie,
        ..ok.clone()
    };
    assert!(matches!(
        go(&x, &labels, &o, &mut rng),
        Err(CampaignError::Option(_))
    ));
    let o = CampaignOptions {
        init_samples: Some(21),
        ..ok.clone()
    };
    assert!(matches!(
        go(&x, &labels, &o, &mut rng),
        Err(CampaignError::Option(_))
    ));
    let o = CampaignOptions {
        ratios: Some((5, 5)),
        max_candidates: Some(3),
        ..ok.clone()
    };
    assert_eq!(
        go(&x, &labels, &o, &mut rng),
        Err(CampaignError::TooFewCandidates {
            layer: 1,
            candidates: 3,
            width: 4
        })
    );
    let mut nan = x.clone();
    nan.as_mut().set(3, 2, f32::NAN);
    assert!(matches!(
        go(&nan, &labels, &ok, &mut rng),
        Err(CampaignError::NonFinite { layer: 1, .. })
    ));
}

#[test]
fn mi_scores_are_information_and_reproducible() {
    use ibci_campaign::mi_score::{binned_entropy, IIM_BINS};
    use ibci_campaign::ScoreSource;
    // The IIM entropy: 0 for a constant, ln(bins) for values spread evenly over the bins.
    assert_eq!(binned_entropy(&[0.5; 100]), 0.0);
    let even: Vec<f32> = (0..3000).map(|i| (i % IIM_BINS) as f32 + 0.5).collect();
    assert!((binned_entropy(&even) - (IIM_BINS as f64).ln()).abs() < 1e-12);

    let (tr, _) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    let opts = CampaignOptions {
        score: ScoreSource::Mi,
        init_samples: Some(6000),
        ..CampaignOptions::default()
    };
    let one = run(&spec, &tr, &opts, 4, 1);
    let two = run(&spec, &tr, &opts, 4, 2);
    assert_eq!(bits(&one.mlp), bits(&two.mlp));
    // Layer 1 is IIM only (alpha 1): entropies within [0, ln 30]; the output layer is TIE only:
    // I(unit; label) within [0, ln 10], and the elected units carry more than the pool.
    let (l1, l2) = (&one.layers[0], &one.layers[1]);
    assert!(
        l1.iim.min >= 0.0 && l1.iim.max <= (IIM_BINS as f64).ln() + 1e-12,
        "{l1:?}"
    );
    assert!(l2.tie.min >= 0.0 && l2.tie.max <= 10f64.ln(), "{l2:?}");
    assert!(l2.score_elected.mean > l2.score.mean, "{l2:?}");
    // The proxies elect differently.
    let proxy = run(
        &spec,
        &tr,
        &CampaignOptions {
            score: ScoreSource::Proxy,
            ..opts.clone()
        },
        4,
        2,
    );
    assert_ne!(bits(&proxy.mlp), bits(&one.mlp));
}

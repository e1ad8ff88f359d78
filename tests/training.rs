//! Training on the real MNIST files: the accuracy the reference protocol should reach, and
//! bit-identical weights for any thread count.

use std::path::Path;

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::sparse::CsrRows;
use ibci_kernels::{Mat, Par};
use ibci_nn::init::{BiasInit, FanMode, Nonlinearity, WeightInit};
use ibci_nn::train::{epoch_zero, OwnedSplit, SgdState, Split, Trainer};
use ibci_nn::{ArchSpec, Mlp, TrainConfig};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// MNIST's train and test splits as the trainer holds them.
fn mnist() -> (OwnedSplit, OwnedSplit) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist");
    let d = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    (
        OwnedSplit::from_images(d.train.images_f32(), d.train.dim(), &d.train.labels),
        OwnedSplit::from_images(d.test.images_f32(), d.test.dim(), &d.test.labels),
    )
}

fn he_normal(spec: &ArchSpec, seed: u64) -> Mlp {
    let he = WeightInit::KaimingNormal {
        mode: FanMode::FanIn,
        nl: Nonlinearity::Relu,
    };
    let inits = vec![he; spec.layers()];
    Mlp::init(
        spec,
        &inits,
        BiasInit::Constant(0.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
    )
}

#[test]
fn mlp2_he_reaches_the_reference_accuracy() {
    let (tr, te) = mnist();
    let spec = ArchSpec::parse("mlp2").unwrap();
    let mut mlp = he_normal(&spec, 1);
    let cfg = TrainConfig::default();
    let train = Split {
        x: tr.x.as_ref(),
        y: &tr.y,
        sparse: None,
    };
    let test = Split {
        x: te.x.as_ref(),
        y: &te.y,
        sparse: None,
    };
    // The untrained network is near chance.
    let e0 = epoch_zero(&mlp, test, Par::Rayon);
    assert!(e0.test_err > 0.7, "untrained error {}", e0.test_err);
    let mut state = SgdState::new(&mlp, cfg.momentum);
    let mut shuffle = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut errs = Vec::new();
    for epoch in 1..=5 {
        let m = Trainer::new(&mlp, &cfg, Par::Rayon)
            .epoch(&mut mlp, &mut state, train, test, epoch, &mut shuffle)
            .expect("no divergence at lr 0.1");
        eprintln!(
            "epoch {epoch}: train loss {:.4}, test error {:.2}%",
            m.train_loss,
            100.0 * m.test_err
        );
        errs.push(m.test_err);
    }
    // The reference code's Xavier runs reach 7.6% after 1 epoch and 3.9% after 5.
    assert!(errs[0] <= 0.09, "after 1 epoch: {}", errs[0]);
    assert!(errs[4] <= 0.045, "after 5 epochs: {}", errs[4]);
}

/// Dense first layer with momentum and decay, and the sparse products with plain SGD (the
/// fused update): on 2 and 3 threads the batches run on the trainer's team.
#[test]
fn training_gives_the_same_bits_for_any_thread_count() {
    let (tr, te) = mnist();
    let n = 6_000;
    let train_x = Mat::from_vec(n, 784, tr.x.as_slice()[..n * 784].to_vec());
    let csr = CsrRows::new(train_x.as_ref());
    let test_x = Mat::from_vec(2_000, 784, te.x.as_slice()[..2_000 * 784].to_vec());
    let test = Split {
        x: test_x.as_ref(),
        y: &te.y[..2_000],
        sparse: None,
    };
    let spec = ArchSpec::parse("784-64-32-10")
        .unwrap()
        .with_activations("tanh,relu,identity")
        .unwrap();
    let momentum = TrainConfig {
        epochs: 1,
        batch: 100,
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 1e-4,
    };
    let plain = TrainConfig {
        momentum: 0.0,
        weight_decay: 0.0,
        ..momentum
    };
    for (sparse, cfg) in [(None, momentum), (Some(&csr), plain)] {
        let train = Split {
            x: train_x.as_ref(),
            y: &tr.y[..n],
            sparse,
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut mlp = he_normal(&spec, 7);
                let mut state = SgdState::new(&mlp, cfg.momentum);
                let mut trainer = Trainer::new(&mlp, &cfg, Par::Rayon);
                let mut out = Vec::new();
                for e in 1..=2 {
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7 + e as u64);
                    let m = trainer
                        .epoch(&mut mlp, &mut state, train, test, e, &mut rng)
                        .unwrap();
                    out.extend([m.test_err.to_bits(), m.train_loss.to_bits()]);
                }
                let bits: Vec<u32> = mlp
                    .layers
                    .iter()
                    .flat_map(|l| l.w.as_slice().iter().chain(&l.b).map(|x| x.to_bits()))
                    .collect();
                (bits, out)
            })
        };
        let one = run(1);
        for t in [2, 3] {
            assert!(
                run(t) == one,
                "{t} threads differ from 1 (sparse {})",
                sparse.is_some()
            );
        }
    }
}

#[test]
fn lsuv_gives_unit_output_variance_on_mnist_batches() {
    use ibci_nn::lsuv::{lsuv, LsuvConfig};
    use ibci_nn::mlp::gather_rows;
    let (tr, _) = mnist();
    // A batch of 256 training images (every 200th), and a second batch LSUV never saw.
    let batch = gather_rows(tr.x.as_ref(), (0..256).map(|i| i * 200));
    let other = gather_rows(tr.x.as_ref(), (0..256).map(|i| i * 200 + 77));
    let cfg = LsuvConfig::default();
    let pre = [
        WeightInit::Orthogonal { gain: 1.0 },
        WeightInit::XavierNormal { gain: 1.0 },
        WeightInit::KaimingNormal {
            mode: FanMode::FanIn,
            nl: Nonlinearity::Relu,
        },
    ];
    for arch in ["mlp2", "mlp3", "mlp5"] {
        let spec = ArchSpec::parse(arch).unwrap();
        for init in pre {
            let mut mlp = seeded_net(&spec, init);
            let report = lsuv(&mut mlp, batch.as_ref(), &cfg, Par::Rayon);
            // Each layer's pre-activation variance on the batch, recomputed here in f64 with
            // plain loops (not LSUV's GEMM and column statistics): within the tolerance.
            let vars = preactivation_vars(&mlp, &batch);
            for (l, (r, v)) in report.iter().zip(&vars).enumerate() {
                assert!(r.rescalings <= cfg.max_iter);
                assert!(
                    (v - 1.0).abs() < f64::from(cfg.tol),
                    "{arch} {init:?} layer {l}: variance {v} (LSUV reports {}) after {} rescalings",
                    r.final_var,
                    r.rescalings
                );
                assert!(
                    (v - r.final_var).abs() < 1e-4,
                    "{arch} {init:?} layer {l}: LSUV reports {}, recomputed {v}",
                    r.final_var
                );
            }
            // On an unseen batch the pre-activation variance is near 1 as well (sampling
            // noise of 256 images, not a fit to the batch).
            let acts = mlp.forward(other.as_ref(), Par::Rayon);
            let logits = acts.last().unwrap().as_slice();
            let n = logits.len() as f64;
            let m = logits.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let v = logits
                .iter()
                .map(|&x| (f64::from(x) - m).powi(2))
                .sum::<f64>()
                / n;
            assert!(
                (v - 1.0).abs() < 0.35,
                "{arch} {init:?}: output variance {v} on another batch"
            );
        }
    }
}

#[test]
fn lsuv_author_pytorch_rule_gives_unit_std_on_mnist_batches() {
    use ibci_nn::lsuv::{lsuv, LsuvConfig, LsuvRule};
    use ibci_nn::mlp::gather_rows;
    let (tr, _) = mnist();
    let batch = gather_rows(tr.x.as_ref(), (0..256).map(|i| i * 200));
    let cfg = LsuvConfig {
        rule: LsuvRule::AuthorPytorch,
        ..LsuvConfig::default()
    };
    for arch in ["mlp2", "mlp3", "mlp5"] {
        let spec = ArchSpec::parse(arch).unwrap();
        let mut mlp = seeded_net(&spec, WeightInit::Orthogonal { gain: 1.0 });
        let report = lsuv(&mut mlp, batch.as_ref(), &cfg, Par::Rayon);
        // Recomputed independently: every layer's std within the tolerance of 1.
        let vars = preactivation_vars(&mlp, &batch);
        for (l, (r, v)) in report.iter().zip(&vars).enumerate() {
            assert!(r.rescalings <= cfg.max_iter + 1);
            assert!(
                (v.sqrt() - 1.0).abs() <= f64::from(cfg.tol),
                "{arch} layer {l}: std {} after {} corrections",
                v.sqrt(),
                r.rescalings
            );
        }
        // The biases moved (the rule shifts them), unlike Algorithm 1's.
        assert!(
            mlp.layers.iter().any(|l| l.b.iter().any(|&b| b != 0.0)),
            "{arch}: no bias shifted"
        );
    }
}

/// The network LSUV starts from in these tests: `init` for every layer, biases 0, seed 3.
fn seeded_net(spec: &ArchSpec, init: WeightInit) -> Mlp {
    Mlp::init(
        spec,
        &vec![init; spec.layers()],
        BiasInit::Constant(0.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(3),
    )
}

/// The population variance of every layer's `z = a w + b` over a batch, in f64, by plain
/// loops (an independent check of LSUV's own measurement).
fn preactivation_vars(mlp: &Mlp, batch: &Mat) -> Vec<f64> {
    use ibci_kernels::elementwise::Activation;
    let mut a: Vec<Vec<f64>> = (0..batch.rows())
        .map(|i| {
            (0..batch.cols())
                .map(|p| f64::from(batch.at(i, p)))
                .collect()
        })
        .collect();
    let mut vars = Vec::new();
    for layer in &mlp.layers {
        let (k, n) = (layer.w.rows(), layer.w.cols());
        let z: Vec<Vec<f64>> = a
            .iter()
            .map(|row| {
                (0..n)
                    .map(|j| {
                        (0..k)
                            .map(|p| row[p] * f64::from(layer.w.at(p, j)))
                            .sum::<f64>()
                            + f64::from(layer.b[j])
                    })
                    .collect()
            })
            .collect();
        let all: Vec<f64> = z.iter().flatten().copied().collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        vars.push(all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64);
        a = z
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| match layer.act {
                        Activation::Identity => v,
                        Activation::Relu => v.max(0.0),
                        Activation::Tanh => v.tanh(),
                        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
                    })
                    .collect()
            })
            .collect();
    }
    vars
}

//! The allocation-free training step equals the reference passes bit for bit: batch by batch,
//! the loss, the errors and every weight after the update match `Mlp::loss_and_grads` followed
//! by `sgd_step` on each layer, with and without the sparse index, for plain SGD (fused into
//! the GEMM) and for momentum with weight decay (gradients materialised), with ReLU, tanh and
//! sigmoid layers, at 1 and 3 threads; and when the sparse guard declines; and with steps
//! switching between one thread and a team, as a trainer does when its cores are far apart.

use ibci_kernels::elementwise::sgd_step;
use ibci_kernels::sparse::CsrRows;
use ibci_kernels::{Activation, Mat, Par, Team};
use ibci_nn::init::{BiasInit, FanMode, Nonlinearity, WeightInit};
use ibci_nn::mlp::gather_rows;
use ibci_nn::train::{SgdState, Split};
use ibci_nn::workspace::Workspace;
use ibci_nn::{ArchSpec, Mlp, TrainConfig};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `n` images of `d` pixels, about 80% zeros, the rest `q/255`; labels 0..9.
fn images(n: usize, d: usize, seed: u64) -> (Mat, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = Mat::from_fn(n, d, |_, _| {
        if rng.next_u32() % 5 != 0 {
            0.0
        } else {
            (1 + rng.next_u32() % 255) as f32 / 255.0
        }
    });
    let y = (0..n).map(|_| (rng.next_u32() % 10) as usize).collect();
    (x, y)
}

fn bits(mlp: &Mlp) -> Vec<u32> {
    mlp.layers
        .iter()
        .flat_map(|l| l.w.as_slice().iter().chain(&l.b))
        .map(|v| v.to_bits())
        .collect()
}

fn net(arch: &str, seed: u64) -> Mlp {
    let spec = ArchSpec::parse(arch).unwrap();
    let he = WeightInit::KaimingNormal {
        mode: FanMode::FanIn,
        nl: Nonlinearity::Relu,
    };
    Mlp::init(
        &spec,
        &vec![he; spec.layers()],
        BiasInit::Constant(0.01),
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
    )
}

/// The reference step: gather, loss_and_grads, then sgd_step on every layer.
fn reference_step(
    mlp: &mut Mlp,
    state: &mut SgdState,
    x: &Mat,
    y: &[usize],
    rows: &[usize],
    cfg: &TrainConfig,
) -> (f64, usize) {
    let xb = gather_rows(x.as_ref(), rows.iter().copied());
    let yb: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
    let mut grads = mlp.zero_grads();
    let st = mlp.loss_and_grads(xb.as_ref(), &yb, &mut grads, Par::Seq);
    for (l, layer) in mlp.layers.iter_mut().enumerate() {
        let (vw, vb) = match state.velocity.get_mut(l) {
            Some((vw, vb)) => (Some(&mut vw[..]), Some(&mut vb[..])),
            None => (None, None),
        };
        let (lr, mo, wd) = (cfg.lr, cfg.momentum, cfg.weight_decay);
        sgd_step(
            layer.w.as_mut_slice(),
            grads.dw[l].as_slice(),
            vw,
            lr,
            mo,
            wd,
            Par::Seq,
        );
        sgd_step(&mut layer.b, &grads.db[l], vb, lr, mo, wd, Par::Seq);
    }
    (st.loss, st.errors)
}

fn compare(arch: &str, acts: Option<&str>, cfg: TrainConfig, tiny_weight: bool) {
    let (x, y) = images(700, 784, 5);
    let csr = CsrRows::new(x.as_ref());
    let pools: Vec<(rayon::ThreadPool, Par)> = [1usize, 3]
        .into_iter()
        .map(|t| {
            (
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap(),
                Par::for_threads(t),
            )
        })
        .collect();
    let mut base = net(arch, 9);
    if let Some(a) = acts {
        let list: Vec<Activation> = a
            .split(',')
            .map(|s| Activation::parse(s).unwrap())
            .collect();
        for (l, act) in base.layers.iter_mut().zip(list) {
            l.act = act;
        }
    }
    if tiny_weight {
        // Below the guard's floor for pixels (2^-95): the sparse forward product declines.
        base.layers[0].w.as_mut_slice()[5] = 1e-30;
    }
    let mut order: Vec<usize> = (0..700).collect();
    order.reverse();
    order.swap(3, 400);
    for (pool, par) in &pools {
        for sparse in [Some(&csr), None] {
            let (mut a, mut b) = (base.clone(), base.clone());
            let (mut sa, mut sb) = (
                SgdState::new(&a, cfg.momentum),
                SgdState::new(&b, cfg.momentum),
            );
            let mut ws = Workspace::new(&a, cfg.batch);
            let data = Split {
                x: x.as_ref(),
                y: &y,
                sparse,
            };
            for (bi, rows) in order.chunks(cfg.batch).enumerate() {
                let want = reference_step(&mut b, &mut sb, &x, &y, rows, &cfg);
                let got = pool.install(|| ws.step(&mut a, &mut sa, data, rows, &cfg, *par));
                let what = format!(
                    "{arch} {acts:?} {cfg:?} sparse {} {par:?} batch {bi}",
                    sparse.is_some()
                );
                assert_eq!(
                    (got.loss.to_bits(), got.errors),
                    (want.0.to_bits(), want.1),
                    "{what}: loss, errors"
                );
                assert!(bits(&a) == bits(&b), "{what}: weights differ");
                assert_eq!(sa, sb, "{what}: velocities differ");
            }
            let test = Split {
                x: x.as_ref(),
                y: &y,
                sparse,
            };
            let mut eval = Workspace::new(&a, 256);
            let e = pool.install(|| eval.evaluate(&a, test, *par));
            let r = b.evaluate(x.as_ref(), &y, 256, Par::Seq);
            assert_eq!(
                (e.loss.to_bits(), e.errors),
                (r.loss.to_bits(), r.errors),
                "{arch}: evaluation"
            );
        }
    }
}

#[test]
fn plain_sgd_relu_equals_the_reference() {
    let cfg = TrainConfig {
        batch: 100,
        ..TrainConfig::default()
    };
    compare("mlp2", None, cfg, false);
    compare(
        "784-37-20-10",
        None,
        TrainConfig {
            batch: 64,
            lr: 0.5,
            ..cfg
        },
        false,
    );
}

#[test]
fn momentum_and_decay_tanh_sigmoid_equal_the_reference() {
    let cfg = TrainConfig {
        batch: 50,
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 1e-3,
        ..TrainConfig::default()
    };
    compare("784-40-9-10", Some("tanh,sigmoid,identity"), cfg, false);
    compare(
        "784-16-10",
        Some("sigmoid,tanh"),
        TrainConfig {
            momentum: 0.0,
            ..cfg
        },
        false,
    );
}

#[test]
fn a_declined_sparse_product_falls_back_to_the_same_bits() {
    let cfg = TrainConfig {
        batch: 100,
        ..TrainConfig::default()
    };
    compare("784-30-10", None, cfg, true);
}

/// A trainer whose team's cores are far apart runs those steps on the calling thread alone
/// (`train::FarCores`): steps switching between one thread and the team from one batch to the
/// next, on one workspace inside the team, give the reference's bits batch by batch.
#[test]
fn steps_switching_between_one_thread_and_the_team_equal_the_reference() {
    let (x, y) = images(700, 784, 5);
    let csr = CsrRows::new(x.as_ref());
    let team = Team::new(2);
    let cfg = TrainConfig {
        batch: 100,
        ..TrainConfig::default()
    };
    for sparse in [Some(&csr), None] {
        let base = net("784-100-10", 9);
        let (mut a, mut b) = (base.clone(), base.clone());
        let (mut sa, mut sb) = (SgdState::new(&a, 0.0), SgdState::new(&b, 0.0));
        let mut ws = Workspace::new(&a, cfg.batch);
        let data = Split {
            x: x.as_ref(),
            y: &y,
            sparse,
        };
        team.install(|| {
            for (bi, rows) in (0..700).collect::<Vec<_>>().chunks(cfg.batch).enumerate() {
                let par = if bi % 3 == 1 { Par::Seq } else { Par::Rayon };
                let want = reference_step(&mut b, &mut sb, &x, &y, rows, &cfg);
                let got = ws.step(&mut a, &mut sa, data, rows, &cfg, par);
                let what = format!("sparse {} batch {bi} {par:?}", sparse.is_some());
                assert_eq!(
                    (got.loss.to_bits(), got.errors),
                    (want.0.to_bits(), want.1),
                    "{what}: loss, errors"
                );
                assert!(bits(&a) == bits(&b), "{what}: weights differ");
            }
        });
    }
}

//! Backward pass against central finite differences of an independent f64 forward pass, on
//! small networks, for every activation in hidden and output position.

use ibci_kernels::{Activation, Mat, Par, Tolerance};
use ibci_nn::init::{uniform, BiasInit, WeightInit};
use ibci_nn::{ArchSpec, Mlp};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 99;

fn act64(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Identity => z,
        Activation::Relu => z.max(0.0),
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
    }
}

/// Mean softmax cross-entropy of the network with parameters `p` (f64, layer by layer: w
/// row-major then b), written independently of the crate.
fn loss64(spec: &ArchSpec, p: &[f64], x: &[f64], y: &[usize], b: usize) -> f64 {
    let mut a: Vec<f64> = x.to_vec();
    let mut off = 0;
    for l in 0..spec.layers() {
        let (fi, fo) = (spec.widths[l], spec.widths[l + 1]);
        let w = &p[off..off + fi * fo];
        let bias = &p[off + fi * fo..off + fi * fo + fo];
        off += fi * fo + fo;
        let mut z = vec![0f64; b * fo];
        for i in 0..b {
            for o in 0..fo {
                let s: f64 = (0..fi).map(|k| a[i * fi + k] * w[k * fo + o]).sum::<f64>() + bias[o];
                z[i * fo + o] = act64(spec.acts[l], s);
            }
        }
        a = z;
    }
    let c = spec.outputs();
    (0..b)
        .map(|i| {
            let row = &a[i * c..(i + 1) * c];
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse - row[y[i]]
        })
        .sum::<f64>()
        / b as f64
}

#[test]
fn gradients_match_central_differences_for_every_activation() {
    use Activation::*;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    for acts in [
        [Relu, Relu, Identity],
        [Tanh, Sigmoid, Identity],
        [Sigmoid, Tanh, Tanh],
        [Identity, Relu, Sigmoid],
    ] {
        let spec = ArchSpec {
            widths: vec![6, 5, 4, 3],
            acts: acts.to_vec(),
        };
        let inits = [WeightInit::XavierUniform { gain: 1.5 }; 3];
        let mlp = Mlp::init(&spec, &inits, BiasInit::LinearDefault, &mut rng);
        let b = 7;
        let x = Mat::from_fn(b, 6, |_, _| uniform(&mut rng, -2.0, 2.0));
        let y: Vec<usize> = (0..b).map(|i| (i * 5 + 1) % 3).collect();
        let mut grads = mlp.zero_grads();
        mlp.loss_and_grads(x.as_ref(), &y, &mut grads, Par::Seq);

        let mut p: Vec<f64> = Vec::new();
        let mut g: Vec<f64> = Vec::new();
        for (l, layer) in mlp.layers.iter().enumerate() {
            p.extend(layer.w.as_slice().iter().map(|&v| f64::from(v)));
            p.extend(layer.b.iter().map(|&v| f64::from(v)));
            g.extend(grads.dw[l].as_slice().iter().map(|&v| f64::from(v)));
            g.extend(grads.db[l].iter().map(|&v| f64::from(v)));
        }
        let xs: Vec<f64> = x.as_slice().iter().map(|&v| f64::from(v)).collect();
        let h = 1e-6;
        for k in 0..p.len() {
            let mut q = p.clone();
            q[k] = p[k] + h;
            let up = loss64(&spec, &q, &xs, &y, b);
            q[k] = p[k] - h;
            let down = loss64(&spec, &q, &xs, &y, b);
            let fd = (up - down) / (2.0 * h);
            // The analytic gradient is computed in f32 (a few ulps per step of a short chain)
            // and the difference quotient has error ~h^2 and ~eps64/h: 1e-4 relative and
            // 1e-6 absolute hold with room; a wrong formula is off by O(1).
            let tol = Tolerance {
                rel: 1e-4,
                abs: 1e-6,
            };
            assert!(
                tol.accepts(g[k], fd),
                "seed {SEED}, acts {acts:?}: parameter {k}: backward {} vs finite difference {fd}",
                g[k]
            );
        }
    }
}

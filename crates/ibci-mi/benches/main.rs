//! ibci-mi bench: Ross's estimator for 1,000 candidate neurons x 60,000 MNIST training images
//! against their labels (the campaign's first layer: responses relu(X W) of He-normal-like
//! candidates), at 1 and 2 threads. scikit-learn's `mutual_info_classif` takes about 0.4 s per
//! neuron for this (about 7 minutes for all 1,000); the target here is <= 5 s on 2 cores.
//!
//! Also KSG (brute force, 100-dimensional layer) and the KDE bounds for a 100-unit layer on
//! 10,000 images (targets: <= 2 s each on 2 cores).
//!
//! Run: `cargo bench -p ibci-mi` (`-- ksg` for the KSG and KDE part only, `-- ross` for
//! Ross's only).

use std::path::Path;
use std::time::Instant;

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::{gemm, Mat, Par};
use ibci_mi::ross::ross_mi_columns;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let d = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    let x = Mat::from_vec(d.train.len(), d.train.dim(), d.train.images_f32());
    let y: Vec<usize> = d.train.labels.iter().map(|&l| usize::from(l)).collect();
    // 1,000 candidates with entries uniform in +-sqrt(6/784) (He-uniform scale), seeded.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let b = (6.0f32 / 784.0).sqrt();
    let w = Mat::from_fn(784, 1000, |_, _| {
        ((rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0) * b
    });
    let mut z = Mat::zeros(60_000, 1000);
    gemm(z.as_mut(), x.as_ref(), w.as_ref(), 1.0, 0.0, Par::Rayon);
    z.as_mut_slice().iter_mut().for_each(|v| *v = v.max(0.0));
    // Break the ReLU zeros' ties as scikit-learn does (1e-10 noise), seeded per neuron;
    // without it every zero is at distance 0 from the others and the estimate is meaningless.
    let mut zt = z.as_ref().t().to_mat();
    for (j, col) in zt.as_mut_slice().chunks_mut(60_000).enumerate() {
        ibci_mi::ross::jitter(col, 1e-10, j as u64);
    }
    let z = zt.as_ref().t().to_mat();
    let only = |part: &str| std::env::args().skip(1).any(|a| a == part);
    if !only("ross") {
        ksg_and_kde(&x, &y);
    }
    if only("ksg") {
        return;
    }
    println!("Ross I(neuron; label), k = 3, 1000 neurons x 60000 samples (ReLU responses)");
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let par = if threads == 1 { Par::Seq } else { Par::Rayon };
        let t = Instant::now();
        let mi = pool.install(|| ross_mi_columns(z.as_ref(), &y, 3, par));
        let s = t.elapsed().as_secs_f64();
        let mean = mi.iter().sum::<f64>() / mi.len() as f64;
        println!("{threads} thread(s): {s:.2} s ({:.2} ms per neuron), mean I = {mean:.4} nats (target <= 5 s on 2 cores)", 1e3 * s / 1000.0);
    }
}

/// KSG and the KDE bounds on a 100-unit ReLU layer of 10,000 images, 1 and 2 threads.
fn ksg_and_kde(x: &Mat, y: &[usize]) {
    use ibci_mi::ksg::{ksg, Points, Search, Variant};
    let n = 10_000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let b = (6.0f32 / 784.0).sqrt();
    let w = Mat::from_fn(784, 101, |_, _| {
        ((rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0) * b
    });
    let mut z = Mat::zeros(n, 101);
    gemm(
        z.as_mut(),
        x.as_ref().rows_range(0, n),
        w.as_ref(),
        1.0,
        0.0,
        Par::Rayon,
    );
    // T: 100 ReLU units (tiny seeded jitter breaks the zeros' ties); Z: a 101st unit, linear.
    let mut t: Vec<f64> = Vec::with_capacity(n * 100);
    let mut zc: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        for j in 0..100 {
            let jit = 1e-10 * ((rng.next_u32() >> 8) as f64 / 16_777_216.0 - 0.5);
            t.push(f64::from(z.at(i, j).max(0.0)) + jit);
        }
        zc.push(f64::from(z.at(i, 100)));
    }
    let tm = Mat::from_fn(n, 100, |i, j| t[i * 100 + j] as f32);
    println!("KSG1 (k = 3, brute force, max-norm) for I(T; Z), T a 100-unit ReLU layer, Z a linear unit, 10000 images; KDE bounds (noise var 0.1) for the same T");
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let par = if threads == 1 { Par::Seq } else { Par::Rayon };
        let t0 = Instant::now();
        let i = pool.install(|| {
            ksg(
                Points { data: &t, d: 100 },
                Points { data: &zc, d: 1 },
                3,
                Variant::Ksg1,
                Search::BruteForce,
            )
        });
        let ks = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (bx, by) = pool.install(|| ibci_mi::kde::mi_both(tm.as_ref(), &y[..n], 0.1, par));
        let kd = t0.elapsed().as_secs_f64();
        println!(
            "{threads} thread(s): KSG {ks:.2} s (I = {i:.10} nats); KDE I(X;T) in [{:.3}, {:.3}] and I(T;Y) in [{:.3}, {:.3}] nats: {kd:.2} s (targets <= 2 s each on 2 cores)",
            bx.lower, bx.upper, by.lower, by.upper
        );
    }
}

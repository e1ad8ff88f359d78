//! ibci-mi bench: Ross's estimator for 1,000 candidate neurons x 60,000 MNIST training images
//! against their labels (the campaign's first layer: responses relu(X W) of He-normal-like
//! candidates), at 1 and 2 threads. scikit-learn's `mutual_info_classif` takes about 0.4 s per
//! neuron for this (about 7 minutes for all 1,000); the target here is <= 5 s on 2 cores.
//!
//! Also KSG (brute force, 100-dimensional layer) and the KDE bounds for a 100-unit layer on
//! 10,000 images (targets: <= 2 s each on 2 cores).
//!
//! And the information plane's case: the KDE bounds (`mi_both`) on 5,000 images for a
//! 100-unit and a 10-unit layer.
//!
//! And the matrix-based Rényi α-entropy's case for the 100-unit layer on 1,000 images:
//! I(T;Y) at α = 1.01, σ = 1 (one 1,000 x 1,000 eigenvalue problem and one per label
//! block), and one information-plane point (the layer's σ aligned with the labels, S(T),
//! S(X, T), S(T, Y)).
//!
//! Run: `cargo bench -p ibci-mi`, or name parts: `-- ross`, `-- ksg` (KSG and the f64 KDE),
//! `-- plane`, `-- renyi`.

use std::path::Path;
use std::time::Instant;

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::{gemm, Mat, Par};
use ibci_mi::ross::ross_mi_columns;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The 1- and 2-thread pools the figures are measured on, with the matching `Par`.
fn pools() -> Vec<(usize, rayon::ThreadPool, Par)> {
    [1usize, 2]
        .into_iter()
        .map(|threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let par = Par::for_threads(threads);
            (threads, pool, par)
        })
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| ["ross", "ksg", "plane", "renyi"].contains(&a.as_str()))
        .collect();
    let want = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let d = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    let x = Mat::from_vec(d.train.len(), d.train.dim(), d.train.images_f32());
    let y: Vec<usize> = d.train.labels.iter().map(|&l| usize::from(l)).collect();
    if want("ksg") || want("plane") || want("renyi") {
        let layer = Layer::new(&x);
        if want("renyi") {
            renyi(&layer, &x, &y);
        }
        if want("ksg") {
            ksg_and_kde(&layer, &y);
        }
        if want("plane") {
            plane(&layer, &y);
        }
    }
    if want("ross") {
        ross(&x, &y);
    }
}

fn ross(x: &Mat, y: &[usize]) {
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
    println!("Ross I(neuron; label), k = 3, 1000 neurons x 60000 samples (ReLU responses)");
    for (threads, pool, par) in pools() {
        let t = Instant::now();
        let mi = pool.install(|| ross_mi_columns(z.as_ref(), y, 3, par));
        let s = t.elapsed().as_secs_f64();
        let mean = mi.iter().sum::<f64>() / mi.len() as f64;
        println!("{threads} thread(s): {s:.2} s ({:.2} ms per neuron), mean I = {mean:.4} nats (target <= 2 s on 2 cores)", 1e3 * s / 1000.0);
    }
}

/// A 100-unit ReLU layer T on the first 10,000 images (tiny seeded jitter breaks the zeros'
/// ties) and a 101st, linear unit Z.
struct Layer {
    /// T, `n x 100` row-major, f64.
    t: Vec<f64>,
    /// Z.
    z: Vec<f64>,
    /// T in f32.
    tm: Mat,
}

impl Layer {
    fn new(x: &Mat) -> Layer {
        let n = 10_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let b = (6.0f32 / 784.0).sqrt();
        let w = Mat::from_fn(784, 101, |_, _| {
            ((rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0) * b
        });
        let mut zm = Mat::zeros(n, 101);
        gemm(
            zm.as_mut(),
            x.as_ref().rows_range(0, n),
            w.as_ref(),
            1.0,
            0.0,
            Par::Rayon,
        );
        let mut t: Vec<f64> = Vec::with_capacity(n * 100);
        let mut z: Vec<f64> = Vec::with_capacity(n);
        for i in 0..n {
            for j in 0..100 {
                let jit = 1e-10 * ((rng.next_u32() >> 8) as f64 / 16_777_216.0 - 0.5);
                t.push(f64::from(zm.at(i, j).max(0.0)) + jit);
            }
            z.push(f64::from(zm.at(i, 100)));
        }
        let tm = Mat::from_fn(n, 100, |i, j| t[i * 100 + j] as f32);
        Layer { t, z, tm }
    }
}

/// KSG and the KDE bounds on the 100-unit layer, 1 and 2 threads.
fn ksg_and_kde(l: &Layer, y: &[usize]) {
    use ibci_mi::ksg::{ksg, Points, Search, Variant};
    let n = l.z.len();
    println!("KSG1 (k = 3, brute force, max-norm) for I(T; Z), T a 100-unit ReLU layer, Z a linear unit, 10000 images; KDE bounds (noise var 0.1) for the same T");
    for (threads, pool, par) in pools() {
        let t0 = Instant::now();
        let i = pool.install(|| {
            ksg(
                Points { data: &l.t, d: 100 },
                Points { data: &l.z, d: 1 },
                3,
                Variant::Ksg1,
                Search::BruteForce,
            )
        });
        let ks = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (bx, by) = pool.install(|| ibci_mi::kde::mi_both(l.tm.as_ref(), &y[..n], 0.1, par));
        let kd = t0.elapsed().as_secs_f64();
        println!(
            "{threads} thread(s): KSG {ks:.2} s (I = {i:.10} nats); KDE I(X;T) in [{:.3}, {:.3}] and I(T;Y) in [{:.3}, {:.3}] nats: {kd:.2} s (targets <= 2 s each on 2 cores)",
            bx.lower, bx.upper, by.lower, by.upper
        );
    }
}

/// The matrix-based Rényi I(T;Y) (α = 1.01, σ = 1, labels by the indicator kernel) for the
/// 100-unit layer on 1,000 images, best of 3.
fn renyi(l: &Layer, x: &Mat, y: &[usize]) {
    use ibci_mi::renyi::{
        aligned_sigma, entropy, gram, gram_of_sq_distances, joint_entropy,
        joint_entropy_with_labels, label_entropy, mutual_information_with_labels, sq_distances,
    };
    let n = 1000;
    let t = l.tm.as_ref().rows_range(0, n);
    let labels = &y[..n];
    println!("Matrix-based Renyi, alpha 1.01, 100 units x {n} images: I(T;Y) at sigma 1; one information-plane point (I(X;T) and I(T;Y), the layer's sigma aligned with the labels, the images' Gram matrix and entropy given)");
    for (threads, pool, par) in pools() {
        let (mut best, mut best_point) = (f64::INFINITY, f64::INFINITY);
        let (mut i, mut point) = (0.0, (0.0, 0.0));
        // What the plane computes once per run.
        let (kx, sx, sy) = pool.install(|| {
            let d2 = sq_distances(x.as_ref().rows_range(0, n), par);
            let kx = gram_of_sq_distances(&d2, aligned_sigma(&d2, labels, par));
            let sx = entropy(&kx, n, 1.01, par);
            (kx, sx, label_entropy(labels, 1.01))
        });
        for _ in 0..3 {
            let t0 = Instant::now();
            i = pool.install(|| mutual_information_with_labels(&gram(t, 1.0), labels, 1.01, par));
            best = best.min(t0.elapsed().as_secs_f64());
            let t0 = Instant::now();
            point = pool.install(|| {
                let d2 = sq_distances(t, par);
                let kt = gram_of_sq_distances(&d2, aligned_sigma(&d2, labels, par));
                let st = entropy(&kt, n, 1.01, par);
                (
                    sx + st - joint_entropy(&kx, &kt, n, 1.01, par),
                    st + sy - joint_entropy_with_labels(&kt, labels, 1.01, par),
                )
            });
            best_point = best_point.min(t0.elapsed().as_secs_f64());
        }
        println!(
            "{threads} thread(s): I(T;Y) {best:.3} s (I = {i:.6} nats); plane point {best_point:.3} s (I(X;T) = {:.6}, I(T;Y) = {:.6} nats)",
            point.0, point.1
        );
    }
}

/// The information plane's KDE: `mi_both` on 5,000 images for the 100-unit layer and
/// for its first 10 units (MLP-2's two layers are 100 and 10 wide), best of 3.
fn plane(l: &Layer, y: &[usize]) {
    let t100 = l.tm.as_ref().rows_range(0, 5000);
    let t10 = Mat::from_fn(5000, 10, |i, j| l.tm.at(i, j));
    println!("Information plane: KDE bounds (mi_both, noise var 0.1) on 5000 images");
    for (threads, pool, par) in pools() {
        let mut line = format!("{threads} thread(s):");
        for (name, t) in [("100 units", t100), ("10 units", t10.as_ref())] {
            let mut best = f64::INFINITY;
            let mut xt = 0.0;
            for _ in 0..3 {
                let t0 = Instant::now();
                let (b, _) = pool.install(|| ibci_mi::kde::mi_both(t, &y[..5000], 0.1, par));
                best = best.min(t0.elapsed().as_secs_f64());
                xt = b.upper;
            }
            line += &format!(" {name} {best:.3} s (I(X;T) <= {xt:.6});");
        }
        println!("{line}");
    }
}

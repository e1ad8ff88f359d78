//! Criterion entries for the information plane's estimators on a 100-unit ReLU layer of MNIST
//! test images (relu(X W), W seeded He-uniform): the KDE bounds (`mi_both`, noise variance
//! 0.1) on 5,000 images, and one matrix-based Rényi plane point (the layer's kernel width
//! aligned with the labels, S(T), S(X, T) and S(T, Y)) on 1,000, on rayon's default pool.
//!
//! Run: `cargo bench -p ibci-mi --bench estimators` (`cargo bench -p ibci-mi` also runs the
//! bench binary `main`, with the 1- and 2-thread figures docs/benchmarks.md quotes).

use std::hint::black_box;
use std::path::Path;

use criterion::Criterion;
use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::{gemm, Mat, Par};
use ibci_mi::kde::mi_both;
use ibci_mi::renyi::{
    aligned_sigma, entropy, gram_of_sq_distances, joint_entropy, joint_entropy_with_labels,
    label_entropy, sq_distances,
};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let d = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    let n = 5000;
    let x = Mat::from_vec(d.test.len(), d.test.dim(), d.test.images_f32());
    let x = Mat::from_fn(n, x.cols(), |i, j| x.at(i, j));
    let y: Vec<usize> = d.test.labels[..n].iter().map(|&l| usize::from(l)).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let b = (6.0f32 / 784.0).sqrt();
    let w = Mat::from_fn(784, 100, |_, _| {
        ((rng.next_u32() >> 8) as f32 / 8_388_608.0 - 1.0) * b
    });
    let mut z = Mat::zeros(n, 100);
    gemm(z.as_mut(), x.as_ref(), w.as_ref(), 1.0, 0.0, Par::Rayon);
    let t = Mat::from_fn(n, 100, |i, j| z.at(i, j).max(0.0));

    let mut c = Criterion::default().sample_size(10).configure_from_args();
    c.bench_function("kde/mi_both 5000x100 noise 0.1", |bch| {
        bch.iter(|| black_box(mi_both(t.as_ref(), &y, 0.1, Par::Rayon)))
    });
    let m = 1000;
    let (labels, par, alpha) = (&y[..m], Par::Rayon, 1.01);
    let d2x = sq_distances(x.as_ref().rows_range(0, m), par);
    let kx = gram_of_sq_distances(&d2x, aligned_sigma(&d2x, labels, par));
    let (sx, sy) = (entropy(&kx, m, alpha, par), label_entropy(labels, alpha));
    c.bench_function("renyi/plane point 1000x100", |bch| {
        bch.iter(|| {
            let d2 = sq_distances(t.as_ref().rows_range(0, m), par);
            let kt = gram_of_sq_distances(&d2, aligned_sigma(&d2, labels, par));
            let st = entropy(&kt, m, alpha, par);
            black_box((
                sx + st - joint_entropy(&kx, &kt, m, alpha, par),
                st + sy - joint_entropy_with_labels(&kt, labels, alpha, par),
            ))
        })
    });
    c.final_summary();
}

//! The KDE bounds against an f64 brute force on the same f32 data: every distance from
//! coordinate differences, every kernel value by `f64::exp`, both widths, every pair. They
//! must agree to 1e-8 nats at noise variances 1e-3, 0.1 and 1, for ReLU layers of 2 to 100
//! units on 500 to 5,000 MNIST test images (and the same layers scaled up tenfold, where
//! the GEMM's expansion cancels worst).

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::{gemm, Mat, MatRef, Par};
use ibci_mi::kde::{mi_both, mi_ty, mi_xt, Bounds};

/// (I(X;T), I(T;Y)) by the definitions, all in f64.
fn brute_force(t: MatRef<'_>, labels: &[usize], noise_var: f64) -> (Bounds, Bounds) {
    let (n, d) = (t.rows(), t.cols());
    let x: Vec<f64> = (0..n)
        .flat_map(|i| (0..d).map(move |k| f64::from(t.at(i, k))))
        .collect();
    let classes = labels.iter().max().unwrap() + 1;
    let mut count = vec![0f64; classes];
    labels.iter().for_each(|&c| count[c] += 1.0);
    let nf = n as f64;
    let mut total = [0f64; 4];
    for i in 0..n {
        let mut s = [0f64; 4];
        for j in 0..n {
            let dist: f64 = (0..d)
                .map(|k| {
                    let v = x[i * d + k] - x[j * d + k];
                    v * v
                })
                .sum();
            for (w, var) in [2.0 * noise_var, 8.0 * noise_var].into_iter().enumerate() {
                let k = (-dist / var).exp();
                s[2 * w] += k;
                if labels[i] == labels[j] {
                    s[2 * w + 1] += k;
                }
            }
        }
        for w in 0..2 {
            let all = s[2 * w].ln() - nf.ln();
            total[w] += all;
            total[2 + w] += (s[2 * w + 1].ln() - count[labels[i]].ln()) - all;
        }
    }
    (
        Bounds {
            upper: -total[0] / nf,
            lower: -total[1] / nf,
        },
        Bounds {
            upper: total[2] / nf,
            lower: total[3] / nf,
        },
    )
}

/// relu(X W) for the first `n` test images and a seeded He-uniform `784 x units` W, times
/// `scale`; and the labels.
fn layer(n: usize, units: usize, scale: f32) -> (Mat, Vec<usize>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let data = load(&dir, &LoadOptions::default()).expect("datasets/mnist");
    let x = Mat::from_vec(data.test.len(), data.test.dim(), data.test.images_f32());
    let mut state = 0x5eed_u64 + units as u64;
    let bound = (6.0f32 / 784.0).sqrt();
    let w = Mat::from_fn(784, units, |_, _| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * bound
    });
    let mut z = Mat::zeros(n, units);
    gemm(
        z.as_mut(),
        x.as_ref().rows_range(0, n),
        w.as_ref(),
        1.0,
        0.0,
        Par::Rayon,
    );
    let t = Mat::from_fn(n, units, |i, j| z.at(i, j).max(0.0) * scale);
    let labels = data.test.labels[..n]
        .iter()
        .map(|&l| usize::from(l))
        .collect();
    (t, labels)
}

#[test]
fn kde_bounds_match_an_f64_brute_force_to_1e8() {
    for (n, units, scale) in [
        (500, 2, 1.0),
        (500, 100, 1.0),
        (500, 100, 10.0),
        (2000, 10, 1.0),
        (2000, 10, 10.0),
        (5000, 2, 1.0),
        (5000, 100, 1.0),
    ] {
        let (t, labels) = layer(n, units, scale);
        for noise in [1e-3, 0.1, 1.0] {
            let (xt, ty) = mi_both(t.as_ref(), &labels, noise, Par::Rayon);
            let (bx, by) = brute_force(t.as_ref(), &labels, noise);
            eprintln!(
                "{n} x {units} x{scale} noise {noise}: {:.1e} {:.1e} {:.1e} {:.1e}",
                xt.upper - bx.upper,
                xt.lower - bx.lower,
                ty.upper - by.upper,
                ty.lower - by.lower
            );
            for (what, got, want) in [
                ("I(X;T) upper", xt.upper, bx.upper),
                ("I(X;T) lower", xt.lower, bx.lower),
                ("I(T;Y) upper", ty.upper, by.upper),
                ("I(T;Y) lower", ty.lower, by.lower),
            ] {
                assert!(
                    (got - want).abs() <= 1e-8,
                    "{n} x {units} (x{scale}), noise {noise}, {what}: {got} vs brute force {want} ({:.1e})",
                    got - want
                );
            }
            // The separate bounds are the one pass's, and the threads change no bit.
            assert_eq!(mi_xt(t.as_ref(), noise, Par::Seq), xt);
            assert_eq!(mi_ty(t.as_ref(), &labels, noise, Par::Seq), ty);
        }
    }
}

//! The symmetric eigenvalue solver against known spectra and against the naive reference
//! (cyclic Jacobi), on edge sizes, with one thread and with rayon's pool (same bits).

use ibci_kernels::eigen::{jacobi_eigenvalues, symmetric_eigenvalues};
use ibci_kernels::Par;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let x = uniform(&mut rng);
            a[i * n + j] = x;
            a[j * n + i] = x;
        }
    }
    a
}

/// Q D Q^T with Q a product of three random Householder reflections: spectrum `d`.
fn with_spectrum(d: &[f64], seed: u64) -> Vec<f64> {
    let n = d.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = d[i];
    }
    for _ in 0..3 {
        let mut v: Vec<f64> = (0..n).map(|_| uniform(&mut rng)).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        // m = H m H, H = I - 2 v v^T.
        let h = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j];
        let mut t = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                t[i * n + j] = (0..n).map(|k| h(i, k) * m[k * n + j]).sum();
            }
        }
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = (0..n).map(|k| t[i * n + k] * h(k, j)).sum();
            }
        }
    }
    // Exactly symmetric (the lower triangle is what the solver reads anyway).
    for i in 0..n {
        for j in 0..i {
            m[j * n + i] = m[i * n + j];
        }
    }
    m
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: eigenvalue {k}: {g} against {w}"
        );
    }
}

#[test]
fn known_spectra() {
    // The second-difference matrix: 2 - 2 cos(k pi / (n + 1)).
    for n in [1, 2, 3, 7, 16, 61] {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i > 0 {
                a[i * n + i - 1] = -1.0;
                a[(i - 1) * n + i] = -1.0;
            }
        }
        let want: Vec<f64> = (1..=n)
            .map(|k| 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n as f64 + 1.0)).cos())
            .collect();
        assert_close(
            &symmetric_eigenvalues(&a, n, Par::Seq),
            &want,
            1e-13,
            "second difference",
        );
    }
    // Rotated diagonals: distinct, repeated, zero and negative eigenvalues, and a spectrum
    // like a trace-normalised Gram matrix's (sums to 1, most values tiny).
    let gram_like: Vec<f64> = (0..80).map(|i| 0.5f64.powi(i + 1)).collect();
    for (k, d) in [
        vec![3.0, -1.0, 0.5, 2.0, 0.0],
        vec![1.0; 9],
        vec![0.0, 0.0, 1.0, 1.0, 1.0, -2.0, -2.0],
        (0..40).map(|i| i as f64 / 7.0 - 2.0).collect(),
        gram_like,
    ]
    .into_iter()
    .enumerate()
    {
        let n = d.len();
        let a = with_spectrum(&d, 10 + k as u64);
        let mut want = d.clone();
        want.sort_by(f64::total_cmp);
        let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert_close(
            &symmetric_eigenvalues(&a, n, Par::Seq),
            &want,
            1e-13 * scale * n as f64,
            &format!("spectrum {k}"),
        );
        assert_close(
            &jacobi_eigenvalues(&a, n),
            &want,
            1e-13 * scale * n as f64,
            "jacobi",
        );
    }
    // Empty, zero, already diagonal.
    assert!(symmetric_eigenvalues(&[], 0, Par::Seq).is_empty());
    assert_eq!(symmetric_eigenvalues(&[0.0; 16], 4, Par::Seq), vec![0.0; 4]);
    let diag = [5.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 2.0];
    assert_close(
        &symmetric_eigenvalues(&diag, 3, Par::Seq),
        &[-1.0, 2.0, 5.0],
        1e-14,
        "diagonal",
    );
}

#[test]
fn agrees_with_jacobi_and_ignores_the_upper_triangle() {
    for n in (1..=12).chain([17, 31, 40]) {
        let a = random_symmetric(n, n as u64);
        let want = jacobi_eigenvalues(&a, n);
        let got = symmetric_eigenvalues(&a, n, Par::Seq);
        assert_close(&got, &want, 1e-12 * n as f64, &format!("n = {n}"));
        // The sum is the trace.
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        assert!((got.iter().sum::<f64>() - trace).abs() < 1e-11 * n as f64);
        // Garbage above the diagonal changes nothing.
        let mut b = a.clone();
        for i in 0..n {
            for j in i + 1..n {
                b[i * n + j] = 1e300;
            }
        }
        assert_eq!(symmetric_eigenvalues(&b, n, Par::Seq), got, "n = {n}");
    }
}

#[test]
fn threads_give_the_same_bits() {
    let n = 150;
    let a = random_symmetric(n, 99);
    let one = symmetric_eigenvalues(&a, n, Par::Seq);
    for t in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap();
        let many = pool.install(|| symmetric_eigenvalues(&a, n, Par::Rayon));
        assert!(many == one, "{t} threads differ");
    }
}

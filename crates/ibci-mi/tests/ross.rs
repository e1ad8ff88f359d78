//! Ross's estimator: the closed-form cases of mi-reference.md §2.2 with the tolerances of the
//! suites they come from, and its exact invariances.

use ibci_kernels::{Mat, Par};
use ibci_mi::ross::{jitter, ross_mi, ross_mi_columns};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 14;

fn u01(r: &mut Xoshiro256PlusPlus) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn normal(r: &mut Xoshiro256PlusPlus) -> f64 {
    // Box-Muller (test data only).
    let (a, b) = (u01(r).max(1e-300), u01(r));
    (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
}

#[test]
fn two_shifted_uniforms_give_ln_2_and_three_give_ln_3() {
    // y in {0, 2} equiprobable, x ~ U(y, y + 1): the classes never overlap, I = ln 2
    // (ennemi: N = 800, +-0.02). Three levels: ln 3.
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED);
    for levels in [2usize, 3] {
        let n = 800;
        let y: Vec<usize> = (0..n).map(|_| (r.next_u32() as usize) % levels).collect();
        let x: Vec<f32> = y
            .iter()
            .map(|&c| (2.0 * c as f64 + u01(&mut r)) as f32)
            .collect();
        let i = ross_mi(&x, &y, 3);
        let want = (levels as f64).ln();
        assert!(
            (i - want).abs() < 0.02,
            "seed {SEED}, {levels} levels: {i} vs {want}"
        );
    }
}

#[test]
fn overlapping_uniforms_match_the_closed_form() {
    // y in {0, 0.7} with p = 1/3, 2/3, x ~ U(y, y + 1): I = (7/30) ln 3 + (14/30) ln 1.5
    // = 0.4455599178 (ennemi: N = 2000, +-0.05).
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 1);
    let n = 2000;
    let y: Vec<usize> = (0..n)
        .map(|_| usize::from(u01(&mut r) >= 1.0 / 3.0))
        .collect();
    let x: Vec<f32> = y
        .iter()
        .map(|&c| (0.7 * c as f64 + u01(&mut r)) as f32)
        .collect();
    let i = ross_mi(&x, &y, 3);
    assert!((i - 0.445_559_917_8).abs() < 0.05, "seed {SEED}: {i}");
}

#[test]
fn sign_of_a_normal_gives_ln_2() {
    // Y = sign(X), X ~ N(0, 1): I = ln 2 (ennemi: N = 800, +-0.01).
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 2);
    let x: Vec<f32> = (0..800).map(|_| normal(&mut r) as f32).collect();
    let y: Vec<usize> = x.iter().map(|&v| usize::from(v > 0.0)).collect();
    let i = ross_mi(&x, &y, 3);
    assert!((i - 2f64.ln()).abs() < 0.01, "seed {SEED}: {i}");
}

#[test]
fn bernoulli_mixture_of_uniforms() {
    // x ~ Bernoulli(p) is the label; the response is U(-1, 1) or U(0, 2). I = 0.3054321510
    // for p = 0.3 and 0.3465735903 for p = 0.5 (scikit-learn: N = 1000, k in {3,5,7},
    // rtol 0.1).
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 3);
    for (p, want) in [(0.3, 0.305_432_151_0), (0.5, 0.346_573_590_3)] {
        let y: Vec<usize> = (0..1000).map(|_| usize::from(u01(&mut r) < p)).collect();
        let x: Vec<f32> = y
            .iter()
            .map(|&c| if c == 0 { 2.0 * u01(&mut r) - 1.0 } else { 2.0 * u01(&mut r) } as f32)
            .collect();
        for k in [3, 5, 7] {
            let i = ross_mi(&x, &y, k);
            assert!(
                (i - want).abs() <= 0.1 * want,
                "seed {SEED}, p {p}, k {k}: {i} vs {want}"
            );
        }
    }
}

#[test]
fn independence_gives_about_zero() {
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 4);
    let x: Vec<f32> = (0..2000).map(|_| u01(&mut r) as f32).collect();
    let y: Vec<usize> = (0..2000).map(|_| (r.next_u32() % 5) as usize).collect();
    let i = ross_mi(&x, &y, 3);
    // Unbiased for independent variables up to fluctuations of a few 1e-3 at N = 2000.
    assert!(i.abs() < 0.02, "seed {SEED}: {i}");
}

#[test]
fn exact_invariances() {
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 5);
    let n = 500;
    let y: Vec<usize> = (0..n).map(|_| (r.next_u32() % 3) as usize).collect();
    let x: Vec<f32> = y
        .iter()
        .map(|&c| (c as f64 * 0.5 + normal(&mut r)) as f32)
        .collect();
    let base = ross_mi(&x, &y, 3);
    // Uniform scaling by a power of two (exact in f32) changes no neighbour count.
    let scaled: Vec<f32> = x.iter().map(|v| v * 1024.0).collect();
    assert_eq!(ross_mi(&scaled, &y, 3), base);
    // A point with a singleton label is left out (scikit-learn's convention).
    let (mut x2, mut y2) = (x.clone(), y.clone());
    x2.push(0.123);
    y2.push(7);
    assert_eq!(ross_mi(&x2, &y2, 3), base);
    // Permuting the samples: same counts, sums in another order.
    let mut idx: Vec<usize> = (0..n).collect();
    idx.reverse();
    let xp: Vec<f32> = idx.iter().map(|&i| x[i]).collect();
    let yp: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
    assert!((ross_mi(&xp, &yp, 3) - base).abs() < 1e-12);
    // Columns of a matrix, sequential or parallel, give each column's own value.
    let m = Mat::from_fn(n, 3, |i, j| x[i] * (j as f32 + 1.0));
    let cols = ross_mi_columns(m.as_ref(), &y, 3, Par::Rayon);
    assert_eq!(cols, ross_mi_columns(m.as_ref(), &y, 3, Par::Seq));
    assert_eq!(cols[0], base);
    // A non-finite value is reported, not estimated around.
    let mut bad = x.clone();
    bad[7] = f32::NAN;
    assert!(ross_mi(&bad, &y, 3).is_nan());
    bad[7] = f32::INFINITY;
    assert!(ross_mi(&bad, &y, 3).is_nan());
}

#[test]
fn jitter_breaks_relu_ties_reproducibly() {
    // Half the responses are exact zeros (ReLU). Without jitter d_i = 0 for them; with seeded
    // jitter the estimate is finite, and the same seed gives the same bits.
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 6);
    let y: Vec<usize> = (0..1000).map(|_| (r.next_u32() % 2) as usize).collect();
    let x: Vec<f32> = y
        .iter()
        .map(|&c| (normal(&mut r) + c as f64).max(0.0) as f32)
        .collect();
    let (mut a, mut b) = (x.clone(), x.clone());
    jitter(&mut a, 1e-10, 5);
    jitter(&mut b, 1e-10, 5);
    assert_eq!(a, b);
    assert!(a.iter().filter(|&&v| v == 0.0).count() < 5);
    let i = ross_mi(&a, &y, 3);
    assert!(i.is_finite() && i > 0.0 && i < 2f64.ln(), "{i}");
}

#[test]
fn matches_scikit_learn_on_deterministic_data() {
    // x_i = f32(((7919 i) mod 1009) / 1009 + 0.25 y_i), y_i = i mod 3. Reference values from
    // scikit-learn 1.9.1's `_compute_mi_cd(x, y, k)` (the estimator behind
    // `mutual_info_classif`, called directly to skip its scaling and noise) on the same f32
    // values widened to f64; parity tolerance 1e-9 (mi-reference.md §2.3).
    for (n, k, want) in [
        (300usize, 3usize, 0.239_766_942_265_461_58),
        (1000, 5, 0.213_805_236_046_024_75),
    ] {
        let y: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let x: Vec<f32> = (0..n)
            .map(|i| (((i * 7919) % 1009) as f64 / 1009.0 + 0.25 * y[i] as f64) as f32)
            .collect();
        let i = ross_mi(&x, &y, k);
        assert!(
            (i - want).abs() < 1e-9,
            "n {n}, k {k}: {i} vs scikit-learn {want}"
        );
    }
}

/// Ross's estimator straight from its definition, O(N²): every distance computed and sorted.
fn naive_ross(x: &[f32], y: &[usize], k: usize) -> f64 {
    use ibci_mi::digamma::digamma;
    let classes = y.iter().max().map_or(0, |m| m + 1);
    let count: Vec<usize> = (0..classes)
        .map(|c| y.iter().filter(|&&l| l == c).count())
        .collect();
    let kept: Vec<usize> = (0..x.len()).filter(|&i| count[y[i]] > 1).collect();
    if kept.is_empty() {
        return 0.0;
    }
    let dist = |i: usize, j: usize| (f64::from(x[i]) - f64::from(x[j])).abs();
    let (mut sk, mut snc, mut sm) = (0.0, 0.0, 0.0);
    for &i in &kept {
        let mut same: Vec<f64> = kept
            .iter()
            .filter(|&&j| j != i && y[j] == y[i])
            .map(|&j| dist(i, j))
            .collect();
        same.sort_by(f64::total_cmp);
        let kc = k.min(same.len());
        let d = same[kc - 1];
        let radius = if d > 0.0 { d.next_down() } else { 0.0 };
        let m = kept.iter().filter(|&&j| dist(i, j) <= radius).count();
        sk += digamma(kc);
        snc += digamma(count[y[i]]);
        sm += digamma(m);
    }
    let n = kept.len() as f64;
    digamma(kept.len()) + (sk - snc - sm) / n
}

#[test]
fn matches_the_naive_definition_on_edge_cases() {
    // Ties (few levels), signed zeros, singleton classes, k at and above the class sizes, a
    // single class, tiny inputs; sums run in another order, so 1e-12 (absolute, estimates are
    // O(1)) rather than bits.
    let mut r = Xoshiro256PlusPlus::seed_from_u64(SEED + 7);
    for trial in 0..200u64 {
        let n = 1 + (r.next_u32() % 300) as usize;
        let classes = 1 + (r.next_u32() % 6) as usize;
        let y: Vec<usize> = (0..n).map(|_| (r.next_u32() as usize) % classes).collect();
        let levels = 1 + r.next_u32() % 20;
        let x: Vec<f32> = (0..n)
            .map(|_| match trial % 3 {
                0 => (r.next_u32() % levels) as f32 - 5.0,
                1 => {
                    let v = (r.next_u32() % levels) as f32 - 0.5 * levels as f32;
                    if v == 0.0 && r.next_u32() % 2 == 0 {
                        -0.0
                    } else {
                        v * 1e-3
                    }
                }
                _ => normal(&mut r).max(0.0) as f32,
            })
            .collect();
        for k in [1usize, 3, 10] {
            let (fast, slow) = (ross_mi(&x, &y, k), naive_ross(&x, &y, k));
            assert!(
                (fast - slow).abs() < 1e-12,
                "seed {}, trial {trial}, n {n}, k {k}: {fast} vs naive {slow}",
                SEED + 7
            );
        }
    }
}

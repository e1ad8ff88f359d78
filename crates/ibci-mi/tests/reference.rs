//! The estimators against the exact and closed-form values of shared/docs/mi-reference.md
//! §2.1. Deterministic cases are compared at 1e-12 (the reference's convention).

use ibci_kernels::{Mat, Par};
use ibci_mi::binning::binned;
use ibci_mi::discrete::{conditional_mutual_information, entropy, mutual_information, Correction};
use ibci_mi::gaussian::{self, GaussianError};
use ibci_mi::{bits, kde};

const EXACT: f64 = 1e-12;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn discrete_exact_values_and_identities() {
    // scikit-learn's test_compute_mi_dd.
    let x = [0, 1, 1, 0, 0];
    let y = [1, 0, 0, 0, 1];
    let i = mutual_information(&x, &y, Correction::None);
    assert!(close(i, 0.291_103_166_032, EXACT), "{i}");
    // The 17-sample labelling pair.
    let a = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3];
    let b = [1, 1, 1, 1, 2, 1, 2, 2, 2, 2, 3, 1, 3, 3, 3, 2, 2];
    assert!(close(
        mutual_information(&a, &b, Correction::None),
        0.410_218_622_740,
        EXACT
    ));
    // XOR: one bit each, pairwise independent, one bit given the third.
    let x = [0, 0, 0, 0, 1, 1, 1, 1];
    let y = [0, 1, 0, 1, 0, 1, 0, 1];
    let z: Vec<i32> = x.iter().zip(&y).map(|(a, b)| a ^ b).collect();
    assert!(close(bits(entropy(&x, Correction::None)), 1.0, EXACT));
    assert!(close(
        mutual_information(&x, &y, Correction::None),
        0.0,
        EXACT
    ));
    assert!(close(
        mutual_information(&x, &z, Correction::None),
        0.0,
        EXACT
    ));
    assert!(close(
        bits(conditional_mutual_information(&x, &y, &z, Correction::None)),
        1.0,
        EXACT
    ));
    // I(X;X) = H(X); symmetry; a constant carries nothing; relabelling changes nothing.
    assert!(close(
        mutual_information(&a, &a, Correction::None),
        entropy(&a, Correction::None),
        EXACT
    ));
    assert!(close(
        mutual_information(&a, &b, Correction::None),
        mutual_information(&b, &a, Correction::None),
        EXACT
    ));
    assert!(close(
        mutual_information(&a, &[7; 17], Correction::None),
        0.0,
        EXACT
    ));
    let relabelled: Vec<&str> = a.iter().map(|v| ["", "p", "q", "r"][*v as usize]).collect();
    assert!(close(
        mutual_information(&relabelled, &b, Correction::None),
        mutual_information(&a, &b, Correction::None),
        EXACT
    ));
    // Miller-Madow adds (m - 1) / (2N): 2 occupied symbols, N = 5.
    let h = entropy(&[0, 1, 1, 0, 0], Correction::None);
    assert!(close(
        entropy(&[0, 1, 1, 0, 0], Correction::MillerMadow),
        h + 1.0 / 10.0,
        EXACT
    ));
}

#[test]
fn mnist_label_entropy_ceilings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
    let read = |name: &str| ibci_idx_labels(&dir.join(name));
    // H(Y_test) = 3.3194225261 bits, H(Y_train) = 3.3198709268 bits (mi-reference §2.1).
    assert!(close(
        bits(entropy(
            &read("t10k-labels-idx1-ubyte.gz"),
            Correction::None
        )),
        3.319_422_526_1,
        1e-9
    ));
    assert!(close(
        bits(entropy(
            &read("train-labels-idx1-ubyte.gz"),
            Correction::None
        )),
        3.319_870_926_8,
        1e-9
    ));
}

/// The labels of an MNIST label file, read with ibci-idx.
fn ibci_idx_labels(path: &std::path::Path) -> Vec<u8> {
    let a = ibci_idx::read_file(path).expect("label file");
    a.as_u8().expect("u8 labels").to_vec()
}

/// Where point `k` of class `c` goes.
type Placement = Box<dyn Fn(usize, usize) -> [f32; 3]>;

/// 64 points in 3-D, two classes of 32, built by `f(class, index in class)`.
fn points(f: impl Fn(usize, usize) -> [f32; 3]) -> (Mat, Vec<usize>) {
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for c in 0..2 {
        for k in 0..32 {
            data.extend(f(c, k));
            labels.push(c);
        }
    }
    (Mat::from_vec(64, 3, data), labels)
}

#[test]
fn binning_and_kde_limits_agree_exactly() {
    let ln64 = 64f64.ln();
    let ln2 = 2f64.ln();
    let cases: [(&str, Placement, f64, f64); 3] = [
        ("identical", Box::new(|_, _| [0.3, -1.2, 2.0]), 0.0, 0.0),
        // At least 100 apart in the first coordinate.
        (
            "far apart",
            Box::new(|c, k| [((c * 32 + k) * 100) as f32, 1.0, -1.0]),
            ln64,
            ln2,
        ),
        // Two tight clusters (identical points) that coincide with the classes.
        (
            "two clusters",
            Box::new(|c, _| [c as f32 * 50.0, 0.0, 0.0]),
            ln2,
            ln2,
        ),
    ];
    for (name, f, want_xt, want_ty) in cases {
        let (t, y) = points(f);
        let b = binned(t.as_ref(), &y, 0.5, Correction::None);
        assert!(
            close(b.i_xt, want_xt, EXACT) && close(b.i_ty, want_ty, EXACT),
            "{name}: binned {b:?}"
        );
        let xt = kde::mi_xt(t.as_ref(), 0.1, Par::Seq);
        let ty = kde::mi_ty(t.as_ref(), &y, 0.1, Par::Seq);
        for (what, v, want) in [
            ("KDE upper I(X;T)", xt.upper, want_xt),
            ("KDE lower I(X;T)", xt.lower, want_xt),
            ("KDE upper I(T;Y)", ty.upper, want_ty),
            ("KDE lower I(T;Y)", ty.lower, want_ty),
        ] {
            assert!(close(v, want, EXACT), "{name}: {what} = {v}, want {want}");
        }
    }
}

#[test]
fn kde_bounds_are_ordered_and_bounded_between_the_limits() {
    // Points on a line 0.3 apart: neither limit; the lower bound stays below the upper one
    // and both inside [0, ln N] and [0, ln 2].
    let (t, y) = points(|c, k| [(c * 32 + k) as f32 * 0.3, 0.0, 0.0]);
    let xt = kde::mi_xt(t.as_ref(), 0.1, Par::Rayon);
    let ty = kde::mi_ty(t.as_ref(), &y, 0.1, Par::Rayon);
    assert!(
        0.0 < xt.lower && xt.lower < xt.upper && xt.upper < 64f64.ln(),
        "{xt:?}"
    );
    assert!(
        0.0 < ty.lower && ty.lower < ty.upper && ty.upper < 2f64.ln() + EXACT,
        "{ty:?}"
    );
    // Same bits with any parallelism.
    assert_eq!(kde::mi_xt(t.as_ref(), 0.1, Par::Seq), xt);
}

#[test]
fn gaussian_closed_forms() {
    for (rho, want) in [
        (0.5, 0.143_841_036_2),
        (0.9, 0.830_365_603_4),
        (0.99, 1.958_517_773_6),
    ] {
        let cov = [1.0, rho, rho, 1.0];
        let i = gaussian::mutual_information(&cov, 2, &[0], &[1]).unwrap();
        assert!(close(i, want, 1e-10), "rho {rho}: {i}");
        // = -1/2 ln(1 - rho^2) exactly in value.
        assert!(close(i, -0.5 * (1.0 - rho * rho).ln(), EXACT));
    }
    let cov = [1.0, 0.3, 0.5, 0.3, 1.0, 0.2, 0.5, 0.2, 1.0];
    let i = gaussian::mutual_information(&cov, 3, &[0, 1], &[2]).unwrap();
    assert!(close(i, 0.145_675_900_7, 1e-10), "{i}");
    // Entropy of N(0, s^2): 1/2 ln(2 pi e s^2).
    let h = gaussian::entropy(&[4.0], 1).unwrap();
    assert!(close(
        h,
        0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * 4.0).ln(),
        EXACT
    ));
    // A singular covariance is a typed error, not NaN.
    assert_eq!(
        gaussian::mutual_information(&[1.0, 1.0, 1.0, 1.0], 2, &[0], &[1]),
        Err(GaussianError::NotPositiveDefinite { pivot: 1 })
    );
    assert!(matches!(
        gaussian::entropy(&[1.0, 2.0], 2),
        Err(GaussianError::Shape(_))
    ));
}

#[test]
fn kde_one_pass_equals_the_separate_bounds() {
    // Two noisy clusters matching the labels, 300 points in 3 dimensions.
    let mut next = lcg(99);
    let mut u = move || next() - 0.5;
    let labels: Vec<usize> = (0..300).map(|i| i % 2).collect();
    let t = ibci_kernels::Mat::from_fn(300, 3, |i, _| labels[i] as f32 * 2.0 + u());
    for noise in [0.01, 0.1, 1.0] {
        let (xt, ty) = ibci_mi::kde::mi_both(t.as_ref(), &labels, noise, ibci_kernels::Par::Rayon);
        let xs = ibci_mi::kde::mi_xt(t.as_ref(), noise, ibci_kernels::Par::Seq);
        let ys = ibci_mi::kde::mi_ty(t.as_ref(), &labels, noise, ibci_kernels::Par::Seq);
        for (a, b) in [
            (xt.upper, xs.upper),
            (xt.lower, xs.lower),
            (ty.upper, ys.upper),
            (ty.lower, ys.lower),
        ] {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "noise {noise}: {a} vs {b}"
            );
        }
        assert!(ty.upper <= 2f64.ln() + 1e-12 && ty.lower >= -1e-12);
    }
}

#[test]
fn bin_patterns_match_a_hash_map_of_first_appearances() {
    // The naive definition: a row's bins as a key, ids handed out in order of first
    // appearance. Few bins per coordinate make many repeated rows; a transposed view takes
    // the strided path; negative activations floor downwards.
    use ibci_mi::binning::bin_patterns;
    use std::collections::HashMap;
    let mut next = lcg(7);
    let mut u = move || next() * 3.0 - 1.5;
    for (n, d) in [(1usize, 1usize), (7, 3), (500, 2), (300, 12)] {
        let t = ibci_kernels::Mat::from_fn(n, d, |_, _| u());
        for view in [t.as_ref(), t.as_ref().t().to_mat().as_ref().t()] {
            let got = bin_patterns(view, 0.5);
            let mut ids: HashMap<Vec<i64>, usize> = HashMap::new();
            let want: Vec<usize> = (0..n)
                .map(|i| {
                    let key: Vec<i64> = (0..d)
                        .map(|j| (f64::from(t.at(i, j)) / 0.5).floor() as i64)
                        .collect();
                    let next = ids.len();
                    *ids.entry(key).or_insert(next)
                })
                .collect();
            assert_eq!(got, want, "{n} x {d}");
        }
    }
}

#[test]
fn kde_is_thread_invariant_on_tile_edges() {
    // Sizes around the 256-row tiles (one partial tile, exactly one, one plus one row, two
    // and a bit): Seq and Rayon give the same bits, and the separate bounds the one pass's.
    let mut u = lcg(3);
    for n in [1usize, 9, 256, 257, 530] {
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let t = ibci_kernels::Mat::from_fn(n, 5, |i, _| labels[i] as f32 + u());
        let seq = ibci_mi::kde::mi_both(t.as_ref(), &labels, 0.1, Par::Seq);
        let par = ibci_mi::kde::mi_both(t.as_ref(), &labels, 0.1, Par::Rayon);
        assert_eq!(format!("{seq:?}"), format!("{par:?}"), "n {n}");
        assert_eq!(kde::mi_xt(t.as_ref(), 0.1, Par::Rayon), seq.0);
        assert_eq!(kde::mi_ty(t.as_ref(), &labels, 0.1, Par::Rayon), seq.1);
    }
}

#[test]
fn binning_by_a_bin_count_on_a_fixed_range() {
    use ibci_mi::binning::{binned_at, Resolution};
    // A scalar: 400 values evenly spaced on [0, 1), labelled by their quarter. Four bins on
    // [0, 1] give four equal groups: H = I(T;Y) = ln 4 exactly; two bins: ln 2 and ln 2.
    let n = 400;
    let t = ibci_kernels::Mat::from_fn(n, 1, |i, _| i as f32 / n as f32);
    let y: Vec<usize> = (0..n).map(|i| i * 4 / n).collect();
    // `count` bins on [0, 1].
    let at = |t: &ibci_kernels::Mat, count| {
        let res = Resolution::Bins {
            count,
            lo: 0.0,
            hi: 1.0,
        };
        binned_at(t.as_ref(), &y, res, Correction::None)
    };
    let four = at(&t, 4);
    assert!(close(four.i_xt, 4f64.ln(), EXACT) && close(four.i_ty, 4f64.ln(), EXACT));
    assert_eq!(four.patterns, 4);
    let two = at(&t, 2);
    assert!(close(two.i_xt, 2f64.ln(), EXACT) && close(two.i_ty, 2f64.ln(), EXACT));
    // Values outside the range fall into the edge bins: everything at or above hi is one bin,
    // everything below lo another.
    let wide = ibci_kernels::Mat::from_fn(n, 1, |i, _| if i < n / 2 { -5.0 } else { 7.0 });
    let b = at(&wide, 10);
    assert_eq!(b.patterns, 2);
    // Ten bins of width 0.1 on [0, 1] equal the width resolution 0.1 inside the range.
    let w = binned(t.as_ref(), &y, 0.1, Correction::None);
    let c = at(&t, 10);
    assert_eq!(w.patterns, c.patterns);
    assert!(close(w.i_xt, c.i_xt, EXACT));
}

#[test]
#[should_panic(expected = "need at least one bin")]
fn an_empty_range_is_refused() {
    let t = ibci_kernels::Mat::from_fn(3, 1, |i, _| i as f32);
    ibci_mi::binning::bin_patterns_at(
        t.as_ref(),
        ibci_mi::binning::Resolution::Bins {
            count: 3,
            lo: 1.0,
            hi: 1.0,
        },
    );
}

/// Test data: a 64-bit LCG (Knuth's MMIX constants) seeded with `seed`, 24 bits of each
/// state as an f32 in [0, 1).
fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    }
}

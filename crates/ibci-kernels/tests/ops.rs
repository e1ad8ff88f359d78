//! The non-GEMM kernels against naive f64 references (one Tolerance type), bit-identity across
//! thread counts (sizes crossing the chunk and row-block boundaries), NaN-filled outputs, and
//! the edge cases of each (ties, NaN, empty classes, extreme logits).

// The naive references index like the formulas they transcribe.
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

use ibci_kernels::elementwise::{
    activate, activate_backward, bias_add, sgd_step, Activation, CHUNK,
};
use ibci_kernels::math::TANH_MAX_ULPS;
use ibci_kernels::softmax::{argmax_rows, softmax_xent};
use ibci_kernels::stats::{
    class_column_stats, column_mean_var, column_norms, column_sums, deflate, ROW_BLOCK,
};
use ibci_kernels::{KernelPath, Mat, MatMut, MatRef, Par, Tolerance};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 31_337;
const EDGE: [usize; 14] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129];

fn rng(k: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(SEED + k)
}

fn uniform(r: &mut Xoshiro256PlusPlus, scale: f32) -> f32 {
    ((r.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0) * scale
}

fn vec_of(r: &mut Xoshiro256PlusPlus, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| uniform(r, scale)).collect()
}

fn pools() -> &'static [rayon::ThreadPool] {
    static P: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    P.get_or_init(|| {
        [1, 2, 3, 8]
            .into_iter()
            .map(|t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            })
            .collect()
    })
}

/// Runs `f` sequentially and in every pool; all results must have the same bits.
fn same_bits<T: PartialEq + std::fmt::Debug + Send>(
    what: &str,
    f: impl Fn(Par) -> T + Sync + Send,
) -> T {
    let seq = f(Par::Seq);
    for (p, pool) in pools().iter().enumerate() {
        let r = pool.install(|| f(Par::Rayon));
        assert!(
            r == seq,
            "seed {SEED}: {what}: pool {p} differs from sequential"
        );
    }
    seq
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn activations_match_f64_and_threads() {
    let mut r = rng(1);
    for n in EDGE
        .into_iter()
        .chain([CHUNK - 1, CHUNK + 1, 3 * CHUNK + 5])
    {
        let mut x = vec_of(&mut r, n, 12.0);
        if n > 3 {
            x[0] = f32::NAN;
            x[1] = -0.0;
            x[2] = f32::INFINITY;
            x[3] = -100.0;
        }
        for act in Activation::ALL {
            let y = same_bits(act.name(), |par| {
                let mut y = x.clone();
                activate(act, &mut y, par);
                bits(&y)
            });
            for (&xi, &yb) in x.iter().zip(&y) {
                let y = f32::from_bits(yb);
                let xd = f64::from(xi);
                let (want, tol) = match act {
                    Activation::Identity => (xd, Tolerance::EXACT),
                    Activation::Relu => (if xi < 0.0 { 0.0 } else { xd }, Tolerance::EXACT),
                    Activation::Tanh => (xd.tanh(), Tolerance::ulps(2.0 * TANH_MAX_ULPS)),
                    // exp (1.1 ulp), add, divide: within 4 ulps; below ~-87 the true value is
                    // subnormal and ours flushes through exp's overflow to 0.
                    Activation::Sigmoid => (
                        1.0 / (1.0 + (-xd).exp()),
                        Tolerance {
                            rel: 4.0 * Tolerance::EPS,
                            abs: f64::from(f32::MIN_POSITIVE),
                        },
                    ),
                };
                assert!(
                    tol.accepts(f64::from(y), want),
                    "{}({xi:e}) = {y:e}, want {want:e}",
                    act.name()
                );
            }
        }
    }
}

#[test]
fn activation_derivatives_from_outputs() {
    let mut r = rng(2);
    let n = 2 * CHUNK + 3;
    let x = vec_of(&mut r, n, 5.0);
    let dy = vec_of(&mut r, n, 1.0);
    for act in Activation::ALL {
        let mut y = x.clone();
        activate(act, &mut y, Par::Seq);
        let dx = same_bits(act.name(), |par| {
            let mut d = dy.clone();
            activate_backward(act, &y, &mut d, par);
            bits(&d)
        });
        for i in 0..n {
            let (yi, g) = (f64::from(y[i]), f64::from(dy[i]));
            let want = g * match act {
                Activation::Identity => 1.0,
                Activation::Relu => f64::from(u8::from(y[i] > 0.0)),
                Activation::Tanh => 1.0 - yi * yi,
                Activation::Sigmoid => yi * (1.0 - yi),
            };
            let got = f64::from(f32::from_bits(dx[i]));
            // f' is formed in f32 from y: y*y (or 1-y) rounds by at most eps against a value
            // <= 1, an absolute error that 1 - y*y can magnify near |y| = 1 (cancellation);
            // then one more rounding of the product with dy.
            let tol = Tolerance {
                rel: 2.0 * Tolerance::EPS,
                abs: 2.0 * Tolerance::EPS * g.abs(),
            };
            assert!(
                tol.accepts(got, want),
                "{} at {i}: {got} vs {want}",
                act.name()
            );
        }
    }
}

#[test]
fn bias_add_every_layout() {
    let mut r = rng(3);
    for (rows, cols) in [(0, 5), (1, 1), (17, 9), (129, 33), (CHUNK / 7 + 3, 10)] {
        let x = vec_of(&mut r, rows * cols, 3.0);
        let bias = vec_of(&mut r, cols, 1.0);
        let got = same_bits("bias_add", |par| {
            let mut y = x.clone();
            bias_add(MatMut::from_slice(&mut y, rows, cols), &bias, par);
            bits(&y)
        });
        for i in 0..rows {
            for j in 0..cols {
                assert_eq!(got[i * cols + j], (x[i * cols + j] + bias[j]).to_bits());
            }
        }
        // A column-major view of the same matrix (storage cols x rows): the strided path.
        let mut t = vec![0f32; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = x[i * cols + j];
            }
        }
        bias_add(
            MatMut::from_slice_strided(&mut t, rows, cols, 1, rows.max(1)),
            &bias,
            Par::Seq,
        );
        for i in 0..rows {
            for j in 0..cols {
                assert_eq!(t[j * rows + i].to_bits(), got[i * cols + j]);
            }
        }
    }
}

#[test]
fn sgd_step_is_the_written_formula() {
    let mut r = rng(4);
    let n = 3 * CHUNK + 11;
    let w0 = vec_of(&mut r, n, 1.0);
    let g = vec_of(&mut r, n, 0.1);
    for (momentum, wd) in [(0.0f32, 0.0f32), (0.0, 5e-4), (0.9, 0.0), (0.9, 1e-4)] {
        let (w, v) = same_bits("sgd", |par| {
            let mut w = w0.clone();
            let mut v = vec![0f32; n];
            for _ in 0..3 {
                sgd_step(
                    &mut w,
                    &g,
                    (momentum != 0.0).then_some(&mut v[..]),
                    0.1,
                    momentum,
                    wd,
                    par,
                );
            }
            (bits(&w), bits(&v))
        });
        // Three steps of the documented formula, element by element.
        for i in 0..n {
            let (mut wi, mut vi) = (w0[i], 0f32);
            for _ in 0..3 {
                let mut d = if wd != 0.0 { g[i] + wd * wi } else { g[i] };
                if momentum != 0.0 {
                    vi = momentum * vi + d;
                    d = vi;
                }
                wi -= 0.1 * d;
            }
            assert_eq!(w[i], wi.to_bits(), "momentum {momentum} wd {wd} at {i}");
            assert_eq!(v[i], vi.to_bits());
        }
    }
}

/// loss and gradient of softmax-CE in f64.
fn xent_f64(z: &Mat, labels: &[usize]) -> (f64, Vec<f64>) {
    let (b, c) = (z.rows(), z.cols());
    let mut loss = 0.0;
    let mut grad = vec![0.0; b * c];
    for i in 0..b {
        let m = (0..c)
            .map(|j| f64::from(z.at(i, j)))
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = (0..c).map(|j| (f64::from(z.at(i, j)) - m).exp()).sum();
        loss += m + s.ln() - f64::from(z.at(i, labels[i]));
        for j in 0..c {
            let p = (f64::from(z.at(i, j)) - m).exp() / s;
            grad[i * c + j] = (p - f64::from(u8::from(j == labels[i]))) / b as f64;
        }
    }
    (loss / b as f64, grad)
}

#[test]
fn softmax_xent_loss_and_gradient() {
    let mut r = rng(5);
    for (b, c) in [(1, 1), (1, 10), (7, 3), (100, 10), (1000, 17), (257, 129)] {
        let z = Mat::from_fn(b, c, |_, _| uniform(&mut r, 8.0));
        let labels: Vec<usize> = (0..b).map(|_| (r.next_u32() as usize) % c).collect();
        let (loss, g) = same_bits("softmax_xent", |par| {
            let mut g = Mat::filled(b, c, f32::NAN);
            let l = softmax_xent(z.as_ref(), &labels, Some(g.as_mut()), 1.0, par);
            (l.to_bits(), bits(g.as_slice()))
        });
        let (want_loss, want_g) = xent_f64(&z, &labels);
        let loss = f64::from_bits(loss);
        // Per row: exp, a C-term sum, ln: a few ulps of the row's scale (the max logit).
        let tol = Tolerance {
            rel: 1e-5,
            abs: 1e-5,
        };
        assert!(
            tol.accepts(loss, want_loss),
            "{b}x{c}: loss {loss} vs {want_loss}"
        );
        for (k, (&gb, &w)) in g.iter().zip(&want_g).enumerate() {
            let got = f64::from(f32::from_bits(gb));
            assert!(
                Tolerance {
                    rel: 1e-5,
                    abs: 1e-6 / b as f64
                }
                .accepts(got, w),
                "{b}x{c}: grad[{k}] {got} vs {w}"
            );
        }
    }
}

#[test]
fn softmax_xent_extremes() {
    // Equal logits: loss = ln C exactly in value; huge logits do not overflow.
    let z = Mat::filled(4, 10, 3.0);
    let l = softmax_xent(z.as_ref(), &[0, 1, 2, 9], None, 1.0, Par::Seq);
    assert!(Tolerance::ulps(4.0).accepts(l, 10f64.ln()), "{l}");
    let z = Mat::from_vec(2, 3, vec![1e30, 0.0, -1e30, -1e30, 1e30, 0.0]);
    let mut g = Mat::filled(2, 3, f32::NAN);
    let l = softmax_xent(z.as_ref(), &[0, 2], Some(g.as_mut()), 1.0, Par::Seq);
    // Row 0 predicts its label with certainty (loss 0); row 1 misses by 1e30.
    assert!(Tolerance::ulps(4.0).accepts(l, 0.5e30), "{l}");
    assert_eq!(g.as_slice(), &[0.0, 0.0, 0.0, 0.0, 0.5, -0.5]);
    assert_eq!(
        softmax_xent(Mat::zeros(0, 3).as_ref(), &[], None, 1.0, Par::Seq),
        0.0
    );
}

#[test]
fn argmax_ties_and_nan() {
    let x = Mat::from_vec(
        4,
        4,
        vec![
            1.0,
            3.0,
            3.0,
            2.0, // tie: first
            f32::NAN,
            0.0,
            -1.0,
            0.5, // NaN is never the max
            f32::NAN,
            f32::NAN,
            f32::NAN,
            f32::NAN, // all NaN: 0
            -5.0,
            -4.0,
            -3.0,
            -2.0,
        ],
    );
    assert_eq!(argmax_rows(x.as_ref()), vec![1, 3, 0, 3]);
}

#[test]
fn column_statistics_match_f64_and_threads() {
    let mut r = rng(6);
    for (n, d) in [
        (0, 3),
        (1, 1),
        (9, 17),
        (ROW_BLOCK + 1, 7),
        (3 * ROW_BLOCK + 17, 33),
    ] {
        let x = Mat::from_fn(n, d, |_, j| uniform(&mut r, 1.0) + j as f32);
        let sums = same_bits("column_sums", |par| bits(&column_sums(x.as_ref(), par)));
        let (mean, var) = same_bits("column_mean_var", |par| {
            let (m, v) = column_mean_var(x.as_ref(), 1, par);
            (bits(&m), bits(&v))
        });
        let norms = same_bits("column_norms", |par| bits(&column_norms(x.as_ref(), par)));
        for j in 0..d {
            let col: Vec<f64> = (0..n).map(|i| f64::from(x.at(i, j))).collect();
            let s: f64 = col.iter().sum();
            let m = if n > 0 { s / n as f64 } else { 0.0 };
            let v = col.iter().map(|c| (c - m) * (c - m)).sum::<f64>()
                / (n.saturating_sub(1).max(1)) as f64;
            let nrm = col.iter().map(|c| c * c).sum::<f64>().sqrt();
            // f64 accumulation, one rounding to f32 at the end: half an ulp, allow one.
            let t = Tolerance::ulps(1.0);
            for (what, got, want) in [
                ("sum", sums[j], s),
                ("mean", mean[j], m),
                ("var", var[j], v),
                ("norm", norms[j], nrm),
            ] {
                let got = f64::from(f32::from_bits(got));
                assert!(t.accepts(got, want), "{n}x{d} {what}[{j}]: {got} vs {want}");
            }
        }
    }
}

#[test]
fn class_statistics_like_torch_scatter() {
    let mut r = rng(7);
    let (n, d, classes) = (2 * ROW_BLOCK + 100, 13, 5);
    let x = Mat::from_fn(n, d, |_, _| uniform(&mut r, 2.0));
    // Class 3 is empty; class 4 has exactly one row.
    let mut labels: Vec<usize> = (0..n).map(|i| [0, 1, 2][i % 3]).collect();
    labels[n / 2] = 4;
    let st = same_bits("class_column_stats", |par| {
        let s = class_column_stats(x.as_ref(), &labels, classes, 1, par);
        (
            s.counts.clone(),
            bits(s.mean.as_slice()),
            bits(s.std.as_slice()),
        )
    });
    let (counts, mean, std) = st;
    assert_eq!(counts[3], 0);
    assert_eq!(counts[4], 1);
    for k in 0..classes {
        for j in 0..d {
            let vals: Vec<f64> = (0..n)
                .filter(|&i| labels[i] == k)
                .map(|i| f64::from(x.at(i, j)))
                .collect();
            let c = vals.len();
            let m = if c > 0 {
                vals.iter().sum::<f64>() / c as f64
            } else {
                0.0
            };
            let s = (vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
                / (c.saturating_sub(1).max(1)) as f64)
                .sqrt();
            let (gm, gs) = (
                f32::from_bits(mean[k * d + j]),
                f32::from_bits(std[k * d + j]),
            );
            assert!(
                Tolerance::ulps(1.0).accepts(f64::from(gm), m),
                "class {k} col {j}: mean {gm} vs {m}"
            );
            assert!(
                Tolerance::ulps(1.0).accepts(f64::from(gs), s),
                "class {k} col {j}: std {gs} vs {s}"
            );
        }
    }
    // Empty class: mean 0, std 0; single-row class: its value, std 0.
    assert!(mean[3 * d..4 * d]
        .iter()
        .chain(&std[3 * d..4 * d])
        .all(|&b| b == 0));
    assert!(std[4 * d..5 * d].iter().all(|&b| b == 0));
}

#[test]
fn deflation_removes_the_direction() {
    let mut r = rng(8);
    for (dim, c) in [(1, 1), (9, 17), (784, 130), (ROW_BLOCK + 3, 5)] {
        let w = Mat::from_fn(dim, c, |_, _| uniform(&mut r, 1.0));
        // a = the first column, normalised.
        let norm = (0..dim)
            .map(|i| f64::from(w.at(i, 0)).powi(2))
            .sum::<f64>()
            .sqrt();
        let a: Vec<f32> = (0..dim)
            .map(|i| (f64::from(w.at(i, 0)) / norm) as f32)
            .collect();
        let d = same_bits("deflate", |par| {
            let mut d = w.clone();
            deflate(d.as_mut(), &a, w.as_ref(), par);
            bits(d.as_slice())
        });
        let d = Mat::from_vec(dim, c, d.into_iter().map(f32::from_bits).collect());
        for j in 0..c {
            let t: f64 = (0..dim)
                .map(|i| f64::from(a[i]) * f64::from(w.at(i, j)))
                .sum();
            for i in 0..dim {
                let want = f64::from(w.at(i, j)) - f64::from(a[i]) * t;
                let scale = f64::from(w.at(i, j)).abs() + (f64::from(a[i]) * t).abs();
                assert!(
                    Tolerance::reduction(2)
                        .with_scale(scale)
                        .accepts(f64::from(d.at(i, j)), want),
                    "{dim}x{c} ({i},{j})"
                );
            }
            // What is left of column j is orthogonal to a (up to rounding).
            let dot: f64 = (0..dim)
                .map(|i| f64::from(a[i]) * f64::from(d.at(i, j)))
                .sum();
            assert!(
                dot.abs() < 1e-5 * (dim as f64).sqrt(),
                "{dim}x{c}: a . d_{j} = {dot}"
            );
        }
    }
}

#[test]
fn kernels_refuse_mismatched_shapes() {
    let r = std::panic::catch_unwind(|| bias_add(Mat::zeros(2, 3).as_mut(), &[1.0; 2], Par::Seq));
    assert!(r.is_err());
    let r = std::panic::catch_unwind(|| {
        softmax_xent(Mat::zeros(2, 3).as_ref(), &[0, 3], None, 1.0, Par::Seq)
    });
    assert!(r.is_err());
    let r = std::panic::catch_unwind(|| {
        class_column_stats(MatRef::from_slice(&[0.0; 4], 2, 2), &[0, 2], 2, 1, Par::Seq)
    });
    assert!(r.is_err());
}

/// softmax_xent on the AVX2 path (eight rows in the lanes) and the AVX-512 path (sixteen,
/// then eight) gives the portable path's loss, error count and gradient bits: row counts
/// around multiples of 8 and 16, class counts up to and past the stack limit, ties,
/// infinities and NaNs in the logits.
#[test]
fn softmax_xent_paths_give_the_same_bits() {
    use ibci_kernels::softmax::{softmax_xent_errors_with, STACK_CLASSES};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let special = [
        0.0,
        -0.0,
        1.0,
        1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        88.0,
        -104.0,
    ];
    for path in ibci_kernels::dispatch::tested_paths("softmax_xent_paths_give_the_same_bits") {
        for (b, c) in [
            (1, 1),
            (7, 3),
            (8, 10),
            (9, 10),
            (15, 10),
            (16, 10),
            (24, 10),
            (31, 5),
            (40, 2),
            (100, 10),
            (257, 10),
            (33, STACK_CLASSES),
            (17, STACK_CLASSES + 1),
        ] {
            for (spiked, tied) in [(false, false), (true, false), (false, true), (true, true)] {
                let z = Mat::from_fn(b, c, |_, _| {
                    let r = rng.next_u32();
                    if tied && !(spiked && r % 7 == 0) {
                        // Few distinct values: ties for the maximum in most rows.
                        (r % 3) as f32
                    } else if spiked && r % 7 == 0 {
                        special[(r as usize / 13) % special.len()]
                    } else {
                        (r >> 8) as f32 / (1 << 20) as f32 - 8.0
                    }
                });
                let y: Vec<usize> = (0..b).map(|_| rng.next_u32() as usize % c).collect();
                let (mut g0, mut g1) = (Mat::filled(b, c, f32::NAN), Mat::filled(b, c, f32::NAN));
                let want = softmax_xent_errors_with(
                    KernelPath::Portable,
                    z.as_ref(),
                    &y,
                    Some(g0.as_mut()),
                    1.0,
                    Par::Seq,
                );
                for par in [Par::Seq, Par::Rayon] {
                    let got =
                        softmax_xent_errors_with(path, z.as_ref(), &y, Some(g1.as_mut()), 1.0, par);
                    assert_eq!(
                        (got.0.to_bits(), got.1),
                        (want.0.to_bits(), want.1),
                        "{path} b={b} c={c} spiked={spiked}"
                    );
                    let bits =
                        |m: &Mat| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&g1),
                        bits(&g0),
                        "{path} b={b} c={c} spiked={spiked}: gradient"
                    );
                }
            }
        }
    }
}

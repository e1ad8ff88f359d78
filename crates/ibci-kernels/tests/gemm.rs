//! GEMM against the naive references: bit-identity with the f32 contract reference on every
//! supported path and thread count (1, 2, 3, 8), accuracy against the f64 reference, every
//! layout (A or B transposed, C row-major, column-major or strided inside a NaN-filled
//! buffer), edge sizes around every lane width and block size, and the realistic MLP shapes.

use std::sync::OnceLock;

use ibci_kernels::reference::{gemm_f32_contract, gemm_f64};
use ibci_kernels::{gemm_with, Backend, KernelPath, Mat, MatMut, MatRef, Par, Team, Tolerance};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 20_211_101;
const EDGE: [usize; 14] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129];

fn pools() -> &'static [(usize, rayon::ThreadPool)] {
    static P: OnceLock<Vec<(usize, rayon::ThreadPool)>> = OnceLock::new();
    P.get_or_init(|| {
        [1, 2, 3, 8]
            .into_iter()
            .map(|t| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap();
                (t, pool)
            })
            .collect()
    })
}

thread_local! {
    /// Teams of 2 and 3 (each test thread its own: a team serves one caller).
    static TEAMS: Vec<Team> = vec![Team::new(2), Team::new(3)];
}

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f32 {
    // Uniform in [-1, 1) with a full 24-bit mantissa, so products and sums round.
    (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
}

#[derive(Clone, Copy, Debug)]
enum CLayout {
    RowMajor,
    ColMajor,
    /// Inside a larger buffer, with 2 extra columns and 1 extra row around it.
    Strided,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    k: usize,
    n: usize,
    at: bool,
    bt: bool,
    c: CLayout,
    alpha: f32,
    beta: f32,
}

/// Storage for an `r x c` operand, possibly held transposed, and its view.
struct Operand {
    data: Vec<f32>,
    r: usize,
    c: usize,
    transposed: bool,
}

impl Operand {
    fn new(rng: &mut Xoshiro256PlusPlus, r: usize, c: usize, transposed: bool) -> Operand {
        Operand {
            data: (0..r * c).map(|_| uniform(rng)).collect(),
            r,
            c,
            transposed,
        }
    }
    fn view(&self) -> MatRef<'_> {
        if self.transposed {
            MatRef::from_slice(&self.data, self.c, self.r).t()
        } else {
            MatRef::from_slice(&self.data, self.r, self.c)
        }
    }
}

/// C's buffer, its view parameters, and the offsets it owns.
struct COut {
    buf: Vec<f32>,
    off: usize,
    rs: usize,
    cs: usize,
    m: usize,
    n: usize,
    col_major: bool,
}

impl COut {
    /// Pre-filled with NaN, except inside the view when `init` is given (beta != 0).
    fn new(layout: CLayout, m: usize, n: usize, init: Option<&Mat>) -> COut {
        let (len, off, rs, cs) = match layout {
            CLayout::RowMajor => (m * n, 0, n, 1),
            CLayout::ColMajor => (m * n, 0, 1, m),
            CLayout::Strided => ((m + 2) * (n + 2), n + 2 + 1, n + 2, 1),
        };
        let mut c = COut {
            buf: vec![f32::NAN; len.max(1)],
            off,
            rs,
            cs,
            m,
            n,
            col_major: matches!(layout, CLayout::ColMajor),
        };
        if let Some(init) = init {
            for i in 0..m {
                for j in 0..n {
                    c.buf[off + i * rs + j * cs] = init.at(i, j);
                }
            }
        }
        c
    }
    fn view(&mut self) -> MatMut<'_> {
        let (m, n, rs, cs) = (self.m, self.n, self.rs, self.cs);
        MatMut::from_slice_strided(&mut self.buf[self.off..], m, n, rs, cs)
    }
    fn inside(&self, idx: usize) -> bool {
        if idx < self.off || self.m == 0 || self.n == 0 {
            return false;
        }
        let d = idx - self.off;
        let (i, j) = if self.col_major {
            (d % self.m, d / self.m)
        } else {
            (d / self.rs, d % self.rs)
        };
        i < self.m && j < self.n
    }
    fn get(&self, i: usize, j: usize) -> f32 {
        self.buf[self.off + i * self.rs + j * self.cs]
    }
}

/// Runs one case on every supported path and thread count and checks it.
fn check(case: Case, rng: &mut Xoshiro256PlusPlus) {
    let Case {
        m,
        k,
        n,
        at,
        bt,
        c: layout,
        alpha,
        beta,
    } = case;
    let a = Operand::new(rng, m, k, at);
    let b = Operand::new(rng, k, n, bt);
    let c0 = Mat::from_fn(m, n, |_, _| uniform(rng));
    let init = (beta != 0.0).then_some(&c0);

    let mut expect = if beta != 0.0 {
        c0.clone()
    } else {
        Mat::filled(m, n, f32::NAN)
    };
    gemm_f32_contract(&mut expect, a.view(), b.view(), alpha, beta);
    let (exact, scale) = gemm_f64(&c0, a.view(), b.view(), alpha.into(), beta.into());
    let tol = Tolerance::reduction(k);

    // Accuracy of the contract itself (all paths equal it bit for bit, checked below).
    for i in 0..m {
        for j in 0..n {
            let (x, r) = (f64::from(expect.at(i, j)), exact[i * n + j]);
            assert!(
                tol.with_scale(scale[i * n + j]).accepts(x, r),
                "seed {SEED}: {case:?} ({i},{j}): {x} vs f64 {r}"
            );
        }
    }

    for path in KernelPath::ALL {
        if !path.supported() {
            continue;
        }
        let run = |par: Par| {
            let mut out = COut::new(layout, m, n, init);
            gemm_with(
                Backend::Ibci(path),
                out.view(),
                a.view(),
                b.view(),
                alpha,
                beta,
                par,
            );
            out
        };
        let mut runs: Vec<(String, COut)> = vec![("seq".into(), run(Par::Seq))];
        for (t, pool) in pools() {
            runs.push((format!("{t} threads"), pool.install(|| run(Par::Rayon))));
        }
        TEAMS.with(|teams| {
            for team in teams {
                let how = format!("a team of {}", team.size());
                runs.push((how, team.install(|| run(Par::Rayon))));
            }
        });
        for (how, out) in &runs {
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(
                        out.get(i, j).to_bits(),
                        expect.at(i, j).to_bits(),
                        "seed {SEED}: {path} {how} {case:?}: ({i},{j}) = {} but the contract gives {}",
                        out.get(i, j),
                        expect.at(i, j)
                    );
                }
            }
            for (idx, v) in out.buf.iter().enumerate() {
                if !out.inside(idx) {
                    assert!(
                        v.is_nan(),
                        "{path} {how} {case:?}: wrote outside C at {idx}"
                    );
                }
            }
        }
    }

    // The yardstick: accurate, not bit-identical.
    let mut out = COut::new(layout, m, n, init);
    gemm_with(
        Backend::MatrixMultiply,
        out.view(),
        a.view(),
        b.view(),
        alpha,
        beta,
        Par::Seq,
    );
    for i in 0..m {
        for j in 0..n {
            let (x, r) = (f64::from(out.get(i, j)), exact[i * n + j]);
            assert!(
                tol.with_scale(scale[i * n + j]).accepts(x, r),
                "matrixmultiply {case:?} ({i},{j})"
            );
        }
    }
}

fn report_skips() {
    ibci_kernels::dispatch::tested_paths("gemm");
}

#[test]
fn edge_sizes_m_and_n() {
    report_skips();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let layouts = [CLayout::RowMajor, CLayout::ColMajor, CLayout::Strided];
    let mut idx = 0;
    for m in EDGE {
        for n in EDGE {
            for k in [1, 9, 33] {
                idx += 1;
                let case = Case {
                    m,
                    k,
                    n,
                    at: idx % 2 == 1,
                    bt: idx % 3 == 1,
                    c: layouts[idx % 3],
                    alpha: if idx % 4 == 0 { -1.5 } else { 1.0 },
                    beta: if idx % 5 == 0 { 0.5 } else { 0.0 },
                };
                check(case, &mut rng);
            }
        }
    }
}

#[test]
fn edge_sizes_k_across_the_block_size() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 1);
    for k in EDGE.into_iter().chain([255, 256, 257, 511, 513]) {
        for (i, (m, n)) in [(7, 17), (33, 9), (13, 40)].into_iter().enumerate() {
            let case = Case {
                m,
                k,
                n,
                at: i == 1,
                bt: i == 2,
                c: CLayout::Strided,
                alpha: 1.0,
                beta: if i == 0 { 0.0 } else { -2.0 },
            };
            check(case, &mut rng);
        }
    }
}

#[test]
fn threaded_sizes_with_remainders() {
    // Large enough to be split over threads (small products run on one thread), with
    // remainders in every dimension and k split into blocks.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 4);
    for (m, k, n) in [
        (129, 257, 97),
        (200, 300, 129),
        (61, 513, 250),
        (1000, 33, 17),
    ] {
        for (at, bt, c) in [
            (false, false, CLayout::RowMajor),
            (true, true, CLayout::ColMajor),
        ] {
            check(
                Case {
                    m,
                    k,
                    n,
                    at,
                    bt,
                    c,
                    alpha: 0.5,
                    beta: 0.25,
                },
                &mut rng,
            );
        }
    }
}

#[test]
fn mlp_shapes_every_layout() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 2);
    // (m, k, n, A transposed, B transposed): X W, X^T dY, dY W^T of MLP-2 with batch 100,
    // and the output layer's products.
    let shapes = [
        (100, 784, 100, false, false),
        (784, 100, 100, true, false),
        (100, 100, 784, false, true),
        (100, 100, 10, false, false),
        (100, 10, 100, false, true),
        (100, 100, 10, true, false),
    ];
    for (m, k, n, at, bt) in shapes {
        for c in [CLayout::RowMajor, CLayout::Strided] {
            for beta in [0.0, 1.0] {
                check(
                    Case {
                        m,
                        k,
                        n,
                        at,
                        bt,
                        c,
                        alpha: 1.0,
                        beta,
                    },
                    &mut rng,
                );
            }
        }
    }
}

#[test]
fn integer_inputs_give_exact_products() {
    // Small integers: every product and partial sum is exact in f32, so every path and the
    // yardstick must equal the f64 reference exactly.
    let (m, k, n) = (37, 300, 45);
    let a = Mat::from_fn(m, k, |i, p| ((i * 7 + p * 3) % 11) as f32 - 5.0);
    let b = Mat::from_fn(k, n, |p, j| ((p * 5 + j) % 9) as f32 - 4.0);
    let (exact, _) = gemm_f64(&Mat::zeros(m, n), a.as_ref(), b.as_ref(), 1.0, 0.0);
    let mut backends = vec![Backend::MatrixMultiply];
    backends.extend(
        KernelPath::ALL
            .into_iter()
            .filter(|p| p.supported())
            .map(Backend::Ibci),
    );
    for backend in backends {
        let mut c = Mat::filled(m, n, f32::NAN);
        gemm_with(
            backend,
            c.as_mut(),
            a.as_ref(),
            b.as_ref(),
            1.0,
            0.0,
            Par::Rayon,
        );
        for (x, r) in c.as_slice().iter().zip(&exact) {
            assert!(
                Tolerance::EXACT.accepts(f64::from(*x), *r),
                "{backend:?}: {x} vs {r}"
            );
        }
    }
}

#[test]
fn special_values_propagate_identically() {
    // NaN and infinities in A, B and C flow through the same operations on every path.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 3);
    let (m, k, n) = (19, 21, 23);
    let mut a = Mat::from_fn(m, k, |_, _| uniform(&mut rng));
    let mut b = Mat::from_fn(k, n, |_, _| uniform(&mut rng));
    let mut c0 = Mat::from_fn(m, n, |_, _| uniform(&mut rng));
    a.as_mut_slice()[5] = f32::INFINITY;
    a.as_mut_slice()[40] = f32::NAN;
    b.as_mut_slice()[7] = f32::NEG_INFINITY;
    b.as_mut_slice()[100] = 1e30;
    c0.as_mut_slice()[3] = f32::NAN;
    let mut expect = c0.clone();
    gemm_f32_contract(&mut expect, a.as_ref(), b.as_ref(), 2.0, 1.0);
    for path in KernelPath::ALL.into_iter().filter(|p| p.supported()) {
        let mut c = c0.clone();
        gemm_with(
            Backend::Ibci(path),
            c.as_mut(),
            a.as_ref(),
            b.as_ref(),
            2.0,
            1.0,
            Par::Rayon,
        );
        // NaN payloads may differ between software and hardware; compare NaN-ness, then bits.
        for (x, e) in c.as_slice().iter().zip(expect.as_slice()) {
            assert!(
                x.is_nan() == e.is_nan() && (x.is_nan() || x.to_bits() == e.to_bits()),
                "{path}: {x} vs {e}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "gemm: shapes do not match")]
fn mismatched_shapes_are_refused() {
    let a = Mat::zeros(3, 4);
    let b = Mat::zeros(5, 2);
    let mut c = Mat::zeros(3, 2);
    gemm_with(
        Backend::Ibci(KernelPath::Portable),
        c.as_mut(),
        a.as_ref(),
        b.as_ref(),
        1.0,
        0.0,
        Par::Seq,
    );
}

/// The GEMM with bias and activation fused into its write-back gives the bits of the GEMM,
/// then bias_add, then activate: every path, every pool, sizes around the tiles and the
/// k block, row-major and strided (column-major) outputs, the four activations.
#[test]
fn bias_and_activation_fused_equal_the_separate_kernels() {
    use ibci_kernels::elementwise::{activate_with, bias_add, Activation};
    use ibci_kernels::gemm_bias_act_with;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(91);
    report_skips();
    for path in KernelPath::ALL.into_iter().filter(|p| p.supported()) {
        for (m, k, n) in [
            (1, 1, 1),
            (7, 9, 17),
            (100, 100, 10),
            (100, 256, 100),
            (13, 300, 33),
            (130, 40, 129),
        ] {
            let a = Mat::from_fn(m, k, |_, _| uniform(&mut rng));
            let b = Mat::from_fn(k, n, |_, _| uniform(&mut rng));
            let bias: Vec<f32> = (0..n).map(|_| uniform(&mut rng)).collect();
            for act in Activation::ALL {
                let mut want = Mat::filled(m, n, f32::NAN);
                gemm_with(
                    Backend::Ibci(path),
                    want.as_mut(),
                    a.as_ref(),
                    b.as_ref(),
                    1.0,
                    0.0,
                    Par::Seq,
                );
                bias_add(want.as_mut(), &bias, Par::Seq);
                activate_with(path, act, want.as_mut_slice(), Par::Seq);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let product = |c: MatMut<'_>, par: Par| {
                    gemm_bias_act_with(path, c, a.as_ref(), b.as_ref(), &bias, act, par)
                };
                for (t, pool) in pools() {
                    let par = Par::for_threads(*t);
                    let mut got = Mat::filled(m, n, f32::NAN);
                    pool.install(|| product(got.as_mut(), par));
                    assert_eq!(
                        bits(got.as_slice()),
                        bits(want.as_slice()),
                        "{path} {t} threads {m}x{k}x{n} {act:?}"
                    );
                    // Column-major C: the write-back's strided branch.
                    let mut cm = vec![f32::NAN; m * n];
                    let view = MatMut::from_slice_strided(&mut cm, m, n, 1, m);
                    pool.install(|| product(view, par));
                    let back: Vec<f32> = (0..m * n).map(|e| cm[(e % n) * m + e / n]).collect();
                    assert_eq!(
                        bits(&back),
                        bits(want.as_slice()),
                        "{path} {t} threads {m}x{k}x{n} {act:?}, column-major C"
                    );
                }
                for size in [2, 3] {
                    let mut got = Mat::filled(m, n, f32::NAN);
                    TEAMS.with(|teams| {
                        teams[size - 2].install(|| product(got.as_mut(), Par::Rayon))
                    });
                    assert_eq!(
                        bits(got.as_slice()),
                        bits(want.as_slice()),
                        "{path} a team of {size} {m}x{k}x{n} {act:?}"
                    );
                }
            }
        }
    }
}

//! The first layer's sparse products on a batch named by row indices equal the dense GEMM on
//! the gathered batch, bit for bit: the forward product (alone, or with its bias and activation), the weight gradient,
//! and the gradient fused with the SGD step; on every supported path, 1 and 3 threads, widths
//! around the vector and chunk sizes, outputs pre-filled with NaN. Where the exactness guard
//! fails, nothing is written.

use ibci_kernels::elementwise::{activate_with, bias_add, sgd_step, Activation};
use ibci_kernels::sparse::exact::exponent_floor;
use ibci_kernels::sparse::{cols_t_times, rows_times, BatchCols, CsrRows, GradOut, Packed};
use ibci_kernels::{gemm_with, Backend, KernelPath, Mat, MatRef, Par, Team};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 2026;

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
}

/// An `m x k` matrix with about `zeros` of its entries exactly zero (half of them -0), the
/// others like MNIST pixels (`q/255`) or signed uniforms.
fn data(m: usize, k: usize, zeros: f64, pixels: bool, rng: &mut Xoshiro256PlusPlus) -> Mat {
    Mat::from_fn(m, k, |_, _| {
        let u = (rng.next_u32() >> 8) as f64 / (1u32 << 24) as f64;
        if u < zeros {
            if rng.next_u32() & 1 == 0 {
                0.0
            } else {
                -0.0
            }
        } else if pixels {
            (1 + rng.next_u32() % 255) as f32 / 255.0
        } else {
            uniform(rng)
        }
    })
}

fn gather(x: &Mat, rows: &[usize]) -> Mat {
    Mat::from_fn(rows.len(), x.cols(), |r, p| x.at(rows[r], p))
}

fn bits(m: &Mat) -> Vec<u32> {
    m.as_slice().iter().map(|v| v.to_bits()).collect()
}

/// Where a product runs: a rayon pool, or a team (whose caller is the test's thread).
enum Threads {
    Pool(rayon::ThreadPool),
    Team(Team),
}

impl Threads {
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Threads::Pool(pool) => pool.install(f),
            Threads::Team(team) => team.install(f),
        }
    }
}

/// Rayon pools of 1 and 3 threads and teams of 2 and 3, labelled, with their `Par`.
fn pools() -> Vec<(String, Threads, Par)> {
    let mut v: Vec<(String, Threads, Par)> = [1usize, 3]
        .into_iter()
        .map(|t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            (
                format!("{t} threads"),
                Threads::Pool(pool),
                Par::for_threads(t),
            )
        })
        .collect();
    for size in [2, 3] {
        let team = Threads::Team(Team::new(size));
        v.push((format!("a team of {size}"), team, Par::Rayon));
    }
    v
}

fn paths() -> Vec<KernelPath> {
    ibci_kernels::dispatch::tested_paths("sparse_batch")
}

/// Edge widths of every path: around 8 and 16 lanes, the gradient's 64-column blocks and the
/// forward product's widest blocks (13 AVX2 vectors, 104 columns; 16 AVX-512 ones, 256).
const WIDTHS: [usize; 21] = [
    1, 3, 7, 8, 9, 15, 16, 17, 32, 63, 95, 96, 97, 100, 104, 105, 193, 256, 257, 385, 401,
];

#[test]
fn forward_equals_the_gemm_plus_bias_and_activation() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let pools = pools();
    let acts = [Activation::Identity, Activation::Relu, Activation::Tanh];
    for path in paths() {
        // Batches of one row chunk, of several (more than MAX_ROWS = 128 rows), and B read in
        // place or packed (a strided view).
        for (m, k, zeros, pixels) in [
            (40, 784, 0.81, true),
            (23, 37, 0.5, false),
            (9, 1, 0.5, true),
            (300, 61, 0.7, true),
        ] {
            let x = data(m, k, zeros, pixels, &mut rng);
            let csr = CsrRows::new(x.as_ref());
            let rows: Vec<usize> = (0..m).map(|i| (i * 7 + 3) % m).chain([0, m - 1]).collect();
            let xb = gather(&x, &rows);
            for (i, n) in WIDTHS.into_iter().enumerate() {
                let w = Mat::from_fn(k, n, |_, _| uniform(&mut rng));
                let wt = w.as_ref().t().to_mat();
                let strided = i % 3 == 0;
                let b = if strided { wt.as_ref().t() } else { w.as_ref() };
                let bias: Vec<f32> = (0..n).map(|_| uniform(&mut rng)).collect();
                let act = acts[i % acts.len()];
                let mut prod = Mat::filled(rows.len(), n, f32::NAN);
                gemm_with(
                    Backend::Ibci(path),
                    prod.as_mut(),
                    xb.as_ref(),
                    w.as_ref(),
                    1.0,
                    0.0,
                    Par::Seq,
                );
                let mut want = prod.clone();
                bias_add(want.as_mut(), &bias, Par::Seq);
                activate_with(path, act, want.as_mut_slice(), Par::Seq);
                for (t, pool, par) in &pools {
                    for (post, want) in [(None, &prod), (Some((&bias[..], act)), &want)] {
                        let mut got = Mat::filled(rows.len(), n, f32::NAN);
                        let done = pool.install(|| {
                            rows_times(
                                got.as_mut(),
                                &csr,
                                &rows,
                                b.into(),
                                post,
                                &mut Packed::new(path),
                                *par,
                            )
                        });
                        let what = format!(
                            "{path} {t} m={m} k={k} n={n} strided={strided} {:?}",
                            post.map(|p| p.1)
                        );
                        assert!(done, "{what}: the guard refused finite data");
                        assert_eq!(bits(&got), bits(want), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn gradient_and_fused_sgd_equal_the_gemm() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 1);
    let pools = pools();
    for path in paths() {
        // The last batch has more slots than `BatchCols::MAX_SLOTS` (its columns are counted
        // and packed, not given a slot for every row).
        for (m, k, zeros) in [
            (60, 784, 0.81),
            (17, 50, 0.9),
            (5, 9, 0.0),
            (33, 20, 1.0),
            (700, 3100, 0.995),
        ] {
            let x = data(m, k, zeros, true, &mut rng);
            let csr = CsrRows::new(x.as_ref());
            let rows: Vec<usize> = (0..m).rev().step_by(2).chain(0..m / 2).collect();
            let xb = gather(&x, &rows);
            let counted = rows.len() * k > BatchCols::MAX_SLOTS;
            assert_eq!(counted, m == 700, "the cases cover both layouts");
            let widths = if counted { &WIDTHS[..6] } else { &WIDTHS[..] };
            for &n in widths {
                // D with exact zeros (dead units) and both signs.
                let d = Mat::from_fn(rows.len(), n, |_, j| {
                    if j % 5 == 2 {
                        0.0
                    } else {
                        uniform(&mut rng) * 0.01
                    }
                });
                let w0 = Mat::from_fn(k, n, |p, j| {
                    if (p + j) % 11 == 0 {
                        -0.0
                    } else {
                        uniform(&mut rng)
                    }
                });
                let mut g = Mat::filled(k, n, f32::NAN);
                gemm_with(
                    Backend::Ibci(path),
                    g.as_mut(),
                    xb.as_ref().t(),
                    d.as_ref(),
                    1.0,
                    0.0,
                    Par::Seq,
                );
                let mut w_sgd = w0.clone();
                sgd_step(
                    w_sgd.as_mut_slice(),
                    g.as_slice(),
                    None,
                    0.1,
                    0.0,
                    0.0,
                    Par::Seq,
                );
                let mut w_gemm = w0.clone();
                gemm_with(
                    Backend::Ibci(path),
                    w_gemm.as_mut(),
                    xb.as_ref().t(),
                    d.as_ref(),
                    -0.1,
                    1.0,
                    Par::Seq,
                );
                assert_eq!(
                    bits(&w_gemm),
                    bits(&w_sgd),
                    "the GEMM with alpha -lr, beta 1 is the SGD step"
                );
                for (t, pool, par) in &pools {
                    let mut batch = BatchCols::new();
                    batch.fill(&csr, &rows);
                    let mut got = Mat::filled(k, n, f32::NAN);
                    let done = pool.install(|| {
                        cols_t_times(
                            GradOut::Store(got.as_mut()),
                            &batch,
                            d.as_ref(),
                            &mut Packed::new(path),
                            *par,
                        )
                    });
                    assert_eq!(done, Some(exponent_floor(g.as_slice())));
                    assert_eq!(
                        bits(&got),
                        bits(&g),
                        "{path} {t} gradient m={m} k={k} n={n}"
                    );
                    let mut w = w0.clone();
                    let done = pool.install(|| {
                        cols_t_times(
                            GradOut::Sgd(w.as_mut(), 0.1),
                            &batch,
                            d.as_ref(),
                            &mut Packed::new(path),
                            *par,
                        )
                    });
                    // The floor returned is the updated W's, as the next forward product
                    // takes it.
                    assert_eq!(
                        done,
                        Some(exponent_floor(w_sgd.as_slice())),
                        "{path} {t} fused SGD floor m={m} k={k} n={n}"
                    );
                    assert_eq!(
                        bits(&w),
                        bits(&w_sgd),
                        "{path} {t} fused SGD m={m} k={k} n={n}"
                    );
                }
            }
        }
    }
}

/// Non-finite or tiny right operands, and learning rates that make `lr * (+0)` differ from +0,
/// are refused (the gradient before anything is written; the forward product's output is
/// then unspecified, the caller recomputes it densely).
#[test]
fn the_guard_refuses_what_could_change_a_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 2);
    let x = data(12, 30, 0.7, true, &mut rng);
    let csr = CsrRows::new(x.as_ref());
    let rows: Vec<usize> = (0..12).collect();
    let mut batch = BatchCols::new();
    batch.fill(&csr, &rows);
    let path = KernelPath::default_path();
    for bad in [f32::INFINITY, f32::NAN, 2f32.powi(-96), f32::from_bits(1)] {
        let mut w = Mat::from_fn(30, 9, |_, _| uniform(&mut rng));
        *w.as_mut_slice().last_mut().unwrap() = bad;
        let mut c = Mat::filled(12, 9, f32::NAN);
        assert!(
            !rows_times(
                c.as_mut(),
                &csr,
                &rows,
                w.as_ref().into(),
                None,
                &mut Packed::new(path),
                Par::Seq
            ),
            "{bad:e}"
        );
        let mut d = Mat::from_fn(12, 9, |_, _| uniform(&mut rng));
        d.as_mut_slice()[4] = bad;
        let mut g = Mat::filled(30, 9, f32::NAN);
        assert!(cols_t_times(
            GradOut::Store(g.as_mut()),
            &batch,
            d.as_ref(),
            &mut Packed::new(path),
            Par::Seq
        )
        .is_none());
        assert!(g.as_slice().iter().all(|v| v.is_nan()));
    }
    let d = Mat::from_fn(12, 9, |_, _| uniform(&mut rng));
    for lr in [f32::NAN, f32::INFINITY, -0.1, -0.0] {
        let mut w = Mat::filled(30, 9, 1.0);
        assert!(
            cols_t_times(
                GradOut::Sgd(w.as_mut(), lr),
                &batch,
                d.as_ref(),
                &mut Packed::new(path),
                Par::Seq
            )
            .is_none(),
            "lr {lr}"
        );
        assert!(w.as_slice().iter().all(|&v| v == 1.0));
    }
    // The smallest safe magnitude for pixels (2^-8 <= q/255): 2^-95 passes.
    let mut w = Mat::from_fn(30, 9, |_, _| uniform(&mut rng));
    w.as_mut_slice()[0] = 2f32.powi(-95);
    let mut c = Mat::filled(12, 9, f32::NAN);
    assert!(rows_times(
        c.as_mut(),
        &csr,
        &rows,
        w.as_ref().into(),
        None,
        &mut Packed::new(path),
        Par::Seq
    ));
}

#[test]
fn index_of_special_values_and_empty_rows() {
    let x = Mat::from_vec(
        3,
        4,
        vec![
            0.0,
            -0.0,
            0.0,
            0.0,
            1.0,
            f32::NAN,
            -0.0,
            f32::INFINITY,
            0.0,
            0.0,
            0.5,
            0.0,
        ],
    );
    let csr = CsrRows::new(x.as_ref());
    assert_eq!((csr.rows(), csr.cols(), csr.nnz()), (3, 4, 4));
    assert_eq!(csr.density(), 4.0 / 12.0);
    assert_eq!(csr.row(0), &[][..]);
    let cols: Vec<u32> = csr.row(1).iter().map(|e| e.0).collect();
    assert_eq!(cols, [0, 1, 3]);
    assert!(csr.row(1)[1].1.is_nan());
    assert_eq!(csr.row(2), &[(2u32, 0.5f32)][..]);
    // A view with strides indexes the same entries.
    let t = x.as_ref().t().to_mat();
    let back = CsrRows::new(MatRef::from_slice(t.as_slice(), 4, 3).t());
    let back_cols: Vec<u32> = back.row(1).iter().map(|e| e.0).collect();
    assert_eq!(back_cols, cols);
}

/// A reused `BatchCols` holds exactly what a fresh one does, and both what a transposition
/// gives: for each column, the batch positions and values of its nonzeros, in batch order;
/// in the bucket layout (a slot for every row in every column) and the counted one (batches
/// of more than `BatchCols::MAX_SLOTS` slots), each after the other, with rows repeated. The
/// split points share the entries out evenly.
#[test]
fn a_refilled_batch_equals_a_fresh_one() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED + 3);
    let (m, k) = (400, 3000);
    let x = data(m, k, 0.99, true, &mut rng);
    let csr = CsrRows::new(x.as_ref());
    let large: Vec<usize> = (0..800).map(|r| (r * 37 + 5) % m).collect();
    assert!(large.len() * k > BatchCols::MAX_SLOTS);
    let small: Vec<usize> = vec![7, 3, 3, 399, 0];
    let mut reused = BatchCols::new();
    for rows in [&large[..], &small, &small[..1], &large, &small] {
        reused.fill(&csr, rows);
        let mut fresh = BatchCols::new();
        fresh.fill(&csr, rows);
        assert_eq!((reused.rows(), reused.cols()), (rows.len(), k));
        let mut total = 0;
        for p in 0..k {
            assert_eq!(reused.col(p), fresh.col(p), "column {p}");
            let want: Vec<(u32, f32)> = rows
                .iter()
                .enumerate()
                .filter(|&(_, &i)| x.at(i, p) != 0.0)
                .map(|(r, &i)| (r as u32, x.at(i, p)))
                .collect();
            assert_eq!(fresh.col(p), &want[..], "column {p} of {} rows", rows.len());
            total += want.len();
        }
        for parts in [1, 2, 3] {
            let at: Vec<usize> = (0..=parts).map(|s| reused.split_point(s, parts)).collect();
            assert_eq!((at[0], at[parts]), (0, k));
            for (s, &first) in at.iter().enumerate().take(parts).skip(1) {
                // The first column with at least s/parts of the entries before it.
                let before: usize = (0..first).map(|p| reused.col(p).len()).sum();
                let want = s * total / parts;
                assert!(before >= want, "part {s} of {parts}");
                if first > 0 {
                    let last = reused.col(first - 1).len();
                    assert!(before - last < want, "part {s} of {parts}");
                }
            }
        }
    }
}

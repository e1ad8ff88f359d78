//! The first layer's two training products on MNIST batches, sparse against dense in the same
//! run: the forward product with bias and ReLU (`sparse::rows_times` against
//! `gemm_bias_act` on the gathered batch) and the SGD step of the weight gradient (sorting
//! the batch's columns plus `sparse::cols_t_times`, against the GEMM with alpha = -lr,
//! beta = 1), for a 784-100 layer (MLP-2's) and a 784-256 one (MLP-3's), batches of 100
//! drawn by a seeded shuffle, 1 and 2 threads. Both give the same bits (the tests check it);
//! the ratio sparse/dense is what this measures.
//!
//! Run: `cargo bench --bench first_layer`. These machines vary up to 2x from minute to minute:
//! the two are timed interleaved, medians of 9 rounds. The next batch's rows of the index are
//! prefetched during each batch, as in training.

use std::path::PathBuf;
use std::time::Instant;

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::elementwise::Activation;
use ibci_kernels::sparse::{cols_t_times, rows_times, BatchCols, CsrRows, GradOut, Packed};
use ibci_kernels::{gemm, gemm_bias_act, KernelPath, Mat, MatRef, Par};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const BATCH: usize = 100;
const BATCHES: usize = 60;
const ROUNDS: usize = 9;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per batch of `f` over the batches, the next batch's rows of the index
/// prefetched during each (as the training loop does).
fn time(csr: &CsrRows, batches: &[Vec<usize>], f: &mut dyn FnMut(&[usize])) -> f64 {
    let t = Instant::now();
    for (i, rows) in batches.iter().enumerate() {
        if let Some(next) = batches.get(i + 1) {
            csr.prefetch(next);
        }
        f(rows);
    }
    t.elapsed().as_secs_f64() / batches.len() as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let d = load(&root.join("datasets/mnist"), &LoadOptions::default()).expect("datasets/mnist");
    let x = Mat::from_vec(d.train.len(), d.train.dim(), d.train.images_f32());
    let csr = CsrRows::new(x.as_ref());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let batches: Vec<Vec<usize>> = (0..BATCHES)
        .map(|_| {
            (0..BATCH)
                .map(|_| (rng.next_u64() % x.rows() as u64) as usize)
                .collect()
        })
        .collect();
    println!(
        "first layer, MNIST batches of {BATCH}, path {}: microseconds per batch, medians of {ROUNDS} interleaved rounds",
        KernelPath::default_path()
    );
    println!("| product | units | threads | sparse us | dense us | sparse/dense |");
    println!("|---|---|---|---|---|---|");
    for n in [100usize, 256] {
        let w = Mat::from_fn(784, n, |p, j| {
            ((p * 31 + j * 17) % 97) as f32 / 970.0 - 0.05
        });
        let bias = vec![0.01f32; n];
        let d_out = Mat::from_fn(BATCH, n, |r, j| ((r * 13 + j * 7) % 89) as f32 / 8900.0);
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let par = Par::for_threads(threads);
            let mut packed = Packed::default();
            let mut cols = BatchCols::new();
            let mut c = Mat::zeros(BATCH, n);
            let mut xb = Mat::zeros(BATCH, 784);
            let mut wt = w.clone();
            let gather = |xb: &mut Mat, rows: &[usize]| {
                for (r, &i) in rows.iter().enumerate() {
                    xb.as_mut_slice()[r * 784..(r + 1) * 784]
                        .copy_from_slice(&x.as_slice()[i * 784..(i + 1) * 784]);
                }
            };
            let (mut fs, mut fd, mut gs, mut gd) = (vec![], vec![], vec![], vec![]);
            pool.install(|| {
                for _ in 0..ROUNDS {
                    fs.push(time(&csr, &batches, &mut |rows| {
                        let post = Some((&bias[..], Activation::Relu));
                        let ok = rows_times(
                            c.as_mut(),
                            &csr,
                            rows,
                            w.as_ref().into(),
                            post,
                            &mut packed,
                            par,
                        );
                        assert!(ok);
                    }));
                    fd.push(time(&csr, &batches, &mut |rows| {
                        gather(&mut xb, rows);
                        gemm_bias_act(
                            c.as_mut(),
                            xb.as_ref(),
                            w.as_ref(),
                            &bias,
                            Activation::Relu,
                            par,
                        );
                    }));
                    gs.push(time(&csr, &batches, &mut |rows| {
                        cols.fill(&csr, rows);
                        let out = GradOut::Sgd(wt.as_mut(), 1e-9);
                        assert!(
                            cols_t_times(out, &cols, d_out.as_ref(), &mut packed, par).is_some()
                        );
                    }));
                    gd.push(time(&csr, &batches, &mut |rows| {
                        gather(&mut xb, rows);
                        let a: MatRef<'_> = xb.as_ref().t();
                        gemm(wt.as_mut(), a, d_out.as_ref(), -1e-9, 1.0, par);
                    }));
                }
            });
            for (name, s, dn) in [("forward", fs, fd), ("gradient+SGD", gs, gd)] {
                let (s, dn) = (median(s) * 1e6, median(dn) * 1e6);
                println!(
                    "| {name} | {n} | {threads} | {s:.1} | {dn:.1} | {:.2} |",
                    s / dn
                );
            }
        }
    }
}

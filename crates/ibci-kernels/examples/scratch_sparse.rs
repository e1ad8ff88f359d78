#![allow(missing_docs, unused)]
use ibci_kernels::sparse::{rows_t_times, rows_times, CsrRows, GradOut, Packed};
use ibci_kernels::{gemm, KernelPath, Mat, Par};
use std::time::Instant;
fn main() {
    let mut s = 12345u64;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let n_img = 6000;
    let k = 784;
    let n: usize = std::env::var("NCOLS")
        .map(|v| v.parse().unwrap())
        .unwrap_or(100);
    let x = Mat::from_fn(n_img, k, |_, p| {
        let (r, c) = (p / 28, p % 28);
        let d = ((r as f64 - 13.5).powi(2) + (c as f64 - 13.5).powi(2)).sqrt();
        let prob = if d < 9.0 { 0.35 } else { 0.03 };
        if (rnd() % 1000) as f64 / 1000.0 < prob {
            (1 + rnd() % 255) as f32 / 255.0
        } else {
            0.0
        }
    });
    let csr = CsrRows::new(x.as_ref());
    let w = Mat::from_fn(k, n, |_, _| (rnd() % 1000) as f32 / 1000.0 - 0.5);
    let d = Mat::from_fn(100, n, |_, _| (rnd() % 1000) as f32 / 1e5 - 0.005);
    let mut c = Mat::zeros(100, n);
    let mut g = Mat::zeros(k, n);
    let mut packed = Packed::default();
    let batches: Vec<Vec<usize>> = (0..60)
        .map(|b| (b * 100..b * 100 + 100).collect())
        .collect();
    let xb = Mat::from_fn(100, k, |i, p| x.at(i, p));
    let mut best = [f64::MAX; 4];
    for _ in 0..15 {
        let t = Instant::now();
        for rows in &batches {
            assert!(rows_times(
                c.as_mut(),
                &csr,
                rows,
                w.as_ref(),
                None,
                &mut packed,
                Par::Seq
            ));
        }
        let fwd = t.elapsed().as_secs_f64() / 60.0;
        let t = Instant::now();
        for rows in &batches {
            assert!(rows_t_times(
                GradOut::Store(g.as_mut()),
                &csr,
                rows,
                d.as_ref(),
                &mut packed,
                Par::Seq
            ));
        }
        let grad = t.elapsed().as_secs_f64() / 60.0;
        let t = Instant::now();
        for _ in 0..60 {
            gemm(c.as_mut(), xb.as_ref(), w.as_ref(), 1.0, 0.0, Par::Seq);
        }
        let dense = t.elapsed().as_secs_f64() / 60.0;
        let t = Instant::now();
        for _ in 0..60 {
            gemm(g.as_mut(), xb.as_ref().t(), d.as_ref(), 1.0, 0.0, Par::Seq);
        }
        let dense_g = t.elapsed().as_secs_f64() / 60.0;
        for (b, v) in best.iter_mut().zip([fwd, grad, dense, dense_g]) {
            *b = b.min(v);
        }
    }
    let [fwd, grad, dense, dense_g] = best;
    println!("n {n} min per batch us: fwd {:.1} grad {:.1} | dense fwd {:.1} dense grad {:.1} | ratios fwd {:.2} grad {:.2}", fwd*1e6, grad*1e6, dense*1e6, dense_g*1e6, fwd/dense, grad/dense_g);
}

//! The sparse-left product equals the GEMM bit for bit (finite B), on every supported path,
//! for 1 and 3 threads, on edge sizes, with contiguous and strided outputs; its typed
//! behaviour at degenerate shapes.

use ibci_kernels::sparse::{density, gemm_sparse_lhs_with, PackedRhs, NB};
use ibci_kernels::{gemm_with, Backend, KernelPath, Mat, MatMut, Par};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A random `m x k` matrix with about `zeros` of its entries exactly 0 (some of them -0).
fn sparse(m: usize, k: usize, zeros: f64, rng: &mut Xoshiro256PlusPlus) -> Mat {
    Mat::from_fn(m, k, |_, _| {
        let u = (rng.next_u32() >> 8) as f64 / (1u32 << 24) as f64;
        if u < zeros {
            if rng.next_u32() & 1 == 0 {
                0.0
            } else {
                -0.0
            }
        } else {
            (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        }
    })
}

#[test]
fn equals_the_gemm_bit_for_bit() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let pools: Vec<(usize, rayon::ThreadPool)> = [1usize, 3]
        .into_iter()
        .map(|t| {
            (
                t,
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    for path in ibci_kernels::dispatch::tested_paths("sparse") {
        for (m, k, n, zeros) in [
            (1, 1, 1, 0.0),
            (7, 13, NB - 1, 0.8),
            (130, 784, NB, 0.81),
            (65, 300, NB + 1, 0.5),
            (200, 37, 3 * NB + 5, 1.0), // all zero: C = +0
            (33, 600, 2 * NB, 0.0),     // dense: the full chain
            (300, 256, 500, 0.9),       // longer than the GEMM's k block (256)
        ] {
            let a = sparse(m, k, zeros, &mut rng);
            let b = sparse(k, n, 0.0, &mut rng);
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
            let packed = PackedRhs::new(b.as_ref());
            assert_eq!((packed.rows(), packed.cols()), (k, n));
            for (t, pool) in &pools {
                let par = Par::for_threads(*t);
                let mut got = Mat::filled(m, n, f32::NAN);
                pool.install(|| gemm_sparse_lhs_with(path, got.as_mut(), a.as_ref(), &packed, par));
                let bits = |x: &Mat| x.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{path:?} {m}x{k}x{n} zeros {zeros}, {t} threads"
                );
                // A strided output (every other column of a wider buffer).
                let mut buf = vec![f32::NAN; m * 2 * n];
                let view = MatMut::from_slice_strided(&mut buf, m, n, 2 * n, 2);
                pool.install(|| gemm_sparse_lhs_with(path, view, a.as_ref(), &packed, par));
                for i in 0..m {
                    for j in 0..n {
                        assert_eq!(buf[i * 2 * n + 2 * j].to_bits(), want.at(i, j).to_bits());
                        assert!(
                            buf[i * 2 * n + 2 * j + 1].is_nan(),
                            "wrote outside the view"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn density_and_degenerate_shapes() {
    let a = Mat::from_vec(2, 3, vec![0.0, 1.0, -0.0, 2.0, 0.0, 3.0]);
    assert_eq!(density(a.as_ref()), 0.5);
    assert_eq!(density(Mat::zeros(0, 5).as_ref()), 0.0);
    let b = PackedRhs::new(Mat::zeros(3, 0).as_ref());
    let mut c = Mat::zeros(2, 0);
    gemm_sparse_lhs_with(KernelPath::Portable, c.as_mut(), a.as_ref(), &b, Par::Seq);
    let b = PackedRhs::new(Mat::filled(0, 4, 1.0).as_ref());
    let mut c = Mat::filled(2, 4, f32::NAN);
    gemm_sparse_lhs_with(
        KernelPath::Portable,
        c.as_mut(),
        Mat::zeros(2, 0).as_ref(),
        &b,
        Par::Seq,
    );
    assert!(
        c.as_slice()
            .iter()
            .all(|&v| v == 0.0 && v.is_sign_positive()),
        "empty sum is +0"
    );
}

#[test]
#[should_panic(expected = "gemm_sparse_lhs: A is 2 x 3, B is 4 x 5")]
fn shape_mismatch_panics_with_the_shapes() {
    let b = PackedRhs::new(Mat::zeros(4, 5).as_ref());
    let mut c = Mat::zeros(2, 5);
    gemm_sparse_lhs_with(
        KernelPath::Portable,
        c.as_mut(),
        Mat::zeros(2, 3).as_ref(),
        &b,
        Par::Seq,
    );
}

/// A product that underflows to -0 followed by a skipped zero term: the dense chain ends at +0
/// (`fma(0, 1, -0) = +0`), a chain that skipped the zero would keep -0. The guard sees the tiny
/// weight and runs every term, so the result stays the GEMM's, sign of zero included.
#[test]
fn an_underflowing_product_falls_back_to_the_full_chain() {
    let a = Mat::from_vec(2, 2, vec![2f32.powi(-8), 0.0, 0.5, 0.0]);
    let b = Mat::from_vec(2, 3, vec![-(2f32.powi(-143)), 1.0, -1.0, 1.0, 1.0, 1.0]);
    for path in KernelPath::ALL.into_iter().filter(|p| p.supported()) {
        let mut want = Mat::filled(2, 3, f32::NAN);
        gemm_with(
            Backend::Ibci(path),
            want.as_mut(),
            a.as_ref(),
            b.as_ref(),
            1.0,
            0.0,
            Par::Seq,
        );
        assert_eq!(
            want.at(0, 0).to_bits(),
            0.0f32.to_bits(),
            "the GEMM's chain ends at +0"
        );
        let mut got = Mat::filled(2, 3, f32::NAN);
        gemm_sparse_lhs_with(
            path,
            got.as_mut(),
            a.as_ref(),
            &PackedRhs::new(b.as_ref()),
            Par::Seq,
        );
        let bits = |m: &Mat| m.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{path}");
    }
}

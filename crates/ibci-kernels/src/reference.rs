//! Naive references, kept forever: every fast kernel is tested against them.
//!
//! Two oracles per kernel where it matters: one that computes exactly what the contract says
//! in f32 (same operations, same order: the expected *bits*), and one in f64 (the expected
//! *value*, for accuracy bounds).

use crate::mat::{Mat, MatRef};

/// The GEMM contract in its plainest form: for each element, a sequential chain of
/// `f32::mul_add` over `p`, then `alpha*s` (`+ beta*c` when `beta != 0`). Every GEMM path
/// must match this bit for bit.
///
/// # Panics
/// If the shapes do not match (as [`crate::gemm::gemm`]).
#[track_caller]
pub fn gemm_f32_contract(c: &mut Mat, a: MatRef<'_>, b: MatRef<'_>, alpha: f32, beta: f32) {
    assert!(a.rows() == c.rows() && b.cols() == c.cols() && a.cols() == b.rows());
    for i in 0..c.rows() {
        for j in 0..c.cols() {
            let mut s = 0f32;
            for p in 0..a.cols() {
                s = a.at(i, p).mul_add(b.at(p, j), s);
            }
            let idx = i * c.cols() + j;
            let old = c.as_slice()[idx];
            c.as_mut_slice()[idx] = if beta == 0.0 {
                alpha * s
            } else {
                alpha * s + beta * old
            };
        }
    }
}

/// `alpha * A * B + beta * C` in f64, and for each element the scale `sum_p |a_ip * b_pj|`
/// (what a reduction's rounding error is proportional to). `beta == 0` ignores C.
///
/// # Panics
/// If the shapes do not match.
#[track_caller]
pub fn gemm_f64(
    c: &Mat,
    a: MatRef<'_>,
    b: MatRef<'_>,
    alpha: f64,
    beta: f64,
) -> (Vec<f64>, Vec<f64>) {
    assert!(a.rows() == c.rows() && b.cols() == c.cols() && a.cols() == b.rows());
    let (m, n) = (c.rows(), c.cols());
    let mut out = vec![0f64; m * n];
    let mut scale = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut sa) = (0f64, 0f64);
            for p in 0..a.cols() {
                let t = f64::from(a.at(i, p)) * f64::from(b.at(p, j));
                s += t;
                sa += t.abs();
            }
            let old = f64::from(c.at(i, j));
            out[i * n + j] = alpha * s + if beta == 0.0 { 0.0 } else { beta * old };
            scale[i * n + j] =
                alpha.abs() * sa + if beta == 0.0 { 0.0 } else { (beta * old).abs() };
        }
    }
    (out, scale)
}

//! Fused row-wise softmax + cross-entropy, and row-wise argmax.
//!
//! For logits `z` (`B x C`, one row per sample) and labels `y`:
//!
//! ```text
//! m_i    = max_j z_ij                                  (first to last column)
//! s_i    = sum_j exp(z_ij - m_i)                       (in column order, f32)
//! loss_i = (m_i + ln s_i) - z_{i,y_i}
//! loss   = (sum_i loss_i) / B                          (f64, in row order)
//! dz_ij  = (exp(z_ij - m_i) / s_i - [j == y_i]) * scale   (scale = 1/B for the mean loss)
//! ```
//!
//! Rows are independent and the reductions run in a fixed order, so threads do not change a
//! bit; exp and ln are [`crate::math`]'s.

use rayon::prelude::*;

use crate::dispatch::KernelPath;
use crate::gemm::Par;
use crate::mat::{MatMut, MatRef};
use crate::math::{exp_inplace, ln};
use crate::ptr::SendPtr;

/// Rows per parallel work item (the loss is summed within blocks, then over blocks in order).
pub const ROWS: usize = 256;

/// Mean cross-entropy of softmax(`logits`) against `labels`; with `grad`, also writes
/// `d loss / d logits` multiplied by `grad_scale / B` (pass 1 for the mean loss's gradient).
///
/// Returns the mean loss as f64 (0 for an empty batch).
///
/// # Panics
/// If `labels.len() != logits.rows()`, a label is `>= logits.cols()`, the matrix has no
/// columns, or `grad` has another shape than `logits`.
#[track_caller]
pub fn softmax_xent(
    logits: MatRef<'_>,
    labels: &[usize],
    grad: Option<MatMut<'_>>,
    grad_scale: f32,
    par: Par,
) -> f64 {
    softmax_xent_errors(logits, labels, grad, grad_scale, par).0
}

/// [`softmax_xent`] and, from the same pass, the number of rows whose [`argmax_rows`] is not
/// their label. A batch of at most [`ROWS`] rows with at most [`STACK_CLASSES`] columns is
/// done without allocating (the training loop's case).
///
/// # Panics
/// As [`softmax_xent`].
#[track_caller]
pub fn softmax_xent_errors(
    logits: MatRef<'_>,
    labels: &[usize],
    grad: Option<MatMut<'_>>,
    grad_scale: f32,
    par: Par,
) -> (f64, usize) {
    softmax_xent_errors_with(
        KernelPath::default_path(),
        logits,
        labels,
        grad,
        grad_scale,
        par,
    )
}

/// [`softmax_xent_errors`] on an explicit path (the exponentials on `wide`'s four lanes, or on
/// AVX2's eight on the AVX2 and AVX-512 paths: the same bits).
///
/// # Panics
/// As [`softmax_xent`], or if this host does not support `path`.
#[track_caller]
pub fn softmax_xent_errors_with(
    path: KernelPath,
    logits: MatRef<'_>,
    labels: &[usize],
    grad: Option<MatMut<'_>>,
    grad_scale: f32,
    par: Par,
) -> (f64, usize) {
    assert!(
        path.supported(),
        "softmax_xent: path {path} not supported here"
    );
    let (b, c) = (logits.rows(), logits.cols());
    assert_eq!(
        labels.len(),
        b,
        "softmax_xent: {} labels for {b} rows",
        labels.len()
    );
    assert!(c > 0, "softmax_xent: logits have no columns");
    if let Some(&bad) = labels.iter().find(|&&l| l >= c) {
        panic!("softmax_xent: label {bad} out of range for {c} classes");
    }
    if let Some(g) = &grad {
        assert!(
            g.rows() == b && g.cols() == c,
            "softmax_xent: grad is {} x {}, logits are {b} x {c}",
            g.rows(),
            g.cols()
        );
    }
    if b == 0 {
        return (0.0, 0);
    }
    let scale = grad_scale / b as f32;
    let avx2 = path != KernelPath::Portable;
    let grad = grad.map(|g| (g.row_stride(), g.col_stride(), SendPtr::new(g)));
    let block = |blk: usize| -> (f64, usize) {
        let mut stack = [0f32; STACK_CLASSES];
        let mut heap = Vec::new();
        let e: &mut [f32] = if c <= STACK_CLASSES {
            &mut stack[..c]
        } else {
            heap.resize(c, 0.0);
            &mut heap
        };
        let (mut total, mut errors) = (0f64, 0usize);
        let rows = blk * ROWS..((blk + 1) * ROWS).min(b);
        for (i, &y) in labels.iter().enumerate().take(rows.end).skip(rows.start) {
            let m = (0..c).fold(f32::NEG_INFINITY, |m, j| {
                let z = logits.at(i, j);
                if z > m || z.is_nan() {
                    z
                } else {
                    m
                }
            });
            errors += usize::from(argmax_row(logits, i) != y);
            for (j, x) in e.iter_mut().enumerate() {
                *x = logits.at(i, j) - m;
            }
            exp_row(avx2, e);
            let s = e.iter().fold(0f32, |s, &x| s + x);
            let loss = (m + ln(s)) - logits.at(i, y);
            total += f64::from(loss);
            if let Some((rs, cs, g)) = grad {
                for (j, &x) in e.iter().enumerate() {
                    let onehot = if j == y { 1.0 } else { 0.0 };
                    // SAFETY: i < b and j < c are inside grad's view (shape checked above);
                    // each row is written by exactly one block.
                    unsafe { *g.get().add(i * rs + j * cs) = (x / s - onehot) * scale };
                }
            }
        }
        (total, errors)
    };
    let blocks = b.div_ceil(ROWS);
    // The blocks' losses are added in block order, starting from -0.0 (as `Iterator::sum`
    // does), so the loss does not depend on how the blocks were run.
    let (sum, errors) = if blocks == 1 || par == Par::Seq {
        (0..blocks)
            .map(block)
            .fold((-0.0, 0), |(s, e), (bs, be)| (s + bs, e + be))
    } else {
        let partial: Vec<(f64, usize)> = (0..blocks).into_par_iter().map(block).collect();
        partial
            .iter()
            .fold((-0.0, 0), |(s, e), &(bs, be)| (s + bs, e + be))
    };
    (sum / b as f64, errors)
}

/// `x <- e^x` on a row: AVX2 on the AVX2 and AVX-512 paths, `wide` otherwise; the same bits.
fn exp_row(avx2: bool, e: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only on the AVX2 and AVX-512 paths, which the dispatch
        // selects only on hosts with AVX2.
        return unsafe { crate::math::avx2::exp_inplace(e) };
    }
    let _ = avx2;
    exp_inplace(e);
}

/// Classes up to which [`softmax_xent_errors`] keeps a row's exponentials on the stack.
pub const STACK_CLASSES: usize = 64;

fn argmax_row(x: MatRef<'_>, i: usize) -> usize {
    let mut best = 0;
    for j in 1..x.cols() {
        if x.at(i, j) > x.at(i, best) || x.at(i, best).is_nan() && !x.at(i, j).is_nan() {
            best = j;
        }
    }
    best
}

/// The column of the largest element of each row; ties go to the first, NaN is never
/// larger than anything (a row of NaN gives 0).
///
/// # Panics
/// If the matrix has rows but no columns.
#[track_caller]
pub fn argmax_rows(x: MatRef<'_>) -> Vec<usize> {
    assert!(x.rows() == 0 || x.cols() > 0, "argmax_rows: no columns");
    (0..x.rows()).map(|i| argmax_row(x, i)).collect()
}

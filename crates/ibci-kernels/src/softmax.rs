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

use crate::gemm::Par;
use crate::mat::{MatMut, MatRef};
use crate::math::{exp_inplace, ln};

/// Rows per parallel work item (the loss is summed within blocks, then over blocks in order).
const ROWS: usize = 256;

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
        return 0.0;
    }
    let scale = grad_scale / b as f32;
    let grad = grad.map(GradPtr::new);
    let block = |blk: usize| -> f64 {
        let mut e = vec![0f32; c];
        let mut total = 0f64;
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
            for (j, x) in e.iter_mut().enumerate() {
                *x = logits.at(i, j) - m;
            }
            exp_inplace(&mut e);
            let s = e.iter().fold(0f32, |s, &x| s + x);
            let loss = (m + ln(s)) - logits.at(i, y);
            total += f64::from(loss);
            if let Some(g) = &grad {
                for (j, &x) in e.iter().enumerate() {
                    let onehot = if j == y { 1.0 } else { 0.0 };
                    // SAFETY: i < b and j < c are inside grad's view (shape checked above);
                    // each row is written by exactly one block.
                    unsafe { g.write(i, j, (x / s - onehot) * scale) };
                }
            }
        }
        total
    };
    let blocks = b.div_ceil(ROWS);
    let partial: Vec<f64> = match par {
        Par::Seq => (0..blocks).map(block).collect(),
        Par::Rayon => (0..blocks).into_par_iter().map(block).collect(),
    };
    partial.iter().sum::<f64>() / b as f64
}

/// A gradient view shared by the row blocks, each writing its own rows.
struct GradPtr {
    ptr: *mut f32,
    rs: usize,
    cs: usize,
}

// SAFETY: blocks write disjoint rows through it (see softmax_xent), so sharing it across
// threads creates no data race.
unsafe impl Sync for GradPtr {}

impl GradPtr {
    fn new(mut g: MatMut<'_>) -> GradPtr {
        GradPtr {
            ptr: g.as_mut_ptr(),
            rs: g.row_stride(),
            cs: g.col_stride(),
        }
    }

    /// # Safety
    /// `(i, j)` is inside the view and no other thread writes that element.
    unsafe fn write(&self, i: usize, j: usize, v: f32) {
        // SAFETY: by the caller's contract the element is inside the view and not shared.
        unsafe { *self.ptr.add(i * self.rs + j * self.cs) = v };
    }
}

/// The column of the largest element of each row; ties go to the first, NaN is never
/// larger than anything (a row of NaN gives 0).
///
/// # Panics
/// If the matrix has rows but no columns.
#[track_caller]
pub fn argmax_rows(x: MatRef<'_>) -> Vec<usize> {
    assert!(x.rows() == 0 || x.cols() > 0, "argmax_rows: no columns");
    (0..x.rows())
        .map(|i| {
            let mut best = 0;
            for j in 1..x.cols() {
                if x.at(i, j) > x.at(i, best) || x.at(i, best).is_nan() && !x.at(i, j).is_nan() {
                    best = j;
                }
            }
            best
        })
        .collect()
}

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
use crate::mat::{MatMut, MatRef};
use crate::math::{exp_inplace_with, ln};
use crate::par::Par;
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

/// [`softmax_xent_errors`] on an explicit path (rows and exponentials on `wide`'s four lanes,
/// AVX2's eight or AVX-512's sixteen: the same bits).
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
        let mut i = rows.start;
        // Sixteen rows at a time in the lanes of AVX-512 vectors, then eight in AVX2's: every
        // row sees the same operations in the same order as below, so the same bits; the
        // losses are added in row order.
        #[cfg(target_arch = "x86_64")]
        if path == KernelPath::Avx512 && c <= STACK_CLASSES {
            while i + 16 <= rows.end {
                // SAFETY: the AVX-512 path runs only on hosts with AVX-512F; rows i..i+16 are
                // inside the logits and, with a gradient, inside its view, written by this
                // block alone; c <= STACK_CLASSES; labels are below c (checked above).
                let (losses, e) =
                    unsafe { x86::sixteen_rows(logits, i, &labels[i..i + 16], grad, scale) };
                losses.iter().for_each(|&l| total += f64::from(l));
                errors += e;
                i += 16;
            }
        }
        #[cfg(target_arch = "x86_64")]
        if path != KernelPath::Portable && c <= STACK_CLASSES {
            while i + 8 <= rows.end {
                // SAFETY: the AVX2 and AVX-512 paths run only on hosts with AVX2 (see
                // `KernelPath::supported`); rows i..i+8
                // are inside the logits and, with a gradient, inside its view, written by
                // this block alone; c <= STACK_CLASSES; labels are below c (checked above).
                let (losses, e) =
                    unsafe { x86::eight_rows(logits, i, &labels[i..i + 8], grad, scale) };
                losses.iter().for_each(|&l| total += f64::from(l));
                errors += e;
                i += 8;
            }
        }
        for (i, &y) in labels.iter().enumerate().take(rows.end).skip(i) {
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
            exp_inplace_with(path, e);
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
    } else if blocks <= STACK_BLOCKS {
        // On the stack: an evaluation's few blocks allocate nothing.
        let mut partial = [(0f64, 0usize); STACK_BLOCKS];
        partial[..blocks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(q, p)| *p = block(q));
        partial[..blocks]
            .iter()
            .fold((-0.0, 0), |(s, e), &(bs, be)| (s + bs, e + be))
    } else {
        let partial: Vec<(f64, usize)> = (0..blocks).into_par_iter().map(block).collect();
        partial
            .iter()
            .fold((-0.0, 0), |(s, e), &(bs, be)| (s + bs, e + be))
    };
    (sum / b as f64, errors)
}

/// Blocks of [`ROWS`] up to which the parallel loss keeps its partial sums on the stack.
const STACK_BLOCKS: usize = 64;

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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use wide::f32x8;

    use super::STACK_CLASSES;
    use crate::mat::MatRef;
    use crate::math::{avx2, avx512, ln_x8};
    use crate::ptr::SendPtr;

    /// Rows `i0 .. i0 + 16` in the lanes of AVX-512 vectors: as [`eight_rows`], the same
    /// operations per lane in the same order.
    ///
    /// # Safety
    /// The host has AVX-512F; otherwise as [`eight_rows`], for sixteen rows.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn sixteen_rows(
        logits: MatRef<'_>,
        i0: usize,
        labels: &[usize],
        grad: Option<(usize, usize, SendPtr)>,
        scale: f32,
    ) -> ([f32; 16], usize) {
        let c = logits.cols();
        let mut z = [[0f32; 16]; STACK_CLASSES];
        for (l, zl) in (0..16).map(|l| (l, i0 + l)) {
            for (j, zj) in z.iter_mut().enumerate().take(c) {
                zj[l] = logits.at(zl, j);
            }
        }
        let load = |a: &[f32; 16]| {
            // SAFETY: `a` holds 16 floats.
            unsafe { _mm512_loadu_ps(a.as_ptr()) }
        };
        let isnan = |v: __m512| _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        let mut m = _mm512_set1_ps(f32::NEG_INFINITY);
        for zj in &z[..c] {
            let v = load(zj);
            let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m) | isnan(v);
            m = _mm512_mask_mov_ps(m, take, v);
        }
        let (mut best, mut at) = (load(&z[0]), _mm512_setzero_si512());
        for (j, zj) in z.iter().enumerate().take(c).skip(1) {
            let v = load(zj);
            let take = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best) | (!isnan(v) & isnan(best));
            best = _mm512_mask_mov_ps(best, take, v);
            at = _mm512_mask_mov_epi32(at, take, _mm512_set1_epi32(j as i32));
        }
        let mut e = [[0f32; 16]; STACK_CLASSES];
        let mut s = _mm512_setzero_ps();
        for (ej, zj) in e.iter_mut().zip(&z).take(c) {
            let x = avx512::exp(_mm512_sub_ps(load(zj), m));
            // SAFETY: `ej` holds 16 floats.
            unsafe { _mm512_storeu_ps(ej.as_mut_ptr(), x) };
            s = _mm512_add_ps(s, x);
        }
        let (mut sa, mut ma, mut ata) = ([0f32; 16], [0f32; 16], [0i32; 16]);
        // SAFETY: each array holds 16 lanes.
        unsafe {
            _mm512_storeu_ps(sa.as_mut_ptr(), s);
            _mm512_storeu_ps(ma.as_mut_ptr(), m);
            _mm512_storeu_si512(ata.as_mut_ptr().cast(), at);
        }
        let mut lns = [0f32; 16];
        for (out, half) in lns.chunks_exact_mut(8).zip(sa.chunks_exact(8)) {
            let v = f32x8::from(<[f32; 8]>::try_from(half).expect("8 lanes"));
            out.copy_from_slice(&ln_x8(v).to_array());
        }
        let mut losses = [0f32; 16];
        let mut errors = 0;
        for l in 0..16 {
            losses[l] = (ma[l] + lns[l]) - z[labels[l]][l];
            errors += usize::from(ata[l] as usize != labels[l]);
        }
        if let Some((rs, cs, g)) = grad {
            let y: [i32; 16] = std::array::from_fn(|l| labels[l] as i32);
            // SAFETY: `y` holds 16 lanes.
            let yv = unsafe { _mm512_loadu_si512(y.as_ptr().cast()) };
            let (one, zero, vs) = (
                _mm512_set1_ps(1.0),
                _mm512_setzero_ps(),
                _mm512_set1_ps(scale),
            );
            for (j, ej) in e.iter().enumerate().take(c) {
                let hot = _mm512_cmpeq_epi32_mask(yv, _mm512_set1_epi32(j as i32));
                let onehot = _mm512_mask_mov_ps(zero, hot, one);
                let gj = _mm512_mul_ps(_mm512_sub_ps(_mm512_div_ps(load(ej), s), onehot), vs);
                let mut out = [0f32; 16];
                // SAFETY: `out` holds 16 floats; row i0 + l, column j is inside the gradient
                // view (caller).
                unsafe {
                    _mm512_storeu_ps(out.as_mut_ptr(), gj);
                    for (l, &v) in out.iter().enumerate() {
                        *g.get().add((i0 + l) * rs + j * cs) = v;
                    }
                }
            }
        }
        (losses, errors)
    }

    /// Rows `i0 .. i0 + 8` in the lanes: the loss of each row and the number of rows whose
    /// argmax is not the label; the gradient rows when asked for. Per lane, the operations and
    /// their order are those of the row loop in `softmax_xent_errors_with`.
    ///
    /// # Safety
    /// The host has AVX2; rows `i0 .. i0 + 8` lie inside `logits` (and the gradient view,
    /// which nobody else writes there); `logits.cols() <= STACK_CLASSES`; every label is
    /// below `logits.cols()`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn eight_rows(
        logits: MatRef<'_>,
        i0: usize,
        labels: &[usize],
        grad: Option<(usize, usize, SendPtr)>,
        scale: f32,
    ) -> ([f32; 8], usize) {
        let c = logits.cols();
        let mut z = [[0f32; 8]; STACK_CLASSES];
        for (l, zl) in (0..8).map(|l| (l, i0 + l)) {
            for (j, zj) in z.iter_mut().enumerate().take(c) {
                zj[l] = logits.at(zl, j);
            }
        }
        let load = |a: &[f32; 8]| {
            // SAFETY: `a` holds 8 floats.
            unsafe { _mm256_loadu_ps(a.as_ptr()) }
        };
        let isnan = |v: __m256| _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
        // m = the first NaN, or the maximum (a later equal value does not replace it).
        let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
        for zj in &z[..c] {
            let v = load(zj);
            let take = _mm256_or_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(v, m), isnan(v));
            m = _mm256_blendv_ps(m, v, take);
        }
        // argmax_rows: ties to the first, NaN never larger, a NaN best replaced by a number.
        let (mut best, mut at) = (load(&z[0]), _mm256_setzero_si256());
        for (j, zj) in z.iter().enumerate().take(c).skip(1) {
            let v = load(zj);
            let take = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_GT_OQ>(v, best),
                _mm256_andnot_ps(isnan(v), isnan(best)),
            );
            best = _mm256_blendv_ps(best, v, take);
            at = _mm256_blendv_epi8(at, _mm256_set1_epi32(j as i32), _mm256_castps_si256(take));
        }
        let mut e = [[0f32; 8]; STACK_CLASSES];
        let mut s = _mm256_setzero_ps();
        for (ej, zj) in e.iter_mut().zip(&z).take(c) {
            let x = avx2::exp(_mm256_sub_ps(load(zj), m));
            // SAFETY: `ej` holds 8 floats.
            unsafe { _mm256_storeu_ps(ej.as_mut_ptr(), x) };
            s = _mm256_add_ps(s, x);
        }
        let (mut sa, mut ma, mut ata) = ([0f32; 8], [0f32; 8], [0i32; 8]);
        // SAFETY: each array holds 8 lanes.
        unsafe {
            _mm256_storeu_ps(sa.as_mut_ptr(), s);
            _mm256_storeu_ps(ma.as_mut_ptr(), m);
            _mm256_storeu_si256(ata.as_mut_ptr().cast(), at);
        }
        let lns = ln_x8(f32x8::from(sa)).to_array();
        let mut losses = [0f32; 8];
        let mut errors = 0;
        for l in 0..8 {
            losses[l] = (ma[l] + lns[l]) - z[labels[l]][l];
            errors += usize::from(ata[l] as usize != labels[l]);
        }
        if let Some((rs, cs, g)) = grad {
            let y: [i32; 8] = std::array::from_fn(|l| labels[l] as i32);
            // SAFETY: `y` holds 8 lanes.
            let yv = unsafe { _mm256_loadu_si256(y.as_ptr().cast()) };
            let (one, zero, vs) = (
                _mm256_set1_ps(1.0),
                _mm256_setzero_ps(),
                _mm256_set1_ps(scale),
            );
            for (j, ej) in e.iter().enumerate().take(c) {
                let hot = _mm256_castsi256_ps(_mm256_cmpeq_epi32(yv, _mm256_set1_epi32(j as i32)));
                let onehot = _mm256_blendv_ps(zero, one, hot);
                let gj = _mm256_mul_ps(_mm256_sub_ps(_mm256_div_ps(load(ej), s), onehot), vs);
                let mut out = [0f32; 8];
                // SAFETY: `out` holds 8 floats; row i0 + l, column j is inside the gradient
                // view (caller).
                unsafe {
                    _mm256_storeu_ps(out.as_mut_ptr(), gj);
                    for (l, &v) in out.iter().enumerate() {
                        *g.get().add((i0 + l) * rs + j * cs) = v;
                    }
                }
            }
        }
        (losses, errors)
    }
}

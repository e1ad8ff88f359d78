//! The greedy orthogonal election (the paper's Algorithm 1, the reference code's inner loop).
//!
//! Candidates are rows of `wt` (`C x d`, candidate-major: each candidate's weights are
//! contiguous). Within a group G of candidates, with scores `s` computed once:
//!
//! ```text
//! P_j <- W_j for j in G                          residuals, f32
//! repeat quota times:
//!     best = argmax over unelected j in G of s_j * ||P_j|| / ||W_j||      (first on ties)
//!     a    = P_best / ||P_best||                  the new orthonormal direction
//!     P_j <- P_j - a (a . P_j) for unelected j    (modified Gram-Schmidt)
//! ```
//!
//! The layer keeps the elected candidates' original columns `W_best`; the residuals only
//! enter the selection value. Deflating by `a . P_j` equals the reference code's `a . W_j`
//! in exact arithmetic (the a's are orthonormal and P_j - W_j lies in their span); the
//! modified form keeps the residuals orthogonal in floating point.
//!
//! Defects of the reference code that are fixed here:
//! - an elected candidate is never elected again (the code's argmax can return one whose
//!   residual is ~0 when every remaining score is negative);
//! - a residual that has vanished (norm at most [`VANISHED`] of the original, e.g. after d
//!   picks in d dimensions) counts as exactly 0, so the candidate's value is 0 rather than
//!   rounding noise, and an elected one deflates nothing instead of dividing by ~0. Once the
//!   span is full, every value is 0 and the lowest-numbered candidates are elected.
//!
//! Dot products and norms accumulate in f64 over eight interleaved lanes in a fixed order;
//! each candidate is updated independently, so the picks do not depend on the thread count.
//! Cost per pick: three passes over the group's residuals, O(|G| d).

use rayon::prelude::*;

/// Relative residual norm below which a residual counts as vanished.
pub const VANISHED: f64 = 1e-6;

/// `||P_j|| / ||W_j||`, or 0 for a vanished residual (or a zero candidate).
pub fn residual_ratio(norm: f64, norm0: f64) -> f64 {
    if norm0 > 0.0 && norm > VANISHED * norm0 {
        norm / norm0
    } else {
        0.0
    }
}

/// `sum_i a_i b_i` in f64, eight lanes then lane order.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += f64::from(x[l]) * f64::from(y[l]);
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[l] += f64::from(*x) * f64::from(*y);
    }
    acc.iter().sum()
}

/// Elects `quota` of the candidates in `group` (indices into the rows of `wt`).
///
/// Returns the elected indices in election order. `scores` has one entry per row of `wt`.
///
/// # Panics
/// If `quota > group.len()`, an index is out of range, `wt.len()` is not a multiple of `dim`
/// or a score is not finite (the campaign checks all of these first).
#[track_caller]
pub fn elect(wt: &[f32], dim: usize, scores: &[f64], group: &[usize], quota: usize) -> Vec<usize> {
    assert!(
        quota <= group.len(),
        "elect: quota {quota} exceeds the group's {} candidates",
        group.len()
    );
    assert!(
        dim > 0 && wt.len() == dim * scores.len(),
        "elect: {} weights for {} candidates of dimension {dim}",
        wt.len(),
        scores.len()
    );
    assert!(
        scores.iter().all(|s| s.is_finite()),
        "elect: non-finite score"
    );
    let m = group.len();
    let mut resid: Vec<f32> = Vec::with_capacity(m * dim);
    for &j in group {
        resid.extend_from_slice(&wt[j * dim..(j + 1) * dim]);
    }
    let norm0: Vec<f64> = resid.chunks_exact(dim).map(|p| dot(p, p).sqrt()).collect();
    let mut norm = norm0.clone();
    let mut elected = vec![false; m];
    let mut picks = Vec::with_capacity(quota);
    let mut a = vec![0f32; dim];
    for _ in 0..quota {
        let mut best: Option<(usize, f64)> = None;
        for g in 0..m {
            if elected[g] {
                continue;
            }
            let ratio = residual_ratio(norm[g], norm0[g]);
            let value = scores[group[g]] * ratio;
            if best.is_none_or(|(_, v)| value > v) {
                best = Some((g, value));
            }
        }
        let (b, _) = best.expect("quota <= group size leaves a candidate");
        elected[b] = true;
        picks.push(group[b]);
        if residual_ratio(norm[b], norm0[b]) == 0.0 {
            continue;
        }
        let inv = 1.0 / norm[b];
        for (ai, &p) in a.iter_mut().zip(&resid[b * dim..(b + 1) * dim]) {
            *ai = (f64::from(p) * inv) as f32;
        }
        let a = &a;
        resid
            .par_chunks_mut(dim)
            .zip(norm.par_iter_mut())
            .zip(elected.par_iter())
            .with_min_len(16)
            .for_each(|((p, nj), &done)| {
                if done {
                    return;
                }
                let t = dot(a, p) as f32;
                p.iter_mut().zip(a).for_each(|(x, &ai)| *x -= t * ai);
                *nj = dot(p, p).sqrt();
            });
    }
    picks
}

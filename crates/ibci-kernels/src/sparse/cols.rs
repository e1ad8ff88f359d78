//! The first layer's weight gradient in training, walked pixel by pixel over the batch's
//! nonzeros by column ([`BatchCols`]):
//!
//! ```text
//! G = A[rows]^T D           g_pj = chain over r ascending of a_{rows[r], p} d_rj
//!   per block of columns and range of p:
//!     for p:  acc = +0 (registers);  for (r, a) in column p:  acc = fma(a, D[r, block], acc)
//!             G[p, block] = acc   or   W[p, block] = W[p, block] - lr * acc
//! ```
//!
//! Every element gets the dense GEMM's chain with the zero terms left out, in the GEMM's order
//! (the batch order), so the result is the GEMM's bit for bit whenever [`super::exact`]'s
//! guard holds; the product checks it and returns `false` otherwise (the caller then runs the
//! dense GEMM). The sums stay in registers and D's block in L1. A row of W without a term in
//! the batch gets `w - lr * (+0) = w`, as the dense step gives it. (The forward product walks
//! the rows instead: [`super::forward`].)
//!
//! [`BatchCols`] is filled once per batch (a counting sort of the batch's entries of
//! [`CsrRows`](super::CsrRows)). Threads take disjoint blocks of the output, each element is
//! computed by one chain, so the thread count changes no bit. Each task copies its block of
//! D's columns into aligned rows of its own thread's buffer (on two threads, one copy of all
//! of D made by the caller was read back from the caller's core by the other thread, and the
//! other thread waited for it: about 8 us of a 150 us MLP-2 step).

use super::batch::{BatchCols, BW};
use super::cols_kernels as kern;
use super::exact::{matrix_floor, skipping_is_exact, ExponentFloor, Operand};
use super::packed::{Packed, Rhs};
use crate::mat::MatMut;
use crate::par::Par;
use crate::ptr::SendPtr;

/// What [`cols_t_times`] does with each gradient row.
#[derive(Debug)]
pub enum GradOut<'a> {
    /// `G = A[rows]^T D` into this `a.cols() x d.cols()` matrix.
    Store(MatMut<'a>),
    /// `W <- W - lr * A[rows]^T D` on this `a.cols() x d.cols()` matrix.
    Sgd(MatMut<'a>, f32),
}

/// Column blocks of at most [`BW`] columns, split into whole vectors of `lanes`, as few as
/// possible; returns `(blocks, vectors per block, blocks with one vector more)`.
fn blocks(n: usize, lanes: usize) -> (usize, usize, usize) {
    let nvec = n.div_ceil(lanes);
    let count = nvec.div_ceil(BW / lanes).max(1);
    (count, nvec / count, nvec % count)
}

/// Block `q`'s first column and width.
fn block(
    q: usize,
    (_, per, extra): (usize, usize, usize),
    lanes: usize,
    n: usize,
) -> (usize, usize) {
    let v0 = q * per + q.min(extra);
    let nv = per + usize::from(q < extra);
    let j0 = v0 * lanes;
    (j0, (nv * lanes).min(n - j0))
}

/// The weight gradient `A[rows]^T D` (or the SGD step that consumes it) from the batch's
/// columns, and the [`ExponentFloor`] of the whole output as written (so that the next
/// forward product with the updated W need not scan it); `None` (nothing written) when the
/// guard of [`super::exact`] fails or an SGD step's learning rate is not finite and of
/// positive sign (then `lr * (+0)` could be `-0` or NaN, and the rows of W without a term in
/// the batch, which are written as `w - lr * (+0)`, would differ).
///
/// # Panics
/// If `d` is not `a.rows() x n` or the output is not `a.cols() x n` with unit column stride.
#[track_caller]
pub fn cols_t_times<'d>(
    out: GradOut<'_>,
    a: &BatchCols,
    d: impl Into<Operand<'d>>,
    scratch: &mut Packed,
    par: Par,
) -> Option<ExponentFloor> {
    let (d, d_floor) = d.into().parts();
    let (o, lr) = match out {
        GradOut::Store(o) => (o, None),
        GradOut::Sgd(o, lr) => (o, Some(lr)),
    };
    let (k, n) = (a.cols(), d.cols());
    assert!(
        d.rows() == a.rows() && o.rows() == k && o.cols() == n,
        "cols_t_times: out is {} x {}, A[rows]^T is {k} x {}, D is {} x {n}",
        o.rows(),
        o.cols(),
        a.rows(),
        d.rows()
    );
    assert!(
        o.col_stride() == 1 || n <= 1,
        "cols_t_times: the output needs a unit column stride"
    );
    if k == 0 || n == 0 {
        return Some(ExponentFloor::EMPTY);
    }
    // D's floor decides, once for every task, whether skipping is exact (scanned here unless
    // the caller found it already, as training does beside the sort on two threads).
    let d_floor = d_floor.unwrap_or_else(|| matrix_floor(d));
    if lr.is_some_and(|lr| !(lr.is_finite() && lr.is_sign_positive()))
        || !skipping_is_exact(a.floor(), d_floor)
    {
        return None;
    }
    let path = scratch.path();
    let lanes = kern::lanes(path);
    let threads = par.team_threads();
    let split = blocks(n, lanes);
    // Ranges of p with about equal numbers of terms, one per thread, times column blocks.
    let ranges = threads.min(k);
    // Each task copies its block of D's columns into its thread's buffer (aligned rows, read
    // from that thread's own cache; a copy made by one thread for all would be read back
    // from the other cores).
    let copy_len = d.rows() * BW;
    let copies = SendPtr::from_raw(scratch.blocks(threads, copy_len));
    let rs = o.row_stride();
    let op = SendPtr::new(o);
    let task = |t: usize, slot: usize| -> ExponentFloor {
        let (q, s) = (t / ranges, t % ranges);
        let (j0, bw) = block(q, split, lanes, n);
        let ps = a.split_point(s, ranges)..a.split_point(s + 1, ranges);
        // SAFETY: buffer `slot` (below `threads`, see `Par::map_merge`; BW * rows floats from
        // a 64-byte boundary, BW a multiple of 16) is used by the task running on that
        // thread alone, which finishes before taking another; j0 + bw <= n. Rows ps and
        // columns j0..j0+bw of the output are this task's alone; the copy's rows hold the
        // block rounded up to whole vectors (bw <= BW, zero beyond bw) from 64-byte
        // boundaries; every batch position is below d.rows(); the path was checked when
        // `scratch` was made.
        unsafe {
            let rhs = Rhs::copy_block(d, j0, bw, copies.get().add(slot % threads * copy_len));
            kern::gradient(path, a, rhs, bw, ps, op.get().add(j0), rs, lr)
        }
    };
    let tasks = split.0 * ranges;
    let floor = par.map_merge(tasks, ExponentFloor::EMPTY, task, ExponentFloor::merge);
    Some(floor)
}

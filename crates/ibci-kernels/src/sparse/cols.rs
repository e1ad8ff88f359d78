//! A batch's nonzeros by column (pixel), and the first layer's two training products walked
//! pixel by pixel:
//!
//! ```text
//! forward   C = A[rows] B (+ bias)    c_rj = chain over p ascending of a_{rows[r], p} b_pj
//!   per block of columns j0..j0+bw:  T = +0 (batch x 64, in L1)
//!     for p ascending:  w = B[p, block] (registers);  for (r, a) in column p:  T[r] = fma(a, w, T[r])
//!     C[r, block] = T[r] (+ bias)
//! gradient  G = A[rows]^T D           g_pj = chain over r ascending of a_{rows[r], p} d_rj
//!   per block of columns and range of p:
//!     for p:  acc = +0 (registers);  for (r, a) in column p:  acc = fma(a, D[r, block], acc)
//!             G[p, block] = acc   or   W[p, block] = W[p, block] - lr * acc
//! ```
//!
//! Every element gets the dense GEMM's chain with the zero terms left out, in the GEMM's order
//! (p ascending for the forward product, the batch order for the gradient), so the result is
//! the GEMM's bit for bit whenever [`super::exact`]'s guard holds; each product checks it and
//! returns `false` otherwise (the caller then runs the dense GEMM). Walking pixel by pixel
//! rather than image by image keeps what is read once per term in L1 (the forward tile, D's
//! block), keeps the gradient's sums in registers, and reads B's rows once per batch instead
//! of once per image: measured 15-25% off an MLP-2/MLP-3 epoch against the image-by-image
//! kernels (AVX-512 host, one thread, 2026-12-02). A row of W without a term in the batch
//! gets `w - lr * (+0) = w`, as the dense step gives it.
//!
//! [`BatchCols`] is filled once per batch (a counting sort of the batch's entries of
//! [`CsrRows`](super::CsrRows)) and serves both products. Threads take disjoint blocks of the output, each
//! element is computed by one chain, so the thread count changes no bit.

use rayon::prelude::*;

use super::batch::{BatchCols, BW};
use super::cols_kernels as kern;
use super::exact::{exponent_floor, skipping_is_exact, ExponentFloor};
use super::packed::{Packed, Rhs};
use crate::mat::{MatMut, MatRef};
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

/// Column blocks of at most [`BW`] columns, split into whole vectors of `lanes`: as few as
/// possible, but at least `min_blocks` when there are vectors enough; returns
/// `(blocks, vectors per block, blocks with one vector more)`.
fn blocks(n: usize, lanes: usize, min_blocks: usize) -> (usize, usize, usize) {
    let nvec = n.div_ceil(lanes);
    let count = nvec.div_ceil(BW / lanes).max(min_blocks.min(nvec)).max(1);
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

/// The forward product `C = A[rows] B (+ bias)` from the batch's columns; `false` when the
/// guard of [`super::exact`] fails (C's contents are then unspecified: the caller computes C
/// densely).
///
/// # Panics
/// If `c` is not `a.rows() x b.cols()` with unit column stride, `b` is not `a.cols()` rows, or
/// a bias is not `b.cols()` long.
#[track_caller]
pub fn cols_times(
    c: MatMut<'_>,
    a: &BatchCols,
    b: MatRef<'_>,
    bias: Option<&[f32]>,
    scratch: &mut Packed,
    par: Par,
) -> bool {
    let (m, n) = (a.rows(), b.cols());
    assert!(
        c.rows() == m && c.cols() == n && b.rows() == a.cols(),
        "cols_times: C is {} x {}, A[rows] is {m} x {}, B is {} x {n}",
        c.rows(),
        c.cols(),
        a.cols(),
        b.rows(),
    );
    assert!(
        c.col_stride() == 1 || n <= 1,
        "cols_times: C needs a unit column stride"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), n, "cols_times: bias length");
    }
    if m == 0 || n == 0 {
        return true;
    }
    let (rhs, packed_floor) = match Rhs::in_place(b) {
        Some(rhs) => (rhs, None),
        None => {
            let floor = scratch.pack(b);
            (scratch.rhs(), Some(floor))
        }
    };
    if packed_floor.is_some_and(|f| !skipping_is_exact(a.floor(), f)) {
        return false;
    }
    let path = scratch.path();
    let lanes = kern::lanes(path);
    let threads = par.threads();
    // Four blocks per thread, so that a thread that joins late (the training loop's second
    // thread sorts the next batch first) still finds work; each output column is one
    // block's alone, so the split changes no bit.
    let split = blocks(n, lanes, if threads > 1 { 4 * threads } else { 1 });
    let tile_len = m * BW;
    let tiles = SendPtr::from_raw(scratch.tiles(threads, tile_len));
    let rs = c.row_stride();
    let cp = SendPtr::new(c);
    let k = b.rows();
    let task = |q: usize| -> ExponentFloor {
        let t = match par {
            Par::Seq => 0,
            Par::Rayon => rayon::current_thread_index().unwrap_or(0) % threads,
        };
        let (j0, bw) = block(q, split, lanes, n);
        // SAFETY: tile t (m * BW floats from a 64-byte boundary) is used by the task running
        // on thread t alone, which finishes before taking another; columns j0..j0+bw < n of
        // C are this task's alone; every column index of the batch is below k = b.rows(); the
        // path was checked when `scratch` was made.
        unsafe {
            let tile = tiles.get().add(t * tile_len);
            kern::forward(path, a, rhs, j0, bw, tile);
            for r in 0..m {
                let src = std::slice::from_raw_parts(tile.add(r * BW), bw);
                let dst = std::slice::from_raw_parts_mut(cp.get().add(r * rs + j0), bw);
                match bias {
                    None => dst.copy_from_slice(src),
                    Some(bias) => dst
                        .iter_mut()
                        .zip(src.iter().zip(&bias[j0..j0 + bw]))
                        .for_each(|(d, (&s, &b))| *d = s + b),
                }
            }
        }
        // The guard's scan of B (in place), shared out over the tasks.
        match packed_floor {
            Some(_) => ExponentFloor::EMPTY,
            None => (q * k / split.0..(q + 1) * k / split.0).fold(ExponentFloor::EMPTY, |f, p| {
                f.merge(exponent_floor(b.row(p).expect("in place: contiguous rows")))
            }),
        }
    };
    let floor = match par {
        Par::Seq => (0..split.0)
            .map(task)
            .fold(ExponentFloor::EMPTY, ExponentFloor::merge),
        Par::Rayon => (0..split.0)
            .into_par_iter()
            .map(task)
            .reduce(|| ExponentFloor::EMPTY, ExponentFloor::merge),
    };
    skipping_is_exact(a.floor(), packed_floor.unwrap_or(floor))
}

/// The weight gradient `A[rows]^T D` (or the SGD step that consumes it) from the batch's
/// columns; `false` (nothing written) when the guard of [`super::exact`] fails or an SGD
/// step's learning rate is not finite and of positive sign (then `lr * (+0)` could be `-0` or
/// NaN, and the rows of W without a term in the batch, which are written as `w - lr * (+0)`,
/// would differ).
///
/// # Panics
/// If `d` is not `a.rows() x n` or the output is not `a.cols() x n` with unit column stride.
#[track_caller]
pub fn cols_t_times(
    out: GradOut<'_>,
    a: &BatchCols,
    d: MatRef<'_>,
    scratch: &mut Packed,
    par: Par,
) -> bool {
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
        return true;
    }
    if lr.is_some_and(|lr| !(lr.is_finite() && lr.is_sign_positive()))
        || !skipping_is_exact(a.floor(), scratch.pack(d))
    {
        return false;
    }
    let path = scratch.path();
    let lanes = kern::lanes(path);
    let threads = par.threads();
    let split = blocks(n, lanes, 1);
    // About four tasks per thread: column blocks times ranges of p.
    let ranges = match par {
        Par::Seq => 1,
        Par::Rayon => (4 * threads).div_ceil(split.0).min(k),
    };
    let rhs = scratch.rhs();
    let rs = o.row_stride();
    let op = SendPtr::new(o);
    let task = |t: usize| {
        let (q, s) = (t / ranges, t % ranges);
        let (j0, bw) = block(q, split, lanes, n);
        let ps = s * k / ranges..(s + 1) * k / ranges;
        // SAFETY: rows ps and columns j0..j0+bw of the output are this task's alone; D is
        // packed (64-byte-aligned rows padded to a multiple of 16 floats, so they hold the
        // block rounded up to whole vectors); every batch position is below d.rows(); the
        // path was checked when `scratch` was made.
        unsafe { kern::gradient(path, a, rhs, j0, bw, ps, op.get(), rs, lr) };
    };
    match par {
        Par::Seq => (0..split.0 * ranges).for_each(task),
        Par::Rayon => (0..split.0 * ranges).into_par_iter().for_each(task),
    }
    true
}

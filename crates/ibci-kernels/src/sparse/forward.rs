//! The first layer's forward product in training, straight from the data set's row index:
//!
//! ```text
//! C = f(A[rows] B + bias)      c_rj = f(chain over p ascending of a_{rows[r], p} b_pj  +  bias_j)
//! ```
//!
//! Every element gets the dense GEMM's chain with the zero terms left out, in the GEMM's order,
//! so the result is the GEMM's (then `+ bias`, then `f`) bit for bit whenever
//! [`super::exact`]'s guard holds; the product checks it and returns `false` otherwise (the
//! caller then runs the dense GEMM). The kernel (`forward_kernels.rs`) walks each row's
//! nonzeros ([`CsrRows`], pixels ascending) one block of pixels at a time, so that the block's
//! rows of B stay in L1 while every row of the batch uses them, and keeps a row's sums in
//! registers for all of its terms in a block.
//!
//! Work is split into chunks of at most `MAX_ROWS` (128) batch rows (at least one per thread)
//! times blocks of columns (as wide as the registers allow); each output element is computed
//! by one chain, so the split, and the thread count, change no bit. The guard's scan of B is
//! shared out over the same tasks.

use super::exact::{exponent_floor, skipping_is_exact, ExponentFloor, Operand};
use super::forward_kernels::{self as kern, MAX_ROWS};
use super::packed::{Packed, Rhs};
use super::rows::CsrRows;
use crate::elementwise::{activate_with, Activation};
use crate::mat::MatMut;
use crate::par::Par;
use crate::ptr::SendPtr;

/// Bytes of B's rows a pixel block spans, read from L1 while the batch's rows use them (80
/// pixels of a 100-unit layer; measured with `cargo bench --bench first_layer` on a 2-core
/// AMD EPYC with AVX2, 2026-12-02: sparse/dense 0.39-0.40 against 0.43-0.52 with 16 KiB
/// blocks and 0.43 with no blocking, B read from L2).
const BLOCK_BYTES: usize = 32 << 10;

/// The forward product `C = f(A[rows] B + bias)` from the data set's row index, with
/// `post = Some((bias, f))`, or `C = A[rows] B` with `None`; `false` when the guard of
/// [`super::exact`] fails (C's contents are then unspecified: the caller computes C
/// densely).
///
/// # Panics
/// If `c` is not `rows.len() x n` with unit column stride, the operand's matrix is not
/// `a.cols() x n`, a bias is not `n` long, or a row index is out of range.
#[track_caller]
pub fn rows_times(
    c: MatMut<'_>,
    a: &CsrRows,
    rows: &[usize],
    b: Operand<'_>,
    post: Option<(&[f32], Activation)>,
    scratch: &mut Packed,
    par: Par,
) -> bool {
    let (b, known) = b.parts();
    let (m, n, k) = (rows.len(), b.cols(), b.rows());
    assert!(
        c.rows() == m && c.cols() == n && k == a.cols(),
        "rows_times: C is {} x {}, A[rows] is {m} x {}, B is {k} x {n}",
        c.rows(),
        c.cols(),
        a.cols(),
    );
    assert!(
        c.col_stride() == 1 || n <= 1,
        "rows_times: C needs a unit column stride"
    );
    if let Some((bias, _)) = post {
        assert_eq!(bias.len(), n, "rows_times: bias length");
    }
    if let Some(&bad) = rows.iter().find(|&&i| i >= a.rows()) {
        panic!("rows_times: row {bad} out of range for {} rows", a.rows());
    }
    if m == 0 || n == 0 {
        return true;
    }
    // B's floor: known, or from packing it, or (None here) scanned by the tasks below.
    let (rhs, b_floor) = match Rhs::in_place(b) {
        Some(rhs) => (rhs, known),
        None => {
            let floor = scratch.pack(b);
            (scratch.rhs(), Some(floor))
        }
    };
    if b_floor.is_some_and(|f| !skipping_is_exact(a.floor(), f)) {
        return false;
    }
    let path = scratch.path();
    let lanes = kern::lanes(path);
    let threads = par.team_threads();
    // Column blocks: as few as the registers allow, of whole vectors, evened out.
    let nvec = n.div_ceil(lanes);
    let cblocks = nvec.div_ceil(kern::max_vectors(path));
    let (per, extra) = (nvec / cblocks, nvec % cblocks);
    let ts = (per + usize::from(extra > 0)) * lanes;
    let ts = ts.div_ceil(16) * 16;
    let pb = (BLOCK_BYTES / (4 * ts)).max(8);
    // Row chunks: at most MAX_ROWS, at least one per thread.
    let rchunks = m.div_ceil(MAX_ROWS).max(threads.min(m));
    let tasks = rchunks * cblocks;
    let tile_len = m.div_ceil(rchunks) * ts;
    let tiles = SendPtr::from_raw(scratch.tiles(threads, tile_len));
    let rs = c.row_stride();
    let cp = SendPtr::new(c);
    let task = |t: usize, slot: usize| -> ExponentFloor {
        let (rq, q) = (t / cblocks, t % cblocks);
        let chunk = &rows[rq * m / rchunks..(rq + 1) * m / rchunks];
        let v0 = q * per + q.min(extra);
        let j0 = v0 * lanes;
        let bw = ((per + usize::from(q < extra)) * lanes).min(n - j0);
        let r0 = rq * m / rchunks;
        // SAFETY: tile `slot` (below `threads`, see `Par::map_merge`; tile_len floats from a
        // 64-byte boundary: ts and tile_len are multiples of 16) is used by the task running
        // on that thread alone, which finishes before taking another; chunk.len() <=
        // tile_len / ts and <= MAX_ROWS (rchunks >= m / MAX_ROWS); bw <= max_vectors * lanes
        // and j0 + bw <= n; every row index was checked above; rows r0..r0+chunk.len() and columns j0..j0+bw of C are this task's
        // alone; the path was checked when `scratch` was made.
        unsafe {
            let tile = tiles.get().add(slot % threads * tile_len);
            kern::forward(path, a, chunk, rhs, j0, bw, tile, ts, pb);
            for r in 0..chunk.len() {
                let src = std::slice::from_raw_parts(tile.add(r * ts), bw);
                let dst = std::slice::from_raw_parts_mut(cp.get().add((r0 + r) * rs + j0), bw);
                match post {
                    None => dst.copy_from_slice(src),
                    Some((bias, act)) => {
                        dst.iter_mut()
                            .zip(src.iter().zip(&bias[j0..j0 + bw]))
                            .for_each(|(d, (&s, &b))| *d = s + b);
                        activate_with(path, act, dst, Par::Seq);
                    }
                }
            }
        }
        // The guard's scan of B (in place, floor unknown), shared out over the tasks.
        match b_floor {
            Some(_) => ExponentFloor::EMPTY,
            None => (t * k / tasks..(t + 1) * k / tasks).fold(ExponentFloor::EMPTY, |f, p| {
                f.merge(exponent_floor(b.row(p).expect("in place: contiguous rows")))
            }),
        }
    };
    let floor = par.map_merge(tasks, ExponentFloor::EMPTY, task, ExponentFloor::merge);
    skipping_is_exact(a.floor(), b_floor.unwrap_or(floor))
}

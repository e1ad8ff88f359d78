//! A data set's nonzeros, indexed once, and the forward product of a network's first layer on
//! a batch named by row indices (no batch is gathered; the weight gradient is
//! [`super::grad`]):
//!
//! ```text
//! C = A[rows] B (+ bias)          c_rj = chain over p of a_{rows[r], p} b_pj  (+ bias_j)
//! ```
//!
//! Each chain runs in the dense GEMM's order (p ascending) with the zero terms left out, one
//! fused multiply-add per kept term (the private `chain` module). The product checks
//! [`super::exact`]'s guard (scanning B alongside the products, on every thread) and returns
//! `false` when skipping could change a bit (a non-finite or tiny entry of B); the caller then
//! runs the dense GEMM, which overwrites C. When it returns `true` the result is the GEMM's
//! (`alpha = 1, beta = 0`, then the bias added), bit for bit, on every path and for every
//! thread count.
//!
//! Layout: [`CsrRows`] holds each row's nonzeros as (column, value), columns ascending, rows
//! one after another. Threads take disjoint blocks of output rows.

use rayon::prelude::*;

use super::chain::{self, Packed};
use super::exact::{exponent_floor, skipping_is_exact, ExponentFloor};
use crate::gemm::Par;
use crate::mat::{MatMut, MatRef};
use crate::ptr::SendPtr;

/// Fewest output rows per parallel task of the forward product.
const FWD_ROWS: usize = 4;

/// The nonzeros of every row of a matrix (compressed sparse rows), built once per data set.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrRows {
    cols: usize,
    start: Vec<usize>,
    /// (column, value) of every nonzero, row after row, columns ascending.
    entries: Vec<(u32, f32)>,
    floor: ExponentFloor,
}

impl CsrRows {
    /// Indexes `a` (any strides). `-0` counts as zero; NaN and infinities are kept.
    ///
    /// # Panics
    /// If `a` has more than `u32::MAX` columns.
    #[track_caller]
    pub fn new(a: MatRef<'_>) -> CsrRows {
        let (m, k) = (a.rows(), a.cols());
        assert!(
            u32::try_from(k).is_ok(),
            "CsrRows: {k} columns do not fit u32"
        );
        // Two passes over the rows (count, then fill), each row read as a slice: borrowed when
        // contiguous, gathered into `tmp` otherwise. The exponent floor is the dense rows'
        // (zeros never count in it).
        let mut tmp = vec![0f32; if a.row(0).is_some() { 0 } else { k }];
        let mut start = Vec::with_capacity(m + 1);
        start.push(0);
        let mut nnz = 0;
        let mut floor = ExponentFloor::EMPTY;
        for i in 0..m {
            let r = row_slice(a, i, &mut tmp);
            nnz += r.iter().filter(|&&v| v != 0.0).count();
            floor = floor.merge(exponent_floor(r));
            start.push(nnz);
        }
        let mut entries = Vec::with_capacity(nnz);
        for i in 0..m {
            let r = row_slice(a, i, &mut tmp);
            entries.extend((0u32..).zip(r.iter().copied()).filter(|&(_, v)| v != 0.0));
        }
        CsrRows {
            cols: k,
            start,
            entries,
            floor,
        }
    }

    /// Rows of the indexed matrix.
    pub fn rows(&self) -> usize {
        self.start.len() - 1
    }

    /// Columns of the indexed matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored entries (the entries not equal to zero).
    pub fn nnz(&self) -> usize {
        self.entries.len()
    }

    /// The fraction of entries stored (0 for an empty matrix).
    pub fn density(&self) -> f64 {
        let all = self.rows() * self.cols;
        if all == 0 {
            0.0
        } else {
            self.nnz() as f64 / all as f64
        }
    }

    /// The exponent floor of the stored entries (for [`super::exact`]'s guard).
    pub fn floor(&self) -> ExponentFloor {
        self.floor
    }

    /// Row `i`'s nonzeros as (column, value), columns ascending.
    ///
    /// # Panics
    /// If `i >= self.rows()`.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[(u32, f32)] {
        &self.entries[self.start[i]..self.start[i + 1]]
    }
}

/// Row `i` of `a` as a slice: borrowed when contiguous, else gathered into `tmp` (`a.cols()`
/// floats).
fn row_slice<'x>(a: MatRef<'x>, i: usize, tmp: &'x mut [f32]) -> &'x [f32] {
    match a.row(i) {
        Some(r) => r,
        None => {
            tmp.iter_mut()
                .enumerate()
                .for_each(|(p, t)| *t = a.at(i, p));
            tmp
        }
    }
}

/// The forward product `C = A[rows] B (+ bias)`, skipping A's zeros; `false` when the guard
/// of [`super::exact`] fails (C's contents are then unspecified: the caller computes C
/// densely).
///
/// B is read where it lies when its rows are contiguous, else copied into `packed` (aligned
/// rows, reused between calls). (Reading B in blocks that stay in L1, with the chains carried
/// across blocks in a tile, was tried and measured slower: the per-block overhead outweighs
/// the saved cache misses.)
///
/// # Panics
/// If `c` is not `rows.len() x b.cols()` with unit column stride, `b` is not `a.cols()` rows,
/// a bias is not `b.cols()` long, or a row index is out of range.
#[track_caller]
pub fn rows_times(
    c: MatMut<'_>,
    a: &CsrRows,
    rows: &[usize],
    b: MatRef<'_>,
    bias: Option<&[f32]>,
    packed: &mut Packed,
    par: Par,
) -> bool {
    assert!(
        c.rows() == rows.len() && c.cols() == b.cols() && b.rows() == a.cols(),
        "rows_times: C is {} x {}, A[rows] is {} x {}, B is {} x {}",
        c.rows(),
        c.cols(),
        rows.len(),
        a.cols(),
        b.rows(),
        b.cols()
    );
    assert!(
        c.col_stride() == 1 || c.cols() <= 1,
        "rows_times: C needs a unit column stride"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), b.cols(), "rows_times: bias length");
    }
    if let Some(&bad) = rows.iter().find(|&&i| i >= a.rows()) {
        panic!("rows_times: row {bad} out of range for {} rows", a.rows());
    }
    let n = b.cols();
    if rows.is_empty() || n == 0 {
        return true;
    }
    // B is read where it lies when it can be (packing it would double what the product
    // streams through L2), packed otherwise (its floor then comes from the packing).
    let (rhs, packed_floor) = match chain::Rhs::in_place(b) {
        Some(rhs) => (rhs, None),
        None => {
            let floor = packed.pack(b, 8);
            (packed.rhs(), Some(floor))
        }
    };
    if packed_floor.is_some_and(|f| !skipping_is_exact(a.floor(), f)) {
        return false;
    }
    let path = packed.path();
    let rs = c.row_stride();
    let cp = SendPtr::new(c);
    // About four tasks per thread, at least FWD_ROWS rows each, so the threads get equal
    // shares of a small batch.
    let per_task = match par {
        Par::Seq => rows.len(),
        Par::Rayon => rows
            .len()
            .div_ceil(4 * rayon::current_num_threads().max(1))
            .max(FWD_ROWS),
    };
    let tasks = rows.len().div_ceil(per_task);
    // Each task also scans its share of B's rows for the guard (in place), so the scan runs
    // on every thread; the products are computed before the verdict and discarded by the
    // caller's dense fallback when the guard fails.
    let task = |t: usize| -> ExponentFloor {
        for (r, &i) in rows.iter().enumerate().skip(t * per_task).take(per_task) {
            // SAFETY: indices in a row of `a` are < a.cols() = b.rows(); C and the bias hold
            // n columns (checked above); row r of C is written by this task alone; the path
            // was checked when `packed` was made.
            unsafe {
                let out = cp.get().add(r * rs);
                chain::row(path, a.row(i), rhs, bias, out);
            }
        }
        match packed_floor {
            Some(_) => ExponentFloor::EMPTY,
            None => (t * b.rows() / tasks..(t + 1) * b.rows() / tasks)
                .fold(ExponentFloor::EMPTY, |f, p| {
                    f.merge(exponent_floor(b.row(p).expect("in place: contiguous rows")))
                }),
        }
    };
    let floor = match par {
        Par::Seq => (0..tasks)
            .map(task)
            .fold(ExponentFloor::EMPTY, ExponentFloor::merge),
        Par::Rayon => (0..tasks)
            .into_par_iter()
            .map(task)
            .reduce(|| ExponentFloor::EMPTY, ExponentFloor::merge),
    };
    skipping_is_exact(a.floor(), packed_floor.unwrap_or(floor))
}

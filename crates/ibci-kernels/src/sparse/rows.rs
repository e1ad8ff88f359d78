//! A data set's nonzeros, indexed once, and the two products of a network's first layer on a
//! batch named by row indices (no batch is gathered):
//!
//! ```text
//! forward   C = A[rows] B (+ bias)          c_rj  = chain over p of a_{rows[r], p} b_pj
//! gradient  G = A[rows]^T D                 g_pj  = chain over r of a_{rows[r], p} d_rj
//!           or W <- W - lr * A[rows]^T D    (the SGD step fused into the write-back)
//! ```
//!
//! Each chain runs in the dense GEMM's order (p ascending for the forward product, r
//! ascending for the gradient) with the zero terms left out, one fused multiply-add per
//! kept term ([`super::chain`]). Both functions first check [`super::exact`]'s guard and
//! return `false` without writing anything when skipping could change a bit (a non-finite
//! or tiny entry of the right operand); the caller then runs the dense GEMM. When they
//! return `true` the result is the GEMM's (`alpha = 1, beta = 0`; for the SGD form
//! `alpha = -lr, beta = 1`), bit for bit, on every path and for every thread count.
//!
//! Layout: [`CsrRows`] holds each row's nonzero column indices (ascending) and values.
//! [`BatchColumns`] is the transposed index of one batch (for each column p, the batch
//! positions r holding a nonzero, ascending), rebuilt per batch by a counting sort into
//! buffers sized once. Threads take disjoint blocks of output rows.

use rayon::prelude::*;

use super::chain::{self, Epilogue, Packed, MAX_NV};
use super::exact::{exponent_floor, skipping_is_exact, ExponentFloor};
use crate::gemm::Par;
use crate::mat::{MatMut, MatRef};
use crate::ptr::SendPtr;

/// Output rows per parallel task of the forward product.
const FWD_ROWS: usize = 16;
/// Vectors per pass of the gradient's chains (7 x 8 columns of a 100-row D: 22 KiB, in L1).
const GRAD_NV: usize = 7;
/// Output rows (columns of A) per parallel task of the gradient.
const GRAD_ROWS: usize = 32;

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
        let at = |i: usize, p: usize| match a.row(i) {
            Some(r) => r[p],
            None => a.at(i, p),
        };
        let mut start = Vec::with_capacity(m + 1);
        start.push(0);
        let mut nnz = 0;
        for i in 0..m {
            nnz += (0..k).filter(|&p| at(i, p) != 0.0).count();
            start.push(nnz);
        }
        let mut entries = Vec::with_capacity(nnz);
        let mut floor = ExponentFloor::EMPTY;
        for i in 0..m {
            for p in 0..k {
                let v = at(i, p);
                if v != 0.0 {
                    entries.push((p as u32, v));
                    floor = floor.merge(exponent_floor(&[v]));
                }
            }
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

/// The transposed index of one batch: for each column `p` of A, the positions `r` in the
/// batch (ascending) with `A[rows[r], p] != 0`, and those values. Reused across batches.
#[derive(Clone, Debug, Default)]
pub struct BatchColumns {
    start: Vec<u32>,
    next: Vec<u32>,
    /// (batch position, value), column after column, positions ascending.
    entries: Vec<(u32, f32)>,
    batch: usize,
    floor: Option<ExponentFloor>,
}

impl BatchColumns {
    /// Buffers for batches of up to `rows` rows of a `cols`-column matrix: filling them
    /// never allocates.
    pub fn with_capacity(rows: usize, cols: usize) -> BatchColumns {
        BatchColumns {
            start: Vec::with_capacity(cols + 1),
            next: Vec::with_capacity(cols),
            entries: Vec::with_capacity(rows * cols),
            batch: 0,
            floor: None,
        }
    }

    /// Indexes the batch `a[rows]` by column (a counting sort over the rows' nonzeros).
    ///
    /// # Panics
    /// If a row index is out of range.
    #[track_caller]
    pub fn fill(&mut self, a: &CsrRows, rows: &[usize]) {
        let k = a.cols();
        let total: usize = rows.iter().map(|&i| a.row(i).len()).sum();
        assert!(
            u32::try_from(total).is_ok(),
            "BatchColumns: batch of {total} nonzeros too large"
        );
        self.start.clear();
        self.start.resize(k + 1, 0);
        for &i in rows {
            for &(p, _) in a.row(i) {
                self.start[p as usize + 1] += 1;
            }
        }
        for p in 0..k {
            self.start[p + 1] += self.start[p];
        }
        self.next.clear();
        self.next.extend_from_slice(&self.start[..k]);
        self.entries.clear();
        self.entries.resize(total, (0, 0.0));
        for (r, &i) in rows.iter().enumerate() {
            for &(p, v) in a.row(i) {
                // Column indices of a CsrRows are below k, and each column's slots were
                // counted above: both index operations are in bounds.
                let slot = &mut self.next[p as usize];
                self.entries[*slot as usize] = (r as u32, v);
                *slot += 1;
            }
        }
        self.batch = rows.len();
        self.floor = Some(a.floor());
    }

    /// Columns of A (rows of the gradient).
    pub fn cols(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    /// Rows in the batch last filled.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// The forward product `C = A[rows] B (+ bias)`, skipping A's zeros; `false` (C untouched)
/// when the guard of [`super::exact`] fails.
///
/// B is copied into `packed` (aligned rows, reused between calls). (Reading B in blocks that
/// stay in L1, with the chains carried across blocks in a tile, was tried and measured
/// slower: the per-block overhead outweighs the cache misses, which the kernel's prefetch
/// mostly hides.)
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
    // streams through L2), packed otherwise; its floor comes from the same pass.
    let (rhs, b_floor) = match chain::Rhs::in_place(b) {
        Some(rhs) => (
            rhs,
            (0..b.rows()).fold(ExponentFloor::EMPTY, |f, p| {
                f.merge(exponent_floor(b.row(p).expect("in place: contiguous rows")))
            }),
        ),
        None => {
            let floor = packed.pack(b);
            (packed.rhs(), floor)
        }
    };
    if !skipping_is_exact(a.floor(), b_floor) {
        return false;
    }
    let path = packed.path();
    let rs = c.row_stride();
    let cp = SendPtr::new(c);
    let task = |t: usize| {
        for (r, &i) in rows.iter().enumerate().skip(t * FWD_ROWS).take(FWD_ROWS) {
            // SAFETY: indices in a row of `a` are < a.cols() = b.rows(); C and the bias hold
            // n columns (checked above); row r of C is written by this task alone; the path
            // was checked when `packed` was made.
            unsafe {
                let out = cp.get().add(r * rs);
                chain::row(path, a.row(i), rhs, MAX_NV, Epilogue::Store(bias), out);
            }
        }
    };
    run(rows.len().div_ceil(FWD_ROWS), par, task);
    true
}

/// What [`rows_t_times`] does with each gradient row.
#[derive(Debug)]
pub enum GradOut<'a> {
    /// `G = A[rows]^T D` into this `a.cols() x d.cols()` matrix (rows of A's columns with no
    /// nonzero in the batch get +0, as the dense chain gives for finite D).
    Store(MatMut<'a>),
    /// `W <- W - lr * A[rows]^T D` on this `a.cols() x d.cols()` matrix; rows whose gradient
    /// is +0 are left as they are (`w - lr * (+0)` is `w`, bit for bit, for finite `lr >= +0`).
    Sgd(MatMut<'a>, f32),
}

/// The weight gradient `A[rows]^T D` of the batch indexed in `cols` (or the SGD step that
/// consumes it), skipping A's zeros; `false` (nothing written) when the guard of
/// [`super::exact`] fails or an SGD step's learning rate is not finite and of positive sign
/// (otherwise `lr * (+0)` could be `-0` or NaN, and skipped rows would differ).
///
/// D is copied into `packed` (aligned rows, reused between calls).
///
/// # Panics
/// If `d` is not `cols.batch() x n`, the output is not `cols.cols() x n` with unit column
/// stride, or `cols` was never filled.
#[track_caller]
pub fn rows_t_times(
    out: GradOut<'_>,
    cols: &BatchColumns,
    d: MatRef<'_>,
    packed: &mut Packed,
    par: Par,
) -> bool {
    let a_floor = cols
        .floor
        .expect("rows_t_times: BatchColumns was never filled");
    let (o, epi) = match out {
        GradOut::Store(o) => (o, None),
        GradOut::Sgd(o, lr) => (o, Some(lr)),
    };
    let (k, n) = (cols.cols(), d.cols());
    assert!(
        d.rows() == cols.batch() && o.rows() == k && o.cols() == n,
        "rows_t_times: out is {} x {}, A[rows]^T is {k} x {}, D is {} x {n}",
        o.rows(),
        o.cols(),
        cols.batch(),
        d.rows()
    );
    assert!(
        o.col_stride() == 1 || n <= 1,
        "rows_t_times: the output needs a unit column stride"
    );
    if k == 0 || n == 0 {
        return true;
    }
    if epi.is_some_and(|lr| !(lr.is_finite() && lr.is_sign_positive()))
        || !skipping_is_exact(a_floor, packed.pack(d))
    {
        return false;
    }
    let path = packed.path();
    let rhs = packed.rhs();
    let rs = o.row_stride();
    let op = SendPtr::new(o);
    let task = |t: usize| {
        for p in t * GRAD_ROWS..((t + 1) * GRAD_ROWS).min(k) {
            let (s0, s1) = (cols.start[p] as usize, cols.start[p + 1] as usize);
            let list = &cols.entries[s0..s1];
            // SAFETY: row p of the output (n floats at unit stride) is written by this task
            // alone; positions in `cols` are < batch = d.rows(); the path is supported.
            unsafe {
                let row = op.get().add(p * rs);
                match epi {
                    None if s0 == s1 => std::slice::from_raw_parts_mut(row, n).fill(0.0),
                    Some(_) if s0 == s1 => {}
                    None => chain::row(path, list, rhs, GRAD_NV, Epilogue::Store(None), row),
                    Some(lr) => chain::row(path, list, rhs, GRAD_NV, Epilogue::Sgd(lr), row),
                }
            }
        }
    };
    run(k.div_ceil(GRAD_ROWS), par, task);
    true
}

fn run(tasks: usize, par: Par, task: impl Fn(usize) + Sync + Send) {
    match par {
        Par::Seq => (0..tasks).for_each(task),
        Par::Rayon => (0..tasks).into_par_iter().for_each(task),
    }
}

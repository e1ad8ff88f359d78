//! A data set's nonzeros, indexed once (not per batch), for the first layer's sparse products
//! ([`super::cols`]).
//!
//! Layout: [`CsrRows`] holds each row's nonzeros as (column, value), columns ascending, rows
//! one after another (compressed sparse rows), with the entries' exponent floor for
//! [`super::exact`]'s guard.

use super::exact::{exponent_floor, ExponentFloor};
use crate::mat::MatRef;

/// The nonzeros of every row of a matrix (compressed sparse rows), built once per data set.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrRows {
    cols: usize,
    start: Vec<usize>,
    /// (column, value) of every nonzero, row after row, columns ascending.
    entries: Vec<(u32, f32)>,
    floor: ExponentFloor,
    max_row_nnz: usize,
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
        let max_row_nnz = start.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        CsrRows {
            cols: k,
            start,
            entries,
            floor,
            max_row_nnz,
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

    /// The most entries any row stores.
    pub fn max_row_nnz(&self) -> usize {
        self.max_row_nnz
    }

    /// The exponent floor of the stored entries (for [`super::exact`]'s guard).
    pub fn floor(&self) -> ExponentFloor {
        self.floor
    }

    /// Asks the CPU to start loading the entries of `rows` into its caches (each row's cache
    /// lines), so that a later product or [`super::BatchCols::fill`] of them need not wait for memory:
    /// the training loop calls it for the next batch before computing the current one (rows
    /// of a shuffled data set sit anywhere in the index). A hint only: no effect on results,
    /// none off x86-64; rows out of range are ignored.
    pub fn prefetch(&self, rows: &[usize]) {
        #[cfg(target_arch = "x86_64")]
        for &i in rows.iter().filter(|&&i| i < self.rows()) {
            let row = &self.entries[self.start[i]..self.start[i + 1]];
            let bytes = std::mem::size_of_val(row);
            let base = row.as_ptr().cast::<i8>();
            for off in (0..bytes).step_by(64) {
                // SAFETY: `base + off` lies within the row's slice (off < its byte length);
                // a prefetch reads nothing architecturally and cannot fault.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        base.add(off),
                    )
                };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = rows;
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

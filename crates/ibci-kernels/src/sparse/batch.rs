//! A batch's nonzeros by column: the data set's [`CsrRows`] entries of the batch's rows,
//! sorted by column (pixel) once per batch, for the weight gradient of [`super::cols`].

use super::exact::ExponentFloor;
use super::rows::CsrRows;

/// Columns per block of the gradient of [`super::cols`] (its sums: four zmm or eight ymm).
pub(super) const BW: usize = 64;

/// A batch of rows of a [`CsrRows`] index, transposed: for each column `p`, the batch
/// positions `r` (ascending) and values of the nonzeros in that column. Its buffers are
/// reused from batch to batch; after the first [`fill`](BatchCols::fill) of a data set, later
/// fills of batches no larger do not allocate.
#[derive(Clone, Debug)]
pub struct BatchCols {
    cols: usize,
    rows: usize,
    start: Vec<u32>,
    next: Vec<u32>,
    entries: Vec<(u32, f32)>,
    floor: ExponentFloor,
}

impl Default for BatchCols {
    fn default() -> BatchCols {
        BatchCols::new()
    }
}

impl BatchCols {
    /// An empty batch (fill it before use); allocates nothing.
    pub fn new() -> BatchCols {
        BatchCols {
            cols: 0,
            rows: 0,
            start: Vec::new(),
            next: Vec::new(),
            entries: Vec::new(),
            floor: ExponentFloor::EMPTY,
        }
    }

    /// Makes this the batch `a[rows]` (in the order given).
    ///
    /// # Panics
    /// If a row index is out of range, or the batch has more than `u32::MAX` rows or entries.
    #[track_caller]
    pub fn fill(&mut self, a: &CsrRows, rows: &[usize]) {
        if let Some(&bad) = rows.iter().find(|&&i| i >= a.rows()) {
            panic!("BatchCols: row {bad} out of range for {} rows", a.rows());
        }
        assert!(
            u32::try_from(rows.len()).is_ok(),
            "BatchCols: batch too large"
        );
        let k = a.cols();
        // Room for the largest batch of this size, so that no later batch allocates.
        let most = rows.len() * a.max_row_nnz();
        assert!(u32::try_from(most).is_ok(), "BatchCols: batch too large");
        if self.entries.capacity() < most {
            self.entries.reserve(most - self.entries.len());
        }
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
        let nnz = self.start[k] as usize;
        self.next.clear();
        self.next.extend_from_slice(&self.start[..k]);
        // Every slot below nnz is written next, so the buffer only grows (a zero fill of each
        // batch's entries cost about 1% of an MLP-2 epoch); slots past nnz are never read.
        if self.entries.len() < nnz {
            self.entries.resize(nnz, (0, 0.0));
        }
        for (r, &i) in rows.iter().enumerate() {
            for &(p, v) in a.row(i) {
                let at = &mut self.next[p as usize];
                self.entries[*at as usize] = (r as u32, v);
                *at += 1;
            }
        }
        (self.cols, self.rows, self.floor) = (k, rows.len(), a.floor());
    }

    /// The exponent floor of the data set's entries (for [`super::exact`]'s guard).
    pub fn floor(&self) -> ExponentFloor {
        self.floor
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the indexed matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The first column of part `s` of `parts` with about equal numbers of entries: columns
    /// `split_point(s, parts)..split_point(s + 1, parts)`, for `s` in `0..parts`, cover
    /// `0..cols()` once (`split_point(parts, parts) == cols()`).
    ///
    /// # Panics
    /// If `s > parts` or `parts == 0`.
    #[track_caller]
    pub fn split_point(&self, s: usize, parts: usize) -> usize {
        assert!(s <= parts && parts > 0, "split_point: part {s} of {parts}");
        if s == parts {
            return self.cols;
        }
        let nnz = self.start.get(self.cols).map_or(0, |&e| e as usize);
        let want = (s * nnz / parts) as u32;
        // The first p whose entries start at or after `want`.
        self.start[..self.cols].partition_point(|&at| at < want)
    }

    /// Column `p`'s nonzeros as (batch position, value), positions ascending.
    ///
    /// # Panics
    /// If `p >= self.cols()`.
    #[track_caller]
    pub fn col(&self, p: usize) -> &[(u32, f32)] {
        &self.entries[self.start[p] as usize..self.start[p + 1] as usize]
    }
}

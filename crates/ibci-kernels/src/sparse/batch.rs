//! A batch's nonzeros by column: the data set's [`CsrRows`] entries of the batch's rows,
//! sorted by column (pixel) once per batch, for the weight gradient of [`super::cols`].
//!
//! Layout: column p's entries are `entries[begin[p]..end[p]]`, batch positions ascending
//! (the rows are placed in batch order). Where every column can have a slot for every row
//! (`rows * cols <= BatchCols::MAX_SLOTS`: batches of up to 2,675 MNIST rows), column p's slots start at
//! `p * rows` and one pass places the entries (a bucket sort); larger batches are counted
//! first and packed (a counting sort). The buckets' pass is the counting sort's second half
//! alone: in training (MLP-2, batches of 100, AMD EPYC with AVX2, 2026-12-03, timed step by
//! step in one run, 50-step blocks alternating) the sort took 30-45 us against 74-93 us, for
//! 627 KB of slots (8 bytes a row and column) against 120 KB.

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
    /// Column p's first slot.
    begin: Vec<u32>,
    /// One past column p's last entry.
    end: Vec<u32>,
    /// Entries in columns `0..p`, for `p` in `0..=cols` (for `split_point`).
    before: Vec<u32>,
    entries: Vec<(u32, f32)>,
    floor: ExponentFloor,
}

impl Default for BatchCols {
    fn default() -> BatchCols {
        BatchCols::new()
    }
}

impl BatchCols {
    /// The most slots (`rows * cols`) a batch's columns get in the bucket layout (16 MiB of
    /// entries); larger batches are counted and packed.
    pub const MAX_SLOTS: usize = 1 << 21;

    /// An empty batch (fill it before use); allocates nothing.
    pub fn new() -> BatchCols {
        BatchCols {
            cols: 0,
            rows: 0,
            begin: Vec::new(),
            end: Vec::new(),
            before: Vec::new(),
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
        let (k, b) = (a.cols(), rows.len());
        // The loops index local slices, not `self`'s vectors, so that the compiler need not
        // reload a vector's pointer and length after each store.
        self.begin.clear();
        let slots = if b.checked_mul(k).is_some_and(|s| s <= Self::MAX_SLOTS) {
            // A slot for every row in every column (each row has at most one entry in each).
            self.begin.extend((0..k).map(|p| (p * b) as u32));
            b * k
        } else {
            // Room for the largest batch of this size, so that no later batch allocates.
            let most = b * a.max_row_nnz();
            assert!(u32::try_from(most).is_ok(), "BatchCols: batch too large");
            if self.entries.capacity() < most {
                self.entries.reserve(most - self.entries.len());
            }
            self.begin.resize(k, 0);
            let counts = &mut self.begin[..];
            for &i in rows {
                for &(p, _) in a.row(i) {
                    counts[p as usize] += 1;
                }
            }
            let mut sum = 0;
            for c in counts.iter_mut() {
                (*c, sum) = (sum, sum + *c);
            }
            sum as usize
        };
        // Every slot is written before it is read, so the buffer only grows (a zero fill of
        // each batch's entries cost about 1% of an MLP-2 epoch); slots past a column's end
        // are never read.
        if self.entries.len() < slots {
            self.entries.resize(slots, (0, 0.0));
        }
        self.end.clear();
        self.end.extend_from_slice(&self.begin);
        let (end, entries) = (&mut self.end[..], &mut self.entries[..slots]);
        for (r, &i) in rows.iter().enumerate() {
            for &(p, v) in a.row(i) {
                let at = &mut end[p as usize];
                entries[*at as usize] = (r as u32, v);
                *at += 1;
            }
        }
        self.before.clear();
        self.before.push(0);
        let mut sum = 0;
        for (&e, &s) in self.end.iter().zip(&self.begin) {
            sum += e - s;
            self.before.push(sum);
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
        let nnz = self.before.get(self.cols).map_or(0, |&e| e as usize);
        let want = (s * nnz / parts) as u32;
        // The first p with at least `want` entries before it.
        self.before[..self.cols].partition_point(|&at| at < want)
    }

    /// Column `p`'s nonzeros as (batch position, value), positions ascending.
    ///
    /// # Panics
    /// If `p >= self.cols()`.
    #[track_caller]
    pub fn col(&self, p: usize) -> &[(u32, f32)] {
        &self.entries[self.begin[p] as usize..self.end[p] as usize]
    }
}

//! Column statistics, per-class column statistics, column norms and the campaign's rank-1
//! deflation.
//!
//! `x` is `n x d` (one row per sample, one column per feature or candidate neuron). Every
//! reduction over rows accumulates in f64, row by row in order within fixed blocks of
//! [`ROW_BLOCK`] rows, and the blocks' partial results are added in block order, so neither
//! the thread count nor the vector width changes a bit. Results are rounded to f32 once.
//!
//! | kernel | result (per column j) |
//! |---|---|
//! | [`column_sums`] | sum_i x_ij |
//! | [`column_mean_var`] | mean, and sum_i (x_ij - mean)^2 / max(n - ddof, 1) (two passes) |
//! | [`column_norms`] | sqrt(sum_i x_ij^2) |
//! | [`class_column_stats`] | per class k: count, mean and std of the rows labelled k |
//! | [`deflate`] | `D <- D - a (a^T W)`: t_j = sum_i a_i w_ij (f64), d_ij -= a_i * t_j (f32) |
//!
//! Per-class statistics follow `torch_scatter`'s `scatter_mean`/`scatter_std` (which the
//! reference IBCI code uses): an empty class has mean 0 and std 0, and the variance divisor is
//! `max(count - ddof, 1)`.

use rayon::prelude::*;

use crate::mat::{Mat, MatMut, MatRef};
use crate::par::Par;

/// Rows per block of a column reduction.
pub const ROW_BLOCK: usize = 4096;

/// Sums `f(block rows)` -> per-column f64 partials over fixed row blocks, in block order.
fn reduce_rows(
    n: usize,
    d: usize,
    par: Par,
    f: impl Fn(std::ops::Range<usize>, &mut [f64]) + Sync,
) -> Vec<f64> {
    let blocks = n.div_ceil(ROW_BLOCK);
    let one = |b: usize| {
        let mut acc = vec![0f64; d];
        f(b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(n), &mut acc);
        acc
    };
    let partials: Vec<Vec<f64>> = match par {
        Par::Seq => (0..blocks).map(one).collect(),
        Par::Rayon => (0..blocks).into_par_iter().map(one).collect(),
    };
    let mut total = vec![0f64; d];
    for p in &partials {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// Adds `g(x_ij)` to `acc[j]` for rows `rows`, row by row.
fn accumulate(
    x: MatRef<'_>,
    rows: std::ops::Range<usize>,
    acc: &mut [f64],
    g: impl Fn(usize, f64) -> f64,
) {
    for i in rows {
        match x.row(i) {
            Some(r) => acc
                .iter_mut()
                .zip(r)
                .enumerate()
                .for_each(|(j, (a, &v))| *a += g(j, f64::from(v))),
            None => acc
                .iter_mut()
                .enumerate()
                .for_each(|(j, a)| *a += g(j, f64::from(x.at(i, j)))),
        }
    }
}

/// `sum_i x_ij` for every column.
pub fn column_sums(x: MatRef<'_>, par: Par) -> Vec<f32> {
    reduce_rows(x.rows(), x.cols(), par, |r, acc| {
        accumulate(x, r, acc, |_, v| v)
    })
    .into_iter()
    .map(|s| s as f32)
    .collect()
}

/// [`column_sums`] into `out` without allocating: the same blocks, added in the same order
/// (on this thread), so the same bits. `scratch` holds at least `2 * x.cols()` f64.
///
/// # Panics
/// If `out.len() != x.cols()` or `scratch` is too short.
#[track_caller]
pub fn column_sums_into(x: MatRef<'_>, out: &mut [f32], scratch: &mut [f64]) {
    let (n, d) = (x.rows(), x.cols());
    assert_eq!(
        out.len(),
        d,
        "column_sums_into: out has {} elements for {d} columns",
        out.len()
    );
    assert!(
        scratch.len() >= 2 * d,
        "column_sums_into: scratch needs {} f64",
        2 * d
    );
    let (total, acc) = scratch[..2 * d].split_at_mut(d);
    total.fill(0.0);
    for b in 0..n.div_ceil(ROW_BLOCK) {
        acc.fill(0.0);
        accumulate(
            x,
            b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(n),
            acc,
            |_, v| v,
        );
        total.iter_mut().zip(&*acc).for_each(|(t, v)| *t += v);
    }
    out.iter_mut()
        .zip(&*total)
        .for_each(|(o, &t)| *o = t as f32);
}

/// Mean and variance of every column (two passes; variance divisor `max(n - ddof, 1)`; an
/// empty matrix gives zeros).
pub fn column_mean_var(x: MatRef<'_>, ddof: usize, par: Par) -> (Vec<f32>, Vec<f32>) {
    let n = x.rows();
    let sums = reduce_rows(n, x.cols(), par, |r, acc| accumulate(x, r, acc, |_, v| v));
    let mean: Vec<f64> = sums
        .iter()
        .map(|s| if n > 0 { s / n as f64 } else { 0.0 })
        .collect();
    let ss = reduce_rows(n, x.cols(), par, |r, acc| {
        accumulate(x, r, acc, |j, v| (v - mean[j]) * (v - mean[j]))
    });
    let div = n.saturating_sub(ddof).max(1) as f64;
    (
        mean.iter().map(|&m| m as f32).collect(),
        ss.iter().map(|&s| (s / div) as f32).collect(),
    )
}

/// Euclidean norm of every column.
pub fn column_norms(x: MatRef<'_>, par: Par) -> Vec<f32> {
    reduce_rows(x.rows(), x.cols(), par, |r, acc| {
        accumulate(x, r, acc, |_, v| v * v)
    })
    .into_iter()
    .map(|s| s.sqrt() as f32)
    .collect()
}

/// Per-class column statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassStats {
    /// Rows of each class.
    pub counts: Vec<usize>,
    /// `classes x d`: mean of column j over the rows of class k (0 for an empty class).
    pub mean: Mat,
    /// `classes x d`: standard deviation of column j over the rows of class k, divisor
    /// `max(count - ddof, 1)` (0 for an empty class).
    pub std: Mat,
}

/// Mean and standard deviation of every column over the rows of each class.
///
/// # Panics
/// If `labels.len() != x.rows()` or a label is `>= classes`.
#[track_caller]
pub fn class_column_stats(
    x: MatRef<'_>,
    labels: &[usize],
    classes: usize,
    ddof: usize,
    par: Par,
) -> ClassStats {
    let (n, d) = (x.rows(), x.cols());
    assert_eq!(
        labels.len(),
        n,
        "class_column_stats: {} labels for {n} rows",
        labels.len()
    );
    if let Some(&bad) = labels.iter().find(|&&l| l >= classes) {
        panic!("class_column_stats: label {bad} out of range for {classes} classes");
    }
    let mut counts = vec![0usize; classes];
    labels.iter().for_each(|&l| counts[l] += 1);
    // acc is classes x d, row k for class k; `g(k, j, v)` is added for each element.
    fn by_class(
        x: MatRef<'_>,
        labels: &[usize],
        d: usize,
        rows: std::ops::Range<usize>,
        acc: &mut [f64],
        g: impl Fn(usize, usize, f64) -> f64,
    ) {
        for i in rows {
            let k = labels[i];
            let row = &mut acc[k * d..(k + 1) * d];
            match x.row(i) {
                Some(xr) => row
                    .iter_mut()
                    .zip(xr)
                    .enumerate()
                    .for_each(|(j, (a, &v))| *a += g(k, j, f64::from(v))),
                None => row
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, a)| *a += g(k, j, f64::from(x.at(i, j)))),
            }
        }
    }
    let sums = reduce_rows(n, classes * d, par, |r, acc| {
        by_class(x, labels, d, r, acc, |_, _, v| v)
    });
    let mean: Vec<f64> = sums
        .iter()
        .enumerate()
        .map(|(kj, &s)| match counts[kj / d.max(1)] {
            0 => 0.0,
            c => s / c as f64,
        })
        .collect();
    let ss = reduce_rows(n, classes * d, par, |r, acc| {
        by_class(x, labels, d, r, acc, |k, j, v| {
            let dv = v - mean[k * d + j];
            dv * dv
        })
    });
    let std: Vec<f32> = ss
        .iter()
        .enumerate()
        .map(|(kj, &s)| {
            let c = counts[kj / d.max(1)];
            (s / c.saturating_sub(ddof).max(1) as f64).sqrt() as f32
        })
        .collect();
    ClassStats {
        counts,
        mean: Mat::from_vec(classes, d, mean.iter().map(|&m| m as f32).collect()),
        std: Mat::from_vec(classes, d, std),
    }
}

/// The rank-1 deflation of the campaign's orthogonal election: `D <- D - a (a^T W)`.
///
/// `d` and `w` are `dim x c` (one column per candidate), `a` has `dim` entries (a unit vector
/// in the campaign). `t_j = sum_i a_i w_ij` accumulates in f64 in row order; then
/// `d_ij <- d_ij - a_i * t_j` in f32 (the product and the difference each rounded).
///
/// # Panics
/// If the shapes differ or `a.len() != dim`.
#[track_caller]
pub fn deflate(mut d: MatMut<'_>, a: &[f32], w: MatRef<'_>, par: Par) {
    assert!(
        d.rows() == w.rows() && d.cols() == w.cols() && a.len() == w.rows(),
        "deflate: D is {} x {}, W is {} x {}, a has {} entries",
        d.rows(),
        d.cols(),
        w.rows(),
        w.cols(),
        a.len()
    );
    let (dim, c) = (w.rows(), w.cols());
    // t_j = sum_i a_i w_ij, rows in order (the blocks are added in order too).
    let t: Vec<f32> = reduce_rows(dim, c, par, |r, acc| {
        for i in r {
            let ai = f64::from(a[i]);
            for (j, s) in acc.iter_mut().enumerate() {
                *s += ai * f64::from(w.at(i, j));
            }
        }
    })
    .into_iter()
    .map(|v| v as f32)
    .collect();
    for (i, &ai) in a.iter().enumerate() {
        match d.row_mut(i) {
            Some(row) => row.iter_mut().zip(&t).for_each(|(x, &tj)| *x -= ai * tj),
            None => {
                for (j, &tj) in t.iter().enumerate() {
                    let v = d.as_ref().at(i, j) - ai * tj;
                    d.set(i, j, v);
                }
            }
        }
    }
}

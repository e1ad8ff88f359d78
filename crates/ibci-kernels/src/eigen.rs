//! Eigenvalues of a real symmetric matrix, in f64 (for the matrix-based Rényi entropy, whose
//! Gram matrices are symmetric positive semi-definite with unit trace).
//!
//! Math. `A` (n x n, symmetric) is reduced to a tridiagonal `T = Q^T A Q` by n - 2
//! Householder reflections `H = I - 2 v v^T` (|v| = 1): at step k, with `x` the column below
//! the diagonal, `alpha = -sign(x_0) |x|` and `v ∝ x - alpha e_0`; the trailing block `B`
//! becomes `H B H = B - v w^T - w v^T` with `p = B v`, `w = 2 (p - (v^T p) v)`. `T` has the
//! eigenvalues of `A`. Each eigenvalue of `T` is then found by bisection on Sturm counts: the
//! number of eigenvalues below `x` is the number of negative pivots of the LDL^T of `T - x I`
//! (`q_0 = d_0 - x`, `q_i = d_i - x - e_{i-1}^2 / q_{i-1}`), bisected until the interval is
//! about `eps |A|` wide. Bisection is slower than QL iteration but has no convergence
//! cases to get wrong, and its error is bounded: about `n eps |A|` absolutely per eigenvalue.
//!
//! Layout: `a` is row-major, `n * n`; only the lower triangle is read (the upper is assumed
//! to mirror it). Cost: about `2 n^3` flops for the reduction on the full symmetric copy
//! (each step's update and the next step's product in one pass over the rows, split over
//! rayon's pool for `Par::Rayon`, each row the same arithmetic on any thread count, so the
//! bits do not depend on it), and about `55 n^2` Sturm steps for the bisection (its
//! eigenvalues split over the pool too). The naive reference, [`jacobi_eigenvalues`], is
//! cyclic Jacobi.

use rayon::prelude::*;

use crate::Par;

/// The eigenvalues of the symmetric `n x n` row-major matrix `a` (lower triangle read), in
/// ascending order.
///
/// # Panics
/// If `a.len() != n * n`.
#[track_caller]
pub fn symmetric_eigenvalues(a: &[f64], n: usize, par: Par) -> Vec<f64> {
    assert_eq!(
        a.len(),
        n * n,
        "symmetric_eigenvalues: {} values for {n} x {n}",
        a.len()
    );
    let (d, e) = tridiagonalise(a, n, par);
    bisect_all(&d, &e, par)
}

/// Step k's Householder vector, from column k below the diagonal (read as row k: the
/// working matrix stays exactly symmetric): unit `v[k+1..n]`, and the subdiagonal entry e_k.
/// `false` when the column is already zero below its first entry's reflection.
fn reflector(m: &[f64], n: usize, k: usize, v: &mut [f64]) -> (f64, bool) {
    let s = k + 1;
    let row = &m[k * n + s..k * n + n];
    let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
    let x0 = row[0];
    let alpha = if x0 >= 0.0 { -norm } else { norm };
    v[s..n].copy_from_slice(row);
    v[s] -= alpha;
    let vn = v[s..n].iter().map(|x| x * x).sum::<f64>().sqrt();
    if vn == 0.0 || norm == 0.0 {
        return (x0, false);
    }
    for x in &mut v[s..n] {
        *x /= vn;
    }
    (alpha, true)
}

/// `Σ a_j b_j` in eight interleaved partial sums (element j into sum j mod 8), combined
/// pairwise: a fixed order, so the same bits on every thread, and eight independent chains
/// instead of one (a single running sum would be bound by the adder's latency).
fn dot8(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[l] += x * y;
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// `row -= v_i w^T + w_i v^T` over the row's columns `s..n` (`row` is that part).
fn update_row(row: &mut [f64], (vi, wi): (f64, f64), v: &[f64], w: &[f64]) {
    for ((b, vj), wj) in row.iter_mut().zip(v).zip(w) {
        *b -= vi * wj + wi * vj;
    }
}

/// The diagonal `d` (n) and off-diagonal `e` (n - 1) of a tridiagonal matrix similar to `a`.
///
/// One pass over the trailing block per step: row `s = k + 1` is updated first, which gives
/// the next step's Householder vector (column s, by symmetry); every later row is then
/// updated and, while in cache, multiplied by that vector, giving the next step's product
/// `B v` (the same arithmetic, row by row, as a separate product would do).
fn tridiagonalise(a: &[f64], n: usize, par: Par) -> (Vec<f64>, Vec<f64>) {
    // Full symmetric working copy from the lower triangle.
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            m[i * n + j] = a[i * n + j];
            m[j * n + i] = a[i * n + j];
        }
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n.saturating_sub(1)];
    let (mut v, mut p) = (vec![0.0; n], vec![0.0; n]);
    let (mut v2, mut p2) = (vec![0.0; n], vec![0.0; n]);
    // Whether v and p already hold step k's vector and product (from the step before).
    let mut ready = false;
    for k in 0..n.saturating_sub(1) {
        d[k] = m[k * n + k];
        let s = k + 1;
        if !ready {
            let (ek, ok) = reflector(&m, n, k, &mut v);
            e[k] = ek;
            if !ok {
                continue;
            }
            let dot = |i: usize, m: &[f64]| -> f64 { dot8(&m[i * n + s..i * n + n], &v[s..n]) };
            match par {
                Par::Seq => {
                    for (r, pi) in p[s..n].iter_mut().enumerate() {
                        *pi = dot(s + r, &m);
                    }
                }
                Par::Rayon => {
                    let mm = &m;
                    p[s..n]
                        .par_iter_mut()
                        .enumerate()
                        .for_each(|(r, pi)| *pi = dot(s + r, mm));
                }
            }
        }
        let k_ = (s..n).map(|i| v[i] * p[i]).sum::<f64>();
        // w = 2 (p - (v^T p) v), kept in p.
        for i in s..n {
            p[i] = 2.0 * (p[i] - k_ * v[i]);
        }
        let (vs, ws) = (&v[s..n], &p[s..n]);
        update_row(&mut m[s * n + s..s * n + n], (v[s], p[s]), vs, ws);
        ready = false;
        if s + 1 >= n {
            continue;
        }
        let (es, ok) = reflector(&m, n, s, &mut v2);
        e[s] = es;
        let t = s + 1;
        // The remaining rows: updated, then (for a next step) multiplied by v2.
        let row_step = |i: usize, row: &mut [f64]| -> f64 {
            update_row(&mut row[s..n], (v[i], p[i]), vs, ws);
            if ok {
                dot8(&row[t..n], &v2[t..n])
            } else {
                0.0
            }
        };
        match par {
            Par::Seq => {
                for (r, row) in m[t * n..].chunks_mut(n).enumerate() {
                    p2[t + r] = row_step(t + r, row);
                }
            }
            Par::Rayon => {
                m[t * n..]
                    .par_chunks_mut(n)
                    .zip(p2[t..n].par_iter_mut())
                    .enumerate()
                    .for_each(|(r, (row, pi))| *pi = row_step(t + r, row));
            }
        }
        if ok {
            std::mem::swap(&mut v, &mut v2);
            std::mem::swap(&mut p, &mut p2);
            ready = true;
        }
    }
    if n > 0 {
        d[n - 1] = m[(n - 1) * n + n - 1];
    }
    (d, e)
}

/// How many eigenvalues of the tridiagonal (d, e) are below `x`.
fn sturm_count(d: &[f64], e: &[f64], x: f64) -> usize {
    let tiny = f64::MIN_POSITIVE / f64::EPSILON;
    let mut count = 0;
    let mut q = 1.0;
    for i in 0..d.len() {
        let off = if i == 0 { 0.0 } else { e[i - 1] * e[i - 1] / q };
        q = d[i] - x - off;
        if q.abs() < tiny {
            // A zero pivot: perturb it (Kahan's rule), counting it as negative.
            q = -tiny;
        }
        if q < 0.0 {
            count += 1;
        }
    }
    count
}

/// Every eigenvalue of the tridiagonal (d, e), ascending, by bisection (each on its own, so
/// over rayon's pool they are the same bits).
fn bisect_all(d: &[f64], e: &[f64], par: Par) -> Vec<f64> {
    let n = d.len();
    // Gershgorin bounds.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..n {
        let r = if i > 0 { e[i - 1].abs() } else { 0.0 } + if i + 1 < n { e[i].abs() } else { 0.0 };
        lo = lo.min(d[i] - r);
        hi = hi.max(d[i] + r);
    }
    if lo == hi {
        // A multiple of the identity (the zero matrix included): exact.
        return vec![lo; n];
    }
    let scale = lo.abs().max(hi.abs());
    (lo, hi) = (
        lo - 2.0 * f64::EPSILON * scale,
        hi + 2.0 * f64::EPSILON * scale,
    );
    let one = |k: usize| -> f64 {
        // The (k+1)-th smallest: count(x) <= k below a, count(x) >= k + 1 below b.
        let (mut a, mut b) = (lo, hi);
        // To the accuracy the reduction leaves (about eps |A|), not to the last bit of an
        // eigenvalue near zero, which would take a thousand halvings.
        while b - a > f64::EPSILON * (a.abs().max(b.abs()) + scale) {
            let mid = 0.5 * (a + b);
            if mid <= a || mid >= b {
                break;
            }
            if sturm_count(d, e, mid) > k {
                b = mid;
            } else {
                a = mid;
            }
        }
        0.5 * (a + b)
    };
    match par {
        Par::Seq => (0..n).map(one).collect(),
        Par::Rayon => (0..n).into_par_iter().map(one).collect(),
    }
}

/// The naive reference: cyclic Jacobi rotations on a full copy until the off-diagonal mass
/// is negligible; eigenvalues ascending. O(n^3) per sweep, for tests on small matrices.
///
/// # Panics
/// If `a.len() != n * n`.
#[track_caller]
pub fn jacobi_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(
        a.len(),
        n * n,
        "jacobi_eigenvalues: {} values for {n} x {n}",
        a.len()
    );
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            m[i * n + j] = a[i * n + j];
            m[j * n + i] = a[i * n + j];
        }
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        let total: f64 = m.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                // The rotation that zeroes (p, q): tan t solves t^2 + 2 theta t - 1 = 0.
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
            }
        }
    }
    let mut ev: Vec<f64> = (0..n).map(|i| m[i * n + i]).collect();
    ev.sort_by(f64::total_cmp);
    ev
}

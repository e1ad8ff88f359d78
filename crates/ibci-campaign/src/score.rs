//! Candidate responses, their per-class moments, and the two criteria.
//!
//! For one layer, with `X` the `n x d` initialisation set as the elected layers see it, `W`
//! the `d x C` candidates (one column each), `b` the layer's constant bias and `f` its
//! activation, candidate j's response over the samples is column j of
//!
//! ```text
//! R = f(X W + b)                       n x C
//! ```
//!
//! `R` is never held whole: it is computed in blocks of [`RESPONSE_BLOCK`] rows, and each
//! block is folded into per-class sums and sums of squares in f64 (`K x C` each):
//!
//! ```text
//! s_kj = sum_{i: y_i = k} r_ij          q_kj = sum_{i: y_i = k} r_ij^2        n_k = |{i: y_i = k}|
//! ```
//!
//! Blocks run in parallel; their partial moments are added in block order, so the result is
//! the same for any thread count (the GEMM's bits do not depend on it either). Memory is one
//! block of `R` per thread instead of the `n x C` matrix (240 MB for 60,000 x 1,000), unless
//! the caller keeps the blocks to take the elected neurons' outputs from them (the campaign
//! does when they fit its memory budget: that saves the propagation's GEMM).
//!
//! Everything the criteria need follows from the moments (m = class mean, mu = overall mean):
//!
//! | quantity | formula |
//! |---|---|
//! | `m_kj` | `s_kj / n_k` (0 for an empty class, as `torch_scatter`) |
//! | class std (unbiased) | `sqrt((q_kj - n_k m_kj^2) / max(n_k - 1, 1))` |
//! | std (unbiased) | `sqrt((sum_k q_kj - n mu_j^2) / (n - 1))` |
//! | total variance | `V_j = (sum_k q_kj) / n - mu_j^2` |
//! | between-class variance | `B_j = sum_k (n_k / n) (m_kj - mu_j)^2` |
//! | within-class variance | `W_j = sum_k (n_k / n) (q_kj / n_k - m_kj^2)`, so `V_j = B_j + W_j` |
//!
//! The criteria, per variant (alpha weights IIM, as in the paper):
//!
//! - `reference` (the official code): `iim = std / ||std||`;
//!   `outer` = unbiased std over the K classes of `m_kj`, `inner` = mean over classes of the
//!   class std, `tie = outer/||outer|| - inner/||inner||`, then `tie /= ||tie||`; every norm is
//!   the L2 norm over the layer's candidates (a zero vector stays zero).
//! - `paper` (Eq. 2-3, the traces of a single neuron's covariances): `iim = V_j`,
//!   `tie = B_j - W_j`.
//!
//! `score = alpha * iim + (1 - alpha) * tie`.

use ibci_kernels::elementwise::{activate, bias_add};
use ibci_kernels::sparse::{density, gemm_sparse_lhs, PackedRhs};
use ibci_kernels::{gemm, Activation, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Rows of `R` computed and folded at a time.
pub const RESPONSE_BLOCK: usize = 2048;

thread_local! {
    /// One response block per thread, reused across blocks and layers.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Inputs at most this dense (fraction of nonzeros) take the sparse product.
pub const SPARSE_BELOW: f64 = 0.4;

/// The density of `x` estimated on its first [`RESPONSE_BLOCK`] rows (a choice of speed
/// only: both products give the same bits).
fn sparse_fraction(x: MatRef<'_>) -> f64 {
    density(x.rows_range(0, x.rows().min(RESPONSE_BLOCK)))
}

/// One layer's candidates as the responses need them: `act(x w + bias)`.
#[derive(Clone, Copy, Debug)]
pub struct Candidates<'a> {
    /// `d x C`, one column per candidate.
    pub w: MatRef<'a>,
    /// The layer's constant bias.
    pub bias: f32,
    /// The layer's activation.
    pub act: Activation,
}

/// Per-class sums and sums of squares of the candidates' responses.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// Samples per class.
    pub counts: Vec<usize>,
    /// Candidates.
    pub cands: usize,
    /// `K x C`, row k: sums over class k.
    pub sum: Vec<f64>,
    /// `K x C`, row k: sums of squares over class k.
    pub sumsq: Vec<f64>,
    /// CPU seconds spent in the GEMM and bias/activation, summed over blocks.
    pub gemm_cpu_seconds: f64,
    /// CPU seconds spent folding blocks into moments, summed over blocks.
    pub fold_cpu_seconds: f64,
}

/// The moments of `R = act(x w + bias)` per class of `labels` (see the module text), and
/// with `keep` the responses themselves (then memory is the whole `n x C` matrix).
///
/// Shapes and labels are the caller's to check (the campaign does it once).
pub fn response_moments(
    x: MatRef<'_>,
    labels: &[usize],
    classes: usize,
    cands: &Candidates<'_>,
    keep: bool,
    par: Par,
) -> (Moments, Option<Responses>) {
    let (w, bias, act) = (cands.w, cands.bias, cands.act);
    let (n, c) = (x.rows(), w.cols());
    // MNIST pixels are mostly zeros: skip them (the same bits as the GEMM, see
    // ibci_kernels::sparse) when the input is sparse enough to gain.
    let packed = (sparse_fraction(x) < SPARSE_BELOW).then(|| PackedRhs::new(w));
    let blocks = n.div_ceil(RESPONSE_BLOCK);
    let bias_row = vec![bias; c];
    let one = |blk: usize| {
        let r0 = blk * RESPONSE_BLOCK;
        let rows = RESPONSE_BLOCK.min(n - r0);
        let t0 = std::time::Instant::now();
        // The block's responses, in this thread's reused buffer: a fresh 4 MB allocation per
        // block would page-fault on every first touch, and two threads faulting at once
        // serialise on the kernel's memory-map lock.
        let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        buf.clear();
        buf.resize(rows * c, 0.0);
        let mut r = MatMut::from_slice(&mut buf, rows, c);
        match &packed {
            Some(p) => gemm_sparse_lhs(r.rb_mut(), x.rows_range(r0, rows), p, Par::Seq),
            None => gemm(r.rb_mut(), x.rows_range(r0, rows), w, 1.0, 0.0, Par::Seq),
        }
        bias_add(r.rb_mut(), &bias_row, Par::Seq);
        activate(act, &mut buf, Par::Seq);
        let t1 = std::time::Instant::now();
        let mut sum = vec![0f64; classes * c];
        let mut sumsq = vec![0f64; classes * c];
        for (i, row) in buf.chunks_exact(c.max(1)).enumerate() {
            let k = labels[r0 + i];
            let s = &mut sum[k * c..(k + 1) * c];
            let q = &mut sumsq[k * c..(k + 1) * c];
            for ((s, q), &v) in s.iter_mut().zip(q.iter_mut()).zip(row) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        let t2 = std::time::Instant::now();
        let kept = if keep {
            Some(buf)
        } else {
            SCRATCH.with(|s| *s.borrow_mut() = buf);
            None
        };
        (
            sum,
            sumsq,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            kept,
        )
    };
    let parts: Vec<_> = match par {
        Par::Seq => (0..blocks).map(one).collect(),
        Par::Rayon => (0..blocks).into_par_iter().map(one).collect(),
    };
    let mut m = Moments {
        counts: vec![0; classes],
        cands: c,
        sum: vec![0.0; classes * c],
        sumsq: vec![0.0; classes * c],
        gemm_cpu_seconds: 0.0,
        fold_cpu_seconds: 0.0,
    };
    labels.iter().for_each(|&k| m.counts[k] += 1);
    let mut blocks = Vec::new();
    for (s, q, tg, tf, kept) in parts {
        blocks.extend(kept);
        m.sum.iter_mut().zip(&s).for_each(|(a, b)| *a += b);
        m.sumsq.iter_mut().zip(&q).for_each(|(a, b)| *a += b);
        m.gemm_cpu_seconds += tg;
        m.fold_cpu_seconds += tf;
    }
    (m, keep.then_some(Responses { cands: c, blocks }))
}

/// The responses `R`, kept as the row blocks they were computed in.
#[derive(Clone, Debug, PartialEq)]
pub struct Responses {
    cands: usize,
    /// Block b holds rows `b * RESPONSE_BLOCK ..`, `rows x cands` row-major.
    blocks: Vec<Vec<f32>>,
}

impl Responses {
    /// The `n x cols.len()` matrix of the given columns: bit for bit what
    /// `act(X W[:, cols] + b)` computes, since each GEMM output is one fixed FMA chain
    /// whatever the other columns are.
    pub fn columns(&self, cols: &[usize]) -> Mat {
        let c = self.cands;
        let n: usize = self.blocks.iter().map(|b| b.len() / c.max(1)).sum();
        let mut out = Vec::with_capacity(n * cols.len());
        for block in &self.blocks {
            for row in block.chunks_exact(c.max(1)) {
                out.extend(cols.iter().map(|&j| row[j]));
            }
        }
        Mat::from_vec(n, cols.len(), out)
    }

    /// The `C x n` transpose of all the responses: each candidate's responses contiguous.
    pub fn candidate_major(&self) -> Mat {
        let c = self.cands;
        let n: usize = self.blocks.iter().map(|b| b.len() / c.max(1)).sum();
        let mut out = vec![0f32; n * c];
        let mut r0 = 0;
        for block in &self.blocks {
            let rows = block.len() / c.max(1);
            // Within a block, consecutive candidates read the same cache lines of its rows.
            for (j, dst) in out.chunks_exact_mut(n.max(1)).enumerate() {
                for (i, d) in dst[r0..r0 + rows].iter_mut().enumerate() {
                    *d = block[i * c + j];
                }
            }
            r0 += rows;
        }
        Mat::from_vec(c, n, out)
    }
}

/// Per-candidate statistics derived from [`Moments`] (all f64, one entry per candidate).
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateStats {
    /// Unbiased standard deviation of the response.
    pub std: Vec<f64>,
    /// Total (population) variance `V`.
    pub var: Vec<f64>,
    /// Between-class variance `B`.
    pub between: Vec<f64>,
    /// Within-class variance `W` (`V = B + W`).
    pub within: Vec<f64>,
    /// Unbiased std over classes of the class means (the code's `outer`).
    pub outer: Vec<f64>,
    /// Mean over classes of the unbiased class std (the code's `inner`).
    pub inner: Vec<f64>,
    /// The class with the highest mean response (first on ties): the code's `class_belong`.
    pub preferred: Vec<usize>,
    /// `K x C`: class means.
    pub class_mean: Vec<f64>,
}

impl Moments {
    /// The statistics of the module table.
    pub fn stats(&self) -> CandidateStats {
        let (k_n, c) = (self.counts.len(), self.cands);
        let n: usize = self.counts.iter().sum();
        let nf = n as f64;
        let mut st = CandidateStats {
            std: vec![0.0; c],
            var: vec![0.0; c],
            between: vec![0.0; c],
            within: vec![0.0; c],
            outer: vec![0.0; c],
            inner: vec![0.0; c],
            preferred: vec![0; c],
            class_mean: vec![0.0; k_n * c],
        };
        for j in 0..c {
            let (mut s, mut q) = (0f64, 0f64);
            for k in 0..k_n {
                s += self.sum[k * c + j];
                q += self.sumsq[k * c + j];
            }
            let mu = s / nf;
            st.var[j] = (q / nf - mu * mu).max(0.0);
            st.std[j] = ((q - nf * mu * mu) / (nf - 1.0).max(1.0)).max(0.0).sqrt();
            let (mut best, mut best_k) = (f64::NEG_INFINITY, 0);
            let (mut mean_of_means, mut inner) = (0f64, 0f64);
            for k in 0..k_n {
                let nk = self.counts[k];
                let (sk, qk) = (self.sum[k * c + j], self.sumsq[k * c + j]);
                let m = if nk == 0 { 0.0 } else { sk / nk as f64 };
                st.class_mean[k * c + j] = m;
                if m > best {
                    (best, best_k) = (m, k);
                }
                mean_of_means += m;
                let nkf = nk as f64;
                inner += ((qk - nkf * m * m) / (nkf - 1.0).max(1.0)).max(0.0).sqrt();
                if nk > 0 {
                    let w = nkf / nf;
                    st.between[j] += w * (m - mu) * (m - mu);
                    st.within[j] += w * (qk / nkf - m * m).max(0.0);
                }
            }
            st.preferred[j] = best_k;
            st.inner[j] = inner / k_n as f64;
            mean_of_means /= k_n as f64;
            let ss: f64 = (0..k_n)
                .map(|k| (st.class_mean[k * c + j] - mean_of_means).powi(2))
                .sum();
            st.outer[j] = (ss / (k_n as f64 - 1.0).max(1.0)).sqrt();
        }
        st
    }
}

/// Which form of the criteria scores the candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreForm {
    /// The official code's L2-normalised standard deviations.
    Reference,
    /// The paper's variances (Eq. 2-3).
    Paper,
}

/// Each candidate's IIM, TIE and combined score.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Input-information criterion.
    pub iim: Vec<f64>,
    /// Target-information criterion.
    pub tie: Vec<f64>,
    /// `alpha * iim + (1 - alpha) * tie`.
    pub score: Vec<f64>,
}

/// `v / ||v||_2`, or `v` unchanged if its norm is 0.
fn l2_normalised(v: &[f64]) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// The criteria of the module text, mixed with `alpha` (the IIM weight).
pub fn scores(st: &CandidateStats, form: ScoreForm, alpha: f64) -> Scores {
    let (iim, tie) = match form {
        ScoreForm::Reference => {
            let iim = l2_normalised(&st.std);
            let (o, i) = (l2_normalised(&st.outer), l2_normalised(&st.inner));
            let diff: Vec<f64> = o.iter().zip(&i).map(|(o, i)| o - i).collect();
            (iim, l2_normalised(&diff))
        }
        ScoreForm::Paper => (
            st.var.clone(),
            st.between
                .iter()
                .zip(&st.within)
                .map(|(b, w)| b - w)
                .collect(),
        ),
    };
    Scores::mix(iim, tie, alpha)
}

impl Scores {
    /// `score = alpha * iim + (1 - alpha) * tie` for each candidate.
    pub fn mix(iim: Vec<f64>, tie: Vec<f64>, alpha: f64) -> Scores {
        let score = iim
            .iter()
            .zip(&tie)
            .map(|(i, t)| alpha * i + (1.0 - alpha) * t)
            .collect();
        Scores { iim, tie, score }
    }
}

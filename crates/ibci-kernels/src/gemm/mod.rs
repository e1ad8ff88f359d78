//! GEMM: `C <- alpha * A * B + beta * C`, f32, any strides.
//!
//! Shapes: A is `m x k`, B is `k x n`, C is `m x n`. `op(A) = A^T` is the view `a.t()`, so
//! the three products of MLP training are `gemm(y, x, w, ..)` (X W), `gemm(dw, x.t(), dy, ..)`
//! (X^T dY) and `gemm(dx, dy, w.t(), ..)` (dY W^T).
//!
//! # What is computed, exactly (the reproducibility contract)
//!
//! For every element, on every path and for every thread count:
//!
//! ```text
//! s = 0;  for p in 0..k (in order):  s = fma(a[i,p], b[p,j], s)     -- one rounding per step
//! c[i,j] = alpha * s                      if beta == 0 (C is not read: NaN in C is ignored)
//! c[i,j] = alpha * s + beta * c[i,j]      otherwise (three roundings: two products, one sum)
//! ```
//!
//! [`gemm_bias_act`] then adds a bias and applies an activation to each finished block while
//! it is in cache (the same operations as the separate kernels, so the same bits).
//!
//! The micro-kernels keep one element's `s` in one SIMD lane, so the vector width decides how
//! many `j` run side by side, never the order over `p`; blocking over `k` carries `s` through
//! a tile buffer unchanged (an f32 store and load are exact); threads split the output into
//! disjoint tiles. Hence bit-identical results across [`KernelPath`]s and thread counts.
//! `matrixmultiply` ([`Backend::MatrixMultiply`]) is a yardstick and does not follow this
//! contract.
//!
//! # Layout of the hand-written backend (BLIS-style)
//!
//! ```text
//! pack B once:   ceil(n/NR) panels, each k x NR (row p holds b[p, jNR..jNR+NR], zero-padded)
//! tasks:         (ic, jc) blocks of MC x NC outputs, run by rayon or in order
//!   for pc in 0..k step KC:                      -- k blocking; s lives in the tile buffer
//!     pack A:    MC x KC into MR-row panels (column p holds a[iMR..iMR+MR, pc+p]);
//!                on AVX-512 a transposed A's full panels are read in place instead, on
//!                AVX2 a row-major A's when k <= 32
//!     for jr:    B micro-panel (KC x NR, stays in L1)
//!       for ir:  micro-kernel: MR x NR accumulators in registers, KC fused multiply-adds
//!   epilogue:    alpha/beta into C, valid rows/cols only (edges are computed padded); the
//!                kernel writes a tile of full width itself, the rows it has
//! ```
//!
//! | path | MR x NR | registers | last narrow panels |
//! |---|---|---|---|
//! | portable | 4 x 8 | scalar `f32::mul_add` | - |
//! | AVX2+FMA | 6 x 16 | 12 ymm accumulators + 2 B + 1 broadcast | 6 x 4 (xmm), 6 x 8; as pairs 12 x 4, 12 x 8 |
//! | AVX-512 | 12 x 32 | 24 zmm accumulators + 2 B + 1 broadcast | 12 x 4 (xmm), 12 x 8 (ymm), 12 x 16 |
//!
//! A last panel of B no wider than a narrow kernel's NR is packed and computed at the
//! narrowest such width (n = 100 on AVX-512: 32 + 32 + 32 + 4 columns, not 4 x 32; n = 10:
//! 16, not 32). Six rows give a narrow kernel only six accumulators, too few to hide the
//! FMA's latency, so the AVX2 path runs its narrow panels over two panels of A at once
//! (`kernels::Spec::pairs`). A last panel of four columns against a transposed A (the
//! `X^T dY` of n = 100) is run down the rows instead, each lane one row of C
//! (`gemm/cols.rs`). One thread against matrixmultiply, six interleaved runs of each build of
//! `cargo bench -p ibci-kernels --bench main -- summary training` (AMD EPYC, 2026-12-03),
//! medians before -> after: AVX2 784 x 100 x 100 (A transposed) 0.94 -> 1.04, 100 x 10 x 100
//! 1.04 -> 1.18; AVX-512 1.02 -> 1.11 and 1.00 -> 1.15.
//! On two or more threads a small B (k n < 2^18) is instead packed by every thread, inside
//! its one task (a block of rows of C), so that packing overlaps the other threads' wake-up.
//!
//! A transposed A (unit row stride, the `X^T dY` of every weight gradient) holds each packed
//! column's MR values contiguously already: the AVX-512 kernels read its full 12-row panels
//! where they lie, `a_cs` (A's column stride) floats apart instead of MR. Measured with
//! `cargo bench -p ibci-kernels --bench main -- summary training`, 784 x 100 x 100, one
//! thread, against matrixmultiply (AMD EPYC with AVX-512, 2026-12-03, three interleaved runs
//! of each build): 1.02-1.06 in place against 0.96-0.97 packed. The AVX2 path's 6-row panels
//! (24 bytes a step) measured no faster in place (0.92-0.98 against 0.90-1.02 on one thread,
//! 0.81-0.90 against 0.88-0.92 on two), so they are packed.

pub(crate) mod aligned;
mod cols;
mod epilogue;
mod kernels;
mod pack;
mod task;

use aligned::{reserve, with_scratch, Scratch};
use epilogue::Post;
use pack::pack_b_panel;
use task::task;

use rayon::prelude::*;

use crate::dispatch::KernelPath;
use crate::elementwise::Activation;
use crate::mat::{MatMut, MatRef};
pub use crate::par::Par;
use crate::ptr::SendPtr;

/// Which implementation computes the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// ibci's packed, register-blocked kernels on the given path.
    Ibci(KernelPath),
    /// `matrixmultiply::sgemm`, the yardstick (and a fallback).
    MatrixMultiply,
}

/// Blocking: MC rows x NC columns of C per task, KC steps of k per packed block.
const KC: usize = 256;
const MC: usize = 72;
// Blocks of MC rows keep every path's panels whole (every MR divides MAX_MR).
const _: () = assert!(
    MC.is_multiple_of(MAX_MR),
    "MC must be a multiple of every MR"
);
const NC: usize = 4096;
/// Largest MR of any micro-kernel.
const MAX_MR: usize = 12;
/// Below this many FLOPs a product runs on the calling thread alone.
const SEQ_FLOPS: f64 = 2e6;
/// Below this many elements B is packed on the calling thread.
const PAR_PACK_ELEMS: usize = 1 << 18;

/// Grows the per-thread packing buffers so that no product with `k <= max_k` and
/// `n <= max_n` allocates afterwards: B's and A's on this thread and on every thread that
/// [`Par`] may run tasks on (this one, or each member of the installed [`Team`](crate::Team)
/// or else of the current rayon pool, reached with a broadcast). The buffers belong to the
/// threads and are reused by every product.
pub fn reserve_scratch(par: Par, max_k: usize, max_n: usize) {
    // Packed B: n rounded up to the widest panel (32), times k. A task's A block: at most MC
    // rows (MC is a multiple of every MR) by one k block, plus, when k is split, running
    // tiles for its rows by n rounded up to the widest panel.
    let n_panels = round_up(max_n, 32);
    let b_len = n_panels * max_k;
    let a_len = MC * max_k.min(KC) + 16 + if max_k > KC { MC * n_panels } else { 0 };
    reserve(Scratch::B, b_len);
    match par {
        Par::Seq => reserve(Scratch::A, a_len),
        Par::Rayon => {
            // Every thread may pack its own copy of a small B (see `packed_gemm`).
            let both = |_| {
                reserve(Scratch::A, a_len);
                reserve(Scratch::B, b_len);
            };
            crate::team::current(|team| match team {
                Some(team) => team.broadcast(&both),
                None => {
                    rayon::broadcast(|_| both(0));
                }
            });
        }
    }
}

/// `C <- alpha * A * B + beta * C` on the process-wide default path
/// ([`KernelPath::default_path`]).
///
/// # Panics
/// If `a.rows() != c.rows()`, `b.cols() != c.cols()` or `a.cols() != b.rows()`; or if
/// `IBCI_KERNEL_PATH` is invalid (see [`KernelPath::default_path`]).
#[track_caller]
pub fn gemm(c: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, alpha: f32, beta: f32, par: Par) {
    gemm_with(
        Backend::Ibci(KernelPath::default_path()),
        c,
        a,
        b,
        alpha,
        beta,
        par,
    );
}

/// `C <- alpha * A * B + beta * C` with an explicit backend.
///
/// # Panics
/// If `a.rows() != c.rows()`, `b.cols() != c.cols()` or `a.cols() != b.rows()`, or if the
/// backend is an ibci path this host does not support.
#[track_caller]
pub fn gemm_with(
    backend: Backend,
    c: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    alpha: f32,
    beta: f32,
    par: Par,
) {
    check_shapes("gemm", &c, a, b);
    match backend {
        Backend::Ibci(path) => {
            assert!(
                path.supported(),
                "gemm: the {path} path is not supported by this CPU"
            );
            packed_gemm(kernels::spec(path), c, a, b, alpha, beta, None, par);
        }
        Backend::MatrixMultiply => mm_gemm(c, a, b, alpha, beta, par),
    }
}

/// `C <- f(A B + bias)` (bias added to every row, then the activation), fused into the GEMM's
/// write-back: each finished block of C gets its bias and activation while it is in cache.
/// The bits are those of [`gemm`] (alpha 1, beta 0), then
/// [`bias_add`](crate::elementwise::bias_add), then
/// [`activate`](crate::elementwise::activate): the same operations on every element.
///
/// # Panics
/// As [`gemm`], or if `bias.len() != c.cols()`.
#[track_caller]
pub fn gemm_bias_act(
    c: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    bias: &[f32],
    act: Activation,
    par: Par,
) {
    gemm_bias_act_with(KernelPath::default_path(), c, a, b, bias, act, par);
}

/// [`gemm_bias_act`] on an explicit path.
///
/// # Panics
/// As [`gemm_with`], or if `bias.len() != c.cols()`.
#[track_caller]
pub fn gemm_bias_act_with(
    path: KernelPath,
    c: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    bias: &[f32],
    act: Activation,
    par: Par,
) {
    check_shapes("gemm_bias_act", &c, a, b);
    assert_eq!(
        bias.len(),
        c.cols(),
        "gemm_bias_act: bias has {} elements, C has {} columns",
        bias.len(),
        c.cols()
    );
    assert!(
        path.supported(),
        "gemm: the {path} path is not supported by this CPU"
    );
    let post = Post { bias, act, path };
    packed_gemm(kernels::spec(path), c, a, b, 1.0, 0.0, Some(&post), par);
}

/// The one shape check of the GEMM's entry points.
#[track_caller]
fn check_shapes(op: &str, c: &MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>) {
    assert!(
        a.rows() == c.rows() && b.cols() == c.cols() && a.cols() == b.rows(),
        "{op}: shapes do not match: C is {} x {}, A is {} x {}, B is {} x {} \
         (need A rows = C rows, B cols = C cols, A cols = B rows)",
        c.rows(),
        c.cols(),
        a.rows(),
        a.cols(),
        b.rows(),
        b.cols()
    );
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

fn round_up(a: usize, b: usize) -> usize {
    div_ceil(a, b) * b
}

/// The hand-written backend: shapes already checked, path supported.
#[allow(clippy::too_many_arguments)]
fn packed_gemm(
    spec: kernels::Spec,
    mut c: MatMut<'_>,
    a: MatRef<'_>,
    b: MatRef<'_>,
    alpha: f32,
    beta: f32,
    post: Option<&Post<'_>>,
    par: Par,
) {
    let (m, n, k) = (c.rows(), c.cols(), a.cols());
    if m == 0 || n == 0 {
        return;
    }
    let (rs_c, cs_c) = (c.row_stride(), c.col_stride());
    let cptr = SendPtr::from_raw(c.as_mut_ptr());
    let (mr, nr) = (spec.mr, spec.nr);

    // Products this small finish before rayon could hand out the work.
    let par = if 2.0 * ((m * n * k) as f64) < SEQ_FLOPS {
        Par::Seq
    } else {
        par
    };
    let panels = div_ceil(n, nr);
    let b_len = panels * k * nr;
    // Pack all of B: panel q holds rows 0..k of columns q*nr .. q*nr+nr, zero-padded; a last
    // panel narrow enough for the edge kernel is packed at its width.
    let pack = |(q, dst): (usize, &mut [f32])| {
        pack_b_panel(b, q * nr, spec.panel_width(q, panels, n), dst, spec.avx)
    };
    let pack_all = |bp: &mut [f32], par: Par| {
        if k > 0 {
            match par {
                Par::Seq => bp.chunks_mut(k * nr).enumerate().for_each(pack),
                Par::Rayon => bp.par_chunks_mut(k * nr).enumerate().for_each(pack),
            }
        }
    };
    // Split k into equal blocks of at most KC (784 = 4 x 196, not 3 x 256 + 16).
    let kblocks = div_ceil(k, KC).max(1);
    let kc_max = div_ceil(k, kblocks).max(1);
    let threads = par.team_threads();
    // A parallel section to pack a small B would cost more than the copy.
    let small_b = k * n < PAR_PACK_ELEMS;
    // A small B on two or more threads: each thread packs its own copy inside its one task,
    // a block of rows using all of B's columns, so that the packing overlaps the other
    // threads' wake-up instead of preceding it. Otherwise B is packed once, before the tasks.
    let own_b = threads > 1 && small_b && n <= NC && m >= threads * mr;

    // Split m first (each task then packs its rows of A once, and splitting m duplicates no
    // packing), into about four tasks per thread for rayon to balance (one per thread when
    // each packs its own B); split n only when m is too small for two tasks per thread.
    let mut mc = round_up(MC.min(m), mr);
    if own_b {
        mc = round_up(div_ceil(m, threads), mr);
    } else if threads > 1 {
        mc = mc.min(round_up(div_ceil(m, 4 * threads), mr)).max(mr);
    }
    let mut nc = round_up(NC.min(n), nr);
    while !own_b && threads > 1 && div_ceil(m, mc) * div_ceil(n, nc) < 2 * threads && nc > nr {
        nc = round_up(div_ceil(nc, 2), nr);
    }
    // Task t covers the block (t / tn, t % tn) of MC x NC outputs (no list is built: a
    // training step runs thousands of products and allocates nothing).
    let tn = div_ceil(n, nc);
    let tasks = div_ceil(m, mc) * tn;

    // One block of at most MC rows (a multiple of every MR) of a task: the A scratch that
    // `reserve_scratch` grows holds it, and a task of more rows (one thread's share of m when
    // each packs its own B) runs its blocks in turn.
    let block = |bp: &[f32], i0: usize, mcur: usize, j0: usize| {
        let ncur = nc.min(n - j0);
        let ipanels = div_ceil(mcur, mr);
        let jpanels = div_ceil(ncur, nr);
        // Rounded to a cache line, so the tiles after it stay 64-byte aligned.
        let a_len = round_up(ipanels * mr * kc_max, 16);
        // Running sums between k blocks: one MR x NR tile per (ir, jr), when k is split.
        let t_len = if kblocks > 1 {
            ipanels * jpanels * mr * nr
        } else {
            0
        };
        with_scratch(Scratch::A, a_len + t_len, |scratch| {
            let (ap, tiles) = scratch.split_at_mut(a_len);
            task(
                &spec,
                a,
                bp,
                cptr,
                (rs_c, cs_c),
                (m, n, k),
                (i0, mcur),
                (j0, ncur),
                kc_max,
                ap,
                tiles,
                (alpha, beta),
                post,
            );
        });
    };
    let run = |bp: &[f32], t: usize| {
        let (i0, j0) = ((t / tn) * mc, (t % tn) * nc);
        let rows = mc.min(m - i0);
        for s in (0..rows).step_by(MC) {
            block(bp, i0 + s, MC.min(rows - s), j0);
        }
    };
    if own_b {
        let each = |t, _| {
            with_scratch(Scratch::B, b_len, |bp| {
                pack_all(bp, Par::Seq);
                run(bp, t);
            })
        };
        return par.map_merge(tasks, (), each, |_, _| ());
    }
    with_scratch(Scratch::B, b_len, |bp| {
        pack_all(bp, if small_b { Par::Seq } else { par });
        let bp = &*bp;
        par.map_merge(tasks, (), |t, _| run(bp, t), |_, _| ());
    });
}

/// The matrixmultiply yardstick; with [`Par::Rayon`] the rows of C are split over the pool.
fn mm_gemm(mut c: MatMut<'_>, a: MatRef<'_>, b: MatRef<'_>, alpha: f32, beta: f32, par: Par) {
    let (m, n, k) = (c.rows(), c.cols(), a.cols());
    if m == 0 || n == 0 {
        return;
    }
    let (rs_c, cs_c) = (c.row_stride(), c.col_stride());
    let cptr = SendPtr::from_raw(c.as_mut_ptr());
    let block = |i0: usize, rows: usize| {
        // SAFETY: rows i0..i0+rows of A and C lie inside their views (shapes were checked);
        // strides are those of the views; each block writes only its own rows of C.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                k,
                n,
                alpha,
                a.ptr_at(i0, 0),
                a.row_stride() as isize,
                a.col_stride() as isize,
                b.ptr_at(0, 0),
                b.row_stride() as isize,
                b.col_stride() as isize,
                beta,
                cptr.get().add(i0 * rs_c),
                rs_c as isize,
                cs_c as isize,
            );
        }
    };
    match par {
        Par::Seq => block(0, m),
        Par::Rayon => {
            let t = rayon::current_num_threads().max(1);
            let rows = round_up(div_ceil(m, t), 8).max(8);
            (0..div_ceil(m, rows))
                .into_par_iter()
                .for_each(|bi| block(bi * rows, rows.min(m - bi * rows)));
        }
    }
}

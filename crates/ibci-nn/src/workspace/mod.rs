//! The training step without allocation: every buffer a batch needs, made once per run.
//!
//! One step on a batch of `B` rows named by indices into the training set (shapes as in
//! [`crate::mlp`]):
//!
//! ```text
//! a_1      = f_1(X[rows] W_1 + b_1)     sparse: X's zeros skipped (sparse::rows_times), or
//!                                        the GEMM on the gathered batch
//! a_l      = f_l(a_{l-1} W_l + b_l)     GEMM with bias and activation in its write-back
//! dz_L     = softmax-CE gradient        loss and errors from the same pass
//! for l = L .. 1:
//!   da_{l-1} = dz_l W_l^T, times f'      before W_l changes
//!   W_l      = W_l - lr a_{l-1}^T dz_l   the GEMM with alpha = -lr, beta = 1 (plain SGD), or
//!                                        the gradient then `sgd_step` (momentum, decay); for
//!                                        l = 1 sparse (sparse::cols_t_times, on the batch's
//!                                        nonzeros sorted by pixel)
//!   b_l      = b_l - lr colsum(dz_l)
//! ```
//!
//! Threads: each product splits its output over the pool (or, inside
//! [`Team::install`](ibci_kernels::Team::install), as `Trainer::epoch` runs the batches, over
//! the team: the sparse products and the GEMMs), and on two or more threads the batch's
//! nonzeros are sorted by pixel (for W_1's gradient) on one thread while the caller runs
//! layers 2..L forward and back (their products split over the team too, once the sort is
//! done: `Team::join`); then both prefetch the next batch's rows. The first layer's
//! forward product takes W_1's exponent floor (its exactness guard) from the previous step's
//! fused update instead of scanning W_1, when the step continues that one
//! (`Workspace::step_after`).
//!
//! Every value is the one [`Mlp::loss_and_grads`] followed by
//! [`sgd_step`](ibci_kernels::elementwise::sgd_step) on each layer computes, bit for bit: the
//! GEMM's `alpha * s + beta * c` with `alpha = -lr, beta = 1` is `w - lr * g` exactly (a
//! negation is exact, `1 * w = w`), updating W_l after `da_{l-1}` is formed leaves every
//! product's operands unchanged, and the sparse products return the GEMM's bits or decline
//! (and the GEMM runs). `tests/workspace.rs` checks this against the reference path batch by
//! batch, and that no batch after the first allocates.

use std::sync::atomic::{AtomicUsize, Ordering};

use ibci_kernels::softmax::softmax_xent_errors;
use ibci_kernels::sparse::exact::ExponentFloor;
use ibci_kernels::sparse::{rows_times, BatchCols, CsrRows, Operand, Packed};
use ibci_kernels::{gemm_bias_act, reserve_scratch, MatMut, MatRef, Par};

use crate::mlp::{BatchStats, Mlp};
use crate::sgd::{SgdState, TrainConfig};
use crate::split::Split;

mod backward;

/// Rows of the next batch per claim of its prefetch (see `Workspace::step_after`).
const PREFETCH_CHUNK: usize = 10;

/// Buffers for batches of up to `batch` rows of one network shape.
#[derive(Clone, Debug)]
pub struct Workspace {
    batch: usize,
    widths: Vec<usize>,
    /// `a_l` for l = 1..L, `batch x n_l` each.
    acts: Vec<Vec<f32>>,
    dz: Vec<f32>,
    da: Vec<f32>,
    /// The gathered batch, for the dense first layer.
    xb: Vec<f32>,
    yb: Vec<usize>,
    /// The row indices of an evaluation batch.
    eval_rows: Vec<usize>,
    /// Gradients, for the SGD variants that need them materialised.
    dw: Vec<Vec<f32>>,
    db: Vec<f32>,
    colsum: Vec<f64>,
    packed: Packed,
    /// The batch's nonzeros by column, for the first layer's weight gradient.
    cols: BatchCols,
    /// W_1's exponent floor as the last step's fused SGD update wrote it, for the next
    /// step's forward product (see `Workspace::step_after`).
    w1_floor: Option<ExponentFloor>,
    /// The first layer's `dz`'s exponent floor, found at the end of the upper layers (on two
    /// threads beside the pixel sort) for that layer's sparse weight gradient.
    dz1_floor: Option<ExponentFloor>,
    /// Whether the GEMM's per-thread buffers were grown for this workspace's products, under
    /// `Par::Seq` and under `Par::Rayon` (a trainer switches between them when its cores are
    /// far apart: `train::FarCores`).
    reserved: [bool; 2],
}

/// One step's batch and settings, as the parts of the step take them.
#[derive(Clone, Copy, Debug)]
struct Batch<'a> {
    data: Split<'a>,
    /// The batch's rows of `data`.
    rows: &'a [usize],
    cfg: &'a TrainConfig,
    update: Update,
    par: Par,
}

/// Which form of the step runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Update {
    /// Plain SGD: fused into the weight gradient's write-back.
    Fused(f32),
    /// Momentum or weight decay: gradients materialised, then `sgd_step`.
    Separate,
}

/// The densest data set whose first layer runs on the sparse products. Measured on one
/// thread, 2026-12-02 (AMD EPYC, one epoch, sparse/dense time) with the image-by-image
/// kernels that the present ones (`sparse::rows_times`, `sparse::cols_t_times`) have since
/// replaced: MNIST (19% nonzero) 0.55-0.57 for MLP-2, 0.71-0.90 for MLP-3, 0.58-0.64 for
/// MLP-5; Fashion-MNIST (50% nonzero) 1.00-1.52, 1.54-1.94 and 0.91-0.93. With the present
/// kernels (2026-12-03, AMD EPYC with AVX-512, `ibci train --threads 1`, four epochs, two
/// interleaved runs of a build with this bound at 1.0 against this one) Fashion-MNIST's
/// epochs take about the same either way: MLP-2 0.25-0.34 s sparse against 0.30-0.33 s
/// dense, MLP-3 0.64-0.80 against 0.72-0.77, MLP-5 0.17-0.23 against 0.17-0.20; so the
/// bound between MNIST and Fashion-MNIST stands. Either way the weights are the same, bit
/// for bit (those runs gave one digest per net).
pub const MAX_SPARSE_DENSITY: f64 = 0.3;

/// The data set's sparse index, when the first layer runs on the sparse products (it is
/// sparse enough for them to pay).
fn sparse_index<'a>(data: &Split<'a>) -> Option<&'a CsrRows> {
    data.sparse.filter(|c| c.density() <= MAX_SPARSE_DENSITY)
}

fn view(buf: &[f32], rows: usize, cols: usize) -> MatRef<'_> {
    MatRef::from_slice(&buf[..rows * cols], rows, cols)
}

fn view_mut(buf: &mut [f32], rows: usize, cols: usize) -> MatMut<'_> {
    MatMut::from_slice(&mut buf[..rows * cols], rows, cols)
}

impl Workspace {
    /// Buffers for `mlp`'s shape and batches of up to `batch` rows.
    pub fn new(mlp: &Mlp, batch: usize) -> Workspace {
        let widths = mlp.spec().widths;
        let batch = batch.max(1);
        let wide = *widths.iter().max().expect("widths");
        let acts = widths[1..].iter().map(|&w| vec![0.0; batch * w]).collect();
        Workspace {
            batch,
            acts,
            dz: vec![0.0; batch * wide],
            da: vec![0.0; batch * wide],
            xb: vec![0.0; batch * widths[0]],
            yb: Vec::with_capacity(batch),
            eval_rows: Vec::with_capacity(batch),
            dw: Vec::new(),
            db: vec![0.0; wide],
            colsum: vec![0.0; 2 * wide],
            packed: Packed::default(),
            cols: BatchCols::new(),
            w1_floor: None,
            dz1_floor: None,
            reserved: [false; 2],
            widths,
        }
    }

    #[track_caller]
    fn check(&self, mlp: &Mlp, rows: usize) {
        // Compared layer by layer: `mlp.spec()` would allocate on every batch.
        let same = mlp.layers.len() + 1 == self.widths.len()
            && mlp
                .layers
                .first()
                .is_some_and(|l| l.w.rows() == self.widths[0])
            && mlp
                .layers
                .iter()
                .zip(&self.widths[1..])
                .all(|(l, &w)| l.w.cols() == w);
        assert!(
            rows <= self.batch && same,
            "Workspace: made for batches of {} on {:?}, given {rows} rows on {:?}",
            self.batch,
            self.widths,
            mlp.spec().widths
        );
    }

    /// Grows the GEMM's packing buffers on every thread that may run a task of this
    /// workspace's products under `par` (the installed team's members, or else the rayon
    /// pool's), once, so that no later batch allocates them. The products are, per layer l
    /// (`n_in x n_out`), the forward one (k = n_in, n = n_out), the update's (k = batch,
    /// n = n_out) and, for l >= 2, the backward one (k = n_out, n = n_in): k is at most
    /// max(batch, widest layer) and n at most the widest layer after the input (the input's
    /// width is never an n, since no gradient flows into the data). Sizing n by the input's
    /// width instead made every thread's buffers 2.8 MB rather than 0.5 MB for MLP-2, all
    /// of it written (page faults) in a run's first step.
    fn reserve(&mut self, par: Par) {
        let done = &mut self.reserved[usize::from(par != Par::Seq)];
        if !*done {
            let most_k = self.batch.max(*self.widths.iter().max().expect("widths"));
            let most_n = *self.widths[1..].iter().max().expect("at least one layer");
            reserve_scratch(par, most_k, most_n);
            *done = true;
        }
    }

    /// Grows every buffer that a step under `par` needs and that a step under another
    /// parallelism may not have grown (the GEMM's per-thread buffers, the sparse products'
    /// tiles and copies), ahead of the first such step: for a trainer that may switch between
    /// one thread and its team from one step to the next (`train::FarCores`), so that the
    /// first step of either form, whenever it comes, allocates nothing.
    pub fn prepare(&mut self, par: Par) {
        self.reserve(par);
        self.packed.reserve(par.team_threads(), self.batch);
    }

    /// The activations of `data.x[rows]` (the last are the logits), left in the workspace;
    /// whether the batch was gathered into the dense buffer (the sparse product declined).
    fn forward(&mut self, mlp: &Mlp, data: Split<'_>, rows: &[usize], par: Par) -> bool {
        let gathered = self.forward_first(mlp, data, rows, par);
        self.forward_rest(mlp, rows.len(), par);
        gathered
    }

    /// The first layer's activations: from the sparse index when the data have one (and the
    /// guard holds), else by the GEMM on the gathered batch; whether it gathered.
    fn forward_first(&mut self, mlp: &Mlp, data: Split<'_>, rows: &[usize], par: Par) -> bool {
        let b = rows.len();
        let l0 = &mlp.layers[0];
        let n1 = l0.w.cols();
        // Known only while this step continues the one that wrote it (`step_after`).
        let w1 = match self.w1_floor.take() {
            Some(floor) => Operand::with_floor(l0.w.as_ref(), floor),
            None => l0.w.as_ref().into(),
        };
        let sparse = sparse_index(&data).is_some_and(|csr| {
            rows_times(
                view_mut(&mut self.acts[0], b, n1),
                csr,
                rows,
                w1,
                Some((&l0.b, l0.act)),
                &mut self.packed,
                par,
            )
        });
        if !sparse {
            self.gather(data.x, rows);
            let xb = view(&self.xb, b, data.x.cols());
            let a0 = view_mut(&mut self.acts[0], b, n1);
            gemm_bias_act(a0, xb, l0.w.as_ref(), &l0.b, l0.act, par);
        }
        !sparse
    }

    /// The activations of layers 2..L of a batch of `b` rows from the first layer's.
    fn forward_rest(&mut self, mlp: &Mlp, b: usize, par: Par) {
        for (l, layer) in mlp.layers.iter().enumerate().skip(1) {
            let (before, after) = self.acts.split_at_mut(l);
            let (n_in, n_out) = (layer.w.rows(), layer.w.cols());
            let input = view(&before[l - 1], b, n_in);
            let z = view_mut(&mut after[0], b, n_out);
            gemm_bias_act(z, input, layer.w.as_ref(), &layer.b, layer.act, par);
        }
    }

    /// Copies `x[rows]` into the batch buffer.
    fn gather(&mut self, x: MatRef<'_>, rows: &[usize]) {
        let k = x.cols();
        for (r, &i) in rows.iter().enumerate() {
            let dst = &mut self.xb[r * k..(r + 1) * k];
            match x.row(i) {
                Some(src) => dst.copy_from_slice(src),
                None => dst
                    .iter_mut()
                    .enumerate()
                    .for_each(|(p, d)| *d = x.at(i, p)),
            }
        }
    }

    /// One SGD step on the batch `data[rows]`: the batch's mean loss and errors, measured
    /// before the update. A non-finite loss returns before anything changes.
    ///
    /// # Panics
    /// If the batch is empty or larger than the workspace's, the network is not the shape the
    /// workspace was made for, a row index or label is out of range, or the momentum buffers
    /// do not match `cfg`.
    #[track_caller]
    pub fn step(
        &mut self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        data: Split<'_>,
        rows: &[usize],
        cfg: &TrainConfig,
        par: Par,
    ) -> BatchStats {
        self.forget_w1_floor();
        self.step_after(mlp, state, data, rows, cfg, par, &[])
    }

    /// Makes the next [`Workspace::step_after`] scan W_1 for its exponent floor (as
    /// [`Workspace::step`] does): for a step that does not continue the one before.
    pub(crate) fn forget_w1_floor(&mut self) {
        self.w1_floor = None;
    }

    /// [`Workspace::step`] for a step that directly follows one on this workspace with the
    /// same network, nothing having changed its weights in between (the training loop, which
    /// holds the network for the whole epoch): the first layer's weights are then known to
    /// be as that step wrote them, and their exponent floor (for the sparse product's guard)
    /// is taken from it instead of scanning W_1 again. The same numbers as `step`.
    ///
    /// `next` (the next step's rows, or none) only starts loading their entries of the
    /// sparse index into the caches, a hint with no effect on the numbers.
    #[allow(clippy::too_many_arguments)]
    #[track_caller]
    pub(crate) fn step_after(
        &mut self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        data: Split<'_>,
        rows: &[usize],
        cfg: &TrainConfig,
        par: Par,
        next: &[usize],
    ) -> BatchStats {
        let b = rows.len();
        assert!(b > 0, "Workspace::step: empty batch");
        self.check(mlp, b);
        self.reserve(par);
        // Found by this step's upper layers, if at all.
        self.dz1_floor = None;
        let mut gathered = self.forward_first(mlp, data, rows, par);
        let update = if cfg.momentum == 0.0 && cfg.weight_decay == 0.0 {
            Update::Fused(cfg.lr)
        } else {
            if self.dw.is_empty() {
                self.dw = mlp
                    .layers
                    .iter()
                    .map(|l| vec![0.0; l.w.as_slice().len()])
                    .collect();
            }
            Update::Separate
        };
        // The layers after the first, forward and back, do not need the batch's columns: on
        // two or more threads those are sorted (for the first layer's gradient) meanwhile.
        // The next batch's rows are prefetched in chunks that either thread claims, the
        // sorting one after its sort (prefetched by the caller alone, the rows went to the
        // other core's cache, and issuing the prefetches took 9% of the caller's `perf`
        // samples, about 10 us a step) and the caller after layers 2..L, which for MLP-2
        // finish first (on one thread, all of it after the sort, as before). Measured with
        // per-step timers, MLP-2, two threads (AMD EPYC with AVX-512, 2026-12-03): this phase
        // of the step 64-66 us -> 49-56 us against the sorting thread prefetching them all.
        let mut cols = std::mem::take(&mut self.cols);
        let csr = sparse_index(&data);
        let chunks = AtomicUsize::new(0);
        let prefetch_share = |csr: &CsrRows| loop {
            let at = chunks.fetch_add(1, Ordering::Relaxed) * PREFETCH_CHUNK;
            if at >= next.len() {
                break;
            }
            csr.prefetch(&next[at..(at + PREFETCH_CHUNK).min(next.len())]);
        };
        let fill = || {
            if let Some(csr) = csr {
                cols.fill(csr, rows);
                prefetch_share(csr);
            }
        };
        let batch = Batch {
            data,
            rows,
            cfg,
            update,
            par,
        };
        let upper = || {
            let stats = self.upper(mlp, state, &batch);
            if let Some(csr) = csr.filter(|_| par.threads() > 1) {
                prefetch_share(csr);
            }
            stats
        };
        let stats = par.join(upper, fill).0;
        self.cols = cols;
        if stats.loss.is_finite() {
            self.update_weights(mlp, state, &batch, 0, &mut gathered);
        }
        stats
    }

    /// Mean loss and error count of `mlp` over `data`, in batches of this workspace's size
    /// ([`Mlp::evaluate`]'s numbers, bit for bit).
    ///
    /// # Panics
    /// If the network is not the workspace's shape, or a label is out of range.
    #[track_caller]
    pub fn evaluate(&mut self, mlp: &Mlp, data: Split<'_>, par: Par) -> BatchStats {
        let n = data.y.len();
        assert_eq!(
            n,
            data.x.rows(),
            "Workspace::evaluate: {n} labels for {} rows",
            data.x.rows()
        );
        self.check(mlp, self.batch.min(n));
        // The evaluation runs outside the training's team: the pool's threads need buffers too.
        self.reserve(par);
        let c = mlp.layers[mlp.layers.len() - 1].w.cols();
        let (mut loss_sum, mut errors) = (0f64, 0usize);
        // The workspace's own index buffer (taken and put back), so evaluating allocates
        // nothing either.
        let mut rows = std::mem::take(&mut self.eval_rows);
        let mut i = 0;
        while i < n {
            let b = self.batch.min(n - i);
            rows.clear();
            rows.extend(i..i + b);
            self.forward(mlp, data, &rows, par);
            let logits = view(&self.acts[mlp.layers.len() - 1], b, c);
            let (loss, e) = softmax_xent_errors(logits, &data.y[i..i + b], None, 1.0, par);
            loss_sum += loss * b as f64;
            errors += e;
            i += b;
        }
        self.eval_rows = rows;
        BatchStats {
            loss: if n > 0 { loss_sum / n as f64 } else { 0.0 },
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use ibci_kernels::sparse::exact::exponent_floor;
    use ibci_kernels::Mat;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;
    use crate::init::{BiasInit, FanMode, Nonlinearity, WeightInit};
    use crate::split::OwnedSplit;
    use crate::ArchSpec;

    /// The floor a step leaves for the next one is W_1's as it stands after the step, on
    /// every step of a run of them; and `step` (not continuing) forgets it first. The first
    /// layer's dz floor that the upper layers hand to its gradient is that dz's.
    #[test]
    fn the_carried_floors_are_w1s_and_dz1s() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let x = Mat::from_fn(300, 30, |_, _| {
            if rng.next_u32() % 4 == 0 {
                (1 + rng.next_u32() % 255) as f32 / 255.0
            } else {
                0.0
            }
        });
        let y: Vec<u8> = (0..300).map(|i| (i % 10) as u8).collect();
        let data = OwnedSplit::from_images(x.as_slice().to_vec(), 30, &y);
        let spec = ArchSpec::parse("30-17-10").unwrap();
        let he = WeightInit::KaimingNormal {
            mode: FanMode::FanIn,
            nl: Nonlinearity::Relu,
        };
        let mut mlp = Mlp::init(&spec, &[he; 2], BiasInit::Constant(0.0), &mut rng);
        let cfg = TrainConfig::default();
        let mut state = SgdState::new(&mlp, 0.0);
        let mut ws = Workspace::new(&mlp, cfg.batch);
        for (i, rows) in (0..300).collect::<Vec<_>>().chunks(100).enumerate() {
            if i == 0 {
                ws.step(&mut mlp, &mut state, data.view(), rows, &cfg, Par::Seq);
            } else {
                ws.step_after(&mut mlp, &mut state, data.view(), rows, &cfg, Par::Seq, &[]);
            }
            assert_eq!(
                ws.w1_floor,
                Some(exponent_floor(mlp.layers[0].w.as_slice()))
            );
            assert_eq!(ws.dz1_floor, Some(exponent_floor(&ws.dz[..100 * 17])));
        }
        mlp.layers[0].w.as_mut_slice()[0] = f32::MIN_POSITIVE;
        ws.step(
            &mut mlp,
            &mut state,
            data.view(),
            &[0, 1, 2],
            &cfg,
            Par::Seq,
        );
        assert_eq!(
            ws.w1_floor,
            Some(exponent_floor(mlp.layers[0].w.as_slice()))
        );
    }
}

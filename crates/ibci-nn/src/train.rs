//! Mini-batch SGD training with a seeded shuffle every epoch, and per-epoch metrics.
//!
//! One epoch: a Fisher-Yates shuffle of the training indices drawn from the caller's RNG,
//! then batches of `batch` samples in that order (the last one smaller when the set does not
//! divide), each a forward/backward pass and an SGD step on every layer. After each epoch the
//! test set is evaluated; before the first, the untrained network is (epoch 0), as the
//! reference code does. A loss or weight that is NaN or infinite stops training with an
//! error naming the epoch and batch.

use std::fmt;
use std::time::Instant;

use ibci_kernels::sparse::CsrRows;
use ibci_kernels::{Mat, MatRef, Par};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::init::below;
use crate::mlp::Mlp;
use crate::workspace::Workspace;

/// Optimiser and loop settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Epochs to run.
    pub epochs: usize,
    /// Samples per batch.
    pub batch: usize,
    /// Learning rate.
    pub lr: f32,
    /// SGD momentum (0: plain SGD, the paper's setting).
    pub momentum: f32,
    /// L2 weight decay (0 in the paper).
    pub weight_decay: f32,
}

impl Default for TrainConfig {
    /// The reference code's protocol: 100 epochs of plain SGD, lr 0.1, batch 100.
    fn default() -> Self {
        TrainConfig {
            epochs: 100,
            batch: 100,
            lr: 0.1,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// A data split: row-major samples, their labels, and optionally the samples' nonzero index
/// (with it, the first layer skips zero inputs; the numbers are the same either way).
#[derive(Clone, Copy, Debug)]
pub struct Split<'a> {
    /// `n x features`.
    pub x: MatRef<'a>,
    /// `n` labels, each below the network's output width.
    pub y: &'a [usize],
    /// The nonzeros of `x` ([`CsrRows::new`]), built once per data set.
    pub sparse: Option<&'a CsrRows>,
}

/// A split held as training wants it: f32 samples, `usize` labels and the samples' nonzero
/// index.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedSplit {
    /// `n x features`.
    pub x: Mat,
    /// `n` labels.
    pub y: Vec<usize>,
    /// The nonzeros of `x`.
    pub sparse: CsrRows,
}

impl OwnedSplit {
    /// A split of samples `x` and labels `y`, indexed once.
    pub fn new(x: Mat, y: Vec<usize>) -> OwnedSplit {
        let sparse = CsrRows::new(x.as_ref());
        OwnedSplit { x, y, sparse }
    }

    /// A split of images (`dim` values each, one after another, as an IDX file holds them
    /// once scaled) and their byte labels.
    ///
    /// # Panics
    /// If `images.len() != labels.len() * dim`.
    #[track_caller]
    pub fn from_images(images: Vec<f32>, dim: usize, labels: &[u8]) -> OwnedSplit {
        assert_eq!(
            images.len(),
            labels.len() * dim,
            "from_images: {} values for {} labels of {dim} pixels",
            images.len(),
            labels.len()
        );
        OwnedSplit::new(
            Mat::from_vec(labels.len(), dim, images),
            labels.iter().map(|&l| usize::from(l)).collect(),
        )
    }

    /// A borrowed view for [`Trainer`] and friends.
    pub fn view(&self) -> Split<'_> {
        Split {
            x: self.x.as_ref(),
            y: &self.y,
            sparse: Some(&self.sparse),
        }
    }
}

/// What one epoch measured. Epoch 0 is the untrained network (train fields are NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 0 for the untrained network, then 1, 2, ...
    pub epoch: usize,
    /// Mean of the batches' mean losses during the epoch.
    pub train_loss: f64,
    /// Fraction of training samples classified correctly during the epoch (before each
    /// batch's update).
    pub train_acc: f64,
    /// Mean loss on the test split after the epoch.
    pub test_loss: f64,
    /// Fraction of test samples misclassified after the epoch.
    pub test_err: f64,
    /// Wall time of the epoch's training, in seconds.
    pub seconds: f64,
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A loss or parameter became NaN or infinite.
    NonFinite {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (0-based).
        batch: usize,
        /// What was not finite.
        what: String,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite { epoch, batch, what } => write!(
                f,
                "training diverged at epoch {epoch}, batch {batch}: {what} is not finite (try a smaller learning rate)"
            ),
        }
    }
}

impl std::error::Error for TrainError {}

/// The random stream that shuffles epoch `epoch` (1-based) of a run seeded with `seed`:
/// `Xoshiro256PlusPlus::seed_from_u64(seed)`, then `jump()` (2^128 steps, away from the
/// initialisation stream, which starts at the seed), then `long_jump()` (2^192 steps) once
/// per epoch. A pure function of `(seed, epoch)`: a resumed run needs no saved RNG state.
pub fn shuffle_stream(seed: u64, epoch: usize) -> Xoshiro256PlusPlus {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    rng.jump();
    for _ in 0..epoch {
        rng.long_jump();
    }
    rng
}

/// Evaluates the untrained network (epoch 0).
pub fn epoch_zero(mlp: &Mlp, test: Split<'_>, par: Par) -> EpochMetrics {
    let t = mlp.evaluate(test.x, test.y, EVAL_BATCH, par);
    EpochMetrics {
        epoch: 0,
        train_loss: f64::NAN,
        train_acc: f64::NAN,
        test_loss: t.loss,
        test_err: t.errors as f64 / test.y.len().max(1) as f64,
        seconds: 0.0,
    }
}

/// The state SGD carries between steps: one velocity buffer per parameter tensor when
/// momentum is on.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdState {
    /// Velocities of the weights and biases, in layer order (empty without momentum).
    pub velocity: Vec<(Vec<f32>, Vec<f32>)>,
}

impl SgdState {
    /// Zero velocities for `mlp` when `momentum != 0`, none otherwise.
    pub fn new(mlp: &Mlp, momentum: f32) -> SgdState {
        let velocity = if momentum != 0.0 {
            mlp.layers
                .iter()
                .map(|l| (vec![0.0; l.w.as_slice().len()], vec![0.0; l.b.len()]))
                .collect()
        } else {
            Vec::new()
        };
        SgdState { velocity }
    }
}

/// Test-set evaluation batch (as [`epoch_zero`] and the reference code use).
pub const EVAL_BATCH: usize = 1000;

/// Runs epochs: the settings, and every buffer the batches need, made once per run.
#[derive(Clone, Debug)]
pub struct Trainer {
    cfg: TrainConfig,
    par: Par,
    ws: Workspace,
    eval: Workspace,
    order: Vec<usize>,
}

impl Trainer {
    /// A trainer for networks of `mlp`'s shape.
    pub fn new(mlp: &Mlp, cfg: &TrainConfig, par: Par) -> Trainer {
        Trainer {
            cfg: *cfg,
            par,
            ws: Workspace::new(mlp, cfg.batch.max(1)),
            eval: Workspace::new(mlp, EVAL_BATCH),
            order: Vec::new(),
        }
    }

    /// One training epoch (`epoch` is 1-based, for messages), then the test evaluation.
    ///
    /// # Panics
    /// If a split's sample and label counts differ, or shapes do not match the network.
    #[track_caller]
    pub fn epoch(
        &mut self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        train: Split<'_>,
        test: Split<'_>,
        epoch: usize,
        rng: &mut impl RngCore,
    ) -> Result<EpochMetrics, TrainError> {
        let start = Instant::now();
        let (cfg, par) = (self.cfg, self.par);
        let n = train.y.len();
        assert_eq!(
            n,
            train.x.rows(),
            "Trainer::epoch: {n} training labels for {} samples",
            train.x.rows()
        );
        self.order.clear();
        self.order.extend(0..n);
        for i in (1..n).rev() {
            let j = below(rng, i as u64 + 1) as usize;
            self.order.swap(i, j);
        }
        let (mut loss_sum, mut correct, mut batches) = (0f64, 0usize, 0usize);
        for (bi, idx) in self.order.chunks(cfg.batch.max(1)).enumerate() {
            let st = self.ws.step(mlp, state, train, idx, &cfg, par);
            if !st.loss.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch,
                    batch: bi,
                    what: format!("the loss ({})", st.loss),
                });
            }
            loss_sum += st.loss;
            correct += idx.len() - st.errors;
            batches += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        if let Some((l, _)) = mlp.layers.iter().enumerate().find(|(_, layer)| {
            !layer
                .w
                .as_slice()
                .iter()
                .chain(&layer.b)
                .all(|v| v.is_finite())
        }) {
            return Err(TrainError::NonFinite {
                epoch,
                batch: batches.saturating_sub(1),
                what: format!("a parameter of layer {}", l + 1),
            });
        }
        let t = self.eval.evaluate(mlp, test, par);
        Ok(EpochMetrics {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            train_acc: correct as f64 / n.max(1) as f64,
            test_loss: t.loss,
            test_err: t.errors as f64 / test.y.len().max(1) as f64,
            seconds,
        })
    }
}

//! Mini-batch SGD training with a seeded shuffle every epoch, and per-epoch metrics.
//!
//! One epoch: a Fisher-Yates shuffle of the training indices drawn from the caller's RNG,
//! then batches of `batch` samples in that order (the last one smaller when the set does not
//! divide), each a forward/backward pass and an SGD step on every layer. After each epoch the
//! test set is evaluated; before the first, the untrained network is (epoch 0), as the
//! reference code does. A loss or weight that is NaN or infinite stops training with an
//! error naming the epoch and batch. On two or more threads each step splits over a team of
//! threads (on two, it runs on the calling thread alone while their cores are far apart:
//! [`FarCores`]); the bits are the same either way.

use std::fmt;
use std::time::Instant;

use ibci_kernels::{Par, Team};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::init::below;
use crate::mlp::Mlp;
use crate::workspace::Workspace;

pub use crate::sgd::{SgdState, TrainConfig};
pub use crate::split::{OwnedSplit, Split};

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
    /// A batch's mean loss exceeded [`DIVERGED_LOSS`]: finite, but blown up.
    LossExploded {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (0-based).
        batch: usize,
        /// The batch's mean loss.
        loss: f64,
    },
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
            TrainError::LossExploded { epoch, batch, loss } => write!(
                f,
                "training diverged at epoch {epoch}, batch {batch}: the batch's loss {loss:.3e} \
                 exceeds {DIVERGED_LOSS:.0e} nats (try a smaller learning rate)"
            ),
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

/// The mean cross-entropy (nats) above which a batch counts as diverged although finite: the
/// logits are then wrong by about a thousand, where an untrained network's loss is about
/// ln(classes) (2.3 for ten classes) and training only lowers it. (With --lr 1e6, MLP-2 on
/// MNIST reaches 1.3e11 at its second batch; before this check such a run went on to the end.)
pub const DIVERGED_LOSS: f64 = 1e3;

/// Test-set evaluation batch (as [`epoch_zero`] and the reference code use).
pub const EVAL_BATCH: usize = 1000;

/// What a trainer on two threads does while their cores are far apart.
///
/// A step split over the team shares W_1 and the batch between the cores, a few thousand
/// cache lines each way; when a line's round trip between them is long, the step is slower
/// than on one core. On a 2-core AMD EPYC virtual machine (2026-12-03) the host moved the two
/// virtual cores between a near placement (a round trip of 30-77 ns; MLP-2's two-thread epoch
/// 0.55-0.91 of its one-thread epoch) and a far one (313-342 ns; 1.26-1.51) every few
/// seconds (docs/benchmarks.md, "Fifth pass"). Either way the weights are the same, bit for
/// bit: a step gives the same bits on any number of threads. Teams of three or more always
/// split (nothing was measured on them, and one far member need not make all the others
/// useless).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FarCores {
    /// Every [`PROBE_EVERY`] steps, [`Team::round_trip_ns`] with [`PROBE_TRIPS`] round trips;
    /// above [`FAR_NS`], the next steps run on the calling thread alone (the default).
    #[default]
    OneThread,
    /// Split every step over the team, however far apart its cores are.
    Split,
}

/// Steps between two probes of [`FarCores::OneThread`] (4-6 ms of MLP-2 training at the
/// 120-200 us a step measured on that machine).
pub const PROBE_EVERY: usize = 32;

/// Round trips per probe: at the 60-330 ns a round trip measured there, 4-21 us against
/// 32 steps of 120-200 us.
pub const PROBE_TRIPS: u32 = 64;

/// The round trip, in nanoseconds, above which [`FarCores::OneThread`] runs steps on one
/// thread: between the near and the far placements measured above. Interpolating linearly
/// between MLP-2's two-thread/one-thread ratios there (about 0.6 at 60 ns, about 1.35 at
/// 325 ns) puts 1.0 near 200 ns; no placement in between was seen.
pub const FAR_NS: f64 = 200.0;

/// Runs epochs: the settings, and every buffer the batches need, made once per run.
#[derive(Debug)]
pub struct Trainer {
    cfg: TrainConfig,
    par: Par,
    ws: Workspace,
    eval: Workspace,
    order: Vec<usize>,
    /// The threads the batches run on, with more than one (made at the first epoch).
    team: Option<Team>,
    far: FarCores,
    /// Steps run on the calling thread alone because the team's cores were far apart.
    one_thread_steps: usize,
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
            team: None,
            far: FarCores::default(),
            one_thread_steps: 0,
        }
    }

    /// Sets what the trainer does while its team's cores are far apart ([`FarCores`]).
    pub fn set_far_cores(&mut self, far: FarCores) {
        self.far = far;
    }

    /// Steps this trainer has run on one thread since it was made, on two threads, because a
    /// probe found their cores far apart ([`FarCores::OneThread`]).
    pub fn one_thread_steps(&self) -> usize {
        self.one_thread_steps
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
        // On two or more threads the batches run on the trainer's team, which stays awake
        // from one parallel region to the next (rayon's workers would sleep between them).
        let threads = par.threads().min(Team::MAX_SIZE);
        let team = match par {
            Par::Rayon if threads > 1 => {
                if self.team.as_ref().is_none_or(|t| t.size() != threads) {
                    self.team = Some(Team::new(threads));
                }
                self.team.as_ref()
            }
            _ => None,
        };
        let batches = Batches {
            ws: &mut self.ws,
            order: &self.order,
            cfg: &cfg,
            par,
            probe: team.filter(|t| self.far == FarCores::OneThread && t.size() == 2),
            one_thread: &mut self.one_thread_steps,
        };
        let run = || batches.run(mlp, state, train, epoch);
        let (loss_sum, correct, batches) = match team {
            Some(team) => team.install(run),
            None => run(),
        }?;
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

/// The batches of one epoch: the trainer's parts that they use.
struct Batches<'a> {
    ws: &'a mut Workspace,
    /// The epoch's shuffled sample order.
    order: &'a [usize],
    cfg: &'a TrainConfig,
    par: Par,
    /// The installed team, under [`FarCores::OneThread`]: every [`PROBE_EVERY`] steps its
    /// round trip decides whether the next steps split over it or run here alone (counted
    /// in `one_thread`).
    probe: Option<&'a Team>,
    one_thread: &'a mut usize,
}

impl Batches<'_> {
    /// Runs the batches of epoch `epoch` in order: the sums of their losses and correct
    /// predictions, and their count.
    fn run(
        self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        train: Split<'_>,
        epoch: usize,
    ) -> Result<(f64, usize, usize), TrainError> {
        let Batches {
            ws,
            order,
            cfg,
            par,
            probe,
            one_thread,
        } = self;
        let n = order.len();
        let batch = cfg.batch.max(1);
        let (mut loss_sum, mut correct, mut batches) = (0f64, 0usize, 0usize);
        let mut step_par = par;
        if probe.is_some() {
            // Both forms' buffers now: a run whose first epoch went all on one thread would
            // otherwise grow the team's in a later one (an allocation in an epoch after the
            // first).
            ws.prepare(par);
            ws.prepare(Par::Seq);
        }
        for (bi, idx) in order.chunks(batch).enumerate() {
            if let Some(team) = probe.filter(|_| bi.is_multiple_of(PROBE_EVERY)) {
                let far = team
                    .round_trip_ns(PROBE_TRIPS)
                    .is_some_and(|ns| ns > FAR_NS);
                step_par = if far { Par::Seq } else { par };
            }
            if step_par != par {
                *one_thread += 1;
            }
            // The next batch's rows of the sparse index start loading while this one computes.
            let next = &order[((bi + 1) * batch).min(n)..((bi + 2) * batch).min(n)];
            // Within the epoch only the steps change the network (held here throughout), so
            // each step after the first continues the one before.
            if bi == 0 {
                ws.forget_w1_floor();
            }
            let st = ws.step_after(mlp, state, train, idx, cfg, step_par, next);
            if !st.loss.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch,
                    batch: bi,
                    what: format!("the loss ({})", st.loss),
                });
            }
            if st.loss > DIVERGED_LOSS {
                return Err(TrainError::LossExploded {
                    epoch,
                    batch: bi,
                    loss: st.loss,
                });
            }
            loss_sum += st.loss;
            correct += idx.len() - st.errors;
            batches += 1;
        }
        Ok((loss_sum, correct, batches))
    }
}

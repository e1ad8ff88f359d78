//! ibci-nn: multilayer perceptrons on ibci-kernels.
//!
//! - [`spec`]: architectures (`784-100-10`, `mlp2`, `mlp3`, `mlp5`) and activations.
//! - [`init`]: `torch.nn.init`'s initialisers and the seeded random numbers they draw.
//! - [`lsuv`]: LSUV (layer-sequential unit-variance) initialisation on a data batch.
//! - [`mlp`]: forward and backward passes.
//! - [`train`]: mini-batch SGD epochs with a seeded shuffle, per-epoch metrics, divergence
//!   detection.
//! - [`workspace`]: the allocation-free training step (sparse first layer, SGD fused into the
//!   weight gradients), bit-identical to [`mlp`]'s reference passes.
//! - [`checkpoint`]: the model, optimiser state and metrics, written atomically with a digest
//!   and verified on load, for bit-identical resumption.
//!
//! Randomness: functions take `&mut impl RngCore` and never create one; the same seed gives
//! the same bits for any thread count and kernel path, because every kernel underneath does.

pub mod atomic;
pub mod checkpoint;
pub mod init;
pub mod lsuv;
pub mod mlp;
pub mod sgd;
pub mod spec;
pub mod split;
pub mod train;
pub mod workspace;

pub use mlp::{Grads, Layer, Mlp};
pub use spec::{ArchSpec, SpecError};
pub use train::{EpochMetrics, TrainConfig, TrainError, Trainer};

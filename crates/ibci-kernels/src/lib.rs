//! ibci-kernels: the f32 kernels everything numeric in ibci runs on.
//!
//! - [`mat`]: row-major matrices and strided views ([`Mat`], [`MatRef`], [`MatMut`]).
//! - [`gemm`](mod@gemm): `C <- alpha * A * B + beta * C`, hand-written (portable, AVX2+FMA, AVX-512)
//!   with `matrixmultiply` as the yardstick.
//! - [`elementwise`]: bias add, activations (relu, tanh, sigmoid, identity) and their
//!   derivatives, the SGD update.
//! - [`softmax`]: fused softmax + cross-entropy (loss and gradient), row-wise argmax.
//! - [`sparse`]: `A B` skipping A's exact zeros, bit-identical to the GEMM (the campaign's
//!   first layer on MNIST pixels).
//! - [`stats`]: column sums, means, variances and norms, per-class column statistics, the
//!   campaign's rank-1 deflation.
//! - [`math`]: exp, ln and tanh implemented here (measured ulp bounds), scalar and 8-lane.
//! - [`team`]: threads that stay awake through a training step's short parallel regions
//!   ([`Team`]); [`Par::Rayon`] kernels split over it inside [`Team::install`].
//! - [`probe`]: the FMA-throughput probe the benches compare against.
//! - [`dispatch`]: which path runs, detection, and the `IBCI_KERNEL_PATH` knob.
//! - [`reference`](mod@reference): naive references kept forever for the tests.
//! - [`tolerance`]: the one [`Tolerance`] type for numeric comparisons.
//!
//! # Reproducibility contract
//!
//! Every kernel returns bit-identical results for any thread count and on every code path
//! (portable, AVX2+FMA, AVX-512): the order of every floating-point reduction is fixed by the
//! algorithm, never by the vector width or by how rayon splits the work. Concretely:
//!
//! - GEMM: each output is one sequential chain of fused multiply-adds over `k` (see
//!   [`gemm`](mod@gemm)); the paths differ in how many outputs they compute side by side.
//! - Elementwise kernels and exp/ln/tanh have one implementation, on `wide::f32x8` at the
//!   build's CPU level, using only exactly-rounded operations: the same on every host and path;
//!   work is split into fixed chunks.
//! - Reductions over rows (column statistics, softmax-CE's loss, the deflation's `a^T W`)
//!   accumulate in a fixed order within fixed blocks, and the blocks are combined in order.
//! - Shapes are checked once, at the public function (`#[track_caller]`, `# Panics`).
//!
//! The tests force each path and thread counts 1, 2, 3 and 8, on edge sizes and realistic
//! ones, with outputs pre-filled with NaN, and compare bits; paths the host lacks are
//! reported as skipped, by name.

pub mod dispatch;
pub mod eigen;
pub mod elementwise;
pub mod gemm;
mod lanes;
pub mod mat;
pub mod math;
pub mod par;
pub mod probe;
mod ptr;
pub mod reference;
pub mod softmax;
pub mod sparse;
pub mod stats;
pub mod team;
pub mod tolerance;

pub use dispatch::KernelPath;
pub use elementwise::Activation;
pub use gemm::{gemm, gemm_bias_act, gemm_bias_act_with, gemm_with, reserve_scratch, Backend};
pub use mat::{Mat, MatMut, MatRef};
pub use par::Par;
pub use team::Team;
pub use tolerance::Tolerance;

//! `ibci`: Neuron Campaign for Initialization (Mao et al., CIKM 2021) in Rust.
//!
//! This facade re-exports the workspace's library crates under one name, for users who want
//! a single dependency and for the workspace's top-level integration tests and benches.
//!
//! - [`idx`]: IDX/MNIST loading ([`ibci_idx`]).
//! - [`kernels`]: matrices, GEMM and the other numeric kernels ([`ibci_kernels`]).
//! - [`nn`]: MLPs, initialisers and SGD training ([`ibci_nn`]).
//! - [`mi`]: mutual-information estimators ([`ibci_mi`]).
//! - [`campaign`]: the neuron campaign itself ([`ibci_campaign`]).

pub use ibci_campaign as campaign;
pub use ibci_idx as idx;
pub use ibci_kernels as kernels;
pub use ibci_mi as mi;
pub use ibci_nn as nn;

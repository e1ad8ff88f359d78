//! SGD's settings ([`TrainConfig`]) and the state it carries between steps ([`SgdState`]).

use crate::mlp::Mlp;

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

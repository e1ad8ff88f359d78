//! LSUV, layer-sequential unit-variance initialisation (Mishkin & Matas, "All you need is a
//! good init", ICLR 2016, Algorithm 1).
//!
//! Start from a pre-initialised network (orthonormal in the LSUV paper; Xavier or He for the
//! IBCI paper's "LSUV" columns, which are pre-initialised with the row's base init). Then for
//! each weight layer in order, output layer included: pass a batch of training data through
//! the layers before it, compute the variance of the layer's output `z = a w + b` (before its
//! activation, over all batch x width values), and divide `w` by `sqrt(var)`; repeat until
//! `|var - 1| < tol` or `max_iter` rescalings. Defaults: `tol = 0.1`, `max_iter = 10`; the
//! batch is the caller's (ibci draws it from the training set with the run's seeded stream).
//! Biases are left as they are.

use ibci_kernels::elementwise::{activate, bias_add};
use ibci_kernels::stats::column_mean_var;
use ibci_kernels::{gemm, Mat, MatRef, Par};

use crate::mlp::Mlp;

/// LSUV's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsuvConfig {
    /// Stop when `|var - 1| < tol`.
    pub tol: f32,
    /// At most this many rescalings per layer.
    pub max_iter: usize,
}

impl Default for LsuvConfig {
    fn default() -> Self {
        LsuvConfig {
            tol: 0.1,
            max_iter: 10,
        }
    }
}

/// What LSUV did to one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsuvLayer {
    /// Rescalings applied.
    pub rescalings: usize,
    /// Output variance before the first rescaling.
    pub initial_var: f64,
    /// Output variance after the last one.
    pub final_var: f64,
}

/// Variance over all values of `z = a w + b` for one layer.
fn output_var(a: MatRef<'_>, mlp: &Mlp, l: usize, par: Par) -> (Mat, f64) {
    let layer = &mlp.layers[l];
    let mut z = Mat::zeros(a.rows(), layer.w.cols());
    gemm(z.as_mut(), a, layer.w.as_ref(), 1.0, 0.0, par);
    bias_add(z.as_mut(), &layer.b, par);
    // All values as one column: population variance in f64 (the kernel's fixed order).
    let n = z.as_slice().len();
    let all = MatRef::from_slice(z.as_slice(), n, 1);
    let (_, var) = column_mean_var(all, 0, par);
    (z, f64::from(var[0]))
}

/// Rescales `mlp`'s weights in place, layer by layer; returns what it did to each layer.
///
/// # Panics
/// If the batch is empty or its width is not the network's input width.
#[track_caller]
pub fn lsuv(mlp: &mut Mlp, batch: MatRef<'_>, cfg: &LsuvConfig, par: Par) -> Vec<LsuvLayer> {
    assert!(batch.rows() > 0, "lsuv: empty batch");
    assert_eq!(
        batch.cols(),
        mlp.layers[0].w.rows(),
        "lsuv: the batch has {} features, the network expects {}",
        batch.cols(),
        mlp.layers[0].w.rows()
    );
    let mut report = Vec::with_capacity(mlp.layers.len());
    let mut input = batch.to_mat();
    for l in 0..mlp.layers.len() {
        let (mut z, mut var) = output_var(input.as_ref(), mlp, l, par);
        let initial_var = var;
        let mut rescalings = 0;
        while (var - 1.0).abs() >= f64::from(cfg.tol) && rescalings < cfg.max_iter && var > 0.0 {
            let s = (1.0 / var.sqrt()) as f32;
            mlp.layers[l]
                .w
                .as_mut_slice()
                .iter_mut()
                .for_each(|w| *w *= s);
            rescalings += 1;
            (z, var) = output_var(input.as_ref(), mlp, l, par);
        }
        report.push(LsuvLayer {
            rescalings,
            initial_var,
            final_var: var,
        });
        activate(mlp.layers[l].act, z.as_mut_slice(), par);
        input = z;
    }
    report
}

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
//!
//! [`LsuvRule::AuthorPytorch`] is the protocol of the LSUV author's PyTorch code
//! (`LSUVinit` in ducha-aiki/LSUV-pytorch), which a PyTorch user would most likely run and
//! which differs from Algorithm 1: it tests the standard deviation, `|std - 1| > tol` (not
//! the variance), and each correction both scales the weights by `c = 1 / (std + 1e-8)` and
//! adds `-mean * c` to every bias (`mean`, `std` over all values of `z`, before the
//! correction), which moves the output mean towards 0; it stops after `max_iter + 1`
//! corrections. Its orthonormal pre-initialisation is the caller's (`--init lsuv-pytorch`).

use ibci_kernels::elementwise::{activate, bias_add};
use ibci_kernels::stats::column_mean_var;
use ibci_kernels::{gemm, Mat, MatRef, Par};

use crate::mlp::{Layer, Mlp};

/// Which LSUV: the paper's Algorithm 1 or its author's PyTorch code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsuvRule {
    /// Algorithm 1: the variance, weights only, until `|var - 1| < tol` or `max_iter`
    /// rescalings.
    Algorithm1,
    /// The author's PyTorch code: the standard deviation, weights scaled and biases shifted
    /// to a zero mean, while `|std - 1| > tol`, at most `max_iter + 1` corrections.
    AuthorPytorch,
}

/// LSUV's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsuvConfig {
    /// Tolerance on the variance (Algorithm 1) or the standard deviation (PyTorch code).
    pub tol: f32,
    /// At most this many rescalings per layer (Algorithm 1; one more for the PyTorch code).
    pub max_iter: usize,
    /// The protocol.
    pub rule: LsuvRule,
}

impl Default for LsuvConfig {
    fn default() -> Self {
        LsuvConfig {
            tol: 0.1,
            max_iter: 10,
            rule: LsuvRule::Algorithm1,
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

/// `z = a w + b` for one layer, and the mean and population variance of all its values.
fn output_stats(a: MatRef<'_>, mlp: &Mlp, l: usize, par: Par) -> (Mat, f64, f64) {
    let layer = &mlp.layers[l];
    let mut z = Mat::zeros(a.rows(), layer.w.cols());
    gemm(z.as_mut(), a, layer.w.as_ref(), 1.0, 0.0, par);
    bias_add(z.as_mut(), &layer.b, par);
    // All values as one column: population variance in f64 (the kernel's fixed order).
    let n = z.as_slice().len();
    let all = MatRef::from_slice(z.as_slice(), n, 1);
    let (mean, var) = column_mean_var(all, 0, par);
    (z, f64::from(mean[0]), f64::from(var[0]))
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
        let (mut z, mut mean, mut var) = output_stats(input.as_ref(), mlp, l, par);
        let initial_var = var;
        let mut rescalings = 0;
        while cfg.rule.corrects(var, rescalings, cfg) {
            cfg.rule.correct(&mut mlp.layers[l], mean, var);
            rescalings += 1;
            (z, mean, var) = output_stats(input.as_ref(), mlp, l, par);
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

impl LsuvRule {
    /// Whether a layer whose output has variance `var` after `done` corrections gets
    /// another.
    fn corrects(self, var: f64, done: usize, cfg: &LsuvConfig) -> bool {
        let tol = f64::from(cfg.tol);
        match self {
            LsuvRule::Algorithm1 => (var - 1.0).abs() >= tol && done < cfg.max_iter && var > 0.0,
            // The PyTorch code corrects, then stops once it has made more than max_iter.
            LsuvRule::AuthorPytorch => (var.sqrt() - 1.0).abs() > tol && done <= cfg.max_iter,
        }
    }

    /// One correction of `layer`, whose output has mean `mean` and variance `var`.
    fn correct(self, layer: &mut Layer, mean: f64, var: f64) {
        match self {
            LsuvRule::Algorithm1 => {
                let s = (1.0 / var.sqrt()) as f32;
                layer.w.as_mut_slice().iter_mut().for_each(|w| *w *= s);
            }
            LsuvRule::AuthorPytorch => {
                let coef = 1.0 / (var.sqrt() + 1e-8);
                let shift = (-mean * coef) as f32;
                let coef = coef as f32;
                layer.w.as_mut_slice().iter_mut().for_each(|w| *w *= coef);
                layer.b.iter_mut().for_each(|b| *b += shift);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ibci_kernels::Activation;

    /// One neuron, inputs 1 and 3, weight 2, bias 0: z = 2, 6 (mean 4, std 2). The PyTorch
    /// rule scales by 1 / 2 and shifts the bias by -4 / 2: w = 1, b = -2, z = -1, 1 (mean 0,
    /// std 1), done after one correction. Algorithm 1 scales the weight only: w = 1, z = 1, 3.
    #[test]
    fn the_two_rules_by_hand() {
        let net = || Mlp {
            layers: vec![Layer {
                w: Mat::from_vec(1, 1, vec![2.0]),
                b: vec![0.0],
                act: Activation::Identity,
            }],
        };
        let batch = Mat::from_vec(2, 1, vec![1.0, 3.0]);
        let mut m = net();
        let cfg = LsuvConfig {
            rule: LsuvRule::AuthorPytorch,
            ..LsuvConfig::default()
        };
        let r = lsuv(&mut m, batch.as_ref(), &cfg, Par::Seq);
        assert_eq!(r[0].rescalings, 1);
        assert!((r[0].initial_var - 4.0).abs() < 1e-6 && (r[0].final_var - 1.0).abs() < 1e-6);
        assert!((m.layers[0].w.as_slice()[0] - 1.0).abs() < 1e-6);
        assert!((m.layers[0].b[0] + 2.0).abs() < 1e-6);
        let mut m = net();
        let r = lsuv(&mut m, batch.as_ref(), &LsuvConfig::default(), Par::Seq);
        assert_eq!(r[0].rescalings, 1);
        assert!((m.layers[0].w.as_slice()[0] - 1.0).abs() < 1e-6);
        assert_eq!(m.layers[0].b[0], 0.0);
        // A tolerance of 3 on the standard deviation accepts 2 as it is.
        let mut m = net();
        let loose = LsuvConfig { tol: 3.0, ..cfg };
        assert_eq!(
            lsuv(&mut m, batch.as_ref(), &loose, Par::Seq)[0].rescalings,
            0
        );
        assert_eq!(m, net());
    }
}

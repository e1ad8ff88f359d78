//! A multilayer perceptron on ibci-kernels: forward and backward passes.
//!
//! Shapes (B = batch, l = 1..L weight layers, n_0 = inputs, n_L = classes):
//!
//! ```text
//! x        B x n_0            input batch (row-major)
//! w_l      n_{l-1} x n_l      weights, one column per neuron        y = x w + b
//! b_l      n_l                biases
//! a_l      B x n_l            a_l = f_l(a_{l-1} w_l + b_l), a_0 = x; a_L are the logits
//! loss     mean_i CE(softmax(a_L[i]), y_i)
//! ```
//!
//! Backward, with `d` for gradients of the mean loss:
//!
//! ```text
//! dz_L     = softmax(a_L) - onehot(y), divided by B     (fused in softmax_xent)
//! dz_l     = da_l * f_l'(a_l)                           (from the layer's output)
//! dw_l     = a_{l-1}^T dz_l      db_l = column sums of dz_l
//! da_{l-1} = dz_l w_l^T
//! ```
//!
//! Every step is an ibci-kernels kernel, so a pass gives the same bits for any thread count
//! and kernel path.

use ibci_kernels::elementwise::{activate, activate_backward, bias_add};
use ibci_kernels::softmax::{argmax_rows, softmax_xent};
use ibci_kernels::stats::column_sums;
use ibci_kernels::{gemm, Activation, Mat, MatRef, Par};
use rand_core::RngCore;

use crate::init::{BiasInit, WeightInit};
use crate::spec::ArchSpec;

/// One weight layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// `fan_in x fan_out`, one column per neuron.
    pub w: Mat,
    /// `fan_out` biases.
    pub b: Vec<f32>,
    /// The activation applied to `x w + b`.
    pub act: Activation,
}

/// A multilayer perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// The weight layers, input side first.
    pub layers: Vec<Layer>,
}

/// Gradients of the loss, shaped like the layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads {
    /// d loss / d w_l.
    pub dw: Vec<Mat>,
    /// d loss / d b_l.
    pub db: Vec<Vec<f32>>,
}

/// What one batch's forward and backward pass measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchStats {
    /// Mean cross-entropy over the batch.
    pub loss: f64,
    /// Samples whose largest logit is not their label.
    pub errors: usize,
}

impl Mlp {
    /// A network of the given shape, each layer's weights and biases drawn in layer order.
    pub fn init(
        spec: &ArchSpec,
        w_init: &[WeightInit],
        b_init: BiasInit,
        rng: &mut impl RngCore,
    ) -> Mlp {
        assert_eq!(
            w_init.len(),
            spec.layers(),
            "Mlp::init: one weight initialiser per layer"
        );
        let layers = (0..spec.layers())
            .map(|l| {
                let (fi, fo) = (spec.widths[l], spec.widths[l + 1]);
                let w = w_init[l].sample(fi, fo, rng);
                let b = b_init.sample(fi, fo, rng);
                Layer {
                    w,
                    b,
                    act: spec.acts[l],
                }
            })
            .collect();
        Mlp { layers }
    }

    /// The architecture.
    pub fn spec(&self) -> ArchSpec {
        let mut widths = vec![self.layers[0].w.rows()];
        widths.extend(self.layers.iter().map(|l| l.w.cols()));
        ArchSpec {
            widths,
            acts: self.layers.iter().map(|l| l.act).collect(),
        }
    }

    /// Zero gradients shaped like this network.
    pub fn zero_grads(&self) -> Grads {
        Grads {
            dw: self
                .layers
                .iter()
                .map(|l| Mat::zeros(l.w.rows(), l.w.cols()))
                .collect(),
            db: self.layers.iter().map(|l| vec![0.0; l.b.len()]).collect(),
        }
    }

    /// The activations `a_1 .. a_L` of a batch (`a_L` are the logits).
    ///
    /// # Panics
    /// If `x.cols()` is not the input width.
    #[track_caller]
    pub fn forward(&self, x: MatRef<'_>, par: Par) -> Vec<Mat> {
        assert_eq!(
            x.cols(),
            self.layers[0].w.rows(),
            "Mlp::forward: inputs have {} features, the network expects {}",
            x.cols(),
            self.layers[0].w.rows()
        );
        let mut acts: Vec<Mat> = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let input = if l == 0 { x } else { acts[l - 1].as_ref() };
            let mut z = Mat::zeros(x.rows(), layer.w.cols());
            gemm(z.as_mut(), input, layer.w.as_ref(), 1.0, 0.0, par);
            bias_add(z.as_mut(), &layer.b, par);
            activate(layer.act, z.as_mut_slice(), par);
            acts.push(z);
        }
        acts
    }

    /// Mean loss and errors of a batch, and the gradients of the mean loss into `grads`.
    ///
    /// # Panics
    /// If the batch is empty, shapes do not match, or a label is not below the output width.
    #[track_caller]
    pub fn loss_and_grads(
        &self,
        x: MatRef<'_>,
        labels: &[usize],
        grads: &mut Grads,
        par: Par,
    ) -> BatchStats {
        assert!(x.rows() > 0, "Mlp::loss_and_grads: empty batch");
        assert_eq!(
            labels.len(),
            x.rows(),
            "Mlp::loss_and_grads: {} labels for {} samples",
            labels.len(),
            x.rows()
        );
        let acts = self.forward(x, par);
        let logits = acts.last().expect("at least one layer");
        let errors = argmax_rows(logits.as_ref())
            .iter()
            .zip(labels)
            .filter(|(p, y)| p != y)
            .count();
        let mut dz = Mat::zeros(logits.rows(), logits.cols());
        let loss = softmax_xent(logits.as_ref(), labels, Some(dz.as_mut()), 1.0, par);
        let last = self.layers.len() - 1;
        // softmax_xent gives d loss / d logits; a non-identity output activation adds f'.
        activate_backward(
            self.layers[last].act,
            logits.as_slice(),
            dz.as_mut_slice(),
            par,
        );
        for l in (0..self.layers.len()).rev() {
            let input = if l == 0 { x } else { acts[l - 1].as_ref() };
            gemm(grads.dw[l].as_mut(), input.t(), dz.as_ref(), 1.0, 0.0, par);
            grads.db[l] = column_sums(dz.as_ref(), par);
            if l > 0 {
                let w = &self.layers[l].w;
                let mut da = Mat::zeros(dz.rows(), w.rows());
                gemm(da.as_mut(), dz.as_ref(), w.as_ref().t(), 1.0, 0.0, par);
                activate_backward(
                    self.layers[l - 1].act,
                    acts[l - 1].as_slice(),
                    da.as_mut_slice(),
                    par,
                );
                dz = da;
            }
        }
        BatchStats { loss, errors }
    }

    /// Mean loss and error count over a data set, in batches of `batch` rows.
    ///
    /// # Panics
    /// If `labels.len() != x.rows()`, the features do not match, or a label is out of range.
    #[track_caller]
    pub fn evaluate(&self, x: MatRef<'_>, labels: &[usize], batch: usize, par: Par) -> BatchStats {
        let n = x.rows();
        assert_eq!(
            labels.len(),
            n,
            "Mlp::evaluate: {} labels for {n} samples",
            labels.len()
        );
        let (mut loss_sum, mut errors) = (0f64, 0usize);
        let mut i = 0;
        while i < n {
            let rows = batch.min(n - i);
            let acts = self.forward(x.rows_range(i, rows), par);
            let logits = acts.last().expect("at least one layer");
            let ys = &labels[i..i + rows];
            loss_sum += softmax_xent(logits.as_ref(), ys, None, 1.0, par) * rows as f64;
            errors += argmax_rows(logits.as_ref())
                .iter()
                .zip(ys)
                .filter(|(p, y)| p != y)
                .count();
            i += rows;
        }
        BatchStats {
            loss: if n > 0 { loss_sum / n as f64 } else { 0.0 },
            errors,
        }
    }
}

/// Copies the given rows of `x` into a new row-major matrix, in order.
///
/// # Panics
/// If a row index is out of range.
#[track_caller]
pub fn gather_rows(x: MatRef<'_>, rows: impl IntoIterator<Item = usize>) -> Mat {
    let cols = x.cols();
    let mut data = Vec::new();
    for i in rows {
        match x.row(i) {
            Some(r) => data.extend_from_slice(r),
            None => data.extend((0..cols).map(|j| x.at(i, j))),
        }
    }
    let n = data.len() / cols.max(1);
    Mat::from_vec(n, cols, data)
}

//! The backward half of a training step: layers 2..L forward and back (the caller's share
//! while, on two threads, the other sorts the batch's pixels), and each layer's SGD update
//! (for the first layer, the sparse weight gradient fused with the step).

use ibci_kernels::elementwise::{activate_backward, sgd_step};
use ibci_kernels::gemm;
use ibci_kernels::softmax::softmax_xent_errors;
use ibci_kernels::sparse::exact::matrix_floor;
use ibci_kernels::sparse::{cols_t_times, GradOut, Operand};
use ibci_kernels::stats::column_sums_into;

use super::{sparse_index, view, view_mut, Batch, Update, Workspace};
use crate::mlp::{BatchStats, Mlp};
use crate::sgd::SgdState;

impl Workspace {
    /// Layers 2..L of a step: their forward pass from the first layer's activations, the
    /// loss and its gradient, and each one's backward pass and update (leaving the first
    /// layer's `dz` in `self.dz`). A non-finite loss returns before anything changes.
    pub(super) fn upper(
        &mut self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        s: &Batch<'_>,
    ) -> BatchStats {
        let (b, par) = (s.rows.len(), s.par);
        self.forward_rest(mlp, b, par);
        let layers = mlp.layers.len();
        let c = mlp.layers[layers - 1].w.cols();
        self.yb.clear();
        self.yb.extend(s.rows.iter().map(|&i| s.data.y[i]));
        let (loss, errors) = softmax_xent_errors(
            view(&self.acts[layers - 1], b, c),
            &self.yb,
            Some(view_mut(&mut self.dz, b, c)),
            1.0,
            par,
        );
        let stats = BatchStats { loss, errors };
        if !loss.is_finite() {
            return stats;
        }
        // softmax_xent gives d loss / d logits; a non-identity output activation adds f'.
        activate_backward(
            mlp.layers[layers - 1].act,
            &self.acts[layers - 1][..b * c],
            &mut self.dz[..b * c],
            par,
        );
        for l in (1..layers).rev() {
            let (n_in, n_out) = (mlp.layers[l].w.rows(), mlp.layers[l].w.cols());
            // da_{l-1} = dz_l W_l^T, with W_l as it was in the forward pass.
            let dz = view(&self.dz, b, n_out);
            gemm(
                view_mut(&mut self.da, b, n_in),
                dz,
                mlp.layers[l].w.as_ref().t(),
                1.0,
                0.0,
                par,
            );
            activate_backward(
                mlp.layers[l - 1].act,
                &self.acts[l - 1][..b * n_in],
                &mut self.da[..b * n_in],
                par,
            );
            self.update_weights(mlp, state, s, l, &mut false);
            self.update_bias(mlp, state, s, l);
            std::mem::swap(&mut self.dz, &mut self.da);
        }
        // The first layer's dz floor for its sparse gradient's guard, here rather than in
        // the update: on two threads this phase usually waits for the pixel sort anyway,
        // while in the update the other thread would wait for the scan (2.0-2.3 us for a
        // 100 x 100 dz in L1, AMD EPYC with AVX-512, 2026-12-03).
        if sparse_index(&s.data).is_some() {
            let n1 = mlp.layers[0].w.cols();
            self.dz1_floor = Some(matrix_floor(view(&self.dz, b, n1)));
        }
        // Likewise the first layer's bias step (it needs only dz, and nothing reads b_1
        // before the next forward pass, so the order against W_1's step changes no bit).
        self.update_bias(mlp, state, s, 0);
        stats
    }

    /// `b_l = b_l - lr * column sums of dz_l` (or with momentum and weight decay), from
    /// layer l's `dz` (in `self.dz`) of the batch.
    fn update_bias(&mut self, mlp: &mut Mlp, state: &mut SgdState, s: &Batch<'_>, l: usize) {
        let (b, cfg) = (s.rows.len(), s.cfg);
        let n_out = mlp.layers[l].w.cols();
        column_sums_into(
            view(&self.dz, b, n_out),
            &mut self.db[..n_out],
            &mut self.colsum,
        );
        let vb = state.velocity.get_mut(l).map(|(_, vb)| &mut vb[..]);
        sgd_step(
            &mut mlp.layers[l].b,
            &self.db[..n_out],
            vb,
            cfg.lr,
            cfg.momentum,
            cfg.weight_decay,
            s.par,
        );
    }

    /// `W_l <- W_l - lr * a_{l-1}^T dz_l` (or the gradient and `sgd_step`). The bias is the
    /// caller's (`update_bias`: for l >= 2 right after, for the first layer at the end of
    /// `upper`).
    pub(super) fn update_weights(
        &mut self,
        mlp: &mut Mlp,
        state: &mut SgdState,
        s: &Batch<'_>,
        l: usize,
        gathered: &mut bool,
    ) {
        let (b, update, par) = (s.rows.len(), s.update, s.par);
        let (n_in, n_out) = (mlp.layers[l].w.rows(), mlp.layers[l].w.cols());
        if l == 0 {
            if sparse_index(&s.data).is_some() {
                let dz = match self.dz1_floor {
                    Some(floor) => Operand::with_floor(view(&self.dz, b, n_out), floor),
                    None => view(&self.dz, b, n_out).into(),
                };
                let out = match update {
                    Update::Fused(lr) => GradOut::Sgd(mlp.layers[0].w.as_mut(), lr),
                    Update::Separate => GradOut::Store(view_mut(&mut self.dw[0], n_in, n_out)),
                };
                // The step filled the batch's columns whenever the data have a sparse index.
                debug_assert_eq!(self.cols.rows(), b, "the step fills the batch's columns");
                if let Some(floor) = cols_t_times(out, &self.cols, dz, &mut self.packed, par) {
                    // The floor of W_1 itself when the update was fused into the product.
                    self.w1_floor = matches!(update, Update::Fused(_)).then_some(floor);
                    return self.finish_separate(mlp, state, s, l);
                }
            }
            if !*gathered {
                self.gather(s.data.x, s.rows);
                *gathered = true;
            }
        }
        let dz = view(&self.dz, b, n_out);
        let input = if l == 0 {
            view(&self.xb, b, n_in)
        } else {
            view(&self.acts[l - 1], b, n_in)
        };
        match update {
            Update::Fused(lr) => gemm(mlp.layers[l].w.as_mut(), input.t(), dz, -lr, 1.0, par),
            Update::Separate => gemm(
                view_mut(&mut self.dw[l], n_in, n_out),
                input.t(),
                dz,
                1.0,
                0.0,
                par,
            ),
        }
        self.finish_separate(mlp, state, s, l);
    }

    /// For momentum or weight decay: the SGD step from the materialised gradient.
    fn finish_separate(&mut self, mlp: &mut Mlp, state: &mut SgdState, s: &Batch<'_>, l: usize) {
        let cfg = s.cfg;
        if s.update == Update::Separate {
            let vw = state.velocity.get_mut(l).map(|(vw, _)| &mut vw[..]);
            let w = mlp.layers[l].w.as_mut_slice();
            sgd_step(
                w,
                &self.dw[l],
                vw,
                cfg.lr,
                cfg.momentum,
                cfg.weight_decay,
                s.par,
            );
        }
    }
}

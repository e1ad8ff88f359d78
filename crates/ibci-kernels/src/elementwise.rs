//! Elementwise kernels: bias add, activations and their derivatives, the SGD update.
//!
//! Layout: row-major matrices as `MatMut`/`MatRef` views or flat slices. Every output element
//! depends on its own inputs only, so any split over threads gives the same bits; work is cut
//! into fixed chunks of [`CHUNK`] elements. The activations run on `wide::f32x8` (the same
//! code on every host, see [`crate::math`]) or on its operation-for-operation copies for the
//! AVX2 path (eight lanes) and the AVX-512 path (sixteen lanes), which give the same bits;
//! derivatives are expressed through the activation's *output* `y`, which is what a layer
//! keeps for its backward pass:
//!
//! | activation | y = f(x) | f'(x) from y |
//! |---|---|---|
//! | identity | x | 1 |
//! | relu | max(x, 0) (NaN stays NaN) | 1 if y > 0 else 0 |
//! | tanh | [`crate::math::tanh`] | 1 - y*y |
//! | sigmoid | 1 / (1 + exp(-x)) | y * (1 - y) |

use rayon::prelude::*;
use wide::f32x8;

use crate::dispatch::KernelPath;
use crate::mat::MatMut;
use crate::math::{exp_x8, map_x8, tanh_x8};
use crate::par::Par;

/// Elements per parallel work item.
pub const CHUNK: usize = 1 << 14;

/// A layer's activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// f(x) = x.
    Identity,
    /// f(x) = max(x, 0).
    Relu,
    /// f(x) = tanh x.
    Tanh,
    /// f(x) = 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    /// All four, in declaration order.
    pub const ALL: [Activation; 4] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
    ];

    /// Lower-case name (`identity`, `relu`, `tanh`, `sigmoid`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Runs `f` over fixed chunks of `xs`, in parallel or not.
fn chunked(xs: &mut [f32], par: Par, f: impl Fn(&mut [f32]) + Sync + Send) {
    match par {
        Par::Seq => xs.chunks_mut(CHUNK).for_each(f),
        Par::Rayon => xs.par_chunks_mut(CHUNK).for_each(f),
    }
}

/// Runs `f` over matching fixed chunks of `xs` and `ys`.
#[track_caller]
fn chunked2(xs: &mut [f32], ys: &[f32], par: Par, f: impl Fn(&mut [f32], &[f32]) + Sync + Send) {
    assert_eq!(xs.len(), ys.len(), "elementwise: slices differ in length");
    match par {
        Par::Seq => xs
            .chunks_mut(CHUNK)
            .zip(ys.chunks(CHUNK))
            .for_each(|(a, b)| f(a, b)),
        Par::Rayon => xs
            .par_chunks_mut(CHUNK)
            .zip(ys.par_chunks(CHUNK))
            .for_each(|(a, b)| f(a, b)),
    }
}

fn relu_x8(x: f32x8) -> f32x8 {
    // x where x > 0, else 0; NaN is not > 0 and not < 0: keep it visible.
    let zero = f32x8::splat(0.0);
    x.simd_lt(zero).select(zero, x)
}

fn sigmoid_x8(x: f32x8) -> f32x8 {
    let one = f32x8::splat(1.0);
    one / (one + exp_x8(-x))
}

/// `x <- f(x)` for every element, on the process-wide default path
/// ([`KernelPath::default_path`]).
pub fn activate(act: Activation, xs: &mut [f32], par: Par) {
    activate_with(KernelPath::default_path(), act, xs, par);
}

/// [`activate`] on an explicit path: the portable `wide` code (four lanes at the build's
/// level), or its copies on AVX2 (eight lanes) or AVX-512 (sixteen lanes). The same bits.
///
/// # Panics
/// If this host does not support `path`.
#[track_caller]
pub fn activate_with(path: KernelPath, act: Activation, xs: &mut [f32], par: Par) {
    assert!(path.supported(), "activate: path {path} not supported here");
    #[cfg(target_arch = "x86_64")]
    if path != KernelPath::Portable {
        use crate::math::{avx2, avx512};
        let kernel: unsafe fn(&mut [f32]) = match (path, act) {
            (_, Activation::Identity) => return,
            (KernelPath::Avx512, Activation::Relu) => avx512::relu_inplace,
            (KernelPath::Avx512, Activation::Tanh) => avx512::tanh_inplace,
            (KernelPath::Avx512, Activation::Sigmoid) => avx512::sigmoid_inplace,
            (_, Activation::Relu) => avx2::relu_inplace,
            (_, Activation::Tanh) => avx2::tanh_inplace,
            (_, Activation::Sigmoid) => avx2::sigmoid_inplace,
        };
        // SAFETY: `path` is supported here (checked above): the AVX-512 path's kernels need
        // AVX-512F, which it requires; the AVX2 path's need AVX2, which it requires.
        chunked(xs, par, |c| unsafe { kernel(c) });
        return;
    }
    match act {
        Activation::Identity => {}
        Activation::Relu => chunked(xs, par, |c| map_x8(c, relu_x8)),
        Activation::Tanh => chunked(xs, par, |c| map_x8(c, tanh_x8)),
        Activation::Sigmoid => chunked(xs, par, |c| map_x8(c, sigmoid_x8)),
    }
}

/// `dy <- dy * f'(x)`, given the activation's output `y = f(x)` (see the module table).
///
/// # Panics
/// If `dy.len() != y.len()`.
#[track_caller]
pub fn activate_backward(act: Activation, y: &[f32], dy: &mut [f32], par: Par) {
    assert_eq!(
        dy.len(),
        y.len(),
        "activate_backward: dy has {} elements, y has {}",
        dy.len(),
        y.len()
    );
    let apply = |d: &mut [f32], y: &[f32], f: fn(f32, f32) -> f32| {
        d.iter_mut().zip(y).for_each(|(d, &y)| *d = f(*d, y));
    };
    match act {
        Activation::Identity => {}
        Activation::Relu => chunked2(dy, y, par, |d, y| {
            apply(d, y, |d, y| if y > 0.0 { d } else { 0.0 })
        }),
        Activation::Tanh => chunked2(dy, y, par, |d, y| apply(d, y, |d, y| d * (1.0 - y * y))),
        Activation::Sigmoid => chunked2(dy, y, par, |d, y| apply(d, y, |d, y| d * (y * (1.0 - y)))),
    }
}

/// `y[i, j] <- y[i, j] + bias[j]` for every row.
///
/// # Panics
/// If `bias.len() != y.cols()`.
#[track_caller]
pub fn bias_add(mut y: MatMut<'_>, bias: &[f32], par: Par) {
    assert_eq!(
        bias.len(),
        y.cols(),
        "bias_add: bias has {} elements, the matrix has {} columns",
        bias.len(),
        y.cols()
    );
    let (rows, cols) = (y.rows(), y.cols());
    if rows == 0 || cols == 0 {
        return;
    }
    if let Some(first) = y.row_mut(0).map(|r| r.as_mut_ptr()) {
        if y.row_stride() == cols {
            // Contiguous rows: one slice, split on row boundaries.
            // SAFETY: a unit column stride and a row stride equal to cols make the view's
            // rows*cols elements one contiguous run starting at row 0, borrowed mutably by `y`.
            let all = unsafe { std::slice::from_raw_parts_mut(first, rows * cols) };
            let rows_per_chunk = (CHUNK / cols).max(1);
            let add = |c: &mut [f32]| {
                c.chunks_mut(cols)
                    .for_each(|r| r.iter_mut().zip(bias).for_each(|(x, b)| *x += b));
            };
            match par {
                Par::Seq => all.chunks_mut(rows_per_chunk * cols).for_each(add),
                Par::Rayon => all.par_chunks_mut(rows_per_chunk * cols).for_each(add),
            }
            return;
        }
    }
    for i in 0..rows {
        for (j, b) in bias.iter().enumerate() {
            let x = y.as_ref().at(i, j) + b;
            y.set(i, j, x);
        }
    }
}

/// One step of SGD with PyTorch's semantics (`torch.optim.SGD`, no dampening, no Nesterov):
///
/// ```text
/// d = g + weight_decay * w                  (when weight_decay != 0)
/// v = momentum * v + d;  d = v              (when momentum != 0; v starts at 0)
/// w = w - lr * d
/// ```
///
/// Each line rounds as written (no fused multiply-add).
///
/// # Panics
/// If the slices differ in length, or `momentum != 0` without a velocity buffer.
#[track_caller]
pub fn sgd_step(
    w: &mut [f32],
    g: &[f32],
    velocity: Option<&mut [f32]>,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    par: Par,
) {
    assert_eq!(
        w.len(),
        g.len(),
        "sgd_step: w has {} elements, g has {}",
        w.len(),
        g.len()
    );
    match velocity {
        None => {
            assert!(
                momentum == 0.0,
                "sgd_step: momentum needs a velocity buffer"
            );
            chunked2(w, g, par, |w, g| {
                for (w, &g) in w.iter_mut().zip(g) {
                    let d = if weight_decay != 0.0 {
                        g + weight_decay * *w
                    } else {
                        g
                    };
                    *w -= lr * d;
                }
            });
        }
        Some(v) => {
            assert_eq!(
                v.len(),
                w.len(),
                "sgd_step: velocity has {} elements, w has {}",
                v.len(),
                w.len()
            );
            let step = |(w, (v, g)): (&mut [f32], (&mut [f32], &[f32]))| {
                for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                    let d = if weight_decay != 0.0 {
                        g + weight_decay * *w
                    } else {
                        g
                    };
                    let d = if momentum != 0.0 {
                        *v = momentum * *v + d;
                        *v
                    } else {
                        d
                    };
                    *w -= lr * d;
                }
            };
            match par {
                Par::Seq => w
                    .chunks_mut(CHUNK)
                    .zip(v.chunks_mut(CHUNK).zip(g.chunks(CHUNK)))
                    .for_each(step),
                Par::Rayon => w
                    .par_chunks_mut(CHUNK)
                    .zip(v.par_chunks_mut(CHUNK).zip(g.par_chunks(CHUNK)))
                    .for_each(step),
            }
        }
    }
}

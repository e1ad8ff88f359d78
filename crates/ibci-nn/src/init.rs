//! Weight initialisers with the names and semantics of `torch.nn.init`, and the random
//! numbers they draw.
//!
//! Layout: a weight matrix here is `fan_in x fan_out` (one column per neuron, `y = x W + b`),
//! the transpose of PyTorch's `(out, in)` `nn.Linear.weight`; fans are taken accordingly
//! (`fan_in` = rows, `fan_out` = columns), so the distributions are PyTorch's. The draws are
//! not PyTorch's bits: every number comes from the caller's `RngCore` (ibci uses
//! `Xoshiro256PlusPlus` seeded from one `u64`), in row-major order of this layout.
//!
//! | initialiser | distribution |
//! |---|---|
//! | `xavier_uniform(gain)` | U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)) |
//! | `xavier_normal(gain)` | N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out)) |
//! | `kaiming_uniform(a, mode, nl)` | U(-b, b), b = sqrt(3) * gain(nl, a) / sqrt(fan) |
//! | `kaiming_normal(a, mode, nl)` | N(0, s^2), s = gain(nl, a) / sqrt(fan) |
//! | `orthogonal(gain)` | gain * Q of the QR of a standard normal matrix, signs fixed by diag(R) |
//! | `linear_default` | `nn.Linear`'s: kaiming_uniform(a = sqrt 5, fan_in) = U(+-1/sqrt(fan_in)); bias U(+-1/sqrt(fan_in)) |
//!
//! `gain(nl, a)` is `torch.nn.init.calculate_gain`: linear/identity/sigmoid 1, tanh 5/3,
//! relu sqrt 2, leaky_relu sqrt(2 / (1 + a^2)).
//!
//! Uniform numbers have 24 random bits (`next_u32 >> 8`); normal numbers come from Marsaglia's
//! polar method with [`ibci_kernels::math::ln`] and IEEE `sqrt`, so no platform libm is
//! involved and the same seed gives the same bits everywhere.

use ibci_kernels::math;
use ibci_kernels::Mat;
use rand_core::RngCore;

/// Uniform in [0, 1) with 24 random bits.
pub fn uniform01(rng: &mut impl RngCore) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [lo, hi).
pub fn uniform(rng: &mut impl RngCore, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * uniform01(rng)
}

/// An unbiased integer in `0..n` (rejection sampling; `n > 0`).
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    assert!(n > 0, "below: empty range");
    let zone = u64::MAX - (u64::MAX % n) - 1;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// `k` distinct indices of `0..n` in draw order: the first `k` positions of a partial
/// Fisher-Yates shuffle of `0..n` (position `i` swapped with `i + below(n - i)`), so `k`
/// draws from `rng`. Every seeded subset of ibci (training images, LSUV's batch, the
/// campaign's and the information plane's samples) is drawn this way.
///
/// # Panics
/// If `k > n`.
#[track_caller]
pub fn sample_indices(rng: &mut impl RngCore, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "sample_indices: {k} of {n}");
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + below(rng, (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx
}

/// Two independent standard normal numbers (Marsaglia's polar method).
pub fn normal_pair(rng: &mut impl RngCore) -> (f32, f32) {
    loop {
        let u = 2.0 * uniform01(rng) - 1.0;
        let v = 2.0 * uniform01(rng) - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            let f = (-2.0 * math::ln(s) / s).sqrt();
            return (u * f, v * f);
        }
    }
}

/// Fills `out` with N(mean, std^2) numbers, in order.
pub fn fill_normal(rng: &mut impl RngCore, out: &mut [f32], mean: f32, std: f32) {
    let mut pairs = out.chunks_exact_mut(2);
    for p in &mut pairs {
        let (a, b) = normal_pair(rng);
        p[0] = mean + std * a;
        p[1] = mean + std * b;
    }
    if let [last] = pairs.into_remainder() {
        *last = mean + std * normal_pair(rng).0;
    }
}

/// Fills `out` with U(lo, hi) numbers, in order.
pub fn fill_uniform(rng: &mut impl RngCore, out: &mut [f32], lo: f32, hi: f32) {
    out.iter_mut().for_each(|x| *x = uniform(rng, lo, hi));
}

/// Which fan `kaiming_*` scales by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Preserves the forward pass's variance.
    FanIn,
    /// Preserves the backward pass's variance.
    FanOut,
}

/// The nonlinearity a gain is computed for (`torch.nn.init.calculate_gain`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Identity/linear: 1.
    Linear,
    /// Sigmoid: 1.
    Sigmoid,
    /// tanh: 5/3.
    Tanh,
    /// ReLU: sqrt 2.
    Relu,
    /// Leaky ReLU with negative slope `a`: sqrt(2 / (1 + a^2)).
    LeakyRelu(f32),
}

/// `torch.nn.init.calculate_gain`.
pub fn gain(nl: Nonlinearity) -> f32 {
    match nl {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => std::f32::consts::SQRT_2,
        Nonlinearity::LeakyRelu(a) => (2.0 / (1.0 + a * a)).sqrt(),
    }
}

/// A weight initialiser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightInit {
    /// `xavier_uniform_(w, gain)`.
    XavierUniform {
        /// Gain.
        gain: f32,
    },
    /// `xavier_normal_(w, gain)`.
    XavierNormal {
        /// Gain.
        gain: f32,
    },
    /// `kaiming_uniform_(w, a, mode, nonlinearity)`.
    KaimingUniform {
        /// Fan to scale by.
        mode: FanMode,
        /// Nonlinearity for the gain.
        nl: Nonlinearity,
    },
    /// `kaiming_normal_(w, a, mode, nonlinearity)`.
    KaimingNormal {
        /// Fan to scale by.
        mode: FanMode,
        /// Nonlinearity for the gain.
        nl: Nonlinearity,
    },
    /// `orthogonal_(w, gain)`.
    Orthogonal {
        /// Gain.
        gain: f32,
    },
    /// `nn.Linear`'s default: `kaiming_uniform_(w, a = sqrt 5)`, i.e. U(+-1/sqrt(fan_in)).
    LinearDefault,
}

/// A bias initialiser.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BiasInit {
    /// Every bias equal to the value (the paper's code uses 0, or 0.01).
    Constant(f32),
    /// `nn.Linear`'s default: U(+-1/sqrt(fan_in)).
    LinearDefault,
}

impl WeightInit {
    /// A `fan_in x fan_out` matrix drawn from this initialiser.
    pub fn sample(&self, fan_in: usize, fan_out: usize, rng: &mut impl RngCore) -> Mat {
        let mut w = Mat::zeros(fan_in, fan_out);
        let fan = |mode: FanMode| match mode {
            FanMode::FanIn => fan_in as f32,
            FanMode::FanOut => fan_out as f32,
        };
        let sum = (fan_in + fan_out) as f32;
        match *self {
            WeightInit::XavierUniform { gain } => {
                let b = gain * (6.0 / sum).sqrt();
                fill_uniform(rng, w.as_mut_slice(), -b, b);
            }
            WeightInit::XavierNormal { gain } => {
                fill_normal(rng, w.as_mut_slice(), 0.0, gain * (2.0 / sum).sqrt());
            }
            WeightInit::KaimingUniform { mode, nl } => {
                let b = 3f32.sqrt() * gain(nl) / fan(mode).sqrt();
                fill_uniform(rng, w.as_mut_slice(), -b, b);
            }
            WeightInit::KaimingNormal { mode, nl } => {
                fill_normal(rng, w.as_mut_slice(), 0.0, gain(nl) / fan(mode).sqrt());
            }
            WeightInit::LinearDefault => {
                let b = 1.0 / (fan_in as f32).sqrt();
                fill_uniform(rng, w.as_mut_slice(), -b, b);
            }
            WeightInit::Orthogonal { gain } => {
                w = orthogonal(fan_in, fan_out, gain, rng);
            }
        }
        w
    }
}

impl BiasInit {
    /// `fan_out` biases for a layer with `fan_in` inputs.
    pub fn sample(&self, fan_in: usize, fan_out: usize, rng: &mut impl RngCore) -> Vec<f32> {
        match *self {
            BiasInit::Constant(c) => vec![c; fan_out],
            BiasInit::LinearDefault => {
                let b = 1.0 / (fan_in as f32).sqrt();
                let mut v = vec![0f32; fan_out];
                fill_uniform(rng, &mut v, -b, b);
                v
            }
        }
    }
}

/// PyTorch's `orthogonal_` for our layout: the `(out, in)` weight is `gain * Q` from the QR
/// of a standard normal `(out, in)` matrix (of its transpose when `out < in`), with Q's
/// columns signed by `diag(R)`; the result is returned transposed, `in x out`. The QR is
/// Householder in f64 (only IEEE operations: deterministic).
fn orthogonal(fan_in: usize, fan_out: usize, gain: f32, rng: &mut impl RngCore) -> Mat {
    let (rows, cols) = (fan_out, fan_in); // PyTorch's weight shape
    let mut g = vec![0f32; rows * cols];
    fill_normal(rng, &mut g, 0.0, 1.0);
    // Tall matrix m x n (m >= n): the weight, or its transpose.
    let tall = rows >= cols;
    let (m, n) = if tall { (rows, cols) } else { (cols, rows) };
    let mut a: Vec<f64> = (0..m * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            f64::from(if tall {
                g[i * cols + j]
            } else {
                g[j * cols + i]
            })
        })
        .collect();
    let q = householder_thin_q(&mut a, m, n);
    // weight (rows x cols) = q (m x n) or its transpose; ours is the weight's transpose.
    Mat::from_fn(fan_in, fan_out, |i, o| {
        // weight[o][i]
        let v = if tall { q[o * n + i] } else { q[i * n + o] };
        gain * v as f32
    })
}

/// Thin Q (`m x n`, row-major) of the QR of `a` (`m x n`, m >= n, overwritten), with each
/// column multiplied by the sign of R's diagonal entry (PyTorch's convention).
fn householder_thin_q(a: &mut [f64], m: usize, n: usize) -> Vec<f64> {
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(n);
    let mut rdiag = vec![0f64; n];
    for k in 0..n {
        let norm = (k..m)
            .map(|i| a[i * n + k] * a[i * n + k])
            .sum::<f64>()
            .sqrt();
        let alpha = if a[k * n + k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..m).map(|i| a[i * n + k]).collect();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 > 0.0 {
            for j in k..n {
                let dot: f64 = (k..m).map(|i| v[i - k] * a[i * n + j]).sum();
                let f = 2.0 * dot / vnorm2;
                for i in k..m {
                    a[i * n + j] -= f * v[i - k];
                }
            }
        }
        rdiag[k] = a[k * n + k];
        vs.push(v);
    }
    // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
    let mut q = vec![0f64; m * n];
    for j in 0..n {
        q[j * n + j] = 1.0;
    }
    for k in (0..n).rev() {
        let v = &vs[k];
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        for j in 0..n {
            let dot: f64 = (k..m).map(|i| v[i - k] * q[i * n + j]).sum();
            let f = 2.0 * dot / vnorm2;
            for i in k..m {
                q[i * n + j] -= f * v[i - k];
            }
        }
    }
    for (j, &d) in rdiag.iter().enumerate() {
        if d < 0.0 {
            for i in 0..m {
                q[i * n + j] = -q[i * n + j];
            }
        }
    }
    q
}

//! AVX-512 copies of the vector functions: sixteen lanes per register, the same bits.
//!
//! Each function repeats its portable twin ([`crate::math::exp_x8`], [`crate::math::tanh_x8`], the
//! portable sigmoid and relu) operation for operation: the same IEEE-rounded adds, subs, muls
//! and divisions in the same order, the same rounding and integer steps, no fused
//! multiply-add. Selections that the portable code makes with a lane mask and a blend are
//! made here with an AVX-512 mask register, which picks the same lane values. Only AVX-512F
//! instructions are used (the float bitwise ops of AVX-512DQ are done on the integer view),
//! so every host the [`crate::KernelPath::Avx512`] path accepts can run them.
//!
//! The slice kernels handle the tail with a masked load (absent lanes read as 0.0, as the
//! portable kernels' zero padding) and a masked store (only valid lanes are written).
//! `tests/math.rs` checks every one against the portable bits over every 61st f32 bit
//! pattern, in chunks that leave every tail length.

use std::arch::x86_64::*;

use super::{EXP_Q, LN2_HI, LN2_LO, LOG2E, TANH_P};

const SIGN: i32 = i32::MIN;
const ABS: i32 = i32::MAX;

#[target_feature(enable = "avx512f")]
#[inline]
fn and_ps(x: __m512, bits: i32) -> __m512 {
    _mm512_castsi512_ps(_mm512_and_epi32(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(bits),
    ))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn or_ps(x: __m512, y: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_or_epi32(
        _mm512_castps_si512(x),
        _mm512_castps_si512(y),
    ))
}

/// `wide`'s `f32x8::round` on exp's reduced argument `y = xc log2(e)`, where it is
/// `trunc(|y| + 0.5)` with `y`'s sign put back (see [`super::exp_x8`]), computed as
/// `trunc(y + copysign(0.5, y))`, the same bits in one operation fewer (see
/// [`super::avx2`]'s `round_reduced` for why).
#[target_feature(enable = "avx512f")]
#[inline]
fn round_reduced(y: __m512) -> __m512 {
    let half = or_ps(and_ps(y, SIGN), _mm512_set1_ps(0.5));
    _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm512_add_ps(y, half))
}

/// `2^k` from its bits.
#[target_feature(enable = "avx512f")]
#[inline]
fn pow2i(k: __m512i) -> __m512 {
    _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        k,
        _mm512_set1_epi32(127),
    )))
}

/// [`super::exp_x8`] on one AVX-512 register: the same bits.
///
/// # Safety
/// Safe to call from code compiled with AVX-512F enabled; elsewhere, only on hosts with
/// AVX-512F (what `target_feature` requires of every caller).
#[target_feature(enable = "avx512f")]
#[inline]
pub fn exp(x: __m512) -> __m512 {
    exp_n([x])[0]
}

/// [`exp`] on N registers at once, each step applied to all N before the next: N
/// independent dependency chains side by side, as [`super::avx2::exp_n`].
///
/// As there, the portable function's NaN-to-0 before the clamp is left out: `vmaxps` gives
/// its second operand (-104) for a NaN lane, the lane stays finite up to the last selection,
/// which puts the NaN input back, and lanes do not mix.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn exp_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    let c = _mm512_set1_ps;
    let mut k = x;
    let mut r = x;
    let mut q = x;
    let mut y = x;
    let mut xc = x;
    for i in 0..N {
        xc[i] = _mm512_min_ps(_mm512_max_ps(x[i], c(-104.0)), c(89.0));
        k[i] = round_reduced(_mm512_mul_ps(xc[i], c(LOG2E)));
    }
    for i in 0..N {
        r[i] = _mm512_sub_ps(
            _mm512_sub_ps(xc[i], _mm512_mul_ps(k[i], c(LN2_HI))),
            _mm512_mul_ps(k[i], c(LN2_LO)),
        );
        q[i] = c(EXP_Q[0]);
    }
    for &coef in &EXP_Q[1..] {
        for i in 0..N {
            q[i] = _mm512_add_ps(_mm512_mul_ps(q[i], r[i]), c(coef));
        }
    }
    for i in 0..N {
        let p = _mm512_add_ps(
            c(1.0),
            _mm512_add_ps(r[i], _mm512_mul_ps(_mm512_mul_ps(r[i], r[i]), q[i])),
        );
        // k is an integer of magnitude at most 151: the conversion is exact, as wide's.
        let ki = _mm512_cvtps_epi32(k[i]);
        let k1 = _mm512_srai_epi32::<1>(ki);
        let k2 = _mm512_sub_epi32(ki, k1);
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x[i], x[i]);
        y[i] = _mm512_mask_mov_ps(
            _mm512_mul_ps(_mm512_mul_ps(p, pow2i(k1)), pow2i(k2)),
            nan,
            x[i],
        );
    }
    y
}

/// [`super::tanh_x8`] on one AVX-512 register: the same bits.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn tanh(x: __m512) -> __m512 {
    tanh_n([x])[0]
}

/// [`tanh`] on N registers at once, its steps interleaved as [`exp_n`]'s: the same operations
/// on each lane, so the same bits.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn tanh_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    let c = _mm512_set1_ps;
    let mut a = x;
    let mut z = x;
    let mut p = x;
    let mut twice = x;
    for i in 0..N {
        a[i] = and_ps(x[i], ABS);
        z[i] = _mm512_mul_ps(a[i], a[i]);
        p[i] = c(TANH_P[0]);
        twice[i] = _mm512_add_ps(a[i], a[i]);
    }
    for &coef in &TANH_P[1..] {
        for i in 0..N {
            p[i] = _mm512_add_ps(_mm512_mul_ps(p[i], z[i]), c(coef));
        }
    }
    let e = exp_n(twice);
    let mut t = x;
    for i in 0..N {
        let small = _mm512_add_ps(a[i], _mm512_mul_ps(a[i], _mm512_mul_ps(p[i], z[i])));
        let big = _mm512_sub_ps(c(1.0), _mm512_div_ps(c(2.0), _mm512_add_ps(e[i], c(1.0))));
        let lane = _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a[i], c(0.55)), small);
        t[i] = or_ps(lane, and_ps(x[i], SIGN));
    }
    t
}

/// `1 / (1 + exp(-x))`, as the portable sigmoid: the same bits.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn sigmoid(x: __m512) -> __m512 {
    sigmoid_n([x])[0]
}

/// [`sigmoid`] on N registers at once (its exp by [`exp_n`]): the same bits.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn sigmoid_n<const N: usize>(x: [__m512; N]) -> [__m512; N] {
    let one = _mm512_set1_ps(1.0);
    let mut neg = x;
    for i in 0..N {
        neg[i] = _mm512_castsi512_ps(_mm512_xor_epi32(
            _mm512_castps_si512(x[i]),
            _mm512_set1_epi32(SIGN),
        ));
    }
    let mut y = exp_n(neg);
    for v in &mut y {
        *v = _mm512_div_ps(one, _mm512_add_ps(one, *v));
    }
    y
}

/// The portable relu: `vmaxps(+0, x)` is `+0 > x ? +0 : x`, which keeps NaN and -0.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx512f")]
#[inline]
pub fn relu(x: __m512) -> __m512 {
    _mm512_max_ps(_mm512_setzero_ps(), x)
}

/// Generates a slice kernel that applies an AVX-512 function in place, sixteen lanes at a
/// time, the tail through masked loads and stores. A macro, not a function taking a closure,
/// so that the vector function is inlined with the caller's target features.
macro_rules! slice_kernel {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The host must have AVX-512F.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn $name(xs: &mut [f32]) {
            let mut chunks = xs.chunks_exact_mut(16);
            for ch in &mut chunks {
                // SAFETY: `ch` holds exactly 16 f32, what the load and store touch.
                unsafe { _mm512_storeu_ps(ch.as_mut_ptr(), $f(_mm512_loadu_ps(ch.as_ptr()))) };
            }
            let tail = chunks.into_remainder();
            if !tail.is_empty() {
                let m: __mmask16 = (1u16 << tail.len()) - 1;
                // SAFETY: the mask covers the tail's `len() < 16` elements only; masked-off
                // lanes are neither read nor written.
                unsafe {
                    let v = $f(_mm512_maskz_loadu_ps(m, tail.as_ptr()));
                    _mm512_mask_storeu_ps(tail.as_mut_ptr(), m, v);
                }
            }
        }
    };
}

/// Generates a slice kernel that applies an N-register function (`exp_n`, ...) to two
/// registers at a time, so that their chains run side by side, and hands the rest (fewer
/// than 32) to a one-register kernel made by [`slice_kernel!`].
macro_rules! pair_kernel {
    ($(#[$doc:meta])* $name:ident, $f_n:ident, $rest:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The host must have AVX-512F.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn $name(xs: &mut [f32]) {
            let mut pairs = xs.chunks_exact_mut(32);
            for ch in &mut pairs {
                let o = ch.as_mut_ptr();
                // SAFETY: `ch` holds exactly 32 f32, what the loads and stores touch.
                unsafe {
                    let [a, b] = $f_n([_mm512_loadu_ps(o), _mm512_loadu_ps(o.add(16))]);
                    _mm512_storeu_ps(o, a);
                    _mm512_storeu_ps(o.add(16), b);
                }
            }
            // SAFETY: the caller's contract.
            unsafe { $rest(pairs.into_remainder()) }
        }
    };
}

pair_kernel!(
    /// [`super::exp_inplace`] on AVX-512: the same bits.
    exp_inplace,
    exp_n,
    exp_inplace16
);
slice_kernel!(
    /// The rest of [`exp_inplace`], sixteen lanes at a time.
    exp_inplace16, exp
);
pair_kernel!(
    /// [`super::tanh_inplace`] on AVX-512: the same bits.
    tanh_inplace,
    tanh_n,
    tanh_inplace16
);
slice_kernel!(
    /// The rest of [`tanh_inplace`], sixteen lanes at a time.
    tanh_inplace16, tanh
);
pair_kernel!(
    /// The portable sigmoid, `1 / (1 + exp(-x))`, on AVX-512: the same bits.
    sigmoid_inplace,
    sigmoid_n,
    sigmoid_inplace16
);
slice_kernel!(
    /// The rest of [`sigmoid_inplace`], sixteen lanes at a time.
    sigmoid_inplace16, sigmoid
);
slice_kernel!(
    /// The portable relu on AVX-512: the same bits.
    relu_inplace, relu
);

//! AVX2 copies of the vector functions (the build's CPU level gives `wide` only SSE: four
//! lanes at a time). Each repeats the portable function operation for operation (the same
//! IEEE-rounded adds, subs, muls and divisions, the same rounding and integer steps, no fused
//! multiply-add), so it returns the same bits (tested over dense sweeps and the special
//! values). The slice kernels of [`crate::elementwise`] and [`crate::softmax`] choose them at
//! run time on the AVX2 and AVX-512 paths ([`crate::KernelPath`]).

use std::arch::x86_64::*;

use super::{EXP_Q, LN2_HI, LN2_LO, LOG2E, TANH_P};

/// `wide`'s `f32x8::round` on exp's reduced argument `y = xc log2(e)`, where it is
/// `trunc(|y| + 0.5)` with `y`'s sign put back (see [`super::exp_x8`] for why the general
/// function's other cases cannot occur there).
#[target_feature(enable = "avx2")]
#[inline]
fn round_reduced(y: __m256) -> __m256 {
    let sign = _mm256_set1_ps(f32::from_bits(0x8000_0000));
    let a = _mm256_andnot_ps(sign, y);
    let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm256_add_ps(
        a,
        _mm256_set1_ps(0.5),
    ));
    _mm256_or_ps(t, _mm256_and_ps(y, sign))
}

/// `2^k` from its bits, as [`super::pow2i`].
#[target_feature(enable = "avx2")]
#[inline]
fn pow2i(k: __m256i) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        k,
        _mm256_set1_epi32(127),
    )))
}

/// [`super::exp_x8`] on one AVX register: the same bits.
///
/// # Safety
/// Safe to call from code compiled with AVX2 enabled; elsewhere, only on hosts with AVX2
/// (what `target_feature` requires of every caller).
#[target_feature(enable = "avx2")]
#[inline]
pub fn exp(x: __m256) -> __m256 {
    let c = _mm256_set1_ps;
    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
    let xc = _mm256_min_ps(
        _mm256_max_ps(_mm256_blendv_ps(x, _mm256_setzero_ps(), nan), c(-104.0)),
        c(89.0),
    );
    let k = round_reduced(_mm256_mul_ps(xc, c(LOG2E)));
    let r = _mm256_sub_ps(
        _mm256_sub_ps(xc, _mm256_mul_ps(k, c(LN2_HI))),
        _mm256_mul_ps(k, c(LN2_LO)),
    );
    let mut q = c(EXP_Q[0]);
    for &coef in &EXP_Q[1..] {
        q = _mm256_add_ps(_mm256_mul_ps(q, r), c(coef));
    }
    let p = _mm256_add_ps(
        c(1.0),
        _mm256_add_ps(r, _mm256_mul_ps(_mm256_mul_ps(r, r), q)),
    );
    // k is an integer of magnitude at most 151: the conversion is exact, as wide's.
    let ki = _mm256_cvtps_epi32(k);
    let k1 = _mm256_srai_epi32::<1>(ki);
    let k2 = _mm256_sub_epi32(ki, k1);
    let y = _mm256_mul_ps(_mm256_mul_ps(p, pow2i(k1)), pow2i(k2));
    _mm256_blendv_ps(y, x, nan)
}

/// [`super::tanh_x8`] on one AVX register: the same operations in the same order, so
/// the same bits.
///
/// # Safety
/// Safe to call from code compiled with AVX2 enabled; elsewhere, only on hosts with AVX2
/// (what `target_feature` requires of every caller).
#[target_feature(enable = "avx2")]
#[inline]
pub fn tanh(x: __m256) -> __m256 {
    let c = _mm256_set1_ps;
    let sign_bit = c(f32::from_bits(0x8000_0000));
    let a = _mm256_andnot_ps(sign_bit, x);
    let z = _mm256_mul_ps(a, a);
    let mut p = c(TANH_P[0]);
    for &coef in &TANH_P[1..] {
        p = _mm256_add_ps(_mm256_mul_ps(p, z), c(coef));
    }
    let small = _mm256_add_ps(a, _mm256_mul_ps(a, _mm256_mul_ps(p, z)));
    let e = exp(_mm256_add_ps(a, a));
    let big = _mm256_sub_ps(c(1.0), _mm256_div_ps(c(2.0), _mm256_add_ps(e, c(1.0))));
    let t = _mm256_blendv_ps(big, small, _mm256_cmp_ps::<_CMP_LT_OQ>(a, c(0.55)));
    _mm256_or_ps(t, _mm256_and_ps(x, sign_bit))
}

/// `1 / (1 + exp(-x))`, as the portable sigmoid: the same bits.
///
/// # Safety
/// Safe to call from code compiled with AVX2 enabled; elsewhere, only on hosts with AVX2
/// (what `target_feature` requires of every caller).
#[target_feature(enable = "avx2")]
#[inline]
pub fn sigmoid(x: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    let neg = _mm256_xor_ps(x, _mm256_set1_ps(f32::from_bits(0x8000_0000)));
    _mm256_div_ps(one, _mm256_add_ps(one, exp(neg)))
}

/// `x` where `x >= 0` (either zero) or NaN, else `+0`, as the portable relu: the same
/// bits. `vmaxps(+0, x)` is `+0 > x ? +0 : x`, which keeps NaN and -0 as they are. (A
/// compare and blend would be turned by LLVM into a masked store, which AMD runs in
/// microcode: three times slower than the SSE code.)
///
/// # Safety
/// Safe to call from code compiled with AVX2 enabled; elsewhere, only on hosts with AVX2
/// (what `target_feature` requires of every caller).
#[target_feature(enable = "avx2")]
#[inline]
pub fn relu(x: __m256) -> __m256 {
    _mm256_max_ps(_mm256_setzero_ps(), x)
}

/// Generates a slice kernel that applies an AVX2 function in place, eight lanes at a time;
/// the tail is padded with zeros and only its valid lanes are stored (as
/// [`super::map_x8`]). A macro, not a function taking a closure: a closure is not compiled
/// with the caller's target features, so the vector function would not be inlined.
macro_rules! slice_kernel {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The host must have AVX2.
        #[target_feature(enable = "avx2")]
        pub unsafe fn $name(xs: &mut [f32]) {
            let mut chunks = xs.chunks_exact_mut(8);
            for ch in &mut chunks {
                // SAFETY: `ch` holds exactly 8 f32, what the load and store touch.
                unsafe { _mm256_storeu_ps(ch.as_mut_ptr(), $f(_mm256_loadu_ps(ch.as_ptr()))) };
            }
            let tail = chunks.into_remainder();
            if !tail.is_empty() {
                let mut buf = [0f32; 8];
                buf[..tail.len()].copy_from_slice(tail);
                // SAFETY: `buf` holds 8 f32.
                unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), $f(_mm256_loadu_ps(buf.as_ptr()))) };
                tail.copy_from_slice(&buf[..tail.len()]);
            }
        }
    };
}

slice_kernel!(
    /// [`super::exp_inplace`] on AVX2: the same bits.
    exp_inplace, exp
);
slice_kernel!(
    /// [`super::tanh_inplace`] on AVX2: the same bits.
    tanh_inplace, tanh
);
slice_kernel!(
    /// The portable sigmoid, `1 / (1 + exp(-x))`, on AVX2: the same bits.
    sigmoid_inplace, sigmoid
);
slice_kernel!(
    /// The portable relu on AVX2: the same bits.
    relu_inplace, relu
);

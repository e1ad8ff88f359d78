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
/// function's other cases cannot occur there), computed as `trunc(y + copysign(0.5, y))`:
/// a rounded sum's sign flips with both operands' (round to nearest is symmetric) and so
/// does trunc's, so the two are the same bits, -0 included, in four operations, not five.
#[target_feature(enable = "avx2")]
#[inline]
fn round_reduced(y: __m256) -> __m256 {
    let sign = _mm256_set1_ps(f32::from_bits(0x8000_0000));
    let half = _mm256_or_ps(_mm256_and_ps(y, sign), _mm256_set1_ps(0.5));
    _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(_mm256_add_ps(y, half))
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
    exp_n([x])[0]
}

/// [`exp`] on N registers at once, each step applied to all N before the next: N
/// independent dependency chains side by side for the out-of-order core, whose scheduler
/// otherwise fills with one register's long chain (the Horner sum alone is ten dependent
/// operations). Two at a time made the slice kernel 13% faster (2-core AMD EPYC with AVX2,
/// 2026-12-04).
///
/// The portable function sends NaN to 0 before the clamp; here the clamp's `vmaxps` gives
/// its second operand (-104) for a NaN lane. Either way the lane is finite up to the last
/// blend, which puts the NaN input back, and lanes do not mix: the same bits, one blend
/// fewer.
///
/// # Safety
/// As [`exp`].
#[target_feature(enable = "avx2")]
#[inline]
pub fn exp_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    let c = _mm256_set1_ps;
    let mut nan = x;
    let mut xc = x;
    let mut k = x;
    let mut r = x;
    let mut q = x;
    let mut y = x;
    for i in 0..N {
        nan[i] = _mm256_cmp_ps::<_CMP_UNORD_Q>(x[i], x[i]);
        xc[i] = _mm256_min_ps(_mm256_max_ps(x[i], c(-104.0)), c(89.0));
    }
    for i in 0..N {
        k[i] = round_reduced(_mm256_mul_ps(xc[i], c(LOG2E)));
    }
    for i in 0..N {
        r[i] = _mm256_sub_ps(
            _mm256_sub_ps(xc[i], _mm256_mul_ps(k[i], c(LN2_HI))),
            _mm256_mul_ps(k[i], c(LN2_LO)),
        );
        q[i] = c(EXP_Q[0]);
    }
    for &coef in &EXP_Q[1..] {
        for i in 0..N {
            q[i] = _mm256_add_ps(_mm256_mul_ps(q[i], r[i]), c(coef));
        }
    }
    for i in 0..N {
        let p = _mm256_add_ps(
            c(1.0),
            _mm256_add_ps(r[i], _mm256_mul_ps(_mm256_mul_ps(r[i], r[i]), q[i])),
        );
        let ki = _mm256_cvtps_epi32(k[i]);
        let k1 = _mm256_srai_epi32::<1>(ki);
        let k2 = _mm256_sub_epi32(ki, k1);
        y[i] = _mm256_blendv_ps(
            _mm256_mul_ps(_mm256_mul_ps(p, pow2i(k1)), pow2i(k2)),
            x[i],
            nan[i],
        );
    }
    y
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
    tanh_n([x])[0]
}

/// [`tanh`] on N registers at once, its steps interleaved as [`exp_n`]'s: the same operations
/// on each lane, so the same bits.
///
/// # Safety
/// As [`tanh`].
#[target_feature(enable = "avx2")]
#[inline]
pub fn tanh_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    let c = _mm256_set1_ps;
    let sign_bit = c(f32::from_bits(0x8000_0000));
    let mut a = x;
    let mut z = x;
    let mut p = x;
    let mut twice = x;
    for i in 0..N {
        a[i] = _mm256_andnot_ps(sign_bit, x[i]);
        z[i] = _mm256_mul_ps(a[i], a[i]);
        p[i] = c(TANH_P[0]);
        twice[i] = _mm256_add_ps(a[i], a[i]);
    }
    for &coef in &TANH_P[1..] {
        for i in 0..N {
            p[i] = _mm256_add_ps(_mm256_mul_ps(p[i], z[i]), c(coef));
        }
    }
    let e = exp_n(twice);
    let mut t = x;
    for i in 0..N {
        let small = _mm256_add_ps(a[i], _mm256_mul_ps(a[i], _mm256_mul_ps(p[i], z[i])));
        let big = _mm256_sub_ps(c(1.0), _mm256_div_ps(c(2.0), _mm256_add_ps(e[i], c(1.0))));
        let lane = _mm256_blendv_ps(big, small, _mm256_cmp_ps::<_CMP_LT_OQ>(a[i], c(0.55)));
        t[i] = _mm256_or_ps(lane, _mm256_and_ps(x[i], sign_bit));
    }
    t
}

/// `1 / (1 + exp(-x))`, as the portable sigmoid: the same bits.
///
/// # Safety
/// Safe to call from code compiled with AVX2 enabled; elsewhere, only on hosts with AVX2
/// (what `target_feature` requires of every caller).
#[target_feature(enable = "avx2")]
#[inline]
pub fn sigmoid(x: __m256) -> __m256 {
    sigmoid_n([x])[0]
}

/// [`sigmoid`] on N registers at once (its exp by [`exp_n`]): the same bits.
///
/// # Safety
/// As [`sigmoid`].
#[target_feature(enable = "avx2")]
#[inline]
pub fn sigmoid_n<const N: usize>(x: [__m256; N]) -> [__m256; N] {
    let one = _mm256_set1_ps(1.0);
    let sign_bit = _mm256_set1_ps(f32::from_bits(0x8000_0000));
    let mut neg = x;
    for i in 0..N {
        neg[i] = _mm256_xor_ps(x[i], sign_bit);
    }
    let mut y = exp_n(neg);
    for v in &mut y {
        *v = _mm256_div_ps(one, _mm256_add_ps(one, *v));
    }
    y
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

/// `v`, as a value the compiler cannot see through (an empty `asm!` that may have changed the
/// register). `exp` ends in a blend that puts NaN inputs back; applied in place, LLVM proves
/// that those lanes of the store already hold what it would write and turns the store into
/// a masked store (`vmaskmovps`), which AMD runs in microcode: exp's AVX2 kernel ran at
/// 1.3-1.5 times the portable one's speed (2-core AMD EPYC with AVX2, 2026-12-03), where
/// sigmoid, which calls exp and adds a division, ran at 2.0. Through `opaque` the blended
/// value is not known to be the memory's, and the store stays a plain one; the values are the
/// same. (`std::hint::black_box` did the same through the stack, and its store-forwarding
/// stall made the kernel slower still: 0.57 times the portable one.)
#[target_feature(enable = "avx2")]
#[inline]
fn opaque(mut v: __m256) -> __m256 {
    // SAFETY: the template is empty: it reads and writes nothing but the one register, which
    // it leaves as it is.
    unsafe {
        std::arch::asm!("/* {0} */", inout(ymm_reg) v, options(pure, nomem, nostack, preserves_flags));
    }
    v
}

/// Generates a slice kernel that applies an AVX2 function in place, eight lanes at a time;
/// the tail is padded with zeros and only its valid lanes are stored (as
/// [`super::map_x8`]). A macro, not a function taking a closure: a closure is not compiled
/// with the caller's target features, so the vector function would not be inlined.
///
/// A third argument is applied to each loaded vector first: [`opaque`] for exp (see there).
macro_rules! slice_kernel {
    ($(#[$doc:meta])* $name:ident, $f:ident) => {
        slice_kernel!($(#[$doc])* $name, $f, |v| v);
    };
    ($(#[$doc:meta])* $name:ident, $f:ident, $input:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The host must have AVX2.
        #[target_feature(enable = "avx2")]
        pub unsafe fn $name(xs: &mut [f32]) {
            let mut chunks = xs.chunks_exact_mut(8);
            for ch in &mut chunks {
                // SAFETY: `ch` holds exactly 8 f32, what the load and store touch.
                unsafe {
                    let v = ($input)(_mm256_loadu_ps(ch.as_ptr()));
                    _mm256_storeu_ps(ch.as_mut_ptr(), $f(v))
                };
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

/// Generates a slice kernel that applies an N-register function (`exp_n`, ...) to two
/// registers at a time, so that their chains run side by side, and hands the rest (fewer
/// than sixteen) to a one-register kernel made by [`slice_kernel!`]. The optional third
/// argument is applied to each loaded vector first, as there.
macro_rules! pair_kernel {
    ($(#[$doc:meta])* $name:ident, $f_n:ident, $rest:ident) => {
        pair_kernel!($(#[$doc])* $name, $f_n, $rest, |v| v);
    };
    ($(#[$doc:meta])* $name:ident, $f_n:ident, $rest:ident, $input:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The host must have AVX2.
        #[target_feature(enable = "avx2")]
        pub unsafe fn $name(xs: &mut [f32]) {
            let mut pairs = xs.chunks_exact_mut(16);
            for ch in &mut pairs {
                let o = ch.as_mut_ptr();
                // SAFETY: `ch` holds exactly 16 f32, what the loads and stores touch.
                unsafe {
                    let [a, b] = $f_n([
                        ($input)(_mm256_loadu_ps(o)),
                        ($input)(_mm256_loadu_ps(o.add(8))),
                    ]);
                    _mm256_storeu_ps(o, a);
                    _mm256_storeu_ps(o.add(8), b);
                }
            }
            // SAFETY: the caller's contract.
            unsafe { $rest(pairs.into_remainder()) }
        }
    };
}

pair_kernel!(
    /// [`super::exp_inplace`] on AVX2: the same bits.
    exp_inplace,
    exp_n,
    exp_inplace8,
    opaque
);
slice_kernel!(
    /// The rest of [`exp_inplace`], eight lanes at a time.
    exp_inplace8,
    exp,
    opaque
);
pair_kernel!(
    /// [`super::tanh_inplace`] on AVX2: the same bits.
    tanh_inplace,
    tanh_n,
    tanh_inplace8
);
slice_kernel!(
    /// The rest of [`tanh_inplace`], eight lanes at a time.
    tanh_inplace8, tanh
);
pair_kernel!(
    /// The portable sigmoid, `1 / (1 + exp(-x))`, on AVX2: the same bits.
    sigmoid_inplace,
    sigmoid_n,
    sigmoid_inplace8
);
slice_kernel!(
    /// The rest of [`sigmoid_inplace`], eight lanes at a time.
    sigmoid_inplace8, sigmoid
);
slice_kernel!(
    /// The portable relu on AVX2: the same bits.
    relu_inplace, relu
);

//! exp, ln and tanh for f32, implemented here so results never depend on the platform's libm.
//!
//! Each function is written once, on `wide::f32x8`, with only operations IEEE 754 rounds
//! exactly (add, sub, mul, div, comparisons, bit manipulation; no fused multiply-add, which
//! `wide` does not fuse at the baseline CPU level anyway). The scalar functions run the same
//! vector code on one lane, and the slice kernels on eight lanes at a time, so a value gets
//! the same bits wherever and however it is computed.
//!
//! Accuracy against a higher-precision reference (f64 `exp`/`ln`/`tanh` rounded to f32), as
//! measured by `tests/math.rs` over dense sweeps (every 7th f32 bit pattern of the domain plus
//! the special values); ulps are those of the correctly rounded result, 2^-149 for subnormals:
//!
//! | function | algorithm | max error (measured) |
//! |---|---|---|
//! | [`exp`] | `x = k ln2 + r` (Cody-Waite, two constants), degree-7 Taylor in `r`, `2^k` in two exact steps | see [`EXP_MAX_ULPS`] |
//! | [`ln`] | `x = 2^e m`, `m` in [sqrt(1/2), sqrt(2)), `ln m = 2 atanh(s)`, `s = (m-1)/(m+1)`, series to `s^11` | see [`LN_MAX_ULPS`] |
//! | [`tanh`] | `|x| < 0.55`: odd Taylor series to `x^19`; else `1 - 2/(exp(2|x|)+1)` | see [`TANH_MAX_ULPS`] |
//!
//! Special values: `exp(NaN) = NaN`, `exp(+inf) = +inf`, `exp(-inf) = 0`, overflow to `+inf`
//! above about 88.72, gradual underflow to subnormals and 0 below about -87.3;
//! `ln(NaN or x < 0) = NaN`, `ln(+-0) = -inf`, `ln(+inf) = +inf`, subnormal inputs exact in
//! range reduction; `tanh(+-0) = +-0`, `tanh(+-inf) = +-1`, `tanh(NaN) = NaN`.

use wide::{bytemuck::cast, f32x8, i32x8};

/// Documented maximum error of [`exp`], in ulps, asserted by `tests/math.rs` (measured: 1.02,
/// at x = 59.27, where rounding `r` to f32 adds to the polynomial's rounding).
pub const EXP_MAX_ULPS: f64 = 1.1;
/// Documented maximum error of [`ln`], in ulps, asserted by `tests/math.rs` (measured: 0.84).
pub const LN_MAX_ULPS: f64 = 1.0;
/// Documented maximum error of [`tanh`], in ulps, asserted by `tests/math.rs` (measured: 1.44,
/// just above the 0.55 switch, where `1 - 2/(e^{2|x|}+1)` cancels one bit).
pub const TANH_MAX_ULPS: f64 = 1.5;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 rounded to 0x3f317200, which has 15 significant bits, so that `k * LN2_HI` is exact
/// (at most 24 bits) for every integer |k| < 2^9; exp's and ln's k are below 2^8.
const LN2_HI: f32 = 0.693_145_75;
/// ln 2 - LN2_HI.
const LN2_LO: f32 = 1.428_606_8e-6;

/// exp's polynomial q(r) (e^r = 1 + r + r^2 q(r)), Horner order: 1/7!, 1/6!, ..., 1/2!. One
/// table for the portable code and its AVX2 and AVX-512 copies.
const EXP_Q: [f32; 6] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// tanh's odd series x (1 + z P(z)), z = x^2, P in Horner order (to x^19).
const TANH_P: [f32; 9] = [
    -443_861_162.0 / 1_856_156_927_625.0,
    6_404_582.0 / 10_854_718_875.0,
    -929_569.0 / 638_512_875.0,
    21_844.0 / 6_081_075.0,
    -1_382.0 / 155_925.0,
    62.0 / 2_835.0,
    -17.0 / 315.0,
    2.0 / 15.0,
    -1.0 / 3.0,
];

#[inline(always)]
fn splat(v: f32) -> f32x8 {
    f32x8::splat(v)
}

/// `2^k` for integer `k` in [-126, 127], built from its bits.
#[inline(always)]
fn pow2i(k: i32x8) -> f32x8 {
    cast((k + i32x8::splat(127)) << 23)
}

/// e^x on eight lanes.
#[inline]
pub fn exp_x8(x: f32x8) -> f32x8 {
    let nan = x.is_nan();
    // Clamp (NaN to 0, restored at the end): beyond these the result is inf or 0 anyway.
    let xc = nan
        .select(splat(0.0), x)
        .max(splat(-104.0))
        .min(splat(89.0));
    // `round` is half away from zero; the AVX copies compute it as trunc(|y| + 0.5) with y's
    // sign (or the same as trunc(y + copysign(0.5, y))), which is what `wide` does for |y| < 2^23 except at |y| = 0.5.next_down() (sent
    // to 0). Here |y| <= 104 log2(e) < 151, and no f32 x gives x * LOG2E = +-0.5.next_down()
    // (the product steps over it), so the copies need neither case: `tests/math.rs` checks
    // them against this function on all 2^32 inputs.
    let k = (xc * splat(LOG2E)).round();
    let r = (xc - k * splat(LN2_HI)) - k * splat(LN2_LO);
    // e^r for |r| <= ~0.347: Taylor to r^7 (truncation < 0.05 ulp), summed as
    // 1 + (r + r^2 q(r)) so that the small terms' roundings are scaled down by the last sum.
    let mut q = splat(EXP_Q[0]);
    for &coef in &EXP_Q[1..] {
        q = q * r + splat(coef);
    }
    let p = splat(1.0) + (r + (r * r) * q);
    // 2^k = 2^k1 * 2^k2 with both factors normal, so only the last product can round
    // (gradual underflow) or overflow.
    let ki = k.round_int();
    let k1 = ki >> 1;
    let k2 = ki - k1;
    let y = (p * pow2i(k1)) * pow2i(k2);
    nan.select(x, y)
}

/// ln x on eight lanes.
#[inline]
pub fn ln_x8(x: f32x8) -> f32x8 {
    let sub = x.simd_lt(splat(f32::MIN_POSITIVE));
    // Subnormals: scale by 2^23 exactly, take 23 off the exponent.
    let xs = sub.select(x * splat(8_388_608.0), x);
    let bits: i32x8 = cast(xs);
    let mut e = (bits >> 23) - i32x8::splat(127) - (cast::<f32x8, i32x8>(sub) & i32x8::splat(23));
    let mut m: f32x8 = cast((bits & i32x8::splat(0x007f_ffff)) | i32x8::splat(0x3f80_0000));
    // m in [1, 2): move [sqrt 2, 2) to [sqrt(1/2), 1) so |ln m| <= ln(2)/2.
    let big = m.simd_gt(splat(std::f32::consts::SQRT_2));
    m = big.select(m * splat(0.5), m);
    e += cast::<f32x8, i32x8>(big) & i32x8::splat(1);
    let f = m - splat(1.0); // exact (Sterbenz)
                            // ln(1+f) = 2 atanh(s) with s = f/(2+f): 2s + s R, R = 2z/3 + 2z^2/5 + ... + 2z^5/11,
                            // z = s^2. Since 2s = f - s f, this is f - (hfsq - s (hfsq + R)) with hfsq = f^2/2: f is
                            // exact and only the small correction rounds.
    let s = f / (splat(2.0) + f);
    let z = s * s;
    let mut q = splat(2.0 / 11.0);
    q = q * z + splat(2.0 / 9.0);
    q = q * z + splat(2.0 / 7.0);
    q = q * z + splat(2.0 / 5.0);
    q = q * z + splat(2.0 / 3.0);
    let r = q * z;
    let hfsq = splat(0.5) * f * f;
    let ef = f32x8::from_i32x8(e);
    // e ln2 + ln(1+f), with ln2 in two parts (e * LN2_HI is exact).
    let y = ef * splat(LN2_HI) - ((hfsq - (s * (hfsq + r) + ef * splat(LN2_LO))) - f);
    // Special values: NaN or negative -> NaN; 0 -> -inf; +inf -> +inf.
    let y = x.simd_eq(splat(f32::INFINITY)).select(x, y);
    let y = x.simd_eq(splat(0.0)).select(splat(f32::NEG_INFINITY), y);
    (x.simd_lt(splat(0.0)) | x.is_nan()).select(splat(f32::NAN), y)
}

/// tanh x on eight lanes.
#[inline]
pub fn tanh_x8(x: f32x8) -> f32x8 {
    let a = x.abs();
    // |x| < 0.55: x * P(x^2), the odd Taylor series to x^19 (truncation < 0.01 ulp).
    let z = a * a;
    let mut p = splat(TANH_P[0]);
    for &coef in &TANH_P[1..] {
        p = p * z + splat(coef);
    }
    let small = a + a * (p * z);
    // Otherwise 1 - 2/(e^{2|x|} + 1); e^{2|x|} = inf gives exactly 1.
    let e = exp_x8(a + a);
    let big = splat(1.0) - splat(2.0) / (e + splat(1.0));
    let t = a.simd_lt(splat(0.55)).select(small, big);
    // Both branches work on |x|; tanh is odd, so x's sign bit is copied on (keeps -0 and NaN).
    let sign = cast::<f32x8, i32x8>(x) & i32x8::splat(i32::MIN);
    cast(cast::<f32x8, i32x8>(t) | sign)
}

#[inline(always)]
fn lane0(f: fn(f32x8) -> f32x8, x: f32) -> f32 {
    f(splat(x)).to_array()[0]
}

/// e^x (see the module table for accuracy).
pub fn exp(x: f32) -> f32 {
    lane0(exp_x8, x)
}

/// Natural logarithm (see the module table for accuracy).
pub fn ln(x: f32) -> f32 {
    lane0(ln_x8, x)
}

/// Hyperbolic tangent (see the module table for accuracy).
pub fn tanh(x: f32) -> f32 {
    lane0(tanh_x8, x)
}

/// Applies an eight-lane function to a slice in place; the tail is padded with zeros and only
/// its valid lanes are stored.
#[inline]
pub(crate) fn map_x8(xs: &mut [f32], f: impl Fn(f32x8) -> f32x8) {
    let mut chunks = xs.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = f(f32x8::from(<[f32; 8]>::try_from(&*c).expect("8 lanes")));
        c.copy_from_slice(&v.to_array());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0f32; 8];
        buf[..tail.len()].copy_from_slice(tail);
        let v = f(f32x8::from(buf)).to_array();
        tail.copy_from_slice(&v[..tail.len()]);
    }
}

/// `x <- e^x` for every element.
pub fn exp_inplace(xs: &mut [f32]) {
    map_x8(xs, exp_x8);
}

/// [`exp_inplace`] on `path`'s lanes: `wide`'s (four at the build's level), AVX2's eight or
/// AVX-512's sixteen. The same bits on every path.
///
/// # Panics
/// If this host does not support `path`.
#[track_caller]
pub fn exp_inplace_with(path: crate::KernelPath, xs: &mut [f32]) {
    use crate::KernelPath;
    assert!(path.supported(), "exp: path {path} not supported here");
    match path {
        // SAFETY: `path` is supported here (checked above), and its kernel needs no more.
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma => unsafe { avx2::exp_inplace(xs) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => unsafe { avx512::exp_inplace(xs) },
        _ => exp_inplace(xs),
    }
}

/// `x <- ln x` for every element.
pub fn ln_inplace(xs: &mut [f32]) {
    map_x8(xs, ln_x8);
}

/// `x <- tanh x` for every element.
pub fn tanh_inplace(xs: &mut [f32]) {
    map_x8(xs, tanh_x8);
}

/// AVX2 copies of the vector functions: the same bits, eight lanes.
#[cfg(target_arch = "x86_64")]
pub mod avx2;

/// AVX-512 copies of the vector functions: the same bits, sixteen lanes.
#[cfg(target_arch = "x86_64")]
pub mod avx512;

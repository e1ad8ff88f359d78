//! exp, ln and tanh against f64 (`std`'s, correctly rounded to well under an f32 ulp) over
//! dense sweeps: every 7th f32 bit pattern of each function's interesting domain (hundreds of
//! millions of values), plus subnormals, +-0, +-inf and NaN. The maximum error found is
//! printed and must stay within the bound the crate documents.

use std::io::Write;

use ibci_kernels::math::{self, EXP_MAX_ULPS, LN_MAX_ULPS, TANH_MAX_ULPS};
use rayon::prelude::*;

/// The error of `y` against the exact value `r`, in ulps of `r` rounded to f32 (2^-149 for
/// subnormals and zero); 0 for matching NaN/inf/zero, infinite for a wrong special value.
fn ulps(y: f32, r: f64) -> f64 {
    let r32 = r as f32;
    if y.is_nan() || r.is_nan() {
        return if y.is_nan() && r.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if y == r32 {
        // A zero of the wrong sign is wrong.
        let signs_differ = y.is_sign_negative() != r32.is_sign_negative();
        return if y == 0.0 && signs_differ {
            f64::INFINITY
        } else {
            0.0
        };
    }
    if !y.is_finite() || !r32.is_finite() {
        // An overflow boundary: accept a result that is the largest finite value or inf when
        // the exact value is within half an ulp of the boundary.
        return f64::INFINITY;
    }
    let e = if r32 == 0.0 || r32.abs() < f32::MIN_POSITIVE {
        -149
    } else {
        ((r32.abs().to_bits() >> 23) as i32) - 127 - 23
    };
    (f64::from(y) - r).abs() / 2f64.powi(e)
}

/// Max error over every 7th bit pattern in `lo..hi`, and where it occurs.
fn sweep(lo: u32, hi: u32, f: fn(&mut [f32]), reference: fn(f64) -> f64) -> (f64, f32) {
    let starts: Vec<u32> = (lo..hi).step_by(7 * 4096).collect();
    starts
        .par_iter()
        .map(|&s| {
            let xs: Vec<f32> = (0..4096u32)
                .map(|i| s.saturating_add(7 * i))
                .filter(|&b| b < hi)
                .map(f32::from_bits)
                .collect();
            let mut ys = xs.clone();
            f(&mut ys);
            xs.iter()
                .zip(&ys)
                .map(|(&x, &y)| (ulps(y, reference(f64::from(x))), x))
                .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
        })
        .reduce(|| (0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn report(name: &str, found: (f64, f32), bound: f64) {
    let _ = writeln!(
        std::io::stderr(),
        "{name}: max error {:.3} ulp at x = {:e} (documented bound {bound})",
        found.0,
        found.1
    );
    assert!(
        found.0 <= bound,
        "{name}: {} ulp at {:e} exceeds {bound}",
        found.0,
        found.1
    );
}

const SPECIALS: [f32; 12] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    1e-45, // smallest subnormal
    -1e-45,
    f32::MAX,
    f32::MIN,
    1.0,
];

fn check_specials(
    name: &str,
    f: fn(f32) -> f32,
    slice: fn(&mut [f32]),
    r: fn(f64) -> f64,
    bound: f64,
) {
    let mut ys = SPECIALS;
    slice(&mut ys);
    for (&x, &y) in SPECIALS.iter().zip(&ys) {
        let e = ulps(f(x), r(f64::from(x)));
        assert!(e <= bound, "{name}({x:e}) = {:e}: {e} ulp", f(x));
        // The scalar function and the eight-lane slice kernel agree bit for bit.
        assert_eq!(f(x).to_bits(), y.to_bits(), "{name}({x:e}) scalar vs slice");
    }
}

#[test]
fn exp_dense_sweep() {
    check_specials("exp", math::exp, math::exp_inplace, f64::exp, EXP_MAX_ULPS);
    assert_eq!(math::exp(0.0), 1.0);
    assert_eq!(math::exp(-1e-45), 1.0);
    assert_eq!(math::exp(89.0), f32::INFINITY);
    assert_eq!(math::exp(-104.0), 0.0);
    // Positive x up to overflow, negative x down to total underflow (subnormal results).
    report(
        "exp (x >= 0)",
        sweep(0, 88.72f32.to_bits(), math::exp_inplace, f64::exp),
        EXP_MAX_ULPS,
    );
    report(
        "exp (x < 0)",
        sweep(
            0x8000_0000,
            (-103.9f32).to_bits(),
            math::exp_inplace,
            f64::exp,
        ),
        EXP_MAX_ULPS,
    );
}

#[test]
fn ln_dense_sweep() {
    check_specials("ln", math::ln, math::ln_inplace, f64::ln, LN_MAX_ULPS);
    assert_eq!(math::ln(1.0), 0.0);
    assert_eq!(math::ln(0.0), f32::NEG_INFINITY);
    assert!(math::ln(-1.0).is_nan());
    // Every positive finite float, subnormals included.
    report(
        "ln",
        sweep(1, f32::INFINITY.to_bits(), math::ln_inplace, f64::ln),
        LN_MAX_ULPS,
    );
}

#[test]
fn tanh_dense_sweep() {
    check_specials(
        "tanh",
        math::tanh,
        math::tanh_inplace,
        f64::tanh,
        TANH_MAX_ULPS,
    );
    assert_eq!(math::tanh(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(math::tanh(20.0), 1.0);
    assert_eq!(math::tanh(-20.0), -1.0);
    report(
        "tanh (x >= 0)",
        sweep(0, 10f32.to_bits(), math::tanh_inplace, f64::tanh),
        TANH_MAX_ULPS,
    );
    report(
        "tanh (x < 0)",
        sweep(
            0x8000_0000,
            (-10f32).to_bits(),
            math::tanh_inplace,
            f64::tanh,
        ),
        TANH_MAX_ULPS,
    );
}

/// Every 61st bit pattern of the whole f32 range (both signs: NaNs, infinities, subnormals,
/// the overflow and underflow edges) and the special values.
fn all_patterns() -> Vec<f32> {
    let mut xs: Vec<f32> = (0..=u32::MAX).step_by(61).map(f32::from_bits).collect();
    xs.extend([
        0.0,
        -0.0,
        0.5,
        -0.5,
        0.55,
        0.55f32.next_down(),
        -0.55,
        0.5f32.next_down(),
        88.72,
        88.73,
        -87.3,
        -103.97,
        -104.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MIN_POSITIVE,
    ]);
    xs
}

/// `avx2` gives `portable`'s bits on the sweep, in chunks whose lengths leave every tail size.
#[cfg(target_arch = "x86_64")]
fn same_bits(name: &str, portable: impl Fn(&mut [f32]), avx2: unsafe fn(&mut [f32])) {
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("SKIPPED: avx2 {name} against the portable bits (no AVX2 on this host)");
        return;
    }
    let xs = all_patterns();
    let mut want = xs.clone();
    portable(&mut want);
    let mut got = xs.clone();
    for chunk in got.chunks_mut(8 * 1021 + 5) {
        // SAFETY: AVX2 was detected above.
        unsafe { avx2(chunk) };
    }
    for ((x, a), b) in xs.iter().zip(&got).zip(&want) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{name}({x:e}): avx2 {a:e}, portable {b:e}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_exp_gives_the_portable_bits() {
    same_bits(
        "exp",
        ibci_kernels::math::exp_inplace,
        ibci_kernels::math::avx2::exp_inplace,
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_activations_give_the_portable_bits() {
    use ibci_kernels::elementwise::{activate_with, Activation};
    use ibci_kernels::math::avx2;
    use ibci_kernels::{KernelPath, Par};
    let portable =
        |act| move |xs: &mut [f32]| activate_with(KernelPath::Portable, act, xs, Par::Seq);
    same_bits("tanh", portable(Activation::Tanh), avx2::tanh_inplace);
    same_bits(
        "sigmoid",
        portable(Activation::Sigmoid),
        avx2::sigmoid_inplace,
    );
    same_bits("relu", portable(Activation::Relu), avx2::relu_inplace);
    same_bits(
        "tanh (math)",
        ibci_kernels::math::tanh_inplace,
        avx2::tanh_inplace,
    );
}

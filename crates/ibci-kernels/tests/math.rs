//! exp, ln and tanh against f64 (`std`'s, correctly rounded to well under an f32 ulp) over
//! dense sweeps: every 7th f32 bit pattern of each function's interesting domain (hundreds of
//! millions of values), plus subnormals, +-0, +-inf and NaN. The maximum error found is
//! printed and must stay within the bound the crate documents.

use std::io::Write;

use ibci_kernels::dispatch::tested_paths;
use ibci_kernels::math::{self, EXP_MAX_ULPS, LN_MAX_ULPS, TANH_MAX_ULPS};
use ibci_kernels::KernelPath;
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

/// `fast` (a slice kernel of `path`) gives `portable`'s bits on the sweep, in chunks whose
/// lengths leave every tail size of both vector widths. A path this host lacks is reported
/// as skipped (a failure when `IBCI_REQUIRE_PATHS` names it).
#[cfg(target_arch = "x86_64")]
fn same_bits(
    path: KernelPath,
    name: &str,
    portable: impl Fn(&mut [f32]),
    fast: unsafe fn(&mut [f32]),
) {
    if !tested_paths(&format!("{path} {name} against the portable bits")).contains(&path) {
        return;
    }
    let xs = all_patterns();
    let mut want = xs.clone();
    portable(&mut want);
    let mut got = xs.clone();
    for chunk in got.chunks_mut(16 * 1021 + 7) {
        // SAFETY: `path` is supported here (checked above), and its kernels need no more.
        unsafe { fast(chunk) };
    }
    // Lengths 0..=16 back to back: 136 elements.
    let mut short = xs[..136].to_vec();
    let mut start = 0;
    for len in 0..=16 {
        // SAFETY: as above.
        unsafe { fast(&mut short[start..start + len]) };
        start += len;
    }
    got[..short.len()].copy_from_slice(&short);
    for ((x, a), b) in xs.iter().zip(&got).zip(&want) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "{name}({x:e}): {path} {a:e}, portable {b:e}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_exp_gives_the_portable_bits() {
    use ibci_kernels::math::{avx2, avx512};
    let portable = ibci_kernels::math::exp_inplace;
    same_bits(KernelPath::Avx2Fma, "exp", portable, avx2::exp_inplace);
    same_bits(KernelPath::Avx512, "exp", portable, avx512::exp_inplace);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn vector_activations_give_the_portable_bits() {
    use ibci_kernels::elementwise::{activate_with, Activation};
    use ibci_kernels::math::{avx2, avx512};
    use ibci_kernels::Par;
    let portable =
        |act| move |xs: &mut [f32]| activate_with(KernelPath::Portable, act, xs, Par::Seq);
    type Kernels = [(&'static str, Activation, unsafe fn(&mut [f32])); 3];
    let avx2_kernels: Kernels = [
        ("tanh", Activation::Tanh, avx2::tanh_inplace),
        ("sigmoid", Activation::Sigmoid, avx2::sigmoid_inplace),
        ("relu", Activation::Relu, avx2::relu_inplace),
    ];
    let avx512_kernels: Kernels = [
        ("tanh", Activation::Tanh, avx512::tanh_inplace),
        ("sigmoid", Activation::Sigmoid, avx512::sigmoid_inplace),
        ("relu", Activation::Relu, avx512::relu_inplace),
    ];
    for (path, kernels) in [
        (KernelPath::Avx2Fma, avx2_kernels),
        (KernelPath::Avx512, avx512_kernels),
    ] {
        for (name, act, fast) in kernels {
            same_bits(path, name, portable(act), fast);
        }
        same_bits(
            path,
            "tanh (math)",
            ibci_kernels::math::tanh_inplace,
            kernels[0].2,
        );
    }
}

/// The dispatching entry point, on every path this host has and both parallel modes, gives
/// the portable bits (so it picked a kernel that does).
#[test]
fn activate_with_gives_the_portable_bits_on_every_path() {
    use ibci_kernels::elementwise::{activate_with, Activation};
    use ibci_kernels::Par;
    let xs = all_patterns();
    for act in Activation::ALL {
        let mut want = xs.clone();
        activate_with(KernelPath::Portable, act, &mut want, Par::Seq);
        for path in tested_paths("activate_with_gives_the_portable_bits_on_every_path") {
            for par in [Par::Seq, Par::Rayon] {
                let mut got = xs.clone();
                activate_with(path, act, &mut got, par);
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{} on {path} ({par:?}) differs from portable",
                    act.name()
                );
            }
        }
    }
}

/// Every one of the 2^32 inputs: the AVX2 and AVX-512 exp give the portable bits. The sweeps
/// above sample; this is the proof that the vector copies' shortcuts in the range reduction
/// rely on (see `math::exp_x8`). tanh and sigmoid differ from their portable twins only in
/// the exp they call, so this covers them too. About a minute on two cores, release.
#[cfg(target_arch = "x86_64")]
#[test]
fn vector_exp_gives_the_portable_bits_on_every_input() {
    use ibci_kernels::math::exp_inplace_with;
    let paths: Vec<KernelPath> = tested_paths("vector_exp_gives_the_portable_bits_on_every_input")
        .into_iter()
        .filter(|&p| p != KernelPath::Portable)
        .collect();
    const BLOCK: u64 = 1 << 16;
    let bad = (0..(1u64 << 32) / BLOCK).into_par_iter().find_map_any(|b| {
        let mut want = [0f32; BLOCK as usize];
        let mut got = [0f32; BLOCK as usize];
        let base = b * BLOCK;
        want.iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = f32::from_bits((base + i as u64) as u32));
        exp_inplace_with(KernelPath::Portable, &mut want);
        for &path in &paths {
            got.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = f32::from_bits((base + i as u64) as u32));
            exp_inplace_with(path, &mut got);
            if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                let x = f32::from_bits((base + i as u64) as u32);
                return Some((path, x, got[i], want[i]));
            }
        }
        None
    });
    if let Some((path, x, got, want)) = bad {
        panic!("exp({x:e}) on {path}: {got:e}, portable {want:e}");
    }
}

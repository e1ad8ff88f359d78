//! Measures this machine's single-core fp32 FMA throughput, so benchmarks can report
//! achieved/peak.
//!
//! A register-only loop: 12 independent accumulator chains (more than FMA latency x units on
//! current x86 cores), `fma(acc, x, y)` per step, nothing loaded or stored. FLOPs counted as
//! 2 per lane per FMA.

use std::hint::black_box;
use std::time::Instant;

use crate::dispatch::KernelPath;

/// Peak single-thread fp32 GFLOP/s of `path`'s widest FMA, measured over about `seconds`;
/// `None` if the host does not support the path. The portable path reports scalar
/// `f32::mul_add`.
pub fn fma_peak_gflops(path: KernelPath, seconds: f64) -> Option<f64> {
    if !path.supported() {
        return None;
    }
    let (flops_per_call, run): (f64, fn(u64) -> f32) = match path {
        KernelPath::Portable => (12.0 * 2.0, scalar_loop),
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx2Fma => (12.0 * 8.0 * 2.0, |n| {
            // SAFETY: the path is supported, so the CPU has AVX2 and FMA.
            unsafe { x86::avx2_loop(n) }
        }),
        #[cfg(target_arch = "x86_64")]
        KernelPath::Avx512 => (12.0 * 16.0 * 2.0, |n| {
            // SAFETY: the path is supported, so the CPU has AVX-512F.
            unsafe { x86::avx512_loop(n) }
        }),
        #[cfg(not(target_arch = "x86_64"))]
        _ => return None,
    };
    // Calibrate to the requested duration, then take the best of five runs.
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        black_box(run(black_box(iters)));
        let dt = t.elapsed().as_secs_f64();
        if dt > seconds / 10.0 || iters > 1 << 34 {
            iters = ((iters as f64) * (seconds / 5.0) / dt.max(1e-9)).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(run(black_box(iters)));
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    Some(flops_per_call * iters as f64 / best / 1e9)
}

fn scalar_loop(n: u64) -> f32 {
    let mut acc = [1.0f32; 12];
    let (x, y) = (black_box(0.999_999f32), black_box(1e-7f32));
    for _ in 0..n {
        for a in &mut acc {
            *a = a.mul_add(x, y);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    macro_rules! fma_loop {
        ($name:ident, $feat:literal, $vt:ty, $set1:ident, $fma:ident, $add:ident, $cvt:ident) => {
            /// # Safety
            /// The CPU supports the target features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name(n: u64) -> f32 {
                let x = $set1(0.999_999);
                let y = $set1(1e-7);
                let mut acc: [$vt; 12] = [$set1(1.0); 12];
                for _ in 0..n {
                    for a in acc.iter_mut() {
                        *a = $fma(*a, x, y);
                    }
                }
                let mut s = acc[0];
                for a in &acc[1..] {
                    s = $add(s, *a);
                }
                $cvt(s)
            }
        };
    }

    fma_loop!(
        avx2_loop,
        "avx2,fma",
        __m256,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_cvtss_f32
    );
    fma_loop!(
        avx512_loop,
        "avx512f",
        __m512,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        _mm512_cvtss_f32
    );
}

//! The CPU level this binary was built for, and the start-up check that the host has it.
//!
//! ibci builds every x86-64 crate for ONE explicit level, set in `.cargo/config.toml`
//! (`-C target-cpu=x86-64-v2`; never `native`). The compiler may use any instruction that
//! level implies anywhere in the program, and the `wide` crate fixes its SIMD instructions
//! at compile time from it. Wider paths (AVX2+FMA, AVX-512) are separate `#[target_feature]`
//! functions chosen at run time, so they are not part of this check.
//!
//! A binary run on a CPU that lacks a compiled-in feature would die with SIGILL somewhere
//! unpredictable; instead `main` calls [`check_host`] first and exits with a message naming
//! the missing features and how to rebuild.

/// Target features that can be part of a build's CPU level, in the order they are listed.
const LEVEL_FEATURES: &[&str] = &[
    "sse2",
    "sse3",
    "ssse3",
    "sse4.1",
    "sse4.2",
    "popcnt",
    "cmpxchg16b",
    "avx",
    "avx2",
    "fma",
    "bmi1",
    "bmi2",
    "lzcnt",
    "movbe",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512cd",
    "avx512dq",
    "avx512vl",
];

/// The features this binary was compiled to assume (from `cfg(target_feature)`).
pub fn compiled_features() -> Vec<&'static str> {
    let enabled = [
        cfg!(target_feature = "sse2"),
        cfg!(target_feature = "sse3"),
        cfg!(target_feature = "ssse3"),
        cfg!(target_feature = "sse4.1"),
        cfg!(target_feature = "sse4.2"),
        cfg!(target_feature = "popcnt"),
        cfg!(target_feature = "cmpxchg16b"),
        cfg!(target_feature = "avx"),
        cfg!(target_feature = "avx2"),
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "bmi1"),
        cfg!(target_feature = "bmi2"),
        cfg!(target_feature = "lzcnt"),
        cfg!(target_feature = "movbe"),
        cfg!(target_feature = "f16c"),
        cfg!(target_feature = "avx512f"),
        cfg!(target_feature = "avx512bw"),
        cfg!(target_feature = "avx512cd"),
        cfg!(target_feature = "avx512dq"),
        cfg!(target_feature = "avx512vl"),
    ];
    LEVEL_FEATURES
        .iter()
        .zip(enabled)
        .filter_map(|(&f, on)| on.then_some(f))
        .collect()
}

/// Whether the host CPU has feature `f` (one of the names this module lists), read from
/// CPUID (and XGETBV for the OS's support of AVX and AVX-512 state).
///
/// Not `is_x86_feature_detected!`: that macro answers `true` at compile time for every feature
/// the build enables, which is exactly what this check must not assume.
#[cfg(target_arch = "x86_64")]
pub fn host_has(f: &str) -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // Leaves beyond the CPU's maximum are not read.
    let (max, l1) = (__cpuid(0).eax, __cpuid(1));
    let l7 = if max >= 7 {
        __cpuid_count(7, 0)
    } else {
        cpuid_zero()
    };
    let ext = (__cpuid(0x8000_0000).eax >= 0x8000_0001).then(|| __cpuid(0x8000_0001));
    let bit = |reg: u32, b: u32| reg & (1 << b) != 0;
    // XCR0: which register states the OS saves (SSE 1, AVX 2, opmask/ZMM 5-7).
    let xcr0 = if bit(l1.ecx, 27) { xgetbv0() } else { 0 };
    let avx_os = xcr0 & 0b110 == 0b110;
    let avx512_os = avx_os && xcr0 & 0b1110_0000 == 0b1110_0000;
    match f {
        "sse2" => bit(l1.edx, 26),
        "sse3" => bit(l1.ecx, 0),
        "ssse3" => bit(l1.ecx, 9),
        "sse4.1" => bit(l1.ecx, 19),
        "sse4.2" => bit(l1.ecx, 20),
        "popcnt" => bit(l1.ecx, 23),
        "cmpxchg16b" => bit(l1.ecx, 13),
        "movbe" => bit(l1.ecx, 22),
        "avx" => bit(l1.ecx, 28) && avx_os,
        "fma" => bit(l1.ecx, 12) && avx_os,
        "f16c" => bit(l1.ecx, 29) && avx_os,
        "avx2" => bit(l7.ebx, 5) && avx_os,
        "bmi1" => bit(l7.ebx, 3),
        "bmi2" => bit(l7.ebx, 8),
        "lzcnt" => ext.is_some_and(|e| bit(e.ecx, 5)),
        "avx512f" => bit(l7.ebx, 16) && avx512_os,
        "avx512dq" => bit(l7.ebx, 17) && avx512_os,
        "avx512cd" => bit(l7.ebx, 28) && avx512_os,
        "avx512bw" => bit(l7.ebx, 30) && avx512_os,
        "avx512vl" => bit(l7.ebx, 31) && avx512_os,
        _ => false,
    }
}

#[cfg(target_arch = "x86_64")]
fn cpuid_zero() -> std::arch::x86_64::CpuidResult {
    std::arch::x86_64::CpuidResult {
        eax: 0,
        ebx: 0,
        ecx: 0,
        edx: 0,
    }
}

/// XCR0, the OS-enabled register states. Call only when CPUID reports OSXSAVE.
#[cfg(target_arch = "x86_64")]
fn xgetbv0() -> u64 {
    #[target_feature(enable = "xsave")]
    unsafe fn read() -> u64 {
        // SAFETY: XGETBV with ECX = 0 is valid when OSXSAVE is set (checked by the caller).
        unsafe { std::arch::x86_64::_xgetbv(0) }
    }
    // SAFETY: OSXSAVE (checked by the caller) implies the CPU has XSAVE and XGETBV.
    unsafe { read() }
}

/// Whether the host CPU has feature `f`: off x86-64 no level features are compiled in, so
/// nothing is ever asked.
#[cfg(not(target_arch = "x86_64"))]
pub fn host_has(_f: &str) -> bool {
    false
}

/// The SIMD features of this host that bear on ibci's kernels, as reported by `ibci info`
/// and recorded in run manifests.
pub fn host_simd_features() -> Vec<&'static str> {
    ["sse4.2", "avx", "avx2", "fma", "avx512f"]
        .into_iter()
        .filter(|f| host_has(f))
        .collect()
}

/// The host CPU's model name (Linux: `/proc/cpuinfo`'s first "model name"), or "unknown".
pub fn model_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The compiled-in features that `has` says the host lacks.
pub fn missing<'a>(compiled: &[&'a str], has: impl Fn(&str) -> bool) -> Vec<&'a str> {
    compiled.iter().copied().filter(|f| !has(f)).collect()
}

/// The usual name of the build's CPU level, from its compiled-in features.
pub fn build_level() -> &'static str {
    let c = compiled_features();
    let has = |f: &str| c.contains(&f);
    if !cfg!(target_arch = "x86_64") {
        std::env::consts::ARCH
    } else if has("avx512f") && has("avx512bw") && has("avx512vl") {
        "x86-64-v4"
    } else if has("avx2") && has("fma") && has("bmi2") {
        "x86-64-v3"
    } else if has("sse4.2") && has("popcnt") {
        "x86-64-v2"
    } else {
        "x86-64"
    }
}

/// The message printed when the host lacks `missing` features, or `None` when it has all.
pub fn refusal(missing: &[&str]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "error: this ibci binary was built for CPU level {} but this CPU lacks: {}.\n\
         It would crash with an illegal instruction, so it refuses to run.\n\
         HINT: rebuild for a lower level by editing target-cpu in .cargo/config.toml \
         (results are reproducible only for the same level; see docs/cpu-features.md).",
        build_level(),
        missing.join(", ")
    ))
}

/// Exits the process with status 3 and a clear message if the host lacks a compiled-in
/// feature.
pub fn check_host() {
    if let Some(msg) = refusal(&missing(&compiled_features(), host_has)) {
        eprintln!("{msg}");
        std::process::exit(3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_lacking_a_compiled_feature_is_refused_by_name() {
        let compiled = ["sse2", "sse4.2", "popcnt"];
        let lacks_sse42 = |f: &str| f != "sse4.2";
        assert_eq!(missing(&compiled, lacks_sse42), vec!["sse4.2"]);
        let msg = refusal(&missing(&compiled, lacks_sse42)).expect("refused");
        assert!(
            msg.contains("sse4.2") && msg.contains(build_level()),
            "{msg}"
        );
        assert_eq!(refusal(&missing(&compiled, |_| true)), None);
    }

    #[test]
    fn this_host_runs_this_build() {
        // The test binary itself is built at the same level, so it is running: the host has
        // every compiled-in feature, and the check must agree.
        assert_eq!(missing(&compiled_features(), host_has), Vec::<&str>::new());
    }

    #[test]
    fn the_configured_level_is_compiled_in() {
        // .cargo/config.toml sets x86-64-v2 for x86-64 builds.
        if cfg!(target_arch = "x86_64") {
            let c = compiled_features();
            for f in ["sse4.2", "popcnt", "ssse3"] {
                assert!(c.contains(&f), "{f} missing from {c:?}");
            }
            assert_ne!(build_level(), "x86-64");
        }
    }
}

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

/// Whether the host CPU has feature `f` (one of the names this module lists).
#[cfg(target_arch = "x86_64")]
pub fn host_has(f: &str) -> bool {
    match f {
        "sse2" => std::arch::is_x86_feature_detected!("sse2"),
        "sse3" => std::arch::is_x86_feature_detected!("sse3"),
        "ssse3" => std::arch::is_x86_feature_detected!("ssse3"),
        "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
        "sse4.2" => std::arch::is_x86_feature_detected!("sse4.2"),
        "popcnt" => std::arch::is_x86_feature_detected!("popcnt"),
        "cmpxchg16b" => std::arch::is_x86_feature_detected!("cmpxchg16b"),
        "avx" => std::arch::is_x86_feature_detected!("avx"),
        "avx2" => std::arch::is_x86_feature_detected!("avx2"),
        "fma" => std::arch::is_x86_feature_detected!("fma"),
        "bmi1" => std::arch::is_x86_feature_detected!("bmi1"),
        "bmi2" => std::arch::is_x86_feature_detected!("bmi2"),
        "lzcnt" => std::arch::is_x86_feature_detected!("lzcnt"),
        "movbe" => std::arch::is_x86_feature_detected!("movbe"),
        "f16c" => std::arch::is_x86_feature_detected!("f16c"),
        "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
        "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
        "avx512cd" => std::arch::is_x86_feature_detected!("avx512cd"),
        "avx512dq" => std::arch::is_x86_feature_detected!("avx512dq"),
        "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
        _ => false,
    }
}

/// Whether the host CPU has feature `f`: off x86-64 no level features are compiled in, so
/// nothing is ever asked.
#[cfg(not(target_arch = "x86_64"))]
pub fn host_has(_f: &str) -> bool {
    false
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
         (results are reproducible only for the same level; see README, \"CPU features\").",
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

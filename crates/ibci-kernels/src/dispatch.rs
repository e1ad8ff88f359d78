//! Which code path runs: what was built, what the host has, and the knob that forces one.
//!
//! The crate is compiled for the workspace's one CPU level (x86-64-v2, `.cargo/config.toml`);
//! `wide`'s portable SIMD runs at that level. The GEMM has three paths:
//!
//! | path | instructions | chosen when |
//! |---|---|---|
//! | [`KernelPath::Portable`] | baseline; `f32::mul_add` (software FMA without hardware FMA) | always available |
//! | [`KernelPath::Avx2Fma`] | AVX2 + FMA, `#[target_feature]` | detected at run time |
//! | [`KernelPath::Avx512`] | AVX-512F, `#[target_feature]` | detected at run time |
//!
//! All three give bit-identical results (see the crate docs), so the choice changes speed,
//! never numbers. The default is the widest path the host supports. The environment variable
//! `IBCI_KERNEL_PATH` (`portable`, `avx2`, `avx512`) forces one; forcing a path the host lacks
//! is an error ([`KernelPath::from_env`]), never a silent fallback.

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;

/// A GEMM code path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// Baseline instructions only.
    Portable,
    /// AVX2 with FMA3.
    Avx2Fma,
    /// AVX-512 Foundation (with AVX2 and FMA3, which every such CPU has).
    Avx512,
}

/// The environment variable that forces a path.
pub const PATH_ENV: &str = "IBCI_KERNEL_PATH";

/// How many times longer an MLP-2 training epoch takes on [`KernelPath::Portable`] than on
/// the vector paths, as measured by `IBCI_BENCH_PORTABLE=1 cargo bench --bench epoch` (both in
/// one run, one thread; `IBCI_KERNEL_PATH=avx2` for the AVX2 path): on a 2-core AMD EPYC with
/// AVX-512 (CPU family 26), 2026-12-05 at commit 716b754, 67.3x and 68.3x against its AVX-512
/// path and 56.9x and 58.8x against its AVX2 path; on another AVX-512 EPYC, 2026-12-02 at
/// commit b6a01b5, 56.2x and 44.0x. The portable path must give the FMA paths' bits, so every
/// fused multiply-add is `f32::mul_add`, which at the x86-64-v2 build level is a call into the
/// C library's software `fmaf`.
pub const PORTABLE_SLOWDOWN: f64 = 60.0;

/// An invalid or unsupported `IBCI_KERNEL_PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    /// The value of the variable.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PATH_ENV}={:?}: {}", self.value, self.reason)
    }
}

impl std::error::Error for PathError {}

impl KernelPath {
    /// All paths, narrowest first.
    pub const ALL: [KernelPath; 3] = [
        KernelPath::Portable,
        KernelPath::Avx2Fma,
        KernelPath::Avx512,
    ];

    /// The name used by `IBCI_KERNEL_PATH` and in run manifests.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Portable => "portable",
            KernelPath::Avx2Fma => "avx2",
            KernelPath::Avx512 => "avx512",
        }
    }

    /// Parses a path name.
    pub fn parse(s: &str) -> Option<KernelPath> {
        KernelPath::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether this host can run the path.
    pub fn supported(self) -> bool {
        match self {
            KernelPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            KernelPath::Avx512 => {
                // Every AVX-512F CPU also has AVX2 and FMA; the path's kernels may use all
                // three, so all three are checked.
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest path this host supports.
    pub fn detect() -> KernelPath {
        [KernelPath::Avx512, KernelPath::Avx2Fma]
            .into_iter()
            .find(|p| p.supported())
            .unwrap_or(KernelPath::Portable)
    }

    /// The path `IBCI_KERNEL_PATH` asks for, or the detected one when it is unset.
    ///
    /// An unknown name, or a path this host does not support, is an error.
    pub fn from_env() -> Result<KernelPath, PathError> {
        match std::env::var(PATH_ENV) {
            Err(_) => Ok(KernelPath::detect()),
            Ok(v) => {
                let p = KernelPath::parse(&v).ok_or_else(|| PathError {
                    value: v.clone(),
                    reason: "expected one of portable, avx2, avx512".into(),
                })?;
                if p.supported() {
                    Ok(p)
                } else {
                    Err(PathError {
                        value: v,
                        reason: format!("this CPU does not support the {} path", p.name()),
                    })
                }
            }
        }
    }

    /// The process-wide default path: [`KernelPath::from_env`], read once.
    ///
    /// # Panics
    /// If `IBCI_KERNEL_PATH` is invalid or names a path this host lacks. Binaries call
    /// [`KernelPath::from_env`] at start-up to report that as an error instead.
    pub fn default_path() -> KernelPath {
        static PATH: OnceLock<Result<KernelPath, PathError>> = OnceLock::new();
        match PATH.get_or_init(KernelPath::from_env) {
            Ok(p) => *p,
            Err(e) => panic!("{e}"),
        }
    }
}

impl fmt::Display for KernelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a run manifest records about the kernels: the paths this host supports and the one
/// in use. (The build's CPU level and its features are the binary's to report: it checks
/// them at start-up.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    /// Paths the host supports.
    pub supported: Vec<KernelPath>,
    /// The path the GEMM uses by default.
    pub selected: KernelPath,
}

/// The environment variable that makes a test's skip of a path a failure: comma-separated
/// path names (`avx2,avx512`) that the host must run.
pub const REQUIRE_ENV: &str = "IBCI_REQUIRE_PATHS";

/// For tests: the paths this host supports. Each other path is reported on stderr as
/// `TEST: path NAME SKIPPED`, or, when [`REQUIRE_ENV`] names it, fails the test, so that a
/// host meant to run a path cannot pass without running it.
///
/// # Panics
/// If a path that [`REQUIRE_ENV`] names is not supported here.
#[track_caller]
pub fn tested_paths(test: &str) -> Vec<KernelPath> {
    let required = std::env::var(REQUIRE_ENV).unwrap_or_default();
    KernelPath::ALL
        .into_iter()
        .filter(|p| {
            if p.supported() {
                return true;
            }
            assert!(
                !required.split(',').any(|r| r.trim() == p.name()),
                "{test}: {REQUIRE_ENV} requires the {} path, which this CPU lacks",
                p.name()
            );
            // Straight to the stderr handle, past the test harness's capture of eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: path {} SKIPPED (not supported by this CPU)",
                p.name()
            );
            false
        })
        .collect()
}

/// The one line a run prints at start-up when it computes on the portable path (`None` on the
/// faster paths): why, and how much slower it is.
pub fn portable_notice(path: KernelPath) -> Option<String> {
    (path == KernelPath::Portable).then(|| {
        let why = if std::env::var_os(PATH_ENV).is_some() {
            format!("{PATH_ENV}=portable")
        } else {
            "this CPU has no AVX2+FMA".to_string()
        };
        format!(
            "note: kernel path portable ({why}): the exact FMA that bit-identity needs is \
             emulated in software, so this run is about {PORTABLE_SLOWDOWN:.0}x slower than on \
             the avx2 path (same results, bit for bit)"
        )
    })
}

/// Facts about the kernel paths on this host, for run manifests.
pub fn build_info() -> BuildInfo {
    BuildInfo {
        supported: KernelPath::ALL
            .into_iter()
            .filter(|p| p.supported())
            .collect(),
        selected: KernelPath::default_path(),
    }
}

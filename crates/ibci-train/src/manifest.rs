//! The one manifest every command writes (`train`'s `manifest.json`, `init`'s `FILE.json`,
//! `reproduce`'s `manifest.json`): the same provenance fields for all (version, commit, the
//! command and its arguments, the build's CPU level and the host's features, the kernel path,
//! threads, the data files and their digests), then the command's own configuration and
//! results, the wall time and the results digest. Serialised from these structs, never
//! assembled by hand.

use std::path::Path;

use ibci_idx::mnist::{FileReport, Part};
use serde::{Deserialize, Serialize};

/// The build and the host: what decides which code ran.
#[derive(Serialize, Debug)]
pub struct Cpu {
    /// The x86-64 level the binary was compiled for.
    pub build_level: &'static str,
    /// The target features compiled in.
    pub compiled_features: Vec<&'static str>,
    /// The host's SIMD features.
    pub host_features: Vec<&'static str>,
}

/// The kernel paths: the one used, and those the host supports.
#[derive(Serialize, Debug)]
pub struct Kernels {
    /// The GEMM's (and every kernel's) path.
    pub gemm_path: &'static str,
    /// Every path this host can run.
    pub supported_paths: Vec<&'static str>,
}

/// What computed one result: the code, the CPU, the kernel path and the thread count. Kept
/// with each run of a sweep, so a rebuild elsewhere does not erase where its runs came from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Machine {
    /// The crate version.
    pub ibci_version: String,
    /// The git commit the binary was built from.
    pub git_commit: String,
    /// The host CPU's model name.
    pub cpu_model: String,
    /// The x86-64 level the binary was compiled for.
    pub build_level: String,
    /// The host's SIMD features.
    pub host_features: Vec<String>,
    /// The kernel path used.
    pub kernel_path: String,
    /// Worker threads.
    pub threads: usize,
}

impl Machine {
    /// This process, with `threads` worker threads.
    pub fn this(threads: usize) -> Machine {
        Machine {
            ibci_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: env!("IBCI_GIT_COMMIT").to_string(),
            cpu_model: crate::cpu::model_name(),
            build_level: crate::cpu::build_level().to_string(),
            host_features: crate::cpu::host_simd_features()
                .into_iter()
                .map(String::from)
                .collect(),
            kernel_path: ibci_kernels::dispatch::build_info()
                .selected
                .name()
                .to_string(),
            threads,
        }
    }
}

/// One input file and its SHA-256.
#[derive(Serialize, Debug)]
pub struct DataFile {
    /// Its path.
    pub file: String,
    /// Its digest, lower-case hex.
    pub sha256: String,
}

/// The data a command read.
#[derive(Serialize, Debug)]
pub struct Data {
    /// The data set directory.
    pub dir: String,
    /// The files read, with their digests.
    pub files: Vec<DataFile>,
}

impl Data {
    /// The record of a loaded data set's files.
    pub fn new(dir: &Path, files: &[FileReport]) -> Data {
        Data {
            dir: dir.display().to_string(),
            files: files
                .iter()
                .map(|f| DataFile {
                    file: f.path.display().to_string(),
                    sha256: f.sha256.clone(),
                })
                .collect(),
        }
    }
}

impl Data {
    /// The record of a data set known by its four digests (in [`Part::ALL`] order), named by
    /// their canonical file names.
    pub fn from_digests(dir: &Path, sha256: &[String]) -> Data {
        Data {
            dir: dir.display().to_string(),
            files: Part::ALL
                .iter()
                .zip(sha256)
                .map(|(p, d)| DataFile {
                    file: dir.join(p.canonical_name()).display().to_string(),
                    sha256: d.clone(),
                })
                .collect(),
        }
    }
}

/// A command's manifest: provenance, then its configuration `C` and results `R`.
#[derive(Serialize, Debug)]
pub struct Manifest<C: Serialize, R: Serialize> {
    /// The crate version.
    pub ibci_version: &'static str,
    /// The git commit the binary was built from.
    pub git_commit: &'static str,
    /// The subcommand (`train`, `init`, `reproduce`).
    pub command: &'static str,
    /// The whole command line.
    pub argv: Vec<String>,
    /// Build level and host features.
    pub cpu: Cpu,
    /// Kernel paths.
    pub kernels: Kernels,
    /// Worker threads (per run, for `reproduce`).
    pub threads: usize,
    /// The data read.
    pub data: Data,
    /// Everything that decides the results.
    pub config: C,
    /// What came out.
    pub results: R,
    /// Wall time of the command, seconds.
    pub wall_seconds: f64,
    /// The digest that names the results.
    pub results_digest: String,
    /// What `results_digest` is the SHA-256 of.
    pub results_digest_of: &'static str,
}

/// What every manifest records besides its own config and results.
pub struct Provenance {
    /// The subcommand.
    pub command: &'static str,
    /// The command line.
    pub argv: Vec<String>,
    /// Worker threads.
    pub threads: usize,
    /// The data read.
    pub data: Data,
}

impl<C: Serialize, R: Serialize> Manifest<C, R> {
    /// A manifest with this process's build and host facts.
    pub fn new(
        p: Provenance,
        config: C,
        results: R,
        wall_seconds: f64,
        (results_digest, results_digest_of): (String, &'static str),
    ) -> Manifest<C, R> {
        let b = ibci_kernels::dispatch::build_info();
        Manifest {
            ibci_version: env!("CARGO_PKG_VERSION"),
            git_commit: env!("IBCI_GIT_COMMIT"),
            command: p.command,
            argv: p.argv,
            cpu: Cpu {
                build_level: crate::cpu::build_level(),
                compiled_features: crate::cpu::compiled_features(),
                host_features: crate::cpu::host_simd_features(),
            },
            kernels: Kernels {
                gemm_path: b.selected.name(),
                supported_paths: b.supported.iter().map(|p| p.name()).collect(),
            },
            threads: p.threads,
            data: p.data,
            config,
            results,
            wall_seconds,
            results_digest,
            results_digest_of,
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}

//! `ibci`: the command-line front end of the ibci workspace.
//!
//! Subcommands: `ibci data info PATH`, `ibci data check DIR`, `ibci train`, `ibci init`,
//! `ibci reproduce`, `ibci plot` and `ibci info`. Errors
//! from the libraries are typed; here they get context and become one readable message and a
//! non-zero exit status (1 for a failed command, 2 for bad usage, including an invalid
//! `IBCI_KERNEL_PATH`, 3 for an unsupported CPU).

/// `println!` for command output: a closed pipe (`ibci ... | head`) ends the program quietly
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }};
}

mod args;
mod cpu;
mod data;
mod infoplane;
mod init;
mod init_report;
mod lock;
mod manifest;
mod reproduce;
mod safetensors;
mod setup;
mod stats;
mod svg;
mod train;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Neuron Campaign for Initialization (IBCI, CIKM 2021), reproduced in Rust.
#[derive(Parser, Debug)]
#[command(name = "ibci", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect and verify IDX files and MNIST-style data set directories.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train an MLP on an MNIST-style data set (SGD, softmax cross-entropy).
    Train(train::TrainArgs),
    /// Write an initialised network (e.g. IBCI's) as safetensors, for use elsewhere.
    Init(init::InitCli),
    /// Redraw a run's information-plane SVGs from its infoplane.csv.
    Plot {
        /// The run directory (holding infoplane.csv).
        dir: PathBuf,
    },
    /// Re-run the paper's Tables 1 and 2 (quick by default, --full for the paper's protocol)
    /// and report them next to the paper's values, with confidence intervals.
    Reproduce(reproduce::ReproduceArgs),
    /// Print the build's CPU level, the host's features and the kernel paths.
    Info {
        /// Also measure the host's fp32 FMA peak (about a second).
        #[arg(long)]
        probe: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Print an IDX file's header, element type and shape; the class histogram of a label
    /// file; the pixel mean and std of an image file.
    Info {
        /// An IDX file, raw or gzip-compressed.
        path: PathBuf,
    },
    /// Verify a data set directory (four IDX files): digests, shapes, counts, label range.
    Check {
        /// The directory (e.g. datasets/mnist).
        dir: PathBuf,
        /// Which SHA-256 digests to check the files against.
        #[arg(long, value_enum, default_value_t = data::Digests::Mnist)]
        digests: data::Digests,
        /// Number of classes; every label must be below it.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        classes: u16,
    },
}

fn main() -> ExitCode {
    cpu::check_host();
    let cli = Cli::parse();
    // A forced kernel path must exist on this CPU: say so now, not in the middle of a run.
    if let Err(e) = ibci_kernels::KernelPath::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if matches!(
        cli.command,
        Command::Train(_) | Command::Init(_) | Command::Reproduce(_)
    ) {
        if let Some(note) =
            ibci_kernels::dispatch::portable_notice(ibci_kernels::KernelPath::default_path())
        {
            eprintln!("{note}");
        }
    }
    let reproduce = matches!(cli.command, Command::Reproduce(_));
    let result = match cli.command {
        Command::Train(t) => {
            let argv: Vec<String> = std::env::args().collect();
            train::run(&t, &argv)
        }
        Command::Init(i) => {
            let argv: Vec<String> = std::env::args().collect();
            init::init_only(&i, &argv)
        }
        Command::Plot { dir } => infoplane::read_csv(&dir.join("infoplane.csv")).and_then(|pts| {
            let files = infoplane::write_svgs(&dir, &pts)?;
            let paths: Vec<String> = files
                .iter()
                .map(|f| dir.join(f).display().to_string())
                .collect();
            say!("wrote {}", paths.join(", "));
            Ok(())
        }),
        Command::Reproduce(r) => {
            let argv: Vec<String> = std::env::args().collect();
            reproduce::run(&r, &argv)
        }
        Command::Info { probe } => {
            info(probe);
            Ok(())
        }
        Command::Data(DataCommand::Info { path }) => data::info(&path),
        Command::Data(DataCommand::Check {
            dir,
            digests,
            classes,
        }) => data::check(&dir, digests.into(), usize::from(classes)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<usage::UsageError>().is_some() {
                eprintln!("\nFor more information, try '--help'.");
                return ExitCode::from(2);
            }
            if let Some(ibci_idx::IdxError::DigestMismatch { .. }) = e.downcast_ref() {
                eprintln!(
                    "{}",
                    if reproduce {
                        "HINT: re-copy the file (Fashion-MNIST: apt-get install --reinstall \
                         dataset-fashion-mnist); for a data set other than MNIST or Fashion-MNIST, \
                         pass its directory as --dataset DIR"
                    } else {
                        "HINT: re-copy the file; for Fashion-MNIST use --digests fashion-mnist; for \
                         another data set, check against its own SHA256SUMS with --digests sums, or \
                         skip the check with --digests none"
                    }
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// `ibci info`: what a run manifest records about the build and the host.
fn info(probe: bool) {
    let b = ibci_kernels::dispatch::build_info();
    say!("ibci {}", env!("CARGO_PKG_VERSION"));
    say!(
        "cpu level:        {} (compiled-in: {})",
        cpu::build_level(),
        cpu::compiled_features().join(" ")
    );
    say!("host features:    {}", cpu::host_simd_features().join(" "));
    let names: Vec<&str> = b.supported.iter().map(|p| p.name()).collect();
    say!("kernel paths:     {} (supported)", names.join(" "));
    let why = if std::env::var_os(ibci_kernels::dispatch::PATH_ENV).is_some() {
        "forced by IBCI_KERNEL_PATH"
    } else {
        "widest supported"
    };
    say!("gemm path:        {} ({why})", b.selected);
    say!(
        "portable path:    about {:.0}x slower than avx2 or avx512 (an MLP-2 epoch; exact FMA in software)",
        ibci_kernels::dispatch::PORTABLE_SLOWDOWN
    );
    say!(
        "threads:          {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if probe {
        for p in &b.supported {
            if let Some(g) = ibci_kernels::probe::fma_peak_gflops(*p, 0.3) {
                say!(
                    "fma peak {:<9} {g:.1} GFLOP/s per core",
                    format!("{}:", p.name())
                );
            }
        }
    }
}

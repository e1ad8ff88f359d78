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

mod cpu;
mod data;
mod infoplane;
mod init;
mod reproduce;
mod safetensors;
mod stats;
mod svg;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
    Train(TrainCli),
    /// Write an initialised network (e.g. IBCI's) as safetensors, for use elsewhere.
    Init(InitCli),
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
        #[arg(long, value_enum, default_value_t = Digests::Mnist)]
        digests: Digests,
        /// Number of classes; every label must be below it.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        classes: u16,
    },
}

/// `ibci train` flags (defaults: the reference code's protocol).
#[derive(clap::Args, Debug)]
struct TrainCli {
    /// Widths (784-100-10) or mlp2, mlp3, mlp5.
    #[arg(long, default_value = "mlp2")]
    arch: String,
    /// One activation per weight layer: relu, tanh, sigmoid, identity (default: relu hidden,
    /// identity output).
    #[arg(long)]
    act: Option<String>,
    #[command(flatten)]
    init: init::InitArgs,
    /// Constant bias of every layer (the reference code uses 0 or 0.01).
    #[arg(long, default_value_t = 0.0)]
    bias: f32,
    /// Epochs to train.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// The one seed every random number flows from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.0)]
    momentum: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f32,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Data set directory.
    #[arg(long, default_value = "datasets/mnist")]
    data: PathBuf,
    /// Which SHA-256 digests the data files are checked against.
    #[arg(long, value_enum, default_value_t = Digests::Mnist)]
    digests: Digests,
    /// Output directory (default: runs/ARCH-INIT-seedSEED).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its checkpoint (same flags; --epochs may grow).
    #[arg(long)]
    resume: bool,
    /// Record every layer's I(X;T) and I(T;Y) after every epoch (binning and KDE bounds) in
    /// infoplane.csv, and draw infoplane.svg and infoplane-kde.svg.
    #[arg(long)]
    infoplane: bool,
    /// Test images the information plane is measured on (a fixed seeded subset).
    #[arg(long, default_value_t = 5000)]
    infoplane_samples: usize,
    /// Bin width of the binned estimates (activation units).
    #[arg(long, default_value_t = 0.5)]
    infoplane_bin_width: f64,
    /// Noise variance of the KDE bounds.
    #[arg(long, default_value_t = 0.1)]
    infoplane_noise: f64,
}

/// `ibci init` flags.
#[derive(clap::Args, Debug)]
struct InitCli {
    /// Widths (784-100-10) or mlp2, mlp3, mlp5.
    #[arg(long, default_value = "mlp2")]
    arch: String,
    /// One activation per weight layer (default: relu hidden, identity output).
    #[arg(long)]
    act: Option<String>,
    #[command(flatten)]
    init: init::InitArgs,
    /// Constant bias of every layer.
    #[arg(long, default_value_t = 0.0)]
    bias: f32,
    /// The one seed every random number flows from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Data set directory (its training images score the candidates).
    #[arg(long, default_value = "datasets/mnist")]
    data: PathBuf,
    /// Which SHA-256 digests the data files are checked against.
    #[arg(long, value_enum, default_value_t = Digests::Mnist)]
    digests: Digests,
    /// Where to write the weights (safetensors, PyTorch layout); a manifest goes to FILE.json.
    #[arg(long)]
    out: PathBuf,
}

/// Digest policy for `data check`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Digests {
    /// The well-known MNIST digests built into ibci.
    Mnist,
    /// The directory's own SHA256SUMS file (custom data sets).
    Sums,
    /// No digest check (custom data sets without sums).
    None,
}

fn main() -> ExitCode {
    cpu::check_host();
    let cli = Cli::parse();
    // A forced kernel path must exist on this CPU: say so now, not in the middle of a run.
    if let Err(e) = ibci_kernels::KernelPath::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Train(t) => {
            let argv: Vec<String> = std::env::args().collect();
            let args = train::TrainArgs {
                arch: t.arch,
                act: t.act,
                init: t.init,
                bias: t.bias,
                epochs: t.epochs,
                seed: t.seed,
                lr: t.lr,
                batch: t.batch,
                momentum: t.momentum,
                weight_decay: t.weight_decay,
                threads: t.threads,
                data: t.data,
                digests: t.digests.into(),
                out: t.out,
                resume: t.resume,
                infoplane: t.infoplane.then_some((
                    t.infoplane_samples,
                    t.infoplane_bin_width,
                    t.infoplane_noise,
                )),
            };
            train::run(&args, &argv)
        }
        Command::Init(i) => {
            let argv: Vec<String> = std::env::args().collect();
            train::init_only(
                &i.arch,
                i.act.as_deref(),
                &i.init,
                i.bias,
                i.seed,
                i.threads,
                &i.data,
                i.digests.into(),
                &i.out,
                &argv,
            )
        }
        Command::Plot { dir } => infoplane::read_csv(&dir.join("infoplane.csv")).and_then(|pts| {
            infoplane::write_svgs(&dir, &pts)?;
            say!(
                "wrote {} and {}",
                dir.join("infoplane.svg").display(),
                dir.join("infoplane-kde.svg").display()
            );
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
            if let Some(ibci_idx::IdxError::DigestMismatch { .. }) = e.downcast_ref() {
                eprintln!(
                    "HINT: for a data set other than MNIST, check against its own SHA256SUMS \
                     with --digests sums, or skip the check with --digests none"
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

impl From<Digests> for ibci_idx::mnist::DigestCheck {
    fn from(d: Digests) -> Self {
        match d {
            Digests::Mnist => ibci_idx::mnist::DigestCheck::KnownMnist,
            Digests::Sums => ibci_idx::mnist::DigestCheck::SumsFile,
            Digests::None => ibci_idx::mnist::DigestCheck::Skip,
        }
    }
}

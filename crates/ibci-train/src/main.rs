//! `ibci`: the command-line front end of the ibci workspace.
//!
//! Subcommands so far: `ibci data info PATH` and `ibci data check DIR`. Errors from the
//! libraries are typed; here they get context and become one readable message and a
//! non-zero exit status (1 for a failed command, 2 for bad usage, 3 for an unsupported CPU).

mod cpu;
mod data;

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
    let result = match cli.command {
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

impl From<Digests> for ibci_idx::mnist::DigestCheck {
    fn from(d: Digests) -> Self {
        match d {
            Digests::Mnist => ibci_idx::mnist::DigestCheck::KnownMnist,
            Digests::Sums => ibci_idx::mnist::DigestCheck::SumsFile,
            Digests::None => ibci_idx::mnist::DigestCheck::Skip,
        }
    }
}

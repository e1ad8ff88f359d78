//! The flags of `ibci reproduce`.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::args::{at_least_one, flag_name, positive, threads, BaseArg, VariantArg};

/// `ibci reproduce` flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ReproduceArgs {
    /// The paper's protocol: MLP-2, MLP-3 and MLP-5, 100 epochs, 5 seeds (default: the quick
    /// version: MLP-2, 20 epochs, 3 seeds).
    #[arg(long)]
    pub full: bool,
    /// The decisive comparison: the paper's protocol with 20 seeds, Vanilla and IBCI only
    /// (MLP-2, MLP-3, MLP-5; Xavier and He; 240 runs), into results/decisive.
    #[arg(long, conflicts_with = "full")]
    pub decisive: bool,
    /// Networks, comma-separated (mlp2, mlp3, mlp5 or widths like 784-100-10).
    #[arg(long)]
    pub nets: Option<String>,
    /// Epochs per run.
    #[arg(long, value_parser = at_least_one)]
    pub epochs: Option<usize>,
    /// Seeds per configuration (seeds 1..=N).
    #[arg(long, value_parser = at_least_one)]
    pub seeds: Option<usize>,
    /// Base initialisers, comma-separated [default: xavier,he].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub bases: Option<Vec<BaseArg>>,
    /// Methods, comma-separated (Table 1 is the first three, Table 2 the last three)
    /// [default: all five].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub methods: Option<Vec<Method>>,
    /// IBCI variant for the ibci, tie and iim methods [default: reference].
    #[arg(long, value_enum)]
    pub variant: Option<VariantArg>,
    /// What the lsuv method runs: Algorithm 1 on the row's base init (the IBCI paper's
    /// columns), on an orthonormal start (the LSUV paper), or the LSUV author's PyTorch code
    /// on an orthonormal start or on the row's base init [default: base].
    #[arg(long, value_enum)]
    pub lsuv_variant: Option<LsuvVariant>,
    /// Training images the lsuv method measures on [default: 100, the batch].
    #[arg(long, value_parser = at_least_one)]
    pub lsuv_batch: Option<usize>,
    /// The lsuv method's tolerance, above 0 [default: 0.1].
    #[arg(long, value_parser = positive)]
    pub lsuv_tol: Option<f32>,
    /// `mnist` (datasets/mnist), `fashion-mnist` (/usr/share/datasets/fashion-mnist, from
    /// `apt-get install dataset-fashion-mnist`), `fashion-mnist=DIR`, or a directory
    /// [default: mnist].
    #[arg(long)]
    pub dataset: Option<String>,
    /// Train on a seeded subset of this many training images (the test set stays whole).
    #[arg(long, value_parser = at_least_one)]
    pub train_subset: Option<usize>,
    /// Output directory (default: results/quick, results/full or results/custom).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time, 1 to 1024 (default: cores / --threads-per-run).
    #[arg(long, value_parser = threads)]
    pub jobs: Option<usize>,
    /// Threads per run, 1 to 1024.
    #[arg(long, default_value_t = 1, value_parser = threads)]
    pub threads_per_run: usize,
    /// Run only shard I of N (1-based): every N-th run of the list, starting at the I-th.
    #[arg(long, value_parser = shard)]
    pub shard: Option<(usize, usize)>,
    /// Cached runs written before entries had checksums: check what can be checked
    /// (configuration, every epoch), then seal them with a checksum and use them, their
    /// provenance recorded as unknown (default: the sweep stops and names this flag).
    #[arg(long)]
    pub adopt_unchecked_cache: bool,
    /// Instead of training: measure every run's network at initialisation (each layer's
    /// I(X;T) and I(T;Y), KDE bounds and binned, on 2,000 seeded test images) into
    /// init-info.md and init-info.csv, cached in OUT/init/.
    #[arg(long, conflicts_with_all = ["shard", "merge"])]
    pub init_info: bool,
    /// Build the tables from these shard directories' runs instead of running anything (the
    /// sweep is read from their sweep.json; sweep flags, if given, must describe it).
    #[arg(long, num_args = 1..)]
    pub merge: Vec<PathBuf>,
    /// Instead of using the cache: run again every run of the sweep that --out holds and check
    /// that it gives the cached weights (their SHA-256) and every epoch's numbers, bit for
    /// bit; nothing is written. Fails on any difference, or if --out holds none of the runs.
    #[arg(long, conflicts_with_all = ["merge", "init_info", "adopt_unchecked_cache"])]
    pub verify: bool,
}

impl ReproduceArgs {
    /// Whether any flag that defines the sweep was given.
    pub(super) fn names_a_sweep(&self) -> bool {
        self.full
            || self.decisive
            || self.nets.is_some()
            || self.epochs.is_some()
            || self.seeds.is_some()
            || self.bases.is_some()
            || self.methods.is_some()
            || self.variant.is_some()
            || self.dataset.is_some()
            || self.train_subset.is_some()
            || self.lsuv_variant.is_some()
            || self.lsuv_batch.is_some()
            || self.lsuv_tol.is_some()
    }
}

/// What the lsuv method of a sweep runs.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsuvVariant {
    /// Algorithm 1 on the row's base initialiser (`--init lsuv-xavier`, `lsuv-he`).
    Base,
    /// Algorithm 1 on an orthonormal start (`--init lsuv`).
    Orthonormal,
    /// The LSUV author's PyTorch code (`--init lsuv-pytorch`).
    Pytorch,
    /// The LSUV author's PyTorch code on the row's base initialiser, without its
    /// orthonormalisation (`--init lsuv-pytorch-xavier`, `lsuv-pytorch-he`).
    PytorchBase,
}

/// A method of the paper's tables.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The base initialiser alone.
    Vanilla,
    /// LSUV on the base initialiser.
    Lsuv,
    /// The campaign, both criteria.
    Ibci,
    /// The campaign, TIE only.
    Tie,
    /// The campaign, IIM only.
    Iim,
}

impl Method {
    /// All five, in table order.
    pub const ALL: [Method; 5] = [
        Method::Vanilla,
        Method::Lsuv,
        Method::Ibci,
        Method::Tie,
        Method::Iim,
    ];
}

/// The flag names of a list of choices.
pub(super) fn names<T: ValueEnum>(v: &[T]) -> Vec<String> {
    v.iter().map(flag_name).collect()
}

/// `--shard I/N` with 1 <= I <= N.
fn shard(s: &str) -> Result<(usize, usize), String> {
    let parsed = s
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((i, n)) if n >= 1 && (1..=n).contains(&i) => Ok((i, n)),
        _ => Err(format!("{s:?}: expected I/N with 1 <= I <= N, e.g. 2/8")),
    }
}

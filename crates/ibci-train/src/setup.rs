//! The set-up `ibci train` and `ibci init` share: the architecture, the initialiser's options
//! (validated before any data are read), the thread pool and the data.

use anyhow::{bail, Context, Result};
use ibci_idx::mnist::{self, LoadOptions};
use ibci_kernels::Par;
use ibci_nn::ArchSpec;

use crate::args::{InitScheme, NetArgs, MAX_THREADS};
use crate::usage::usage;

/// A network's set-up, ready to initialise and train.
pub struct Setup {
    /// Widths and activations.
    pub spec: ArchSpec,
    /// Worker threads.
    pub threads: usize,
    /// The pool the work runs in (`threads` workers).
    pub pool: rayon::ThreadPool,
    /// How the kernels use the pool: in order for one thread, else rayon.
    pub par: Par,
    /// The data set, digests checked.
    pub data: mnist::Dataset,
}

impl Setup {
    /// Checks the flags, starts the pool and loads the data.
    pub fn new(a: &NetArgs) -> Result<Setup> {
        let (arch, init, bias, dir) = (&a.arch, &a.init, a.bias, &a.data);
        // Everything the flags alone decide is checked before any work, as a usage error.
        let mut spec = ArchSpec::parse(arch)
            .with_context(|| "--arch")
            .map_err(usage)?;
        if let Some(list) = &a.act {
            spec = spec
                .with_activations(list)
                .with_context(|| "--act")
                .map_err(usage)?;
        }
        init.check_flags().map_err(usage)?;
        if init.init == InitScheme::Ibci {
            init.campaign_options(bias)
                .and_then(|o| Ok(o.plan(&spec)?))
                .map_err(usage)?;
        }
        // --threads is 1..=MAX_THREADS (clap checked it); by default, every core.
        let threads = a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(MAX_THREADS);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("starting the thread pool")?;
        let data = mnist::load(
            dir,
            &LoadOptions {
                classes: spec.outputs(),
                digests: a.digests.into(),
            },
        )
        .with_context(|| format!("loading --data {}", dir.display()))?;
        if data.train.dim() != spec.inputs() {
            bail!(
                "--arch {arch}: {} inputs, but the images in {} have {} pixels",
                spec.inputs(),
                dir.display(),
                data.train.dim()
            );
        }
        Ok(Setup {
            spec,
            threads,
            pool,
            par: Par::for_threads(threads),
            data,
        })
    }
}

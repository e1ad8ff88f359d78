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
        check_memory(&spec, init.init == InitScheme::Ibci)?;
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

/// Refuses, before anything is allocated, a network whose working set is larger than the
/// memory available (an allocation failure would abort the process instead of reporting).
/// The estimate counts the weights three times (the network, its gradient or momentum, a
/// checkpoint's copy) and every layer's activations for a 1000-image evaluation batch; with
/// the campaign, also each layer's responses over the 60,000 training images.
fn check_memory(spec: &ArchSpec, campaign: bool) -> Result<()> {
    let w = &spec.widths;
    let params: u128 = w
        .windows(2)
        .map(|p| (p[0] as u128 + 1) * p[1] as u128)
        .sum();
    let units: u128 = w.iter().map(|&x| x as u128).sum();
    let widest = w.iter().copied().max().unwrap_or(0) as u128;
    let mut bytes = 4 * (3 * params + 2 * 1000 * units);
    if campaign {
        bytes += 4 * 2 * 60_000 * widest;
    }
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if bytes > u128::from(available) {
        let gib = |b: u128| b as f64 / f64::from(1u32 << 30);
        bail!(
            "--arch {spec}: about {:.1} GiB needed ({params} parameters), {:.1} GiB available",
            gib(bytes),
            gib(u128::from(available))
        );
    }
    Ok(())
}

/// The memory the system can give this process now, in bytes (`MemAvailable` of
/// /proc/meminfo; `None` where there is no such file).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

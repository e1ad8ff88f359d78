//! Epoch time of the paper's MLPs: one training epoch (60,000 MNIST images, batch 100, SGD
//! lr 0.1, He-normal init) and the test evaluation (10,000 images), for MLP-2, MLP-3 and MLP-5
//! at 1 and 2 threads. When `python3` can import torch (or numpy), the identical epoch of
//! `benches/compare/pytorch_mlp.py` (`numpy_mlp.py`) runs interleaved with ibci's in the same
//! process tree, and the ratio of medians is printed; these machines vary up to 2x from
//! minute to minute, so only same-run ratios mean anything.
//!
//! Run: `cargo bench --bench epoch` (about three minutes with both comparisons). To time fewer
//! cells, `IBCI_BENCH_NETS=mlp2` and `IBCI_BENCH_THREADS=1` (comma-separated lists).
//! With both thread counts it then prints each net's two-thread epoch over its one-thread
//! epoch, from pairs of epochs run back to back (issue 13's two-thread target): epochs 2-8
//! of a run on each thread count, since a run's first epoch also starts the team's thread and
//! grows every thread's buffers, which a 100-epoch run pays once. Each pair's ratio is printed
//! with the cross-core round trip measured after it (see `two_against_one`);
//! `IBCI_BENCH_FAR=split` makes those two-thread runs split every step over both threads even
//! when their cores are far apart (`FarCores::Split`; the default runs such steps on one).
//! `IBCI_BENCH_PORTABLE=1` also times one MLP-2 epoch on the portable kernel path, in a child
//! process, and prints its ratio to this run's (the figure `ibci info` quotes).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ibci_idx::mnist::{load, LoadOptions};
use ibci_kernels::{Par, Team};
use ibci_nn::init::{BiasInit, FanMode, Nonlinearity, WeightInit};
use ibci_nn::train::{shuffle_stream, FarCores, OwnedSplit, SgdState, Split, Trainer};
use ibci_nn::{ArchSpec, Mlp, TrainConfig};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const REPS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `(epoch seconds, eval seconds)` printed by a comparison script, or `None` if it failed.
fn python(script: &str, arch: &str, threads: usize) -> Option<(f64, f64)> {
    let out = Command::new("python3")
        .arg(root().join("benches/compare").join(script))
        .args(["--arch", arch, "--threads", &threads.to_string()])
        // Benchmark the BLAS it would pick by itself (see the env notes on OpenBLAS).
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> Option<f64> {
        text.split_whitespace()
            .find_map(|t| t.strip_prefix(k))
            .and_then(|v| v.parse().ok())
    };
    Some((field("epoch_seconds=")?, field("eval_seconds=")?))
}

fn has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// This bench again, in a child process on the portable kernel path (the path is chosen once
/// per process), timing one MLP-2 epoch on one thread: its `epoch_seconds`.
fn portable_epoch() -> Option<f64> {
    let out = Command::new(std::env::current_exe().ok()?)
        .arg("--bench")
        .env("IBCI_KERNEL_PATH", "portable")
        .env(CHILD, "1")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|t| t.strip_prefix("epoch_seconds="))
        .and_then(|v| v.parse().ok())
}

/// Pairs of epochs (one thread, then two) for the two-thread ratio.
const PAIRS: usize = 7;

/// `spec` with He-normal weights (fan-in, ReLU gain) and zero biases, seed 1.
fn he_net(spec: &ArchSpec) -> Mlp {
    let he = WeightInit::KaimingNormal {
        mode: FanMode::FanIn,
        nl: Nonlinearity::Relu,
    };
    Mlp::init(
        spec,
        &vec![he; spec.layers()],
        BiasInit::Constant(0.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(1),
    )
}

/// One epoch of the reference protocol (batch 100, SGD lr 0.1).
fn one_epoch() -> TrainConfig {
    TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    }
}

/// One training epoch of `spec` (He-normal, seed 1, the shuffle of `rep`) on a pool of
/// `threads`, a fresh run's first: its seconds.
fn epoch_seconds(
    spec: &ArchSpec,
    train: Split<'_>,
    test: Split<'_>,
    threads: usize,
    rep: usize,
) -> f64 {
    Run::new(spec, threads, rep + 1).next_epoch(train, test)
}

/// A run in progress on a pool of `threads`: its network, SGD state, shuffle stream and
/// trainer, so that epochs after the first can be timed. A run's first epoch also starts the
/// team's threads and grows every thread's buffers (page faults included); its later epochs,
/// which are nearly all of a 100-epoch run, do not.
struct Run {
    mlp: Mlp,
    state: SgdState,
    rng: Xoshiro256PlusPlus,
    pool: rayon::ThreadPool,
    trainer: Trainer,
    epoch: usize,
}

impl Run {
    /// A run of `spec` (He-normal, seed 1) on `threads`, no epoch done yet, its shuffles
    /// drawn from `shuffle_stream(1, stream)`.
    fn new(spec: &ArchSpec, threads: usize, stream: usize) -> Run {
        let mlp = he_net(spec);
        Run {
            state: SgdState::new(&mlp, 0.0),
            trainer: Trainer::new(&mlp, &one_epoch(), Par::for_threads(threads)),
            mlp,
            rng: shuffle_stream(1, stream),
            pool: rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool"),
            epoch: 0,
        }
    }

    /// A run of `spec` (He-normal, seed 1) on `threads`, its first epoch done (untimed).
    fn started(spec: &ArchSpec, train: Split<'_>, test: Split<'_>, threads: usize) -> Run {
        let mut run = Run::new(spec, threads, 1);
        if std::env::var("IBCI_BENCH_FAR").as_deref() == Ok("split") {
            run.trainer.set_far_cores(FarCores::Split);
        }
        run.next_epoch(train, test);
        run
    }

    /// The seconds of the run's next epoch.
    fn next_epoch(&mut self, train: Split<'_>, test: Split<'_>) -> f64 {
        self.epoch += 1;
        let Run {
            mlp,
            state,
            rng,
            pool,
            trainer,
            epoch,
        } = self;
        pool.install(|| trainer.epoch(mlp, state, train, test, *epoch, rng))
            .expect("no divergence")
            .seconds
    }
}

/// Issue 13's two-thread target as its own ratio: a run on one thread and a run on two, then
/// `PAIRS` pairs of their next epochs (one thread, then two, back to back, so that both see
/// the same minute of the machine), each pair's ratio. Epochs after a run's first (see `Run`).
///
/// Each pair is followed by [`round_trip_ns`], printed beside its ratio with the number of the
/// two-thread epoch's steps that ran on one thread: on these virtual machines the host
/// sometimes places the two virtual cores far apart, where a cache line takes about six times
/// as long to cross (2026-12-03, AMD EPYC: 52-65 ns most of the time, 320-336 ns at others),
/// and a two-thread step, whose threads share W1, is then slower than a one-thread one; the
/// trainer probes for that and runs those steps on one thread (`ibci_nn::train::FarCores`).
fn two_against_one(arch: &str, train: Split<'_>, test: Split<'_>) {
    let spec = ArchSpec::parse(arch).expect("IBCI_BENCH_NETS: a preset or widths");
    let mut one = Run::started(&spec, train, test, 1);
    let mut two = Run::started(&spec, train, test, 2);
    let pairs: Vec<(f64, f64, usize)> = (0..PAIRS)
        .map(|_| {
            let t1 = one.next_epoch(train, test);
            let before = two.trainer.one_thread_steps();
            let ratio = two.next_epoch(train, test) / t1;
            let alone = two.trainer.one_thread_steps() - before;
            (ratio, round_trip_ns(), alone)
        })
        .collect();
    let mut ratios: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "{arch}: two-thread epoch / one-thread epoch, epochs 2-{} of a run on each, {PAIRS} \
         back-to-back pairs: median {:.2} (range {:.2}-{:.2})",
        PAIRS + 1,
        ratios[PAIRS / 2],
        ratios[0],
        ratios[PAIRS - 1]
    );
    let each: Vec<String> = pairs
        .iter()
        .map(|(r, ns, alone)| format!("{r:.2} ({ns:.0} ns, {alone})"))
        .collect();
    println!(
        "  each pair, with the cross-core round trip measured after it and the two-thread \
         epoch's steps run on one thread (cores far apart, `FarCores`): {}",
        each.join(", ")
    );
}

/// The round trip of a cache line between this thread and a new one, in nanoseconds
/// ([`Team::round_trip_ns`] with 20,000 round trips: the fastest of its groups' means). What a
/// two-thread step pays for each line its threads share.
fn round_trip_ns() -> f64 {
    Team::new(2)
        .round_trip_ns(20_000)
        .expect("a team of two measures")
}

/// Set in the child that times the portable path.
const CHILD: &str = "IBCI_BENCH_PORTABLE_CHILD";

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let d = load(&root().join("datasets/mnist"), &LoadOptions::default()).expect("datasets/mnist");
    let (tr, te) = (
        OwnedSplit::from_images(d.train.images_f32(), d.train.dim(), &d.train.labels),
        OwnedSplit::from_images(d.test.images_f32(), d.test.dim(), &d.test.labels),
    );
    let (train, test) = (tr.view(), te.view());
    if std::env::var_os(CHILD).is_some() {
        let spec = ArchSpec::parse("mlp2").expect("preset");
        println!("epoch_seconds={}", epoch_seconds(&spec, train, test, 1, 0));
        return;
    }
    let (torch, numpy) = (has("torch"), has("numpy"));
    println!(
        "epoch time, medians of {REPS} (interleaved); comparisons: torch {}, numpy {}",
        if torch { "yes" } else { "not installed" },
        if numpy { "yes" } else { "not installed" }
    );
    println!("| net | threads | ibci epoch s | ibci eval s | PyTorch epoch s | ibci/PyTorch | NumPy epoch s | ibci/NumPy |");
    println!("|---|---|---|---|---|---|---|---|");
    let cfg = one_epoch();
    let list = |var: &str, all: &str| -> Vec<String> {
        std::env::var(var)
            .unwrap_or_else(|_| all.to_string())
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    };
    let mut mlp2_one_thread = None;
    for arch in list("IBCI_BENCH_NETS", "mlp2,mlp3,mlp5") {
        let arch = arch.as_str();
        let spec = ArchSpec::parse(arch).expect("IBCI_BENCH_NETS: a preset or widths");
        for threads in list("IBCI_BENCH_THREADS", "1,2") {
            let threads: usize = threads.parse().expect("IBCI_BENCH_THREADS: thread counts");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let par = Par::for_threads(threads);
            let (mut ours, mut eval, mut pt, mut np) = (vec![], vec![], vec![], vec![]);
            for rep in 0..REPS {
                let mut mlp = he_net(&spec);
                let mut state = SgdState::new(&mlp, 0.0);
                let mut rng = shuffle_stream(1, rep + 1);
                let mut trainer = Trainer::new(&mlp, &cfg, par);
                let m = pool
                    .install(|| trainer.epoch(&mut mlp, &mut state, train, test, 1, &mut rng))
                    .expect("no divergence");
                ours.push(m.seconds);
                let t = Instant::now();
                pool.install(|| mlp.evaluate(test.x, test.y, 1000, par));
                eval.push(t.elapsed().as_secs_f64());
                if torch {
                    if let Some((e, _)) = python("pytorch_mlp.py", arch, threads) {
                        pt.push(e);
                    }
                }
                if numpy {
                    if let Some((e, _)) = python("numpy_mlp.py", arch, threads) {
                        np.push(e);
                    }
                }
            }
            let o = median(ours);
            if arch == "mlp2" && threads == 1 {
                mlp2_one_thread = Some(o);
            }
            let cell = |v: Vec<f64>| {
                if v.is_empty() {
                    ("-".to_string(), "-".to_string())
                } else {
                    let m = median(v);
                    (format!("{m:.3}"), format!("{:.2}", o / m))
                }
            };
            let (pts, ptr) = cell(pt);
            let (nps, npr) = cell(np);
            println!(
                "| {arch} | {threads} | {o:.3} | {:.3} | {pts} | {ptr} | {nps} | {npr} |",
                median(eval)
            );
        }
    }
    let threads = list("IBCI_BENCH_THREADS", "1,2");
    if threads.iter().any(|t| t == "1") && threads.iter().any(|t| t == "2") {
        println!();
        for arch in list("IBCI_BENCH_NETS", "mlp2,mlp3,mlp5") {
            two_against_one(&arch, train, test);
        }
    }
    if std::env::var_os("IBCI_BENCH_PORTABLE").is_some() {
        // The portable path's cost (about a minute): one MLP-2 epoch, one thread, in a child
        // process, against this run's median on the detected path.
        match (portable_epoch(), mlp2_one_thread) {
            (Some(p), Some(o)) => println!(
                "\nportable path: MLP-2 epoch {p:.2} s on one thread, {:.1}x this run's {o:.3} s",
                p / o
            ),
            _ => println!("\nportable path: not measured (needs mlp2 at 1 thread in this run)"),
        }
    }
}

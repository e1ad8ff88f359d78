//! ibci-kernels benches: GEMM GFLOP/s, hand-written vs `matrixmultiply` in the same run, 1 and
//! 2 threads, on the shapes ibci needs; achieved/peak from the FMA probe.
//!
//! Run: `cargo bench -p ibci-kernels` (all), `cargo bench -p ibci-kernels -- summary` for
//! the summary tables alone, `-- summary training` for the GEMM summary of the training's
//! batch-100 shapes alone (issue 13's item 4, a quick check), or `cargo bench -p
//! ibci-kernels -- paths` for the elementwise kernels' portable-against-AVX2 table alone.
//! These machines are noisy: compare within one run.
//! The AVX2 path against matrixmultiply's AVX2 kernel on an AVX-512 host:
//! `MMTEST_FEATURE=avx2,fma,avx,sse2 CARGO_TARGET_DIR=target/mm-avx2 IBCI_KERNEL_PATH=avx2
//! cargo bench -p ibci-kernels --bench main -- summary` (the first variable is read when
//! matrixmultiply is compiled, hence the separate target directory).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ibci_kernels::elementwise::{activate, bias_add, sgd_step, Activation};
use ibci_kernels::math::exp_inplace_with;
use ibci_kernels::probe::fma_peak_gflops;
use ibci_kernels::softmax::softmax_xent;
use ibci_kernels::stats::{class_column_stats, column_mean_var, deflate};
use ibci_kernels::{gemm_with, Backend, KernelPath, Mat, Par};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u64 = 7;

/// (name, M, K, N, A transposed, B transposed)
const SHAPES: [(&str, usize, usize, usize, bool, bool); 7] = [
    ("XW 100x784x100", 100, 784, 100, false, false),
    ("XtdY 784x100x100", 784, 100, 100, true, false),
    ("dYWt 100x100x784", 100, 100, 784, false, true),
    ("out 100x100x10", 100, 100, 10, false, false),
    ("outT 100x10x100", 100, 10, 100, false, false),
    ("campaign 60000x784x1000", 60000, 784, 1000, false, false),
    ("square 1024^3", 1024, 1024, 1024, false, false),
];

struct Operands {
    a: Mat,
    b: Mat,
    c: Mat,
    at: bool,
    bt: bool,
}

fn operands(m: usize, k: usize, n: usize, at: bool, bt: bool) -> Operands {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut rnd = |r: usize, c: usize| {
        Mat::from_fn(r, c, |_, _| {
            (rng.next_u32() >> 8) as f32 / (1 << 24) as f32 - 0.5
        })
    };
    let a = if at { rnd(k, m) } else { rnd(m, k) };
    let b = if bt { rnd(n, k) } else { rnd(k, n) };
    Operands {
        a,
        b,
        c: Mat::zeros(m, n),
        at,
        bt,
    }
}

/// A pool of `threads` threads, and the parallelism to ask for inside it (one thread runs
/// sequentially, as a single-threaded caller would).
fn pool_for(threads: usize) -> (rayon::ThreadPool, Par) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("build a rayon pool");
    (pool, Par::for_threads(threads))
}

fn run(backend: Backend, o: &mut Operands, par: Par) {
    let a = if o.at { o.a.as_ref().t() } else { o.a.as_ref() };
    let b = if o.bt { o.b.as_ref().t() } else { o.b.as_ref() };
    gemm_with(
        backend,
        o.c.as_mut(),
        black_box(a),
        black_box(b),
        1.0,
        0.0,
        par,
    );
}

fn seconds(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Median seconds per call of each backend, interleaved so both see the same machine state.
fn race(o: &mut Operands, par: Par, path: KernelPath) -> (f64, f64) {
    let once = seconds(&mut || run(Backend::Ibci(path), o, par));
    let reps = ((0.15 / once.max(1e-7)) as usize).clamp(1, 20_000);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        ours.push(
            seconds(&mut || (0..reps).for_each(|_| run(Backend::Ibci(path), o, par))) / reps as f64,
        );
        theirs.push(
            seconds(&mut || (0..reps).for_each(|_| run(Backend::MatrixMultiply, o, par)))
                / reps as f64,
        );
    }
    ours.sort_by(f64::total_cmp);
    theirs.sort_by(f64::total_cmp);
    (ours[3], theirs[3])
}

/// The GEMM summary table: every shape, or with `training` the batch-100 shapes alone.
fn summary(training: bool) {
    // IBCI_KERNEL_PATH chooses the path measured (default: the widest the CPU has).
    let path = KernelPath::default_path();
    let peak = fma_peak_gflops(path, 0.5).unwrap_or(f64::NAN);
    println!("\n## ibci-kernels GEMM summary");
    println!("path {path}; FMA probe peak {peak:.1} GFLOP/s per core (register-only loop)");
    // matrixmultiply picks its widest kernel at run time; its test-only build-time switch
    // MMTEST_FEATURE (e.g. `avx2,fma,avx,sse2`) holds it to narrower ones, so that an AVX-512
    // host can compare the AVX2 paths fairly.
    match option_env!("MMTEST_FEATURE").filter(|f| !f.is_empty()) {
        Some(features) => println!("matrixmultiply held to: {features} (MMTEST_FEATURE at build)"),
        None if path != KernelPath::Avx512 && KernelPath::Avx512.supported() => println!(
            "NOTE: matrixmultiply uses its AVX-512 kernel on this CPU, so the ratios below are not \
             a fair {path} comparison; build with MMTEST_FEATURE=avx2,fma,avx,sse2 for one"
        ),
        None => {}
    }
    for (p, name) in KernelPath::ALL.iter().map(|p| (p, p.name())) {
        if !p.supported() {
            println!("path {name}: SKIPPED (not supported by this CPU)");
        }
    }
    println!(
        "\n| shape (M,K,N) | threads | ibci GFLOP/s | matrixmultiply GFLOP/s | ratio | ibci/peak |"
    );
    println!("|---|---|---|---|---|---|");
    let mut log_ratios = Vec::new();
    for threads in [1usize, 2] {
        let (pool, par) = pool_for(threads);
        for (name, m, k, n, at, bt) in SHAPES {
            if training && m * k * n > 784 * 100 * 100 {
                continue;
            }
            let mut o = operands(m, k, n, at, bt);
            let (ours, theirs) = pool.install(|| race(&mut o, par, path));
            let flops = 2.0 * (m * k * n) as f64;
            let (g1, g2) = (flops / ours / 1e9, flops / theirs / 1e9);
            log_ratios.push((theirs / ours).ln());
            println!(
                "| {name} | {threads} | {g1:.1} | {g2:.1} | {:.2} | {:.0}% |",
                theirs / ours,
                100.0 * g1 / (peak * threads as f64)
            );
        }
    }
    let geo = (log_ratios.iter().sum::<f64>() / log_ratios.len() as f64).exp();
    println!("\ngeometric mean speed ratio ibci/matrixmultiply: {geo:.2} (target >= 1.3)\n");
}

/// A non-GEMM kernel: name, bytes it must move (read + write), and one call.
type Work = (&'static str, f64, Box<dyn FnMut(Par) + Send>);

fn elementwise_work() -> Vec<Work> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let mut rnd = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (rng.next_u32() >> 8) as f32 / (1 << 22) as f32 - 2.0)
            .collect()
    };
    const N: usize = 1 << 24; // 64 MiB of f32: far beyond the caches
    let mut out: Vec<Work> = Vec::new();
    let (src, mut dst) = (rnd(N), vec![0f32; N]);
    out.push((
        "memcpy 64MiB (yardstick)",
        8.0 * N as f64,
        Box::new(move |_| dst.copy_from_slice(black_box(&src))),
    ));
    for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        let mut x = rnd(N);
        let name: &'static str = match act {
            Activation::Relu => "relu 64MiB in place",
            Activation::Tanh => "tanh 64MiB in place",
            _ => "sigmoid 64MiB in place",
        };
        out.push((
            name,
            8.0 * N as f64,
            Box::new(move |p| activate(act, black_box(&mut x), p)),
        ));
    }
    let mut x = rnd(N);
    out.push((
        "exp 64MiB in place",
        8.0 * N as f64,
        Box::new(move |_| exp_inplace_with(KernelPath::default_path(), black_box(&mut x))),
    ));
    let rows = N / 1000;
    let (mut y, b) = (Mat::from_vec(rows, 1000, rnd(rows * 1000)), rnd(1000));
    out.push((
        "bias_add 16777x1000",
        8.0 * (rows * 1000) as f64,
        Box::new(move |p| bias_add(y.as_mut(), black_box(&b), p)),
    ));
    let (mut w, g, mut v) = (rnd(N), rnd(N), vec![0f32; N]);
    out.push((
        "sgd momentum 64MiB",
        20.0 * N as f64,
        Box::new(move |p| sgd_step(&mut w, black_box(&g), Some(&mut v), 0.1, 0.9, 0.0, p)),
    ));
    let z = Mat::from_vec(60_000, 10, rnd(600_000));
    let labels: Vec<usize> = (0..60_000).map(|i| i % 10).collect();
    let mut grad = Mat::zeros(60_000, 10);
    out.push((
        "softmax_xent 60000x10 + grad",
        8.0 * 600_000.0,
        Box::new(move |p| {
            black_box(softmax_xent(
                z.as_ref(),
                &labels,
                Some(grad.as_mut()),
                1.0,
                p,
            ));
        }),
    ));
    let x = Mat::from_vec(60_000, 1000, rnd(60_000_000));
    let labels: Vec<usize> = (0..60_000).map(|i| (i * 7) % 10).collect();
    let x2 = x.clone();
    out.push((
        "column_mean_var 60000x1000 (2 passes)",
        8.0 * 60e6,
        Box::new(move |p| {
            black_box(column_mean_var(x.as_ref(), 1, p));
        }),
    ));
    out.push((
        "class_column_stats 60000x1000 (2 passes)",
        8.0 * 60e6,
        Box::new(move |p| {
            black_box(class_column_stats(x2.as_ref(), &labels, 10, 1, p));
        }),
    ));
    let wm = Mat::from_vec(784, 1000, rnd(784_000));
    let a: Vec<f32> = rnd(784);
    let mut dm = wm.clone();
    out.push((
        "deflate 784x1000",
        3.0 * 4.0 * 784_000.0,
        Box::new(move |p| deflate(dm.as_mut(), &a, wm.as_ref(), p)),
    ));
    out
}

fn elementwise_summary() {
    println!("| kernel | threads | GB/s | vs memcpy |");
    println!("|---|---|---|---|");
    for threads in [1usize, 2] {
        let (pool, par) = pool_for(threads);
        let mut work = elementwise_work();
        let mut memcpy = f64::NAN;
        for (name, bytes, f) in work.iter_mut() {
            let mut times: Vec<f64> = (0..5)
                .map(|_| pool.install(|| seconds(&mut || f(par))))
                .collect();
            times.sort_by(f64::total_cmp);
            let gbs = *bytes / times[2] / 1e9;
            if memcpy.is_nan() {
                memcpy = gbs;
            }
            println!("| {name} | {threads} | {gbs:.1} | {:.2} |", gbs / memcpy);
        }
    }
    println!();
}

/// The elementwise kernels on every path this host supports (portable: `wide` at the build's
/// SSE level; AVX2: eight lanes; AVX-512: sixteen), on data that stays in L2, interleaved:
/// the speed-up of the run-time choice, bit-identical by the tests. The in-place kernels'
/// input is restored from a copy before each call (repeated in place, exp would overflow and
/// the others drift towards their fixed points), inside the timing and the same on every
/// path: their speed-ups are lower bounds, the more so the faster the kernel.
fn paths_summary() {
    use ibci_kernels::elementwise::activate_with;
    use ibci_kernels::softmax::softmax_xent_errors_with;
    let paths: Vec<KernelPath> = KernelPath::ALL
        .into_iter()
        .filter(|p| p.supported())
        .collect();
    let names: Vec<String> = paths.iter().map(|p| format!("{p} GB/s")).collect();
    let ratios: Vec<String> = paths[1..].iter().map(|p| format!("{p}/portable")).collect();
    println!(
        "| kernel (in L2, 1 thread) | {} | {} |",
        names.join(" | "),
        ratios.join(" | ")
    );
    println!("|---|{}", "---|".repeat(names.len() + ratios.len()));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    const N: usize = 1 << 16;
    let base: Vec<f32> = (0..N)
        .map(|_| (rng.next_u32() >> 8) as f32 / (1 << 22) as f32 - 2.0)
        .collect();
    let labels: Vec<usize> = (0..N / 10).map(|i| i % 10).collect();
    let mut x = base.clone();
    let mut grad = Mat::zeros(N / 10, 10);
    let z = Mat::from_vec(N / 10, 10, base[..N / 10 * 10].to_vec());
    let run = |name: &str, f: &mut dyn FnMut(KernelPath)| {
        let mut times = vec![Vec::new(); paths.len()];
        for _ in 0..9 {
            for (t, &p) in times.iter_mut().zip(&paths) {
                t.push(seconds(&mut || (0..20).for_each(|_| f(p))));
            }
        }
        let bytes = 20.0 * 8.0 * N as f64;
        let gbs: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort_by(f64::total_cmp);
                bytes / t[4] / 1e9
            })
            .collect();
        let cells: Vec<String> = gbs.iter().map(|g| format!("{g:.1}")).collect();
        let speedups: Vec<String> = gbs[1..]
            .iter()
            .map(|g| format!("{:.2}", g / gbs[0]))
            .collect();
        println!(
            "| {name} | {} | {} |",
            cells.join(" | "),
            speedups.join(" | ")
        );
    };
    for (name, act) in [
        ("relu", Activation::Relu),
        ("tanh", Activation::Tanh),
        ("sigmoid", Activation::Sigmoid),
    ] {
        run(name, &mut |p| {
            x.copy_from_slice(&base);
            activate_with(p, act, black_box(&mut x), Par::Seq)
        });
    }
    run("exp", &mut |p| {
        x.copy_from_slice(&base);
        exp_inplace_with(p, black_box(&mut x))
    });
    run("softmax_xent + gradient, 10 classes", &mut |p| {
        black_box(softmax_xent_errors_with(
            p,
            z.as_ref(),
            &labels,
            Some(grad.as_mut()),
            1.0,
            Par::Seq,
        ));
    });
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "paths") {
        paths_summary();
        return;
    }
    let only_summary = args.iter().any(|a| a == "summary");
    if only_summary && args.iter().any(|a| a == "training") {
        summary(true);
        return;
    }
    if !args.iter().any(|a| a == "--list" || a == "--test") {
        summary(false);
        elementwise_summary();
        paths_summary();
    }
    if only_summary {
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let path = KernelPath::detect();
    for threads in [1usize, 2] {
        let (pool, par) = pool_for(threads);
        let mut g = c.benchmark_group(format!("gemm_flops_{threads}t"));
        for (name, m, k, n, at, bt) in SHAPES {
            let mut o = operands(m, k, n, at, bt);
            g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
            for (label, backend) in [
                ("ibci", Backend::Ibci(path)),
                ("matrixmultiply", Backend::MatrixMultiply),
            ] {
                g.bench_function(format!("{label}/{name}"), |bch| {
                    pool.install(|| bch.iter(|| run(backend, &mut o, par)))
                });
            }
        }
        g.finish();
    }
    // The symmetric eigenvalues of a 1,000 x 1,000 Gram matrix (the matrix-based Rényi
    // entropy's cost for 1,000 samples), on one thread and two.
    let mut g = c.benchmark_group("symmetric_eigenvalues_1000");
    let n = 1000;
    let gram: Vec<f64> = (0..n * n)
        .map(|ij| {
            let (i, j) = ((ij / n) as f64, (ij % n) as f64);
            (-((i - j) / 50.0).powi(2)).exp() / n as f64
        })
        .collect();
    for threads in [1usize, 2] {
        let (pool, par) = pool_for(threads);
        g.bench_function(format!("{threads}t"), |bch| {
            pool.install(|| bch.iter(|| ibci_kernels::eigen::symmetric_eigenvalues(&gram, n, par)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("elementwise_bytes");
    for (name, bytes, mut f) in elementwise_work() {
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(name, |bch| bch.iter(|| f(Par::Seq)));
    }
    g.finish();
    c.final_summary();
}

//! End-to-end MNIST loading: locate the four `.gz` files, verify their SHA-256, decompress,
//! parse and convert every image to f32 in [0, 1], against `gzip -dc` of the same files
//! measured in the same run (these machines are noisy: only the ratio means anything).
//!
//! Run: `cargo bench --bench mnist_load`. Before criterion's own measurements it prints
//! `ratio ibci/gzip` from interleaved repetitions (median of each); the target is <= 1.5.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ibci::idx::mnist::{load, LoadOptions, Part};
use std::hint::black_box;

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist")
}

fn gz_files() -> Vec<PathBuf> {
    let dir = mnist_dir();
    Part::ALL
        .iter()
        .map(|p| dir.join(format!("{}.gz", p.canonical_name())))
        .collect()
}

/// Everything a training run needs from disk: checked data and f32 images.
fn ibci_load() -> usize {
    let d = load(&mnist_dir(), &LoadOptions::default()).expect("datasets/mnist loads");
    let train = d.train.images_f32();
    let test = d.test.images_f32();
    black_box(&train);
    black_box(&test);
    train.len() + test.len() + d.train.labels.len() + d.test.labels.len()
}

/// `gzip -dc` of the four files to /dev/null; `None` if gzip is not installed.
fn gzip_dc() -> Option<Duration> {
    let start = Instant::now();
    let status = Command::new("gzip")
        .arg("-dc")
        .args(gz_files())
        .stdout(Stdio::null())
        .status()
        .ok()?;
    assert!(status.success(), "gzip -dc failed");
    Some(start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratio_report() {
    const REPS: usize = 9;
    ibci_load(); // warm the page cache and the allocator
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        let Some(g) = gzip_dc() else {
            println!("mnist_load: gzip not found on PATH; ratio to gzip -dc not measured");
            return;
        };
        theirs.push(g);
        let t = Instant::now();
        black_box(ibci_load());
        ours.push(t.elapsed());
    }
    let (o, g) = (median(ours), median(theirs));
    println!(
        "mnist_load: ibci load+verify+f32 {:.1} ms, gzip -dc {:.1} ms (medians of {REPS}, interleaved), \
         ratio ibci/gzip = {:.2} (target <= 1.5), threads available: {}",
        o.as_secs_f64() * 1e3,
        g.as_secs_f64() * 1e3,
        o.as_secs_f64() / g.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn main() {
    ratio_report();
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut g = c.benchmark_group("mnist_load");
    // Bytes of the decompressed IDX files: 47,040,016 + 60,008 + 7,840,016 + 10,008.
    g.throughput(Throughput::Bytes(54_950_048));
    g.bench_function("ibci_load_verify_f32", |b| b.iter(ibci_load));
    if gzip_dc().is_some() {
        g.bench_function("gzip_dc_yardstick", |b| b.iter(gzip_dc));
    }
    g.finish();
    c.final_summary();
}

//! ibci-idx benches: IDX parsing (raw and gzip), the u8 -> f32 pixel conversion and SHA-256,
//! on the MNIST training images. Throughput in bytes (of the uncompressed IDX file) or
//! elements per second.
//!
//! Run: `cargo bench -p ibci-idx`.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ibci_idx::pixels::to_unit_f32;
use ibci_idx::sha256::sha256;
use ibci_idx::{read_bytes, read_file};
use std::hint::black_box;

fn train_images_gz() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/mnist/train-images-idx3-ubyte.gz");
    std::fs::read(p).expect("datasets/mnist/train-images-idx3-ubyte.gz")
}

fn benches(c: &mut Criterion) {
    let gz = train_images_gz();
    let array = read_bytes(&gz, Path::new("train-images")).expect("parses");
    let raw = array.to_idx_bytes();
    let pixels = array.as_u8().expect("u8 images").to_vec();

    let mut g = c.benchmark_group("idx_parse");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("raw_47MB", |b| {
        b.iter(|| read_bytes(black_box(&raw), Path::new("raw")).unwrap())
    });
    g.bench_function("gzip_47MB", |b| {
        b.iter(|| read_bytes(black_box(&gz), Path::new("gz")).unwrap())
    });
    g.bench_function("gzip_file_47MB", |b| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets/mnist/train-images-idx3-ubyte.gz");
        b.iter(|| read_file(black_box(&p)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("pixels");
    g.throughput(Throughput::Elements(pixels.len() as u64));
    g.bench_function("u8_to_unit_f32_47M", |b| {
        b.iter(|| to_unit_f32(black_box(&pixels)))
    });
    g.finish();

    let mut g = c.benchmark_group("sha256");
    g.throughput(Throughput::Bytes(gz.len() as u64));
    g.bench_function("train_images_gz_9.7MB", |b| {
        b.iter(|| sha256(black_box(&gz)))
    });
    g.finish();
}

criterion_group! {
    name = idx;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(idx);

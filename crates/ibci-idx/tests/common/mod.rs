//! Hand-made IDX fixtures for the tests: built in code so each one reads as what it is.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;

/// An IDX file: magic `00 00 code rank`, big-endian dims, then `payload` as given.
pub fn idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A well-formed u8 IDX file with the given dims and payload `0, 1, 2, ...` (mod 256).
pub fn idx_u8(dims: &[u32]) -> Vec<u8> {
    let n: u32 = dims.iter().product();
    let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    idx(0x08, dims, &payload)
}

/// `bytes` gzip-compressed.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    gz_level(bytes, 6)
}

/// `bytes` gzip-compressed at `level` (0..=9).
pub fn gz_level(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(bytes).expect("in-memory write");
    e.finish().expect("in-memory finish")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "ibci-idx-test-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Images (`n x 2 x 3`, pixel = (image + position) mod 256) and labels (`image mod classes`).
pub fn images_labels(n: u32, classes: u8) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i / 6 + i % 6) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % u32::from(classes)) as u8).collect();
    (idx(0x08, &[n, 2, 3], &pixels), idx(0x08, &[n], &labels))
}

/// Writes a small MNIST-style directory: 12 train and 5 test images, labels `i mod 3`.
/// `gzip` selects `.gz` files; `dotted` the `train-images.idx3-ubyte` spelling.
pub fn small_dataset(dir: &TempDir, gzip: bool, dotted: bool) {
    for (prefix, n) in [("train", 12), ("t10k", 5)] {
        let (images, labels) = images_labels(n, 3);
        let sep = if dotted { '.' } else { '-' };
        let ext = if gzip { ".gz" } else { "" };
        let enc = |b: &[u8]| if gzip { gz(b) } else { b.to_vec() };
        dir.write(
            &format!("{prefix}-images{sep}idx3-ubyte{ext}"),
            &enc(&images),
        );
        dir.write(
            &format!("{prefix}-labels{sep}idx1-ubyte{ext}"),
            &enc(&labels),
        );
    }
}

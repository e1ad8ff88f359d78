//! Helpers shared by the `ibci` binary's test files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory under the system temp dir, named after the process and `tag`.
pub fn tempdir(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ibci-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// A raw u8 IDX file.
pub fn idx_u8(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    dims.iter().for_each(|d| out.extend(d.to_be_bytes()));
    out.extend_from_slice(payload);
    out
}

/// A tiny 4-class data set of 4x4 images: class c lights row c (pixels `lit` plus noise), the
/// other pixels are noise of `noise_bits` bits from an LCG seeded with `seed`.
pub struct Tiny {
    pub seed: u32,
    pub noise_bits: u32,
    pub lit: u8,
    pub train: u32,
    pub test: u32,
}

/// Writes the four IDX files of `t` into `dir`.
pub fn tiny_dataset(dir: &Path, t: &Tiny) {
    let mut state = t.seed;
    let mut noise = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> (32 - t.noise_bits)) as u8
    };
    for (prefix, n) in [("train", t.train), ("t10k", t.test)] {
        let labels: Vec<u8> = (0..n).map(|i| (i % 4) as u8).collect();
        let mut pixels = Vec::new();
        for &c in &labels {
            for p in 0..16u8 {
                pixels.push(if p / 4 == c { t.lit + noise() } else { noise() });
            }
        }
        let img = idx_u8(&[n, 4, 4], &pixels);
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), img).unwrap();
        let lab = idx_u8(&[n], &labels);
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), lab).unwrap();
    }
}

/// `ibci reproduce` on the data in `data` into `out`: a sweep of 16-8-4 nets, 2 epochs and 2
/// seeds unless `extra` gives `--nets`, `--epochs` or `--seeds` itself.
pub fn reproduce(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ibci"));
    cmd.arg("reproduce");
    for (flag, value) in [("--nets", "16-8-4"), ("--epochs", "2"), ("--seeds", "2")] {
        if !extra.contains(&flag) {
            cmd.args([flag, value]);
        }
    }
    cmd.arg("--dataset")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run ibci reproduce")
}

//! Helpers shared by the `ibci` binary's test files.
#![allow(dead_code)]

use std::path::PathBuf;

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

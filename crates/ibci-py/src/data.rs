//! `load_mnist`: an MNIST-style directory through ibci's IDX loader (digests checked), the
//! images as f32 in [0, 1] exactly as `ibci train` and `ibci init` see them.

use std::path::Path;

use ibci_idx::mnist::{load, DigestCheck, LoadOptions};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::arrays::f32_bytes;
use crate::campaign::choose;
use crate::IdxError;

/// One split: image bytes (f32), rows, columns, label bytes (u8).
type SplitBytes = (Py<PyBytes>, usize, usize, Py<PyBytes>);

/// Loads `path`'s train and test splits, checking the files against `digests` ("mnist": the
/// built-in MNIST digests, "fashion-mnist": the built-in Fashion-MNIST ones, "sums": the
/// directory's SHA256SUMS, "none").
#[pyfunction]
pub fn load_mnist(py: Python<'_>, path: &str, digests: &str) -> PyResult<(SplitBytes, SplitBytes)> {
    let digests = choose(
        "digests",
        digests,
        &[
            ("mnist", DigestCheck::KnownMnist),
            ("fashion-mnist", DigestCheck::KnownFashionMnist),
            ("sums", DigestCheck::SumsFile),
            ("none", DigestCheck::Skip),
        ],
    )?;
    let opts = LoadOptions {
        digests,
        ..LoadOptions::default()
    };
    let dir = Path::new(path).to_path_buf();
    let data = py
        .detach(|| load(&dir, &opts))
        .map_err(|e| IdxError::new_err(e.to_string()))?;
    let split = |s: &ibci_idx::mnist::Split| -> SplitBytes {
        (
            PyBytes::new(py, &f32_bytes(&s.images_f32())).unbind(),
            s.len(),
            s.dim(),
            PyBytes::new(py, &s.labels).unbind(),
        )
    };
    Ok((split(&data.train), split(&data.test)))
}

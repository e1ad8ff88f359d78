//! Little-endian bytes to and from Rust vectors, with the length checked against the shape
//! (the Python side makes them; a mismatch is a `ValueError`, never a panic).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// `rows x cols` f32 values from `bytes`, for the argument `name`.
pub fn f32s(bytes: &[u8], rows: usize, cols: usize, name: &str) -> PyResult<Vec<f32>> {
    check(bytes, rows, cols, 4, name)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// `rows x cols` f64 values from `bytes`.
pub fn f64s(bytes: &[u8], rows: usize, cols: usize, name: &str) -> PyResult<Vec<f64>> {
    check(bytes, rows, cols, 8, name)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect())
}

/// Labels from int64 bytes: each at least 0 (and below `classes`, when given).
pub fn labels(bytes: &[u8], n: usize, classes: Option<usize>, name: &str) -> PyResult<Vec<usize>> {
    check(bytes, n, 1, 8, name)?;
    bytes
        .chunks_exact(8)
        .enumerate()
        .map(|(i, b)| {
            let v = i64::from_le_bytes(b.try_into().expect("8 bytes"));
            match (usize::try_from(v), classes) {
                (Ok(u), Some(c)) if u >= c => Err(PyValueError::new_err(format!(
                    "{name}[{i}] = {v}: expected a label in 0..{c} (the network has {c} outputs)"
                ))),
                (Ok(u), _) => Ok(u),
                (Err(_), _) => Err(PyValueError::new_err(format!(
                    "{name}[{i}] = {v}: expected a label of at least 0"
                ))),
            }
        })
        .collect()
}

fn check(bytes: &[u8], rows: usize, cols: usize, size: usize, name: &str) -> PyResult<()> {
    let want = rows
        .checked_mul(cols)
        .and_then(|v| v.checked_mul(size))
        .ok_or_else(|| {
            PyValueError::new_err(format!("{name}: shape ({rows}, {cols}) is too large"))
        })?;
    if bytes.len() != want {
        return Err(PyValueError::new_err(format!(
            "{name}: {} bytes for shape ({rows}, {cols}) of {size}-byte values (expected {want})",
            bytes.len()
        )));
    }
    Ok(())
}

/// f32 values as little-endian bytes.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A rayon pool of `threads` workers (all cores when `None`), for the argument `threads`.
pub fn pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(PyValueError::new_err(
            "threads = 0: expected at least 1 (or None for all cores)",
        ));
    }
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| PyValueError::new_err(format!("threads = {n}: {e}")))
}

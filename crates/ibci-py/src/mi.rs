//! The estimators of `ibci_mi`, in nats, on caller-supplied arrays (shapes and values checked
//! here, so that the library's assertions are never reached from Python).

use ibci_kernels::{Mat, Par};
use ibci_mi::binning::binned as binned_mi;
use ibci_mi::discrete::Correction;
use ibci_mi::kde::mi_both;
use ibci_mi::ksg::{ksg as ksg_mi, Points, Search, Variant};
use ibci_mi::ross::ross_mi;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::arrays::{f32s, f64s, labels, pool};

fn bad(msg: String) -> PyErr {
    PyValueError::new_err(msg)
}

/// Ross's I(z; y) for a continuous `z` (n values) and labels `y`, `k` neighbours.
#[pyfunction]
pub fn ross(py: Python<'_>, z: &[u8], n: usize, y: &[u8], k: usize) -> PyResult<f64> {
    let z = f32s(z, n, 1, "z")?;
    let y = labels(y, n, None, "y")?;
    if k < 1 {
        return Err(bad(format!("k={k}: expected at least 1")));
    }
    if z.iter().any(|v| !v.is_finite()) {
        return Err(bad("z: expected finite values".into()));
    }
    Ok(py.detach(|| ross_mi(&z, &y, k)))
}

/// KSG estimator `variant` (1 or 2) of I(x; z), x `n x dx`, z `n x dz` (f64), `k`
/// neighbours.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn ksg(
    py: Python<'_>,
    x: &[u8],
    dx: usize,
    z: &[u8],
    dz: usize,
    n: usize,
    k: usize,
    variant: u8,
) -> PyResult<f64> {
    let x = f64s(x, n, dx, "x")?;
    let z = f64s(z, n, dz, "z")?;
    let variant = match variant {
        1 => Variant::Ksg1,
        2 => Variant::Ksg2,
        v => return Err(bad(format!("variant={v}: expected 1 or 2"))),
    };
    if dx == 0 || dz == 0 {
        return Err(bad("x and z: expected at least one column each".into()));
    }
    if !(1..n).contains(&k) {
        return Err(bad(format!("k={k}: expected 1 <= k < n = {n}")));
    }
    if x.iter().chain(&z).any(|v| !v.is_finite()) {
        return Err(bad("x, z: expected finite values".into()));
    }
    Ok(py.detach(|| {
        ksg_mi(
            Points { data: &x, d: dx },
            Points { data: &z, d: dz },
            k,
            variant,
            Search::Auto,
        )
    }))
}

/// The KDE bounds on I(X;T) and I(T;Y) for `t` (`n x d`) plus Gaussian noise of variance
/// `noise`: (I(X;T) upper, lower, I(T;Y) upper, lower).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn kde_bounds(
    py: Python<'_>,
    t: &[u8],
    n: usize,
    d: usize,
    y: &[u8],
    noise: f64,
    threads: Option<usize>,
) -> PyResult<(f64, f64, f64, f64)> {
    let t = Mat::from_vec(n, d, f32s(t, n, d, "t")?);
    let y = labels(y, n, None, "y")?;
    if n == 0 {
        return Err(bad("t: expected at least one row".into()));
    }
    if !(noise.is_finite() && noise > 0.0) {
        return Err(bad(format!(
            "noise={noise}: expected a finite variance above 0"
        )));
    }
    let pool = pool(threads)?;
    let par = Par::for_threads(pool.current_num_threads());
    let (xt, ty) = py.detach(|| pool.install(|| mi_both(t.as_ref(), &y, noise, par)));
    Ok((xt.upper, xt.lower, ty.upper, ty.lower))
}

/// Binned I(X;T) = H(T) and I(T;Y) for `t` (`n x d`) at bin width `width`.
#[pyfunction]
pub fn binned(
    py: Python<'_>,
    t: &[u8],
    n: usize,
    d: usize,
    y: &[u8],
    width: f64,
) -> PyResult<(f64, f64)> {
    let t = Mat::from_vec(n, d, f32s(t, n, d, "t")?);
    let y = labels(y, n, None, "y")?;
    if !(width.is_finite() && width > 0.0) {
        return Err(bad(format!(
            "bins={width}: expected a finite bin width above 0"
        )));
    }
    if n == 0 {
        return Err(bad("t: expected at least one row".into()));
    }
    if t.as_slice().iter().any(|v| !v.is_finite()) {
        return Err(bad("t: expected finite values (binning needs them)".into()));
    }
    let b = py.detach(|| binned_mi(t.as_ref(), &y, width, Correction::None));
    Ok((b.i_xt, b.i_ty))
}

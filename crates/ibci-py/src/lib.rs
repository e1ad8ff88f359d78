//! `ibci._ibci`: the native half of the Python package `ibci` (python/ibci holds the typed
//! Python API, which checks shapes and dtypes and converts NumPy arrays).
//!
//! Arrays cross the boundary as little-endian bytes with their shapes (`numpy.tobytes()` on
//! the way in, `numpy.frombuffer` on the way out), so the module needs only the stable ABI
//! (abi3, Python 3.9 and later) and no NumPy headers. Every function copies its input into
//! Rust vectors while it holds the GIL, then releases the GIL for the work. Errors: the
//! library's typed errors become the exceptions below (`ValueError` subclasses) with the
//! library's message; bad arguments are `ValueError`s naming the argument.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod arrays;
mod campaign;
mod data;
mod mi;

create_exception!(
    _ibci,
    IdxError,
    PyValueError,
    "An IDX/MNIST data file is missing or malformed (the message names the file)."
);
create_exception!(
    _ibci,
    CampaignError,
    PyValueError,
    "The neuron campaign could not run on these data and options."
);

/// The module.
#[pymodule]
fn _ibci(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("IdxError", m.py().get_type::<IdxError>())?;
    m.add("CampaignError", m.py().get_type::<CampaignError>())?;
    m.add_function(wrap_pyfunction!(campaign::campaign, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_mnist, m)?)?;
    m.add_function(wrap_pyfunction!(mi::ross, m)?)?;
    m.add_function(wrap_pyfunction!(mi::ksg, m)?)?;
    m.add_function(wrap_pyfunction!(mi::kde_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(mi::binned, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

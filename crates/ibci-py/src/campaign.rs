//! `campaign`: the neuron campaign on caller-supplied data, as `ibci init --init ibci` runs
//! it (the same options, the same generator seeded with `seed`), so that the same flags and
//! data give the same bits.

use ibci_campaign::{campaign as run_campaign, CampaignOptions, Named, ScoreSource};
use ibci_kernels::elementwise::Activation;
use ibci_kernels::{Mat, Par};
use ibci_nn::ArchSpec;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::arrays::{f32_bytes, f32s, labels, pool};
use crate::CampaignError;

/// One of `choices` (name, value) for the argument `arg`, or a `ValueError` listing them.
pub fn choose<T: Copy>(arg: &str, given: &str, choices: &[(&str, T)]) -> PyResult<T> {
    choices
        .iter()
        .find(|(n, _)| *n == given)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|c| c.0).collect();
            PyValueError::new_err(format!(
                "{arg}={given:?}: expected one of {}",
                names.join(", ")
            ))
        })
}

/// The value of the library's choice `T` named `given` for the argument `arg` (the names the
/// command line accepts too), or a `ValueError` listing them.
fn named<T: Named>(arg: &str, given: &str) -> PyResult<T> {
    let choices: Vec<(&str, T)> = T::ALL.iter().map(|&v| (v.name(), v)).collect();
    choose(arg, given, &choices)
}

/// The network `widths` with `activation` between its layers and none after the last.
fn spec(widths: &[usize], activation: &str) -> PyResult<ArchSpec> {
    if widths.len() < 2 || widths.contains(&0) {
        return Err(PyValueError::new_err(format!(
            "widths={widths:?}: expected at least two positive widths, input first"
        )));
    }
    let hidden = choose(
        "activation",
        activation,
        &[("relu", Activation::Relu), ("tanh", Activation::Tanh)],
    )?;
    let list: Vec<&str> = (0..widths.len() - 1)
        .map(|l| {
            if l + 2 == widths.len() {
                "identity"
            } else {
                hidden.name()
            }
        })
        .collect();
    let text: Vec<String> = widths.iter().map(usize::to_string).collect();
    ArchSpec::parse(&text.join("-"))
        .and_then(|s| s.with_activations(&list.join(",")))
        .map_err(|e| PyValueError::new_err(format!("widths={widths:?}: {e}")))
}

/// One layer: weight bytes (f32, `out x in`), out, in, bias bytes.
type LayerBytes = (Py<PyBytes>, usize, usize, Py<PyBytes>);

/// Runs the campaign; returns per layer the weight (`out x in`, row-major f32 bytes), its
/// shape and the bias bytes.
#[pyfunction]
#[pyo3(signature = (widths, x, n, d, y, base, variant, criteria, alpha, candidates, activation, seed, threads))]
#[allow(clippy::too_many_arguments)]
pub fn campaign(
    py: Python<'_>,
    widths: Vec<usize>,
    x: &[u8],
    n: usize,
    d: usize,
    y: &[u8],
    base: &str,
    variant: &str,
    criteria: &str,
    alpha: Option<Vec<f64>>,
    candidates: Option<Vec<usize>>,
    activation: &str,
    seed: u64,
    threads: Option<usize>,
) -> PyResult<Vec<LayerBytes>> {
    let spec = spec(&widths, activation)?;
    if d != spec.inputs() {
        return Err(PyValueError::new_err(format!(
            "x has {d} features, but widths[0] = {} (the network's inputs)",
            spec.inputs()
        )));
    }
    let ratios = match candidates.as_deref() {
        None => None,
        Some(&[r]) if r >= 1 => Some((r, r)),
        Some(&[h, o]) if h >= 1 && o >= 1 => Some((h, o)),
        Some(v) => {
            return Err(PyValueError::new_err(format!(
                "candidates={v:?}: expected R or (R_hidden, R_output), whole numbers of at least 1"
            )))
        }
    };
    let opts = CampaignOptions {
        variant: named("variant", variant)?,
        base: named("base", base)?,
        criteria: named("criteria", criteria)?,
        alpha,
        ratios,
        score: ScoreSource::Proxy,
        ..CampaignOptions::default()
    };
    let x = Mat::from_vec(n, d, f32s(x, n, d, "x")?);
    let classes = spec.outputs();
    let y = labels(y, n, Some(classes), "y")?;
    let pool = pool(threads)?;
    let par = Par::for_threads(pool.current_num_threads());
    let result = py.detach(|| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        pool.install(|| run_campaign(&spec, x.as_ref(), &y, classes, &opts, &mut rng, par))
    });
    let c = result.map_err(|e| CampaignError::new_err(e.to_string()))?;
    Ok(c.mlp
        .layers
        .iter()
        .map(|l| {
            // Stored fan_in x fan_out (one column per neuron); PyTorch's layout is (out, in).
            let w = l.w.as_ref().t().to_mat();
            (
                PyBytes::new(py, &f32_bytes(w.as_slice())).unbind(),
                w.rows(),
                w.cols(),
                PyBytes::new(py, &f32_bytes(&l.b)).unbind(),
            )
        })
        .collect())
}

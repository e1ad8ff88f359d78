//! Entropy and mutual information of jointly Gaussian variables, from a covariance matrix
//! (f64, row-major `d x d`):
//!
//! ```text
//! H(X)   = ½ ln((2πe)^d det Σ)
//! I(X;Y) = ½ (ln det Σ_XX + ln det Σ_YY − ln det Σ_(X,Y))
//! ```
//!
//! Determinants come from a Cholesky factorisation (ln det = 2 Σ ln L_ii); a matrix that is
//! not symmetric positive definite is a typed error. Exact for the population covariance; with
//! a sample covariance ([`covariance`]) the result carries sampling error.

use std::fmt;

use ibci_kernels::MatRef;

/// Why a covariance could not be used.
#[derive(Clone, Debug, PartialEq)]
pub enum GaussianError {
    /// `cov.len()` is not `d * d`, or an index is out of range.
    Shape(String),
    /// The Cholesky factorisation met a non-positive pivot at this row.
    NotPositiveDefinite {
        /// The row of the failing pivot.
        pivot: usize,
    },
}

impl fmt::Display for GaussianError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaussianError::Shape(s) => write!(f, "gaussian: {s}"),
            GaussianError::NotPositiveDefinite { pivot } => write!(
                f,
                "gaussian: covariance is not positive definite (pivot {pivot}); a constant or duplicated variable?"
            ),
        }
    }
}

impl std::error::Error for GaussianError {}

/// ln det of the symmetric positive definite `d x d` matrix `a`.
pub fn ln_det(a: &[f64], d: usize) -> Result<f64, GaussianError> {
    if a.len() != d * d {
        return Err(GaussianError::Shape(format!(
            "{} entries for a {d} x {d} matrix",
            a.len()
        )));
    }
    let mut l = vec![0f64; d * d];
    let mut ld = 0.0;
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let p = a[i * d + i] - s;
                if p <= 0.0 || !p.is_finite() {
                    return Err(GaussianError::NotPositiveDefinite { pivot: i });
                }
                l[i * d + i] = p.sqrt();
                ld += l[i * d + i].ln();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    Ok(2.0 * ld)
}

/// The submatrix of `cov` on the variables `idx`.
fn sub(cov: &[f64], d: usize, idx: &[usize]) -> Result<Vec<f64>, GaussianError> {
    if let Some(&bad) = idx.iter().find(|&&i| i >= d) {
        return Err(GaussianError::Shape(format!("variable {bad} out of {d}")));
    }
    Ok(idx
        .iter()
        .flat_map(|&i| idx.iter().map(move |&j| cov[i * d + j]))
        .collect())
}

/// H of a Gaussian with covariance `cov` (`d x d`), nats.
pub fn entropy(cov: &[f64], d: usize) -> Result<f64, GaussianError> {
    let two_pi_e = 2.0 * std::f64::consts::PI * std::f64::consts::E;
    Ok(0.5 * (d as f64 * two_pi_e.ln() + ln_det(cov, d)?))
}

/// I(X;Y) between the variables `x` and `y` (disjoint index sets) of a Gaussian with
/// covariance `cov` (`d x d`), nats.
pub fn mutual_information(
    cov: &[f64],
    d: usize,
    x: &[usize],
    y: &[usize],
) -> Result<f64, GaussianError> {
    if x.iter().any(|i| y.contains(i)) {
        return Err(GaussianError::Shape("x and y share a variable".into()));
    }
    let xy: Vec<usize> = x.iter().chain(y).copied().collect();
    let lx = ln_det(&sub(cov, d, x)?, x.len())?;
    let ly = ln_det(&sub(cov, d, y)?, y.len())?;
    let lxy = ln_det(&sub(cov, d, &xy)?, xy.len())?;
    Ok(0.5 * (lx + ly - lxy))
}

/// Sample covariance of the columns of `x` (`n x d`), divisor `n - ddof`, f64, row-major.
pub fn covariance(x: MatRef<'_>, ddof: usize) -> Vec<f64> {
    let (n, d) = (x.rows(), x.cols());
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| f64::from(x.at(i, j))).sum::<f64>() / n.max(1) as f64)
        .collect();
    let div = n.saturating_sub(ddof).max(1) as f64;
    let mut c = vec![0f64; d * d];
    for a in 0..d {
        for b in a..d {
            let s: f64 = (0..n)
                .map(|i| (f64::from(x.at(i, a)) - mean[a]) * (f64::from(x.at(i, b)) - mean[b]))
                .sum();
            c[a * d + b] = s / div;
            c[b * d + a] = s / div;
        }
    }
    c
}

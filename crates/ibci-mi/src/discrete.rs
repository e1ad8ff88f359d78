//! Plug-in entropy and mutual information of discrete variables (symbols are any `Hash + Eq`
//! values; counts are exact).
//!
//! ```text
//! H(X)     = −Σ_x p(x) ln p(x),             p(x) = count(x) / N
//! I(X;Y)   = H(X) + H(Y) − H(X,Y)
//! I(X;Y|Z) = H(X,Z) + H(Y,Z) − H(X,Y,Z) − H(Z)
//! ```
//!
//! The Miller-Madow correction adds (m − 1)/(2N) to each entropy, m being the number of
//! occupied symbols: the plug-in estimate's first-order bias.

use std::collections::HashMap;
use std::hash::Hash;

/// Bias correction of plug-in entropies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Correction {
    /// The plug-in (maximum-likelihood) estimate.
    #[default]
    None,
    /// Plus (occupied symbols − 1) / (2N).
    MillerMadow,
}

/// Entropy, in nats, of the empirical distribution with these counts (zero counts ignored).
pub fn entropy_from_counts(counts: impl IntoIterator<Item = usize>, correction: Correction) -> f64 {
    let counts: Vec<usize> = counts.into_iter().filter(|&c| c > 0).collect();
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let nf = n as f64;
    // −Σ (c/N) ln(c/N) = ln N − (1/N) Σ c ln c
    let h = nf.ln()
        - counts
            .iter()
            .map(|&c| c as f64 * (c as f64).ln())
            .sum::<f64>()
            / nf;
    match correction {
        Correction::None => h.max(0.0),
        Correction::MillerMadow => h.max(0.0) + (counts.len() as f64 - 1.0) / (2.0 * nf),
    }
}

fn counts<T: Hash + Eq>(xs: impl IntoIterator<Item = T>) -> Vec<usize> {
    let mut m: HashMap<T, usize> = HashMap::new();
    for x in xs {
        *m.entry(x).or_insert(0) += 1;
    }
    let mut c: Vec<usize> = m.into_values().collect();
    // A fixed order of summation (HashMap iteration order is random): sorted counts.
    c.sort_unstable();
    c
}

/// H(X), in nats.
pub fn entropy<T: Hash + Eq + Clone>(x: &[T], correction: Correction) -> f64 {
    entropy_from_counts(counts(x.iter().cloned()), correction)
}

/// I(X;Y), in nats.
///
/// # Panics
/// If the slices differ in length.
#[track_caller]
pub fn mutual_information<A, B>(x: &[A], y: &[B], correction: Correction) -> f64
where
    A: Hash + Eq + Clone,
    B: Hash + Eq + Clone,
{
    assert_eq!(
        x.len(),
        y.len(),
        "mutual_information: {} x values, {} y values",
        x.len(),
        y.len()
    );
    let hxy = entropy_from_counts(counts(x.iter().cloned().zip(y.iter().cloned())), correction);
    entropy(x, correction) + entropy(y, correction) - hxy
}

/// I(X;Y|Z), in nats.
///
/// # Panics
/// If the slices differ in length.
#[track_caller]
pub fn conditional_mutual_information<A, B, C>(
    x: &[A],
    y: &[B],
    z: &[C],
    correction: Correction,
) -> f64
where
    A: Hash + Eq + Clone,
    B: Hash + Eq + Clone,
    C: Hash + Eq + Clone,
{
    assert!(
        x.len() == y.len() && y.len() == z.len(),
        "conditional_mutual_information: lengths {}, {}, {}",
        x.len(),
        y.len(),
        z.len()
    );
    let zi = || z.iter().cloned();
    let h = |c: Vec<usize>| entropy_from_counts(c, correction);
    let hxz = h(counts(x.iter().cloned().zip(zi())));
    let hyz = h(counts(y.iter().cloned().zip(zi())));
    let hxyz = h(counts(x.iter().cloned().zip(y.iter().cloned()).zip(zi())));
    let hz = h(counts(zi()));
    hxz + hyz - hxyz - hz
}

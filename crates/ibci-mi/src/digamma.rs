//! The digamma function at positive integers, exactly as its series:
//! ψ(n) = −γ + Σ_{j=1}^{n−1} 1/j.

/// The Euler-Mascheroni constant γ.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// ψ(1), ψ(2), ..., ψ(n) in one pass (index i holds ψ(i + 1)).
pub fn digamma_table(n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    let mut s = -EULER_GAMMA;
    for j in 1..=n {
        out.push(s);
        s += 1.0 / j as f64;
    }
    out
}

/// ψ(n) for a positive integer `n`.
///
/// # Panics
/// If `n == 0` (ψ has a pole there).
#[track_caller]
pub fn digamma(n: usize) -> f64 {
    assert!(n > 0, "digamma: pole at 0");
    (1..n).fold(-EULER_GAMMA, |s, j| s + 1.0 / j as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // mi-reference.md §1.3: ψ(1), ψ(3), ψ(1000).
        assert_eq!(digamma(1), -0.577_215_664_901_532_9);
        assert!((digamma(3) - 0.922_784_335_098_467_1).abs() < 1e-15);
        assert!((digamma(1000) - 6.907_255_195_648_812).abs() < 1e-12);
        let t = digamma_table(1000);
        assert_eq!(t.len(), 1000);
        assert_eq!(t[2], digamma(3));
        assert_eq!(t[999], digamma(1000));
    }
}

//! One tolerance type for every numeric comparison in ibci's tests.
//!
//! A computed value `x` matches a reference `r` when
//!
//! ```text
//! |x - r| <= abs + rel * |r|
//! ```
//!
//! with `rel` and `abs` built from machine epsilon and, for reductions, the reduction length
//! `n`: a recursive sum of `n` terms in f32 has a worst-case relative error about `n * eps` and
//! a typical one about `sqrt(n) * eps` (Higham, *Accuracy and Stability of Numerical
//! Algorithms*, ch. 4), measured against the sum of absolute values. Always the absolute value
//! of the difference; NaN matches only NaN.

/// `|x - r| <= abs + rel * |r|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative part, multiplied by `|r|`.
    pub rel: f64,
    /// Absolute floor, for values near zero.
    pub abs: f64,
}

impl Tolerance {
    /// f32 machine epsilon as f64 (2^-23).
    pub const EPS: f64 = f32::EPSILON as f64;

    /// Exact equality (integer-valued inputs, bit-identity).
    pub const EXACT: Tolerance = Tolerance { rel: 0.0, abs: 0.0 };

    /// `ulps` units of f32 epsilon, relative.
    pub fn ulps(ulps: f64) -> Tolerance {
        Tolerance {
            rel: ulps * Self::EPS,
            abs: 0.0,
        }
    }

    /// For a length-`n` f32 reduction (dot product, sum) compared with an f64 reference: the
    /// worst-case bound `2 * n * eps` applied to `scale`, the sum of absolute values of the
    /// terms (pass it as `abs` via [`Tolerance::with_scale`]), plus 2 ulps of the result.
    pub fn reduction(n: usize) -> Tolerance {
        Tolerance {
            rel: 2.0 * Self::EPS,
            abs: 2.0 * (n.max(1) as f64) * Self::EPS,
        }
    }

    /// Scales the absolute part by `scale` (e.g. the sum of `|a_k * b_k|` of a dot product).
    pub fn with_scale(self, scale: f64) -> Tolerance {
        Tolerance {
            rel: self.rel,
            abs: self.abs * scale,
        }
    }

    /// Whether `x` matches the reference `r`.
    pub fn accepts(&self, x: f64, r: f64) -> bool {
        if x.is_nan() || r.is_nan() {
            return x.is_nan() && r.is_nan();
        }
        if x == r {
            return true; // equal infinities
        }
        (x - r).abs() <= self.abs + self.rel * r.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_within_and_rejects_outside_both_signs() {
        let t = Tolerance {
            rel: 0.01,
            abs: 0.1,
        };
        assert!(t.accepts(10.2, 10.0)); // 0.2 <= 0.1 + 0.1
        assert!(!t.accepts(10.21, 10.0));
        assert!(!t.accepts(9.79, 10.0)); // negative errors fail too
        assert!(t.accepts(f64::NAN, f64::NAN));
        assert!(!t.accepts(f64::NAN, 1.0));
        assert!(t.accepts(f64::INFINITY, f64::INFINITY));
        assert!(!t.accepts(f64::INFINITY, 1e300));
        assert!(Tolerance::EXACT.accepts(1.5, 1.5) && !Tolerance::EXACT.accepts(1.5, 1.5 + 1e-12));
    }
}

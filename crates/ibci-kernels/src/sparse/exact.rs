//! When skipping zero terms of an FMA chain cannot change a bit: the guard every sparse
//! product checks before it runs.
//!
//! # The claim
//!
//! Let `d` be the dense chain `d = fma(a_k, b_k, ... fma(a_1, b_1, +0))` and `s` the same
//! chain with the terms where `a_p == 0` (either sign) left out. For finite `b`:
//!
//! 1. `s` and `d` are equal as real numbers after every step (a left-out term adds `+-0`,
//!    which leaves a nonzero sum unchanged and a zero sum zero; a kept term sees equal real
//!    inputs in both chains and so rounds to the same real). Hence **a nonzero result is the
//!    same bits in both chains**; only the sign of a zero result can differ.
//! 2. A chain that starts at +0 holds -0 only after an *underflow to zero*: a step whose exact
//!    value is nonzero but rounds to zero (an exact cancellation gives +0 in round-to-nearest,
//!    and `+0 + (+-0) = +0`). Without such a step no state of either chain is -0, and the
//!    results are equal bit for bit, zero or not.
//! 3. No step can underflow to zero when every nonzero product `a_p b_p` is an integer
//!    multiple of 2^-149 (the smallest subnormal): the sums are then multiples of 2^-149 as
//!    well, and a nonzero multiple of 2^-149 rounds to a nonzero float. A finite nonzero f32
//!    `x` with biased exponent `e` is an integer multiple of 2^(max(e, 1) - 150), so the
//!    product is a multiple of 2^-149 when `max(e_a, 1) + max(e_b, 1) >= 151`.
//!
//! So the sparse product equals the dense one bit for bit when **B is finite** and
//! `min_a + min_b >= 151`, with `min_x` the least `max(e, 1)` over the finite nonzero
//! entries ([`exponent_floor`]). MNIST's pixels (`k/255`, at least 2^-8: `e >= 119`) leave
//! any `|b| >= 2^-95` safe. A product that fails the guard is computed densely by the caller;
//! one that passes it skips terms knowing that nothing observable changes. (Infinite or NaN
//! entries of A are kept by the sparse index, so they meet every b in both chains alike.)

use crate::mat::MatRef;

/// The least `max(biased exponent, 1)` over the finite nonzero entries, and whether every
/// entry is finite. An empty or all-zero slice gives [`NONE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExponentFloor {
    /// Least `max(e, 1)` over finite nonzero entries ([`NONE`] if there are none).
    pub min: u32,
    /// Every entry is finite.
    pub finite: bool,
}

/// The floor of a set with no finite nonzero entry (it never limits the guard).
pub const NONE: u32 = 255;

impl ExponentFloor {
    /// The floor of nothing: no entries, all finite.
    pub const EMPTY: ExponentFloor = ExponentFloor {
        min: NONE,
        finite: true,
    };

    /// The floor of the union of two sets.
    pub fn merge(self, o: ExponentFloor) -> ExponentFloor {
        ExponentFloor {
            min: self.min.min(o.min),
            finite: self.finite && o.finite,
        }
    }
}

/// [`ExponentFloor`] of the values in `xs` (AVX2 where the host has it: the same answer, it is
/// integer arithmetic).
pub fn exponent_floor(xs: &[f32]) -> ExponentFloor {
    #[cfg(target_arch = "x86_64")]
    if xs.len() >= 8 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected.
        return unsafe { x86::exponent_floor(xs) };
    }
    portable_floor(xs)
}

/// [`ExponentFloor`] of every entry of `m` (any strides; rows at a time when they are
/// contiguous).
pub fn matrix_floor(m: MatRef<'_>) -> ExponentFloor {
    (0..m.rows()).fold(ExponentFloor::EMPTY, |f, r| match m.row(r) {
        Some(row) => f.merge(exponent_floor(row)),
        None => (0..m.cols()).fold(f, |f, j| f.merge(exponent_floor(&[m.at(r, j)]))),
    })
}

fn portable_floor(xs: &[f32]) -> ExponentFloor {
    // Branch-free over u32 lanes, so the compiler vectorises it.
    let (mut min, mut top) = (NONE, 0u32);
    for &x in xs {
        let e = (x.to_bits() >> 23) & 0xff;
        let nonzero = x.to_bits() & 0x7fff_ffff != 0;
        let class = if nonzero && e != 0xff { e.max(1) } else { NONE };
        min = min.min(class);
        top = top.max(e);
    }
    ExponentFloor {
        min,
        finite: top != 0xff,
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::{portable_floor, ExponentFloor, NONE};

    /// A running [`ExponentFloor`] over eight lanes: per lane, the least class (`max(e, 1)`
    /// of finite nonzero values, else [`NONE`]) and the greatest biased exponent.
    #[derive(Clone, Copy)]
    pub(in crate::sparse) struct Lanes {
        min: __m256i,
        top: __m256i,
    }

    impl Lanes {
        /// Nothing seen yet.
        #[target_feature(enable = "avx2")]
        pub(in crate::sparse) fn new() -> Lanes {
            Lanes {
                min: _mm256_set1_epi32(NONE as i32),
                top: _mm256_setzero_si256(),
            }
        }

        /// Takes in eight values.
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(in crate::sparse) fn add(&mut self, v: __m256) {
            let bits = _mm256_castps_si256(v);
            let ff = _mm256_set1_epi32(0xff);
            let e = _mm256_and_si256(_mm256_srli_epi32::<23>(bits), ff);
            // Lanes that are zero or not finite do not limit the floor.
            let abs = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fff_ffff));
            let zero = _mm256_cmpeq_epi32(abs, _mm256_setzero_si256());
            let skip = _mm256_or_si256(zero, _mm256_cmpeq_epi32(e, ff));
            let class = _mm256_blendv_epi8(
                _mm256_max_epu32(e, _mm256_set1_epi32(1)),
                _mm256_set1_epi32(NONE as i32),
                skip,
            );
            self.min = _mm256_min_epu32(self.min, class);
            self.top = _mm256_max_epu32(self.top, e);
        }

        /// Takes in sixteen values (as two halves of eight).
        #[target_feature(enable = "avx512f,avx2")]
        #[inline]
        pub(in crate::sparse) fn add16(&mut self, v: __m512) {
            self.add(_mm512_castps512_ps256(v));
            self.add(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(v),
            )));
        }

        /// The floor of everything taken in.
        #[target_feature(enable = "avx2")]
        pub(in crate::sparse) fn floor(self) -> ExponentFloor {
            let (mut m, mut t) = ([0u32; 8], [0u32; 8]);
            // SAFETY: both arrays hold 8 u32.
            unsafe {
                _mm256_storeu_si256(m.as_mut_ptr().cast(), self.min);
                _mm256_storeu_si256(t.as_mut_ptr().cast(), self.top);
            }
            ExponentFloor {
                min: m.into_iter().min().unwrap_or(NONE),
                finite: t.into_iter().max().unwrap_or(0) != 0xff,
            }
        }
    }

    /// # Safety
    /// The host has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn exponent_floor(xs: &[f32]) -> ExponentFloor {
        let mut lanes = Lanes::new();
        let mut chunks = xs.chunks_exact(8);
        for c in &mut chunks {
            // SAFETY: `c` holds 8 floats.
            lanes.add(unsafe { _mm256_loadu_ps(c.as_ptr()) });
        }
        lanes.floor().merge(portable_floor(chunks.remainder()))
    }
}

/// Whether a sparse product with left operand floor `a` and right operand floor `b` gives the
/// dense product's bits (see the module text). Only `b`'s finiteness matters.
pub fn skipping_is_exact(a: ExponentFloor, b: ExponentFloor) -> bool {
    b.finite && a.min + b.min >= 151
}

/// A dense operand of the sparse products ([`super::rows_times`]'s B,
/// [`super::cols_t_times`]'s D):
/// a matrix, and its [`ExponentFloor`] (every row's) when that is already known, as
/// [`super::cols_t_times`] returns it for the W it updated, so the product need not scan it.
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    matrix: MatRef<'a>,
    floor: Option<ExponentFloor>,
}

impl<'a> From<MatRef<'a>> for Operand<'a> {
    /// A matrix whose floor the product finds by scanning it.
    fn from(matrix: MatRef<'a>) -> Operand<'a> {
        Operand {
            matrix,
            floor: None,
        }
    }
}

impl<'a> Operand<'a> {
    /// A matrix with its floor known: `floor` must be [`exponent_floor`] over all of
    /// `matrix`'s entries (debug builds check it), or the guard may pass a product whose
    /// zero results differ in sign from the dense one's.
    pub fn with_floor(matrix: MatRef<'a>, floor: ExponentFloor) -> Operand<'a> {
        #[cfg(debug_assertions)]
        assert_eq!(
            floor,
            matrix_floor(matrix),
            "Operand::with_floor: not the matrix's floor"
        );
        Operand {
            matrix,
            floor: Some(floor),
        }
    }

    /// The matrix and its floor, if known.
    pub(super) fn parts(self) -> (MatRef<'a>, Option<ExponentFloor>) {
        (self.matrix, self.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_of_special_values() {
        assert_eq!(exponent_floor(&[]), ExponentFloor::EMPTY);
        assert_eq!(exponent_floor(&[0.0, -0.0]), ExponentFloor::EMPTY);
        // 1.0 has biased exponent 127; 1/255 lies in [2^-8, 2^-7): 119.
        assert_eq!(exponent_floor(&[1.0, -3.0]).min, 127);
        assert_eq!(exponent_floor(&[1.0 / 255.0, 1.0]).min, 119);
        // Subnormals count as exponent 1 (their spacing is 2^-149, as at e = 1).
        assert_eq!(exponent_floor(&[f32::from_bits(1)]).min, 1);
        let inf = exponent_floor(&[1.0, f32::INFINITY]);
        assert_eq!((inf.min, inf.finite), (127, false));
        assert!(!exponent_floor(&[f32::NAN]).finite);
    }

    /// The vector scan gives the scalar one's answer on every special class, at every lane.
    #[test]
    fn vector_and_scalar_floors_agree() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            -2.5e-30,
            f32::from_bits(1),
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NAN,
            3.0e38,
            1.0 / 255.0,
        ];
        for len in [8, 9, 15, 16, 17, 33] {
            for (s, &v) in specials.iter().enumerate() {
                for at in 0..len {
                    let mut xs = vec![0.5f32; len];
                    xs[at] = v;
                    xs[(at + s) % len] = specials[(s + 3) % specials.len()];
                    assert_eq!(exponent_floor(&xs), portable_floor(&xs), "{xs:?}");
                }
            }
        }
    }

    #[test]
    fn the_guard_at_its_boundary() {
        let a = exponent_floor(&[1.0 / 255.0]); // 119
        let ok = exponent_floor(&[2f32.powi(-95)]); // 127 - 95 = 32: 119 + 32 = 151
        let tiny = exponent_floor(&[2f32.powi(-96)]); // 31: 150
        assert!(skipping_is_exact(a, ok));
        assert!(!skipping_is_exact(a, tiny));
        assert!(!skipping_is_exact(
            a,
            ok.merge(exponent_floor(&[f32::INFINITY]))
        ));
    }

    /// The underflow the guard exists for: a product that rounds to -0 is kept as -0 by the
    /// sparse chain, while the dense chain's next zero term turns it into +0.
    #[test]
    fn an_underflow_makes_the_signs_differ() {
        let (a1, b1) = (2f32.powi(-8), -(2f32.powi(-143))); // product -2^-151: rounds to -0
        let (a2, b2) = (0.0f32, 1.0f32); // a zero term the sparse chain skips
        let dense = a2.mul_add(b2, a1.mul_add(b1, 0.0));
        let sparse = a1.mul_add(b1, 0.0);
        assert_eq!(dense.to_bits(), 0.0f32.to_bits());
        assert_eq!(sparse.to_bits(), (-0.0f32).to_bits());
        assert!(!skipping_is_exact(
            exponent_floor(&[a1]),
            exponent_floor(&[b1])
        ));
    }
}

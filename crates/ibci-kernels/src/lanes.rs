//! Masks of a vector's first lanes, for the last, partial vector of a row: the AVX2 form
//! (`maskload`/`maskstore` read a lane's sign bit) and the AVX-512 form (a bit per lane).

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// The AVX2 mask of the first `n` of eight lanes (all of them for `n >= 8`).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn first8(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n.min(8) as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// The AVX-512 mask of the first `n` of sixteen lanes (all of them for `n >= 16`).
    #[inline]
    pub(crate) fn first16(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }
}

//! The kernel of [`super::cols`]: one block of the gradient (sums in registers), on each
//! path. Per element, every path runs the same chain of fused multiply-adds in the same
//! order; only how many columns run side by side differs (portable: one, AVX2: eight a
//! vector, AVX-512: sixteen).

use std::ops::Range;

use super::batch::{BatchCols, BW};
use super::exact::{exponent_floor, ExponentFloor};
use super::packed::Rhs;
use crate::dispatch::KernelPath;

/// Columns per vector on `path` (the portable kernel's blocks use the AVX2 split).
pub(super) fn lanes(path: KernelPath) -> usize {
    match path {
        KernelPath::Avx512 => 16,
        _ => 8,
    }
}

/// The gradient's block: for `p` in `ps`, `g = chain over r of a_rp * d[r, 0..bw]`, written
/// to `out + p * rs ..` as `g`, or as `w - lr * g` onto the `w` there; returns the
/// [`ExponentFloor`] of what it wrote (taken from the registers on the vector paths).
///
/// # Safety
/// `d` is the block's copy (rows of a multiple of 16 floats from a 64-byte boundary,
/// `a.rows()` rows, at least `bw` rounded up to `lanes(path)` columns); `ps` lies in
/// `0..a.cols()`; `out + p * rs + j` for `p` in `ps`, `j < bw` is valid for reads and writes
/// and only this call touches it; `bw <= BW`; `path` is supported here.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gradient(
    path: KernelPath,
    a: &BatchCols,
    d: Rhs,
    bw: usize,
    ps: Range<usize>,
    out: *mut f32,
    rs: usize,
    lr: Option<f32>,
) -> ExponentFloor {
    debug_assert!(bw <= BW);
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
        KernelPath::Avx512 => unsafe { avx512::gradient(a, d, bw, ps, out, rs, lr) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX2 and FMA are there.
        KernelPath::Avx2Fma => unsafe { avx2::gradient(a, d, bw, ps, out, rs, lr) },
        // SAFETY: the caller's contract.
        _ => unsafe {
            let mut g = [0f32; BW];
            let mut floor = ExponentFloor::EMPTY;
            for p in ps {
                g[..bw].fill(0.0);
                for &(r, x) in a.col(p) {
                    let dr = std::slice::from_raw_parts(d.row_ptr(r as usize), bw);
                    g.iter_mut()
                        .zip(dr)
                        .for_each(|(g, &dv)| *g = x.mul_add(dv, *g));
                }
                floor = floor.merge(write_row(&g[..bw], out.add(p * rs), lr));
            }
            floor
        },
    }
}

/// `o[j] = g[j]`, or `o[j] = o[j] - lr * g[j]` (one product, one difference, each rounded, as
/// `sgd_step`); the floor of the values written.
///
/// # Safety
/// `o` is valid for reads and writes of `g.len()` floats.
#[inline]
unsafe fn write_row(g: &[f32], o: *mut f32, lr: Option<f32>) -> ExponentFloor {
    // SAFETY: the caller's contract.
    let o = unsafe { std::slice::from_raw_parts_mut(o, g.len()) };
    match lr {
        None => o.copy_from_slice(g),
        Some(lr) => o.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * g),
    }
    exponent_floor(o)
}

/// Generates the vector kernels of one instruction set.
macro_rules! isa_kernels {
    ($isa:ident, $feat:literal, $lanes:literal, $vt:ty, $zero:ident, $load:ident, $loadu:ident,
     $storeu:ident, $set1:ident, $fma:ident, $mul:ident, $sub:ident, $floor_add:ident,
     $mask:ty, $tail_mask:expr, $mload:expr, $mstore:expr, $mzero:expr,
     [$($nv:literal)*]) => {
        #[cfg(target_arch = "x86_64")]
        mod $isa {
            use std::arch::x86_64::*;
            use std::ops::Range;

            use crate::sparse::batch::BatchCols;
            use crate::sparse::exact::x86::Lanes;
            use crate::sparse::exact::ExponentFloor;
            use crate::sparse::packed::Rhs;

            const L: usize = $lanes;

            /// # Safety
            /// As [`super::gradient`], on a host with the target features.
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn gradient(
                a: &BatchCols,
                d: Rhs,
                bw: usize,
                ps: Range<usize>,
                out: *mut f32,
                rs: usize,
                lr: Option<f32>,
            ) -> ExponentFloor {
                match bw.div_ceil(L) {
                    // SAFETY: forwarded.
                    $($nv => unsafe { grad::<$nv>(a, d, bw, ps, out, rs, lr) },)*
                    _ => unreachable!("a block is 1 to BW / L vectors"),
                }
            }

            #[target_feature(enable = $feat)]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn grad<const NV: usize>(
                a: &BatchCols,
                d: Rhs,
                bw: usize,
                ps: Range<usize>,
                out: *mut f32,
                rs: usize,
                lr: Option<f32>,
            ) -> ExponentFloor {
                // One term of row p's chains: acc = fma(x, D[r, block], acc).
                let term = |acc: &mut [$vt; NV], &(r, x): &(u32, f32)| {
                    // SAFETY: D's row r < a.rows() holds NV*L columns (the block's copy,
                    // padded to 16, 64-byte aligned rows: aligned loads).
                    let dr = unsafe { d.row_ptr(r as usize) };
                    let xv = $set1(x);
                    for (v, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: as above.
                        *acc = $fma(xv, unsafe { $load(dr.add(v * L)) }, *acc);
                    }
                };
                // The block's last vector holds `bw - (NV - 1) * L` of its columns; when that
                // is all L, it is written as the others are (see `finish`).
                let tail: $mask = $tail_mask(bw - (NV - 1) * L);
                let full = bw == NV * L;
                // The floor of what is written.
                let mut lanes = Lanes::new();
                // Two rows of G at a time: twice the independent chains in flight (one row's
                // NV chains would wait on the FMA latency at every term).
                let mut p = ps.start;
                while p < ps.end {
                    let pair = p + 1 < ps.end;
                    let (c0, c1) = (a.col(p), if pair { a.col(p + 1) } else { &[] });
                    let (mut acc0, mut acc1) = ([$zero(); NV], [$zero(); NV]);
                    let both = c0.len().min(c1.len());
                    for (t0, t1) in c0[..both].iter().zip(&c1[..both]) {
                        term(&mut acc0, t0);
                        term(&mut acc1, t1);
                    }
                    c0[both..].iter().for_each(|t| term(&mut acc0, t));
                    c1[both..].iter().for_each(|t| term(&mut acc1, t));
                    // SAFETY: rows p (and p + 1 when paired) are in ps: the caller's contract
                    // for their columns 0..bw.
                    unsafe {
                        finish(&acc0, out.add(p * rs), full, tail, lr, &mut lanes);
                        if pair {
                            finish(&acc1, out.add((p + 1) * rs), full, tail, lr, &mut lanes);
                        }
                    }
                    p += 2;
                }
                lanes.floor()
            }

            /// Writes one row of the gradient block, `g` or `w - lr * g` onto the `w` there
            /// (the last vector masked to the block's columns unless `full`), and takes the
            /// values written into `lanes` (the last vector's other lanes as +0, which never
            /// limit a floor). A full last vector is written without its mask: AMD runs the
            /// AVX2 masked store (`vmaskmovps`) in microcode, and a row of W_1 in training
            /// (100 columns: blocks of 7 and 6 vectors) always ends on a whole vector.
            ///
            /// # Safety
            /// `o` is valid for reads and writes of the block's `(NV - 1) * L` columns plus
            /// the ones `tail` selects, all of which when `full`.
            #[target_feature(enable = $feat)]
            #[inline]
            unsafe fn finish<const NV: usize>(
                acc: &[$vt; NV],
                o: *mut f32,
                full: bool,
                tail: $mask,
                lr: Option<f32>,
                lanes: &mut Lanes,
            ) {
                let vlr = $set1(lr.unwrap_or(0.0));
                // w - lr*g: one product, one difference, each rounded.
                let step = |w: $vt, g: $vt| match lr {
                    None => g,
                    Some(_) => $sub(w, $mul(vlr, g)),
                };
                let whole = if full { NV } else { NV - 1 };
                // SAFETY: vectors 0..whole are whole columns of the block; a last one that is
                // not is read and written through the mask alone.
                unsafe {
                    for (v, &g) in acc[..whole].iter().enumerate() {
                        let r = step($loadu(o.add(v * L)), g);
                        $storeu(o.add(v * L), r);
                        lanes.$floor_add(r);
                    }
                    if !full {
                        let last = o.add((NV - 1) * L);
                        let r = $mzero(step($mload(last, tail), acc[NV - 1]), tail);
                        $mstore(last, tail, r);
                        lanes.$floor_add(r);
                    }
                }
            }
        }
    };
}

isa_kernels!(
    avx2, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_load_ps, _mm256_loadu_ps,
    _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_sub_ps, add,
    __m256i, crate::lanes::x86::first8,
    |p, m| _mm256_maskload_ps(p, m),
    |p, m, v| _mm256_maskstore_ps(p, m, v),
    |v, m| _mm256_and_ps(v, _mm256_castsi256_ps(m)),
    [1 2 3 4 5 6 7 8]
);

isa_kernels!(
    avx512, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_load_ps, _mm512_loadu_ps,
    _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_sub_ps, add16,
    __mmask16, crate::lanes::x86::first16,
    |p, m| _mm512_maskz_loadu_ps(m, p),
    |p, m, v| _mm512_mask_storeu_ps(p, m, v),
    |v, m| _mm512_maskz_mov_ps(m, v),
    [1 2 3 4]
);

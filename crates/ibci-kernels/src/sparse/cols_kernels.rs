//! The kernels of [`super::cols`]: one column block of the forward product (into an L1 tile)
//! and one block of the gradient (sums in registers), on each path. Per element, every path
//! runs the same chain of fused multiply-adds in the same order; only how many columns run
//! side by side differs (portable: one, AVX2: eight a vector, AVX-512: sixteen).
//!
//! Tile layout: batch row `r` at `tile + r * BW` (a 64-byte boundary), columns `0..bw` of
//! the block, the rest of the row padding that is computed and never copied out.

use std::ops::Range;

use super::batch::{BatchCols, BW};
use super::packed::Rhs;
use crate::dispatch::KernelPath;

/// Columns per vector on `path` (the portable kernel's blocks use the AVX2 split).
pub(super) fn lanes(path: KernelPath) -> usize {
    match path {
        KernelPath::Avx512 => 16,
        _ => 8,
    }
}

/// The forward product's block: `tile[r][0..bw] = chain over p of a_rp * b[p, j0..j0+bw]`.
///
/// # Safety
/// `tile` holds `a.rows() * BW` floats on a 64-byte boundary, unaliased; `bw <= BW`, and
/// `j0 + bw <= b.cols()`; `b` has `a.cols()` rows and stays alive and unchanged; `path` is
/// supported here; `bw` is a multiple of `lanes(path)` or the block ends at column n.
pub(super) unsafe fn forward(
    path: KernelPath,
    a: &BatchCols,
    b: Rhs,
    j0: usize,
    bw: usize,
    tile: *mut f32,
) {
    debug_assert!(bw <= BW && j0 + bw <= b.cols());
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
        KernelPath::Avx512 => unsafe { avx512::forward(a, b, j0, bw, tile) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX2 and FMA are there.
        KernelPath::Avx2Fma => unsafe { avx2::forward(a, b, j0, bw, tile) },
        // SAFETY: the caller's contract.
        _ => unsafe {
            for r in 0..a.rows() {
                std::slice::from_raw_parts_mut(tile.add(r * BW), bw).fill(0.0);
            }
            for p in 0..a.cols() {
                let w = std::slice::from_raw_parts(b.row_ptr(p).add(j0), bw);
                for &(r, x) in a.col(p) {
                    let t = std::slice::from_raw_parts_mut(tile.add(r as usize * BW), bw);
                    t.iter_mut()
                        .zip(w)
                        .for_each(|(t, &w)| *t = x.mul_add(w, *t));
                }
            }
        },
    }
}

/// The gradient's block: for `p` in `ps`, `g = chain over r of a_rp * d[r, j0..j0+bw]`,
/// written to `out + p * rs + j0 ..` as `g`, or as `w - lr * g` onto the `w` there.
///
/// # Safety
/// `d` is packed (rows of a multiple of 16 floats from a 64-byte boundary, `a.rows()` rows,
/// at least `j0 + bw` rounded up to `lanes(path)` columns); `ps` lies in `0..a.cols()`;
/// `out + p * rs + j0 + j` for `p` in `ps`, `j < bw` is valid for reads and writes and only
/// this call touches it; `bw <= BW`; `path` is supported here.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gradient(
    path: KernelPath,
    a: &BatchCols,
    d: Rhs,
    j0: usize,
    bw: usize,
    ps: Range<usize>,
    out: *mut f32,
    rs: usize,
    lr: Option<f32>,
) {
    debug_assert!(bw <= BW);
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX-512F is there.
        KernelPath::Avx512 => unsafe { avx512::gradient(a, d, j0, bw, ps, out, rs, lr) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller's contract; the path is supported, so AVX2 and FMA are there.
        KernelPath::Avx2Fma => unsafe { avx2::gradient(a, d, j0, bw, ps, out, rs, lr) },
        // SAFETY: the caller's contract.
        _ => unsafe {
            let mut g = [0f32; BW];
            for p in ps {
                g[..bw].fill(0.0);
                for &(r, x) in a.col(p) {
                    let dr = std::slice::from_raw_parts(d.row_ptr(r as usize).add(j0), bw);
                    g.iter_mut()
                        .zip(dr)
                        .for_each(|(g, &dv)| *g = x.mul_add(dv, *g));
                }
                write_row(&g[..bw], out.add(p * rs + j0), lr);
            }
        },
    }
}

/// `o[j] = g[j]`, or `o[j] = o[j] - lr * g[j]` (one product, one difference, each rounded, as
/// `sgd_step`).
///
/// # Safety
/// `o` is valid for reads and writes of `g.len()` floats.
#[inline]
unsafe fn write_row(g: &[f32], o: *mut f32, lr: Option<f32>) {
    // SAFETY: the caller's contract.
    let o = unsafe { std::slice::from_raw_parts_mut(o, g.len()) };
    match lr {
        None => o.copy_from_slice(g),
        Some(lr) => o.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * g),
    }
}

/// A 64-byte-aligned block row, for the loads and stores of a partial block.
#[repr(C, align(64))]
struct Row([f32; BW]);

/// Generates the vector kernels of one instruction set.
macro_rules! isa_kernels {
    ($isa:ident, $feat:literal, $lanes:literal, $vt:ty, $zero:ident, $load:ident, $loadu:ident,
     $store:ident, $storeu:ident, $set1:ident, $fma:ident, $mul:ident, $sub:ident,
     [$($nv:literal)*]) => {
        #[cfg(target_arch = "x86_64")]
        mod $isa {
            use std::arch::x86_64::*;
            use std::ops::Range;

            use super::{write_row, Row, BW};
            use crate::sparse::packed::Rhs;
            use crate::sparse::batch::BatchCols;

            const L: usize = $lanes;

            /// # Safety
            /// As [`super::forward`], on a host with the target features.
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn forward(a: &BatchCols, b: Rhs, j0: usize, bw: usize, tile: *mut f32) {
                match bw.div_ceil(L) {
                    // SAFETY: forwarded.
                    $($nv => unsafe { fwd::<$nv>(a, b, j0, bw, tile) },)*
                    _ => unreachable!("a block is 1 to BW / L vectors"),
                }
            }

            #[target_feature(enable = $feat)]
            #[inline]
            unsafe fn fwd<const NV: usize>(a: &BatchCols, b: Rhs, j0: usize, bw: usize, tile: *mut f32) {
                let full = bw == NV * L;
                let mut part = Row([0.0; BW]);
                // SAFETY: tile rows r < a.rows() hold BW >= NV * L floats at 64-byte
                // boundaries (aligned vector accesses); B's row p < a.cols() = b.rows holds
                // columns j0..j0+bw, read whole when the block is full, else copied.
                unsafe {
                    for r in 0..a.rows() {
                        for v in 0..NV {
                            $store(tile.add(r * BW + v * L), $zero());
                        }
                    }
                    for p in 0..a.cols() {
                        let list = a.col(p);
                        if list.is_empty() {
                            continue;
                        }
                        let w = b.row_ptr(p).add(j0);
                        let wv: [$vt; NV] = if full {
                            std::array::from_fn(|v| $loadu(w.add(v * L)))
                        } else {
                            std::ptr::copy_nonoverlapping(w, part.0.as_mut_ptr(), bw);
                            std::array::from_fn(|v| $load(part.0.as_ptr().add(v * L)))
                        };
                        for &(r, x) in list {
                            let t = tile.add(r as usize * BW);
                            let xv = $set1(x);
                            for (v, &w) in wv.iter().enumerate() {
                                $store(t.add(v * L), $fma(xv, w, $load(t.add(v * L))));
                            }
                        }
                    }
                }
            }

            /// # Safety
            /// As [`super::gradient`], on a host with the target features.
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn gradient(
                a: &BatchCols,
                d: Rhs,
                j0: usize,
                bw: usize,
                ps: Range<usize>,
                out: *mut f32,
                rs: usize,
                lr: Option<f32>,
            ) {
                match bw.div_ceil(L) {
                    // SAFETY: forwarded.
                    $($nv => unsafe { grad::<$nv>(a, d, j0, bw, ps, out, rs, lr) },)*
                    _ => unreachable!("a block is 1 to BW / L vectors"),
                }
            }

            #[target_feature(enable = $feat)]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            unsafe fn grad<const NV: usize>(
                a: &BatchCols,
                d: Rhs,
                j0: usize,
                bw: usize,
                ps: Range<usize>,
                out: *mut f32,
                rs: usize,
                lr: Option<f32>,
            ) {
                // One term of row p's chains: acc = fma(x, D[r, block], acc).
                let term = |acc: &mut [$vt; NV], &(r, x): &(u32, f32)| {
                    // SAFETY: D's row r < a.rows() holds columns j0 .. j0 + NV*L (packed,
                    // padded to 16, 64-byte aligned rows; j0 a multiple of L: aligned loads).
                    let dr = unsafe { d.row_ptr(r as usize).add(j0) };
                    let xv = $set1(x);
                    for (v, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: as above.
                        *acc = $fma(xv, unsafe { $load(dr.add(v * L)) }, *acc);
                    }
                };
                let mut part = Row([0.0; BW]);
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
                    // for their columns j0..j0+bw.
                    unsafe {
                        finish(&acc0, out.add(p * rs + j0), bw, lr, &mut part);
                        if pair {
                            finish(&acc1, out.add((p + 1) * rs + j0), bw, lr, &mut part);
                        }
                    }
                    p += 2;
                }
            }

            /// Writes one row of the gradient block: `g`, or `w - lr * g` onto the `w` there.
            ///
            /// # Safety
            /// `o` is valid for reads and writes of `bw <= NV * L` floats.
            #[target_feature(enable = $feat)]
            #[inline]
            unsafe fn finish<const NV: usize>(
                acc: &[$vt; NV],
                o: *mut f32,
                bw: usize,
                lr: Option<f32>,
                part: &mut Row,
            ) {
                // SAFETY: whole vectors only when the block is full; else through `part`.
                unsafe {
                    if bw == NV * L {
                        let vlr = $set1(lr.unwrap_or(0.0));
                        for (v, &g) in acc.iter().enumerate() {
                            let r = match lr {
                                None => g,
                                // w - lr*g: one product, one difference, each rounded.
                                Some(_) => $sub($loadu(o.add(v * L)), $mul(vlr, g)),
                            };
                            $storeu(o.add(v * L), r);
                        }
                    } else {
                        for (v, &g) in acc.iter().enumerate() {
                            $store(part.0.as_mut_ptr().add(v * L), g);
                        }
                        write_row(&part.0[..bw], o, lr);
                    }
                }
            }
        }
    };
}

isa_kernels!(
    avx2, "avx2,fma", 8, __m256, _mm256_setzero_ps, _mm256_load_ps, _mm256_loadu_ps,
    _mm256_store_ps, _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_mul_ps,
    _mm256_sub_ps, [1 2 3 4 5 6 7 8]
);

isa_kernels!(
    avx512, "avx512f", 16, __m512, _mm512_setzero_ps, _mm512_load_ps, _mm512_loadu_ps,
    _mm512_store_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_mul_ps,
    _mm512_sub_ps, [1 2 3 4]
);

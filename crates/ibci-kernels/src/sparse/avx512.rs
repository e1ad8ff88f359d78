//! AVX-512 kernels of the training products: [`super::chain`]'s row (the forward product)
//! and [`super::grad`]'s scatter and write-back (the weight gradient), sixteen columns per
//! register. The same chains as the AVX2 and portable kernels (one fused multiply-add per
//! kept term, in list order), so the same bits; only the number of columns in flight differs.
//!
//! ```text
//! row:      acc[v] (16 columns) = fma(v_t, b[p_t, cols of v], acc[v])   t in list order
//!           up to MAX_NV vectors per pass over the list; the last vector of a row ends at
//!           column n under a mask (masked-off lanes are neither read nor written)
//! scatter:  T[p] (one zmm, one cache line) = fma(a, D[r, j0..j0+16], T[p])
//! write:    G[p, j0..] = T[p]  or  W[p, j0..] = W[p, j0..] - lr * T[p]  (masked to cols)
//! ```

use std::arch::x86_64::*;

use super::chain::Rhs;
use super::grad::W;
use super::rows::CsrRows;

/// Most accumulator vectors per pass over a row's list (24 zmm; the broadcast and the folded
/// loads fit in the remaining eight registers).
const MAX_NV: usize = 24;

/// Terms ahead whose row is prefetched.
const PREFETCH: usize = 4;

/// The first `lanes` lanes (at most 16).
fn mask(lanes: usize) -> __mmask16 {
    debug_assert!(lanes <= 16);
    ((1u32 << lanes) - 1) as __mmask16
}

/// One output row of the forward product, as [`super::chain`]'s AVX2 kernel.
///
/// # Safety
/// As [`super::chain::row`], on a host with AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn row(list: &[(u32, f32)], b: Rhs, bias: Option<&[f32]>, out: *mut f32) {
    let n = b.cols();
    let nvec = n.div_ceil(16);
    let chunks = nvec.div_ceil(MAX_NV);
    let mut v0 = 0;
    for c in 0..chunks {
        // Even split: the first `nvec % chunks` chunks take one vector more.
        let nv = nvec / chunks + usize::from(c < nvec % chunks);
        macro_rules! go {
            ($($k:literal)*) => {
                match nv {
                    // SAFETY: the chunk's columns v0*16 .. min(n, (v0+nv)*16) lie inside every
                    // row of the operand; the rest is the forwarded contract.
                    $($k => unsafe { chunk::<$k>(list, b, v0 * 16, bias, out) },)*
                    _ => unreachable!("chunks hold 1 to MAX_NV vectors"),
                }
            };
        }
        go!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24);
        v0 += nv;
    }
}

/// Columns `c0 .. c0 + 16 NV` (those below `n`) of one output row.
///
/// # Safety
/// As [`row`], with `c0 < n`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn chunk<const NV: usize>(
    list: &[(u32, f32)],
    b: Rhs,
    c0: usize,
    bias: Option<&[f32]>,
    out: *mut f32,
) {
    let n = b.cols();
    let m: [__mmask16; NV] = std::array::from_fn(|k| mask(n.saturating_sub(c0 + 16 * k).min(16)));
    let mut acc = [_mm512_setzero_ps(); NV];
    // SAFETY: p < b.rows (caller); the lanes each mask keeps are columns below n, inside row
    // p; masked-off lanes are not read (and cannot fault). Prefetch is a hint: it reads
    // nothing and cannot fault.
    unsafe {
        for (t, &(p, v)) in list.iter().enumerate() {
            let row = b.row_ptr(p as usize).add(c0);
            // The rows come in data order, not memory order: ask for a later term's row.
            if let Some(&(q, _)) = list.get(t + PREFETCH) {
                let ahead = b.row_ptr(q as usize).add(c0) as *const i8;
                for l in (0..NV * 64).step_by(64) {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(l));
                }
            }
            let av = _mm512_set1_ps(v);
            for (k, a) in acc.iter_mut().enumerate() {
                let x = if m[k] == 0xffff {
                    _mm512_loadu_ps(row.add(16 * k))
                } else {
                    _mm512_maskz_loadu_ps(m[k], row.add(16 * k))
                };
                *a = _mm512_fmadd_ps(av, x, *a);
            }
        }
        for (k, &a) in acc.iter().enumerate() {
            let j = c0 + 16 * k;
            let r = match bias {
                None => a,
                Some(bias) => _mm512_add_ps(a, _mm512_maskz_loadu_ps(m[k], bias.as_ptr().add(j))),
            };
            _mm512_mask_storeu_ps(out.add(j), m[k], r);
        }
    }
}

/// [`super::grad`]'s scatter for a block of 16 columns: one register a tile row.
///
/// # Safety
/// As `grad::scatter` with `bw = 16`, on a host with AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn scatter(
    a: &CsrRows,
    rows: &[usize],
    d: Rhs,
    j0: usize,
    tile: *mut f32,
    k: usize,
) {
    // SAFETY: tile rows p < k (column indices of `a`) lie inside the tile, 64-byte aligned
    // (W = 16 floats a row); D's row r holds columns j0..j0 + 16 (packed, 64-byte aligned:
    // ld and j0 are multiples of 16).
    unsafe {
        for p in 0..k {
            _mm512_store_ps(tile.add(p * W), _mm512_setzero_ps());
        }
        for (r, &i) in rows.iter().enumerate() {
            let dv = _mm512_load_ps(d.row_ptr(r).add(j0));
            for &(p, x) in a.row(i) {
                let t = tile.add(p as usize * W);
                _mm512_store_ps(t, _mm512_fmadd_ps(_mm512_set1_ps(x), dv, _mm512_load_ps(t)));
            }
        }
    }
}

/// [`super::grad`]'s write-back of a tile's first `cols` lanes.
///
/// # Safety
/// As `grad::write`, on a host with AVX-512F; the tile is 64-byte aligned.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn write(
    tile: *const f32,
    k: usize,
    out: *mut f32,
    rs: usize,
    cols: usize,
    lr: Option<f32>,
) {
    let m = mask(cols.min(W));
    let vlr = _mm512_set1_ps(lr.unwrap_or(0.0));
    for p in 0..k {
        // SAFETY: tile row p (aligned) is inside the tile; output row p has `cols` columns
        // from `out + p * rs`, the only lanes the mask keeps.
        unsafe {
            let (t, o) = (tile.add(p * W), out.add(p * rs));
            let g = _mm512_load_ps(t);
            let r = match lr {
                None => g,
                // w - lr*g: one product and one difference, each rounded, as sgd_step.
                Some(_) => _mm512_sub_ps(_mm512_maskz_loadu_ps(m, o), _mm512_mul_ps(vlr, g)),
            };
            _mm512_mask_storeu_ps(o, m, r);
        }
    }
}

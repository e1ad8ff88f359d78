//! Write-back of finished tiles into C: `alpha*s (+ beta*c)` for the valid part of a tile
//! (the micro-kernels write tiles of full width of a unit-stride C themselves), and the fused
//! bias and activation of [`super::gemm_bias_act`].

use crate::dispatch::KernelPath;
use crate::elementwise::{activate_with, Activation};
use crate::par::Par;

/// What the write-back of [`gemm_bias_act`](crate::gemm_bias_act) adds to each finished
/// block of C.
pub(super) struct Post<'a> {
    pub bias: &'a [f32],
    pub act: Activation,
    pub path: KernelPath,
}

impl Post<'_> {
    /// `c = f(c + bias)` on rows `i0..i0+mt`, columns `j0..j0+nt` of C at `cp` (the block's
    /// first element).
    ///
    /// # Safety
    /// The block lies inside C and only the caller's task touches it.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn apply(
        &self,
        cp: *mut f32,
        rs: usize,
        cs: usize,
        j0: usize,
        mt: usize,
        nt: usize,
    ) {
        let bias = &self.bias[j0..j0 + nt];
        for r in 0..mt {
            if cs == 1 {
                // SAFETY: row r of the block is nt contiguous floats inside C (caller).
                let seg = unsafe { std::slice::from_raw_parts_mut(cp.add(r * rs), nt) };
                seg.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
                activate_with(self.path, self.act, seg, Par::Seq);
            } else {
                // A strided row is gathered into a buffer, a piece at a time.
                let mut buf = [0f32; 64];
                for (piece, bs) in bias.chunks(64).enumerate() {
                    let seg = &mut buf[..bs.len()];
                    let at = |jj: usize| r * rs + (piece * 64 + jj) * cs;
                    for (jj, (x, b)) in seg.iter_mut().zip(bs).enumerate() {
                        // SAFETY: element (r, piece*64 + jj) of the block is inside C
                        // (caller).
                        *x = unsafe { *cp.add(at(jj)) } + b;
                    }
                    activate_with(self.path, self.act, seg, Par::Seq);
                    for (jj, &x) in seg.iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { *cp.add(at(jj)) = x };
                    }
                }
            }
        }
    }
}

/// Writes the valid `mt x nt` part of a tile into C: `alpha*s` or `alpha*s + beta*c`.
///
/// # Safety
/// `tile` holds `mt` rows of `ld` floats; `c + i*rs + j*cs` is valid for writes (and reads
/// when `beta != 0`) for `i < mt`, `j < nt`.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) unsafe fn epilogue(
    tile: *const f32,
    ld: usize,
    c: *mut f32,
    rs: usize,
    cs: usize,
    mt: usize,
    nt: usize,
    alpha: f32,
    beta: f32,
) {
    for i in 0..mt {
        if cs == 1 {
            // SAFETY: row i of the tile holds nt <= ld floats, and row i of C's block nt
            // contiguous floats (unit column stride), by the caller's contract; the tile is
            // the caller's scratch, never part of C.
            let (s, d) = unsafe {
                (
                    std::slice::from_raw_parts(tile.add(i * ld), nt),
                    std::slice::from_raw_parts_mut(c.add(i * rs), nt),
                )
            };
            // As slices the loops vectorise; each element gets the same roundings.
            if beta == 0.0 {
                d.iter_mut().zip(s).for_each(|(d, &s)| *d = alpha * s);
            } else {
                d.iter_mut()
                    .zip(s)
                    .for_each(|(d, &s)| *d = alpha * s + beta * *d);
            }
            continue;
        }
        for j in 0..nt {
            // SAFETY: in range by the caller's contract.
            unsafe {
                let s = *tile.add(i * ld + j);
                let dst = c.add(i * rs + j * cs);
                *dst = if beta == 0.0 {
                    alpha * s
                } else {
                    alpha * s + beta * *dst
                };
            }
        }
    }
}

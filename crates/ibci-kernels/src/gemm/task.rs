//! One task of the hand-written GEMM: a block of rows and columns of C, all of k. The loop
//! nest over k blocks, B's panels and A's panels (see the layout in [`super`]), choosing for
//! each panel pair the kernel and where A is read from.

use super::epilogue::{epilogue, Post};
use super::pack::pack_a;
use super::{cols, div_ceil, kernels};
use crate::mat::MatRef;
use crate::ptr::SendPtr;

/// Largest k for which the AVX2 path reads a row-major A's full panels in place (see
/// `kernels::Spec::rows`) rather than packing them: packing costs about as much as the
/// product there (100 x 10 x 100 against matrixmultiply, one thread, five interleaved runs,
/// 2026-12-03: 0.96-1.10, median 1.04, in place; 0.93-1.00, median 0.99, packed).
const ROWS_IN_PLACE_MAX_K: usize = 32;

/// One task: rows `i0..i0+mcur`, columns `j0..j0+ncur` of C, all of k.
#[allow(clippy::too_many_arguments)]
pub(super) fn task(
    spec: &kernels::Spec,
    a: MatRef<'_>,
    bp: &[f32],
    cptr: SendPtr,
    (rs_c, cs_c): (usize, usize),
    (m, n, k): (usize, usize, usize),
    (i0, mcur): (usize, usize),
    (j0, ncur): (usize, usize),
    kc_max: usize,
    ap: &mut [f32],
    tiles: &mut [f32],
    (alpha, beta): (f32, f32),
    post: Option<&Post<'_>>,
) {
    let (mr, nr) = (spec.mr, spec.nr);
    let ipanels = div_ceil(mcur, mr);
    let jpanels = div_ceil(ncur, nr);
    let cols_in_place = spec.a_in_place && a.row_stride() == 1;
    let rows_in_place =
        !cols_in_place && spec.rows.is_some() && a.col_stride() == 1 && k <= ROWS_IN_PLACE_MAX_K;
    let in_place = cols_in_place || rows_in_place;
    let mut local = kernels::Tile::new();
    let mut pc = 0;
    loop {
        let kc = kc_max.min(k - pc);
        let (first, last) = (pc == 0, pc + kc == k);
        // Full panels of A are read in place where the path gains by it (a transposed A:
        // `Spec::a_in_place`; a row-major A with a small k: `Spec::rows`); a last panel of
        // fewer than MR rows is still packed (padded).
        let full = if in_place { mcur / mr } else { 0 };
        if full < ipanels {
            let i = full * mr;
            let gather = spec.avx.filter(|_| spec.gather_rows);
            pack_a(a, i0 + i, mcur - i, pc, kc, mr, ap, gather);
        }
        for jp in 0..jpanels {
            let q = j0 / nr + jp;
            // Panel q holds k rows of `width` floats (nr, or the edge kernel's width for a
            // narrow last panel) from q*k*nr, and pc + kc <= k, so the micro-panel
            // q*k*nr + pc*width .. + kc*width lies inside bp. Its offset is a multiple of
            // `width` floats (32 bytes for 8, 64 for 16 and 32) from bp's 64-byte-aligned
            // start: aligned for the kernels' vector loads.
            let width = spec.panel_width(q, div_ceil(n, nr), n);
            let kernel = spec.kernel_for(width);
            let rows_kernel = spec.rows_kernel_for(width).filter(|_| rows_in_place);
            // A narrow panel's kernel over two panels of A (`Spec::pairs`); not for a
            // transposed A read in place (no path has both).
            let pair = |rows| spec.pair_for(width, rows).filter(|_| !cols_in_place);
            debug_assert!(spec.pairs.iter().all(|&(w, _, _)| 2 * w <= nr));
            let bptr = bp[q * k * nr + pc * width..].as_ptr();
            // A last panel of four columns against a transposed A, in one k block: the
            // column-edge kernel, down all of the task's rows (see `cols`).
            let cols = spec
                .cols
                .filter(|_| width == cols::COLS_WIDTH && a.row_stride() == 1 && first && last);
            if let Some(cols) = cols {
                let cj = j0 + jp * nr;
                let out = (cptr, rs_c, cs_c, cj, width.min(n - cj));
                // SAFETY: the path is supported (checked in gemm_with); rows i0..i0+mcur and
                // columns pc..pc+kc of A lie inside it, with unit row stride; the B panel
                // holds kc rows of four floats; columns cj..cj+nt and rows i0..i0+mcur of C
                // lie inside it and only this task writes them.
                unsafe {
                    cols_panel(cols, a, pc, kc, bptr, out, (i0, mcur), (alpha, beta), post);
                }
                continue;
            }
            let mut ip = 0;
            while ip < ipanels {
                // Two panels at once where the path has a pair kernel for this width and both
                // are read the same way (in place, or packed); else one.
                let two = match pair(ip < full) {
                    Some(f) if ip + 1 < ipanels && (ip + 1 < full || ip >= full) => Some(f),
                    _ => None,
                };
                let h = if two.is_some() { 2 } else { 1 };
                // A pair's tile (2 MR x width <= MR x NR floats) uses the first panel's slot.
                let tile: *mut f32 = if tiles.is_empty() {
                    local.0.as_mut_ptr()
                } else {
                    tiles[(ip * jpanels + jp) * mr * nr..].as_mut_ptr()
                };
                let (ri, cj) = (i0 + ip * mr, j0 + jp * nr);
                let (mt, nt) = ((h * mr).min(m - ri), width.min(n - cj));
                // SAFETY: ri < m and cj < n, so the offset is inside C's view.
                let cp = unsafe { cptr.get().add(ri * rs_c + cj * cs_c) };
                // A tile of full width (the rows it has) of a unit-stride C is written by
                // the kernel itself.
                let direct = last && nt == width && cs_c == 1;
                let dst = kernels::Dst {
                    c: cp,
                    rs: rs_c,
                    rows: mt,
                    alpha,
                    beta,
                };
                debug_assert!(
                    (bptr as usize).is_multiple_of((width * 4).min(64))
                        && (tile as usize).is_multiple_of(64),
                    "gemm: packed B panels and tiles must be aligned for the kernel's loads"
                );
                // SAFETY: the A panel is a full panel of A read in place (rows ri..ri+mr <=
                // m, columns pc..pc+kc <= k): mr contiguous floats a.col_stride() apart
                // (unit row stride), or with the rows kernel kc contiguous floats per row,
                // a.row_stride() apart (unit column stride); or it is kc columns of mr
                // floats packed at (ip - full)*mr*kc; a pair kernel takes two such panels
                // (both in place: rows ri..ri+2mr <= m; or both packed, the second mr*kc
                // floats after the first, inside ap as panel ip + 1 - full < ipanels); the
                // B micro-panel holds kc rows of `width` floats, the tile mr*nr >=
                // h*mr*width floats (tiles sit at multiples of mr*nr floats from a 64-byte
                // boundary: aligned); the kernel is the one for `width` (and h panels of
                // A); a direct destination is mt rows of `width` columns of C with unit
                // column stride, inside C, that only this task writes; the path was checked
                // to be supported by this CPU in gemm_with.
                unsafe {
                    let (ak, acs, kernel) = match (two, rows_kernel) {
                        (Some(pk), _) if ip < full => (a.ptr_at(ri, pc), a.row_stride(), pk),
                        (Some(pk), _) => (ap.as_ptr().add((ip - full) * mr * kc), mr, pk),
                        (None, Some(rk)) if ip < full => (a.ptr_at(ri, pc), a.row_stride(), rk),
                        _ if ip < full => (a.ptr_at(ri, pc), a.col_stride(), kernel),
                        _ => (ap.as_ptr().add((ip - full) * mr * kc), mr, kernel),
                    };
                    kernel(kc, ak, acs, bptr, tile, !first, direct.then_some(&dst));
                }
                if last && !direct {
                    // SAFETY: rows ri..ri+mt and columns cj..cj+nt lie inside C, and this
                    // task is the only one writing this block of C.
                    unsafe { epilogue(tile, width, cp, rs_c, cs_c, mt, nt, alpha, beta) };
                }
                if let (true, Some(post)) = (last, post) {
                    // SAFETY: as above: the block is inside C and this task's alone.
                    unsafe { post.apply(cp, rs_c, cs_c, cj, mt, nt) };
                }
                ip += h;
            }
        }
        pc += kc;
        if last {
            break;
        }
    }
}

/// The last panel of B (four columns, `cj..cj + nt` of C) against rows `i0..i0 + mcur` of a
/// transposed A, in one k block, with the path's column-edge kernel, `chunk` rows a call.
///
/// # Safety
/// The path's CPU features are there; A has unit row stride and holds those rows and columns
/// `pc..pc + kc`; `bptr` holds `kc` rows of four floats; C at `cptr` (strides `rs_c`, `cs_c`)
/// holds those rows and columns, which no other thread touches meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn cols_panel(
    (chunk, kernel): (usize, cols::ColsFn),
    a: MatRef<'_>,
    pc: usize,
    kc: usize,
    bptr: *const f32,
    (cptr, rs_c, cs_c, cj, nt): (SendPtr, usize, usize, usize, usize),
    (i0, mcur): (usize, usize),
    (alpha, beta): (f32, f32),
    post: Option<&Post<'_>>,
) {
    const W: usize = cols::COLS_WIDTH;
    // A full-width block of a unit-stride C is written by the kernel itself.
    let direct = nt == W && cs_c == 1;
    let mut tile = kernels::Tile::new();
    let mut i = 0;
    while i < mcur {
        let (ri, rows) = (i0 + i, chunk.min(mcur - i));
        // SAFETY: rows ri..ri+rows and columns pc..pc+kc of A, rows ri..ri+rows and columns
        // cj..cj+nt of C lie inside them (the caller's contract); A's rows are contiguous in
        // each column, columns a.col_stride() apart; the tile holds MAX_TILE >= chunk * 4
        // floats; a direct destination is `rows` rows of four contiguous floats.
        unsafe {
            let cp = cptr.get().add(ri * rs_c + cj * cs_c);
            let dst = kernels::Dst {
                c: cp,
                rs: rs_c,
                rows,
                alpha,
                beta,
            };
            let t = tile.0.as_mut_ptr();
            kernel(
                kc,
                a.ptr_at(ri, pc),
                a.col_stride(),
                rows,
                bptr,
                t,
                direct.then_some(&dst),
            );
            if !direct {
                epilogue(t, W, cp, rs_c, cs_c, rows, nt, alpha, beta);
            }
            if let Some(post) = post {
                post.apply(cp, rs_c, cs_c, cj, rows, nt);
            }
        }
        i += rows;
    }
}

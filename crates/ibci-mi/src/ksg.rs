//! The Kraskov-Stoegbauer-Grassberger estimators of I(X;Y) for continuous X (`n x dx`) and
//! Y (`n x dy`), max-norm in every space (Phys. Rev. E 69, 066138, 2004).
//!
//! ```text
//! d_ij   = max(|x_i - x_j|_inf, |y_i - y_j|_inf)               joint distance
//! KSG1:  eps_i = the k-th smallest d_ij (j != i)
//!        n_x(i) = #{j != i : |x_i - x_j|_inf <  eps_i}           strictly closer
//!        I1 = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >
//! KSG2:  eps_x(i), eps_y(i) = the largest x- and y-distances among i's k joint neighbours
//!        n_x(i) = #{j != i : |x_i - x_j|_inf <= eps_x(i)}
//!        I2 = psi(k) - 1/k + psi(N) - < psi(n_x) + psi(n_y) >
//! ```
//!
//! Counting is exact: "strictly closer than eps" is "at most `eps.next_down()`", the next
//! float below eps, never `eps - 1e-15` (which breaks for data at small scales: NPEET's
//! flaw); so scaling all the data by a power of two leaves the estimate unchanged (tested).
//! psi is exact at integers ([`crate::digamma`]). Estimates are not clamped at 0.
//!
//! Two neighbour searches: [`Search::BruteForce`], O(N^2 (dx + dy)), for high dimensions;
//! and [`Search::KdTree`] (one tree per space, bounding boxes in the max-norm), about
//! O(N log N) for low dimensions. [`Search::Auto`] picks the tree up to [`TREE_MAX_DIM`]
//! joint dimensions. They give identical counts, except that with tied joint distances at
//! the k-th neighbour KSG2 depends on which neighbours are taken: the brute force takes the
//! k smallest (distance, index), the tree whichever it meets first. The brute force measures
//! the wider space first and keeps those distances for its count, stops each distance once it
//! passes the radius in question (exact, since a partial maximum only grows; coordinates are
//! reordered by decreasing spread so that happens early), and has an AVX2 copy that runs when
//! [`KernelPath`] allows, with the same values. Ties (duplicate points) make eps 0; add a
//! seeded jitter first, as every reference does. Points are processed in parallel and the
//! per-point terms summed in index order: the thread count changes no bit.

use ibci_kernels::KernelPath;
use rayon::prelude::*;
use wide::f64x4;

use crate::digamma::digamma_table;

/// Which estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// KSG estimator 1 (strict counts in the marginals, radius eps).
    Ksg1,
    /// KSG estimator 2 (rectangular: non-strict counts at eps_x, eps_y).
    Ksg2,
}

/// How neighbours are found (the same counts either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Every pair.
    BruteForce,
    /// k-d trees.
    KdTree,
    /// The tree up to [`TREE_MAX_DIM`] joint dimensions, brute force above.
    Auto,
}

/// Joint dimension above which [`Search::Auto`] uses brute force.
pub const TREE_MAX_DIM: usize = 10;

/// Points of one space: `n x d`, row-major f64.
#[derive(Clone, Copy, Debug)]
pub struct Points<'a> {
    /// The coordinates.
    pub data: &'a [f64],
    /// Dimensions.
    pub d: usize,
}

impl Points<'_> {
    fn n(&self) -> usize {
        self.data.len() / self.d.max(1)
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}

/// The max-norm distance between two rows ([`dist_within`] with no bound: the max is exact,
/// so the lanes and steps do not change it).
fn dist(a: &[f64], b: &[f64]) -> f64 {
    dist_within(a, b, f64::INFINITY)
}

/// The brute-force search's inputs: coordinates permuted by [`spread_first`].
struct Brute<'a> {
    x: Points<'a>,
    y: Points<'a>,
    k: usize,
    variant: Variant,
}

/// Per-thread scratch space of the brute force.
#[derive(Default)]
struct Scratch {
    /// The k nearest so far as (d, d_a, d_b, j), largest (d, then j) first.
    best: Vec<(f64, f64, f64, usize)>,
    /// For every j != i in order: (d_a as [`dist_within`] returned it, the bound it was
    /// computed against).
    seen: Vec<(f64, f64)>,
}

/// Point `i`'s marginal counts (n_x, n_y) by brute force, with `within` for
/// [`dist_within`].
///
/// The space with more dimensions ("a") is measured first: a pair whose a-distance reaches the
/// current k-th joint distance is dropped without measuring the other space ("b"). The k
/// nearest are the k smallest (d, j): ties at the k-th distance go to the lower index. The a-distances are kept, so a's count needs no second
/// pass: a distance computed exactly is compared with the radius, and one cut short at a bound
/// at or above the radius exceeds it (the bound never falls below the final k-th distance);
/// only one cut short below the radius (possible for KSG2 with ties) is measured again. b's
/// count is a second, pruned pass.
#[inline(always)]
fn brute_point(
    p: &Brute<'_>,
    i: usize,
    s: &mut Scratch,
    within: impl Fn(&[f64], &[f64], f64) -> f64,
) -> (usize, usize) {
    let swap = p.y.d > p.x.d;
    let (a, b) = if swap { (p.y, p.x) } else { (p.x, p.y) };
    let (k, n) = (p.k, a.n());
    let (ai, bi) = (a.row(i), b.row(i));
    s.best.clear();
    s.seen.clear();
    for j in (0..n).filter(|&j| j != i) {
        let bound = if s.best.len() == k {
            s.best[0].0
        } else {
            f64::INFINITY
        };
        let da = within(ai, a.row(j), bound);
        s.seen.push((da, bound));
        if da >= bound {
            continue;
        }
        let db = within(bi, b.row(j), bound);
        if db >= bound {
            continue;
        }
        // Largest (d, j) first: j only grows, so a new pair beats the top exactly when its
        // d is smaller, and of tied pairs the higher index is the one dropped.
        let item = (da.max(db), da, db, j);
        let later = |p: &(f64, f64, f64, usize), q: &(f64, f64, f64, usize)| {
            p.0.total_cmp(&q.0).then(p.3.cmp(&q.3))
        };
        let best = &mut s.best;
        if best.len() < k {
            best.push(item);
            best.sort_by(|p, q| later(q, p));
        } else {
            best[0] = item;
            for t in 1..k {
                if later(&best[t - 1], &best[t]).is_ge() {
                    break;
                }
                best.swap(t - 1, t);
            }
        }
    }
    let (ra, rb) = match p.variant {
        Variant::Ksg1 => {
            let r = s.best[0].0.next_down();
            (r, r)
        }
        Variant::Ksg2 => s
            .best
            .iter()
            .fold((0f64, 0f64), |(ea, eb), t| (ea.max(t.1), eb.max(t.2))),
    };
    let others = (0..n).filter(|&j| j != i);
    let na = others
        .clone()
        .zip(&s.seen)
        .filter(|&(j, &(da, bound))| {
            if da <= bound {
                da <= ra // computed exactly
            } else if bound >= ra {
                false // cut short: at least the bound, which is at least the radius
            } else {
                within(ai, a.row(j), ra) <= ra
            }
        })
        .count();
    let nb = others.filter(|&j| within(bi, b.row(j), rb) <= rb).count();
    if swap {
        (nb, na)
    } else {
        (na, nb)
    }
}

/// The max-norm distance between two rows if it is at most `bound`; otherwise some value
/// above `bound` (the running maximum once it exceeds it, checked every 8 coordinates).
/// Exact either way for the question "is it at most `bound`?", since a partial maximum only
/// grows.
fn dist_within(a: &[f64], b: &[f64], bound: f64) -> f64 {
    let lanes = |x: &[f64]| f64x4::new([x[0], x[1], x[2], x[3]]);
    let mut m = f64x4::ZERO;
    let limit = f64x4::splat(bound);
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let d0 = (lanes(&x[..4]) - lanes(&y[..4])).abs();
        let d1 = (lanes(&x[4..]) - lanes(&y[4..])).abs();
        m = m.fast_max(d0).fast_max(d1);
        if m.simd_gt(limit).any() {
            break;
        }
    }
    let mut out = m.to_array().into_iter().fold(0f64, f64::max);
    if out > bound {
        return out;
    }
    for (x, y) in ra.iter().zip(rb) {
        out = out.max((x - y).abs());
    }
    out
}

/// The AVX2 copy of the brute-force search (the build's CPU level has only SSE).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{brute_point as portable_point, Brute, Scratch};

    /// [`super::dist_within`] on 4-lane AVX registers: the same maxima of the same exact
    /// differences, checked against `bound` at the same 8-coordinate steps, so the same value.
    ///
    /// # Safety
    /// The host must have AVX2 (what `target_feature` requires), and `a.len() == b.len()`.
    #[target_feature(enable = "avx2")]
    unsafe fn dist_within(a: &[f64], b: &[f64], bound: f64) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        let n = a.len();
        let sign = _mm256_set1_pd(-0.0);
        let limit = _mm256_set1_pd(bound);
        let mut m = _mm256_setzero_pd();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut t = 0;
        while t + 8 <= n {
            // SAFETY: t + 8 <= n = a.len() = b.len(), so all 8 reads of each row are in bounds.
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm256_loadu_pd(pa.add(t)),
                    _mm256_loadu_pd(pb.add(t)),
                    _mm256_loadu_pd(pa.add(t + 4)),
                    _mm256_loadu_pd(pb.add(t + 4)),
                )
            };
            let d0 = _mm256_andnot_pd(sign, _mm256_sub_pd(x0, y0));
            let d1 = _mm256_andnot_pd(sign, _mm256_sub_pd(x1, y1));
            m = _mm256_max_pd(m, _mm256_max_pd(d0, d1));
            t += 8;
            if _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(m, limit)) != 0 {
                break;
            }
        }
        let mut lanes = [0f64; 4];
        // SAFETY: `lanes` holds 4 f64, what the unaligned store writes.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), m) };
        let mut out = lanes.into_iter().fold(0f64, f64::max);
        if out > bound {
            return out;
        }
        for (x, y) in a[t..].iter().zip(&b[t..]) {
            out = out.max((x - y).abs());
        }
        out
    }

    /// [`super::brute_point`] compiled for AVX2 around the AVX2 distance.
    ///
    /// # Safety
    /// The host must have AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn brute_point(p: &Brute<'_>, i: usize, s: &mut Scratch) -> (usize, usize) {
        // SAFETY: this function runs only on AVX2 hosts (its own contract), and rows of one
        // point set have equal lengths.
        portable_point(p, i, s, |a, b, r| unsafe { dist_within(a, b, r) })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn avx2_distance_matches_the_portable_one() {
            // Skipped (by name) without AVX2; a failure when IBCI_REQUIRE_PATHS names avx2.
            if !ibci_kernels::dispatch::tested_paths("avx2_distance_matches_the_portable_one")
                .contains(&ibci_kernels::KernelPath::Avx2Fma)
            {
                return;
            }
            // Every length around the 8-wide steps, bounds below, at and above the distance.
            let mut s = 1u64;
            let mut next = || (crate::lcg_step(&mut s) >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            for d in 0..40 {
                for _ in 0..50 {
                    let a: Vec<f64> = (0..d).map(|_| next()).collect();
                    let b: Vec<f64> = (0..d).map(|_| next()).collect();
                    let full = super::super::dist_within(&a, &b, f64::INFINITY);
                    for bound in [f64::INFINITY, full, full.next_down(), full * 0.5, -1.0] {
                        let want = super::super::dist_within(&a, &b, bound);
                        // SAFETY: AVX2 was detected above; a and b have length d.
                        let got = unsafe { dist_within(&a, &b, bound) };
                        assert_eq!(got.to_bits(), want.to_bits(), "d {d}, bound {bound}");
                    }
                }
            }
        }
    }
}

/// A copy of the points with the coordinates permuted by decreasing spread (max - min), so
/// that [`dist_within`] meets the large differences first. Max-norm distances are unchanged.
fn spread_first(p: Points<'_>) -> Vec<f64> {
    let d = p.d;
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for row in p.data.chunks_exact(d) {
        for (c, &v) in row.iter().enumerate() {
            lo[c] = lo[c].min(v);
            hi[c] = hi[c].max(v);
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| (hi[b] - lo[b]).total_cmp(&(hi[a] - lo[a])));
    p.data
        .chunks_exact(d)
        .flat_map(|row| order.iter().map(move |&c| row[c]))
        .collect()
}

/// I(X;Y) in nats.
///
/// # Panics
/// If X and Y differ in length, either has dimension 0 or a non-finite coordinate, or
/// `k == 0` or `k >= n`.
#[track_caller]
pub fn ksg(x: Points<'_>, y: Points<'_>, k: usize, variant: Variant, search: Search) -> f64 {
    let n = x.n();
    assert!(
        x.d > 0 && y.d > 0 && x.data.len() == n * x.d && y.data.len() == n * y.d && y.n() == n,
        "ksg: X has {} values of dimension {}, Y has {} of dimension {}",
        x.data.len(),
        x.d,
        y.data.len(),
        y.d
    );
    assert!(
        k >= 1 && k < n,
        "ksg: k = {k} for {n} points (need 1 <= k < n)"
    );
    assert!(
        x.data.iter().chain(y.data).all(|v| v.is_finite()),
        "ksg: non-finite coordinate"
    );
    let psi = digamma_table(n + 1);
    let psi_of = |m: usize| psi[m - 1];
    let tree = match search {
        Search::BruteForce => false,
        Search::KdTree => true,
        Search::Auto => x.d + y.d <= TREE_MAX_DIM,
    };
    let counts: Vec<(usize, usize)> = if tree {
        let joint: Vec<f64> = (0..n)
            .flat_map(|i| x.row(i).iter().chain(y.row(i)).copied())
            .collect();
        let jt = KdTree::new(Points {
            data: &joint,
            d: x.d + y.d,
        });
        let (xt, yt) = (KdTree::new(x), KdTree::new(y));
        (0..n)
            .into_par_iter()
            .map_init(Vec::new, |heap, i| {
                jt.knn(i, k, heap);
                match variant {
                    Variant::Ksg1 => {
                        let eps = heap[0].0; // the k-th distance (max-heap top)
                        let r = eps.next_down();
                        (xt.count_within(i, r), yt.count_within(i, r))
                    }
                    Variant::Ksg2 => {
                        let (ex, ey) = heap.iter().fold((0f64, 0f64), |(ex, ey), &(_, j)| {
                            (
                                ex.max(dist(x.row(i), x.row(j))),
                                ey.max(dist(y.row(i), y.row(j))),
                            )
                        });
                        (xt.count_within(i, ex), yt.count_within(i, ey))
                    }
                }
            })
            .collect()
    } else {
        let (xs, ys) = (spread_first(x), spread_first(y));
        let pts = Brute {
            x: Points { data: &xs, d: x.d },
            y: Points { data: &ys, d: y.d },
            k,
            variant,
        };
        let avx2 = KernelPath::default_path() != KernelPath::Portable;
        (0..n)
            .into_par_iter()
            .map_init(Scratch::default, |scratch, i| {
                #[cfg(target_arch = "x86_64")]
                if avx2 {
                    // SAFETY: the default path is AVX2 or wider only when the host has AVX2.
                    return unsafe { x86::brute_point(&pts, i, scratch) };
                }
                let _ = avx2; // unused off x86-64, which has no AVX2 copy
                brute_point(&pts, i, scratch, dist_within)
            })
            .collect()
    };
    let mean = counts
        .iter()
        .map(|&(nx, ny)| match variant {
            Variant::Ksg1 => psi_of(nx + 1) + psi_of(ny + 1),
            Variant::Ksg2 => psi_of(nx.max(1)) + psi_of(ny.max(1)),
        })
        .sum::<f64>()
        / n as f64;
    match variant {
        Variant::Ksg1 => psi_of(k) + psi_of(n) - mean,
        Variant::Ksg2 => psi_of(k) - 1.0 / k as f64 + psi_of(n) - mean,
    }
}

/// A k-d tree over points, max-norm, bounding boxes per node.
struct KdTree<'a> {
    pts: Points<'a>,
    /// Point indices, reordered so each node's points are contiguous.
    idx: Vec<usize>,
    /// Where point i sits in `idx`.
    pos: Vec<usize>,
    nodes: Vec<Node>,
    /// Node b's box: `lo[b*d..]`, `hi[b*d..]`.
    lo: Vec<f64>,
    hi: Vec<f64>,
}

/// A node: its range of `idx`, and its children (none for a leaf).
struct Node {
    start: usize,
    end: usize,
    children: Option<(usize, usize)>,
}

const LEAF: usize = 16;

impl<'a> KdTree<'a> {
    fn new(pts: Points<'a>) -> KdTree<'a> {
        let mut t = KdTree {
            pts,
            idx: (0..pts.n()).collect(),
            pos: Vec::new(),
            nodes: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
        };
        t.build(0, pts.n());
        t.pos = vec![0; pts.n()];
        for (p, &i) in t.idx.iter().enumerate() {
            t.pos[i] = p;
        }
        t
    }

    /// Builds the node for `idx[start..end]`, returns its number.
    fn build(&mut self, start: usize, end: usize) -> usize {
        let d = self.pts.d;
        let (mut lo, mut hi) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
        for &i in &self.idx[start..end] {
            for (c, &v) in self.pts.row(i).iter().enumerate() {
                lo[c] = lo[c].min(v);
                hi[c] = hi[c].max(v);
            }
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            start,
            end,
            children: None,
        });
        self.lo.extend_from_slice(&lo);
        self.hi.extend_from_slice(&hi);
        if end - start > LEAF {
            // Split the widest dimension at the median.
            let dim = (0..d)
                .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
                .unwrap_or(0);
            let mid = start + (end - start) / 2;
            let pts = self.pts;
            self.idx[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                pts.row(a)[dim].total_cmp(&pts.row(b)[dim])
            });
            let l = self.build(start, mid);
            let r = self.build(mid, end);
            self.nodes[id].children = Some((l, r));
        }
        id
    }

    /// Smallest and largest max-norm distance from `q` to node `b`'s box.
    fn box_dist(&self, b: usize, q: &[f64]) -> (f64, f64) {
        let d = self.pts.d;
        let (lo, hi) = (&self.lo[b * d..(b + 1) * d], &self.hi[b * d..(b + 1) * d]);
        let (mut near, mut far) = (0f64, 0f64);
        for c in 0..d {
            near = near.max(lo[c] - q[c]).max(q[c] - hi[c]);
            far = far.max((q[c] - lo[c]).abs()).max((hi[c] - q[c]).abs());
        }
        (near, far)
    }

    /// The `k` nearest points to point `i` (itself excluded) into `heap`, a max-heap of
    /// (distance, index) kept as a sorted-descending vector: `heap[0]` is the k-th distance.
    fn knn(&self, i: usize, k: usize, heap: &mut Vec<(f64, usize)>) {
        heap.clear();
        let q = self.pts.row(i);
        let mut stack = vec![0usize];
        while let Some(b) = stack.pop() {
            let (near, _) = self.box_dist(b, q);
            if heap.len() == k && near > heap[0].0 {
                continue;
            }
            let node = &self.nodes[b];
            match node.children {
                Some((l, r)) => {
                    // Visit the nearer child first (pushed last).
                    let (dl, dr) = (self.box_dist(l, q).0, self.box_dist(r, q).0);
                    if dl <= dr {
                        stack.extend([r, l]);
                    } else {
                        stack.extend([l, r]);
                    }
                }
                None => {
                    for &j in &self.idx[node.start..node.end] {
                        if j == i {
                            continue;
                        }
                        let dj = dist(q, self.pts.row(j));
                        if heap.len() < k {
                            heap.push((dj, j));
                            heap.sort_by(|a, b| b.0.total_cmp(&a.0));
                        } else if dj < heap[0].0 {
                            heap[0] = (dj, j);
                            heap.sort_by(|a, b| b.0.total_cmp(&a.0));
                        }
                    }
                }
            }
        }
    }

    /// `#{j != i : dist(p_i, p_j) <= r}`.
    fn count_within(&self, i: usize, r: f64) -> usize {
        let q = self.pts.row(i);
        let mut count = 0;
        let mut stack = vec![0usize];
        while let Some(b) = stack.pop() {
            let (near, far) = self.box_dist(b, q);
            if near > r {
                continue;
            }
            let node = &self.nodes[b];
            if far <= r {
                // The whole box is within r; point i itself (distance 0) may be in it.
                let inside = node.end - node.start;
                let has_i = (node.start..node.end).contains(&self.pos[i]);
                count += inside - usize::from(has_i);
                continue;
            }
            match node.children {
                Some((l, rr)) => stack.extend([l, rr]),
                None => {
                    count += self.idx[node.start..node.end]
                        .iter()
                        .filter(|&&j| j != i && dist(q, self.pts.row(j)) <= r)
                        .count()
                }
            }
        }
        count
    }
}

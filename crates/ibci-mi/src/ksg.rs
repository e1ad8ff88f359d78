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
//! Two neighbour searches with identical counts: [`Search::BruteForce`], O(N^2 (dx + dy)),
//! for high dimensions; and [`Search::KdTree`] (one tree per space, bounding boxes in the
//! max-norm), about O(N log N) for low dimensions. [`Search::Auto`] picks the tree up to
//! [`TREE_MAX_DIM`] joint dimensions. Ties (duplicate points) make eps 0; add a seeded
//! jitter first, as every reference does. Points are processed in parallel and the per-point
//! terms summed in index order: the thread count changes no bit.

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

/// The max-norm distance between two rows, four lanes at a time (`wide`), the lanes'
/// maxima combined at the end (a max is exact, so the order does not matter).
fn dist(a: &[f64], b: &[f64]) -> f64 {
    let mut m = f64x4::ZERO;
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let d = f64x4::new([x[0], x[1], x[2], x[3]]) - f64x4::new([y[0], y[1], y[2], y[3]]);
        m = m.fast_max(d.abs());
    }
    let mut out = m.to_array().into_iter().fold(0f64, f64::max);
    for (x, y) in ra.iter().zip(rb) {
        out = out.max((x - y).abs());
    }
    out
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
        (0..n)
            .into_par_iter()
            .map_init(Vec::new, |buf: &mut Vec<(f64, f64, f64)>, i| {
                buf.clear();
                let (xi, yi) = (x.row(i), y.row(i));
                for j in (0..n).filter(|&j| j != i) {
                    let (dx, dy) = (dist(xi, x.row(j)), dist(yi, y.row(j)));
                    buf.push((dx.max(dy), dx, dy));
                }
                buf.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
                match variant {
                    Variant::Ksg1 => {
                        let r = buf[k - 1].0.next_down();
                        let nx = buf.iter().filter(|t| t.1 <= r).count();
                        let ny = buf.iter().filter(|t| t.2 <= r).count();
                        (nx, ny)
                    }
                    Variant::Ksg2 => {
                        let (ex, ey) = buf[..k]
                            .iter()
                            .fold((0f64, 0f64), |(ex, ey), t| (ex.max(t.1), ey.max(t.2)));
                        let nx = buf.iter().filter(|t| t.1 <= ex).count();
                        let ny = buf.iter().filter(|t| t.2 <= ey).count();
                        (nx, ny)
                    }
                }
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

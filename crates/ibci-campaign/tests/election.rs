//! The quota split and the greedy election: fixed cases, the naive f64 reference on random
//! inputs, no duplicates ever, and planted informative/redundant candidates.

use ibci_campaign::elect::elect;
use ibci_campaign::quota::split_quota;
use ibci_campaign::reference::{elect_naive, response_stats_naive};
use ibci_campaign::score::{response_moments, scores, Candidates, ScoreForm};
use ibci_campaign::CampaignError;
use ibci_kernels::{Activation, Mat, Par, Tolerance};
use ibci_nn::init::{below, fill_normal};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

#[test]
fn quota_split_matches_the_reference_codes_example() {
    let sizes = [80, 3, 60, 40, 90, 70, 50, 45, 30, 32];
    assert_eq!(
        split_quota(&sizes, 100).unwrap(),
        [11, 3, 11, 11, 11, 11, 11, 11, 10, 10]
    );
}

#[test]
fn quota_split_edge_cases() {
    // Empty groups get nothing; their share moves to the others.
    assert_eq!(split_quota(&[0, 5, 0, 5], 10).unwrap(), [0, 5, 0, 5]);
    assert_eq!(split_quota(&[0, 7, 0, 9], 10).unwrap(), [0, 5, 0, 5]);
    // A small group gives everything; the remainders go to the largest groups.
    assert_eq!(split_quota(&[5, 5, 5, 20], 23).unwrap(), [5, 5, 5, 8]);
    assert_eq!(split_quota(&[4, 4, 4], 10).unwrap(), [3, 3, 4]);
    assert_eq!(split_quota(&[3], 0).unwrap(), [0]);
    assert_eq!(split_quota(&[], 0).unwrap(), Vec::<usize>::new());
    // More neurons than candidates: a typed error, not a short layer.
    assert_eq!(
        split_quota(&[2, 0, 3], 6),
        Err(CampaignError::QuotaExceedsCandidates {
            quota: 6,
            candidates: 5
        })
    );
}

#[test]
fn quota_split_is_exact_and_never_overdraws_a_group() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for _ in 0..2000 {
        let groups = 1 + below(&mut rng, 12) as usize;
        let sizes: Vec<usize> = (0..groups).map(|_| below(&mut rng, 40) as usize).collect();
        let total: usize = sizes.iter().sum();
        let quota = below(&mut rng, total as u64 + 1) as usize;
        let share = split_quota(&sizes, quota).unwrap();
        assert_eq!(share.iter().sum::<usize>(), quota, "{sizes:?} {quota}");
        assert!(share.iter().zip(&sizes).all(|(s, z)| s <= z));
        // Even: two groups that both have room differ by at most one.
        for a in 0..groups {
            for b in 0..groups {
                if share[a] < sizes[a] && share[b] < sizes[b] {
                    assert!(
                        share[a].abs_diff(share[b]) <= 1,
                        "{sizes:?} {quota} {share:?}"
                    );
                }
            }
        }
    }
}

/// `c` random candidates of dimension `dim` (candidate-major) and scores, some negative.
fn random_problem(seed: u64, c: usize, dim: usize, negative: bool) -> (Vec<f32>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut wt = vec![0f32; c * dim];
    fill_normal(&mut rng, &mut wt, 0.0, 1.0);
    let mut s = vec![0f32; c];
    fill_normal(&mut rng, &mut s, if negative { -0.3 } else { 2.0 }, 1.0);
    (wt, s.iter().map(|&v| f64::from(v)).collect())
}

#[test]
fn election_equals_the_naive_f64_reference() {
    for (seed, c, dim, quota) in [
        (1, 50, 20, 20),
        (2, 200, 64, 40),
        (3, 37, 9, 9),
        (4, 120, 7, 30), // more picks than dimensions: residuals vanish
        (5, 8, 31, 8),
        (6, 1, 5, 1),
    ] {
        for negative in [false, true] {
            let (wt, s) = random_problem(seed, c, dim, negative);
            let all: Vec<usize> = (0..c).collect();
            let fast = elect(&wt, dim, &s, &all, quota);
            let naive = elect_naive(&wt, dim, &s, &all, quota);
            assert_eq!(fast, naive, "seed {seed}, {c} x {dim}, quota {quota}");
            // A subgroup, as the reference variant elects per class.
            let group: Vec<usize> = (0..c).filter(|j| j % 3 != 1).collect();
            let q = quota.min(group.len());
            assert_eq!(
                elect(&wt, dim, &s, &group, q),
                elect_naive(&wt, dim, &s, &group, q)
            );
        }
    }
}

#[test]
fn no_candidate_is_ever_elected_twice() {
    // The reference code's defect: with few positive scores, argmax returned elected ones.
    for seed in 0..50u64 {
        let (wt, mut s) = random_problem(100 + seed, 20, 12, true);
        s.iter_mut().take(14).for_each(|v| *v = -v.abs());
        for quota in [1, 6, 12, 20] {
            let all: Vec<usize> = (0..20).collect();
            let picks = elect(&wt, 12, &s, &all, quota);
            let mut sorted = picks.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), quota, "duplicates in {picks:?}");
        }
    }
    // Tiny groups: a group of one, and a quota equal to the group.
    let (wt, s) = random_problem(7, 5, 3, true);
    assert_eq!(elect(&wt, 3, &s, &[4], 1), [4]);
    let mut p = elect(&wt, 3, &s, &[0, 2, 3], 3);
    p.sort_unstable();
    assert_eq!(p, [0, 2, 3]);
    assert!(elect(&wt, 3, &s, &[], 0).is_empty());
}

#[test]
fn redundant_copies_are_not_elected_together() {
    // Candidate 0 has the best score and four exact copies (1..=4) with scores just below.
    let dim = 10;
    let (mut wt, mut s) = random_problem(9, 30, dim, false);
    let first: Vec<f32> = wt[..dim].to_vec();
    for j in 1..=4 {
        wt[j * dim..(j + 1) * dim].copy_from_slice(&first);
        s[j] = 10.0 - j as f64 * 0.01;
    }
    s[0] = 10.0;
    let all: Vec<usize> = (0..30).collect();
    let picks = elect(&wt, dim, &s, &all, 8);
    assert_eq!(picks[0], 0);
    assert_eq!(
        picks.iter().filter(|&&j| j <= 4).count(),
        1,
        "copies elected: {picks:?}"
    );
}

/// `n` samples of two classes; feature 0 carries the label (+-1 plus N(0, 0.5^2) noise),
/// features 1.. are N(0, 1.25) noise: the same total variance as feature 0.
fn planted_data(n: usize, d: usize) -> (Mat, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let mut x = Mat::zeros(n, d);
    fill_normal(&mut rng, x.as_mut_slice(), 0.0, 1.25f32.sqrt());
    for (i, &y) in labels.iter().enumerate() {
        let v = if y == 0 { 1.0 } else { -1.0 } + 0.5 * (x.at(i, 0) / 1.25f32.sqrt());
        x.as_mut().set(i, 0, v);
    }
    (x, labels)
}

/// Candidates: unit vectors e_j scaled by `scale[j]`, `d x c`.
fn axis_candidates(d: usize, picks: &[(usize, f32)]) -> Mat {
    Mat::from_fn(d, picks.len(), |i, j| {
        if picks[j].0 == i {
            picks[j].1
        } else {
            0.0
        }
    })
}

#[test]
fn planted_informative_candidates_are_elected_per_criterion() {
    let (n, d) = (4000, 6);
    let (x, labels) = planted_data(n, d);
    // Candidate 0 reads the label feature at unit scale; 1..=5 read noise at unit scale;
    // 6 reads noise at scale 3 (three times the spread, no label information).
    let cand: Vec<(usize, f32)> = vec![
        (0, 1.0),
        (1, 1.0),
        (2, 1.0),
        (3, 1.0),
        (4, 1.0),
        (5, 1.0),
        (1, 3.0),
    ];
    let w = axis_candidates(d, &cand);
    let (m, _) = response_moments(
        x.as_ref(),
        &labels,
        2,
        &Candidates {
            w: w.as_ref(),
            bias: 0.0,
            act: Activation::Identity,
        },
        false,
        Par::Seq,
    );
    let st = m.stats();
    let wt = w.as_ref().t().to_mat();
    let all: Vec<usize> = (0..cand.len()).collect();
    for form in [ScoreForm::Reference, ScoreForm::Paper] {
        // TIE only: the label feature wins.
        let tie = scores(&st, form, 0.0);
        assert_eq!(
            elect(wt.as_slice(), d, &tie.score, &all, 1),
            [0],
            "{form:?}"
        );
        // IIM only: the widest spread wins, whatever its information about the label.
        let iim = scores(&st, form, 1.0);
        assert_eq!(
            elect(wt.as_slice(), d, &iim.score, &all, 1),
            [6],
            "{form:?}"
        );
        // The wide noise reader is parallel to candidate 1: once it is elected, candidate 1's
        // residual is zero and it is not elected while others remain.
        let picks = elect(wt.as_slice(), d, &iim.score, &all, 6);
        assert!(!picks.contains(&1), "{form:?}: {picks:?}");
    }
}

#[test]
fn streamed_moments_match_a_two_pass_reference() {
    // More rows than one response block, a ragged last block, relu and identity.
    let (n, d, c, k) = (5000, 13, 29, 4);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
    let mut x = Mat::zeros(n, d);
    fill_normal(&mut rng, x.as_mut_slice(), 0.3, 1.0);
    // Rows 0..2048 (what the density is judged on) 80% zeros, as MNIST pixels: the sparse
    // product; the rest dense.
    for (i, v) in x.as_mut_slice().iter_mut().enumerate() {
        if i < 2048 * d && i % 5 != 0 {
            *v = 0.0;
        }
    }
    let mut w = Mat::zeros(d, c);
    fill_normal(&mut rng, w.as_mut_slice(), 0.0, 0.4);
    let labels: Vec<usize> = (0..n).map(|_| below(&mut rng, k as u64) as usize).collect();
    for act in [Activation::Relu, Activation::Identity, Activation::Tanh] {
        let (seq, kept) = response_moments(
            x.as_ref(),
            &labels,
            k,
            &Candidates {
                w: w.as_ref(),
                bias: 0.01,
                act,
            },
            true,
            Par::Seq,
        );
        let (par, _) = response_moments(
            x.as_ref(),
            &labels,
            k,
            &Candidates {
                w: w.as_ref(),
                bias: 0.01,
                act,
            },
            false,
            Par::Rayon,
        );
        let kept = kept.expect("kept responses");
        assert_eq!(seq.sum, par.sum);
        assert_eq!(seq.sumsq, par.sumsq);
        let st = seq.stats();
        // The reference responses, computed naively.
        let mut r = vec![0f32; n * c];
        for i in 0..n {
            for j in 0..c {
                let z: f32 = (0..d).map(|t| x.at(i, t) * w.at(t, j)).sum::<f32>() + 0.01;
                r[i * c + j] = match act {
                    Activation::Relu => z.max(0.0),
                    Activation::Tanh => z.tanh(),
                    _ => z,
                };
            }
        }
        let (_, std, cm) = response_stats_naive(&r, n, c, &labels, k);
        // Kept responses, by column, against the naive responses.
        let cols = [3, 0, 28, 3];
        let picked = kept.columns(&cols);
        assert_eq!((picked.rows(), picked.cols()), (n, 4));
        for i in (0..n).step_by(7) {
            for (u, &j) in cols.iter().enumerate() {
                let (a, b) = (f64::from(picked.at(i, u)), f64::from(r[i * c + j]));
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{act:?} R[{i},{j}]"
                );
            }
        }
        // Each response differs from the naive one by a few ulps (a 13-term dot product, its
        // own tanh); the statistics inherit that: 64 ulps relative, or absolute near zero.
        let tol = Tolerance {
            rel: 64.0 * Tolerance::EPS,
            abs: 64.0 * Tolerance::EPS,
        };
        for j in 0..c {
            assert!(
                tol.accepts(st.std[j], std[j]),
                "{act:?} std {j}: {} vs {}",
                st.std[j],
                std[j]
            );
            for kk in 0..k {
                assert!(
                    tol.accepts(st.class_mean[kk * c + j], cm[kk * c + j]),
                    "{act:?} class mean {kk},{j}"
                );
            }
            // The law of total variance holds for the paper's terms.
            let v = st.between[j] + st.within[j];
            assert!((v - st.var[j]).abs() <= 1e-9 * st.var[j].max(1e-12));
        }
    }
}

/// The residual factor that weights a score is in (0, 1] for a live residual (it can only
/// shrink as the span grows), and exactly 0 for a vanished residual or a zero candidate.
#[test]
fn residual_factors_lie_in_zero_to_one() {
    use ibci_campaign::elect::{residual_ratio, VANISHED};
    for norm0 in [1e-20, 1e-3, 1.0, 7.5, 1e30] {
        for frac in [1.0, 0.999, 0.5, 1e-3, 2.0 * VANISHED] {
            let r = residual_ratio(frac * norm0, norm0);
            assert!(r > 0.0 && r <= 1.0, "{frac} of {norm0}: {r}");
            assert!((r - frac).abs() <= 1e-12 * frac, "{frac} of {norm0}: {r}");
        }
        for frac in [VANISHED, 0.5 * VANISHED, 0.0] {
            assert_eq!(
                residual_ratio(frac * norm0, norm0),
                0.0,
                "{frac} of {norm0}"
            );
        }
    }
    assert_eq!(residual_ratio(0.0, 0.0), 0.0);
}

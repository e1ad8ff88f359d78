//! `summary.md`'s comparisons: IBCI against each baseline in each cell, for four measures,
//! with Welch's 95% interval, Holm-adjusted p-values and an equivalence test (TOST); and the
//! minimal-error differences as rows of the forest plot.
//!
//! Measures (lower is better for all four):
//! - the minimal test error over epochs 1..E, percentage points (the paper's measure);
//! - the first epoch whose test error is within 0.1 points of the run's minimum (a robust
//!   "epoch of the minimum": the minimum of a flat, noisy curve is reached late by chance);
//! - the mean test error over epochs 1..min(20, E), points (the area under the early error
//!   curve, divided by its length);
//! - the head start: the test error at initialisation (epoch 0) and after epochs 1, 2, 5, 10
//!   and 20 (those the sweep has), points, one table for all.
//!
//! Each measure's table is one family: its p-values (Welch's two-sided test of a zero
//! difference) are Holm-adjusted over the table's comparisons, and so are its TOST p-values
//! (equivalence within the measure's margin). Verdict at level 0.05: "IBCI better" or "IBCI
//! worse" when the adjusted test rejects a zero difference, else "equivalent within ±d" when
//! the adjusted TOST rejects a difference of d or more, else "undecided".

use super::{base_label, net_label, Cells};
use crate::reproduce::cache::RunResult;
use crate::reproduce::paper::{paper_value, METHODS};
use crate::reproduce::sweep::Sweep;
use crate::stats::{holm, mean, welch95, Interval};
use crate::svg::forest::Row;

/// Level of every test.
const ALPHA: f64 = 0.05;
/// "Near the minimum": within this many percentage points of it.
pub(super) const NEAR_MIN_POINTS: f64 = 0.1;
/// The early window of the mean-error measure, epochs.
pub(super) const EARLY_EPOCHS: usize = 20;

/// One measure of a run.
struct Measure {
    /// Section title.
    title: String,
    /// What a difference is counted in.
    unit: &'static str,
    /// Equivalence margin, in `unit`.
    margin: f64,
    /// The margin as printed.
    margin_text: &'static str,
    /// Decimals to print.
    decimals: usize,
    /// The epochs the measure is taken at (one row each), or empty for a whole-run measure.
    at: Vec<usize>,
    /// The measure of one run (at an epoch of `at`, or 0).
    of: fn(&RunResult, usize) -> f64,
}

/// Epochs of the head-start table.
const HEAD_START_EPOCHS: [usize; 6] = [0, 1, 2, 5, 10, 20];

/// Test error after `epoch`, %.
fn error_at(r: &RunResult, epoch: usize) -> f64 {
    100.0 * r.history[epoch][4]
}

/// Minimal test error, %.
fn min_error(r: &RunResult, _: usize) -> f64 {
    100.0 * r.best().0
}

/// The first epoch whose error is within [`NEAR_MIN_POINTS`] of the run's minimum.
pub(super) fn near_min_epoch(r: &RunResult, _: usize) -> f64 {
    let (best, _) = r.best();
    r.history[1..]
        .iter()
        .find(|h| 100.0 * h[4] <= 100.0 * best + NEAR_MIN_POINTS + 1e-9)
        .map_or(f64::NAN, |h| h[0])
}

/// Mean test error over epochs 1..=min(EARLY_EPOCHS, E), %.
pub(super) fn early_mean_error(r: &RunResult, _: usize) -> f64 {
    let end = r.history.len().min(EARLY_EPOCHS + 1);
    let v: Vec<f64> = r.history[1..end].iter().map(|h| 100.0 * h[4]).collect();
    mean(&v)
}

fn measures(epochs: usize) -> [Measure; 4] {
    [
        Measure {
            title: "Minimal test error".into(),
            unit: "percentage points",
            margin: 0.10,
            margin_text: "0.10",
            decimals: 3,
            at: Vec::new(),
            of: min_error,
        },
        Measure {
            title: format!(
                "Convergence: first epoch within {NEAR_MIN_POINTS} points of the run's minimal error"
            ),
            unit: "epochs",
            margin: 5.0,
            margin_text: "5",
            decimals: 1,
            at: Vec::new(),
            of: near_min_epoch,
        },
        Measure {
            title: format!(
                "Convergence: mean test error over epochs 1-{}",
                epochs.min(EARLY_EPOCHS)
            ),
            unit: "percentage points",
            margin: 0.10,
            margin_text: "0.10",
            decimals: 3,
            at: Vec::new(),
            of: early_mean_error,
        },
        Measure {
            title: "Head start: test error at initialisation (epoch 0) and after a few epochs".into(),
            unit: "percentage points",
            margin: 0.10,
            margin_text: "0.10",
            decimals: 3,
            at: HEAD_START_EPOCHS
                .into_iter()
                .filter(|&e| e <= epochs)
                .collect(),
            of: error_at,
        },
    ]
}

/// "0.012", or "<0.001"; near the level, as many decimals as it takes to show which side
/// of it the value is on (0.04998, not 0.050).
pub(in crate::reproduce) fn p_text(p: f64) -> String {
    if p < 0.001 {
        return "<0.001".into();
    }
    for d in 3..=8 {
        let t = format!("{p:.d$}");
        if t != format!("{ALPHA:.d$}") {
            return t;
        }
    }
    format!("{p:e}")
}

/// A cell's IBCI runs and one baseline's, in table order (base, net, then Vanilla and LSUV).
struct Pair<'a> {
    base: &'a str,
    net: &'a str,
    /// The baseline's index in [`METHODS`].
    k: usize,
    ibci: &'a [&'a RunResult],
    other: &'a [&'a RunResult],
}

impl Pair<'_> {
    /// The measure's values over the seeds, IBCI's and the baseline's.
    fn values(&self, of: impl Fn(&RunResult) -> f64) -> (Vec<f64>, Vec<f64>) {
        (
            self.ibci.iter().map(|r| of(r)).collect(),
            self.other.iter().map(|r| of(r)).collect(),
        )
    }

    /// The paper's IBCI − baseline difference of minimal errors (MNIST only).
    fn paper_difference(&self, sweep: &Sweep) -> Option<f64> {
        let paper = |m: &str| {
            (sweep.dataset == "mnist")
                .then(|| paper_value(self.base, self.net, m))
                .flatten()
        };
        Some(paper("ibci")?.0 - paper(METHODS[self.k].0)?.0)
    }
}

/// Every cell that has IBCI and a baseline, once per baseline.
fn pairs<'a>(sweep: &'a Sweep, c: &'a Cells<'a>) -> Vec<Pair<'a>> {
    let Some(ibci) = METHODS.iter().position(|(m, _)| *m == "ibci") else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for (b, base) in sweep.bases.iter().enumerate() {
        for (n, net) in sweep.nets.iter().enumerate() {
            let Some(i) = c.get(&(n, b, ibci)) else {
                continue;
            };
            for k in [0usize, 1] {
                if let Some(o) = c.get(&(n, b, k)) {
                    v.push(Pair {
                        base,
                        net,
                        k,
                        ibci: i,
                        other: o,
                    });
                }
            }
        }
    }
    v
}

/// The minimal-error differences IBCI − baseline of every cell, as forest-plot rows (the
/// paper's difference beside each, on MNIST).
pub(super) fn min_error_rows(sweep: &Sweep, c: &Cells<'_>) -> Vec<Row> {
    pairs(sweep, c)
        .iter()
        .map(|p| {
            let (iv, ov) = p.values(|r| min_error(r, 0));
            let t = welch95(&iv, &ov);
            Row {
                label: format!(
                    "{} {}, IBCI − {}",
                    base_label(p.base),
                    net_label(p.net),
                    METHODS[p.k].1
                ),
                diff: mean(&iv) - mean(&ov),
                lo: t.map_or(f64::NAN, |t| t.lo),
                hi: t.map_or(f64::NAN, |t| t.hi),
                reference: p.paper_difference(sweep),
            }
        })
        .collect()
}

/// The comparisons section of `summary.md` (empty when the sweep has no IBCI and baseline
/// in one cell).
pub(super) fn comparisons_md(sweep: &Sweep, c: &Cells<'_>) -> String {
    let pairs = pairs(sweep, c);
    let mut s = String::new();
    for (mi, m) in measures(sweep.epochs).iter().enumerate() {
        // (pair, epoch, IBCI values, baseline values), epoch by epoch for a per-epoch measure.
        let whole = [0usize];
        let at: &[usize] = if m.at.is_empty() { &whole } else { &m.at };
        let rows: Vec<_> = at
            .iter()
            .flat_map(|&epoch| {
                pairs.iter().map(move |p| {
                    let (iv, ov) = p.values(|r| (m.of)(r, epoch));
                    (p, epoch, iv, ov)
                })
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let tests: Vec<Option<Interval>> =
            rows.iter().map(|(.., iv, ov)| welch95(iv, ov)).collect();
        let family: Vec<usize> = (0..rows.len()).filter(|&r| tests[r].is_some()).collect();
        let p_adj = holm(
            &family
                .iter()
                .map(|&r| tests[r].map_or(1.0, |t| t.p_value()))
                .collect::<Vec<_>>(),
        );
        let tost_adj = holm(
            &family
                .iter()
                .map(|&r| tests[r].map_or(1.0, |t| t.tost_p(m.margin)))
                .collect::<Vec<_>>(),
        );
        if mi == 0 {
            s += "\n## IBCI minus baseline: differences with Welch's 95% confidence interval over seeds, Holm-adjusted tests, equivalence tests\n\n";
            s += &format!(
                "Each row: the mean over seeds of IBCI minus that of the baseline, in one cell, with Welch's 95% confidence interval. `p`: Welch's two-sided t test of a zero difference; `TOST p`: the two one-sided Welch tests of a difference of at least the margin; both Holm-Bonferroni adjusted over the family of the table's comparisons (its size is given). Verdict at level {ALPHA}: IBCI better or worse when the adjusted `p` is below it, else equivalent within the margin when the adjusted `TOST p` is, else undecided. Lower is better in every table.\n"
            );
        }
        s += &format!(
            "\n### {} ({}; equivalence margin ±{}; family of {} comparisons)\n\n",
            m.title,
            m.unit,
            m.margin_text,
            family.len()
        );
        let by_epoch = !m.at.is_empty();
        let mut cols = if by_epoch { vec!["epoch"] } else { Vec::new() };
        cols.extend([
            "base",
            "net",
            "baseline",
            "IBCI mean",
            "baseline mean",
            "IBCI − baseline [95% CI]",
            "p (Holm)",
            "TOST p (Holm)",
            "verdict",
        ]);
        if mi == 0 {
            cols.push("paper");
        }
        s += &format!("| {} |\n|{}\n", cols.join(" | "), "---|".repeat(cols.len()));
        for (r, (p, epoch, iv, ov)) in rows.iter().enumerate() {
            let d = m.decimals;
            if by_epoch {
                s += &format!("| {epoch} ");
            }
            s += &format!(
                "| {} | {} | {} | {:.d$} | {:.d$} |",
                base_label(p.base),
                net_label(p.net),
                METHODS[p.k].1,
                mean(iv),
                mean(ov)
            );
            match (tests[r], family.iter().position(|&f| f == r)) {
                (Some(t), Some(f)) => {
                    let verdict = if p_adj[f] < ALPHA {
                        if t.diff < 0.0 {
                            "IBCI better".to_string()
                        } else {
                            "IBCI worse".to_string()
                        }
                    } else if tost_adj[f] < ALPHA {
                        format!("equivalent within ±{}", m.margin_text)
                    } else {
                        "undecided".to_string()
                    };
                    s += &format!(
                        " {:+.d$} [{:+.d$}, {:+.d$}] | {} | {} | {verdict} |",
                        t.diff,
                        t.lo,
                        t.hi,
                        p_text(p_adj[f]),
                        p_text(tost_adj[f])
                    );
                }
                _ => {
                    s += &format!(
                        " {:+.d$} (needs 2 seeds) | – | – | – |",
                        mean(iv) - mean(ov)
                    )
                }
            }
            if mi == 0 {
                s += &p
                    .paper_difference(sweep)
                    .map_or(" – |".into(), |d| format!(" {d:+.2} |"));
            }
            s += "\n";
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(errs: &[f64]) -> RunResult {
        let mut history = vec![[0.0, f64::NAN, f64::NAN, 2.3, 0.9]];
        for (e, &err) in errs.iter().enumerate() {
            history.push([(e + 1) as f64, 0.1, 0.9, 0.1, err]);
        }
        RunResult {
            history,
            seconds: 1.0,
            provenance: None,
            weights_sha256: None,
        }
    }

    #[test]
    fn p_values_never_print_as_the_level() {
        assert_eq!(p_text(0.0496), "0.0496");
        assert_eq!(p_text(0.0504), "0.0504");
        assert_eq!(p_text(0.049_98), "0.04998");
        assert_eq!(p_text(0.050_004), "0.050004");
        assert_eq!(p_text(0.012), "0.012");
        assert_eq!(p_text(0.0004), "<0.001");
    }

    #[test]
    fn convergence_measures() {
        // Minimum 2.00% at epoch 5; 2.09% at epoch 3 is within 0.1 points, 2.15% is not.
        let r = run(&[0.0300, 0.0215, 0.0209, 0.0250, 0.0200, 0.0201]);
        assert_eq!(near_min_epoch(&r, 0), 3.0);
        assert!((min_error(&r, 0) - 2.0).abs() < 1e-12);
        let m = (3.00 + 2.15 + 2.09 + 2.50 + 2.00 + 2.01) / 6.0;
        assert!((early_mean_error(&r, 0) - m).abs() < 1e-12);
        assert!((error_at(&r, 2) - 2.15).abs() < 1e-12);
        // Exactly 0.1 points above counts as near.
        assert_eq!(near_min_epoch(&run(&[0.0210, 0.0200]), 0), 1.0);
    }
}

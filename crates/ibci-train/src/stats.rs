//! The statistics `ibci reproduce` reports: mean, sample standard deviation; for a
//! difference of means, Welch's 95% confidence interval, Welch's two-sided t test and the
//! two one-sided tests (TOST) of equivalence within a margin; and Holm-Bonferroni adjusted
//! p-values for a family of tests. Student's t CDF through the regularised incomplete beta
//! function (Lentz's continued fraction), its quantile by bisection.
//!
//! Welch: with sample variances s_a^2, s_b^2 and sizes n_a, n_b, se^2 = s_a^2/n_a + s_b^2/n_b
//! and df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)); t = diff / se, two-sided
//! p = 2 P(T_df > |t|). TOST against margin d: p = max(P(T_df > (diff + d)/se),
//! P(T_df < (diff - d)/se)); equivalence at level 0.05 is the 90% interval inside (-d, d).
//! Holm: sort the m p-values ascending, multiply the i-th (from 0) by m - i, take running
//! maxima, cap at 1.

/// Mean of `v` (NaN if empty).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample standard deviation (divisor n - 1; 0 for one value).
pub fn std(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// ln Gamma(x) for x > 0 (Lanczos, g = 7, nine terms; about 1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let s = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |s, (i, c)| s + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = 1.0 + aa / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Student's t CDF with `df` degrees of freedom (any real df > 0).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `p` quantile (p in (0.5, 1)) of Student's t with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1e4);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// A 95% confidence interval for `mean(a) - mean(b)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The difference of means.
    pub diff: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Standard error of the difference.
    pub se: f64,
}

impl Interval {
    /// Welch's two-sided p-value for a zero difference (a spread-free pair: 1 if the means
    /// are equal, else 0).
    pub fn p_value(&self) -> f64 {
        if self.se == 0.0 {
            return if self.diff == 0.0 { 1.0 } else { 0.0 };
        }
        (2.0 * t_cdf(-(self.diff / self.se).abs(), self.df)).min(1.0)
    }

    /// The TOST p-value for equivalence within `(-margin, margin)`: the larger of the two
    /// one-sided tests' p-values.
    pub fn tost_p(&self, margin: f64) -> f64 {
        if self.se == 0.0 {
            return if self.diff.abs() < margin { 0.0 } else { 1.0 };
        }
        let above_lower = t_cdf(-(self.diff + margin) / self.se, self.df);
        let below_upper = t_cdf((self.diff - margin) / self.se, self.df);
        above_lower.max(below_upper)
    }
}

/// Holm-Bonferroni adjusted p-values, in the order given.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running = 0.0f64;
    for (i, &k) in order.iter().enumerate() {
        running = running.max((m - i) as f64 * p[k]).min(1.0);
        out[k] = running;
    }
    out
}

/// Welch's 95% interval for `mean(a) - mean(b)`; `None` with fewer than two values on a side.
/// Two samples without spread give the zero-width interval at the difference.
pub fn welch95(a: &[f64], b: &[f64]) -> Option<Interval> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (std(a).powi(2) / na, std(b).powi(2) / nb);
    let diff = mean(a) - mean(b);
    let se2 = va + vb;
    if se2 == 0.0 {
        return Some(Interval {
            diff,
            lo: diff,
            hi: diff,
            df: f64::INFINITY,
            se: 0.0,
        });
    }
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let half = t_quantile(0.975, df) * se2.sqrt();
    Some(Interval {
        diff,
        lo: diff - half,
        hi: diff + half,
        df,
        se: se2.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95% critical values (any statistics table).
        for (df, t) in [
            (1.0, 12.7062),
            (2.0, 4.3027),
            (4.0, 2.7764),
            (8.0, 2.3060),
            (30.0, 2.0423),
            (1e6, 1.9600),
        ] {
            let q = t_quantile(0.975, df);
            assert!((q - t).abs() < 5e-4, "df {df}: {q} vs {t}");
        }
        assert!((t_cdf(0.0, 3.0) - 0.5).abs() < 1e-15);
        assert!((t_cdf(-2.0, 5.0) + t_cdf(2.0, 5.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn welch_interval_known_case() {
        // By hand, with the 97.5% points of Student's t from the printed table (df 6: 2.447,
        // df 8: 2.306). a = 1,2,3,2 and b = 0,1,2,1: means 2 and 1, sample variances 2/3 and
        // 2/3, so se^2 = 1/6 + 1/6 = 1/3 (se 0.57735) and df = (1/3)^2 / (2 (1/6)^2 / 3) = 6;
        // half-width 2.447 x 0.57735 = 1.4128.
        let a = [1.0, 2.0, 3.0, 2.0];
        let b = [0.0, 1.0, 2.0, 1.0];
        let ci = welch95(&a, &b).unwrap();
        assert!((ci.df - 6.0).abs() < 1e-9, "{ci:?}");
        assert!((ci.diff - 1.0).abs() < 1e-12, "{ci:?}");
        assert!((ci.lo - (1.0 - 1.4128)).abs() < 1e-3, "{ci:?}");
        assert!((ci.hi - (1.0 + 1.4128)).abs() < 1e-3, "{ci:?}");
        // a = 1..5, b = -1..3: means 3 and 1, variances 2.5 and 2.5, se^2 = 0.5 + 0.5 = 1,
        // df = 1 / (2 x 0.25 / 4) = 8; half-width 2.306.
        let ci = welch95(&[1.0, 2.0, 3.0, 4.0, 5.0], &[-1.0, 0.0, 1.0, 2.0, 3.0]).unwrap();
        assert!((ci.df - 8.0).abs() < 1e-9, "{ci:?}");
        assert!((ci.lo - (2.0 - 2.306)).abs() < 1e-3 && (ci.hi - (2.0 + 2.306)).abs() < 1e-3);
        assert!(welch95(&a, &[1.0]).is_none());
        let same = welch95(&[1.0, 1.0], &[0.5, 0.5]).unwrap();
        assert_eq!((same.lo, same.hi), (0.5, 0.5));
        assert!((std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) - 2.138_089_935).abs() < 1e-8);
    }

    #[test]
    fn welch_test_matches_the_published_example_and_scipy() {
        // The example of the Wikipedia article "Welch's t-test" (two samples of 15; it
        // prints t = -2.46, df = 25.0, p = 0.021); the digits from
        // scipy.stats.ttest_ind(a, b, equal_var=False), scipy 1.17.1.
        let a = [
            27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7,
            21.4,
        ];
        let b = [
            27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5,
            24.4,
        ];
        let w = welch95(&a, &b).unwrap();
        assert!(
            (w.diff / w.se - -2.455_356_398_286_006).abs() < 1e-12,
            "{w:?}"
        );
        assert!((w.df - 24.988_529_290_231_416).abs() < 1e-9, "{w:?}");
        assert!(
            (w.p_value() - 0.021_378_001_462_866_992).abs() < 1e-10,
            "{w:?}"
        );
        // TOST, from statsmodels.stats.weightstats.ttost_ind(a, b, -d, d,
        // usevar="unequal"), statsmodels 0.15.0.
        assert!((w.tost_p(1.0) - 0.900_947_409_838_544_9).abs() < 1e-10);
        assert!((w.tost_p(3.0) - 0.177_011_979_736_694_05).abs() < 1e-10);
        // Five seeds a side, as a sweep has them.
        let x = [2.03, 2.11, 1.98, 2.07, 2.05];
        let y = [2.01, 2.09, 2.04, 1.97, 2.06];
        let w = welch95(&x, &y).unwrap();
        assert!((w.p_value() - 0.651_415_026_002_898).abs() < 1e-10, "{w:?}");
        assert!((w.df - 7.985_442_521_145_645).abs() < 1e-9, "{w:?}");
        assert!((w.tost_p(0.1) - 0.010_232_448_321_436_683).abs() < 1e-10);
        assert!((w.tost_p(0.05) - 0.131_034_209_716_453_85).abs() < 1e-10);
        // Spread-free samples.
        let flat = welch95(&[1.0, 1.0], &[1.0, 1.0]).unwrap();
        assert_eq!((flat.p_value(), flat.tost_p(0.1)), (1.0, 0.0));
    }

    #[test]
    fn holm_matches_statsmodels() {
        // statsmodels.stats.multitest.multipletests(p, method="holm")[1], statsmodels 0.15.0;
        // the first by hand too: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2 -> 0.06, 0.04 x 1 ->
        // still 0.06 (running maximum).
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-15);
        let h = holm(&[0.01, 0.04, 0.03, 0.005]);
        assert!(close(&h, &[0.03, 0.06, 0.06, 0.02]), "{h:?}");
        let h = holm(&[0.2, 0.001, 0.04, 0.012, 0.5, 0.03]);
        assert!(close(&h, &[0.4, 0.006, 0.12, 0.06, 0.5, 0.12]), "{h:?}");
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }
}

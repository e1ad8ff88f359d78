//! The statistics `ibci reproduce` reports: mean, sample standard deviation, and Welch's
//! 95% confidence interval for a difference of means (Student's t quantile by bisection on
//! its CDF, the regularised incomplete beta function by Lentz's continued fraction).

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
        });
    }
    let df = se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
    let half = t_quantile(0.975, df) * se2.sqrt();
    Some(Interval {
        diff,
        lo: diff - half,
        hi: diff + half,
        df,
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
}

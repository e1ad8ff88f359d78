//! A line chart: one mean curve per series with a shaded band (mean +- std), axes with
//! ticks, a title and a legend.

use std::fmt::Write as _;

use super::{escape, header, title_text};

/// One curve: `mean[i]` +- `band[i]` at `x[i]`.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// x values.
    pub x: &'a [f64],
    /// Curve.
    pub mean: &'a [f64],
    /// Half-width of the band.
    pub band: &'a [f64],
}

const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Round "nice" tick step for a range.
pub(super) fn tick_step(span: f64) -> f64 {
    let raw = span / 6.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// The chart, `y` limited to `[y_lo, y_hi]` (curves are clipped to the plot area).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    (y_lo, y_hi): (f64, f64),
) -> String {
    let (w, h) = (720.0, 440.0);
    let (l, r, t, b) = (70.0, 170.0, 40.0, 50.0);
    let (pw, ph) = (w - l - r, h - t - b);
    let x_max = series
        .iter()
        .flat_map(|s| s.x.iter().copied())
        .fold(1.0f64, f64::max);
    let x_min = series
        .iter()
        .flat_map(|s| s.x.iter().copied())
        .fold(x_max, f64::min);
    // A single x (a 1-epoch sweep) gets a unit of room on either side.
    let (x_min, x_max) = if x_max - x_min < 1e-9 {
        (x_min - 1.0, x_max + 1.0)
    } else {
        (x_min, x_max)
    };
    let x_span = x_max - x_min;
    let y_span = (y_hi - y_lo).max(1e-9);
    let px = |x: f64| l + (x - x_min) / x_span * pw;
    let py = |y: f64| t + (1.0 - (y - y_lo) / y_span) * ph;
    let mut s = header(w, h);
    let _ = writeln!(
        s,
        r#"<defs><clipPath id="plot"><rect x="{l}" y="{t}" width="{pw}" height="{ph}"/></clipPath></defs>"#
    );
    let _ = writeln!(s, "{}", title_text(l + pw / 2.0, 22.0, w, title));
    // Axes, grid and ticks.
    let ys = tick_step(y_span);
    let mut y = (y_lo / ys).ceil() * ys;
    while y <= y_hi + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{y:.2}</text>"##,
            l + pw,
            py(y),
            py(y),
            l - 6.0,
            py(y) + 4.0
        );
        y += ys;
    }
    let xs = tick_step(x_span).max(1.0);
    let mut x = (x_min / xs).ceil() * xs;
    while x <= x_max + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{x:.0}</text>"##,
            px(x),
            px(x),
            t + ph,
            t + ph + 5.0,
            px(x),
            t + ph + 18.0
        );
        x += xs;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        l + pw / 2.0,
        h - 12.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        t + ph / 2.0,
        escape(y_label)
    );
    // Bands, then curves, clipped.
    let _ = writeln!(s, r#"<g clip-path="url(#plot)">"#);
    for (i, se) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let mut d = String::new();
        for (k, (&x, (&m, &bd))) in se.x.iter().zip(se.mean.iter().zip(se.band)).enumerate() {
            let _ = write!(
                d,
                "{}{:.2},{:.2} ",
                if k == 0 { "M" } else { "L" },
                px(x),
                py(m + bd)
            );
        }
        for (&x, (&m, &bd)) in se.x.iter().zip(se.mean.iter().zip(se.band)).rev() {
            let _ = write!(d, "L{:.2},{:.2} ", px(x), py(m - bd));
        }
        let _ = writeln!(
            s,
            r#"<path d="{}Z" fill="{c}" fill-opacity="0.15" stroke="none"/>"#,
            d
        );
    }
    for (i, se) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let mut d = String::new();
        for (k, (&x, &m)) in se.x.iter().zip(se.mean).enumerate() {
            let _ = write!(
                d,
                "{}{:.2},{:.2} ",
                if k == 0 { "M" } else { "L" },
                px(x),
                py(m)
            );
        }
        let _ = writeln!(
            s,
            r#"<path d="{}" fill="none" stroke="{c}" stroke-width="1.6"/>"#,
            d.trim_end()
        );
        if se.x.len() == 1 {
            // One point draws no line: mark it, with its band as an error bar.
            let (x, m, bd) = (px(se.x[0]), se.mean[0], se.band[0]);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.2}" x2="{x:.2}" y1="{:.2}" y2="{:.2}" stroke="{c}"/><circle cx="{x:.2}" cy="{:.2}" r="4" fill="{c}"/>"#,
                py(m - bd),
                py(m + bd),
                py(m)
            );
        }
    }
    let _ = writeln!(s, "</g>");
    // Legend.
    for (i, se) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let yy = t + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="{c}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            l + pw + 12.0,
            l + pw + 36.0,
            l + pw + 42.0,
            yy + 4.0,
            escape(se.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

//! A forest plot: one row per comparison, its difference as a dot with its confidence
//! interval as a bar, a solid line at zero, dashed lines at the equivalence margin, and an
//! optional reference value (the paper's) as a grey diamond.

use std::fmt::Write as _;

use super::line::tick_step;
use super::{escape, header, title_text};

/// One comparison.
pub struct Row {
    /// What is compared (left of the plot).
    pub label: String,
    /// The difference.
    pub diff: f64,
    /// Its interval.
    pub lo: f64,
    /// Its interval.
    pub hi: f64,
    /// A published value to show beside it.
    pub reference: Option<f64>,
}

/// The plot; `margin` draws the equivalence lines at `-margin` and `+margin`.
pub fn forest(title: &str, x_label: &str, rows: &[Row], margin: f64) -> String {
    let (w, l, r, t, row_h) = (720.0, 230.0, 30.0, 50.0, 24.0);
    let h = t + row_h * rows.len() as f64 + 60.0;
    let pw = w - l - r;
    let finite = |v: f64| v.is_finite().then_some(v);
    let values = rows
        .iter()
        .flat_map(|q| [finite(q.diff), finite(q.lo), finite(q.hi), q.reference])
        .flatten()
        .chain([-margin, margin]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = 0.05 * (hi - lo).max(1e-9);
    let (x0, x1) = (lo - pad, hi + pad);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * pw;
    let bottom = t + row_h * rows.len() as f64;
    let mut s = header(w, h);
    let _ = writeln!(s, "{}", title_text(w / 2.0, 22.0, w, title));
    // Ticks.
    let step = tick_step(x1 - x0);
    let mut x = (x0 / step).ceil() * step;
    while x <= x1 + 1e-12 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{t}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3:+.2}</text>"##,
            px(x),
            bottom,
            bottom + 16.0,
            if x.abs() < step * 1e-6 { 0.0 } else { x }
        );
        x += step;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{0:.1}" x2="{0:.1}" y1="{t}" y2="{1:.1}" stroke="#333"/>"##,
        px(0.0),
        bottom
    );
    for m in [-margin, margin] {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{t}" y2="{1:.1}" stroke="#888" stroke-dasharray="4 3"/>"##,
            px(m),
            bottom
        );
    }
    for (i, q) in rows.iter().enumerate() {
        let y = t + row_h * (i as f64 + 0.5);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            l - 10.0,
            y + 4.0,
            escape(&q.label)
        );
        if let Some(v) = q.reference {
            let (cx, d) = (px(v), 5.0);
            let _ = writeln!(
                s,
                r##"<path d="M{:.1},{y:.1} L{cx:.1},{:.1} L{:.1},{y:.1} L{cx:.1},{:.1} Z" fill="#aaa"/>"##,
                cx - d,
                y - d,
                cx + d,
                y + d
            );
        }
        if q.lo.is_finite() && q.hi.is_finite() {
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#1f77b4" stroke-width="2"/>"##,
                px(q.lo),
                px(q.hi)
            );
        }
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="#1f77b4"/>"##,
            px(q.diff)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        l + pw / 2.0,
        bottom + 36.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#666">dot and bar: difference, 95% interval; dashed: the equivalence margin; grey diamond: the paper</text>"##,
        w - r,
        bottom + 52.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_drawn_inside_the_plot() {
        let rows = vec![
            Row {
                label: "Xavier MLP-2 <vs> Vanilla".into(),
                diff: 0.02,
                lo: -0.05,
                hi: 0.09,
                reference: Some(-0.11),
            },
            Row {
                label: "He MLP-5".into(),
                diff: 0.17,
                lo: f64::NAN,
                hi: f64::NAN,
                reference: None,
            },
        ];
        let svg = forest("t", "points", &rows, 0.1);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("&lt;vs&gt;"));
        assert_eq!(svg.matches("stroke-dasharray").count(), 2);
        // Every x within the picture.
        for part in svg.split("cx=\"").skip(1) {
            let x: f64 = part.split('"').next().unwrap().parse().unwrap();
            assert!((230.0..=690.0).contains(&x), "{x}");
        }
    }
}

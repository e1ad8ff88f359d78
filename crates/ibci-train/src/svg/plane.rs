//! The information-plane picture of a run: I(X;T) against I(T;Y), one path per layer, points
//! coloured by epoch.

use std::fmt::Write as _;

use super::{escape, header, title_text};

/// Blue (first epoch) to red (last).
fn epoch_colour(e: usize, last: usize) -> String {
    let t = if last == 0 {
        0.0
    } else {
        e as f64 / last as f64
    };
    let r = (40.0 + 215.0 * t) as u8;
    let b = (255.0 - 215.0 * t) as u8;
    format!("#{r:02x}30{b:02x}")
}

/// One point of the plane: a layer at an epoch, at (I(X;T), I(T;Y)).
pub struct PlanePoint {
    /// Epoch (0 = untrained).
    pub epoch: usize,
    /// Layer, 1-based.
    pub layer: usize,
    /// I(X;T), nats.
    pub x: f64,
    /// I(T;Y), nats.
    pub y: f64,
}

/// The information-plane picture: x I(X;T), y I(T;Y), one path per layer, points coloured by
/// epoch; `res` names the estimator under the title.
pub fn svg(points: &[PlanePoint], res: &str, title: &str) -> String {
    let get = |p: &PlanePoint| (p.x, p.y);
    let (w, h, l, r, t, b) = (720.0, 480.0, 70.0, 150.0, 50.0, 50.0);
    let (pw, ph) = (w - l - r, h - t - b);
    let xs: Vec<f64> = points.iter().map(|p| get(p).0).collect();
    let ys: Vec<f64> = points.iter().map(|p| get(p).1).collect();
    let (x0, x1) = (0.0, xs.iter().copied().fold(0.1f64, f64::max) * 1.05);
    let (y0, y1) = (0.0, ys.iter().copied().fold(0.1f64, f64::max) * 1.05);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| t + (1.0 - (y - y0) / (y1 - y0)) * ph;
    let last = points.iter().map(|p| p.epoch).max().unwrap_or(0);
    let layers = points.iter().map(|p| p.layer).max().unwrap_or(0);
    let mut s = header(w, h);
    let _ = writeln!(s, "{}", title_text(l + pw / 2.0, 20.0, w, title));
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="38" text-anchor="middle">{}; nats</text>"#,
        l + pw / 2.0,
        escape(res)
    );
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    for k in 0..=5 {
        let (xv, yv) = (
            x0 + (x1 - x0) * k as f64 / 5.0,
            y0 + (y1 - y0) * k as f64 / 5.0,
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{xv:.2}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{yv:.2}</text>"##,
            px(xv),
            t + ph + 16.0,
            l - 6.0,
            py(yv) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">I(X;T)</text>"#,
        l + pw / 2.0,
        h - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">I(T;Y)</text>"#,
        t + ph / 2.0
    );
    for layer in 1..=layers {
        let mut pts: Vec<&PlanePoint> = points.iter().filter(|p| p.layer == layer).collect();
        pts.sort_by_key(|p| p.epoch);
        let d: Vec<String> = pts
            .iter()
            .map(|p| format!("{:.2},{:.2}", px(get(p).0), py(get(p).1)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#999" stroke-width="1"/>"##,
            d.join(" ")
        );
        for p in &pts {
            let (x, y) = get(p);
            let _ = writeln!(
                s,
                r#"<circle cx="{:.2}" cy="{:.2}" r="3.5" fill="{}"><title>layer {} epoch {}</title></circle>"#,
                px(x),
                py(y),
                epoch_colour(p.epoch, last),
                p.layer,
                p.epoch
            );
        }
        if let Some(p) = pts.last() {
            let (x, y) = get(p);
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}">T{layer}</text>"#,
                px(x) + 6.0,
                py(y) - 6.0
            );
        }
    }
    // Epoch colour key.
    for (k, e) in [0, last / 2, last].iter().enumerate() {
        let yy = t + 12.0 + 20.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{yy:.1}" r="5" fill="{}"/><text x="{:.1}" y="{:.1}">epoch {e}</text>"#,
            l + pw + 20.0,
            epoch_colour(*e, last),
            l + pw + 32.0,
            yy + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

//! SVG output, dependency-free: the sweep's line charts ([`line`]) and the information plane
//! ([`plane`]). Every text a caller passes in (titles, labels, legends) goes through
//! [`escape`]; numbers are written with fixed formatting, so the same data give the same
//! bytes.

pub mod line;
pub mod plane;

pub use line::{line_chart, Series};

/// The opening `<svg>` tag (sans-serif, 12 px) and a white background, `w x h` pixels.
fn header(w: f64, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    )
}

/// Text for an SVG element's content or a quoted attribute: `&`, `<`, `>` and `"` escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_escaped() {
        let title = r#"a <b> & "c""#;
        let chart = line_chart(
            title,
            "x < 1",
            "y & z",
            &[Series {
                label: "<l>",
                x: &[1.0, 2.0],
                mean: &[0.5, 0.4],
                band: &[0.1, 0.1],
            }],
            (0.0, 1.0),
        );
        assert!(chart.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{chart}");
        assert!(chart.contains("x &lt; 1") && chart.contains("y &amp; z"));
        assert!(chart.contains("&lt;l&gt;") && !chart.contains("<l>"));
        let pts = [plane::PlanePoint {
            epoch: 0,
            layer: 1,
            x: 1.0,
            y: 0.5,
        }];
        let plane = plane::svg(&pts, "bins <1>", title);
        assert!(plane.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{plane}");
        assert!(plane.contains("bins &lt;1&gt;; nats") && !plane.contains("<b>"));
    }
}

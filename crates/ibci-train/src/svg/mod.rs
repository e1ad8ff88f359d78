//! SVG output, dependency-free: the sweep's line charts ([`line`]), its forest plot of
//! differences ([`forest`]) and the information plane ([`plane`]). Every text a caller passes in (titles, labels, legends) goes through
//! [`escape`]; numbers are written with fixed formatting, so the same data give the same
//! bytes.

pub mod forest;
pub mod line;
pub mod plane;

pub use line::{line_chart, Series};

/// The opening `<svg>` tag (sans-serif, 12 px) and a white background, `w x h` pixels.
fn header(w: f64, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    )
}

/// A title centred at (`x`, `y`) that stays inside the picture of width `w`: font size 14 when
/// it fits (about 0.6 em per glyph), smaller down to 9 when not, and beyond that its middle
/// elided with "…" (a long data path keeps its start and its end).
pub fn title_text(x: f64, y: f64, w: f64, title: &str) -> String {
    const GLYPH_EM: f64 = 0.6;
    let room = 2.0 * x.min(w - x) - 10.0;
    let n = title.chars().count();
    let fits = room / (n as f64 * GLYPH_EM);
    let (size, text) = if fits >= 14.0 {
        (14.0, title.to_string())
    } else if fits >= 9.0 {
        ((fits * 10.0).floor() / 10.0, title.to_string())
    } else {
        let keep = ((room / (9.0 * GLYPH_EM)) as usize)
            .saturating_sub(1)
            .max(2);
        let chars: Vec<char> = title.chars().collect();
        let (head, tail) = (keep / 2, keep - keep / 2);
        let text: String = chars[..head]
            .iter()
            .chain(['…'].iter())
            .chain(&chars[n - tail..])
            .collect();
        (9.0, text)
    };
    format!(
        r#"<text x="{x:.1}" y="{y}" text-anchor="middle" font-size="{size}">{}</text>"#,
        escape(&text)
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
    #[test]
    fn long_titles_shrink_then_elide_and_stay_inside() {
        let short = super::title_text(310.0, 22.0, 720.0, "MLP-2 on mnist");
        assert_eq!(
            short,
            r#"<text x="310.0" y="22" text-anchor="middle" font-size="14">MLP-2 on mnist</text>"#
        );
        let long = format!(
            "MLP-2 on /{}/data, base init He",
            "very-long-dir/".repeat(20)
        );
        let t = super::title_text(310.0, 22.0, 720.0, &long);
        assert!(t.contains(r#"font-size="9""#) && t.contains('…'), "{t}");
        assert!(
            t.contains(">MLP-2 on /very") && t.contains("/data, base init He<"),
            "{t}"
        );
        let inner = t.split('>').nth(1).unwrap().split('<').next().unwrap();
        assert!(inner.chars().count() as f64 * 0.6 * 9.0 <= 610.0, "{t}");
        let mid = super::title_text(310.0, 22.0, 720.0, &"x".repeat(90));
        assert!(mid.contains(r#"font-size="11.2""#), "{mid}");
    }

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

//! A small SVG plotter: line charts (linear or log y) and histogram panels, written as plain SVG
//! text. It needs no font or system library: labels are `<text>` elements the viewer renders.

use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// One named curve of `(x, y)` points.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// The points, in drawing order (non-finite ones are skipped).
    pub points: Vec<(f64, f64)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// About `n` round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn header(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
"#,
        W / 2.0,
        esc(title)
    );
}

/// A line chart; with `log_y` the y axis is logarithmic (non-positive values are skipped).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> String {
    let tf = |y: f64| if log_y { y.log10() } else { y };
    let ok = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0);
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied().filter(ok))
        .map(|(x, y)| (x, tf(y)))
        .collect();
    let mut out = String::new();
    header(&mut out, title);
    if pts.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">no data</text></svg>"#,
            W / 2.0,
            H / 2.0
        );
        return out;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        let pad = if y0 == 0.0 { 1.0 } else { y0.abs() * 0.1 };
        y0 -= pad;
        y1 += pad;
    }
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for t in ticks(x0, x1, 6) {
        let x = sx(t);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            fmt_tick(t)
        );
    }
    let yt: Vec<f64> = if log_y {
        let lo = y0.floor() as i32;
        let hi = y1.ceil() as i32;
        let step = ((hi - lo) / 6).max(1);
        (lo..=hi)
            .step_by(step as usize)
            .map(f64::from)
            .filter(|v| *v >= y0 - 1e-9 && *v <= y1 + 1e-9)
            .collect()
    } else {
        ticks(y0, y1, 5)
    };
    for t in yt {
        let y = sy(t);
        let label = if log_y {
            format!("1e{}", t as i32)
        } else {
            fmt_tick(t)
        };
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 10.0,
        esc(x_label),
        TOP + ph / 2.0,
        esc(&format!("{y_label}{}", if log_y { " (log)" } else { "" }))
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .copied()
            .filter(ok)
            .map(|(x, y)| format!("{:.1},{:.1}", sx(x), sy(tf(y))))
            .collect();
        if path.len() == 1 {
            let _ = writeln!(
                out,
                r#"<circle cx="{}" r="3" fill="{color}"/>"#,
                path[0].replace(',', "\" cy=\"")
            );
        } else if !path.is_empty() {
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/>"#,
                path.join(" ")
            );
        }
        let ly = TOP + 14.0 + 18.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT + pw + 10.0,
            LEFT + pw + 28.0,
            LEFT + pw + 34.0,
            ly + 4.0,
            esc(&s.name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// One histogram: bins of equal width over `[low, high]`.
pub struct Hist {
    /// Panel title.
    pub label: String,
    /// Left edge of the first bin.
    pub low: f64,
    /// Right edge of the last bin.
    pub high: f64,
    /// Count per bin.
    pub counts: Vec<u64>,
}

/// Histograms as a grid of small panels (e.g. one per layer).
pub fn histograms(title: &str, hists: &[Hist]) -> String {
    let cols = hists.len().clamp(1, 5);
    let rows = hists.len().div_ceil(cols).max(1);
    let (cw, ch) = (180.0, 130.0);
    // Wide enough for the title too (about 8.5 px per character at 15 px sans-serif), so a
    // figure with one or two panels does not clip it.
    let title_w = 8.5 * title.chars().count() as f64 + 40.0;
    let (w, h) = (
        (cw * cols as f64 + 20.0).max(title_w),
        ch * rows as f64 + 40.0,
    );
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">
<rect width="{w}" height="{h}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>
"#,
        w / 2.0,
        esc(title)
    );
    for (k, hist) in hists.iter().enumerate() {
        let ox = 10.0 + cw * (k % cols) as f64;
        let oy = 36.0 + ch * (k / cols) as f64;
        let (px, py, pw, ph) = (ox + 8.0, oy + 18.0, cw - 20.0, ch - 50.0);
        let max = hist.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let n = hist.counts.len().max(1) as f64;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            px + pw / 2.0,
            oy + 12.0,
            esc(&hist.label)
        );
        for (i, &c) in hist.counts.iter().enumerate() {
            let bh = c as f64 / max * ph;
            let _ = writeln!(
                out,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#1f77b4"/>"##,
                px + pw * i as f64 / n,
                py + ph - bh,
                (pw / n - 0.5).max(0.5)
            );
        }
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#444"/><text x="{px:.1}" y="{:.1}">{}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            py + ph,
            px + pw,
            py + ph,
            py + ph + 14.0,
            fmt_tick(hist.low),
            px + pw,
            py + ph + 14.0,
            fmt_tick(hist.high)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(3.0, 97.0, 5);
        assert!(t.first().is_some_and(|&v| v >= 3.0) && t.last().is_some_and(|&v| v <= 97.0));
    }

    #[test]
    fn chart_has_one_polyline_per_series_and_escapes_text() {
        let s = vec![
            Series {
                name: "a<b".into(),
                points: vec![(0.0, 1.0), (1.0, 0.5)],
            },
            Series {
                name: "c".into(),
                points: vec![(0.0, 2.0), (1.0, f64::NAN), (2.0, 0.1)],
            },
        ];
        let svg = line_chart("t", "x", "y", &s, true);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a&lt;b"));
        assert!(svg.ends_with("</svg>\n"));
    }

    #[test]
    fn histogram_figure_is_wide_enough_for_its_title() {
        let title = "activations per layer (kept model, validation examples)";
        let hist = Hist {
            label: "layer 1".into(),
            low: 0.0,
            high: 1.0,
            counts: vec![1, 2, 3],
        };
        let svg = histograms(title, &[hist]);
        let width: f64 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.0);
        assert!(width >= 8.5 * title.len() as f64, "width {width}");
    }

    #[test]
    fn histogram_draws_one_rect_per_bin() {
        let h = Hist {
            label: "layer 1".into(),
            low: -1.0,
            high: 1.0,
            counts: vec![1, 4, 2],
        };
        let svg = histograms("h", &[h]);
        // One background rect plus three bins.
        assert_eq!(svg.matches("<rect").count(), 4);
    }
}

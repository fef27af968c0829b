//! SVG line charts drawn on the server, and the downsampling that keeps them small.
//!
//! A metric may hold 100,000 points; the browser gets at most [`MAX_POINTS`] per series, chosen by
//! Largest-Triangle-Three-Buckets ([`lttb`], Steinarsson 2013), which keeps the visual shape (peaks and troughs)
//! far better than taking every n-th point. Written here because it is thirty lines and the crates that offer it
//! pull in plotting stacks.
//!
//! The SVG carries its data ranges (`data-x0`, `data-x1`, `data-y0`, `data-y1`) so the page script can show a
//! tooltip with the nearest point's value on hover; without the script the chart is still a complete picture.

use crate::ui::format_value;
use maud::{Markup, PreEscaped, html};
use std::fmt::Write as _;

/// Most points drawn per series.
pub const MAX_POINTS: usize = 1000;

/// Series colours (colour-blind-safe palette).
pub const PALETTE: [&str; 8] = [
    "#2563eb", "#e8590c", "#2f9e44", "#ae3ec9", "#c92a2a", "#0c8599", "#f08c00", "#5c677d",
];

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(x, y)` points in x order; non-finite values are skipped when drawing.
    pub points: Vec<(f64, f64)>,
}

/// An axis label: four significant digits.
fn format_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_value(v);
    }
    let magnitude = v.abs();
    if !(1e-3..1e7).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    let digits = (3 - magnitude.log10().floor() as i32).clamp(0, 6) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Largest-Triangle-Three-Buckets: at most `threshold` points of `data` (sorted by x) that keep its shape. The
/// first and last points are always kept; fewer points than `threshold` come back unchanged.
pub fn lttb(data: &[(f64, f64)], threshold: usize) -> Vec<(f64, f64)> {
    if threshold >= data.len() || threshold < 3 {
        return data.to_vec();
    }
    let mut sampled = Vec::with_capacity(threshold);
    let bucket_size = (data.len() - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    sampled.push(data[0]);
    for i in 0..threshold - 2 {
        // Average of the next bucket: the third corner of the triangle.
        let next_start = ((i + 1) as f64 * bucket_size) as usize + 1;
        let next_end = (((i + 2) as f64 * bucket_size) as usize + 1).min(data.len());
        let next =
            &data[next_start.min(data.len() - 1)..next_end.max(next_start + 1).min(data.len())];
        let (avg_x, avg_y) = next
            .iter()
            .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
        let count = next.len().max(1) as f64;
        let (avg_x, avg_y) = (avg_x / count, avg_y / count);
        // The point of this bucket forming the largest triangle with the last kept point and that average.
        let start = (i as f64 * bucket_size) as usize + 1;
        let end = (((i + 1) as f64 * bucket_size) as usize + 1).min(data.len() - 1);
        let (ax, ay) = data[a];
        let mut best = start;
        let mut best_area = -1.0;
        for (j, &(x, y)) in data.iter().enumerate().take(end.max(start + 1)).skip(start) {
            let area = ((ax - avg_x) * (y - ay) - (ax - x) * (avg_y - ay)).abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        sampled.push(data[best]);
        a = best;
    }
    sampled.push(data[data.len() - 1]);
    sampled
}

/// Chart size in SVG user units.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// A small chart for a card on the run page.
pub const SMALL: Size = Size {
    width: 360.0,
    height: 160.0,
};
/// A large chart for a metric page or the compare page.
pub const LARGE: Size = Size {
    width: 900.0,
    height: 360.0,
};

const MARGIN_LEFT: f64 = 64.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 12.0;
const MARGIN_BOTTOM: f64 = 28.0;

/// Draws `series` (each downsampled to [`MAX_POINTS`]) as an SVG line chart with axes, labelled ticks and a
/// legend when there is more than one series. `x_label` names the x axis (`step`, `day`); `y_from_zero` starts the
/// y axis at 0 (for counts).
pub fn line_chart(series: &[Series], size: Size, x_label: &str, y_from_zero: bool) -> Markup {
    let drawn: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| {
            let finite: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            (s.label.clone(), lttb(&finite, MAX_POINTS))
        })
        .collect();
    let all = drawn.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return html! { p.muted { "No finite values to draw." } };
    }
    if y_from_zero && y0 > 0.0 {
        y0 = 0.0;
    }
    if (x1 - x0).abs() < f64::EPSILON {
        x0 -= 1.0;
        x1 += 1.0;
    }
    if (y1 - y0).abs() < f64::EPSILON * y0.abs().max(1.0) {
        let pad = y0.abs().max(1.0) * 0.05;
        y0 -= pad;
        y1 += pad;
    } else {
        let pad = (y1 - y0) * 0.05;
        if !(y_from_zero && y0 == 0.0) {
            y0 -= pad;
        }
        y1 += pad;
    }
    let plot_w = size.width - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = size.height - MARGIN_TOP - MARGIN_BOTTOM;
    let sx = |x: f64| MARGIN_LEFT + (x - x0) / (x1 - x0) * plot_w;
    let sy = |y: f64| MARGIN_TOP + (1.0 - (y - y0) / (y1 - y0)) * plot_h;
    let mut grid = String::new();
    for i in 0..=4 {
        let t = f64::from(i) / 4.0;
        let y = y0 + t * (y1 - y0);
        let py = sy(y);
        let _ = write!(
            grid,
            r#"<line class="grid" x1="{MARGIN_LEFT:.1}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            size.width - MARGIN_RIGHT,
            MARGIN_LEFT - 6.0,
            py + 4.0,
            format_tick(y) // digits, '.', 'e', '-' and 'NaN' only: nothing to escape
        );
        let x = x0 + t * (x1 - x0);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            grid,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            sx(x),
            size.height - 8.0,
            format_tick(x)
        );
    }
    let mut lines = String::new();
    for (i, (_, points)) in drawn.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut coords = String::with_capacity(points.len() * 14);
        for &(x, y) in points {
            let _ = write!(coords, "{:.1},{:.1} ", sx(x), sy(y));
        }
        if points.len() == 1 {
            let (x, y) = points[0];
            let _ = write!(
                lines,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{colour}" data-series="{i}"/>"#,
                sx(x),
                sy(y)
            );
        }
        let _ = write!(
            lines,
            r#"<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.6" data-series="{i}" points="{}"/>"#,
            coords.trim_end()
        );
    }
    let view_box = format!("0 0 {} {}", size.width, size.height);
    html! {
        figure.chart {
            svg viewBox=(view_box) role="img" aria-label=(format!("line chart over {x_label}"))
                data-x0=(x0) data-x1=(x1) data-y0=(y0) data-y1=(y1)
                data-left=(MARGIN_LEFT) data-top=(MARGIN_TOP) data-plot-w=(plot_w) data-plot-h=(plot_h)
                data-x-label=(x_label) {
                rect.plot x=(MARGIN_LEFT) y=(MARGIN_TOP) width=(plot_w) height=(plot_h) {}
                (PreEscaped(grid))
                (PreEscaped(lines))
            }
            @if drawn.len() > 1 {
                figcaption.legend {
                    @for (i, (label, points)) in drawn.iter().enumerate() {
                        span.legend-item {
                            span.swatch style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {}
                            (label)
                            @if points.is_empty() { span.muted { " (no points)" } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lttb_keeps_ends_and_the_requested_count() {
        let data: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (i as f64, (i as f64 / 500.0).sin()))
            .collect();
        let sampled = lttb(&data, MAX_POINTS);
        assert_eq!(sampled.len(), MAX_POINTS);
        assert_eq!(sampled[0], data[0]);
        assert_eq!(sampled[MAX_POINTS - 1], data[data.len() - 1]);
        assert!(
            sampled.windows(2).all(|w| w[0].0 < w[1].0),
            "x must stay increasing"
        );
    }

    #[test]
    fn lttb_keeps_a_lone_spike() {
        let mut data: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 0.0)).collect();
        data[4321].1 = 100.0;
        let sampled = lttb(&data, 100);
        assert!(
            sampled.iter().any(|&(_, y)| y == 100.0),
            "the spike was dropped"
        );
    }

    #[test]
    fn short_series_are_unchanged() {
        let data = vec![(0.0, 1.0), (1.0, 2.0)];
        assert_eq!(lttb(&data, MAX_POINTS), data);
    }

    #[test]
    fn labels_are_escaped_in_the_legend() {
        let series = vec![
            Series {
                label: "<b>a</b>".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            },
            Series {
                label: "b".into(),
                points: vec![(0.0, 3.0)],
            },
        ];
        let svg = line_chart(&series, SMALL, "step", false).into_string();
        assert!(svg.contains("&lt;b&gt;a&lt;/b&gt;"));
        assert!(!svg.contains("<b>a</b>"));
    }
}

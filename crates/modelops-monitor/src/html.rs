//! The HTML drift report: one self-contained page (inline CSS and inline SVG; no scripts, fonts or CDN), so it
//! opens from disk, from an artifact store or attached to an e-mail.
//!
//! Layout: a verdict banner, summary cards (drift share, drifted features, prediction drift, windows, model), the
//! statistics table, then one card per feature with its chart (overlaid histograms for numeric features, grouped
//! bars for categorical, binary and discrete numeric ones). Every string that comes from data or callers (feature
//! names, category labels, model names) goes through [`escape`].
//!
//! We write the markup by hand instead of using a template engine: the page is one function of a
//! [`DriftReport`], and a dependency would add more to audit than it saves.

use crate::drift::{Chart, DriftReport, DriftStatus, FeatureDrift, fmt_p, fmt_value};
use std::fmt::Write as _;

const REFERENCE_COLOUR: &str = "#4c78a8";
const CURRENT_COLOUR: &str = "#f58518";
const CHART_WIDTH: f64 = 520.0;
const CHART_HEIGHT: f64 = 230.0;
const PLOT_LEFT: f64 = 46.0;
const PLOT_RIGHT: f64 = 12.0;
const PLOT_TOP: f64 = 12.0;
const PLOT_BOTTOM: f64 = 46.0;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--bad:#c62828;--bad-bg:#fdecea;--ok:#2e7d32;--ok-bg:#e8f5e9;--warn:#8a6d00;--warn-bg:#fff8e1;--ref:#4c78a8;--cur:#f58518}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1160px;margin:0 auto;padding:28px 24px 40px}
.eyebrow{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);margin-bottom:6px}
.verdict{border-radius:12px;padding:22px 26px;margin-bottom:18px;border:1px solid}
.verdict.drift{background:var(--bad-bg);border-color:#f5c2c0}
.verdict.ok{background:var(--ok-bg);border-color:#b9dfbb}
.verdict h1{margin:0 0 4px;font-size:26px;line-height:1.2}
.verdict.drift h1{color:var(--bad)} .verdict.ok h1{color:var(--ok)}
.verdict p{margin:0;color:var(--ink)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:22px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.card .value{font-size:22px;font-weight:600;margin-top:2px}
.card .sub{font-size:12px;color:var(--muted);margin-top:2px}
h2{font-size:18px;margin:26px 0 10px}
.table-wrap{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:9px 12px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-size:12px;color:var(--muted);font-weight:600;background:#fafbfc;text-transform:uppercase;letter-spacing:.04em}
td.num,th.num{text-align:right}
tr:last-child td{border-bottom:none}
td.reason{white-space:normal;color:var(--muted);font-size:13px;min-width:220px}
tr.pred td{background:#fbfbfd}
.badge{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600}
.badge.drifted{background:var(--bad-bg);color:var(--bad)}
.badge.stable{background:var(--ok-bg);color:var(--ok)}
.badge.not_tested{background:var(--warn-bg);color:var(--warn)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}
.feature{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.feature.drifted{border-left:4px solid var(--bad)}
.feature header{display:flex;justify-content:space-between;align-items:baseline;gap:8px}
.feature h3{margin:0;font-size:16px;overflow-wrap:anywhere}
.feature .kind{color:var(--muted);font-size:12px;margin-left:6px;font-weight:400}
.feature .why{color:var(--muted);font-size:13px;margin:4px 0 6px}
.feature .facts{font-size:12px;color:var(--muted);margin-top:4px}
.legend{display:flex;gap:16px;font-size:12px;color:var(--muted);margin:2px 0 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg text{font-family:inherit;font-size:11px;fill:#616e7c}
footer{margin-top:28px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:12px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
"#;

/// Renders the report as a complete HTML document.
pub fn render_html(report: &DriftReport) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let date = report.generated_at.format("%Y-%m-%d");
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Drift report {date}{}</title><style>{STYLE}</style></head><body><main>",
        report
            .model_name
            .as_deref()
            .map(|m| format!(" · {}", escape(m)))
            .unwrap_or_default()
    );
    verdict(&mut html, report);
    cards(&mut html, report);
    statistics_table(&mut html, report);
    feature_cards(&mut html, report);
    footer(&mut html, report);
    html.push_str("</main></body></html>\n");
    html
}

fn verdict(html: &mut String, report: &DriftReport) {
    let prediction_drift = report
        .prediction
        .as_ref()
        .is_some_and(FeatureDrift::is_drifted);
    let (class, title) = match (report.dataset_drift, prediction_drift) {
        (true, true) => ("drift", "Dataset and prediction drift detected"),
        (true, false) => ("drift", "Dataset drift detected"),
        (false, true) => ("drift", "Prediction drift detected"),
        (false, false) => ("ok", "No dataset drift"),
    };
    let model = match (&report.model_name, &report.model_version) {
        (Some(name), Some(version)) => format!("{} v{} · ", escape(name), escape(version)),
        (Some(name), None) => format!("{} · ", escape(name)),
        _ => String::new(),
    };
    let _ = write!(
        html,
        "<header class=\"verdict {class}\"><div class=\"eyebrow\">{model}drift report · {}</div><h1>{title}</h1>\
         <p>{} of {} tested features drifted ({}); dataset drift means more than {}.{}</p></header>",
        window_text(report),
        report.drifted_features,
        report.tested_features,
        percent(report.drift_share),
        percent(report.config.drift_share_threshold),
        if report.drifted_features > 0 {
            format!(
                " Drifted: <strong>{}</strong>.",
                report
                    .drifted_feature_names()
                    .iter()
                    .map(|n| escape(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
}

fn window_text(report: &DriftReport) -> String {
    match (report.current.start, report.current.end) {
        (Some(start), Some(end)) if start == end => start.to_string(),
        (Some(start), Some(end)) => format!("{start} – {end}"),
        _ => "dates not given".into(),
    }
}

fn months_text(months: &[u32]) -> String {
    const NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if months.len() == 12 {
        return "all months".into();
    }
    if months.is_empty() {
        return "all training rows".into();
    }
    months
        .iter()
        .filter_map(|m| NAMES.get((*m as usize).wrapping_sub(1)))
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

fn cards(html: &mut String, report: &DriftReport) {
    html.push_str("<section class=\"cards\">");
    let card = |html: &mut String, label: &str, value: String, sub: String| {
        let _ = write!(
            html,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{value}</div>\
             <div class=\"sub\">{sub}</div></div>"
        );
    };
    card(
        html,
        "Drift share",
        percent(report.drift_share),
        format!(
            "threshold &gt; {}",
            percent(report.config.drift_share_threshold)
        ),
    );
    card(
        html,
        "Drifted features",
        format!("{} / {}", report.drifted_features, report.tested_features),
        format!(
            "{} not tested",
            report.features.len() - report.tested_features
        ),
    );
    let (value, sub) = match &report.prediction {
        None => ("—".to_owned(), "no predictions compared".to_owned()),
        Some(p) => (status_word(p.status).to_owned(), escape(&p.reason)),
    };
    card(html, "Prediction", value, sub);
    card(
        html,
        "Current window",
        format!("{} rows", thousands(report.current.rows)),
        escape(&window_text(report)),
    );
    let reference_sub = if report.reference.months_without_reference.is_empty() {
        months_text(&report.reference.months)
    } else {
        format!(
            "{}; no training rows for {}",
            months_text(&report.reference.months),
            months_text(&report.reference.months_without_reference)
        )
    };
    card(
        html,
        &format!("Reference · {}", report.reference.window.label()),
        format!("{} rows", thousands(report.reference.rows)),
        reference_sub,
    );
    html.push_str("</section>");
}

fn status_word(status: DriftStatus) -> &'static str {
    match status {
        DriftStatus::Drifted => "Drifted",
        DriftStatus::Stable => "Stable",
        DriftStatus::NotTested => "Not tested",
    }
}

fn badge(status: DriftStatus) -> String {
    let class = match status {
        DriftStatus::Drifted => "drifted",
        DriftStatus::Stable => "stable",
        DriftStatus::NotTested => "not_tested",
    };
    format!(
        "<span class=\"badge {class}\">{}</span>",
        status_word(status)
    )
}

fn statistics_table(html: &mut String, report: &DriftReport) {
    html.push_str(
        "<h2>Statistics</h2><div class=\"table-wrap\"><table><thead><tr><th>Feature</th><th>Kind</th>\
         <th>Verdict</th><th class=\"num\">KS D</th><th class=\"num\">KS p</th><th class=\"num\">χ² p</th>\
         <th class=\"num\">TVD</th><th class=\"num\">PSI</th><th class=\"num\">Ref. n</th>\
         <th class=\"num\">Cur. n</th><th>Decision</th></tr></thead><tbody>",
    );
    let row = |html: &mut String, f: &FeatureDrift, class: &str| {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
        let _ = write!(
            html,
            "<tr class=\"{class}\"><td><strong>{}</strong></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"reason\">{}</td></tr>",
            escape(&f.name),
            f.kind.label(),
            badge(f.status),
            opt(f.ks.map(|k| format!("{:.3}", k.statistic))),
            opt(f.ks.map(|k| fmt_p(k.p_value))),
            opt(f.chi_square.map(|c| fmt_p(c.p_value))),
            opt(f.total_variation.map(|t| format!("{t:.3}"))),
            opt(f.psi.map(|p| format!("{p:.3}"))),
            thousands(f.reference_count),
            thousands(f.current_count),
            escape(&f.reason),
        );
    };
    for feature in &report.features {
        row(html, feature, "");
    }
    if let Some(prediction) = &report.prediction {
        row(html, prediction, "pred");
    }
    html.push_str("</tbody></table></div>");
}

fn feature_cards(html: &mut String, report: &DriftReport) {
    html.push_str("<h2>Reference vs current</h2>");
    let _ = write!(
        html,
        "<div class=\"legend\" style=\"margin-bottom:10px\"><span><span class=\"swatch\" style=\"background:{REFERENCE_COLOUR}\"></span>\
         Reference ({})</span><span><span class=\"swatch\" style=\"background:{CURRENT_COLOUR}\"></span>Current</span>\
         <span>Bars are shares of rows.</span></div><div class=\"grid\">",
        report.reference.window.label()
    );
    // Drifted features first, so the page opens on what needs attention.
    let mut ordered: Vec<&FeatureDrift> =
        report.prediction.iter().chain(&report.features).collect();
    ordered.sort_by_key(|f| match f.status {
        DriftStatus::Drifted => 0,
        DriftStatus::Stable => 1,
        DriftStatus::NotTested => 2,
    });
    for (index, feature) in ordered.into_iter().enumerate() {
        let _ = write!(
            html,
            "<article class=\"feature{}\"><header><h3>{}<span class=\"kind\">{}</span></h3>{}</header>\
             <div class=\"why\">{}</div>",
            if feature.is_drifted() { " drifted" } else { "" },
            escape(&feature.name),
            feature.kind.label(),
            badge(feature.status),
            escape(&feature.reason)
        );
        match &feature.chart {
            Some(chart) => {
                html.push_str(&chart_svg(chart, &format!("chart{index}"), &feature.name))
            }
            None => html.push_str("<div class=\"facts\">No chart: one side has no values.</div>"),
        }
        let mut facts = vec![format!(
            "reference n = {}, current n = {}",
            thousands(feature.reference_count),
            thousands(feature.current_count)
        )];
        if feature.current_missing > 0 {
            facts.push(format!(
                "{} current missing",
                thousands(feature.current_missing)
            ));
        }
        if let (Some(r), Some(c)) = (feature.reference_mean, feature.current_mean) {
            facts.push(format!("mean {} → {}", fmt_value(r), fmt_value(c)));
        }
        if let (Some(r), Some(c)) = (feature.reference_median, feature.current_median) {
            facts.push(format!("median {} → {}", fmt_value(r), fmt_value(c)));
        }
        let _ = write!(
            html,
            "<div class=\"facts\">{}</div></article>",
            facts.join(" · ")
        );
    }
    html.push_str("</div>");
}

fn footer(html: &mut String, report: &DriftReport) {
    let c = &report.config;
    let _ = write!(
        html,
        "<footer>Generated {} UTC by modelops. Thresholds: p &lt; {}, TVD &gt; {}, PSI &gt; {}, dataset drift when the \
         drifted share &gt; {}. Rules: numeric <code>{:?}</code>, categorical/binary <code>{:?}</code>; features with \
         fewer than {} values on a side are not tested. TVD is ½·Σ|p−q|. The prediction is reported separately and \
         does not count toward the drift share.</footer>",
        report.generated_at.format("%Y-%m-%d %H:%M:%S"),
        c.p_value_threshold,
        c.tvd_threshold,
        c.psi_threshold,
        c.drift_share_threshold,
        c.numeric_rule,
        c.categorical_rule,
        c.min_rows
    );
}

fn percent(share: f64) -> String {
    let p = (share * 1000.0).round() / 10.0;
    if p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A readable step (1, 2, 2.5 or 5 × 10^k) at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 0.25;
    }
    let magnitude = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= raw * 0.999_999)
        .unwrap_or(raw)
}

/// Y-axis ticks for shares up to `max`: about four readable steps, the last at or above `max`.
fn axis_ticks(max: f64) -> Vec<f64> {
    let step = nice_step(max / 4.0);
    let steps = ((max / step) - 1e-9).ceil().max(1.0) as usize;
    (0..=steps).map(|i| step * i as f64).collect()
}

/// A number for an axis: short (12k, 1.5M) so labels never collide.
fn axis_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", fmt_value((v / 1e5).round() / 10.0))
    } else if a >= 1e4 {
        format!("{}k", fmt_value((v / 1e2).round() / 10.0))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        fmt_value((v * 100.0).round() / 100.0)
    }
}

fn shorten(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// One feature's chart as inline SVG.
fn chart_svg(chart: &Chart, id: &str, feature: &str) -> String {
    let (reference, current) = match chart {
        Chart::Histogram {
            reference, current, ..
        }
        | Chart::Bars {
            reference, current, ..
        } => (reference, current),
    };
    let ticks = axis_ticks(reference.iter().chain(current).copied().fold(0.0, f64::max));
    let top = ticks.last().copied().unwrap_or(1.0);
    let plot_w = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT;
    // Many bars get rotated labels, which need more room below the axis.
    let rotate = matches!(chart, Chart::Bars { categories, .. } if categories.len() > 8);
    let height = if rotate {
        CHART_HEIGHT + 24.0
    } else {
        CHART_HEIGHT
    };
    let plot_h = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM;
    let y = |share: f64| PLOT_TOP + plot_h * (1.0 - (share / top).clamp(0.0, 1.0));
    let mut svg = String::with_capacity(8 * 1024);
    let _ = write!(
        svg,
        "<svg id=\"{id}\" viewBox=\"0 0 {CHART_WIDTH} {height}\" width=\"100%\" role=\"img\" \
         aria-label=\"Distribution of {} in the reference and current data\">",
        escape(feature)
    );
    for &share in &ticks {
        let yy = y(share);
        let _ = write!(
            svg,
            "<line x1=\"{PLOT_LEFT}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            CHART_WIDTH - PLOT_RIGHT,
            PLOT_LEFT - 6.0,
            yy + 3.5,
            percent(share)
        );
    }
    let base = y(0.0);
    match chart {
        Chart::Histogram {
            edges,
            reference,
            current,
        } => {
            let bins = reference.len().max(1);
            let width = plot_w / bins as f64;
            for (i, (r, c)) in reference.iter().zip(current).enumerate() {
                let x = PLOT_LEFT + width * i as f64;
                let range = format!(
                    "{} to {}",
                    fmt_value(edges.get(i).copied().unwrap_or(0.0)),
                    fmt_value(edges.get(i + 1).copied().unwrap_or(0.0))
                );
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{REFERENCE_COLOUR}\" \
                     fill-opacity=\"0.55\"><title>reference {range}: {}</title></rect>",
                    y(*r),
                    (width - 1.0).max(0.5),
                    base - y(*r),
                    percent(*r)
                );
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{CURRENT_COLOUR}\" \
                     fill-opacity=\"0.35\" stroke=\"{CURRENT_COLOUR}\" stroke-width=\"1.2\">\
                     <title>current {range}: {}</title></rect>",
                    y(*c),
                    (width - 1.0).max(0.5),
                    base - y(*c),
                    percent(*c)
                );
            }
            // Five x labels along the edges.
            for k in 0..=4 {
                let i = k * bins / 4;
                let x = PLOT_LEFT + width * i as f64;
                let anchor = match k {
                    0 => "start",
                    4 => "end",
                    _ => "middle",
                };
                let _ = write!(
                    svg,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                    base + 16.0,
                    escape(&axis_value(edges.get(i).copied().unwrap_or(0.0)))
                );
            }
        }
        Chart::Bars {
            categories,
            reference,
            current,
        } => {
            let groups = categories.len().max(1);
            let group_w = plot_w / groups as f64;
            let bar_w = (group_w * 0.38).min(36.0);
            for (i, ((label, r), c)) in categories.iter().zip(reference).zip(current).enumerate() {
                let centre = PLOT_LEFT + group_w * (i as f64 + 0.5);
                let safe = escape(label);
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" rx=\"2\" \
                     fill=\"{REFERENCE_COLOUR}\"><title>{safe}, reference: {}</title></rect>\
                     <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" rx=\"2\" \
                     fill=\"{CURRENT_COLOUR}\"><title>{safe}, current: {}</title></rect>",
                    centre - bar_w - 1.0,
                    y(*r),
                    base - y(*r),
                    percent(*r),
                    centre + 1.0,
                    y(*c),
                    base - y(*c),
                    percent(*c)
                );
                let short = escape(&shorten(label, if rotate { 14 } else { 12 }));
                if rotate {
                    let _ = write!(
                        svg,
                        "<text transform=\"translate({centre:.1},{:.1}) rotate(-35)\" text-anchor=\"end\">{short}</text>",
                        base + 12.0
                    );
                } else {
                    let _ = write!(
                        svg,
                        "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{short}</text>",
                        base + 16.0
                    );
                }
            }
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"{PLOT_LEFT}\" x2=\"{:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#9aa5b1\"/></svg>",
        CHART_WIDTH - PLOT_RIGHT
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn thousands_and_percent_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(0.123), "12.3%");
    }

    #[test]
    fn axis_ticks_are_readable_steps_covering_the_maximum() {
        assert_eq!(
            axis_ticks(0.2),
            vec![0.0, 0.05, 0.1, 0.15000000000000002, 0.2]
        );
        assert_eq!(axis_ticks(0.37).last(), Some(&0.4));
        assert_eq!(axis_ticks(1.0).last(), Some(&1.0));
        assert_eq!(axis_value(23_356.3), "23.4k");
        assert_eq!(axis_value(0.125), "0.13");
    }
}

//! A hand-written SVG line chart: log₂ x axis, log₁₀ y axis, labelled lines and a legend.

use std::fmt::Write as _;

use crate::report::fmt_num;

/// One line of the chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its colour (any SVG colour).
    pub color: &'static str,
    /// Its points, `(x, y)`, x ascending, both positive.
    pub points: Vec<(f64, f64)>,
}

/// Escapes text for SVG.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The 1-2-5 ticks of a log axis covering `lo..=hi`.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi * 1.000_001 {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo * 0.999_999 && t <= hi * 1.000_001 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// The text of the chart: its title, a subtitle, and the axis names.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// The title, on top.
    pub title: &'a str,
    /// A smaller line under the title (method, machine).
    pub subtitle: &'a str,
    /// The x axis' name.
    pub x: &'a str,
    /// The y axis' name.
    pub y: &'a str,
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// Top left inside the plot.
    Inside,
    /// To the right of the plot (the chart is wider), for lines that fill the top left.
    Right,
}

/// Renders the chart, its legend top left inside the plot.
pub fn line_chart(labels: Labels<'_>, series: &[Series]) -> String {
    line_chart_with(labels, series, Legend::Inside)
}

/// Renders the chart, its legend where `legend` says.
pub fn line_chart_with(labels: Labels<'_>, series: &[Series], legend: Legend) -> String {
    let (plot_width, height) = (760.0, 470.0);
    let legend_w = 250.0;
    let width = match legend {
        Legend::Inside => plot_width,
        Legend::Right => plot_width + legend_w + 12.0,
    };
    let (left, right, top, bottom) = (92.0, 30.0, 56.0, 70.0);
    let (plot_w, plot_h) = (plot_width - left - right, height - top - bottom);
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let xs: Vec<f64> = {
        let mut xs: Vec<f64> = points().map(|(x, _)| x).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    };
    let (x_min, x_max) = (
        xs.first().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE),
        xs.last().copied().unwrap_or(2.0),
    );
    let (y_min, y_max) = points().fold((f64::MAX, f64::MIN), |(lo, hi), (_, y)| {
        (lo.min(y), hi.max(y))
    });
    // Round the y range out to 1-2-5 steps so the lines never touch the frame.
    let y_lo = log_ticks(y_min / 10.0, y_min)
        .into_iter()
        .rfind(|t| *t <= y_min * 0.8)
        .unwrap_or(y_min / 2.0);
    let y_hi = log_ticks(y_max, y_max * 10.0)
        .into_iter()
        .find(|t| *t >= y_max * 1.25)
        .unwrap_or(y_max * 2.0);
    // 5% of the width free on each side, so the end points and their labels stay clear of
    // the axes.
    let x_span = (x_max.log2() - x_min.log2()).max(1.0);
    let px = |x: f64| left + (0.05 + 0.9 * (x.log2() - x_min.log2()) / x_span) * plot_w;
    let py =
        |y: f64| top + (1.0 - (y.log10() - y_lo.log10()) / (y_hi.log10() - y_lo.log10())) * plot_h;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        plot_width / 2.0,
        escape(labels.title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="42" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
        plot_width / 2.0,
        escape(labels.subtitle)
    );
    // Grid and y ticks.
    for t in log_ticks(y_lo, y_hi) {
        let y = py(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + plot_w,
            left - 8.0,
            y + 4.0,
            fmt_num(t)
        );
    }
    // x ticks at the measured x values.
    for &x in &xs {
        let sx = px(x);
        let _ = writeln!(
            svg,
            r##"<line x1="{sx:.1}" y1="{top}" x2="{sx:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{sx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + plot_h,
            top + plot_h + 18.0,
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                fmt_num(x)
            }
        );
    }
    // Axes.
    let _ = writeln!(
        svg,
        r##"<path d="M{left},{top} V{:.1} H{:.1}" fill="none" stroke="#333" stroke-width="1.2"/>"##,
        top + plot_h,
        left + plot_w
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        height - 22.0,
        escape(labels.x)
    );
    let _ = writeln!(
        svg,
        r#"<text x="20" y="{:.1}" text-anchor="middle" transform="rotate(-90 20 {:.1})">{}</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(labels.y)
    );
    // Lines, points and value labels.
    for s in series {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="2.5" points="{}"/>"#,
            s.color,
            path.join(" ")
        );
        for &(x, y) in &s.points {
            // The label goes above the point if no other line is higher at this x.
            let above = series
                .iter()
                .all(|other| other.points.iter().all(|&(ox, oy)| ox != x || oy <= y));
            let (sx, sy) = (px(x), py(y));
            let _ = writeln!(
                svg,
                r#"<circle cx="{sx:.1}" cy="{sy:.1}" r="4" fill="{}"/><text x="{sx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="{}">{}</text>"#,
                s.color,
                if above { sy - 9.0 } else { sy + 18.0 },
                s.color,
                fmt_num(y)
            );
        }
    }
    // Legend, top left inside the plot or to its right.
    let legend_h = 14.0 + 20.0 * series.len() as f64;
    let legend_x = match legend {
        Legend::Inside => left + 12.0,
        Legend::Right => left + plot_w + 12.0,
    };
    let _ = writeln!(
        svg,
        r##"<rect x="{legend_x:.1}" y="{:.1}" width="{legend_w}" height="{legend_h:.1}" fill="white" fill-opacity="0.9" stroke="#bbb"/>"##,
        top + 10.0,
    );
    for (i, s) in series.iter().enumerate() {
        let y = top + 27.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 10.0,
            legend_x + 34.0,
            s.color,
            legend_x + 42.0,
            y + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::{Labels, Series, line_chart, log_ticks};

    #[test]
    fn ticks() {
        assert_eq!(
            log_ticks(1_000.0, 20_000.0),
            vec![1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0]
        );
    }

    #[test]
    fn renders() {
        let svg = line_chart(
            Labels {
                title: "t",
                subtitle: "s",
                x: "x",
                y: "y",
            },
            &[Series {
                name: "a & b".into(),
                color: "red",
                points: vec![(1.0, 10.0), (4.0, 1000.0)],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &amp; b"));
    }
}

//! Statistics, the printed table, JSON lines and the SVG chart.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

/// One line of the table: the framework's figure, a baseline's, and their ratio.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: &'static str,
    pub metric: String,
    pub unit: &'static str,
    pub framework: f64,
    pub baseline_name: String,
    /// `None` where the scenario has no baseline.
    pub baseline: Option<f64>,
    pub target: &'static str,
}

impl Row {
    /// framework / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| *b > 0.0)
            .map(|b| self.framework / b)
    }
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    percentile(values, 50.0)
}

/// The `p`-th percentile of `values` (sorted in place), nearest rank.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * (values.len() as f64)).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Microseconds in a duration, as a float.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Prints the table.
pub fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<20} {:<34} {:>10} {:>10}  {:<30} {:>8}  target",
        "scenario", "metric", "framework", "baseline", "baseline is", "ratio"
    );
    println!("{}", "-".repeat(140));
    for r in rows {
        println!(
            "{:<20} {:<34} {:>10} {:>10}  {:<30} {:>8}  {}",
            r.scenario,
            format!("{} ({})", r.metric, r.unit),
            fmt_num(r.framework),
            r.baseline.map_or_else(|| "-".into(), fmt_num),
            r.baseline_name,
            r.ratio().map_or_else(|| "-".into(), |x| format!("{x:.2}x")),
            r.target
        );
    }
}

/// Appends one JSON object per row to `path`.
pub fn append_json(path: &std::path::Path, rows: &[Row], quick: bool) -> std::io::Result<()> {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for r in rows {
        let line = serde_json::json!({
            "timestamp": timestamp,
            "commit": commit,
            "scenario": r.scenario,
            "metric": r.metric,
            "unit": r.unit,
            "framework": r.framework,
            "baseline_name": r.baseline_name,
            "baseline": r.baseline,
            "ratio": r.ratio(),
            "target": r.target,
            "quick": quick,
        });
        writeln!(file, "{line}")?;
    }
    Ok(())
}

/// One line of a chart: its name, its colour, its (x, y) points.
pub type Series<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A log-log line chart of throughput against callers.
pub fn chart_svg(title: &str, series: &[Series<'_>]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 440.0, 80.0, 170.0, 50.0, 60.0);
    let points = series.iter().flat_map(|(_, _, p)| p.iter().copied());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::MAX, 1.0f64);
    for (x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let y_lo = 10f64.powf(y_min.max(1.0).log10().floor());
    let y_hi = 10f64.powf(y_max.log10().ceil());
    let px = |x: f64| left + (x.log2() / x_max.log2().max(1.0)) * (w - left - right);
    let py = |y: f64| {
        top + (1.0 - (y.log10() - y_lo.log10()) / (y_hi.log10() - y_lo.log10()))
            * (h - top - bottom)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="28" text-anchor="middle" font-size="15">{title}</text>
"#,
        w / 2.0
    );
    // Axes, grid and labels.
    let mut decade = y_lo;
    while decade <= y_hi * 1.0001 {
        let y = py(decade);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            w - right,
            left - 6.0,
            y + 4.0,
            fmt_num(decade)
        );
        decade *= 10.0;
    }
    let mut callers = 1.0;
    while callers <= x_max * 1.0001 {
        let x = px(callers);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{callers}</text>"##,
            h - bottom,
            h - bottom + 18.0
        );
        callers *= 2.0;
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">concurrent callers (log scale)</text><text x="18" y="{:.1}" transform="rotate(-90 18 {:.1})" text-anchor="middle">durable actions or upserts per second (log scale)</text>"##,
        left + (w - left - right) / 2.0,
        h - 16.0,
        h / 2.0,
        h / 2.0
    );
    for (i, (name, color, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2.5" points="{}"/>"#,
            path.join(" ")
        );
        for &(x, y) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"/>"#,
                px(x),
                py(y)
            );
        }
        #[allow(clippy::cast_precision_loss)]
        let ly = top + 20.0 + 22.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

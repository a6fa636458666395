//! Table rows, targets, the printed table and the JSON lines.

use std::io::Write as _;
use std::path::Path;

/// A performance target for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// No target: the row is informative.
    None,
    /// The framework figure must be at least `value` (if set) and at least `ratio` times the
    /// baseline (if set). For throughputs.
    AtLeast {
        /// The lowest acceptable framework figure.
        value: Option<f64>,
        /// The lowest acceptable framework / baseline ratio.
        ratio: Option<f64>,
    },
    /// The framework figure must be at most `value` (if set) and at most `ratio` times the
    /// baseline (if set). For latencies, times and sizes.
    AtMost {
        /// The highest acceptable framework figure.
        value: Option<f64>,
        /// The highest acceptable framework / baseline ratio.
        ratio: Option<f64>,
    },
    /// The framework figure must be below the baseline's (ratio < 1).
    Below,
}

impl Target {
    /// The target as printed, e.g. `>= 100,000, >= 20x`.
    pub fn describe(&self) -> String {
        let both = |op: &str, value: Option<f64>, ratio: Option<f64>| {
            let mut parts = Vec::new();
            if let Some(v) = value {
                parts.push(format!("{op} {}", fmt_num(v)));
            }
            if let Some(r) = ratio {
                parts.push(format!("{op} {r}x"));
            }
            parts.join(", ")
        };
        match *self {
            Self::None => String::new(),
            Self::AtLeast { value, ratio } => both(">=", value, ratio),
            Self::AtMost { value, ratio } => both("<=", value, ratio),
            Self::Below => "< 1x".into(),
        }
    }

    /// Whether `framework` (with `ratio` = framework / baseline) meets the target; `None` if
    /// there is no target or it cannot be judged.
    pub fn met(&self, framework: f64, ratio: Option<f64>) -> Option<bool> {
        let ratio_ok = |want: Option<f64>, cmp: fn(f64, f64) -> bool| match want {
            None => Some(true),
            Some(w) => ratio.map(|r| cmp(r, w)),
        };
        match *self {
            Self::None => None,
            Self::AtLeast { value, ratio: want } => {
                let value_ok = value.is_none_or(|v| framework >= v);
                ratio_ok(want, |r, w| r >= w).map(|ok| ok && value_ok)
            }
            Self::AtMost { value, ratio: want } => {
                let value_ok = value.is_none_or(|v| framework <= v);
                ratio_ok(want, |r, w| r <= w).map(|ok| ok && value_ok)
            }
            Self::Below => ratio.map(|r| r < 1.0),
        }
    }
}

/// One line of the table: the framework's figure, a baseline's, and their ratio.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's name (what `--only` takes).
    pub scenario: &'static str,
    /// What is measured, including the framework's settings.
    pub metric: String,
    /// The unit of both figures.
    pub unit: &'static str,
    /// The framework's figure.
    pub framework: f64,
    /// What the baseline is; `-` if none.
    pub baseline_name: String,
    /// The baseline's figure, where there is one.
    pub baseline: Option<f64>,
    /// The target, if any.
    pub target: Target,
    /// Figures shown for reference only (not a baseline), as text.
    pub reference: Option<String>,
    /// The per-round framework figures behind a median (empty for percentiles).
    pub rounds: Vec<f64>,
    /// The per-round baseline figures behind a median.
    pub baseline_rounds: Vec<f64>,
}

impl Row {
    /// A row with no target, no reference and no per-round figures.
    pub fn new(
        scenario: &'static str,
        metric: impl Into<String>,
        unit: &'static str,
        framework: f64,
        baseline_name: impl Into<String>,
        baseline: Option<f64>,
    ) -> Self {
        Self {
            scenario,
            metric: metric.into(),
            unit,
            framework,
            baseline_name: baseline_name.into(),
            baseline,
            target: Target::None,
            reference: None,
            rounds: Vec::new(),
            baseline_rounds: Vec::new(),
        }
    }

    /// Sets the target.
    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Sets the reference text.
    #[must_use]
    pub fn reference(mut self, text: impl Into<String>) -> Self {
        self.reference = Some(text.into());
        self
    }

    /// Records the per-round figures behind the medians.
    #[must_use]
    pub fn rounds(mut self, framework: &[f64], baseline: &[f64]) -> Self {
        self.rounds = framework.to_vec();
        self.baseline_rounds = baseline.to_vec();
        self
    }

    /// framework / baseline.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| *b > 0.0)
            .map(|b| self.framework / b)
    }

    /// Whether the row meets its target (`None`: no target).
    pub fn met(&self) -> Option<bool> {
        self.target.met(self.framework, self.ratio())
    }
}

/// A figure for the table: thousands separated above 10,000, fewer decimals as it grows.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v.abs() >= 10_000.0 {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 {
            out.insert(0, '-');
        }
        out
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Prints `rows` as a fixed-width table.
pub fn print_table(rows: &[Row]) {
    let header = format!(
        "{:<19} {:<40} {:<9} {:>10}  {:<38} {:>10} {:>8}  {:<20} {:<4}  reference",
        "scenario", "metric", "unit", "framework", "baseline", "value", "ratio", "target", "met"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len() + 12));
    for r in rows {
        let reference = r.reference.as_deref().unwrap_or_default();
        println!(
            "{:<19} {:<40} {:<9} {:>10}  {:<38} {:>10} {:>8}  {:<20} {:<4}  {}",
            r.scenario,
            r.metric,
            r.unit,
            fmt_num(r.framework),
            r.baseline_name,
            r.baseline.map_or_else(|| "-".into(), fmt_num),
            r.ratio().map_or_else(|| "-".into(), |x| format!("{x:.2}x")),
            r.target.describe(),
            match r.met() {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            },
            reference
        );
    }
}

/// The current commit (`git rev-parse --short HEAD` in the repository), if git can tell.
fn git_commit() -> Option<String> {
    std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp (no date crate needed).
fn rfc3339(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Appends one JSON object per row to `path`.
pub fn append_json(path: &Path, rows: &[Row], quick: bool) -> std::io::Result<()> {
    let commit = git_commit();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let timestamp = rfc3339(secs);
    let mut out = String::new();
    for r in rows {
        let line = serde_json::json!({
            "timestamp": timestamp,
            "commit": commit,
            "scenario": r.scenario,
            "metric": r.metric,
            "unit": r.unit,
            "framework": finite(r.framework),
            "baseline_name": r.baseline_name,
            "baseline": r.baseline.and_then(finite),
            "ratio": r.ratio().and_then(finite),
            "target": r.target.describe(),
            "met": r.met(),
            "reference": r.reference,
            "framework_rounds": r.rounds,
            "baseline_rounds": r.baseline_rounds,
            "quick": quick,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(out.as_bytes())
}

/// `Some(v)` if `v` is finite (JSON has no NaN).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::{Target, fmt_num, rfc3339};

    #[test]
    fn formats() {
        assert_eq!(fmt_num(1_234_567.0), "1,234,567");
        assert_eq!(fmt_num(12_345.4), "12,345");
        assert_eq!(fmt_num(212.34), "212");
        assert_eq!(fmt_num(21.234), "21.2");
        assert_eq!(fmt_num(2.1234), "2.12");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_415_280), "2026-11-23T06:28:00Z");
    }

    #[test]
    fn targets() {
        let t = Target::AtLeast {
            value: Some(100_000.0),
            ratio: Some(20.0),
        };
        assert_eq!(t.met(120_000.0, Some(25.0)), Some(true));
        assert_eq!(t.met(90_000.0, Some(25.0)), Some(false));
        assert_eq!(t.met(120_000.0, Some(10.0)), Some(false));
        assert_eq!(Target::Below.met(1.0, Some(0.9)), Some(true));
        assert_eq!(Target::None.met(1.0, None), None);
    }
}

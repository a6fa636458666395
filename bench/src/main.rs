//! `actor-bench`: actor-core measured side by side with its baselines, in the same run.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--quick] [--only NAME] [--json FILE]
//! cargo run --release --manifest-path bench/Cargo.toml -- http [--quick] [--json FILE]
//! ```
//!
//! Prints a table (framework figure, baseline figure, ratio, target), appends one JSON line
//! per row to `FILE` (default `bench/results.jsonl`), and writes the callers chart to
//! `docs/benchmarks-callers.svg` (a `--quick` run writes it under `bench/target/` instead).
//! Database files live in a temporary directory, deleted at the end.
//!
//! Scenarios, in order: `hot_actor`, `many_actors`, `one_caller_latency`,
//! `read_round_trip`, `idle_actor_memory`, `cold_wake`, `open_1m`, `durable_vs_callers`,
//! `kv_set`, `kv_get` (the key-value stores against SQLite), `schedules`, `pending_schedules`
//! (durable timers), `outbox_bank` (the outbox bank against the saga it replaced),
//! `restore_points` (what restore points cost), `shared_reads` (what the single-writer mode
//! costs a commit), `metrics_overhead` (the hot actor with a
//! Prometheus recorder against none), `http`
//! (durable actions over HTTP against axum + SQLite, WebSocket round trips against an axum
//! echo; `actor-bench http` runs it alone and writes `docs/benchmarks-http.svg`).
//! `docs/benchmarks.md` describes each and reports a full run.

mod bank;
mod chart;
mod counter;
mod diag;
mod kv;
mod latency;
mod memory;
mod open;
mod peers;
mod raw;
mod recording;
mod report;
mod restore;
mod schedules;
mod serve;
mod stats;
mod throughput;
mod timers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::report::Row;

/// Any error, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A scenario: runs on the shared runtime and returns its table rows.
type Scenario = fn(&Runtime, &Settings) -> Result<Vec<Row>>;

/// Every scenario, in the order they run.
const SCENARIOS: [(&str, Scenario); 17] = [
    ("hot_actor", throughput::hot_actor),
    ("many_actors", throughput::many_actors),
    ("one_caller_latency", latency::one_caller_latency),
    ("read_round_trip", latency::read_round_trip),
    ("idle_actor_memory", memory::idle_actor_memory),
    ("cold_wake", latency::cold_wake),
    ("open_1m", open::open_1m),
    ("durable_vs_callers", throughput::durable_vs_callers),
    ("kv_set", kv::kv_set),
    ("kv_get", kv::kv_get),
    ("schedules", schedules::schedules),
    ("pending_schedules", schedules::pending_schedules),
    ("outbox_bank", bank::outbox_bank),
    ("restore_points", restore::restore_points),
    ("shared_reads", restore::shared_reads),
    ("http", serve::http),
    // Last: it installs the process's metrics recorder (switched off when it ends).
    ("metrics_overhead", recording::metrics_overhead),
];

/// A directory deleted (with its contents) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system's temp directory.
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("actor-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long and how often to measure, and where files go.
#[derive(Debug)]
pub struct Settings {
    /// A `--quick` run.
    pub quick: bool,
    /// Rounds per throughput figure (its median is reported).
    pub rounds: usize,
    /// Duration of one `hot_actor` round.
    pub hot: Duration,
    /// Duration of one `many_actors` round.
    pub many: Duration,
    /// Duration of one `durable_vs_callers` round, per caller count.
    pub callers: Duration,
    /// Duration of one round of a secondary row (the framework with quick repair off).
    pub secondary: Duration,
    /// Duration of the diagnostic round after a throughput scenario (see `diag`).
    pub diag: Duration,
    /// Duration of one `http` measurement (one kind of client at one client count).
    pub http: Duration,
    /// Where the callers chart goes.
    pub chart: PathBuf,
    /// Where the `http` chart goes.
    pub http_chart: PathBuf,
    /// The temporary directory for database files.
    pub dir: TempDir,
}

impl Settings {
    /// A path for the database file `name` in the temporary directory (removed first if a
    /// scenario left one).
    pub fn file(&self, name: &str) -> PathBuf {
        let path = self.dir.0.join(format!("{name}.redb"));
        let _ = std::fs::remove_file(&path);
        path
    }
}

/// The command line of a benchmark run.
#[derive(Debug)]
struct Args {
    quick: bool,
    only: Option<String>,
    json: PathBuf,
}

/// The command line, for `--help` and errors.
const USAGE: &str = "usage: actor-bench [http] [--quick] [--only NAME] [--json FILE]";

/// Parses the benchmark options (everything after the program name).
fn parse_args(args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        quick: false,
        only: None,
        json: Path::new(env!("CARGO_MANIFEST_DIR")).join("results.jsonl"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            "--only" => {
                let name = it.next().ok_or("--only needs a scenario name")?;
                if !SCENARIOS.iter().any(|(n, _)| n == name) {
                    let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
                    return Err(
                        format!("unknown scenario {name}; one of {}", names.join(", ")).into(),
                    );
                }
                parsed.only = Some(name.clone());
            }
            "--json" => parsed.json = it.next().ok_or("--json needs a file")?.into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    Ok(parsed)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden subcommands: the processes some scenarios start.
    match args.first().map(String::as_str) {
        Some("memory-child") => {
            let [_, kind, n, path] = args.as_slice() else {
                return Err("memory-child KIND N PATH".into());
            };
            return memory::child(kind, n.parse()?, Path::new(path));
        }
        Some("crash-child") => {
            let [_, path, key] = args.as_slice() else {
                return Err("crash-child PATH KEY".into());
            };
            return open::crash_child(Path::new(path), key);
        }
        Some("pending-child") => {
            let [_, path, key] = args.as_slice() else {
                return Err("pending-child PATH KEY".into());
            };
            return schedules::pending_child(Path::new(path), key);
        }
        _ => {}
    }
    // `actor-bench http [OPTIONS]` is `actor-bench --only http [OPTIONS]`.
    let args = if args.first().map(String::as_str) == Some("http") {
        let mut only = vec!["--only".to_owned(), "http".to_owned()];
        only.extend(args.into_iter().skip(1));
        only
    } else {
        args
    };
    let args = parse_args(&args)?;
    let quick = args.quick;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = Settings {
        quick,
        rounds: if quick { 3 } else { 5 },
        hot: Duration::from_secs(if quick { 2 } else { 5 }),
        many: Duration::from_millis(if quick { 800 } else { 3000 }),
        callers: Duration::from_millis(if quick { 400 } else { 2000 }),
        secondary: Duration::from_millis(if quick { 500 } else { 3000 }),
        diag: Duration::from_millis(if quick { 400 } else { 2000 }),
        http: Duration::from_millis(if quick { 500 } else { 3000 }),
        chart: if quick {
            manifest.join("target/benchmarks-callers-quick.svg")
        } else {
            manifest.join("../docs/benchmarks-callers.svg")
        },
        http_chart: if quick {
            manifest.join("target/benchmarks-http-quick.svg")
        } else {
            manifest.join("../docs/benchmarks-http.svg")
        },
        dir: TempDir::new()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!(
        "actor-bench: {} run, {} rounds per throughput figure, {cores} cores, tokio multi-thread runtime",
        if quick { "quick" } else { "full" },
        settings.rounds
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (name, scenario) in SCENARIOS {
        if args.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        eprintln!("running {name} ...");
        let t = Instant::now();
        match scenario(&runtime, &settings) {
            Ok(new) => {
                eprintln!("  {name}: {:.1} s", t.elapsed().as_secs_f64());
                rows.extend(new);
            }
            Err(e) => {
                eprintln!("  {name} FAILED: {e}");
                failed.push(name);
            }
        }
    }
    println!(
        "\n{} run finished in {:.0} s\n",
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    report::print_table(&rows);
    println!(
        "\nratio = framework / baseline. qr = redb quick repair (actor-core's default: on). \
         Throughputs: median of {} rounds; latencies: percentiles of all samples.",
        settings.rounds
    );
    report::append_json(&args.json, &rows, quick)?;
    println!("\n{} rows appended to {}", rows.len(), args.json.display());
    drop(runtime);
    drop(settings);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")).into())
    }
}

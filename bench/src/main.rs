//! Benchmarks of actor-core, each side by side with its baseline in the same run.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--quick] [--only NAME] [--json FILE]
//! ```
//!
//! Prints a table (framework, baseline, ratio, target), appends the figures as JSON lines
//! (default `bench/results.jsonl`), and in a full run writes `docs/benchmarks-callers.svg`.
//! Scenarios: `hot_actor`, `many_actors`, `one_caller`, `read_round_trip`, `idle_memory`,
//! `cold_wake`, `open_large`, `callers` (the chart).

mod baseline;
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::{Actor, System, actions};
use report::{Row, median, micros, percentile};
use serde::{Deserialize, Serialize};

/// The framework's side: the same counter every baseline implements.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(never_sleep)]
struct Counter {
    count: u64,
}

#[actions]
impl Counter {
    pub async fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    pub async fn get(&self) -> u64 {
        self.count
    }
}

/// Run settings.
struct Settings {
    quick: bool,
    rounds: usize,
    duration: Duration,
    dir: PathBuf,
}

impl Settings {
    fn file(&self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.redb"));
        let _ = std::fs::remove_file(&path);
        path
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("memory-child") => return memory_child(&args[1], &args[2], args[3].parse()?),
        Some("crash-child") => return crash_child(&args[1]),
        _ => {}
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("results.jsonl"));
    let dir = std::env::temp_dir().join(format!("actor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let settings = Settings {
        quick,
        rounds: if quick { 1 } else { 3 },
        duration: Duration::from_secs(if quick { 1 } else { 3 }),
        dir,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut rows = Vec::new();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    type Scenario = fn(&tokio::runtime::Runtime, &Settings) -> Result<Vec<Row>>;
    let scenarios: [(&str, Scenario); 8] = [
        ("hot_actor", hot_actor),
        ("many_actors", many_actors),
        ("one_caller", one_caller),
        ("read_round_trip", read_round_trip),
        ("idle_memory", idle_memory),
        ("cold_wake", cold_wake),
        ("open_large", open_large),
        ("callers", callers),
    ];
    for (name, scenario) in scenarios {
        if wanted(name) {
            eprintln!("running {name} ...");
            let new = scenario(&runtime, &settings)?;
            report::print_table(&new);
            rows.extend(new);
        }
    }
    println!(
        "\n== all scenarios ({}; {:.0} s)",
        if quick { "quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    report::print_table(&rows);
    report::append_json(&json, &rows, quick)?;
    println!("\nfigures appended to {}", json.display());
    let _ = std::fs::remove_dir_all(&settings.dir);
    Ok(())
}

/// Opens a system on `path` with quick repair on (the default) or off.
async fn system(path: &Path, quick_repair: bool) -> Result<System> {
    Ok(System::builder()
        .path(path)
        .quick_repair(quick_repair)
        .open()
        .await?)
}

/// Durable actions per second: `callers` tasks asking `add(1)` of actors picked at random.
async fn drive(handles: &[actor_core::Handle<Counter>], callers: usize, duration: Duration) -> f64 {
    let handles: Arc<Vec<_>> = Arc::new(handles.to_vec());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..callers {
        let (handles, stop, done) = (Arc::clone(&handles), Arc::clone(&stop), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut x = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let h = &handles[usize::try_from(x % handles.len() as u64).unwrap_or(0)];
                if h.add(1).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = count as f64 / elapsed.as_secs_f64();
    rate
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

fn hot_actor(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let raw_path = s.file("hot-raw");
    let db = baseline::open(&raw_path);
    let one = keys(1);
    let mut raw_off: Vec<f64> = (0..s.rounds)
        .map(|_| baseline::commit_loop(&db, &one, 1, false, s.duration))
        .collect();
    let mut raw_on: Vec<f64> = (0..s.rounds)
        .map(|_| baseline::commit_loop(&db, &one, 1, true, s.duration))
        .collect();
    drop(db);
    let (raw_off, raw_on) = (median(&mut raw_off), median(&mut raw_on));
    for quick_repair in [true, false] {
        let path = s.file(&format!("hot-{quick_repair}"));
        let mut rates = rt.block_on(async {
            let system = system(&path, quick_repair).await?;
            let h = system.get_or_create::<Counter>("hot").await?;
            let mut rates = Vec::new();
            for _ in 0..s.rounds {
                rates.push(drive(std::slice::from_ref(&h), 64, s.duration).await);
            }
            system.shutdown().await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(rates)
        })?;
        let rate = median(&mut rates);
        rows.push(Row {
            scenario: "hot_actor",
            metric: format!(
                "1 actor, 64 callers, qr={}",
                if quick_repair { "on" } else { "off" }
            ),
            unit: "actions/s",
            framework: rate,
            baseline_name: format!(
                "redb 1 commit/update, qr={}",
                if quick_repair { "on" } else { "off" }
            ),
            baseline: Some(if quick_repair { raw_on } else { raw_off }),
            target: if quick_repair {
                ">= 100k/s and >= 20x"
            } else {
                ""
            },
        });
    }
    Ok(rows)
}

fn many_actors(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = 10_000;
    let raw_path = s.file("many-raw");
    let db = baseline::open(&raw_path);
    let ks = keys(n);
    baseline::fill(&db, &ks);
    let mut raw: Vec<f64> = (0..s.rounds)
        .map(|_| baseline::commit_loop(&db, &ks, 1000, true, s.duration))
        .collect();
    let mut raw_off: Vec<f64> = (0..s.rounds)
        .map(|_| baseline::commit_loop(&db, &ks, 1000, false, s.duration))
        .collect();
    drop(db);
    let path = s.file("many");
    let mut rates = rt.block_on(async {
        let system = system(&path, true).await?;
        let handles = create(&system, n).await?;
        let mut rates = Vec::new();
        for _ in 0..s.rounds {
            rates.push(drive(&handles, 256, s.duration).await);
        }
        system.shutdown().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(rates)
    })?;
    let rate = median(&mut rates);
    Ok(vec![
        Row {
            scenario: "many_actors",
            metric: "10k actors, 256 callers".into(),
            unit: "actions/s",
            framework: rate,
            baseline_name: "redb 1000 upserts/commit, qr=on".into(),
            baseline: Some(median(&mut raw)),
            target: ">= 1.0x",
        },
        Row {
            scenario: "many_actors",
            metric: "10k actors, 256 callers".into(),
            unit: "actions/s",
            framework: rate,
            baseline_name: "redb 1000 upserts/commit, qr=off".into(),
            baseline: Some(median(&mut raw_off)),
            target: "",
        },
    ])
}

/// Creates `n` counters with 256 concurrent creators (creation is durable).
async fn create(system: &System, n: usize) -> Result<Vec<actor_core::Handle<Counter>>> {
    let mut tasks = Vec::new();
    for c in 0..256usize.min(n) {
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut i = c;
            while i < n {
                out.push((i, system.get_or_create::<Counter>(format!("k{i}")).await?));
                i += 256;
            }
            Ok::<_, actor_core::StartError>(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, h)| h).collect())
}

fn one_caller(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let samples = if s.quick { 300 } else { 2000 };
    let raw_path = s.file("latency-raw");
    let db = baseline::open(&raw_path);
    let mut raw_off = baseline::commit_latencies(&db, samples, false);
    let mut raw_on = baseline::commit_latencies(&db, samples, true);
    drop(db);
    let mut rows = Vec::new();
    for quick_repair in [true, false] {
        let path = s.file(&format!("latency-{quick_repair}"));
        let mut lat = rt.block_on(async {
            let system = system(&path, quick_repair).await?;
            let h = system.get_or_create::<Counter>("one").await?;
            let mut lat = Vec::with_capacity(samples);
            for _ in 0..samples {
                let started = Instant::now();
                h.add(1).await?;
                lat.push(micros(started.elapsed()));
            }
            system.shutdown().await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lat)
        })?;
        let qr = if quick_repair { "on" } else { "off" };
        let base = if quick_repair {
            &mut raw_on
        } else {
            &mut raw_off
        };
        rows.push(Row {
            scenario: "one_caller",
            metric: format!("mutating action p50, qr={qr}"),
            unit: "us",
            framework: percentile(&mut lat, 50.0),
            baseline_name: format!("one redb commit p50, qr={qr}"),
            baseline: Some(percentile(base, 50.0)),
            target: "<= 1.15x",
        });
        rows.push(Row {
            scenario: "one_caller",
            metric: format!("mutating action p99, qr={qr}"),
            unit: "us",
            framework: percentile(&mut lat, 99.0),
            baseline_name: format!("one redb commit p99, qr={qr}"),
            baseline: Some(percentile(base, 99.0)),
            target: "",
        });
    }
    Ok(rows)
}

/// p50 of per-call time, measured over batches of `BATCH` sequential calls.
const BATCH: usize = 100;

async fn per_call_ns<F, Fut>(samples: usize, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..1000 {
        call().await;
    }
    let mut per_call = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        for _ in 0..BATCH {
            call().await;
        }
        #[allow(clippy::cast_precision_loss)]
        per_call.push(started.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    median(&mut per_call)
}

fn read_round_trip(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let samples = if s.quick { 200 } else { 2000 };
    let path = s.file("read");
    let (framework, floor, kameo, ractor) = rt.block_on(async {
        // Each measurement runs in its own spawned task, as a caller would.
        let system = system(&path, true).await?;
        let h = system.get_or_create::<Counter>("r").await?;
        let framework = tokio::spawn(async move {
            per_call_ns(samples, || {
                let h = h.clone();
                async move {
                    std::hint::black_box(h.get().await.ok());
                }
            })
            .await
        })
        .await?;
        let tx = baseline::spawn_tokio_counter();
        let floor = tokio::spawn(async move {
            per_call_ns(samples, || {
                let tx = tx.clone();
                async move {
                    let (reply, rx) = tokio::sync::oneshot::channel();
                    let _ = tx.send(reply).await;
                    std::hint::black_box(rx.await.ok());
                }
            })
            .await
        })
        .await?;
        let k =
            <baseline::kameo_counter::Counter as kameo::actor::Spawn>::spawn(Default::default());
        let kameo = tokio::spawn(async move {
            per_call_ns(samples, || {
                let k = k.clone();
                async move {
                    std::hint::black_box(k.ask(baseline::kameo_counter::Get).await.ok());
                }
            })
            .await
        })
        .await?;
        let (r, _join) = ractor::Actor::spawn(None, baseline::ractor_counter::Counter, ()).await?;
        let ractor = tokio::spawn(async move {
            per_call_ns(samples, || {
                let r = r.clone();
                async move {
                    std::hint::black_box(ractor::call!(r, baseline::ractor_counter::Msg::Get).ok());
                }
            })
            .await
        })
        .await?;
        system.shutdown().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((framework, floor, kameo, ractor))
    })?;
    let row = |name: &str, value: f64, target: &'static str| Row {
        scenario: "read_round_trip",
        metric: "read-only action p50 (batches of 100)".into(),
        unit: "ns",
        framework,
        baseline_name: name.into(),
        baseline: Some(value),
        target,
    };
    Ok(vec![
        row("tokio mpsc + oneshot (floor)", floor, "<= 1.3x"),
        row("kameo ask", kameo, "< 1.0x"),
        row("ractor call!", ractor, "< 1.0x"),
    ])
}

fn idle_memory(_rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n: usize = if s.quick { 20_000 } else { 100_000 };
    // The actors' records are written beforehand, by raw redb, so that the measuring
    // process only loads them.
    let path = s.file("memory");
    {
        let db = baseline::open(&path);
        baseline::fill(&db, &keys(n));
    }
    let exe = std::env::current_exe()?;
    let measure = |kind: &str| -> Result<f64> {
        let out = std::process::Command::new(&exe)
            .args([
                "memory-child",
                kind,
                path.to_str().unwrap_or_default(),
                &n.to_string(),
            ])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse::<f64>().map_err(|e| {
            format!(
                "{kind}: {e}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into()
        })
    };
    let ours = measure("actor-core")?;
    let tokio = measure("tokio")?;
    let kameo = measure("kameo")?;
    let row = |name: &str, value: f64, target: &'static str| Row {
        scenario: "idle_memory",
        metric: format!("RSS per awake idle actor ({n})"),
        unit: "bytes",
        framework: ours,
        baseline_name: name.into(),
        baseline: Some(value),
        target,
    };
    Ok(vec![
        row("tokio task + mpsc receiver", tokio, "<= 2560 bytes"),
        row("kameo actor", kameo, ""),
    ])
}

/// Resident memory in bytes (Linux).
fn rss_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        * 4096.0
}

/// In a fresh process: RSS per idle actor of `kind`, printed on stdout.
fn memory_child(kind: &str, path: &str, n: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let per_actor = rt.block_on(async move {
        #[allow(clippy::cast_precision_loss)]
        let per = |before: f64| (rss_bytes() - before) / n as f64;
        match kind {
            "actor-core" => {
                let system = System::builder()
                    .path(path)
                    .cache_size(1 << 20)
                    .open()
                    .await?;
                // Warm up the runtime and the system with one actor.
                let warm = system.get::<Counter>("k0").await?;
                warm.get().await?;
                let before = rss_bytes();
                let mut handles = Vec::with_capacity(n);
                for i in 1..n {
                    let h = system.get::<Counter>(format!("k{i}")).await?;
                    handles.push(h);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let per = per(before);
                std::hint::black_box(&handles);
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(per)
            }
            "tokio" => {
                let before = rss_bytes();
                let mut senders = Vec::with_capacity(n);
                for _ in 0..n {
                    senders.push(baseline::spawn_tokio_counter());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let per = per(before);
                std::hint::black_box(&senders);
                Ok(per)
            }
            _ => {
                let before = rss_bytes();
                let mut refs = Vec::with_capacity(n);
                for _ in 0..n {
                    refs.push(
                        <baseline::kameo_counter::Counter as kameo::actor::Spawn>::spawn(
                            Default::default(),
                        ),
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                let per = per(before);
                std::hint::black_box(&refs);
                Ok(per)
            }
        }
    })?;
    println!("{per_actor:.0}");
    Ok(())
}

fn cold_wake(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = if s.quick { 2_000 } else { 10_000 };
    let path = s.file("cold");
    let ks = keys(n);
    let mut raw = {
        let db = baseline::open(&path);
        baseline::fill(&db, &ks);
        baseline::read_latencies(&db, &ks, n)
    };
    let mut lat = rt.block_on(async {
        let system = system(&path, true).await?;
        let mut lat = Vec::with_capacity(n);
        for key in &ks {
            let started = Instant::now();
            let h = system.get::<Counter>(key.as_str()).await?;
            h.get().await?;
            lat.push(micros(started.elapsed()));
        }
        system.shutdown().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lat)
    })?;
    Ok(vec![
        Row {
            scenario: "cold_wake",
            metric: "first call, state on disk only, p50".into(),
            unit: "us",
            framework: percentile(&mut lat, 50.0),
            baseline_name: "redb point read p50 (reference)".into(),
            baseline: Some(percentile(&mut raw, 50.0)),
            target: "",
        },
        Row {
            scenario: "cold_wake",
            metric: "first call, state on disk only, p99".into(),
            unit: "us",
            framework: percentile(&mut lat, 99.0),
            baseline_name: "redb point read p99 (reference)".into(),
            baseline: Some(percentile(&mut raw, 99.0)),
            target: "",
        },
    ])
}

/// In a child process: open the system, make one durable change, say so, and wait to be killed.
fn crash_child(path: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let system = System::open(path).await?;
        system.get::<Counter>("k0").await?.add(1).await?;
        println!("ready");
        std::future::pending::<()>().await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })
}

fn open_large(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = if s.quick { 100_000 } else { 1_000_000 };
    let path = s.file("large");
    {
        let db = baseline::open(&path);
        baseline::fill(&db, &keys(n));
    }
    let first_call = |path: &Path| -> Result<f64> {
        rt.block_on(async {
            let started = Instant::now();
            let system = System::open(path).await?;
            system.get::<Counter>("k777").await?.get().await?;
            let ms = started.elapsed().as_secs_f64() * 1e3;
            system.shutdown().await;
            Ok(ms)
        })
    };
    let mut clean: Vec<f64> = (0..3).map(|_| first_call(&path)).collect::<Result<_>>()?;
    // After an unclean exit: a child opens the file, commits, and is killed.
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["crash-child", path.to_str().unwrap_or_default()])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.as_mut() {
        use std::io::BufRead as _;
        std::io::BufReader::new(out).read_line(&mut line)?;
    }
    child.kill()?;
    child.wait()?;
    let after_crash = first_call(&path)?;
    #[allow(clippy::cast_precision_loss)]
    let label = format!("{}k actors", n / 1000);
    Ok(vec![
        Row {
            scenario: "open_large",
            metric: format!("open + first call, {label}, clean"),
            unit: "ms",
            framework: median(&mut clean),
            baseline_name: "-".into(),
            baseline: None,
            target: "<= 50 ms",
        },
        Row {
            scenario: "open_large",
            metric: format!("open + first call, {label}, after SIGKILL"),
            unit: "ms",
            framework: after_crash,
            baseline_name: "-".into(),
            baseline: None,
            target: "<= 50 ms",
        },
    ])
}

fn callers(rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = 10_000;
    let counts: &[usize] = if s.quick {
        &[1, 16, 64]
    } else {
        &[1, 4, 16, 64, 256]
    };
    let raw_path = s.file("callers-raw");
    let db = baseline::open(&raw_path);
    let ks = keys(n);
    baseline::fill(&db, &ks);
    let path = s.file("callers");
    let handles_and_system = rt.block_on(async {
        let system = system(&path, true).await?;
        let handles = create(&system, n).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((system, handles))
    })?;
    let (system, handles) = handles_and_system;
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    let mut rows = Vec::new();
    for &c in counts {
        let mut f: Vec<f64> = (0..s.rounds)
            .map(|_| rt.block_on(drive(&handles, c, s.duration)))
            .collect();
        let mut b: Vec<f64> = (0..s.rounds)
            .map(|_| baseline::commit_loop(&db, &ks, c, true, s.duration))
            .collect();
        let (f, b) = (median(&mut f), median(&mut b));
        #[allow(clippy::cast_precision_loss)]
        {
            ours.push((c as f64, f));
            raw.push((c as f64, b));
        }
        rows.push(Row {
            scenario: "callers",
            metric: format!("{c} callers, 10k actors"),
            unit: "actions/s",
            framework: f,
            baseline_name: format!("redb {c} upserts/commit, qr=on"),
            baseline: Some(b),
            target: "",
        });
    }
    rt.block_on(system.shutdown());
    let svg = report::chart_svg(
        "Durable actions per second against concurrent callers (10,000 actors)",
        &[
            ("actor-core", "#1f77b4", ours),
            ("raw redb, batch = callers", "#d62728", raw),
        ],
    );
    let out = if s.quick {
        s.dir.join("benchmarks-callers.svg")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks-callers.svg")
    };
    std::fs::write(&out, svg)?;
    eprintln!("chart written to {}", out.display());
    Ok(rows)
}

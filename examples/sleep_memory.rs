//! Memory comes back when idle actors sleep: touches N distinct actors once each (creating
//! them), lets them fall asleep, and prints the process's resident memory (RSS) before,
//! at the peak, and after.
//!
//! ```text
//! cargo run --release --example sleep_memory -- [N] [--cache-mb MB] [--keep-memory]
//! ```
//! N defaults to 100,000 (`docs/lifecycle.md` reports 1,000,000). redb's page cache is part of
//! RSS and is kept by design; `--cache-mb` bounds it (default 16). `--keep-memory` turns off
//! the system's `trim_memory`, to see what the allocator alone gives back. The last line is
//! the RSS after the system is shut down and the file closed.

use std::time::{Duration, Instant};

use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(sleep_after_ms = 200)]
struct Visit {
    visits: u64,
}

#[actions]
impl Visit {
    pub async fn visit(&mut self) -> u64 {
        self.visits += 1;
        self.visits
    }
}

/// Resident set size in MiB, from `/proc/self/statm` (Linux).
fn rss_mib() -> f64 {
    let pages: f64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse().ok()))
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut n: usize = 100_000;
    let mut cache_mb: usize = 16;
    let mut trim = true;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--keep-memory" => trim = false,
            "--cache-mb" => cache_mb = args.next().and_then(|v| v.parse().ok()).unwrap_or(16),
            other => n = other.parse()?,
        }
    }
    let path = std::env::temp_dir().join(format!("sleep-memory-{}.redb", std::process::id()));
    let system = System::builder()
        .path(&path)
        .cache_size(cache_mb << 20)
        .trim_memory(trim)
        .open()
        .await?;
    let start = rss_mib();
    println!("actors: {n}, redb cache: {cache_mb} MiB, trim_memory: {trim}");
    println!("rss at start: {start:.1} MiB");

    let began = Instant::now();
    let callers = 256;
    let mut tasks = Vec::new();
    for c in 0..callers {
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while i < n {
                let actor = system.get_or_create::<Visit>(format!("v{i}")).await?;
                actor.visit().await?;
                i += callers;
            }
            Ok::<_, actor_core::Error>(())
        }));
    }
    let mut peak = 0.0f64;
    for t in tasks {
        t.await??;
        peak = peak.max(rss_mib());
    }
    let touched = began.elapsed();
    let stats = system.stats();
    peak = peak.max(rss_mib());
    println!(
        "touched {n} actors in {:.1} s; awake {}, registered {}; rss {peak:.1} MiB",
        touched.as_secs_f64(),
        stats.awake,
        stats.registered
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    while (system.stats().awake > 0 || system.stats().registered > 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The system gives freed memory back a second after the last burst of sleeps.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let end = rss_mib();
    let stats = system.stats();
    println!(
        "after sleep: awake {}, registered {}; rss {end:.1} MiB ({:+.1} MiB from start)",
        stats.awake,
        stats.registered,
        end - start
    );
    system.shutdown().await;
    drop(system);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("after shutdown (file closed): rss {:.1} MiB", rss_mib());
    std::fs::remove_file(&path)?;
    Ok(())
}

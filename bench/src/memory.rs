//! `idle_actor_memory`: resident memory per awake, idle actor, each kind measured in a fresh
//! process (this binary re-executed with the hidden `memory-child` subcommand).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use actor_core::System;
use tokio::runtime::Runtime;

use crate::counter::{Action, Counter};
use crate::peers::{kameo_counter, spawn_tokio_counter};
use crate::report::{Row, Target};
use crate::{Result, Settings, raw};

/// The kinds of actor a child can start.
const KINDS: [&str; 3] = ["actor-core", "tokio", "kameo"];

/// The key of the `i`-th idle actor.
fn key(i: usize) -> String {
    format!("idle-{i:06}")
}

/// This process's resident set size in bytes (`VmRSS` in `/proc/self/status`).
fn rss_bytes() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or("no VmRSS in /proc/self/status")?
        .parse::<f64>()?;
    Ok(kb * 1024.0)
}

/// What one child measured.
#[derive(Debug)]
struct Measured {
    per_actor: f64,
    awake: usize,
}

/// Runs one child and parses its report.
fn measure(kind: &str, n: usize, path: &Path) -> Result<Measured> {
    let out = Command::new(std::env::current_exe()?)
        .arg("memory-child")
        .arg(kind)
        .arg(n.to_string())
        .arg(path)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        [per, awake, ..] if out.status.success() => Some(Measured {
            per_actor: per.parse()?,
            awake: awake.parse()?,
        }),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "memory-child {kind} failed ({}): {text} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into()
    })
}

/// `idle_actor_memory`: bytes of RSS per awake idle actor, actor-core against a bare tokio
/// task with an mpsc receiver and against a kameo actor.
pub fn idle_actor_memory(_rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let n = if s.quick { 20_000 } else { 100_000 };
    let path = s.file("memory");
    {
        // The actors' records exist before the child starts, so the child only loads them
        // (writing them from the child would put redb's write buffers into the figure).
        let db = raw::open(&path)?;
        let keys: Vec<String> = (0..=n).map(key).collect();
        raw::fill(&db, &keys)?;
    }
    let mut per = Vec::new();
    for kind in KINDS {
        let m = measure(kind, n, &path)?;
        eprintln!(
            "  {kind}: {:.0} bytes per actor ({} awake)",
            m.per_actor, m.awake
        );
        if m.awake < n {
            return Err(format!("{kind}: only {} of {n} actors awake", m.awake).into());
        }
        per.push(m.per_actor);
    }
    let metric = format!("RSS per awake idle actor, {}k", n / 1000);
    Ok(vec![
        Row::new(
            "idle_actor_memory",
            metric.clone(),
            "bytes",
            per[0],
            "tokio task + mpsc(64) receiver",
            Some(per[1]),
        )
        .target(Target::AtMost {
            value: Some(2560.0),
            ratio: None,
        }),
        Row::new(
            "idle_actor_memory",
            metric,
            "bytes",
            per[0],
            "kameo 0.22 actor",
            Some(per[2]),
        ),
    ])
}

/// The child: starts `n` idle actors of `kind` and prints the RSS growth per actor and how
/// many are awake. For actor-core, `path` holds their records; redb's page cache is set to
/// 1 MiB so that the file's pages do not count as per-actor memory.
pub fn child(kind: &str, n: usize, path: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (per_actor, awake) = rt.block_on(async move {
        let settle = Duration::from_millis(500);
        match kind {
            "actor-core" => {
                let system = System::builder()
                    .path(path)
                    .cache_size(1 << 20)
                    .open()
                    .await?;
                // Warm up the runtime, the registry and the writer with one actor.
                let warm = system.get_or_create::<Counter>(key(n)).await?;
                warm.ask(Action::Get).await?;
                tokio::time::sleep(settle).await;
                let before = rss_bytes()?;
                let mut handles = Vec::with_capacity(n);
                for i in 0..n {
                    handles.push(system.get_or_create::<Counter>(key(i)).await?);
                }
                tokio::time::sleep(settle).await;
                let after = rss_bytes()?;
                let awake = system.stats().awake - 1;
                std::hint::black_box(&handles);
                Ok::<_, crate::Error>(((after - before) / n as f64, awake))
            }
            "tokio" => {
                drop(spawn_tokio_counter());
                tokio::time::sleep(settle).await;
                let before = rss_bytes()?;
                let senders: Vec<_> = (0..n).map(|_| spawn_tokio_counter()).collect();
                tokio::time::sleep(settle).await;
                let after = rss_bytes()?;
                let awake = senders.iter().filter(|s| !s.is_closed()).count();
                Ok(((after - before) / n as f64, awake))
            }
            "kameo" => {
                drop(kameo_counter::spawn());
                tokio::time::sleep(settle).await;
                let before = rss_bytes()?;
                let refs: Vec<_> = (0..n).map(|_| kameo_counter::spawn()).collect();
                tokio::time::sleep(settle).await;
                let after = rss_bytes()?;
                let awake = refs.iter().filter(|r| r.is_alive()).count();
                Ok(((after - before) / n as f64, awake))
            }
            other => Err(format!("unknown kind {other}").into()),
        }
    })?;
    println!("{per_actor:.1} {awake}");
    Ok(())
}

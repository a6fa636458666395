//! The key-value stores against SQLite (WAL, `synchronous=FULL`), driven the same way:
//! durable `set` from 1 and 64 concurrent clients, and point reads (`get`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::KvStore;
use tokio::runtime::Runtime;

use crate::report::{Row, Target};
use crate::stats::median;
use crate::throughput::open_system;
use crate::{Result, Settings};

/// A SQLite connection set up like the baseline asks: WAL, `synchronous=FULL`.
fn sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )?;
    Ok(conn)
}

/// SQLite upserts per second: `clients` threads, each with its own connection, one upsert per
/// transaction.
fn sqlite_sets(path: &Path, clients: usize, duration: Duration) -> Result<f64> {
    let _ = std::fs::remove_file(path);
    drop(sqlite(path)?);
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || -> rusqlite::Result<u64> {
                    let conn = sqlite(path)?;
                    let mut stmt = conn.prepare(
                        "INSERT INTO kv (key, value) VALUES (?1, ?2) \
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    )?;
                    let mut i = 0u64;
                    while started.elapsed() < duration {
                        i += 1;
                        stmt.execute((format!("c{c}:k{}", i % 1000), format!("value-{i}")))?;
                    }
                    Ok(i)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(Ok(0)))
            .collect::<rusqlite::Result<Vec<u64>>>()
    })?;
    #[allow(clippy::cast_precision_loss)]
    let rate = counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64();
    Ok(rate)
}

/// SQLite point reads per second from `readers` threads, each with its own connection.
fn sqlite_gets(path: &Path, n: usize, readers: usize, duration: Duration) -> Result<f64> {
    let _ = std::fs::remove_file(path);
    {
        let mut conn = sqlite(path)?;
        let txn = conn.transaction()?;
        for i in 0..n {
            txn.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)",
                (format!("k{i}"), format!("value-{i}")),
            )?;
        }
        txn.commit()?;
    }
    let started = Instant::now();
    let counts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..readers)
            .map(|r| {
                scope.spawn(move || -> rusqlite::Result<u64> {
                    let conn = sqlite(path)?;
                    let mut stmt = conn.prepare("SELECT value FROM kv WHERE key = ?1")?;
                    let mut x = (r as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    let mut done = 0u64;
                    while started.elapsed() < duration {
                        for _ in 0..256 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            let value: Option<String> = stmt
                                .query_row([format!("k{}", x % n as u64)], |row| row.get(0))
                                .ok();
                            std::hint::black_box(value);
                        }
                        done += 256;
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(Ok(0)))
            .collect::<rusqlite::Result<Vec<u64>>>()
    })?;
    #[allow(clippy::cast_precision_loss)]
    let rate = counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64();
    Ok(rate)
}

/// Durable `set`s per second from `clients` concurrent tasks, each writing its own keys.
async fn sets(store: &KvStore, clients: usize, duration: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, stop, done) = (store.clone(), Arc::clone(&stop), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let key = format!("c{c}:k{}", i % 1000);
                if store.set(&key, format!("value-{i}")).await.is_ok() {
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

/// `kv_set`: durable sets with 1 and 64 clients against SQLite driven the same way.
pub fn kv_set(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for clients in [1, 64] {
        let sqlite_path = s.file(&format!("kv-{clients}")).with_extension("sqlite");
        let baseline: Vec<f64> = (0..s.rounds)
            .map(|_| sqlite_sets(&sqlite_path, clients, s.secondary))
            .collect::<Result<_>>()?;
        let path = s.file(&format!("kv-{clients}"));
        let ours = rt.block_on(async {
            let system = open_system(&path, true).await?;
            let store = system.kv("bench")?;
            let mut rates = Vec::new();
            for _ in 0..s.rounds {
                rates.push(sets(&store, clients, s.secondary).await);
            }
            system.shutdown().await;
            Ok::<_, crate::Error>(rates)
        })?;
        let mut row = Row::new(
            "kv_set",
            format!("durable set, {clients} client(s)"),
            "sets/s",
            median(&ours),
            "SQLite WAL synchronous=FULL, 1 upsert/txn",
            Some(median(&baseline)),
        )
        .rounds(&ours, &baseline);
        if clients == 64 {
            row = row.target(Target::AtLeast {
                value: None,
                ratio: Some(5.0),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// `kv_get`: point reads from two readers against SQLite point reads.
pub fn kv_get(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let (n, readers) = (10_000, 2);
    let sqlite_path = s.file("kv-get").with_extension("sqlite");
    let baseline: Vec<f64> = (0..s.rounds)
        .map(|_| sqlite_gets(&sqlite_path, n, readers, s.secondary))
        .collect::<Result<_>>()?;
    let path = s.file("kv-get");
    let ours = rt.block_on(async {
        let system = open_system(&path, true).await?;
        let store = system.kv("bench")?;
        let mut fill = Vec::new();
        for t in 0..64 {
            let store = store.clone();
            fill.push(tokio::spawn(async move {
                let mut i = t;
                while i < n {
                    store.set(&format!("k{i}"), format!("value-{i}")).await?;
                    i += 64;
                }
                Ok::<_, actor_core::KvError>(())
            }));
        }
        for f in fill {
            f.await??;
        }
        let mut rates = Vec::new();
        for _ in 0..s.rounds {
            let stop = Arc::new(AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for r in 0..readers {
                let (store, stop, done) = (store.clone(), Arc::clone(&stop), Arc::clone(&done));
                tasks.push(tokio::spawn(async move {
                    let mut x = (r as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    let mut key = String::new();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            key.clear();
                            let _ = std::fmt::Write::write_fmt(
                                &mut key,
                                format_args!("k{}", x % n as u64),
                            );
                            std::hint::black_box(store.get(&key).await.ok());
                        }
                        done.fetch_add(256, Ordering::Relaxed);
                        // A redb read never waits, so let the timer run.
                        tokio::task::yield_now().await;
                    }
                }));
            }
            let started = Instant::now();
            tokio::time::sleep(s.secondary).await;
            let count = done.load(Ordering::Relaxed);
            let elapsed = started.elapsed();
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                let _ = t.await;
            }
            #[allow(clippy::cast_precision_loss)]
            rates.push(count as f64 / elapsed.as_secs_f64());
        }
        system.shutdown().await;
        Ok::<_, crate::Error>(rates)
    })?;
    Ok(vec![
        Row::new(
            "kv_get",
            format!("get, {readers} readers, {n} keys"),
            "gets/s",
            median(&ours),
            "SQLite point reads (WAL), 2 threads",
            Some(median(&baseline)),
        )
        .target(Target::AtLeast {
            value: Some(1_000_000.0),
            ratio: Some(2.0),
        })
        .rounds(&ours, &baseline),
    ])
}

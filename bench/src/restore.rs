//! `restore_points`: what restore points cost (and `shared_reads`: what redb's single-writer
//! mode, on by default so that the `actors` tool can read a running system's file, costs a
//! commit). Commit latency of a store that takes a point
//! at every commit, and of one that takes one now and then, against the same store without;
//! the file's growth per point under a write load; the time to restore a 1M-actor file.
//!
//! Everything goes through `RedbStorage` (the storage a `System` uses) with records encoded
//! as actor-core writes them, so the figures are the storage's, without actors around it.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use actor_core::{RedbOptions, RedbStorage, RestorePoints, Storage, Write, restore_point};
use uuid::Uuid;

use crate::counter::Counter;
use crate::raw::encode_record;
use crate::report::Row;
use crate::stats::{median, percentile};
use crate::{Result, Settings};

/// Actors whose records the write load updates.
const ACTORS: usize = 10_000;
/// Records per commit in the write load (a busy system's group commit).
const BATCH: usize = 64;

fn options(points: Option<RestorePoints>) -> RedbOptions {
    let mut options = RedbOptions::default();
    options.restore_points = points;
    options
}

/// Commits `commits` batches of `batch` counter records (keys spread over `actors`), each
/// record a new count; returns every commit's latency in microseconds.
fn load(
    storage: &RedbStorage,
    commits: usize,
    batch: usize,
    actors: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let ids: Vec<Uuid> = (0..actors).map(|_| Uuid::new_v4()).collect();
    let keys: Vec<String> = (0..actors).map(|i| format!("k{i}")).collect();
    let mut records = vec![Vec::new(); batch];
    let mut latencies = Vec::with_capacity(commits);
    let mut x = seed | 1;
    for n in 0..commits {
        let mut picked = Vec::with_capacity(batch);
        for record in &mut records {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = usize::try_from(x % actors as u64).unwrap_or(0);
            let state = Counter {
                count: u64::try_from(n).unwrap_or(0),
            };
            encode_record(record, &ids[i], &state);
            picked.push(i);
        }
        let mut writes: Vec<Write<'_>> = picked
            .iter()
            .zip(&records)
            .map(|(&i, record)| Write::PutActor {
                kind: "Counter",
                key: &keys[i],
                record,
            })
            .collect();
        let started = Instant::now();
        storage.commit(&mut writes)?;
        latencies.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(latencies)
}

fn size(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64)
}

/// `restore_points`: see the module docs.
pub fn restore_points(_rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let (commits, big) = if s.quick {
        (400, 100_000)
    } else {
        (2_000, 1_000_000)
    };
    let mut rows = Vec::new();

    // Commit latency: one record per commit; off, a point at every commit (keep 24), rounds
    // alternating on fresh files.
    let (mut off, mut every) = (Vec::new(), Vec::new());
    for round in 0..s.rounds {
        eprintln!("  commit latency round {}/{}", round + 1, s.rounds);
        for (points, into) in [
            (None, &mut off),
            (
                Some(RestorePoints::every(Duration::ZERO).keep(24)),
                &mut every,
            ),
        ] {
            let path = s.file("restore-latency");
            let storage = RedbStorage::open(&path, &options(points))?;
            load(&storage, 200, BATCH, ACTORS, 7)?; // the file's first pages
            let latencies = load(&storage, commits / 4, 1, ACTORS, 11 + round as u64)?;
            into.push(median(&latencies));
        }
    }
    rows.push(
        Row::new(
            "restore_points",
            "commit of 1 record that takes a restore point (keep 24), median",
            "us",
            median(&every),
            "same commit, restore points off",
            Some(median(&off)),
        )
        .rounds(&every, &off),
    );

    // Under a write load: 64 records per commit, a point every 50 commits (keep 24) against
    // off; the commits between points, their latency, and the file's growth.
    eprintln!("  write load: {commits} commits of {BATCH} records, off and with points");
    let path_off = s.file("restore-load-off");
    let off_storage = RedbStorage::open(&path_off, &options(None))?;
    let off_latencies = load(&off_storage, commits, BATCH, ACTORS, 3)?;
    drop(off_storage);
    let path_on = s.file("restore-load-on");
    // A point every ~50 commits: the interval is wall time, so it is set from the
    // latency just measured.
    let interval = Duration::from_secs_f64(median(&off_latencies) * 50.0 / 1e6);
    let on_storage = RedbStorage::open(
        &path_on,
        &options(Some(RestorePoints::every(interval).keep(24))),
    )?;
    let on_latencies = load(&on_storage, commits, BATCH, ACTORS, 3)?;
    drop(on_storage);
    let points = actor_core::restore_points(&path_on)?.len();
    rows.push(Row::new(
        "restore_points",
        format!("commit of {BATCH} records, a point every ~50 commits (keep 24), median"),
        "us",
        median(&on_latencies),
        "same commits, restore points off",
        Some(median(&off_latencies)),
    ));
    rows.push(Row::new(
        "restore_points",
        format!("commit of {BATCH} records, a point every ~50 commits (keep 24), p99"),
        "us",
        percentile(&on_latencies, 99.0),
        "same commits, restore points off, p99",
        Some(percentile(&off_latencies, 99.0)),
    ));
    let (size_on, size_off) = (size(&path_on), size(&path_off));
    rows.push(
        Row::new(
            "restore_points",
            format!("file after {commits} commits of {BATCH} records over {ACTORS} actors"),
            "MiB",
            size_on / f64::from(1 << 20),
            "same writes, restore points off",
            Some(size_off / f64::from(1 << 20)),
        )
        .reference(format!(
            "{points} points kept; growth per point {:.0} KiB",
            (size_on - size_off) / points.max(1) as f64 / 1024.0
        )),
    );

    // The same load keeping 2 points: what a dropped point held is reused, so the file
    // follows the retention window, not the whole history.
    let path_two = s.file("restore-load-two");
    let two = RedbStorage::open(
        &path_two,
        &options(Some(RestorePoints::every(interval).keep(2))),
    )?;
    load(&two, commits, BATCH, ACTORS, 3)?;
    drop(two);
    rows.push(Row::new(
        "restore_points",
        "file after the same writes, keep 2 points",
        "MiB",
        size(&path_two) / f64::from(1 << 20),
        "same writes, restore points off",
        Some(size_off / f64::from(1 << 20)),
    ));

    // Restore time for a big file: `big` actors written in batches of 10,000, one point.
    eprintln!("  restore: a file of {big} actors");
    let path_big = s.file("restore-big");
    let storage = RedbStorage::open(
        &path_big,
        &options(Some(RestorePoints::every(Duration::from_secs(3600)))),
    )?;
    for chunk in 0..big / 10_000 {
        let ids: Vec<Uuid> = (0..10_000).map(|_| Uuid::new_v4()).collect();
        let keys: Vec<String> = (0..10_000)
            .map(|i| format!("a{}", chunk * 10_000 + i))
            .collect();
        let mut records = vec![Vec::new(); 10_000];
        for (record, id) in records.iter_mut().zip(&ids) {
            encode_record(record, id, &Counter { count: 1 });
        }
        let mut writes: Vec<Write<'_>> = keys
            .iter()
            .zip(&records)
            .map(|(key, record)| Write::PutActor {
                kind: "Counter",
                key,
                record,
            })
            .collect();
        storage.commit(&mut writes)?;
    }
    // The point: taken by the first commit after an hour, so force one with a fresh open.
    drop(storage);
    let storage = RedbStorage::open(
        &path_big,
        &options(Some(RestorePoints::every(Duration::ZERO))),
    )?;
    load(&storage, 1, 1, 1, 5)?;
    drop(storage);
    // What the `actors` tool does on it: a page of 1000 keys from the middle, and the
    // count of every type (which reads every key once).
    let (mut page_ms, mut count_ms) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds.min(3) {
        let started = Instant::now();
        let inspector = actor_core::inspect::Inspector::open(&path_big)?;
        let page = inspector.keys("Counter", "", Some("a500000"), 1000)?;
        page_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(page.keys.len(), 1000, "a full page");
        let started = Instant::now();
        let types = inspector.types()?;
        count_ms.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(types.iter().map(|t| t.count).sum::<u64>(), big as u64 + 1);
    }
    rows.push(
        Row::new(
            "restore_points",
            format!("actors ls --type (open + a page of 1000 keys) on the {big}-actor file"),
            "ms",
            median(&page_ms),
            "-",
            None,
        )
        .rounds(&page_ms, &[]),
    );
    rows.push(
        Row::new(
            "restore_points",
            format!("actors ls (count every type: reads every key) on the {big}-actor file"),
            "ms",
            median(&count_ms),
            "-",
            None,
        )
        .rounds(&count_ms, &[]),
    );
    let mut times = Vec::new();
    for round in 0..s.rounds.min(3) {
        let out = s.dir.0.join(format!("restored-{round}.redb"));
        let started = Instant::now();
        restore_point(&path_big, SystemTime::now(), &out)?;
        times.push(started.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&out);
    }
    rows.push(
        Row::new(
            "restore_points",
            format!(
                "restore_point of a {big}-actor file ({:.0} MiB)",
                size(&path_big) / f64::from(1 << 20)
            ),
            "s",
            median(&times),
            "-",
            None,
        )
        .rounds(&times, &[]),
    );
    Ok(rows)
}

/// `shared_reads`: the same commits (1 record, and 64) with `RedbOptions::shared_reads` on
/// (the default: redb's single-writer mode, other processes may read) and off (the file
/// locked whole), rounds alternating on fresh files.
pub fn shared_reads(_rt: &tokio::runtime::Runtime, s: &Settings) -> Result<Vec<Row>> {
    let commits = if s.quick { 100 } else { 500 };
    let mut rows = Vec::new();
    for batch in [1, BATCH] {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for round in 0..s.rounds {
            eprintln!("  {batch}-record commits, round {}/{}", round + 1, s.rounds);
            for (shared, into) in [(true, &mut on), (false, &mut off)] {
                let path = s.file("shared-reads");
                let mut options = RedbOptions::default();
                options.shared_reads = shared;
                let storage = RedbStorage::open(&path, &options)?;
                load(&storage, 50, BATCH, ACTORS, 7)?;
                let latencies = load(&storage, commits, batch, ACTORS, 13 + round as u64)?;
                into.push(median(&latencies));
            }
        }
        rows.push(
            Row::new(
                "shared_reads",
                format!("commit of {batch} record(s), shared reads on (default), median"),
                "us",
                median(&on),
                "same commits, shared reads off",
                Some(median(&off)),
            )
            .rounds(&on, &off),
        );
    }
    Ok(rows)
}

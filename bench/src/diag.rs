//! Diagnostics for the throughput scenarios: a [`Storage`] wrapper around actor-core's own
//! [`RedbStorage`] that counts commits, the writes in them and the time spent committing.
//!
//! Measured rounds never use it (they open systems with `System::builder().path(..)`, as a
//! user would). After them, one extra round on the same file through this wrapper tells how
//! the writer batched: actions per commit, commit time, and how busy the writer was. Its
//! per-commit overhead (two clock reads and three atomic adds) is far below a commit's cost.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actor_core::{Handle, RedbOptions, RedbStorage, Storage, StorageError, System, Write};
use tokio::runtime::Runtime;

use crate::Result;
use crate::counter::Counter;
use crate::report::fmt_num;
use crate::throughput::closed_loop;

/// [`RedbStorage`] with counters.
#[derive(Debug)]
pub struct CountingStorage {
    inner: RedbStorage,
    commits: AtomicU64,
    writes: AtomicU64,
    busy_ns: AtomicU64,
}

impl Storage for CountingStorage {
    fn load(&self, kind: &str, key: &str) -> std::result::Result<Option<Vec<u8>>, StorageError> {
        self.inner.load(kind, key)
    }

    fn commit(&self, batch: &mut [Write<'_>]) -> std::result::Result<(), StorageError> {
        let started = Instant::now();
        let result = self.inner.commit(batch);
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.busy_ns.fetch_add(ns, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(batch.len() as u64, Ordering::Relaxed);
        result
    }

    fn kv_get(&self, store: &str, key: &str) -> std::result::Result<Option<String>, StorageError> {
        self.inner.kv_get(store, key)
    }

    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> std::result::Result<Vec<(String, String)>, StorageError> {
        self.inner.kv_list(store, prefix, after, limit)
    }

    fn schedules(
        &self,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> std::result::Result<Vec<actor_core::ScheduleRow>, StorageError> {
        self.inner.schedules(after, limit)
    }

    fn messages(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> std::result::Result<Vec<actor_core::MessageRow>, StorageError> {
        self.inner.messages(after, limit)
    }

    fn next_epoch(&self) -> std::result::Result<u32, StorageError> {
        self.inner.next_epoch()
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Counts {
    commits: u64,
    writes: u64,
    busy_ns: u64,
}

impl CountingStorage {
    fn counts(&self) -> Counts {
        Counts {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            busy_ns: self.busy_ns.load(Ordering::Relaxed),
        }
    }
}

/// What one diagnostic round saw.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Durable actions per second in the round.
    pub actions_per_s: f64,
    /// Commits per second.
    pub commits_per_s: f64,
    /// Actions per commit (actions / commits).
    pub actions_per_commit: f64,
    /// Records written per commit (an actor changed twice in one commit is written once).
    pub writes_per_commit: f64,
    /// Mean time inside `Storage::commit`, µs.
    pub commit_us: f64,
    /// Share of the round the writer spent inside `Storage::commit`.
    pub writer_busy: f64,
}

impl Batching {
    /// A short summary for the table's reference column.
    pub fn summary(&self) -> String {
        format!(
            "diag round: {} actions/s, {} commits/s, {:.1} actions ({:.1} records) per commit, commit {:.0} us, writer busy {:.0}%",
            fmt_num(self.actions_per_s),
            fmt_num(self.commits_per_s),
            self.actions_per_commit,
            self.writes_per_commit,
            self.commit_us,
            self.writer_busy * 100.0
        )
    }
}

/// Reopens the actor-core file at `path` (closed by its measured system) through the
/// counting wrapper, wakes the actors at `keys`, and runs one closed-loop round of
/// `callers` for `duration`.
pub fn batching_round(
    rt: &Runtime,
    path: &Path,
    quick_repair: bool,
    keys: &[String],
    callers: usize,
    duration: Duration,
) -> Result<Batching> {
    let mut options = RedbOptions::default();
    options.quick_repair = quick_repair;
    let storage = Arc::new(CountingStorage {
        inner: RedbStorage::open(path, &options)?,
        commits: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        busy_ns: AtomicU64::new(0),
    });
    rt.block_on(async {
        let system = System::builder()
            .storage(Arc::clone(&storage) as Arc<dyn Storage>)
            .open()
            .await?;
        let mut handles: Vec<Handle<Counter>> = Vec::with_capacity(keys.len());
        for key in keys {
            handles.push(system.get::<Counter>(key.as_str()).await?);
        }
        let handles = Arc::new(handles);
        let before = storage.counts();
        let actions_per_s = closed_loop(&handles, callers, duration).await?;
        let after = storage.counts();
        system.shutdown().await;
        let secs = duration.as_secs_f64();
        let commits = (after.commits - before.commits).max(1) as f64;
        let busy = (after.busy_ns - before.busy_ns) as f64;
        Ok(Batching {
            actions_per_s,
            commits_per_s: commits / secs,
            actions_per_commit: actions_per_s * secs / commits,
            writes_per_commit: (after.writes - before.writes) as f64 / commits,
            commit_us: busy / commits / 1e3,
            writer_busy: busy / 1e9 / secs,
        })
    })
}

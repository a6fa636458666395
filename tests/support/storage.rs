//! A storage wrapper for tests: records every committed batch, can hold commits in flight
//! and can fail the next commits, all through the public `Storage` seam.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use actor_core::{MessageRow, RedbOptions, RedbStorage, ScheduleRow, Storage, StorageError, Write};

/// One committed write: actor kind, key and record length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) record: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct TestStorage {
    inner: RedbStorage,
    /// Every successful batch, in commit order.
    batches: Mutex<Vec<Vec<Committed>>>,
    /// How many of the next commits fail.
    fail_next: AtomicUsize,
    /// How many of the next actor loads fail.
    fail_loads: AtomicUsize,
    /// Commits that have started (including held and failed ones).
    started: AtomicUsize,
    /// While true, commits wait before writing.
    held: Mutex<bool>,
    released: Condvar,
}

impl TestStorage {
    pub(crate) fn open(path: &std::path::Path) -> Arc<Self> {
        let inner = RedbStorage::open(path, &RedbOptions::default()).expect("open redb");
        Arc::new(Self {
            inner,
            batches: Mutex::new(Vec::new()),
            fail_next: AtomicUsize::new(0),
            fail_loads: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            held: Mutex::new(false),
            released: Condvar::new(),
        })
    }

    pub(crate) fn batches(&self) -> Vec<Vec<Committed>> {
        self.batches.lock().unwrap().clone()
    }

    pub(crate) fn commits(&self) -> usize {
        self.batches.lock().unwrap().len()
    }

    pub(crate) fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    pub(crate) fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub(crate) fn fail_next_loads(&self, n: usize) {
        self.fail_loads.store(n, Ordering::SeqCst);
    }

    pub(crate) fn hold(&self) {
        *self.held.lock().unwrap() = true;
    }

    pub(crate) fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }

    /// Waits (real time, polling) until `n` commits have started.
    pub(crate) async fn wait_started(&self, n: usize) {
        for _ in 0..2000 {
            if self.started() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("commit {n} never started");
    }
}

impl Storage for TestStorage {
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        if self
            .fail_loads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StorageError::backend("injected: read failed"));
        }
        self.inner.load(kind, key)
    }

    fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, StorageError> {
        self.inner.kv_get(store, key)
    }

    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError> {
        self.inner.kv_list(store, prefix, after, limit)
    }

    fn schedules(
        &self,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ScheduleRow>, StorageError> {
        self.inner.schedules(after, limit)
    }

    fn messages(&self, after: Option<u64>, limit: usize) -> Result<Vec<MessageRow>, StorageError> {
        self.inner.messages(after, limit)
    }

    fn next_epoch(&self) -> Result<u32, StorageError> {
        self.inner.next_epoch()
    }

    fn commit(&self, batch: &mut [Write<'_>]) -> Result<(), StorageError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let mut held = self.held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        drop(held);
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StorageError::backend("injected: disk full"));
        }
        self.inner.commit(batch)?;
        let batch = batch
            .iter()
            .filter_map(|w| match w {
                Write::PutActor { kind, key, record } => Some(Committed {
                    kind: (*kind).to_owned(),
                    key: (*key).to_owned(),
                    record: record.to_vec(),
                }),
                _ => None,
            })
            .collect();
        self.batches.lock().unwrap().push(batch);
        Ok(())
    }
}

/// A unique path in the temp directory.
pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
    let unique = format!(
        "actor-suite-{name}-{}-{}.redb",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::env::temp_dir().join(unique)
}

/// The `count` field of a stored `Counter` record (header, then CBOR).
pub(crate) fn stored_count(record: &[u8]) -> i64 {
    #[derive(serde::Deserialize)]
    struct Shape {
        count: i64,
    }
    let shape: Shape = ciborium::from_reader(&record[21..]).expect("decode record");
    shape.count
}

/// A system on a fresh file through [`TestStorage`], for tests that hold or fail commits.
pub(crate) async fn recorded_system(
    name: &str,
) -> (actor_core::System, Arc<TestStorage>, std::path::PathBuf) {
    let path = temp_path(name);
    let storage = TestStorage::open(&path);
    let system = actor_core::System::builder()
        .storage(storage.clone())
        .open()
        .await
        .expect("open a system on the test storage");
    (system, storage, path)
}

//! The single writer: one OS thread that group-commits everything pending into one durable
//! transaction at a time.
//!
//! redb commits block (they fsync), so they run here rather than on the async runtime. The
//! loop: block for the first request, drain every other request already queued, take each
//! actor's newest snapshot from its slot, commit all of it in one transaction, then report
//! to each slot and each waiter. While a commit runs, new requests queue up and form the
//! next batch, so the batch grows with load and each caller still waits only for the commit
//! that covers it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{OpenError, StorageError};
use crate::kv::KvWriteError;
use crate::limits::MAX_VALUE_BYTES;
use crate::slot::{Pending, Slot};
use crate::storage::{Storage, Write};

/// The outcome of a direct write, sent back to its waiter.
pub(crate) type Done = oneshot::Sender<Result<(), Arc<StorageError>>>;

/// Work for the writer.
#[derive(Debug)]
pub(crate) enum Request {
    /// This slot has a new snapshot (sent only when its slot went from empty to full).
    Snapshot(Arc<Slot>),
    /// Delete an actor's record (its destruction) and report back.
    Delete {
        kind: &'static str,
        key: String,
        done: Done,
    },
    /// A key-value write, reported back with the value it left (for `update`).
    Kv {
        store: Arc<str>,
        op: KvOp,
        done: KvDone,
    },
    /// Commit what is queued, then exit.
    Stop,
}

/// The outcome of a key-value write, sent back to its waiter.
pub(crate) type KvDone = oneshot::Sender<Result<Option<String>, KvWriteError>>;

/// An update function, run once on the writer thread inside the transaction.
pub(crate) type UpdateFn = Box<dyn FnOnce(Option<&str>) -> Option<String> + Send>;

/// An update function wrapped for one commit: it records its outcome for the waiter.
type Updater<'a> = Box<dyn FnMut(Option<&str>) -> Option<String> + Send + 'a>;

/// One key-value write.
pub(crate) enum KvOp {
    Set { key: String, value: String },
    Delete { key: String },
    Update { key: String, f: UpdateFn },
}

impl std::fmt::Debug for KvOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvOp")
            .field("key", &self.key())
            .finish_non_exhaustive()
    }
}

impl KvOp {
    pub(crate) fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Delete { key } | Self::Update { key, .. } => key,
        }
    }
}

/// What happened to one update function during the commit.
enum Updated {
    Value(Option<String>),
    Panicked,
    TooLarge(usize),
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Request>,
}

impl WriterHandle {
    /// Starts the writer thread on `storage`.
    pub(crate) fn start(
        storage: Arc<dyn Storage>,
    ) -> Result<(Self, thread::JoinHandle<()>), OpenError> {
        let (tx, rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("actor-writer".into())
            .spawn(move || run(&*storage, &rx))
            .map_err(OpenError::WriterThread)?;
        Ok((Self { tx }, thread))
    }

    /// Queues a request. Fails only if the writer has exited.
    pub(crate) fn send(&self, request: Request) -> Result<(), Request> {
        self.tx.send(request).map_err(|e| e.0)
    }
}

/// The longest the writer waits, after the first request of a batch, for the callers its
/// previous commit released.
const MAX_LINGER: Duration = Duration::from_micros(250);

/// A previous commit covering fewer actions than this does not make the next one wait.
const LINGER_FROM: u64 = 4;

fn run(storage: &dyn Storage, rx: &mpsc::Receiver<Request>) {
    let mut requests = Vec::new();
    // Group commit, bounded: when a commit covered many actions, their callers are about to
    // send the next ones, and the actions already queued would otherwise start the next
    // commit without them; the callers then split into two groups taking turns. Waiting a
    // quarter of a commit (at most MAX_LINGER) lets both groups share it. A lone caller
    // never waits.
    let mut linger = Duration::ZERO;
    while let Ok(first) = rx.recv() {
        requests.push(first);
        let deadline = Instant::now() + linger;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(request) => requests.push(request),
                Err(_) => break,
            }
        }
        requests.extend(rx.try_iter());
        let stop = requests.iter().any(|r| matches!(r, Request::Stop));
        let started = Instant::now();
        let covered = commit_batch(storage, &mut requests);
        linger = if covered >= LINGER_FROM {
            (started.elapsed() / 4).min(MAX_LINGER)
        } else {
            Duration::ZERO
        };
        if stop {
            break;
        }
    }
}

/// Commits one batch and reports it; returns how many actions it covered (about).
fn commit_batch(storage: &dyn Storage, requests: &mut Vec<Request>) -> u64 {
    // Take snapshots only after draining the queue, so a slot queued twice yields its newest
    // snapshot once.
    let mut snapshots: Vec<(Arc<Slot>, Pending)> = Vec::new();
    let mut covered = 0;
    let mut deletes = Vec::new();
    let mut kv = Vec::new();
    for request in requests.drain(..) {
        match request {
            Request::Snapshot(slot) => {
                if let Some((pending, actions)) = slot.take() {
                    covered += actions;
                    snapshots.push((slot, pending));
                }
            }
            Request::Delete { kind, key, done } => deletes.push((kind, key, done)),
            Request::Kv { store, op, done } => kv.push((store, op, done)),
            Request::Stop => {}
        }
    }
    if snapshots.is_empty() && deletes.is_empty() && kv.is_empty() {
        return 0;
    }
    covered += kv.len() as u64 + deletes.len() as u64;
    // Each update function runs inside the transaction; what it returned (or that it
    // panicked) is kept here for its waiter.
    let mut updated: Vec<Updated> = kv.iter().map(|_| Updated::Value(None)).collect();
    let mut closures: Vec<Updater<'_>> = Vec::new();
    for ((_, op, _), outcome) in kv.iter_mut().zip(updated.iter_mut()) {
        if let KvOp::Update { f, .. } = op {
            let mut f = Some(std::mem::replace(f, Box::new(|_| None)));
            closures.push(Box::new(move |current: Option<&str>| {
                let keep = current.map(str::to_owned);
                let Some(f) = f.take() else { return keep };
                match catch_unwind(AssertUnwindSafe(|| f(current))) {
                    Ok(Some(new)) if new.len() > MAX_VALUE_BYTES => {
                        *outcome = Updated::TooLarge(new.len());
                        keep
                    }
                    Ok(new) => {
                        *outcome = Updated::Value(new.clone());
                        new
                    }
                    Err(_) => {
                        *outcome = Updated::Panicked;
                        keep
                    }
                }
            }));
        }
    }
    let mut next_closure = closures.iter_mut();
    let mut writes: Vec<Write<'_>> = Vec::with_capacity(snapshots.len() + deletes.len() + kv.len());
    writes.extend(snapshots.iter().map(|(slot, pending)| Write::PutActor {
        kind: slot.path.kind,
        key: slot.path.key.as_str(),
        record: &pending.record,
    }));
    writes.extend(
        deletes
            .iter()
            .map(|(kind, key, _)| Write::DeleteActor { kind, key }),
    );
    for (store, op, _) in &kv {
        writes.push(match op {
            KvOp::Set { key, value } => Write::KvSet { store, key, value },
            KvOp::Delete { key } => Write::KvDelete { store, key },
            KvOp::Update { key, .. } => match next_closure.next() {
                Some(update) => Write::KvUpdate {
                    store,
                    key,
                    update: &mut **update,
                },
                None => continue,
            },
        });
    }
    let bytes: usize = writes
        .iter()
        .map(|w| match w {
            Write::PutActor { record, .. } => record.len(),
            Write::KvSet { value, .. } => value.len(),
            _ => 0,
        })
        .sum();
    let span = tracing::debug_span!(
        "commit",
        writes = writes.len(),
        bytes,
        duration_us = tracing::field::Empty
    );
    let _entered = span.enter();
    let started = Instant::now();
    // A panicking backend must not take the writer (and every waiting caller) down with it.
    let result = catch_unwind(AssertUnwindSafe(|| storage.commit(&mut writes)))
        .unwrap_or_else(|_| Err(StorageError::backend("the storage backend panicked")));
    span.record(
        "duration_us",
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    drop(writes);
    drop(next_closure);
    drop(closures);
    report(result, snapshots, deletes, kv, updated);
    covered
}

/// Tells every slot and waiter of a batch how its commit went.
fn report(
    result: Result<(), StorageError>,
    snapshots: Vec<(Arc<Slot>, Pending)>,
    deletes: Vec<(&'static str, String, Done)>,
    kv: Vec<(Arc<str>, KvOp, KvDone)>,
    updated: Vec<Updated>,
) {
    match result {
        Ok(()) => {
            tracing::trace!("committed");
            for (slot, pending) in snapshots {
                slot.committed(pending);
            }
            for (.., done) in deletes {
                let _ = done.send(Ok(()));
            }
            for ((_, op, done), outcome) in kv.into_iter().zip(updated) {
                let _ = done.send(match (op, outcome) {
                    (KvOp::Set { value, .. }, _) => Ok(Some(value)),
                    (KvOp::Delete { .. }, _) => Ok(None),
                    (KvOp::Update { .. }, Updated::Value(value)) => Ok(value),
                    (KvOp::Update { .. }, Updated::Panicked) => Err(KvWriteError::Panicked),
                    (KvOp::Update { .. }, Updated::TooLarge(len)) => {
                        Err(KvWriteError::TooLarge(len))
                    }
                });
            }
        }
        Err(error) => {
            tracing::warn!(%error, "commit failed");
            let error = Arc::new(error);
            for (slot, _) in snapshots {
                slot.failed(Arc::clone(&error));
            }
            for (.., done) in deletes {
                let _ = done.send(Err(Arc::clone(&error)));
            }
            for (.., done) in kv {
                let _ = done.send(Err(KvWriteError::Storage(Arc::clone(&error))));
            }
        }
    }
}

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
use std::time::Instant;

use tokio::sync::oneshot;

use crate::error::{OpenError, StorageError};
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
    /// Commit what is queued, then exit.
    Stop,
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

fn run(storage: &dyn Storage, rx: &mpsc::Receiver<Request>) {
    let mut requests = Vec::new();
    while let Ok(first) = rx.recv() {
        requests.push(first);
        requests.extend(rx.try_iter());
        let stop = requests.iter().any(|r| matches!(r, Request::Stop));
        commit_batch(storage, &mut requests);
        if stop {
            break;
        }
    }
}

fn commit_batch(storage: &dyn Storage, requests: &mut Vec<Request>) {
    // Take snapshots only after draining the queue, so a slot queued twice yields its newest
    // snapshot once.
    let mut snapshots: Vec<(Arc<Slot>, Pending)> = Vec::new();
    let mut deletes = Vec::new();
    for request in requests.drain(..) {
        match request {
            Request::Snapshot(slot) => {
                if let Some(pending) = slot.take() {
                    snapshots.push((slot, pending));
                }
            }
            Request::Delete { kind, key, done } => deletes.push((kind, key, done)),
            Request::Stop => {}
        }
    }
    if snapshots.is_empty() && deletes.is_empty() {
        return;
    }
    let writes: Vec<Write<'_>> = snapshots
        .iter()
        .map(|(slot, pending)| Write::PutActor {
            kind: slot.path.kind,
            key: slot.path.key.as_str(),
            record: &pending.record,
        })
        .chain(
            deletes
                .iter()
                .map(|(kind, key, _)| Write::DeleteActor { kind, key }),
        )
        .collect();
    let bytes: usize = writes
        .iter()
        .map(|w| match w {
            Write::PutActor { record, .. } => record.len(),
            Write::DeleteActor { .. } => 0,
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
    let result = catch_unwind(AssertUnwindSafe(|| storage.commit(&writes)))
        .unwrap_or_else(|_| Err(StorageError::backend("the storage backend panicked")));
    span.record(
        "duration_us",
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    drop(writes);
    match result {
        Ok(()) => {
            tracing::trace!("committed");
            for (slot, pending) in snapshots {
                slot.committed(pending);
            }
            for (.., done) in deletes {
                let _ = done.send(Ok(()));
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
        }
    }
}

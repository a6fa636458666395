//! The single writer: one OS thread that group-commits everything pending into one durable
//! transaction at a time.
//!
//! redb commits block (they fsync), so they run here rather than on the async runtime. The
//! loop: block for the first request, drain every other request already queued, ask each
//! source for what it has now, commit all of it in one transaction, then tell every job the
//! outcome. While a commit runs, new requests queue up and form the next batch, so the batch
//! grows with load and each caller still waits only for the commit that covers it.
//!
//! The writer knows nothing of its clients: a [`Job`] lends it writes and is told how the
//! commit went; a [`Source`] (an actor's turns, which coalesce while a commit runs) hands over
//! its newest job when the batch is built.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{OpenError, StorageError};
use crate::storage::{Storage, Write};

/// Work for one commit: its writes, lent for the commit, and what to do with the outcome.
pub(crate) trait Job: Send {
    /// Appends this job's writes (borrowed from the job) to the batch.
    fn writes<'a>(&'a mut self, out: &mut Vec<Write<'a>>);

    /// About how many acknowledgements this job covers (for the group-commit wait).
    fn covers(&self) -> u64 {
        1
    }

    /// The commit's outcome, once it is durable or has failed.
    fn done(self: Box<Self>, outcome: Result<(), Arc<StorageError>>);
}

/// Something that has writes pending and hands them over when a batch is built, so that
/// everything it queued while the previous commit ran goes into one job.
pub(crate) trait Source: Send + Sync + 'static {
    /// The job for this batch, or `None` if nothing is pending (any more).
    fn take(self: Arc<Self>) -> Option<Box<dyn Job>>;
}

/// Work for the writer.
pub(crate) enum Request {
    /// This source has something pending (sent when it went from empty to pending).
    Take(Arc<dyn Source>),
    /// A job of its own.
    Job(Box<dyn Job>),
    /// Commit what is queued, then exit.
    Stop,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Take(_) => "Take",
            Self::Job(_) => "Job",
            Self::Stop => "Stop",
        })
    }
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Request>,
    /// What the writer's commits took, for a caller measuring a window (a backup).
    times: Arc<CommitTimes>,
}

/// How long the writer's commits took since the last [`take`](CommitTimes::take), and how
/// many there have been in all: atomics, so the writer records each commit without a lock
/// and a reader never stalls it.
#[derive(Debug, Default)]
pub(crate) struct CommitTimes {
    /// Every commit since the writer started, never reset: readers take differences (a
    /// commit rate) without disturbing one another's windows.
    all: AtomicU64,
    count: AtomicU64,
    total_us: AtomicU64,
    longest_us: AtomicU64,
}

/// The commits of one window, as [`CommitTimes::take`] returns them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CommitWindow {
    pub(crate) count: u64,
    pub(crate) total: Duration,
    pub(crate) longest: Duration,
}

impl CommitTimes {
    fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.all.fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.longest_us.fetch_max(us, Ordering::Relaxed);
    }

    /// How many commits the writer has made since it started (failed ones included).
    pub(crate) fn total(&self) -> u64 {
        self.all.load(Ordering::Relaxed)
    }

    /// The commits since the last call, and a new window from now. The three counters are
    /// swapped one by one, so a commit landing in between may be split across two windows.
    pub(crate) fn take(&self) -> CommitWindow {
        CommitWindow {
            count: self.count.swap(0, Ordering::Relaxed),
            total: Duration::from_micros(self.total_us.swap(0, Ordering::Relaxed)),
            longest: Duration::from_micros(self.longest_us.swap(0, Ordering::Relaxed)),
        }
    }
}

impl WriterHandle {
    /// Starts the writer thread on `storage`.
    pub(crate) fn start(
        storage: Arc<dyn Storage>,
    ) -> Result<(Self, thread::JoinHandle<()>), OpenError> {
        let (tx, rx) = mpsc::channel();
        let times = Arc::new(CommitTimes::default());
        let recorded = Arc::clone(&times);
        let thread = thread::Builder::new()
            .name("actor-writer".into())
            .spawn(move || run(&*storage, &rx, &recorded))
            .map_err(OpenError::WriterThread)?;
        Ok((Self { tx, times }, thread))
    }

    /// How long the writer's commits take.
    pub(crate) fn times(&self) -> &CommitTimes {
        &self.times
    }

    /// Queues a request. Fails only if the writer has exited.
    pub(crate) fn send(&self, request: Request) -> Result<(), Request> {
        self.tx.send(request).map_err(|e| e.0)
    }

    /// Queues a job; if the writer has exited, the job is told so at once.
    pub(crate) fn submit(&self, job: Box<dyn Job>) {
        if let Err(Request::Job(job)) = self.send(Request::Job(job)) {
            job.done(Err(Arc::new(StorageError::backend(
                "the writer has stopped",
            ))));
        }
    }
}

/// The longest the writer waits, after the first request of a batch, for the callers its
/// previous commit released.
const MAX_LINGER: Duration = Duration::from_micros(250);

/// A previous commit covering fewer actions than this does not make the next one wait.
const LINGER_FROM: u64 = 4;

fn run(storage: &dyn Storage, rx: &mpsc::Receiver<Request>, times: &CommitTimes) {
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
        let covered = commit_batch(storage, &mut requests, times);
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
fn commit_batch(storage: &dyn Storage, requests: &mut Vec<Request>, times: &CommitTimes) -> u64 {
    crate::metrics::writer_queue_depth(requests.len());
    // Sources are asked only after the queue is drained, so a source queued twice hands
    // over everything once.
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(requests.len());
    for request in requests.drain(..) {
        match request {
            Request::Take(source) => jobs.extend(source.take()),
            Request::Job(job) => jobs.push(job),
            Request::Stop => {}
        }
    }
    if jobs.is_empty() {
        return 0;
    }
    let covered = jobs.iter().map(|job| job.covers()).sum();
    let (result, took, records) = {
        let mut writes: Vec<Write<'_>> = Vec::with_capacity(jobs.len());
        for job in &mut jobs {
            job.writes(&mut writes);
        }
        let records = writes.len();
        let bytes: usize = writes.iter().map(Write::bytes).sum();
        let span = tracing::debug_span!(
            "commit",
            writes = writes.len(),
            bytes,
            duration_us = tracing::field::Empty
        );
        let _entered = span.enter();
        let started = Instant::now();
        // A panicking backend must not take the writer (and every waiting caller) down.
        let result = catch_unwind(AssertUnwindSafe(|| storage.commit(&mut writes)))
            .unwrap_or_else(|_| Err(StorageError::backend("the storage backend panicked")));
        let took = started.elapsed();
        times.record(took);
        span.record(
            "duration_us",
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        );
        (result, took, records)
    };
    let outcome = match result {
        Ok(()) => {
            tracing::trace!("committed");
            crate::metrics::committed(took, covered, records);
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, "commit failed");
            crate::metrics::commit_failed(took);
            Err(Arc::new(error))
        }
    };
    for job in jobs {
        job.done(outcome.clone());
    }
    covered
}

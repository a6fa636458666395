//! The timer service: one task per system that fires every schedule when it is due.
//!
//! Schedules live in storage, sorted by due time; the service keeps none of them in memory
//! beyond the ones firing now, so a million pending schedules cost no task or timer each. It
//! reads the due ones in order, fires them (each as a turn of its actor that removes it in
//! the same commit: exactly once, across crashes), then sleeps until the next one is due or
//! a new, earlier one is committed. Missed schedules (the process was down) are due at once
//! when it starts, in due order.
//!
//! Firings of one actor go one after another, in due order; different actors fire in
//! parallel, at most [`MAX_FIRING`] schedules at a time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::deliver::{Delivered, Deliverers};
use crate::key::ActorKey;
use crate::storage::{ScheduleRow, Write};
use crate::store::Store;
use crate::turn::Ack;
use crate::writer::Job;

/// Schedules read from storage at a time.
const PAGE: usize = 256;
/// Schedules firing at once, at most.
const MAX_FIRING: usize = 4096;
/// The wait before a firing that could not be delivered is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// The time schedules are due against, in milliseconds since the Unix epoch: the wall clock
/// when the system opened, plus the time elapsed on tokio's clock since then. Delays are
/// measured on a monotonic clock, and a paused tokio clock (in tests) drives schedules too.
#[derive(Debug)]
pub(crate) struct Clock {
    wall_at_start: u64,
    start: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let wall_at_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            wall_at_start,
            start: Instant::now(),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.wall_at_start.saturating_add(elapsed)
    }

    /// The tokio instant at which the clock reads `ms`.
    fn instant_at(&self, ms: u64) -> Instant {
        let after = ms.saturating_sub(self.wall_at_start);
        self.start + Duration::from_millis(after)
    }
}

/// The state the service's task and its helpers share.
struct Shared {
    /// Schedules being fired: not fired again by a later scan.
    firing: HashSet<u64>,
    /// Schedules whose firing committed since the current scan began: a scan that read them
    /// before the commit must not fire them again.
    completed: HashSet<u64>,
    /// Per actor, the schedules waiting for the one firing now (firings of an actor go one
    /// after another, in due order).
    queues: HashMap<(String, String), VecDeque<ScheduleRow>>,
}

/// See the module docs.
pub(crate) struct Timer {
    store: Arc<Store>,
    clock: Arc<Clock>,
    deliverers: Weak<dyn Deliverers>,
    shared: Mutex<Shared>,
    /// Woken by a new schedule due before `next_due`, a newly known actor type, a failed
    /// firing to retry, and shutdown.
    wake: Notify,
    /// The due time the service sleeps until (`u64::MAX`: none).
    next_due: AtomicU64,
    /// Set when a scan stopped at [`MAX_FIRING`]: the next firing done scans again.
    saturated: AtomicBool,
    stopped: AtomicBool,
    /// Scans begun and scans finished, and firings handed out: a test that moved a paused
    /// clock waits on them until every due schedule has fired (`testing::advance`).
    scans_begun: AtomicU64,
    scans_done: AtomicU64,
    dispatched: AtomicU64,
    /// The service's task, awaited by [`stopped`](Timer::stopped): a scan holds the storage.
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("next_due", &self.next_due.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Timer {
    /// Starts the service's task.
    pub(crate) fn start(
        store: Arc<Store>,
        clock: Arc<Clock>,
        deliverers: Weak<dyn Deliverers>,
    ) -> Arc<Self> {
        let timer = Arc::new(Self {
            store,
            clock,
            deliverers,
            shared: Mutex::new(Shared {
                firing: HashSet::new(),
                completed: HashSet::new(),
                queues: HashMap::new(),
            }),
            wake: Notify::new(),
            next_due: AtomicU64::new(0),
            saturated: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            scans_begun: AtomicU64::new(0),
            scans_done: AtomicU64::new(0),
            dispatched: AtomicU64::new(0),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(Arc::clone(&timer).run());
        *timer.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        timer
    }

    /// A schedule due at `due_ms` was committed.
    pub(crate) fn armed(&self, due_ms: u64) {
        if due_ms < self.next_due.load(Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Something changed that may let waiting schedules fire (a new actor type is known).
    pub(crate) fn poke(&self) {
        self.wake.notify_one();
    }

    /// Stops the service (its firings in flight finish on their own).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Stops the service and waits until its task has ended, so that no scan holds the
    /// storage any more (up to 5 s: a scan is a few page reads).
    pub(crate) async fn stopped(&self) {
        self.stop();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Where the service stands, for `testing::advance`: scans begun, scans done, firings
    /// handed out, and whether none is in flight.
    #[cfg(feature = "testing")]
    pub(crate) fn progress(&self) -> Progress {
        let shared = self.shared();
        Progress {
            scans_begun: self.scans_begun.load(Ordering::SeqCst),
            scans_done: self.scans_done.load(Ordering::SeqCst),
            dispatched: self.dispatched.load(Ordering::SeqCst),
            idle: shared.firing.is_empty() && shared.queues.is_empty(),
            stopped: self.stopped.load(Ordering::SeqCst),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(self: Arc<Self>) {
        while !self.stopped.load(Ordering::SeqCst) {
            self.scans_begun.fetch_add(1, Ordering::SeqCst);
            let next = match self.scan() {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the schedules; trying again");
                    Some(self.clock.now_ms().saturating_add(1000))
                }
            };
            self.scans_done.fetch_add(1, Ordering::SeqCst);
            self.next_due
                .store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
            let due = self.shared().firing.len();
            crate::metrics::schedules_due(due);
            let wake = self.wake.notified();
            match next {
                Some(due) => {
                    let _ = tokio::time::timeout_at(self.clock.instant_at(due), wake).await;
                }
                None => wake.await,
            }
        }
    }

    /// Fires every due schedule not firing yet; returns when the next one is due.
    fn scan(self: &Arc<Self>) -> Result<Option<u64>, crate::StorageError> {
        let Some(storage) = self.store.storage() else {
            self.stopped.store(true, Ordering::SeqCst);
            return Ok(None);
        };
        let deliverers = self.deliverers.upgrade();
        self.shared().completed.clear();
        let now = self.clock.now_ms();
        let mut after = None;
        loop {
            let rows = storage.schedules(after, PAGE)?;
            let full = rows.len() == PAGE;
            after = rows.last().map(|row| (row.due_ms, row.id));
            for row in rows {
                if row.due_ms > now {
                    return Ok(Some(row.due_ms));
                }
                let mut shared = self.shared();
                if shared.firing.len() >= MAX_FIRING {
                    // The rest waits until some of these are done.
                    self.saturated.store(true, Ordering::SeqCst);
                    return Ok(None);
                }
                if shared.firing.contains(&row.id) || shared.completed.contains(&row.id) {
                    continue;
                }
                if deliverers
                    .as_ref()
                    .and_then(|d| d.deliverer(&row.kind))
                    .is_none()
                {
                    // Not known to this run (yet): it fires once the type is used or declared.
                    tracing::debug!(kind = %row.kind, "a schedule is due for an actor type this system does not know yet");
                    continue;
                }
                shared.firing.insert(row.id);
                self.dispatched.fetch_add(1, Ordering::SeqCst);
                let actor = (row.kind.clone(), row.key.clone());
                if let Some(queue) = shared.queues.get_mut(&actor) {
                    queue.push_back(row);
                } else {
                    shared.queues.insert(actor.clone(), VecDeque::from([row]));
                    tokio::spawn(Arc::clone(self).fire(actor));
                }
            }
            if !full {
                return Ok(None);
            }
        }
    }

    /// Fires an actor's queued schedules one after another.
    async fn fire(self: Arc<Self>, actor: (String, String)) {
        loop {
            let row = {
                let mut shared = self.shared();
                let Some(queue) = shared.queues.get_mut(&actor) else {
                    return;
                };
                if let Some(row) = queue.pop_front() {
                    row
                } else {
                    shared.queues.remove(&actor);
                    return;
                }
            };
            let outcome = match self
                .deliverers
                .upgrade()
                .and_then(|d| d.deliverer(&row.kind))
            {
                Some(deliver) => {
                    deliver
                        .deliver(
                            ActorKey::from_encoded(row.key.clone()),
                            row.action.clone().into(),
                            Ack::Schedule { id: row.id },
                        )
                        .await
                }
                None => Delivered::Retry,
            };
            let retry = match outcome {
                Delivered::Done => {
                    crate::metrics::schedule_fired();
                    false
                }
                Delivered::Retry => true,
                Delivered::Gone(reason) => {
                    tracing::warn!(actor = %format!("{}({:?})", row.kind, row.key), %reason, "a schedule cannot fire; it is removed");
                    self.store.writer().submit(Box::new(Remove {
                        kind: row.kind.clone(),
                        key: row.key.clone(),
                        id: row.id,
                    }));
                    false
                }
            };
            let due = {
                let mut shared = self.shared();
                shared.firing.remove(&row.id);
                if !retry {
                    shared.completed.insert(row.id);
                }
                shared.firing.len()
            };
            crate::metrics::schedules_due(due);
            if retry {
                // Not durable: fire it again on a later scan (the rest of this actor's queue
                // waits for that scan too, to keep due order).
                let mut shared = self.shared();
                if let Some(queue) = shared.queues.remove(&actor) {
                    for row in queue {
                        shared.firing.remove(&row.id);
                    }
                }
                drop(shared);
                let timer = Arc::clone(&self);
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY).await;
                    timer.poke();
                });
                return;
            }
            // A scan that stopped at the cap reads its in-flight rows again: scan again only
            // once half of them are done, so that the rereading stays a fraction of the work.
            if self.shared().firing.len() <= MAX_FIRING / 2
                && self.saturated.swap(false, Ordering::SeqCst)
            {
                self.wake.notify_one();
            }
        }
    }
}

/// See [`Timer::progress`].
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    pub(crate) scans_begun: u64,
    pub(crate) scans_done: u64,
    pub(crate) dispatched: u64,
    pub(crate) idle: bool,
    pub(crate) stopped: bool,
}

/// Removes a schedule that can never fire.
struct Remove {
    kind: String,
    key: String,
    id: u64,
}

impl Job for Remove {
    fn writes<'a>(&'a mut self, out: &mut Vec<Write<'a>>) {
        out.push(Write::DeleteSchedule {
            kind: &self.kind,
            key: &self.key,
            id: self.id,
        });
    }

    fn done(self: Box<Self>, _: Result<(), Arc<crate::StorageError>>) {}
}

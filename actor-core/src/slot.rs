//! The per-actor meeting point of the actor's task, the writer thread and waiting callers.
//!
//! The actor puts its newest snapshot in the slot; the writer takes it when it builds the
//! next batch (so several snapshots of one commit window collapse into the latest), commits
//! it and reports back here. The actor, and any caller gated on the actor's durability, wait
//! on [`Slot::notify`].

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;

use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::{StopReason, StorageError};
use crate::key::ActorPath;
use crate::system::SystemInner;

/// A snapshot handed to the writer and not yet taken by it.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) seq: u64,
    pub(crate) record: Arc<Vec<u8>>,
}

impl Pending {
    /// How many snapshots (about: changed actions) since the last durable one this covers.
    pub(crate) fn covered(&self, durable: u64) -> u64 {
        self.seq.saturating_sub(durable)
    }
}

#[derive(Debug)]
struct SlotState {
    /// The newest snapshot not yet taken by the writer (only the latest is kept).
    pending: Option<Pending>,
    /// The sequence number of the newest snapshot handed over.
    submitted: u64,
    /// The sequence number of the newest durable snapshot, and its record.
    durable: u64,
    durable_record: Arc<Vec<u8>>,
    /// Set by the writer when a commit of this actor's snapshot failed; while set the writer
    /// takes nothing more from this slot, so no snapshot built on the failed one is written.
    /// Cleared by the actor once it has gone back to `durable_record`.
    failure: Option<Arc<StorageError>>,
    /// Set when the actor must stop taking new actions.
    stop: Option<StopReason>,
    /// When `stop` was set (a crash-looped actor restarts from an old handle only after its
    /// back-off).
    stopped_at: Option<tokio::time::Instant>,
    /// Set when the running action or hook must be cancelled (the shutdown deadline passed).
    aborted: bool,
    /// The task to wake when the action it is running gets cancelled (registered while the
    /// action waits for something).
    abort_waker: Option<Waker>,
    /// The actor this actor's running action is waiting for in an `ask`: one edge of the
    /// wait-for graph that refuses call cycles.
    waiting_on: Option<Arc<Slot>>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) path: ActorPath,
    pub(crate) id: Uuid,
    // A std mutex: every critical section is a few field moves, never held across an await.
    state: Mutex<SlotState>,
    /// Woken by the writer after each commit that involved this actor, and by a stop request.
    pub(crate) notify: Notify,
    /// Set when the actor's task has ended: no snapshot of it is in flight any more, so a new
    /// activation may load the actor from storage.
    ended: AtomicBool,
    ended_notify: Notify,
    /// Set while the actor sleeps: its task is gone and its mailbox receiver is in `parked`.
    /// A sender that sees it wakes the actor.
    asleep: AtomicBool,
    /// The sleeping actor's mailbox receiver (type-erased: slots do not know the actor type).
    parked: Mutex<Option<Box<dyn Any + Send>>>,
    /// Woken when a receiver is parked, for a waker that arrived a moment early.
    parked_notify: Notify,
    /// To wake a sleeping actor from a handle.
    pub(crate) system: Weak<SystemInner>,
}

/// What the actor learns when it settles its held replies.
#[derive(Debug)]
pub(crate) struct Status {
    pub(crate) durable: u64,
    pub(crate) failure: Option<Arc<StorageError>>,
    pub(crate) stop_requested: bool,
}

impl Slot {
    pub(crate) fn new(
        path: ActorPath,
        id: Uuid,
        durable_record: Arc<Vec<u8>>,
        system: Weak<SystemInner>,
    ) -> Self {
        Self {
            path,
            id,
            state: Mutex::new(SlotState {
                pending: None,
                submitted: 0,
                durable: 0,
                durable_record,
                failure: None,
                stop: None,
                stopped_at: None,
                aborted: false,
                abort_waker: None,
                waiting_on: None,
            }),
            notify: Notify::new(),
            ended: AtomicBool::new(false),
            ended_notify: Notify::new(),
            asleep: AtomicBool::new(false),
            parked: Mutex::new(None),
            parked_notify: Notify::new(),
            system,
        }
    }

    /// The sequence number of the newest durable snapshot.
    pub(crate) fn durable_seq(&self) -> u64 {
        self.lock().durable
    }

    pub(crate) fn is_asleep(&self) -> bool {
        self.asleep.load(Ordering::SeqCst)
    }

    /// The actor is about to sleep: from now on, senders try to wake it.
    pub(crate) fn set_asleep(&self, asleep: bool) {
        self.asleep.store(asleep, Ordering::SeqCst);
        if !asleep {
            self.parked_notify.notify_waiters();
        }
    }

    /// The sleeping actor hands over its mailbox receiver. Its record is dropped from memory
    /// (a woken actor reads it from storage).
    pub(crate) fn park(&self, receiver: Box<dyn Any + Send>) {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = Some(receiver);
        self.lock().durable_record = Arc::new(Vec::new());
        self.parked_notify.notify_waiters();
    }

    /// Takes the parked receiver, if it is there yet.
    pub(crate) fn unpark(&self) -> Option<Box<dyn Any + Send>> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Waits for [`park`](Slot::park), or until the actor is awake again.
    pub(crate) async fn wait_parked(&self) {
        let parked = self.parked_notify.notified();
        tokio::pin!(parked);
        parked.as_mut().enable();
        let ready = self.is_asleep()
            && self
                .parked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none();
        if ready {
            parked.await;
        }
    }

    /// A woken actor's record, read back from storage.
    pub(crate) fn set_durable_record(&self, record: Arc<Vec<u8>>) {
        self.lock().durable_record = record;
    }

    /// Called when the actor's task is gone.
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.ended_notify.notify_waiters();
    }

    /// True once the actor's task has ended (stopped, not asleep).
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Waits until the actor's task has ended.
    pub(crate) async fn wait_ended(&self) {
        loop {
            let ended = self.ended_notify.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.ended.load(Ordering::SeqCst) {
                return;
            }
            ended.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // The state stays consistent even if a holder panicked: every update is a plain store.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The actor hands over a new snapshot. Returns true if the slot was empty, i.e. the
    /// writer must be told about it.
    pub(crate) fn submit(&self, seq: u64, record: Arc<Vec<u8>>) -> bool {
        let mut s = self.lock();
        s.submitted = seq;
        s.pending.replace(Pending { seq, record }).is_none()
    }

    /// The writer takes the newest snapshot, unless a failure is still being handled.
    pub(crate) fn take(&self) -> Option<(Pending, u64)> {
        let mut s = self.lock();
        if s.failure.is_some() {
            return None;
        }
        let durable = s.durable;
        s.pending.take().map(|p| {
            let covered = p.covered(durable);
            (p, covered)
        })
    }

    /// The writer reports a durable snapshot.
    pub(crate) fn committed(&self, pending: Pending) {
        {
            let mut s = self.lock();
            if pending.seq > s.durable {
                s.durable = pending.seq;
                s.durable_record = pending.record;
            }
        }
        self.notify.notify_one();
    }

    /// The writer reports a failed commit of this actor's snapshot.
    pub(crate) fn failed(&self, error: Arc<StorageError>) {
        self.lock().failure = Some(error);
        self.notify.notify_one();
    }

    pub(crate) fn status(&self) -> Status {
        let s = self.lock();
        Status {
            durable: s.durable,
            failure: s.failure.clone(),
            stop_requested: s.stop.is_some(),
        }
    }

    /// After a failed commit: drops any snapshot not yet taken, clears the failure and
    /// returns the last durable record and its sequence number.
    pub(crate) fn roll_back(&self) -> (u64, Arc<Vec<u8>>) {
        let mut s = self.lock();
        s.pending = None;
        s.failure = None;
        s.submitted = s.durable;
        (s.durable, Arc::clone(&s.durable_record))
    }

    /// Asks the actor to stop taking new actions. The first reason given sticks.
    pub(crate) fn request_stop(&self, reason: StopReason) {
        {
            let mut s = self.lock();
            if s.stop.is_none() {
                s.stop = Some(reason);
                s.stopped_at = Some(tokio::time::Instant::now());
            }
        }
        self.notify.notify_one();
    }

    pub(crate) fn stop_reason(&self) -> StopReason {
        self.lock().stop.clone().unwrap_or(StopReason::Shutdown)
    }

    /// The reason the actor stopped and when, if it did.
    pub(crate) fn stopped(&self) -> Option<(StopReason, tokio::time::Instant)> {
        let s = self.lock();
        s.stop.clone().zip(s.stopped_at)
    }

    /// Cancels the action or hook the actor is running, and stops it with `reason` (which
    /// replaces a milder reason given before: the callers it fails must learn why).
    pub(crate) fn abort(&self, reason: StopReason) {
        let waker = {
            let mut s = self.lock();
            s.stop = Some(reason);
            s.stopped_at.get_or_insert_with(tokio::time::Instant::now);
            s.aborted = true;
            s.abort_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        self.notify.notify_one();
    }

    /// True once [`abort`](Slot::abort) was called; otherwise `waker` will be woken when it is.
    pub(crate) fn aborted_or_register(&self, waker: &Waker) -> bool {
        let mut s = self.lock();
        if s.aborted {
            return true;
        }
        match &mut s.abort_waker {
            Some(current) if current.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        false
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// Records (or, with `None`, clears) the actor this actor's action waits for.
    pub(crate) fn set_waiting_on(&self, target: Option<Arc<Slot>>) {
        self.lock().waiting_on = target;
    }

    /// The actor this actor's action waits for, if any.
    pub(crate) fn waiting_on(&self) -> Option<Arc<Slot>> {
        self.lock().waiting_on.clone()
    }

    /// Waits until every snapshot handed over so far (up to `seq`, or all if `None`) is
    /// durable. Called from inside the actor's own task, while an action runs.
    pub(crate) async fn wait_durable(&self, seq: Option<u64>) -> Result<(), Arc<StorageError>> {
        loop {
            // The writer stores its state before `notify_one`, and `notify_one` leaves a permit
            // when nobody waits, so checking first and then waiting loses no wake-up.
            {
                let s = self.lock();
                let target = seq.unwrap_or(s.submitted);
                if s.durable >= target {
                    return Ok(());
                }
                if let Some(error) = &s.failure {
                    return Err(Arc::clone(error));
                }
            }
            self.notify.notified().await;
        }
    }
}

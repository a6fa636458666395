//! The turn, and everything about its durability.
//!
//! A turn is one action, hook, fired schedule or delivered message. What it produces — the
//! actor's new state, the schedules it set or cancelled, the messages it sent, the key-value
//! writes it made, the acknowledgement of the schedule or message it ran, its events and its
//! reply — commits together or not at all, and nothing of it leaves the actor before that
//! commit is durable. This module owns that bookkeeping, in two halves:
//!
//! - [`TurnLog`], shared by the actor's task and the writer: the newest turns not yet taken by
//!   the writer (they coalesce: several turns of one commit window become one job, with the
//!   newest state and every staged write in order), what is durable, and a failed commit.
//! - [`Turns`], owned by the actor's task: the sequence numbers, the last record handed over
//!   (for change detection and rollback), the running turn's staged writes and events, and
//!   the replies and events held until their turn is durable. Rolling back after a failed
//!   commit is one call: [`Turns::roll_back`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

#[cfg(feature = "http")]
use crate::error::AskError;
use crate::error::{EncodeError, StorageError};
use crate::key::ActorPath;
use crate::snapshot;
use crate::storage::Write;
use crate::writer::{Job, Request, Source, WriterHandle};

/// A write a turn stages besides its state.
#[derive(Debug)]
pub(crate) enum Op {
    /// Set a schedule of this actor.
    Schedule {
        id: u64,
        due_ms: u64,
        action: Arc<[u8]>,
    },
    /// Cancel a schedule of this actor.
    Cancel {
        id: u64,
    },
    /// Send a message to another actor (the outbox).
    Send(Message),
    /// The schedule or message this turn ran is done: remove it in the same commit.
    Ack(Ack),
    /// A key-value write joining the turn.
    KvSet {
        store: String,
        key: String,
        value: String,
    },
    KvDelete {
        store: String,
        key: String,
    },
    /// Delete the actor's record and schedules (its destruction).
    Destroy,
}

/// A message in the outbox: from the actor whose turn sent it to another actor.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) seq: u64,
    pub(crate) from: ActorPath,
    pub(crate) to_kind: &'static str,
    pub(crate) to_key: String,
    pub(crate) action: Arc<[u8]>,
}

/// What a stored action a turn ran was: a schedule or a message, removed by the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ack {
    Schedule { id: u64 },
    Message { seq: u64 },
}

/// What the system's delivery services learn once a turn is durable.
#[derive(Debug)]
pub(crate) enum Posted {
    /// A message to deliver.
    Message(Message),
    /// A schedule due at this time exists now.
    Schedule { due_ms: u64 },
}

/// Turns handed over and not yet taken by the writer: the newest state (if any of them
/// changed it) and every staged write, in order.
#[derive(Debug)]
struct Pending {
    seq: u64,
    record: Option<Arc<Vec<u8>>>,
    ops: Vec<Op>,
}

#[derive(Debug)]
struct LogState {
    pending: Option<Pending>,
    /// The sequence number of the newest turn handed over.
    submitted: u64,
    /// The sequence number of the newest durable turn, and the newest durable record.
    durable: u64,
    durable_record: Arc<Vec<u8>>,
    /// Set by the writer when a commit of this actor's turns failed; while set the writer
    /// takes nothing more, so no turn built on the failed one is written. Cleared by the
    /// actor once it has gone back to `durable_record`.
    failure: Option<Arc<StorageError>>,
    /// The actor this actor's running action waits for in an `ask`: one edge of the
    /// wait-for graph that refuses call cycles.
    waits_for: Option<Arc<TurnLog>>,
}

/// What the writer, and a call out of an action, see of one actor: its name, its turns
/// pending and durable. See the module docs.
#[derive(Debug)]
pub(crate) struct TurnLog {
    pub(crate) path: ActorPath,
    pub(crate) id: Uuid,
    // A std mutex: every critical section is a few field moves, never held across an await.
    state: Mutex<LogState>,
    /// Woken by the writer after each commit that involved this actor (and by a stop or an
    /// abort request, which the actor's task also waits for here).
    pub(crate) notify: Notify,
}

/// What the actor's task learns when it looks at its log.
#[derive(Debug)]
pub(crate) struct Status {
    pub(crate) durable: u64,
    pub(crate) failure: Option<Arc<StorageError>>,
}

impl TurnLog {
    /// The log of an actor whose newest durable record is `record` (empty while it is being
    /// created).
    pub(crate) fn new(path: ActorPath, id: Uuid, record: Arc<Vec<u8>>) -> Self {
        Self {
            path,
            id,
            state: Mutex::new(LogState {
                pending: None,
                submitted: 0,
                durable: 0,
                durable_record: record,
                failure: None,
                waits_for: None,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // The state stays consistent even if a holder panicked: every update is a plain store.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sequence number of the newest durable turn.
    pub(crate) fn durable_seq(&self) -> u64 {
        self.lock().durable
    }

    pub(crate) fn status(&self) -> Status {
        let s = self.lock();
        Status {
            durable: s.durable,
            failure: s.failure.clone(),
        }
    }

    /// A woken actor's record, read back from storage; or, with an empty one, a sleeping
    /// actor's memory let go.
    pub(crate) fn set_durable_record(&self, record: Arc<Vec<u8>>) {
        self.lock().durable_record = record;
    }

    /// Records (or, with `None`, clears) the actor this actor's action waits for.
    pub(crate) fn set_waits_for(&self, target: Option<Arc<TurnLog>>) {
        self.lock().waits_for = target;
    }

    /// The actor this actor's action waits for, if any.
    pub(crate) fn waits_for(&self) -> Option<Arc<TurnLog>> {
        self.lock().waits_for.clone()
    }

    /// Hands a turn over. Returns true if nothing was pending, i.e. the writer must be told.
    fn submit(&self, seq: u64, record: Option<Arc<Vec<u8>>>, ops: Vec<Op>) -> bool {
        let mut s = self.lock();
        s.submitted = seq;
        if let Some(pending) = &mut s.pending {
            pending.seq = seq;
            if record.is_some() {
                pending.record = record;
            }
            pending.ops.extend(ops);
            return false;
        }
        s.pending = Some(Pending { seq, record, ops });
        true
    }

    /// The writer reports a durable turn.
    fn committed(&self, seq: u64, record: Option<Arc<Vec<u8>>>) {
        {
            let mut s = self.lock();
            if seq > s.durable {
                s.durable = seq;
                if let Some(record) = record {
                    s.durable_record = record;
                }
            }
        }
        self.notify.notify_one();
    }

    /// The writer reports a failed commit of this actor's turns.
    fn failed(&self, error: Arc<StorageError>) {
        self.lock().failure = Some(error);
        self.notify.notify_one();
    }

    /// After a failed commit: drops what the writer has not taken, clears the failure and
    /// returns the last durable record and its sequence number.
    fn roll_back(&self) -> (u64, Arc<Vec<u8>>) {
        let mut s = self.lock();
        s.pending = None;
        s.failure = None;
        s.submitted = s.durable;
        (s.durable, Arc::clone(&s.durable_record))
    }

    /// Waits until every turn handed over so far (up to `seq`, or all if `None`) is durable.
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

impl Source for TurnLog {
    fn take(self: Arc<Self>) -> Option<Box<dyn Job>> {
        let (pending, covers) = {
            let mut s = self.lock();
            if s.failure.is_some() {
                return None;
            }
            let durable = s.durable;
            let pending = s.pending.take()?;
            let covers = pending.seq.saturating_sub(durable);
            (pending, covers)
        };
        Some(Box::new(TurnJob {
            log: self,
            pending,
            covers,
        }))
    }
}

/// The turns of one actor in one commit.
struct TurnJob {
    log: Arc<TurnLog>,
    pending: Pending,
    covers: u64,
}

impl Job for TurnJob {
    fn writes<'a>(&'a mut self, out: &mut Vec<Write<'a>>) {
        let kind = self.log.path.kind;
        let key = self.log.path.key.as_str();
        if let Some(record) = &self.pending.record {
            out.push(Write::PutActor { kind, key, record });
        }
        for op in &self.pending.ops {
            out.push(match op {
                Op::Schedule { id, due_ms, action } => Write::PutSchedule {
                    id: *id,
                    due_ms: *due_ms,
                    kind,
                    key,
                    action,
                },
                Op::Cancel { id } | Op::Ack(Ack::Schedule { id }) => {
                    Write::DeleteSchedule { kind, key, id: *id }
                }
                Op::Send(message) => Write::PutMessage {
                    seq: message.seq,
                    from_kind: kind,
                    from_key: key,
                    to_kind: message.to_kind,
                    to_key: &message.to_key,
                    action: &message.action,
                },
                Op::Ack(Ack::Message { seq }) => Write::DeleteMessage { seq: *seq },
                Op::KvSet { store, key, value } => Write::KvSet { store, key, value },
                Op::KvDelete { store, key } => Write::KvDelete { store, key },
                Op::Destroy => Write::DeleteActor { kind, key },
            });
        }
    }

    fn covers(&self) -> u64 {
        self.covers
    }

    fn done(self: Box<Self>, outcome: Result<(), Arc<StorageError>>) {
        match outcome {
            Ok(()) => self.log.committed(self.pending.seq, self.pending.record),
            Err(error) => self.log.failed(error),
        }
    }
}

/// Why a state was not handed to the writer.
#[derive(Debug)]
pub(crate) enum SubmitError {
    Encode(EncodeError),
    TooLarge { size: usize, limit: usize },
}

/// What a turn leaves waiting for its commit: the caller's reply (`R`), whoever else waits
/// for it, its events (`E`) and what it posted.
#[derive(Debug)]
struct Held<R, E> {
    seq: u64,
    reply: Option<(oneshot::Sender<R>, R)>,
    ack: Option<Waiter>,
    events: Vec<E>,
    posts: Vec<Posted>,
}

/// Who waits for a turn that has no reply of the actor's type.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// The deliverer of a stored action the turn ran: told whether the turn is durable.
    Stored(oneshot::Sender<bool>),
    /// The caller of a session turn (an HTTP request's, a WebSocket's): told when what the
    /// turn left or saw is durable, or why it never will be.
    #[cfg(feature = "http")]
    Session(oneshot::Sender<Result<(), AskError<std::convert::Infallible>>>),
}

impl Waiter {
    fn durable(self) {
        match self {
            Self::Stored(tx) => {
                let _ = tx.send(true);
            }
            #[cfg(feature = "http")]
            Self::Session(tx) => {
                let _ = tx.send(Ok(()));
            }
        }
    }

    fn failed(self, path: &ActorPath, error: &Arc<StorageError>) {
        match self {
            Self::Stored(tx) => {
                let _ = tx.send(false);
            }
            #[cfg(feature = "http")]
            Self::Session(tx) => {
                let _ = tx.send(Err(AskError::Commit {
                    actor: path.clone(),
                    source: Arc::clone(error),
                }));
            }
        }
        #[cfg(not(feature = "http"))]
        let _ = (path, error);
    }
}

/// What became durable since the last look: the events to publish and what to post, in
/// commit order. (Replies and acknowledgements were sent already.)
#[derive(Debug)]
pub(crate) struct Released<E> {
    pub(crate) events: Vec<E>,
    pub(crate) posts: Vec<Posted>,
    pub(crate) failure: Option<Arc<StorageError>>,
}

/// An actor's side of its turns. See the module docs.
#[derive(Debug)]
pub(crate) struct Turns<R, E> {
    pub(crate) log: Arc<TurnLog>,
    writer: WriterHandle,
    state_version: u32,
    max_state_bytes: usize,
    /// The newest record handed to the writer (or loaded): what change detection compares to.
    last: Arc<Vec<u8>>,
    /// The sequence number of `last`'s turn; what the current state depends on.
    seq: u64,
    next_seq: u64,
    /// Reused encode buffer: an unchanged state costs no allocation.
    scratch: Vec<u8>,
    /// The running turn's staged writes, what they will post, and its events.
    ops: Vec<Op>,
    posts: Vec<Posted>,
    events: Vec<E>,
    /// Outcomes in turn order, waiting for durability. Sequence numbers never decrease along
    /// the queue, so releasing is popping from the front.
    held: VecDeque<Held<R, E>>,
}

impl<R, E> Turns<R, E> {
    /// The turns of an actor whose current state is `record` (the log's durable record).
    pub(crate) fn new(
        log: Arc<TurnLog>,
        writer: WriterHandle,
        record: Arc<Vec<u8>>,
        state_version: u32,
        max_state_bytes: usize,
    ) -> Self {
        let seq = log.durable_seq();
        Self {
            log,
            writer,
            state_version,
            max_state_bytes,
            last: record,
            seq,
            next_seq: seq + 1,
            scratch: Vec::new(),
            ops: Vec::new(),
            posts: Vec::new(),
            events: Vec::new(),
            held: VecDeque::new(),
        }
    }

    /// The sequence number the current state depends on.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The record of the current state, as last handed over or loaded.
    pub(crate) fn last(&self) -> &Arc<Vec<u8>> {
        &self.last
    }

    /// Stages a write of the running turn, and what it posts once durable.
    pub(crate) fn stage(&mut self, op: Op, post: Option<Posted>) {
        self.ops.push(op);
        self.posts.extend(post);
    }

    /// An event of the running turn, published once the turn is durable.
    pub(crate) fn emit(&mut self, event: E) {
        self.events.push(event);
    }

    /// Drops what the running turn staged and emitted (it failed, panicked or was rolled
    /// back); what an earlier `save_state` handed over stays.
    pub(crate) fn discard(&mut self) {
        self.ops.clear();
        self.posts.clear();
        self.events.clear();
    }

    /// Ends the running turn (or, mid-action, its part so far): encodes `state`; if its bytes
    /// changed or writes were staged, hands a new turn to the writer. Returns whether the
    /// state changed. On an error nothing is handed over and the staged writes stay (the
    /// caller rolls back or discards).
    pub(crate) fn submit<S: Serialize>(&mut self, state: &S) -> Result<bool, SubmitError> {
        if self.scratch.capacity() == 0 {
            self.scratch.reserve(self.last.len() + 16);
        }
        snapshot::encode(&mut self.scratch, self.log.id, self.state_version, state)
            .map_err(SubmitError::Encode)?;
        let changed = self.scratch[..] != self.last[..];
        if changed {
            let size = self.scratch.len() - snapshot::HEADER_LEN;
            if size > self.max_state_bytes {
                return Err(SubmitError::TooLarge {
                    size,
                    limit: self.max_state_bytes,
                });
            }
        }
        if !changed && self.ops.is_empty() {
            return Ok(false);
        }
        let record = changed.then(|| {
            let record = Arc::new(std::mem::take(&mut self.scratch));
            self.last = Arc::clone(&record);
            record
        });
        let ops = std::mem::take(&mut self.ops);
        self.hand_over(record, ops);
        // What the turn emitted and posted so far belongs to this commit.
        if !self.events.is_empty() || !self.posts.is_empty() {
            let (events, posts) = (
                std::mem::take(&mut self.events),
                std::mem::take(&mut self.posts),
            );
            self.held.push_back(Held {
                seq: self.seq,
                reply: None,
                ack: None,
                events,
                posts,
            });
        }
        Ok(changed)
    }

    /// True if `state` encodes to the last record's bytes.
    pub(crate) fn unchanged<S: Serialize>(&mut self, state: &S) -> bool {
        snapshot::encode(&mut self.scratch, self.log.id, self.state_version, state).is_ok()
            && self.scratch[..] == self.last[..]
    }

    /// Queues the running turn's outcome behind the current state's commit: its reply (if
    /// the caller waits for one), the acknowledgement of a stored action, and whatever it
    /// emitted after its last hand-over.
    pub(crate) fn hold(&mut self, reply: Option<(oneshot::Sender<R>, R)>, ack: Option<Waiter>) {
        if reply.is_none() && ack.is_none() && self.events.is_empty() && self.posts.is_empty() {
            return;
        }
        let (events, posts) = (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.posts),
        );
        self.held.push_back(Held {
            seq: self.seq,
            reply,
            ack,
            events,
            posts,
        });
    }

    /// Queues `waiter` behind the current state's commit, leaving what the running turn
    /// staged and emitted for a later hand-over (a turn whose save is deferred).
    #[cfg(feature = "http")]
    pub(crate) fn wait(&mut self, waiter: Waiter) {
        self.held.push_back(Held {
            seq: self.seq,
            reply: None,
            ack: Some(waiter),
            events: Vec::new(),
            posts: Vec::new(),
        });
    }

    /// True while something waits for a commit.
    pub(crate) fn holds_anything(&self) -> bool {
        !self.held.is_empty() || self.log.durable_seq() < self.seq
    }

    /// Releases every outcome whose turn is durable: replies and acknowledgements are sent;
    /// events and posts are returned, in order. Also reports a failed commit, which the
    /// caller handles with [`roll_back`](Turns::roll_back).
    pub(crate) fn release(&mut self) -> Released<E> {
        let status = self.log.status();
        let mut released = Released {
            events: Vec::new(),
            posts: Vec::new(),
            failure: status.failure,
        };
        while self.held.front().is_some_and(|h| h.seq <= status.durable) {
            let Some(held) = self.held.pop_front() else {
                break;
            };
            if let Some((tx, reply)) = held.reply {
                let _ = tx.send(reply);
            }
            if let Some(ack) = held.ack {
                ack.durable();
            }
            released.events.extend(held.events);
            released.posts.extend(held.posts);
        }
        released
    }

    /// After a failed commit, as one operation: the writer's pending turns are dropped, the
    /// last durable record becomes the current one, every outcome still held fails (replies
    /// get `fail`, acknowledgements `false`; events and posts are dropped: their turns never
    /// happened), and the running turn's staged writes go too. Returns the record the state
    /// must be restored from.
    pub(crate) fn roll_back(
        &mut self,
        error: &Arc<StorageError>,
        fail: impl Fn() -> R,
    ) -> Arc<Vec<u8>> {
        let (seq, record) = self.log.roll_back();
        self.seq = seq;
        self.last = Arc::clone(&record);
        self.discard();
        for held in self.held.drain(..) {
            if let Some((tx, _)) = held.reply {
                let _ = tx.send(fail());
            }
            if let Some(ack) = held.ack {
                ack.failed(&self.log.path, error);
            }
        }
        record
    }

    /// Stages the actor's deletion as a turn of its own and hands it over; returns its
    /// sequence number, to wait for.
    pub(crate) fn destroy(&mut self) -> u64 {
        let mut ops = std::mem::take(&mut self.ops);
        ops.push(Op::Destroy);
        self.hand_over(None, ops);
        self.seq
    }

    /// Hands a new turn to the writer under the next sequence number.
    fn hand_over(&mut self, record: Option<Arc<Vec<u8>>>, ops: Vec<Op>) {
        self.seq = self.next_seq;
        self.next_seq += 1;
        if self.log.submit(self.seq, record, ops)
            && self
                .writer
                .send(Request::Take(Arc::clone(&self.log) as Arc<dyn Source>))
                .is_err()
        {
            self.log
                .failed(Arc::new(StorageError::backend("the writer has stopped")));
        }
    }
}

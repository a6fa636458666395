//! The outbox's delivery service: it hands every committed message to its receiver, in the
//! order its sender sent it.
//!
//! A message is written by the sender's turn and removed by the receiver's turn that applies
//! it, in the same commit as the receiver's state: so it is applied exactly once, across
//! crashes. Messages reach the service from turns once they are durable, and, when a system
//! opens, from storage (everything a previous run left; loaded before any actor runs, so a
//! message is never queued twice). Messages from one sender to one receiver go one after
//! another, in sequence order; other pairs go in parallel. A message that cannot be
//! delivered now (the receiver is stopping, its commit failed) is tried again after a pause;
//! one that never can (the receiver does not exist, the action does not decode) is removed,
//! with a warning. A message to an actor type the system does not know yet waits until the
//! type is used or declared.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::deliver::{Delivered, Deliverers};
use crate::error::StorageError;
use crate::key::ActorKey;
use crate::storage::{MessageRow, Write};
use crate::store::Store;
use crate::turn::{Ack, Message};
use crate::writer::Job;

/// Messages read from storage at a time, when the system opens.
const PAGE: usize = 1024;
/// The first wait before a message is tried again, doubled up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// A sender and a receiver: messages between them keep their order.
type Pair = (String, String, String, String);

/// A message as the service keeps it.
#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    to_kind: String,
    to_key: String,
    action: Arc<[u8]>,
}

/// A pair's messages, and whether a worker delivers them (one at most, to keep the order).
#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Pending>,
    worker: bool,
}

/// See the module docs.
pub(crate) struct Outbox {
    store: Arc<Store>,
    deliverers: Weak<dyn Deliverers>,
    /// Per pair, the messages not yet applied, in order.
    queues: Mutex<HashMap<Pair, Queue>>,
    /// Pairs whose receiver type is not known yet, by that type's name.
    waiting: Mutex<HashMap<String, Vec<Pair>>>,
    /// Set by [`resume`](Outbox::resume) once the system exists: until then (while messages
    /// load at open) nothing is delivered.
    running: AtomicBool,
    stopped: AtomicBool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    /// A service with nothing to deliver yet.
    pub(crate) fn empty(store: Arc<Store>, deliverers: Weak<dyn Deliverers>) -> Arc<Self> {
        Arc::new(Self {
            store,
            deliverers,
            queues: Mutex::new(HashMap::new()),
            waiting: Mutex::new(HashMap::new()),
            running: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        })
    }

    /// Loads every message a previous run left (blocking reads); they go once
    /// [`resume`](Outbox::resume) is called.
    pub(crate) fn open(
        store: Arc<Store>,
        deliverers: Weak<dyn Deliverers>,
    ) -> Result<Arc<Self>, StorageError> {
        let outbox = Self::empty(store, deliverers);
        let storage = outbox
            .store
            .storage()
            .ok_or_else(|| StorageError::backend("the storage is closed"))?;
        let mut after = None;
        loop {
            let rows = storage.messages(after, PAGE)?;
            let full = rows.len() == PAGE;
            after = rows.last().map(|row| row.seq);
            for row in rows {
                outbox.queue(pair_of_row(&row), pending_of_row(row));
            }
            if !full {
                break;
            }
        }
        Ok(outbox)
    }

    /// A durable turn sent `message`.
    pub(crate) fn posted(self: &Arc<Self>, message: Message) {
        let pair = (
            message.from.kind.to_owned(),
            message.from.key.as_str().to_owned(),
            message.to_kind.to_owned(),
            message.to_key.clone(),
        );
        let pending = Pending {
            seq: message.seq,
            to_kind: message.to_kind.to_owned(),
            to_key: message.to_key,
            action: message.action,
        };
        self.queue(pair, pending);
    }

    /// The actor type `kind` is known now: its waiting messages go.
    pub(crate) fn known(self: &Arc<Self>, kind: &str) {
        let pairs = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(kind)
            .unwrap_or_default();
        for pair in pairs {
            self.start(pair);
        }
    }

    /// Stops delivering (deliveries in flight finish on their own).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Starts delivering everything loaded at open (called once the system exists).
    pub(crate) fn resume(self: &Arc<Self>) {
        self.running.store(true, Ordering::SeqCst);
        let pairs: Vec<Pair> = self
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        for pair in pairs {
            self.start(pair);
        }
    }

    fn queue(self: &Arc<Self>, pair: Pair, pending: Pending) {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(pair.clone())
            .or_default()
            .messages
            .push_back(pending);
        self.start(pair);
    }

    /// Starts the pair's worker, unless it has one (or the service is not running yet).
    fn start(self: &Arc<Self>, pair: Pair) {
        if !self.running.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            match queues.get_mut(&pair) {
                Some(queue) if !queue.worker && !queue.messages.is_empty() => queue.worker = true,
                _ => return,
            }
        }
        tokio::spawn(Arc::clone(self).deliver(pair));
    }

    /// The pair's next message, or `None` (and the worker ends) when there is none.
    fn next(&self, pair: &Pair, delivered: bool) -> Option<Pending> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.get_mut(pair)?;
        if delivered {
            queue.messages.pop_front();
        }
        if let Some(next) = queue.messages.front() {
            return Some(next.clone());
        }
        queues.remove(pair);
        None
    }

    /// Delivers a pair's messages one after another, until its queue is empty.
    async fn deliver(self: Arc<Self>, pair: Pair) {
        let mut pause = RETRY;
        let mut delivered = false;
        loop {
            let Some(next) = self.next(&pair, delivered) else {
                return;
            };
            delivered = false;
            let deliver = self
                .deliverers
                .upgrade()
                .and_then(|d| d.deliverer(&next.to_kind));
            let Some(deliver) = deliver.filter(|_| !self.stopped.load(Ordering::SeqCst)) else {
                // Stopped, or waiting for its receiver's type (`known` starts it again).
                let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(queue) = queues.get_mut(&pair) {
                    queue.worker = false;
                }
                drop(queues);
                if !self.stopped.load(Ordering::SeqCst) {
                    self.waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(next.to_kind.clone())
                        .or_default()
                        .push(pair.clone());
                    // The type may have become known while this worker was deciding.
                    if self
                        .deliverers
                        .upgrade()
                        .and_then(|d| d.deliverer(&next.to_kind))
                        .is_some()
                    {
                        self.known(&next.to_kind);
                    }
                }
                return;
            };
            let outcome = deliver
                .deliver(
                    ActorKey::from_encoded(next.to_key.clone()),
                    Arc::clone(&next.action),
                    Ack::Message { seq: next.seq },
                )
                .await;
            match outcome {
                Delivered::Retry => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY);
                    continue;
                }
                Delivered::Gone(reason) => {
                    tracing::warn!(to = %format!("{}({:?})", next.to_kind, next.to_key), seq = next.seq, %reason, "a message cannot be delivered; it is removed");
                    self.store
                        .writer()
                        .submit(Box::new(Remove { seq: next.seq }));
                }
                Delivered::Done => {}
            }
            pause = RETRY;
            delivered = true;
        }
    }
}

fn pair_of_row(row: &MessageRow) -> Pair {
    (
        row.from_kind.clone(),
        row.from_key.clone(),
        row.to_kind.clone(),
        row.to_key.clone(),
    )
}

fn pending_of_row(row: MessageRow) -> Pending {
    Pending {
        seq: row.seq,
        to_kind: row.to_kind,
        to_key: row.to_key,
        action: row.action.into(),
    }
}

/// Removes a message that can never be delivered.
struct Remove {
    seq: u64,
}

impl Job for Remove {
    fn writes<'a>(&'a mut self, out: &mut Vec<Write<'a>>) {
        out.push(Write::DeleteMessage { seq: self.seq });
    }

    fn done(self: Box<Self>, _: Result<(), Arc<StorageError>>) {}
}

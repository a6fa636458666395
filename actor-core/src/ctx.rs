//! [`Ctx`]: what an action knows about the actor it runs in.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};

use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{EncodeError, SaveError, StorageError};
use crate::key::{ActorKey, ActorPath};
use crate::slot::Slot;
use crate::snapshot;
use crate::system::{System, SystemInner};
use crate::writer::Done;
use crate::writer::{Request, WriterHandle};

/// The context of an action: the actor's identity, the system it runs in, and
/// [`save_state`](Ctx::save_state).
///
/// It also holds the actor's persistence bookkeeping (the last snapshot handed to the writer),
/// which is why it is passed to actions rather than built per call.
pub struct Ctx<A: Actor> {
    pub(crate) slot: Arc<Slot>,
    // Weak: the system owns its actors, an actor must not keep its system alive.
    system: Weak<SystemInner>,
    writer: WriterHandle,
    /// The newest record handed to the writer (or loaded): what change detection compares to.
    pub(crate) last: Arc<Vec<u8>>,
    /// The sequence number of `last`; replies observing the current state wait for it.
    pub(crate) seq: u64,
    next_seq: u64,
    /// Reused encode buffer: an unchanged state costs no allocation.
    scratch: Vec<u8>,
    /// `ActorConfig::max_state_bytes`, read once.
    max_state_bytes: usize,
    _actor: PhantomData<fn() -> A>,
}

/// Why a state was not handed to the writer.
#[derive(Debug)]
pub(crate) enum SubmitError {
    Encode(EncodeError),
    TooLarge { size: usize, limit: usize },
}

impl From<SubmitError> for SaveError {
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Encode(e) => Self::Encode(e),
            SubmitError::TooLarge { size, limit } => Self::TooLarge { size, limit },
        }
    }
}

impl<A: Actor> fmt::Debug for Ctx<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("actor", &self.slot.path)
            .field("id", &self.slot.id)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Ctx<A> {
    /// A context whose current state is `record`, the slot's newest durable snapshot (empty
    /// for an actor being created).
    pub(crate) fn new(
        slot: Arc<Slot>,
        system: Weak<SystemInner>,
        writer: WriterHandle,
        record: Arc<Vec<u8>>,
    ) -> Self {
        let seq = slot.durable_seq();
        Self {
            slot,
            system,
            writer,
            last: record,
            seq,
            next_seq: seq + 1,
            scratch: Vec::new(),
            max_state_bytes: A::config().max_state_bytes,
            _actor: PhantomData,
        }
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.slot.path.key
    }

    /// The actor's id: a uuid assigned when it was created, stable across restarts.
    pub fn id(&self) -> Uuid {
        self.slot.id
    }

    /// The actor's type name and key.
    pub fn path(&self) -> &ActorPath {
        &self.slot.path
    }

    /// The system this actor runs in, to reach other actors; `None` once it is shut down.
    ///
    /// Calls from an action to another actor wait until this actor's state, as handed over
    /// so far, is durable. Changes made earlier in the *current* action are handed over only
    /// when it ends, or by [`save_state`](Ctx::save_state): call it first when the call out
    /// depends on them.
    pub fn system(&self) -> Option<System> {
        self.system.upgrade().map(System::from_inner)
    }

    /// Makes `state` durable now, in the middle of an action, and returns once it is.
    ///
    /// Use it before a long wait, or before telling the outside world about a change. If the
    /// state is unchanged since the last snapshot, nothing is written.
    pub async fn save_state(&mut self, state: &A) -> Result<(), SaveError> {
        self.submit(state)?;
        self.slot
            .wait_durable(Some(self.seq))
            .await
            .map_err(SaveError::Commit)
    }

    /// Encodes `state`; if its bytes differ from the last snapshot, hands it to the writer
    /// and returns true.
    pub(crate) fn submit(&mut self, state: &A) -> Result<bool, SubmitError> {
        if self.scratch.capacity() == 0 {
            self.scratch.reserve(self.last.len() + 16);
        }
        snapshot::encode(&mut self.scratch, self.slot.id, A::STATE_VERSION, state)
            .map_err(SubmitError::Encode)?;
        if self.scratch[..] == self.last[..] {
            return Ok(false);
        }
        let size = self.scratch.len() - snapshot::HEADER_LEN;
        if size > self.max_state_bytes {
            return Err(SubmitError::TooLarge {
                size,
                limit: self.max_state_bytes,
            });
        }
        let record = Arc::new(std::mem::take(&mut self.scratch));
        self.seq = self.next_seq;
        self.next_seq += 1;
        self.last = Arc::clone(&record);
        if self.slot.submit(self.seq, record)
            && self
                .writer
                .send(Request::Snapshot(Arc::clone(&self.slot)))
                .is_err()
        {
            self.slot
                .failed(Arc::new(StorageError::backend("the writer has stopped")));
        }
        Ok(true)
    }

    /// True if `state` encodes to the last snapshot's bytes.
    pub(crate) fn unchanged(&mut self, state: &A) -> bool {
        snapshot::encode(&mut self.scratch, self.slot.id, A::STATE_VERSION, state).is_ok()
            && self.scratch[..] == self.last[..]
    }

    /// Asks the writer to delete this actor's record.
    pub(crate) fn delete(&self, done: Done) -> bool {
        self.writer
            .send(Request::Delete {
                kind: self.slot.path.kind,
                key: self.slot.path.key.as_str().to_owned(),
                done,
            })
            .is_ok()
    }

    /// After a failed commit: the last durable record becomes the current one.
    pub(crate) fn reset_to(&mut self, seq: u64, record: Arc<Vec<u8>>) {
        self.seq = seq;
        self.last = record;
    }
}

//! [`Ctx`]: what an action sees of the actor it runs in, and what it adds to its turn.
//!
//! A thin view: the turn's bookkeeping lives in `turn`; this module turns the action's
//! requests (save now, schedule, send, emit, write a key) into what the turn stages.
//!
//! `actor` and `ctx` import each other: the hooks of [`Actor`] take a `Ctx<Self>`, and a
//! `Ctx` is generic over the actor it serves.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::{Actor, Reply};
use crate::error::{KvError, SaveError, ScheduleError, SendError};
use crate::host::Host;
use crate::key::{ActorKey, ActorPath};
use crate::limits::{MAX_ACTOR_KEY_BYTES, quote};
use crate::turn::{Message, Op, Posted, SubmitError, Turns};

/// The id of a schedule, to cancel it. Serializable, so that an actor can keep it in its
/// state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScheduleId(pub(crate) u64);

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "schedule-{:x}", self.0)
    }
}

/// The context of an action or hook: the actor's identity, the system it runs in, and what
/// the running turn commits besides the state: [`save_state`](Ctx::save_state),
/// [schedules](Ctx::schedule_after), [messages](Ctx::send), [events](Ctx::emit) and
/// [key-value writes](Ctx::kv_set).
///
/// Everything staged here commits with the turn's state, in the same transaction, or not at
/// all: an action that returns an error, panics, or whose commit fails leaves no schedule,
/// no message, no event and no key-value write behind.
pub struct Ctx<A: Actor> {
    pub(crate) turns: Turns<Reply<A>, Arc<A::Event>>,
    // Weak: the system owns its actors, an actor must not keep its system alive.
    pub(crate) host: Weak<dyn Host>,
    /// Schedules this activation cancelled: a firing of one that was already on its way is
    /// skipped when it arrives.
    pub(crate) cancelled: Vec<u64>,
    _actor: PhantomData<fn() -> A>,
}

impl<A: Actor> fmt::Debug for Ctx<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("actor", self.path())
            .field("id", &self.id())
            .field("seq", &self.turns.seq())
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Ctx<A> {
    pub(crate) fn new(turns: Turns<Reply<A>, Arc<A::Event>>, host: Weak<dyn Host>) -> Self {
        Self {
            turns,
            host,
            cancelled: Vec::new(),
            _actor: PhantomData,
        }
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.turns.log.path.key
    }

    /// The actor's id: a uuid assigned when it was created, stable across restarts.
    pub fn id(&self) -> Uuid {
        self.turns.log.id
    }

    /// The actor's type name and key.
    pub fn path(&self) -> &ActorPath {
        &self.turns.log.path
    }

    /// Makes `state`, and everything this turn staged so far, durable now, in the middle of
    /// an action, and returns once it is.
    ///
    /// Use it before a long wait, or before telling the outside world about a change. If
    /// the state is unchanged and nothing is staged, nothing is written.
    pub async fn save_state(&mut self, state: &A) -> Result<(), SaveError> {
        self.turns.submit(state).map_err(|error| match error {
            SubmitError::Encode(e) => SaveError::Encode(e),
            SubmitError::TooLarge { size, limit } => SaveError::TooLarge { size, limit },
        })?;
        self.turns
            .log
            .wait_durable(Some(self.turns.seq()))
            .await
            .map_err(SaveError::Commit)
    }

    /// Schedules one of this actor's own actions to run `delay` from now, and returns its
    /// id. The schedule commits with this turn (a turn that fails schedules nothing); it
    /// fires even if the actor sleeps or the process restarted meanwhile, as a turn of its
    /// own that removes it in the same commit, so it runs exactly once.
    #[allow(clippy::needless_pass_by_value)] // the action is given away, as to `ask`
    pub fn schedule_after(
        &mut self,
        delay: Duration,
        action: A::Action,
    ) -> Result<ScheduleId, ScheduleError> {
        let host = self.host.upgrade().ok_or(ScheduleError::Shutdown)?;
        let delay = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let due_ms = host.now_ms().saturating_add(delay);
        self.schedule(&*host, due_ms, &action)
    }

    /// Schedules one of this actor's own actions to run at `at` (wall-clock time; a time in
    /// the past fires at once). See [`schedule_after`](Ctx::schedule_after).
    #[allow(clippy::needless_pass_by_value)] // the action is given away, as to `ask`
    pub fn schedule_at(
        &mut self,
        at: SystemTime,
        action: A::Action,
    ) -> Result<ScheduleId, ScheduleError> {
        let host = self.host.upgrade().ok_or(ScheduleError::Shutdown)?;
        let due_ms = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.schedule(&*host, due_ms, &action)
    }

    fn schedule(
        &mut self,
        host: &dyn Host,
        due_ms: u64,
        action: &A::Action,
    ) -> Result<ScheduleId, ScheduleError> {
        let action: Arc<[u8]> = A::encode_action(action)
            .map_err(ScheduleError::Encode)?
            .into();
        let id = host.next_id().map_err(ScheduleError::Storage)?;
        self.turns.stage(
            Op::Schedule { id, due_ms, action },
            Some(Posted::Schedule { due_ms }),
        );
        Ok(ScheduleId(id))
    }

    /// Cancels one of this actor's schedules, with this turn. Cancelling one that already
    /// fired (or never existed) does nothing.
    pub fn cancel_schedule(&mut self, id: ScheduleId) {
        self.turns.stage(Op::Cancel { id: id.0 }, None);
        if !self.cancelled.contains(&id.0) {
            self.cancelled.push(id.0);
        }
    }

    /// Sends `action` to the actor `B` at `key`, without waiting for it. The message commits
    /// with this turn (a turn that fails sends nothing), is delivered only after that commit,
    /// survives crashes (it is delivered after a restart), and is applied by the receiver
    /// exactly once, in a turn of its own that removes it from the outbox in the same commit.
    /// Messages from one actor to another arrive in the order they were sent.
    ///
    /// The receiver must exist (a message to a missing actor is dropped, with a warning) and
    /// its type must be known to the system: used through it, or declared with
    /// [`SystemBuilder::actor`](crate::SystemBuilder::actor).
    #[allow(clippy::needless_pass_by_value)] // the action is given away, as to `ask`
    pub fn send<B: Actor>(
        &mut self,
        key: impl Into<ActorKey>,
        action: B::Action,
    ) -> Result<(), SendError> {
        let key = key.into();
        if key.as_str().len() > MAX_ACTOR_KEY_BYTES {
            return Err(SendError::KeyTooLong {
                len: key.as_str().len(),
                prefix: quote(key.as_str()),
            });
        }
        let host = self.host.upgrade().ok_or(SendError::Shutdown)?;
        let action: Arc<[u8]> = B::encode_action(&action).map_err(SendError::Encode)?.into();
        let seq = host.next_id().map_err(SendError::Storage)?;
        let message = Message {
            seq,
            from: self.path().clone(),
            to_kind: B::NAME,
            to_key: key.as_str().to_owned(),
            action,
        };
        self.turns
            .stage(Op::Send(message.clone()), Some(Posted::Message(message)));
        Ok(())
    }

    /// Emits an event, published to the actor's subscribers
    /// ([`Handle::subscribe`](crate::Handle::subscribe)) once this turn is durable, in
    /// commit order. A turn that fails emits nothing.
    pub fn emit(&mut self, event: A::Event) {
        self.turns.emit(Arc::new(event));
    }

    /// Sets `key` in the key-value store `store`, with this turn: atomic with the actor's
    /// state. Reads (through a [`KvStore`](crate::KvStore)) see it once the turn is durable.
    pub fn kv_set(
        &mut self,
        store: &str,
        key: &str,
        value: impl Into<String>,
    ) -> Result<(), KvError> {
        let value = value.into();
        crate::kv::check_write(store, key, Some(&value))?;
        self.turns.stage(
            Op::KvSet {
                store: store.to_owned(),
                key: key.to_owned(),
                value,
            },
            None,
        );
        Ok(())
    }

    /// Deletes `key` from the key-value store `store`, with this turn. See
    /// [`kv_set`](Ctx::kv_set).
    pub fn kv_delete(&mut self, store: &str, key: &str) -> Result<(), KvError> {
        crate::kv::check_write(store, key, None)?;
        self.turns.stage(
            Op::KvDelete {
                store: store.to_owned(),
                key: key.to_owned(),
            },
            None,
        );
        Ok(())
    }
}

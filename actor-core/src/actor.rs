//! The [`Actor`] trait: what a type provides to become a durable actor.
//!
//! `actor` and `ctx` import each other: the trait's hooks take a `Ctx<Self>`, and a `Ctx` is
//! generic over the actor it serves.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::error::{AskError, DecodeError, EncodeError};
use crate::snapshot::StoredState;

/// What an action's caller gets back.
pub(crate) type Reply<A> = Result<<A as Actor>::Reply, AskError<<A as Actor>::Error>>;

/// Decodes an actor's record into its id and state, migrating a record of another state
/// version with [`Actor::migrate`].
pub(crate) fn decode<A: Actor>(record: &[u8]) -> Result<(uuid::Uuid, A), DecodeError> {
    crate::snapshot::decode_state(record, A::STATE_VERSION, A::migrate)
        .map(|(header, state)| (header.id, state))
}

/// A durable actor: its state is `Self`, persisted as CBOR after every action that changed it.
///
/// Serialized fields are the persisted state; fields marked `#[serde(skip)]` are ephemeral
/// and come back as their `Default` after a restart or a reload.
///
/// Actions are values of [`Action`](Actor::Action). The runtime first offers each one to
/// [`handle_read`](Actor::handle_read), which sees `&self` and either answers it (a read-only
/// action: nothing is encoded, nothing is written) or hands it back; then it goes to
/// [`handle`](Actor::handle), which sees `&mut self`. After `handle`, the state is encoded and
/// written only if its bytes differ from the last snapshot.
///
/// ```
/// use actor_core::{Actor, Ctx, ReadOutcome};
/// use serde::{Deserialize, Serialize};
/// use std::convert::Infallible;
///
/// #[derive(Serialize, Deserialize, Default)]
/// struct Counter {
///     count: i64,
/// }
///
/// enum CounterAction {
///     Increment(i64),
///     Get,
/// }
///
/// impl Actor for Counter {
///     const NAME: &'static str = "Counter";
///     type Input = ();
///     type Action = CounterAction;
///     type Reply = i64;
///     type Error = Infallible;
///     type Event = ();
///
///     fn create_state((): ()) -> Self {
///         Self::default()
///     }
///
///     async fn handle(&mut self, action: CounterAction, _ctx: &mut Ctx<Self>) -> Result<i64, Infallible> {
///         match action {
///             CounterAction::Increment(by) => self.count += by,
///             CounterAction::Get => {}
///         }
///         Ok(self.count)
///     }
///
///     async fn handle_read(&self, action: CounterAction, _ctx: &Ctx<Self>) -> ReadOutcome<Self> {
///         match action {
///             CounterAction::Get => ReadOutcome::Done(Ok(self.count)),
///             other => ReadOutcome::NeedsWrite(other),
///         }
///     }
/// }
/// ```
pub trait Actor: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// The actor type's name: part of every stored key, so renaming it orphans stored actors.
    const NAME: &'static str;

    /// The version of the state's shape, stored with every snapshot. A record with another
    /// version goes to [`migrate`](Actor::migrate), which by default refuses it with
    /// [`DecodeError::StateVersion`](crate::DecodeError::StateVersion) rather than decode it
    /// into the wrong shape.
    const STATE_VERSION: u32 = 1;

    /// The names of the actions that can be called by name
    /// ([`Handle::ask_json`](crate::Handle::ask_json), [`Handle::ask_cbor`](crate::Handle::ask_cbor)),
    /// in declaration order. `#[actions]` fills it in. With the list, a call by an unknown name
    /// fails with [`ByNameError::UnknownAction`](crate::ByNameError::UnknownAction), which
    /// lists the valid names; left empty (the default), every name goes to the action type's
    /// `Deserialize` and a wrong one is a [`ByNameError::Arguments`](crate::ByNameError::Arguments).
    const ACTIONS: &'static [&'static str] = &[];

    /// The argument names of each action in [`ACTIONS`](Actor::ACTIONS), in the same order
    /// (`ARGUMENTS[i]` belongs to `ACTIONS[i]`): the fields of the JSON object a call by name
    /// takes. `#[actions]` fills it in; a hand-written actor may leave it empty (the default),
    /// and then a listing of its actions says their arguments are not known.
    const ARGUMENTS: &'static [&'static [&'static str]] = &[];

    /// What [`create_state`](Actor::create_state) takes. `()` for actors whose initial state is
    /// a constant.
    type Input: Send + 'static;

    /// The messages the actor handles.
    type Action: Send + 'static;

    /// What an action returns to its caller.
    type Reply: Send + 'static;

    /// What a failed action returns. A returned error rolls the state back to what it was
    /// before the action.
    type Error: Send + 'static;

    /// What the actor emits with [`Ctx::emit`]: published to subscribers once the turn that
    /// emitted it is durable. `()` for an actor without events. Serializable, so that events
    /// can travel beyond the process.
    type Event: Serialize + Send + Sync + 'static;

    /// The initial state, called exactly once: when the actor is first created. Never on a
    /// reload, a restart after a crash, or a new run of the program.
    fn create_state(input: Self::Input) -> Self;

    /// Builds the current state from a record stored under another
    /// [`STATE_VERSION`](Actor::STATE_VERSION), when the actor is loaded after an upgrade:
    /// decode the old shape with [`StoredState::decode`] and convert it. The migrated state is
    /// written back in the current version as the actor starts, so each record is migrated
    /// once. Runs before `on_wake`; it must not panic.
    ///
    /// The default refuses every other version: the actor's first call fails with
    /// [`DecodeError::StateVersion`] and the record is left as it was.
    fn migrate(stored: StoredState<'_>) -> Result<Self, DecodeError> {
        Err(stored.unsupported())
    }

    /// Encodes an action for storage: a [schedule](Ctx::schedule_after) of this actor, or a
    /// [message](Ctx::send) to it. `#[actions]` implements it (its action enums are serde);
    /// by hand, forward to [`encode_cbor`](crate::encode_cbor) when the actions are
    /// `Serialize`. The default refuses: such an actor cannot be scheduled or sent to.
    fn encode_action(action: &Self::Action) -> Result<Vec<u8>, EncodeError> {
        let _ = action;
        Err(EncodeError::NotStorable { actor: Self::NAME })
    }

    /// Decodes an action stored by [`encode_action`](Actor::encode_action). By hand, forward
    /// to [`decode_cbor`](crate::decode_cbor).
    fn decode_action(bytes: &[u8]) -> Result<Self::Action, DecodeError> {
        let _ = bytes;
        Err(DecodeError::NotStorable { actor: Self::NAME })
    }

    /// Mailbox size and restart policy for actors of this type.
    fn config() -> ActorConfig {
        ActorConfig::default()
    }

    /// Runs an action that may change the state.
    fn handle(
        &mut self,
        action: Self::Action,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<Self::Reply, Self::Error>> + Send;

    /// Called once in the actor's life, right after [`create_state`](Actor::create_state) and
    /// before the first state is written: its changes are part of the actor's first record.
    fn on_create(&mut self, ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Called every time the actor is loaded into memory (after `on_create` for a new actor,
    /// after a reload from disk, after a panic, when woken from sleep), before any action.
    /// The place to rebuild ephemeral (`#[serde(skip)]`) fields: connections, caches,
    /// channels. Changes to persisted fields are written like an action's.
    fn on_wake(&mut self, ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Called after an action (or hook) changed the persisted state, with the new state, once
    /// that state has been handed to the writer (replies still wait for it to be durable).
    fn on_state_change(&self, ctx: &Ctx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Called before an idle actor leaves memory. Changes are written before it goes.
    fn on_sleep(&mut self, ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Called before the actor and its state are deleted by
    /// [`Handle::destroy`](crate::Handle::destroy).
    fn on_destroy(&mut self, ctx: &mut Ctx<Self>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Runs an action that only reads the state, or hands it back for
    /// [`handle`](Actor::handle). The default hands every action back.
    fn handle_read(
        &self,
        action: Self::Action,
        ctx: &Ctx<Self>,
    ) -> impl Future<Output = ReadOutcome<Self>> + Send {
        let _ = ctx;
        async move { ReadOutcome::NeedsWrite(action) }
    }
}

/// What [`Actor::handle_read`] did with an action.
#[derive(Debug)]
pub enum ReadOutcome<A: Actor> {
    /// The action only read the state; this is its result.
    Done(Result<A::Reply, A::Error>),
    /// The action needs `&mut self`: it goes to [`Actor::handle`].
    NeedsWrite(A::Action),
}

/// Per-type settings of an actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActorConfig {
    /// How many actions may wait in the mailbox before callers wait to send. Default: 64.
    pub mailbox_capacity: usize,
    /// What happens when actions panic.
    pub restart: RestartPolicy,
    /// The largest encoded state an actor may have. An action that would exceed it fails
    /// with [`AskError::StateTooLarge`](crate::AskError::StateTooLarge) and is rolled back.
    /// Default: 4 MiB.
    pub max_state_bytes: usize,
    /// How long an actor may stay idle before it leaves memory (`None`: never). It sleeps
    /// after between one and two such periods without an action, and wakes on its next call.
    /// Default: 60 s.
    pub sleep_after: Option<Duration>,
    /// How many events a subscriber may fall behind before it lags (it then learns how many
    /// it missed, and the actor never waits for it). Default: 256.
    pub event_capacity: usize,
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self {
            mailbox_capacity: 64,
            restart: RestartPolicy::default(),
            max_state_bytes: 4 << 20,
            sleep_after: Some(Duration::from_secs(60)),
            event_capacity: 256,
        }
    }
}

impl ActorConfig {
    /// Sets the mailbox capacity (at least 1).
    #[must_use]
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity.max(1);
        self
    }

    /// Sets the restart policy.
    #[must_use]
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// Sets the largest encoded state allowed.
    #[must_use]
    pub fn max_state_bytes(mut self, bytes: usize) -> Self {
        self.max_state_bytes = bytes;
        self
    }

    /// Sets how many events a subscriber may fall behind before it lags (at least 1).
    #[must_use]
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Sets the idle time before the actor sleeps (`None`: never).
    #[must_use]
    pub fn sleep_after(mut self, idle: Option<Duration>) -> Self {
        self.sleep_after = idle;
        self
    }
}

/// How an actor recovers from panics in its actions.
///
/// After a panic the actor reloads its last snapshot and waits a backoff before its next
/// action: `initial_backoff` doubled for each further panic in the window, up to
/// `max_backoff`. More than `max_restarts` panics within `window` stop the actor with
/// [`StopReason::CrashLoop`](crate::StopReason::CrashLoop); a later
/// [`System::get_or_create`](crate::System::get_or_create) starts it afresh from disk, and so
/// does a call through an old handle once `max_backoff` has passed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// Panics allowed within `window`. Default: 5.
    pub max_restarts: u32,
    /// The window panics are counted in. Default: 10 s.
    pub window: Duration,
    /// The wait after the first panic. Default: 10 ms.
    pub initial_backoff: Duration,
    /// The longest wait. Default: 1 s.
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RestartPolicy {
    /// A policy allowing `max_restarts` panics within `window`, with the default backoff.
    pub fn new(max_restarts: u32, window: Duration) -> Self {
        Self {
            max_restarts,
            window,
            ..Self::default()
        }
    }

    /// Sets the backoff range.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// The wait after the `n`-th panic in the window (1-based).
    pub(crate) fn backoff_for(&self, n: u32) -> Duration {
        let factor = 1u32 << n.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

//! [`Handle`]: the cheap, cloneable address of one running actor.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::actor::Actor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AskError, ByNameError, TellError};
use crate::key::{ActorKey, ActorPath};
use crate::slot::Slot;

/// What an action's caller gets back.
pub(crate) type Reply<A> = Result<<A as Actor>::Reply, AskError<<A as Actor>::Error>>;

/// What a mailbox carries.
pub(crate) enum Envelope<A: Actor> {
    /// An action, with the way back to its caller (none for a `tell`).
    Action {
        action: A::Action,
        reply: Option<oneshot::Sender<Reply<A>>>,
    },
    /// Delete the actor and its state.
    Destroy(oneshot::Sender<Result<(), AskError<Infallible>>>),
}

tokio::task_local! {
    /// The slot of the actor whose task is running, so that a call out of an action can wait
    /// for that actor's state to be durable first (the output gate).
    pub(crate) static CURRENT: Arc<Slot>;
}

/// Why a call out of an action may not leave.
enum Gate {
    Reentrant,
    Commit(Arc<Slot>, Arc<crate::StorageError>),
}

/// Inside an action: waits until the calling actor's state is durable. Outside: nothing.
async fn gate(target: &Arc<Slot>) -> Result<(), Gate> {
    let Ok(current) = CURRENT.try_with(Arc::clone) else {
        return Ok(());
    };
    if Arc::ptr_eq(&current, target) {
        return Err(Gate::Reentrant);
    }
    match current.wait_durable(None).await {
        Ok(()) => Ok(()),
        Err(error) => Err(Gate::Commit(current, error)),
    }
}

/// The address of one actor: send it actions with [`ask`](Handle::ask) or
/// [`tell`](Handle::tell). Cloning is cheap (two reference counts).
///
/// Called from inside another actor's action, `ask` and `tell` first wait until the calling
/// actor's state, as handed over so far, is durable: nothing leaves an actor that a crash
/// could take back.
pub struct Handle<A: Actor> {
    pub(crate) tx: mpsc::Sender<Envelope<A>>,
    pub(crate) slot: Arc<Slot>,
}

impl<A: Actor> Clone for Handle<A> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<A: Actor> fmt::Debug for Handle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("actor", &self.slot.path)
            .field("id", &self.slot.id)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Handle<A> {
    /// The actor's id: a uuid assigned when it was created, stable across restarts.
    pub fn id(&self) -> Uuid {
        self.slot.id
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.slot.path.key
    }

    /// The actor's type name and key.
    pub fn path(&self) -> &ActorPath {
        &self.slot.path
    }

    /// True while the actor sleeps (out of memory; the next call wakes it).
    pub fn is_asleep(&self) -> bool {
        self.slot.is_asleep()
    }

    /// True once the actor has stopped taking actions (shutdown, crash loop, destroy).
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends an action and waits for its reply. The reply is released only once the state
    /// the action left (or saw) is durable.
    pub async fn ask(&self, action: A::Action) -> Result<A::Reply, AskError<A::Error>> {
        self.ask_gate().await?;
        let (tx, rx) = oneshot::channel();
        let envelope = Envelope::Action {
            action,
            reply: Some(tx),
        };
        self.deliver(envelope).await.map_err(|_| self.stopped())?;
        rx.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    /// Deletes the actor: runs its `on_destroy` hook, waits until its earlier actions are
    /// durable, deletes its record, and stops it. Actions queued behind the destroy fail with
    /// [`StopReason::Destroyed`](crate::StopReason::Destroyed); a later
    /// [`System::get_or_create`](crate::System::get_or_create) creates it afresh.
    pub async fn destroy(&self) -> Result<(), AskError<Infallible>> {
        let (tx, rx) = oneshot::channel();
        self.deliver(Envelope::Destroy(tx))
            .await
            .map_err(|_| self.stopped_plain())?;
        rx.await.unwrap_or_else(|_| Err(self.stopped_plain()))
    }

    /// Puts an envelope in the mailbox, waking the actor first if it sleeps, and again if
    /// it fell asleep while the envelope went in.
    async fn deliver(&self, envelope: Envelope<A>) -> Result<(), Envelope<A>> {
        if self.slot.is_asleep() && !self.wake().await {
            return Err(envelope);
        }
        self.tx.send(envelope).await.map_err(|e| e.0)?;
        if self.slot.is_asleep() {
            // The envelope is queued; the woken actor will run it.
            self.wake().await;
        }
        Ok(())
    }

    /// Wakes a sleeping actor. False if it cannot be woken (the system is gone).
    async fn wake(&self) -> bool {
        match self.slot.system.upgrade() {
            Some(system) => crate::System::from_inner(system).wake(self).await,
            None => false,
        }
    }

    /// Sends an action without waiting for it to run. Returns once it is in the mailbox;
    /// its effect becomes durable like any other action's, but nobody is told when.
    pub async fn tell(&self, action: A::Action) -> Result<(), TellError<A::Action>> {
        let envelope = Envelope::Action {
            action,
            reply: None,
        };
        match gate(&self.slot).await {
            Ok(()) => {}
            // An actor telling itself: the action stays inside the actor, so it need not wait
            // for durability, but it must not wait for room in its own mailbox either.
            Err(Gate::Reentrant) => {
                return self.tx.try_send(envelope).map_err(|e| {
                    let full = matches!(e, mpsc::error::TrySendError::Full(_));
                    let action = action_of(e.into_inner());
                    if full {
                        TellError::NotSent {
                            action,
                            actor: self.slot.path.clone(),
                            source: None,
                        }
                    } else {
                        self.tell_stopped(action)
                    }
                });
            }
            Err(Gate::Commit(current, error)) => {
                return Err(TellError::NotSent {
                    action: action_of(envelope),
                    actor: current.path.clone(),
                    source: Some(error),
                });
            }
        }
        self.deliver(envelope)
            .await
            .map_err(|e| self.tell_stopped(action_of(e)))
    }

    fn tell_stopped(&self, action: A::Action) -> TellError<A::Action> {
        TellError::Stopped {
            action,
            actor: self.slot.path.clone(),
            reason: self.slot.stop_reason(),
        }
    }

    /// Calls an action by name with JSON arguments and returns its JSON reply:
    /// `ask_json("increment", json!({"by": 5}))`. An action error comes back as JSON in
    /// [`ByNameError::Action`]. (`#[actions]` makes every actor callable this way.)
    pub async fn ask_json(
        &self,
        action: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, ByNameError<serde_json::Value>>
    where
        A::Action: DeserializeOwned,
        A::Reply: Serialize,
        A::Error: Serialize,
    {
        let args = if args.is_null() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            args
        };
        let mut tagged = serde_json::Map::new();
        tagged.insert(action.to_owned(), args);
        let decoded = serde_json::from_value(serde_json::Value::Object(tagged)).map_err(|e| {
            ByNameError::Arguments {
                action: action.to_owned(),
                source: e.into(),
            }
        })?;
        let encode = |value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|e| ByNameError::Reply {
                action: action.to_owned(),
                source: e.into(),
            })
        };
        match self.ask(decoded).await.map_err(AskError::split) {
            Ok(reply) => encode(serde_json::to_value(reply)),
            Err(Ok(error)) => Err(ByNameError::Action(encode(serde_json::to_value(error))?)),
            Err(Err(error)) => Err(ByNameError::Call(error)),
        }
    }

    /// Calls an action by name with CBOR-encoded arguments (a map of argument names to
    /// values) and returns its CBOR-encoded reply. See [`ask_json`](Handle::ask_json).
    pub async fn ask_cbor(&self, action: &str, args: &[u8]) -> Result<Vec<u8>, ByNameError<Vec<u8>>>
    where
        A::Action: DeserializeOwned,
        A::Reply: Serialize,
        A::Error: Serialize,
    {
        let bad_args = |source: Box<dyn std::error::Error + Send + Sync>| ByNameError::Arguments {
            action: action.to_owned(),
            source,
        };
        let args = if args.is_empty() {
            ciborium::Value::Map(Vec::new())
        } else {
            ciborium::from_reader(args).map_err(|e| bad_args(Box::new(e)))?
        };
        let tagged = ciborium::Value::Map(vec![(ciborium::Value::Text(action.to_owned()), args)]);
        let decoded = tagged.deserialized().map_err(|e| bad_args(Box::new(e)))?;
        let encode = |value: &dyn erased::Encode| {
            let mut out = Vec::new();
            value
                .encode(&mut out)
                .map(|()| out)
                .map_err(|e| ByNameError::Reply {
                    action: action.to_owned(),
                    source: e.into(),
                })
        };
        match self.ask(decoded).await.map_err(AskError::split) {
            Ok(reply) => encode(&reply),
            Err(Ok(error)) => Err(ByNameError::Action(encode(&error)?)),
            Err(Err(error)) => Err(ByNameError::Call(error)),
        }
    }

    async fn ask_gate(&self) -> Result<(), AskError<A::Error>> {
        gate(&self.slot).await.map_err(|gate| match gate {
            Gate::Reentrant => AskError::Reentrant {
                actor: self.slot.path.clone(),
            },
            Gate::Commit(current, source) => AskError::Commit {
                actor: current.path.clone(),
                source,
            },
        })
    }

    fn stopped(&self) -> AskError<A::Error> {
        self.stopped_plain().widen()
    }

    fn stopped_plain(&self) -> AskError<Infallible> {
        AskError::Stopped {
            actor: self.slot.path.clone(),
            reason: self.slot.stop_reason(),
        }
    }
}

/// The action inside an envelope that `tell` built (always an action).
fn action_of<A: Actor>(envelope: Envelope<A>) -> A::Action {
    match envelope {
        Envelope::Action { action, .. } => action,
        Envelope::Destroy(_) => unreachable!("tell only sends actions"),
    }
}

/// CBOR encoding behind a trait object, so one closure encodes replies and errors alike.
mod erased {
    pub(super) trait Encode {
        fn encode(&self, out: &mut Vec<u8>) -> Result<(), ciborium::ser::Error<std::io::Error>>;
    }

    impl<T: serde::Serialize> Encode for T {
        fn encode(&self, out: &mut Vec<u8>) -> Result<(), ciborium::ser::Error<std::io::Error>> {
            ciborium::into_writer(self, out)
        }
    }
}

//! [`Handle`]: the cheap, cloneable address of one actor, and the gate every call out of an
//! action passes.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{
    ArgumentsError, AskError, ByNameError, EncodeError, EventLag, StopReason, TellError,
};
use crate::key::{ActorKey, ActorPath};
use crate::mailbox::{ByNameCall, EncodeResult, Envelope, Refused, StoredCall};
use crate::slot::{BoxFuture, Slot};
use crate::turn::TurnLog;

tokio::task_local! {
    /// The actor whose task is running, so that a call out of an action can wait for that
    /// actor's turns to be durable first (the output gate) and refuse a call cycle.
    pub(crate) static CURRENT: Arc<TurnLog>;
}

/// Why a call out of an action may not leave.
enum Gate {
    Reentrant,
    Cycle(Vec<ActorPath>),
    Commit(Arc<TurnLog>, Arc<crate::StorageError>),
}

/// While an action of the current actor waits in an `ask`: the edge "waits for" the target,
/// removed when the ask ends however it ends.
struct Waits(Arc<TurnLog>);

impl Drop for Waits {
    fn drop(&mut self) {
        self.0.set_waits_for(None);
    }
}

/// The longest wait-for chain walked before giving up the search for a cycle.
const MAX_CHAIN: usize = 4096;

/// Inside an action: refuses a call to the actor itself and, for an ask, one that would close
/// a cycle of actors waiting for each other; then waits until the calling actor's state is
/// durable. Outside an action: nothing.
///
/// An ask records that the current actor waits for the target before it walks the target's
/// wait-for chain, so of two actors asking each other at once at least one sees the other.
async fn gate(target: &Arc<TurnLog>, asks: bool) -> Result<Option<Waits>, Gate> {
    let Ok(current) = CURRENT.try_with(Arc::clone) else {
        return Ok(None);
    };
    if Arc::ptr_eq(&current, target) {
        return Err(Gate::Reentrant);
    }
    let waits = if asks {
        current.set_waits_for(Some(Arc::clone(target)));
        let waits = Waits(Arc::clone(&current));
        let mut cycle = vec![current.path.clone(), target.path.clone()];
        let mut next = target.waits_for();
        while let Some(slot) = next {
            if Arc::ptr_eq(&slot, &current) {
                cycle.push(current.path.clone());
                return Err(Gate::Cycle(cycle));
            }
            if cycle.len() > MAX_CHAIN {
                break;
            }
            cycle.push(slot.path.clone());
            next = slot.waits_for();
        }
        Some(waits)
    } else {
        None
    };
    if let Err(error) = current.wait_durable(None).await {
        return Err(Gate::Commit(current, error));
    }
    Ok(waits)
}

/// A delivery that may go to a new activation (see `Handle::restart_and_deliver`).
type Delivery<'a, A> = BoxFuture<'a, Result<(), (Envelope<A>, Refused)>>;

/// The address of one actor: send it actions with [`ask`](Handle::ask) or
/// [`tell`](Handle::tell). Cloning is cheap (two reference counts).
///
/// Called from inside another actor's action, `ask` and `tell` first wait until the calling
/// actor's state, as handed over so far, is durable: nothing leaves an actor that a crash
/// could take back. An `ask` that would close a call cycle (the asked actor is itself waiting
/// for the asking one) fails with [`AskError::Cycle`] instead of waiting forever.
///
/// A handle stays valid while its actor sleeps (the next call wakes it). After a crash loop
/// ([`StopReason::CrashLoop`]) calls fail until the restart policy's longest back-off has
/// passed; then the next call through any handle starts the actor again from its last
/// durable state. After a shutdown or a destroy a handle only reports why it stopped.
pub struct Handle<A: Actor> {
    pub(crate) tx: mpsc::Sender<Envelope<A>>,
    pub(crate) slot: Arc<Slot<A>>,
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
            .field("actor", self.slot.path())
            .field("id", &self.slot.log.id)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Handle<A> {
    /// The actor's id: a uuid assigned when it was created, stable across restarts.
    pub fn id(&self) -> Uuid {
        self.slot.log.id
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.slot.path().key
    }

    /// The actor's type name and key.
    pub fn path(&self) -> &ActorPath {
        self.slot.path()
    }

    /// True while the actor sleeps (out of memory; the next call wakes it).
    pub fn is_asleep(&self) -> bool {
        self.slot.is_asleep()
    }

    /// True once this activation of the actor has stopped taking actions (shutdown, crash
    /// loop, destroy). After a crash loop a later call starts a new activation.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends an action and waits for its reply. The reply is released only once the state
    /// the action left (or saw) is durable.
    pub async fn ask(&self, action: A::Action) -> Result<A::Reply, AskError<A::Error>> {
        self.call(action, None).await
    }

    /// [`ask`](Handle::ask), giving up after `timeout` with [`AskError::Timeout`].
    ///
    /// Giving up does not withdraw the action: if it is already queued or running it still
    /// runs, and its effect may become durable. Use it to bound how long a caller waits (for
    /// an actor stuck in a slow action, say), not as a way to cancel.
    pub async fn ask_timeout(
        &self,
        action: A::Action,
        timeout: Duration,
    ) -> Result<A::Reply, AskError<A::Error>> {
        tokio::time::timeout(timeout, self.ask(action))
            .await
            .unwrap_or_else(|_| {
                Err(AskError::Timeout {
                    actor: self.slot.path().clone(),
                    after: timeout,
                })
            })
    }

    async fn call(
        &self,
        action: A::Action,
        encode: Option<EncodeResult<A>>,
    ) -> Result<A::Reply, AskError<A::Error>> {
        let _waits = self.ask_gate().await.map_err(AskError::widen)?;
        let (tx, rx) = oneshot::channel();
        let envelope = match encode {
            None => Envelope::Action {
                action,
                reply: Some(tx),
            },
            Some(encode) => Envelope::ByName(Box::new(ByNameCall {
                action,
                reply: tx,
                encode,
                caller: tracing::Span::current(),
            })),
        };
        self.deliver(envelope)
            .await
            .map_err(|(_, refused)| self.refused(refused).widen())?;
        rx.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    /// Deletes the actor: runs its `on_destroy` hook, waits until its earlier actions are
    /// durable, deletes its record, and stops it. Actions queued behind the destroy fail with
    /// [`StopReason::Destroyed`](crate::StopReason::Destroyed); a later
    /// [`System::get_or_create`](crate::System::get_or_create) creates it afresh.
    pub async fn destroy(&self) -> Result<(), AskError<Infallible>> {
        let _waits = self.ask_gate().await?;
        let (tx, rx) = oneshot::channel();
        self.deliver(Envelope::Destroy(tx))
            .await
            .map_err(|(_, refused)| self.refused(refused))?;
        rx.await.unwrap_or_else(|_| Err(self.stopped_plain()))
    }

    /// Puts an envelope in the mailbox, waking the actor first if it sleeps, and again if
    /// it fell asleep while the envelope went in. A mailbox closed by a crash loop is
    /// replaced by a new activation's once the back-off has passed.
    async fn deliver(&self, envelope: Envelope<A>) -> Result<(), (Envelope<A>, Refused)> {
        if self.slot.is_asleep()
            && let Err(refused) = self.wake().await
        {
            return Err((envelope, refused));
        }
        if let Err(mpsc::error::SendError(envelope)) = self.tx.send(envelope).await {
            return self.restart_and_deliver(envelope).await;
        }
        if self.slot.is_asleep() {
            // The envelope is queued; the woken actor will run it (or, if the wake fails,
            // it has been answered with the failure already).
            let _ = self.wake().await;
        }
        Ok(())
    }

    /// After a crash loop: once the restart policy's longest back-off has passed, starts the
    /// actor again (as [`System::get`](crate::System::get) would) and delivers to it.
    fn restart_and_deliver(&self, envelope: Envelope<A>) -> Delivery<'_, A> {
        Box::pin(async move {
            let cooled = match self.slot.stopped() {
                Some((StopReason::CrashLoop { .. }, at)) => {
                    at.elapsed() >= A::config().restart.max_backoff
                }
                _ => false,
            };
            let host = self.slot.host.upgrade();
            let (true, Some(host)) = (cooled, host) else {
                return Err((envelope, Refused::Stopped));
            };
            match host.restart(&self.path().key).await {
                Some((tx, slot)) if !Arc::ptr_eq(&slot, &self.slot) => {
                    tracing::info!(actor = %self.slot.path(), "restarted after a crash loop by a call through an old handle");
                    Handle { tx, slot }.deliver(envelope).await
                }
                _ => Err((envelope, Refused::Stopped)),
            }
        })
    }

    /// Runs `session` as a turn of the actor (an HTTP request's handler, a WebSocket's
    /// hook) and waits until what it left or saw is durable, or why it never will be. With
    /// [`Save::Deferred`](crate::mailbox::Save::Deferred), what it changed is saved later.
    #[cfg(feature = "http")]
    pub(crate) async fn session(
        &self,
        save: crate::mailbox::Save,
        session: Box<dyn crate::mailbox::Session<A>>,
    ) -> Result<(), AskError<Infallible>> {
        let _waits = self.ask_gate().await?;
        let (done, rx) = oneshot::channel();
        let call = crate::mailbox::SessionCall {
            session,
            save,
            done,
            caller: tracing::Span::current(),
        };
        self.deliver(Envelope::Session(Box::new(call)))
            .await
            .map_err(|(_, refused)| self.refused(refused))?;
        rx.await.unwrap_or_else(|_| Err(self.stopped_plain()))
    }

    /// Keeps the actor awake (it does not sleep) until the guard is dropped: an open
    /// WebSocket holds one.
    #[cfg(feature = "http")]
    pub(crate) fn keep_awake(&self) -> crate::slot::KeepAwake<A> {
        self.slot.keep_awake()
    }

    /// Delivers a stored action (a fired schedule, an outbox message), to run as a turn.
    pub(crate) async fn deliver_stored(&self, call: StoredCall<A>) -> Result<(), Refused> {
        self.deliver(Envelope::Stored(Box::new(call)))
            .await
            .map_err(|(_, refused)| refused)
    }

    /// Wakes a sleeping actor.
    async fn wake(&self) -> Result<(), Refused> {
        match self.slot.host.upgrade() {
            Some(host) => host.wake(&self.slot, &self.tx).await,
            None => Err(Refused::Stopped),
        }
    }

    /// Subscribes to the actor's events: a stream of every event its turns emit from now
    /// on, each published once its turn is durable, in commit order. A subscriber that falls
    /// more than [`ActorConfig::event_capacity`](crate::ActorConfig::event_capacity) events
    /// behind gets [`EventLag`] with the number it missed, then the next ones: the actor
    /// never waits for a subscriber. The subscription keeps a handle, so it follows the
    /// actor through sleep and wake.
    pub fn subscribe(&self) -> Events<A> {
        let receiver = self.slot.subscribe(A::config().event_capacity);
        Events {
            stream: BroadcastStream::new(receiver),
            handle: self.clone(),
        }
    }

    /// Sends an action without waiting for it to run. Returns once it is in the mailbox;
    /// its effect becomes durable like any other action's, but nobody is told when.
    pub async fn tell(&self, action: A::Action) -> Result<(), TellError<A::Action>> {
        let envelope = Envelope::Action {
            action,
            reply: None,
        };
        match gate(&self.slot.log, false).await {
            Ok(_) => {}
            // An actor telling itself: the action stays inside the actor, so it need not wait
            // for durability, but it must not wait for room in its own mailbox either.
            Err(Gate::Reentrant | Gate::Cycle(_)) => {
                return self.tx.try_send(envelope).map_err(|e| {
                    let full = matches!(e, mpsc::error::TrySendError::Full(_));
                    let action = action_of(e.into_inner());
                    if full {
                        TellError::NotSent {
                            action,
                            actor: self.slot.path().clone(),
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
            .map_err(|(envelope, refused)| match refused {
                Refused::Stopped => self.tell_stopped(action_of(envelope)),
                Refused::Unavailable(source) => TellError::Unavailable {
                    action: action_of(envelope),
                    actor: self.slot.path().clone(),
                    source,
                },
            })
    }

    fn tell_stopped(&self, action: A::Action) -> TellError<A::Action> {
        TellError::Stopped {
            action,
            actor: self.slot.path().clone(),
            reason: self.slot.stop_reason(),
        }
    }

    /// Calls an action by name with JSON arguments and returns its JSON reply:
    /// `ask_json("increment", json!({"by": 5}))`. An action error comes back as JSON in
    /// [`ByNameError::Action`]. (`#[actions]` makes every actor callable this way.)
    ///
    /// An unknown name fails with [`ByNameError::UnknownAction`] (listing the valid names),
    /// arguments that do not fit (a missing, unknown or mistyped field, or nesting deeper
    /// than [`MAX_DEPTH`](crate::MAX_DEPTH)) with [`ByNameError::Arguments`]; nothing is
    /// sent for either. The reply is encoded inside the actor's turn: if it cannot be (a
    /// `u128` beyond JSON's integers, a map whose keys are not strings), the action is rolled
    /// back and the call fails with [`ByNameError::Reply`], so an error never hides an
    /// applied action.
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
        check_action_name::<A, _>(action)?;
        let bad_args = |message: &dyn fmt::Display| ByNameError::Arguments {
            action: action.to_owned(),
            source: ArgumentsError::new(message),
        };
        if crate::depth::json_too_deep(&args) {
            crate::depth::drop_json(args);
            return Err(bad_args(&EncodeError::TooDeep {
                limit: crate::MAX_DEPTH,
            }));
        }
        let args = if args.is_null() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            args
        };
        let mut tagged = serde_json::Map::new();
        tagged.insert(action.to_owned(), args);
        let decoded = serde_path_to_error::deserialize(serde_json::Value::Object(tagged))
            .map_err(|e| bad_args(&ArgumentPath(e)))?;
        self.call_by_name::<Json>(action, decoded).await
    }

    /// Calls an action by name with CBOR-encoded arguments (a map of argument names to
    /// values) and returns its CBOR-encoded reply. See [`ask_json`](Handle::ask_json).
    pub async fn ask_cbor(&self, action: &str, args: &[u8]) -> Result<Vec<u8>, ByNameError<Vec<u8>>>
    where
        A::Action: DeserializeOwned,
        A::Reply: Serialize,
        A::Error: Serialize,
    {
        check_action_name::<A, _>(action)?;
        let bad_args = |message: &dyn fmt::Display| ByNameError::Arguments {
            action: action.to_owned(),
            source: ArgumentsError::new(message),
        };
        let args = if args.is_empty() {
            ciborium::Value::Map(Vec::new())
        } else {
            ciborium::from_reader(args).map_err(|e| bad_args(&e))?
        };
        let tagged = ciborium::Value::Map(vec![(ciborium::Value::Text(action.to_owned()), args)]);
        let decoded = tagged.deserialized().map_err(|e| bad_args(&e))?;
        self.call_by_name::<Cbor>(action, decoded).await
    }

    /// Runs a decoded call by name; `encode` encodes the reply or the action's error inside
    /// the actor's turn.
    async fn call_by_name<F: Format>(
        &self,
        action: &str,
        decoded: A::Action,
    ) -> Result<F::Payload, ByNameError<F::Payload>>
    where
        A::Reply: Serialize,
        A::Error: Serialize,
    {
        type Encoded<P> = Arc<Mutex<Option<Result<P, EncodeFailure>>>>;
        let encoded: Encoded<F::Payload> = Arc::new(Mutex::new(None));
        let out = Arc::clone(&encoded);
        let encode_in_turn: EncodeResult<A> = Box::new(move |result| {
            let value = match result {
                Ok(reply) => F::encode(reply),
                Err(error) => F::encode(error),
            };
            let ok = value.is_ok();
            *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
            ok
        });
        let result = self
            .call(decoded, Some(encode_in_turn))
            .await
            .map_err(AskError::split);
        let taken = encoded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let unencodable = |failure: EncodeFailure| ByNameError::Reply {
            action: action.to_owned(),
            source: failure.0,
        };
        match (result, taken) {
            (Ok(_), Some(Ok(value))) => Ok(value),
            (Err(Ok(_)), Some(Ok(value))) => Err(ByNameError::Action(value)),
            // The turn found the result unencodable and rolled the action back.
            (Ok(_) | Err(Ok(_)), Some(Err(failure))) => Err(unencodable(failure)),
            (Ok(reply), None) => F::encode(&reply).map_err(unencodable),
            (Err(Ok(error)), None) => {
                Err(ByNameError::Action(F::encode(&error).map_err(unencodable)?))
            }
            (Err(Err(error)), _) => Err(ByNameError::Call(error)),
        }
    }

    async fn ask_gate(&self) -> Result<Option<Waits>, AskError<Infallible>> {
        gate(&self.slot.log, true).await.map_err(|gate| match gate {
            Gate::Reentrant => AskError::Reentrant {
                actor: self.slot.path().clone(),
            },
            Gate::Cycle(cycle) => AskError::Cycle { cycle },
            Gate::Commit(current, source) => AskError::Commit {
                actor: current.path.clone(),
                source,
            },
        })
    }

    fn refused(&self, refused: Refused) -> AskError<Infallible> {
        match refused {
            Refused::Stopped => self.stopped_plain(),
            Refused::Unavailable(source) => AskError::Unavailable {
                actor: self.slot.path().clone(),
                source,
            },
        }
    }

    fn stopped(&self) -> AskError<A::Error> {
        self.stopped_plain().widen()
    }

    fn stopped_plain(&self) -> AskError<Infallible> {
        AskError::Stopped {
            actor: self.slot.path().clone(),
            reason: self.slot.stop_reason(),
        }
    }
}

/// Refuses, before anything is decoded, a name that is too long or not among
/// [`Actor::ACTIONS`] (when the actor lists them).
fn check_action_name<A: Actor, P>(action: &str) -> Result<(), ByNameError<P>> {
    let known = if A::ACTIONS.is_empty() {
        action.len() <= crate::limits::MAX_ACTION_NAME_BYTES
    } else {
        A::ACTIONS.contains(&action)
    };
    if known {
        return Ok(());
    }
    Err(ByNameError::UnknownAction {
        action: crate::limits::quote(action),
        valid: A::ACTIONS,
    })
}

/// A decoding error of a call by name's arguments, with the path of the argument that did not
/// decode when the error does not name it already: `by: invalid type: string "x", expected
/// i64`, `items[2].name: ...`.
struct ArgumentPath(serde_path_to_error::Error<serde_json::Error>);

impl fmt::Display for ArgumentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use serde_path_to_error::Segment;
        // The first segment is the action's name (the enum's tag): not an argument.
        let mut path = String::new();
        for segment in self.0.path().iter().skip(1) {
            if !path.is_empty() && !matches!(segment, Segment::Seq { .. }) {
                path.push('.');
            }
            path.push_str(&segment.to_string());
        }
        let inner = self.0.inner().to_string();
        if path.is_empty() || inner.contains(&format!("`{path}`")) {
            f.write_str(&inner)
        } else {
            write!(f, "`{path}`: {inner}")
        }
    }
}

/// Why a reply did not encode.
struct EncodeFailure(Box<dyn std::error::Error + Send + Sync>);

/// A payload format of the calls by name.
trait Format {
    type Payload: Send + 'static;

    /// Encodes a reply or an action's error, within [`MAX_DEPTH`](crate::MAX_DEPTH), a panic
    /// in its `Serialize` caught.
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self::Payload, EncodeFailure>;
}

struct Json;

impl Format for Json {
    type Payload = serde_json::Value;

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<serde_json::Value, EncodeFailure> {
        let exceeded = std::cell::Cell::new(false);
        let limited = crate::depth::Limited::new(value, &exceeded);
        match crate::panic::catch(|| serde_json::to_value(&limited)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) if exceeded.get() => Err(EncodeFailure(Box::new(EncodeError::TooDeep {
                limit: crate::MAX_DEPTH,
            }))),
            Ok(Err(error)) => Err(EncodeFailure(Box::new(error))),
            Err(message) => Err(EncodeFailure(Box::new(EncodeError::Panicked { message }))),
        }
    }
}

struct Cbor;

impl Format for Cbor {
    type Payload = Vec<u8>;

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeFailure> {
        let mut out = Vec::new();
        crate::snapshot::write_cbor(&mut out, value).map_err(|e| EncodeFailure(Box::new(e)))?;
        Ok(out)
    }
}

/// The action inside an envelope that `tell` built (always an action).
fn action_of<A: Actor>(envelope: Envelope<A>) -> A::Action {
    match envelope {
        Envelope::Action { action, .. } => action,
        Envelope::ByName(call) => call.action,
        Envelope::Stored(call) => call.action,
        Envelope::Destroy(_) => unreachable!("tell only sends actions"),
        #[cfg(feature = "http")]
        Envelope::Session(_) => unreachable!("tell only sends actions"),
    }
}

/// A subscription to an actor's events ([`Handle::subscribe`]): a [`Stream`] of the events
/// its durable turns emitted, or of an [`EventLag`] when this subscriber fell behind.
pub struct Events<A: Actor> {
    stream: BroadcastStream<Arc<A::Event>>,
    /// Keeps the actor's slot, and with it the event channel, alive across sleep.
    handle: Handle<A>,
}

impl<A: Actor> fmt::Debug for Events<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("actor", self.handle.path())
            .finish_non_exhaustive()
    }
}

impl<A: Actor> Stream for Events<A> {
    type Item = Result<Arc<A::Event>, EventLag>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream).poll_next(cx).map(|item| {
            item.map(|event| event.map_err(|BroadcastStreamRecvError::Lagged(n)| EventLag(n)))
        })
    }
}

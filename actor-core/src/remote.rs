//! [`Remote`]: the address of an actor that another process serves, and the [`Transport`]
//! its calls travel through.
//!
//! A `Remote<A>` is to a server what a [`Handle`](crate::Handle) is to a local actor: the
//! typed methods `#[actions]` generates (`counter.increment(5).await?`) are implemented for
//! both, so callers do not change when an actor moves behind the network. A call is sent by
//! name with its arguments as a JSON object, and its reply (or the action's error) comes back
//! as JSON, as the HTTP routes speak it; the transport only moves bytes, so the core does not
//! depend on a network stack. The HTTP one is `actor_core::http::Client` (the `client`
//! feature).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::actor::Actor;
use crate::error::{ArgumentsError, AskError, ByNameError, ErrorKind, RemoteError, StopReason};
use crate::key::{ActorKey, ActorPath};
use crate::limits::quote;

/// What carries a [`Remote`]'s calls to the server that hosts the actor: one call by name in,
/// the encoded reply out. Object safe, so every `Remote` of every actor type can share one
/// transport as an `Arc<dyn Transport>`.
///
/// An implementation reports what the server said as [`RemoteError::Status`] with the
/// server's [`ErrorDetail`](crate::ErrorDetail) (the action's own error as kind
/// `action_error` with its `value`), and a missed deadline as [`RemoteError::Timeout`];
/// `Remote` turns those into the [`AskError`] variants they stand for.
pub trait Transport: fmt::Debug + Send + Sync {
    /// Calls `call.action` on the actor `call.actor`/`call.key` with `call.args` (a JSON
    /// object of argument names to values) and returns the reply, encoded as JSON.
    fn call<'a>(
        &'a self,
        call: RemoteCall<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>, RemoteError>> + Send + 'a>>;
}

/// One call a [`Transport`] carries.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RemoteCall<'a> {
    /// The actor type's name ([`Actor::NAME`]).
    pub actor: &'static str,
    /// The actor's key.
    pub key: &'a ActorKey,
    /// The action's name.
    pub action: &'a str,
    /// The arguments: a JSON object of argument names to values, encoded.
    pub args: &'a [u8],
}

/// The address of one actor served by another process (an `actor_core::http::Server`),
/// with the same typed methods as a local [`Handle`](crate::Handle):
///
/// ```no_run
/// # #[cfg(feature = "client")]
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use actor_core::http::Client;
/// use actor_core::{actions, Actor};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Actor, Serialize, Deserialize, Default)]
/// struct Counter {
///     count: i64,
/// }
///
/// #[actions]
/// impl Counter {
///     pub async fn increment(&mut self, by: i64) -> i64 {
///         self.count += by;
///         self.count
///     }
/// }
///
/// let client = Client::new("http://127.0.0.1:8080")?;
/// let counter = client.actor::<Counter>("visits"); // a Remote<Counter>
/// println!("{}", counter.increment(1).await?); // durable on the server when it returns
/// # Ok(()) }
/// ```
///
/// The typed methods need the action's arguments to be `Serialize` and its reply and error
/// types `Deserialize` (the `Handle` methods do not); an actor whose types are not has no
/// remote methods, and can still be called by name with [`ask_json`](Remote::ask_json) or
/// [`ask_by_name`](Remote::ask_by_name), as can an actor written without `#[actions]`.
///
/// A call ends as a local one would, where the server's answer means the same:
/// [`AskError::Action`] with the action's own error, [`AskError::Panicked`],
/// [`AskError::StateTooLarge`], [`AskError::Stopped`] (shutting down), [`AskError::Timeout`]
/// (the transport's time limit). Everything else is [`AskError::Remote`], whose
/// [`RemoteError`] says what the server answered or why it was not reached. A `Remote` is
/// cheap to clone (a reference count and the key).
pub struct Remote<A> {
    /// Shared by every `Remote` a client makes.
    transport: Arc<dyn Transport>,
    key: ActorKey,
    actor: PhantomData<fn() -> A>,
}

impl<A> Clone for Remote<A> {
    fn clone(&self) -> Self {
        Self {
            transport: Arc::clone(&self.transport),
            key: self.key.clone(),
            actor: PhantomData,
        }
    }
}

impl<A: Actor> fmt::Debug for Remote<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("transport", &self.transport)
            .field("key", &self.key)
            .field("actor", &A::NAME)
            .finish()
    }
}

impl<A: Actor> Remote<A> {
    /// The actor of type `A` at `key` on the server `transport` reaches.
    pub fn new(transport: Arc<dyn Transport>, key: impl Into<ActorKey>) -> Self {
        Self {
            transport,
            key: key.into(),
            actor: PhantomData,
        }
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.key
    }

    /// The actor's type name and key.
    pub fn path(&self) -> ActorPath {
        ActorPath {
            kind: A::NAME,
            key: self.key.clone(),
        }
    }

    /// Calls an action by name with JSON arguments (an object of argument names to values;
    /// `null` is none) and returns its JSON reply, as
    /// [`Handle::ask_json`](crate::Handle::ask_json) does in the process, with the same
    /// error: the action's own error as JSON in [`ByNameError::Action`], arguments the server
    /// refused in [`ByNameError::Arguments`] (with its message), and everything else in
    /// [`ByNameError::Call`] (an unknown action is [`AskError::Remote`] with the server's
    /// `unknown_action` and its list of actions).
    pub async fn ask_json(
        &self,
        action: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, ByNameError<serde_json::Value>> {
        let error = match self.ask_by_name(action, &args).await {
            Ok(reply) => return Ok(reply),
            Err(error) => error,
        };
        Err(match error.split() {
            Ok(value) => ByNameError::Action(value),
            Err(AskError::Remote {
                source: RemoteError::Status { detail, .. },
                ..
            }) if detail.kind == ErrorKind::BadArguments => ByNameError::Arguments {
                action: quote(action),
                source: ArgumentsError::new(&detail.message),
            },
            Err(other) => ByNameError::Call(other),
        })
    }

    /// Calls an action by name with arguments that serialize as a JSON object (a struct or a
    /// map of argument names; `()` is none), and decodes its reply as `R` and its own error
    /// as `E`: the typed call for an actor written without `#[actions]`.
    pub async fn ask_by_name<R, E>(
        &self,
        action: &str,
        args: &(impl Serialize + ?Sized),
    ) -> Result<R, AskError<E>>
    where
        R: DeserializeOwned,
        E: DeserializeOwned,
    {
        let args = encode_object(args).map_err(|e| self.failed(e))?;
        self.send(action, &args, |v| E::deserialize(v)).await
    }

    /// Sends one call and reads its answer; `decode_error` reads the action's own error.
    async fn send<R, E>(
        &self,
        action: &str,
        args: &[u8],
        decode_error: impl FnOnce(&serde_json::Value) -> Result<E, serde_json::Error>,
    ) -> Result<R, AskError<E>>
    where
        R: DeserializeOwned,
    {
        let call = RemoteCall {
            actor: A::NAME,
            key: &self.key,
            action,
            args,
        };
        match self.transport.call(call).await {
            Ok(reply) => serde_json::from_slice(&reply)
                .map_err(|e| self.failed(RemoteError::decode(200, &reply, e))),
            Err(error) => Err(self.error(error, decode_error)),
        }
    }

    /// A failed call as the [`AskError`] variant its answer means.
    fn error<E>(
        &self,
        error: RemoteError,
        decode_error: impl FnOnce(&serde_json::Value) -> Result<E, serde_json::Error>,
    ) -> AskError<E> {
        let actor = self.path();
        let (status, mut detail) = match error {
            RemoteError::Timeout { after } => return AskError::Timeout { actor, after },
            RemoteError::Status { status, detail } => (status, detail),
            other => {
                return AskError::Remote {
                    actor,
                    source: other,
                };
            }
        };
        match (detail.kind, detail.value.take(), detail.size, detail.limit) {
            (ErrorKind::ActionError, Some(value), ..) => match decode_error(&value) {
                Ok(error) => AskError::Action(error),
                Err(e) => {
                    let text = serde_json::to_vec(&value).unwrap_or_default();
                    self.failed(RemoteError::decode(status, &text, e))
                }
            },
            (ErrorKind::Panicked, ..) => AskError::Panicked {
                actor,
                message: detail.message,
            },
            (ErrorKind::StateTooLarge, _, Some(size), Some(limit)) => {
                AskError::StateTooLarge { actor, size, limit }
            }
            (ErrorKind::ShuttingDown, ..) => AskError::Stopped {
                actor,
                reason: StopReason::Shutdown,
            },
            (_, value, ..) => {
                detail.value = value;
                self.failed(RemoteError::Status { status, detail })
            }
        }
    }

    fn failed<E>(&self, source: RemoteError) -> AskError<E> {
        AskError::Remote {
            actor: self.path(),
            source,
        }
    }
}

/// `args` as a JSON object, encoded (`()` and `None` as `{}`).
fn encode_object(args: &(impl Serialize + ?Sized)) -> Result<Vec<u8>, RemoteError> {
    let bad = |message: &dyn fmt::Display| RemoteError::Arguments(ArgumentsError::new(message));
    let bytes = serde_json::to_vec(args).map_err(|e| bad(&e))?;
    match bytes.first() {
        Some(b'{') => Ok(bytes),
        _ if bytes == b"null" => Ok(b"{}".to_vec()),
        _ => Err(bad(
            &"the arguments must be a JSON object of argument names to values",
        )),
    }
}

/// For `#[actions]`' `impl ...Handle for Remote<...>`: sends `action` (an action enum value,
/// which serializes as `{"name": {arguments}}`) and decodes the reply as `R`, the action's
/// error as `E`.
pub async fn ask_action<A, R, E>(remote: &Remote<A>, action: A::Action) -> Result<R, AskError<E>>
where
    A: Actor,
    A::Action: Serialize,
    R: DeserializeOwned,
    E: DeserializeOwned,
{
    let (name, args) = split_action::<A>(&action).map_err(|e| remote.failed(e))?;
    remote.send(&name, &args, |v| E::deserialize(v)).await
}

/// [`ask_action`] for an action that cannot fail: an action error in the answer does not
/// decode.
pub async fn ask_infallible_action<A, R>(
    remote: &Remote<A>,
    action: A::Action,
) -> Result<R, AskError<Infallible>>
where
    A: Actor,
    A::Action: Serialize,
    R: DeserializeOwned,
{
    let (name, args) = split_action::<A>(&action).map_err(|e| remote.failed(e))?;
    remote
        .send(&name, &args, |_| {
            Err(serde::de::Error::custom(
                "the action cannot fail, yet the server sent an action error",
            ))
        })
        .await
}

/// An action enum value's name and its arguments, encoded as a JSON object.
fn split_action<A: Actor>(action: &A::Action) -> Result<(String, Vec<u8>), RemoteError>
where
    A::Action: Serialize,
{
    let bad = |message: &dyn fmt::Display| RemoteError::Arguments(ArgumentsError::new(message));
    let serde_json::Value::Object(tagged) = serde_json::to_value(action).map_err(|e| bad(&e))?
    else {
        return Err(bad(
            &"the action does not serialize as {\"name\": {arguments}}",
        ));
    };
    let mut entries = tagged.into_iter();
    match (entries.next(), entries.next()) {
        (Some((name, args)), None) => {
            let args = encode_object(&args)?;
            Ok((name, args))
        }
        _ => Err(bad(
            &"the action does not serialize as {\"name\": {arguments}}",
        )),
    }
}

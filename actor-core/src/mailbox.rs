//! What an actor's mailbox carries, and why something could not be put in it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::actor::{Actor, Reply};
use crate::error::{AskError, StorageError};
use crate::turn::Ack;

/// A boxed future: a session turn's, and the slot's `Wake` methods'.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// For a call by name: encodes the action's result inside the turn, before anything is
/// written, keeps the encoded form for the caller, and says whether it encoded. A result
/// that does not encode rolls the action back.
pub(crate) type EncodeResult<A> =
    Box<dyn FnOnce(Result<&<A as Actor>::Reply, &<A as Actor>::Error>) -> bool + Send + 'static>;

/// What a mailbox carries.
pub(crate) enum Envelope<A: Actor> {
    /// An action, with the way back to its caller (none for a `tell`).
    Action {
        action: A::Action,
        reply: Option<oneshot::Sender<Reply<A>>>,
    },
    /// An action called by name. Boxed, so that every mailbox slot stays as small as a
    /// typed call needs.
    ByName(Box<ByNameCall<A>>),
    /// A stored action (a schedule that fired, a message from another actor's outbox): run
    /// as a turn that removes it in the same commit; `done` learns whether that commit is
    /// durable.
    Stored(Box<StoredCall<A>>),
    /// Delete the actor and its state.
    Destroy(oneshot::Sender<Result<(), AskError<Infallible>>>),
    /// Code that is not one of the actor's actions, run as a turn: an HTTP request's
    /// handler, a WebSocket's hooks.
    #[cfg(feature = "http")]
    Session(Box<SessionCall<A>>),
}

/// A session turn's code: runs with the actor's state and context, and says whether its
/// changes stand (`false` rolls them back, like an action's error).
#[cfg(feature = "http")]
pub(crate) trait Session<A: Actor>: Send + 'static {
    /// Runs the code.
    fn run<'a>(
        self: Box<Self>,
        state: &'a mut A,
        ctx: &'a mut crate::ctx::Ctx<A>,
    ) -> BoxFuture<'a, bool>;
}

/// When a session turn's changes are saved.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Save {
    /// When the turn ends, like an action's (an HTTP request's handler, a WebSocket closing).
    AtEnd,
    /// Later: with the next turn that saves, or the next `save_state` (a WebSocket's open
    /// and message hooks). Such a turn is never rolled back, except by a panic.
    Deferred,
}

/// A session turn and its caller.
#[cfg(feature = "http")]
pub(crate) struct SessionCall<A: Actor> {
    pub(crate) session: Box<dyn Session<A>>,
    pub(crate) save: Save,
    /// Told once what the turn left or saw is durable, or why it never will be.
    pub(crate) done: oneshot::Sender<Result<(), AskError<Infallible>>>,
    /// The caller's span, so that the turn's span joins it.
    pub(crate) caller: tracing::Span,
}

/// An action called by name, with the encoder its result goes through inside the turn.
pub(crate) struct ByNameCall<A: Actor> {
    pub(crate) action: A::Action,
    pub(crate) reply: oneshot::Sender<Reply<A>>,
    pub(crate) encode: EncodeResult<A>,
    /// The caller's span (an HTTP request's, say), so that the action's span joins it.
    pub(crate) caller: tracing::Span,
}

/// A stored action to run.
pub(crate) struct StoredCall<A: Actor> {
    pub(crate) action: A::Action,
    pub(crate) ack: Ack,
    pub(crate) done: oneshot::Sender<bool>,
}

impl<A: Actor> Envelope<A> {
    /// Whether this is a session turn whose save is deferred.
    #[cfg(feature = "http")]
    pub(crate) fn is_deferred(&self) -> bool {
        matches!(self, Self::Session(call) if call.save == Save::Deferred)
    }

    /// Answers the envelope's caller with `error`, if it has one; a `tell` comes back (it has
    /// no caller to answer). A stored action's deliverer learns it was not run.
    pub(crate) fn fail(self, error: impl FnOnce() -> AskError<Infallible>) -> Option<Self> {
        match self {
            Self::Action { reply: None, .. } => Some(self),
            Self::Action {
                reply: Some(reply), ..
            } => {
                let _ = reply.send(Err(error().widen()));
                None
            }
            Self::ByName(call) => {
                let _ = call.reply.send(Err(error().widen()));
                None
            }
            Self::Stored(call) => {
                let _ = call.done.send(false);
                None
            }
            Self::Destroy(done) => {
                let _ = done.send(Err(error()));
                None
            }
            #[cfg(feature = "http")]
            Self::Session(call) => {
                let _ = call.done.send(Err(error()));
                None
            }
        }
    }
}

/// Why an envelope could not be put in the mailbox.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The actor is stopped (its slot says why).
    Stopped,
    /// The actor is asleep and its record could not be read.
    Unavailable(Arc<StorageError>),
}

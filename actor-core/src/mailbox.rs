//! What an actor's mailbox carries, and why something could not be put in it.

use std::convert::Infallible;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::actor::{Actor, Reply};
use crate::error::{AskError, StorageError};
use crate::turn::Ack;

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

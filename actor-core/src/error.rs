//! Typed errors, one enum per operation, and the umbrella [`Error`].
//!
//! Every enum is `#[non_exhaustive]` and wraps its cause rather than turning it into a string,
//! so callers can match on what went wrong and still walk the `source()` chain.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use crate::key::ActorPath;

/// A failure of the storage backend: a read, or the commit of a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The embedded redb database reported an error.
    #[error("the redb database failed")]
    Redb(#[source] Box<redb::Error>),
    /// Another backend (or a test's fault-injecting wrapper) reported an error.
    #[error("the storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<redb::Error> for StorageError {
    fn from(error: redb::Error) -> Self {
        Self::Redb(Box::new(error))
    }
}

impl StorageError {
    /// Wraps any error from a custom [`Storage`](crate::Storage) implementation.
    pub fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(error.into())
    }
}

/// Opening a [`System`](crate::System) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process (or another `System` in this one) has the file open.
    #[error("{path}: the database is already open by another process or system")]
    AlreadyOpen {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but is not a database this build can read.
    #[error("{path}: cannot open the database")]
    Database {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: Box<redb::Error>,
    },
    /// The file was written by a newer version of this framework.
    #[error("{path}: storage format {found} is newer than the supported {supported}")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The format version found in the file.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The system was built without a path or a storage backend.
    #[error("no database path or storage backend was given to the system builder")]
    NoStorage,
    /// The blocking open task could not run (the runtime is shutting down).
    #[error("the open task did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread")]
    WriterThread(#[source] std::io::Error),
}

/// A state could not be encoded as CBOR.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the state as CBOR")]
pub struct EncodeError(#[from] ciborium::ser::Error<std::io::Error>);

/// A stored record could not be decoded. Nothing is written or deleted because of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record is shorter than its header.
    #[error("record is truncated ({len} bytes)")]
    Truncated {
        /// The record's length.
        len: usize,
    },
    /// The record was written in a format this build does not read (a newer version, or not
    /// a record at all).
    #[error("record format {found} is not supported (this build reads format {supported})")]
    UnsupportedFormat {
        /// The format byte found.
        found: u8,
        /// The format this build reads.
        supported: u8,
    },
    /// The record holds a different version of the state type.
    #[error("record holds state version {found}, the actor type expects {expected}")]
    StateVersion {
        /// The version in the record.
        found: u32,
        /// `Actor::STATE_VERSION`.
        expected: u32,
    },
    /// The CBOR payload does not decode into the state type.
    #[error("the state does not decode")]
    Cbor(#[from] ciborium::de::Error<std::io::Error>),
}

/// Why an actor stopped taking actions.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StopReason {
    /// The system was shut down.
    #[error("the system is shut down")]
    Shutdown,
    /// Actions panicked more often than the restart policy allows.
    #[error("crash loop: {restarts} panics within {window:?}")]
    CrashLoop {
        /// Panics counted within the window.
        restarts: u32,
        /// The restart policy's window.
        window: std::time::Duration,
    },
    /// The last durable snapshot could not be reloaded after a panic or a failed commit.
    #[error("the last durable snapshot could not be reloaded")]
    Reload(#[source] Arc<DecodeError>),
    /// The actor was destroyed: its state is deleted.
    #[error("the actor was destroyed")]
    Destroyed,
    /// The actor's first state could not be written (see the `StartError` its creator got).
    #[error("the actor could not be created")]
    NotCreated,
}

/// Getting or creating an actor failed ([`System::get_or_create`](crate::System::get_or_create),
/// [`System::get`](crate::System::get), [`System::create`](crate::System::create)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// [`System::get`](crate::System::get) of an actor that was never created.
    #[error("actor {0} does not exist")]
    NotFound(ActorPath),
    /// [`System::create`](crate::System::create) of an actor that already exists.
    #[error("actor {0} already exists")]
    AlreadyExists(ActorPath),
    /// The actor's record could not be read.
    #[error("cannot load actor {actor}")]
    Load {
        /// The actor.
        actor: ActorPath,
        /// What storage reported.
        #[source]
        source: StorageError,
    },
    /// The actor's record does not decode. The record is left untouched.
    #[error("cannot decode the stored state of actor {actor}")]
    Decode {
        /// The actor.
        actor: ActorPath,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The initial state does not encode.
    #[error("cannot encode the initial state of actor {actor}")]
    Encode {
        /// The actor.
        actor: ActorPath,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// The initial state is larger than `ActorConfig::max_state_bytes`.
    #[error("the initial state of actor {actor} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The actor.
        actor: ActorPath,
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The initial state could not be made durable; the actor was not created.
    #[error("cannot commit the initial state of actor {actor}")]
    Commit {
        /// The actor.
        actor: ActorPath,
        /// What storage reported.
        #[source]
        source: Arc<StorageError>,
    },
    /// Two actor types share the name in `Actor::NAME`; they would share stored records.
    #[error("actor {0}: another actor type uses the same name")]
    NameClash(ActorPath),
    /// The system is shut down.
    #[error("the system is shut down")]
    Shutdown,
}

/// An [`ask`](crate::Handle::ask) did not produce the action's reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError<E> {
    /// The action returned this error. The actor's state was rolled back to what it was
    /// before the action.
    #[error("the action failed")]
    Action(#[source] E),
    /// The action panicked. The actor reloaded its last snapshot and goes on serving.
    #[error("an action of {actor} panicked: {message}")]
    Panicked {
        /// The actor.
        actor: ActorPath,
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The commit that would have made this reply's state durable failed. The actor went back
    /// to its last durable snapshot; nothing this reply observed was kept.
    #[error("the state of {actor} could not be made durable")]
    Commit {
        /// The actor whose commit failed.
        actor: ActorPath,
        /// What storage reported.
        #[source]
        source: Arc<StorageError>,
    },
    /// The new state does not encode; the action was rolled back.
    #[error("the new state of {actor} does not encode")]
    Encode {
        /// The actor.
        actor: ActorPath,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// The new state is larger than `ActorConfig::max_state_bytes`; the action was rolled
    /// back. Nothing else in the same commit is affected.
    #[error("the new state of {actor} is {size} bytes, over the limit of {limit}")]
    StateTooLarge {
        /// The actor.
        actor: ActorPath,
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The actor is not running any more (`reason`, also the error's source, says why).
    #[error("actor {actor} is stopped")]
    Stopped {
        /// The actor.
        actor: ActorPath,
        /// Why it stopped.
        #[source]
        reason: StopReason,
    },
    /// An action asked its own actor, which would wait for itself forever.
    #[error("an action of {actor} asked its own actor")]
    Reentrant {
        /// The actor.
        actor: ActorPath,
    },
}

impl<E> AskError<E> {
    /// Converts the action's own error, keeping every other variant as it is.
    pub fn map_action<F>(self, f: impl FnOnce(E) -> F) -> AskError<F> {
        match self.retype() {
            Ok(e) => AskError::Action(f(e)),
            Err(other) => other,
        }
    }

    /// The action's own error, or the runtime's.
    pub fn split(self) -> Result<E, AskError<Infallible>> {
        self.retype()
    }

    /// The action's own error, or every other variant as the error of another action type.
    fn retype<F>(self) -> Result<E, AskError<F>> {
        Err(match self {
            Self::Action(e) => return Ok(e),
            Self::Panicked { actor, message } => AskError::Panicked { actor, message },
            Self::Commit { actor, source } => AskError::Commit { actor, source },
            Self::Encode { actor, source } => AskError::Encode { actor, source },
            Self::StateTooLarge { actor, size, limit } => {
                AskError::StateTooLarge { actor, size, limit }
            }
            Self::Stopped { actor, reason } => AskError::Stopped { actor, reason },
            Self::Reentrant { actor } => AskError::Reentrant { actor },
        })
    }
}

impl AskError<Infallible> {
    /// A runtime error as the error of any action type.
    pub fn widen<F>(self) -> AskError<F> {
        match self.retype() {
            Ok(never) => match never {},
            Err(other) => other,
        }
    }
}

/// A call by action name ([`Handle::ask_json`](crate::Handle::ask_json),
/// [`Handle::ask_cbor`](crate::Handle::ask_cbor)) failed. `P` is the payload format: the
/// action's own error arrives encoded in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ByNameError<P> {
    /// No action has that name, or the arguments do not fit it. Nothing was sent.
    #[error("action `{action}`: unknown action or bad arguments")]
    Arguments {
        /// The name asked for.
        action: String,
        /// What the decoder reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The reply or the action's error could not be encoded.
    #[error("action `{action}`: the reply does not encode")]
    Reply {
        /// The name asked for.
        action: String,
        /// What the encoder reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The action returned an error; here it is, encoded as `P`. The state was rolled back.
    #[error("the action returned an error: {0:?}")]
    Action(P),
    /// The runtime could not run the action or make its result durable.
    #[error(transparent)]
    Call(AskError<Infallible>),
}

/// A [`tell`](crate::Handle::tell) could not be delivered; the action is handed back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TellError<M> {
    /// The receiving actor is not running (`reason` says why).
    #[error("actor {actor} is stopped: {reason}")]
    Stopped {
        /// The action that was not delivered.
        action: M,
        /// The receiving actor.
        actor: ActorPath,
        /// Why it is not running.
        reason: StopReason,
    },
    /// Sent from inside an action, and the calling actor's state could not be made durable
    /// first (`source` is the failed commit), or an actor told itself while its own mailbox
    /// was full (`source` is `None`).
    #[error("not sent from {actor}: its state is not durable, or its own mailbox is full")]
    NotSent {
        /// The action that was not delivered.
        action: M,
        /// The calling actor.
        actor: ActorPath,
        /// The failed commit, if that was the cause.
        #[source]
        source: Option<Arc<StorageError>>,
    },
}

/// [`Ctx::save_state`](crate::Ctx::save_state) could not make the state durable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// The state does not encode.
    #[error("the state does not encode")]
    Encode(#[from] EncodeError),
    /// The commit failed. When the action ends the actor goes back to its last durable
    /// snapshot, and every reply that waited on the failed state gets an error.
    #[error("the commit failed")]
    Commit(#[source] Arc<StorageError>),
    /// The state is larger than `ActorConfig::max_state_bytes`.
    #[error("the state is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Every error of this crate, for callers that do not need to tell them apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// See [`StartError`].
    #[error(transparent)]
    Start(#[from] StartError),
    /// See [`SaveError`].
    #[error(transparent)]
    Save(#[from] SaveError),
    /// See [`StorageError`].
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// An [`AskError`] or [`TellError`], with the action's own error boxed.
    #[error(transparent)]
    Call(Box<dyn std::error::Error + Send + Sync>),
}

impl<E: std::error::Error + Send + Sync + 'static> From<AskError<E>> for Error {
    fn from(error: AskError<E>) -> Self {
        Self::Call(Box::new(error))
    }
}

impl<M: std::fmt::Debug + Send + Sync + 'static> From<TellError<M>> for Error {
    fn from(error: TellError<M>) -> Self {
        Self::Call(Box::new(error))
    }
}

/// Serializes an error as its message followed by its causes, so that actions may return
/// the runtime's errors and still be callable by name.
pub(crate) fn serialize_chain<S: serde::Serializer>(
    error: &dyn std::error::Error,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    serializer.serialize_str(&message)
}

/// Serialized as its message with causes.
impl serde::Serialize for SaveError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_chain(self, serializer)
    }
}

//! Typed errors, one enum per operation, and the umbrella [`Error`].
//!
//! Every enum is `#[non_exhaustive]` and wraps its cause rather than turning it into a string,
//! so callers can match on what went wrong and still walk the `source()` chain.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use crate::key::ActorPath;
use crate::limits::{MAX_KEY_BYTES, MAX_STORE_NAME_BYTES, MAX_VALUE_BYTES, prefix};

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
    /// The storage could not record a new epoch (one small commit at every open).
    #[error("cannot record a new epoch in the storage")]
    Epoch(#[source] StorageError),
    /// The outbox left by an earlier run could not be read.
    #[error("cannot read the outbox")]
    Outbox(#[source] StorageError),
    /// An actor type declared with `SystemBuilder::actor` clashes with another.
    #[error("cannot declare an actor type")]
    Declare(#[source] StartError),
}

/// Opening a store file read-only, or reading it, failed ([`Inspector`](crate::inspect::Inspector)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// There is no file at the path.
    #[error("{path}: no such file")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// A writer holds the file whole (a system opened with `shared_reads` off, or a build
    /// before shared reads), which shuts out every other reader.
    #[error(
        "{path}: held by a running system that does not share the file; read it after the system shuts down"
    )]
    Held {
        /// The file.
        path: PathBuf,
    },
    /// The file was not closed cleanly (its system was killed) and no system has it open to
    /// repair it; a read-only open never repairs.
    #[error(
        "{path}: not closed cleanly and not open in any system; open it with the system once to repair it"
    )]
    Unclean {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a redb database (or cannot be read at all).
    #[error("{path}: cannot open the database")]
    Open {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: StorageError,
    },
    /// The file is a redb database, but not one this framework wrote (it has no `meta` table
    /// with a storage format).
    #[error("{path}: not an actor store (no storage format recorded)")]
    NotActorStore {
        /// The file.
        path: PathBuf,
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
    /// A read failed.
    #[error("{path}: cannot read the database")]
    Read {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: StorageError,
    },
    /// redb panicked reading the file: it is damaged.
    #[error("{path}: the file is damaged (reading it panicked: {message})")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The panic's message.
        message: String,
    },
    /// The running system read through ([`System::inspect`](crate::System::inspect)) has
    /// shut down.
    #[error("the system is shut down")]
    Shutdown,
    /// The running system does not run on a redb file (a custom storage backend), so there
    /// is no file to inspect.
    #[error("the system does not run on a redb file, so it cannot be inspected")]
    NotFileBacked,
}

/// A backup ([`System::backup`](crate::System::backup),
/// [`inspect::backup`](crate::inspect::backup)) failed. Nothing is left at the target path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The system runs on a custom storage backend, which a backup cannot copy.
    #[error("the system does not run on a redb file, so it cannot be backed up")]
    NotFileBacked,
    /// The system was shut down.
    #[error("the system is shut down")]
    Shutdown,
    /// Something is already at the target path; a backup never replaces a file.
    #[error("{path}: already exists; a backup does not replace a file")]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// The source could not be opened (a backup from a file).
    #[error(transparent)]
    Source(#[from] InspectError),
    /// Reading the snapshot failed.
    #[error("cannot read the snapshot to back up")]
    Read(#[source] StorageError),
    /// Writing the copy failed.
    #[error("{path}: cannot write the backup")]
    Write {
        /// The target.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: StorageError,
    },
    /// Syncing or renaming the copy failed.
    #[error("{path}: cannot write the backup")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The blocking copy task could not run (the runtime is shutting down).
    #[error("the backup task did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A restore ([`inspect::restore`](crate::inspect::restore)) failed. The target is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The backup does not open as an actor store.
    #[error("the backup does not open as an actor store")]
    Backup(#[source] InspectError),
    /// The target exists and the restore was not forced.
    #[error("{path}: already exists; force the restore to replace it")]
    Exists {
        /// The target.
        path: PathBuf,
    },
    /// A running system holds the target.
    #[error("{path}: held by a running system; shut it down before restoring over it")]
    Held {
        /// The target.
        path: PathBuf,
    },
    /// Copying, syncing or renaming failed.
    #[error("{path}: cannot restore")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
}

/// A value (an actor's state, or a reply sent by name) could not be encoded. Nothing was
/// written for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The value nests deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) levels: it would not
    /// decode again, so it is refused before it is written.
    #[error("the value nests deeper than {limit} levels")]
    TooDeep {
        /// The limit, [`MAX_DEPTH`](crate::MAX_DEPTH).
        limit: usize,
    },
    /// The value's `Serialize` implementation panicked.
    #[error("the value's Serialize implementation panicked: {message}")]
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The CBOR encoder refused the value (a `Serialize` implementation returned an error).
    #[error("cannot encode the value as CBOR")]
    Cbor(#[source] ciborium::ser::Error<std::io::Error>),
    /// The actor's actions cannot be stored (for a schedule or a message): its
    /// `Actor::encode_action` is the default, which refuses.
    #[error(
        "the actions of `{actor}` cannot be stored: implement Actor::encode_action and decode_action (#[actions] does)"
    )]
    NotStorable {
        /// The actor type's name.
        actor: &'static str,
    },
}

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
    /// The state type's `Deserialize` implementation, or `Actor::migrate`, panicked.
    #[error("decoding the state panicked: {message}")]
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The actor's stored actions cannot be decoded: its `Actor::decode_action` is the
    /// default, which refuses.
    #[error(
        "stored actions of `{actor}` cannot be decoded: implement Actor::decode_action (#[actions] does)"
    )]
    NotStorable {
        /// The actor type's name.
        actor: &'static str,
    },
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
    /// The system shut down while an action or hook of this actor was still running after the
    /// shutdown deadline ([`SystemBuilder::shutdown_timeout`](crate::SystemBuilder::shutdown_timeout)):
    /// it was cancelled, and nothing it changed was written. What was acknowledged before is
    /// durable.
    #[error("cancelled: still running {after:?} after shutdown began")]
    Aborted {
        /// The shutdown deadline.
        after: std::time::Duration,
    },
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
    /// Another actor type already uses this type's `Actor::NAME` in this system. They would
    /// share stored records, so the second type is refused (at its first use, whatever the
    /// key). Give one of them another name with `#[actor(name = "...")]`.
    #[error(
        "actor type `{requested}` cannot use the name `{name}`: `{registered}` already uses it in this system; give one of them another name with #[actor(name = \"...\")]"
    )]
    NameClash {
        /// The name both types claim.
        name: &'static str,
        /// The Rust type that used the name first.
        registered: &'static str,
        /// The Rust type that was refused.
        requested: &'static str,
    },
    /// The key is longer than [`MAX_ACTOR_KEY_BYTES`](crate::MAX_ACTOR_KEY_BYTES) (in its
    /// encoded form, [`ActorKey::as_str`](crate::ActorKey::as_str)).
    #[error(
        "actor {kind}: a key of {len} bytes is over the limit of {limit} (it starts `{prefix}`)"
    )]
    KeyTooLong {
        /// The actor type's name.
        kind: &'static str,
        /// The encoded key's length.
        len: usize,
        /// The limit.
        limit: usize,
        /// The key's first characters.
        prefix: String,
    },
    /// `create_state` or `on_create` panicked. Nothing was stored; a later call creates the
    /// actor again from the start.
    #[error("creating actor {actor} panicked: {message}")]
    CreatePanicked {
        /// The actor.
        actor: ActorPath,
        /// The panic's message, when it was a string.
        message: String,
    },
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
    /// An action asked an actor that is itself waiting, through nested asks, for the asking
    /// actor (A asks B, whose action asks A): both would wait forever. Nothing was sent.
    #[error("call cycle: {}", cycle_text(.cycle))]
    Cycle {
        /// The actors in the cycle, from the first asker to the actor asked again.
        cycle: Vec<ActorPath>,
    },
    /// The actor was asleep and could not be read back from storage (a read failed). The
    /// action did not run; the next call tries to wake the actor again.
    #[error("actor {actor} is asleep and could not be loaded")]
    Unavailable {
        /// The actor.
        actor: ActorPath,
        /// What storage reported.
        #[source]
        source: Arc<StorageError>,
    },
    /// [`Handle::ask_timeout`](crate::Handle::ask_timeout) gave up waiting, or a
    /// [`Remote`](crate::Remote) call got no answer within its transport's time limit. The
    /// action was not withdrawn: it may still run, and its effect may be (or become) durable.
    #[error("no reply from {actor} within {after:?}")]
    Timeout {
        /// The actor.
        actor: ActorPath,
        /// How long the caller waited.
        after: std::time::Duration,
    },
    /// A call to a remote actor ([`Remote`](crate::Remote)) failed on the way: the server was
    /// not reached, refused the call, or answered something that does not decode. `source`
    /// says which, and whether the action may have run.
    #[error("the call to remote actor {actor} failed")]
    Remote {
        /// The actor.
        actor: ActorPath,
        /// What went wrong.
        #[source]
        source: RemoteError,
    },
}

fn cycle_text(cycle: &[ActorPath]) -> String {
    let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
    names.join(" -> ")
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
            Self::Cycle { cycle } => AskError::Cycle { cycle },
            Self::Unavailable { actor, source } => AskError::Unavailable { actor, source },
            Self::Timeout { actor, after } => AskError::Timeout { actor, after },
            Self::Remote { actor, source } => AskError::Remote { actor, source },
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
    /// No action has that name. Nothing was sent.
    #[error("unknown action `{action}`; the actions are: {}", valid.join(", "))]
    UnknownAction {
        /// The name asked for (at most its first 64 characters).
        action: String,
        /// The names of the actor's actions ([`Actor::ACTIONS`](crate::Actor::ACTIONS)).
        valid: &'static [&'static str],
    },
    /// The arguments do not fit the action: a missing, unknown or mistyped field, or a value
    /// nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH). Nothing was sent.
    #[error("action `{action}`: bad arguments: {source}")]
    Arguments {
        /// The action's name.
        action: String,
        /// What the decoder reported.
        #[source]
        source: ArgumentsError,
    },
    /// The reply (or the action's error) cannot be encoded in the payload format, e.g. a
    /// `u128` beyond JSON's integers, a map with non-string keys, or a value nested too deep.
    /// This is found inside the actor's turn, before anything is written: the action was
    /// rolled back and nothing of it was applied, so the call can be retried once the reply
    /// type is fixed.
    #[error("action `{action}`: its reply cannot be encoded, so it was rolled back")]
    Reply {
        /// The action's name.
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

/// Why arguments did not decode: the decoder's message, cut to at most 256 bytes (it may
/// quote the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgumentsError {
    message: String,
}

impl ArgumentsError {
    pub(crate) fn new(error: &dyn std::fmt::Display) -> Self {
        Self {
            message: prefix(&error.to_string(), 256),
        }
    }

    /// The decoder's message (at most 256 bytes).
    pub fn message(&self) -> &str {
        &self.message
    }
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
    /// The receiving actor was asleep and could not be read back from storage. The action
    /// was not delivered; the next call tries to wake the actor again.
    #[error("actor {actor} is asleep and could not be loaded")]
    Unavailable {
        /// The action that was not delivered.
        action: M,
        /// The receiving actor.
        actor: ActorPath,
        /// What storage reported.
        #[source]
        source: Arc<StorageError>,
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

/// [`Ctx::schedule_after`](crate::Ctx::schedule_after) or
/// [`Ctx::schedule_at`](crate::Ctx::schedule_at) could not stage the schedule. Nothing was
/// staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The action cannot be stored.
    #[error("the scheduled action cannot be stored")]
    Encode(#[source] EncodeError),
    /// The storage could not hand out an id.
    #[error("no id for the schedule")]
    Storage(#[source] StorageError),
    /// The system is shut down.
    #[error("the system is shut down")]
    Shutdown,
}

/// [`Ctx::send`](crate::Ctx::send) could not stage the message. Nothing was staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The action cannot be stored.
    #[error("the message's action cannot be stored")]
    Encode(#[source] EncodeError),
    /// The receiver's key is longer than [`MAX_ACTOR_KEY_BYTES`](crate::MAX_ACTOR_KEY_BYTES).
    #[error("a receiver key of {len} bytes is over the limit (it starts `{prefix}`)")]
    KeyTooLong {
        /// The key's length.
        len: usize,
        /// The key's first characters.
        prefix: String,
    },
    /// The storage could not hand out a sequence number.
    #[error("no sequence number for the message")]
    Storage(#[source] StorageError),
    /// The system is shut down.
    #[error("the system is shut down")]
    Shutdown,
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

/// What went wrong, as the `kind` of an [`ErrorBody`]: the kinds of error the HTTP server
/// (`actor_core::http`, the `http` feature) answers, each with one status code, and that a
/// [`Remote`](crate::Remote) call reports in [`RemoteError::Status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// 404: no route has this path (and no worker serves it).
    NotFound,
    /// 405: the route exists but not for this method (the `Allow` header lists them).
    MethodNotAllowed,
    /// 404: no actor type of this name is served; `types` lists those that are.
    UnknownActorType,
    /// 404: the actor type has no action of this name; `actions` lists its actions.
    UnknownAction,
    /// 400: the path is not valid percent-encoded UTF-8.
    BadPath,
    /// 400: the key is not the printed form of an actor key, or is too long.
    BadKey,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 400: a WebSocket route was asked without a valid upgrade request.
    NotWebSocket,
    /// 400: the body is not JSON (malformed, or nested deeper than 128 levels).
    BadJson,
    /// 400: the arguments do not fit the action; the message names the field.
    BadArguments,
    /// 401: the route needs a bearer token and the request did not present a valid one.
    Unauthorized,
    /// 413: the request body is over the limit.
    BodyTooLarge,
    /// 413: the action would make the actor's state larger than its limit; it was rolled
    /// back.
    StateTooLarge,
    /// 422: the action returned its own error; `value` holds it (its serde form). The state
    /// was rolled back.
    ActionError,
    /// 500: the action's reply does not encode as JSON; the action was rolled back.
    ReplyNotEncodable,
    /// 500: the actor's new state does not encode; the action was rolled back.
    StateNotEncodable,
    /// 500: the action panicked; the actor went back to its last durable state.
    Panicked,
    /// 500: storage failed (a commit, or a record that does not read back); nothing was
    /// acknowledged. The cause is in the server's log, not in the answer.
    Storage,
    /// 503: the actor cannot be loaded right now (a storage read failed); try again.
    Unavailable,
    /// 503: the server or its actor system is shutting down.
    ShuttingDown,
    /// 503: the actor is stopped (after repeated panics, say); try again later.
    Stopped,
    /// 504: no response within the request time limit. An action already handed to its actor
    /// is not withdrawn: it may still complete and become durable.
    Timeout,
    /// 500: the worker failed; the cause is in the server's log.
    WorkerError,
    /// 500: something that should not happen; the cause is in the server's log.
    Internal,
    /// A kind this version does not know (from a newer server).
    #[serde(other)]
    Other,
}

/// The JSON body of every error response: `{"error": {"kind": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// What went wrong; it fixes the status code.
    pub kind: ErrorKind,
    /// For people: what was wrong, quoting at most a short prefix of the request.
    pub message: String,
    /// With `unknown_action`: the actor type's actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// With `unknown_actor_type`: the actor types served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// With `action_error`: the action's error, as its `Serialize` writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// With `state_too_large`: the size in bytes the state would have had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    /// With `state_too_large`: the actor's limit in bytes (`ActorConfig::max_state_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl ErrorDetail {
    /// An error of `kind` with `message` and none of the extras, as a transport other than
    /// the HTTP client may build one.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            actions: None,
            types: None,
            value: None,
            size: None,
            limit: None,
        }
    }
}

/// A call to a remote actor ([`Remote`](crate::Remote)) did not go through: the server
/// could not be reached, refused the call, or answered something that does not decode.
/// [`AskError::Remote`] carries it with the actor.
///
/// What the server said is kept as it said it, but never more than a short prefix of it: a
/// body that does not decode is quoted up to 64 bytes, a message up to 256.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// No connection could be made (refused, unreachable, a name that does not resolve): the
    /// request was not sent, so the action did not run.
    #[error("cannot connect to the server")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request or its answer broke off once connected (the connection closed, a read
    /// failed). The action may have run, and its effect may be durable.
    #[error("the request failed")]
    Request(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer within the transport's time limit. A [`Remote`](crate::Remote) reports it
    /// as [`AskError::Timeout`]: the action was not withdrawn and may still complete.
    #[error("no answer within {after:?}")]
    Timeout {
        /// The time limit.
        after: std::time::Duration,
    },
    /// The server answered with an error. Kinds that mean what a variant of [`AskError`]
    /// means (`action_error`, `panicked`, `state_too_large`, `shutting_down`) are reported
    /// as that variant instead; every other kind arrives here (`unknown_actor_type`,
    /// `unauthorized`, `bad_arguments`, `stopped`, `storage`, `timeout`...).
    #[error("the server answered {status} {kind:?}: {message}", kind = .detail.kind, message = .detail.message)]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The error body's `error`: its kind, message and extras (boxed, to keep every
        /// `AskError` small).
        detail: Box<ErrorDetail>,
    },
    /// The answer does not decode: an error answer that is not an [`ErrorBody`] (a proxy's
    /// page, a bare status), a reply that is not the action's reply type, or an action
    /// error that is not its error type.
    #[error("cannot decode the answer (status {status}) starting `{prefix}`")]
    Decode {
        /// The HTTP status code.
        status: u16,
        /// The answer's first bytes (at most 64, as text).
        prefix: String,
        /// What the decoder reported.
        #[source]
        source: serde_json::Error,
    },
    /// The answer is longer than the client accepts; it was not read to the end.
    #[error("the answer is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The arguments do not encode as a JSON object (a map whose keys are not strings, a
    /// value that is not an object). Nothing was sent.
    #[error("the arguments cannot be sent")]
    Arguments(#[source] ArgumentsError),
    /// The key cannot be written in a URL path: the empty key, `.` and `..` (HTTP clients
    /// and proxies resolve dot segments away). Nothing was sent.
    #[error("the key `{key}` cannot be written in a URL path")]
    Unaddressable {
        /// The key.
        key: String,
    },
    /// A transport other than the HTTP client failed.
    #[error("the transport failed")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl RemoteError {
    /// A [`Decode`](RemoteError::Decode) error for an answer of `status` whose `body` did not
    /// decode, quoting at most its first 64 bytes.
    pub fn decode(status: u16, body: &[u8], source: serde_json::Error) -> Self {
        let head = &body[..body.len().min(crate::limits::QUOTE_BYTES)];
        Self::Decode {
            status,
            prefix: crate::limits::quote(&String::from_utf8_lossy(head)),
            source,
        }
    }
}

/// Building an HTTP [`Client`](crate::http::Client) failed.
#[cfg(feature = "client")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server's address is not an `http://` URL without a query or fragment.
    #[error("`{url}` is not a server address: {reason}")]
    BadUrl {
        /// The address (at most its first 64 bytes).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A bearer token must be 1 to `max` visible ASCII characters (as the server requires).
    #[error("a bearer token must be 1 to {max} visible ASCII characters")]
    BadToken {
        /// The longest token accepted.
        max: usize,
    },
    /// The HTTP client library could not be set up.
    #[error("cannot set up the HTTP client")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Starting a [`Server`](crate::http::Server) failed.
#[cfg(feature = "http")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The directory of [`ServerBuilder::backups`](crate::http::ServerBuilder::backups) could
    /// not be created.
    #[error("{dir}: cannot create the backup directory")]
    BackupDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// An actor type could not be declared to the system (another type uses its name).
    #[error("cannot serve an actor type")]
    Declare(#[source] StartError),
    /// The worker's environment does not fit the system's bindings.
    #[error("cannot build the worker's environment")]
    Env(#[source] BindingError),
    /// A bearer token is empty, too long, or has characters a header cannot carry.
    #[error("a bearer token must be 1 to {max} visible ASCII characters")]
    BadToken {
        /// The longest token accepted.
        max: usize,
    },
    /// A served actor type has an action named like a route the server keeps for itself
    /// under `/actors/{type}/{key}/` (`fetch`, `websocket`), so it could not be called.
    #[error(
        "actor type `{actor}` has an action named `{action}`, a name the HTTP routes keep for themselves; rename the action"
    )]
    ReservedAction {
        /// The actor type.
        actor: &'static str,
        /// The action's name.
        action: &'static str,
    },
}

/// Every error of this crate, for callers that do not need to tell them apart: each
/// operation's error converts into it with `?`.
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
    /// See [`DecodeError`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// See [`EncodeError`].
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// See [`KvError`].
    #[error(transparent)]
    Kv(#[from] KvError),
    /// See [`BindingError`].
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// See [`ConfigError`].
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// See [`InspectError`].
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// See [`BackupError`].
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// See [`RestoreError`].
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// See [`ServeError`](crate::http::ServeError) (the `http` feature).
    #[cfg(feature = "http")]
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// See [`ClientError`](crate::http::ClientError) (the `client` feature).
    #[cfg(feature = "client")]
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An [`AskError`], [`TellError`] or [`ByNameError`], with the action's own error (or the
    /// undelivered action) boxed.
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

impl<P: std::fmt::Debug + Send + Sync + 'static> From<ByNameError<P>> for Error {
    fn from(error: ByNameError<P>) -> Self {
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

/// Serialized as its message with causes, so actions may return it.
impl serde::Serialize for ScheduleError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_chain(self, serializer)
    }
}

/// Serialized as its message with causes, so actions may return it.
impl serde::Serialize for SendError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_chain(self, serializer)
    }
}

/// Serialized as its message with causes.
impl serde::Serialize for SaveError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_chain(self, serializer)
    }
}

/// A key-value operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// A store id must be 1 to [`MAX_STORE_NAME_BYTES`] bytes.
    #[error("store id `{store}` ({len} bytes) is not 1 to {MAX_STORE_NAME_BYTES} bytes long")]
    BadStoreName {
        /// The store id (at most its first 64 characters).
        store: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Keys may not be empty.
    #[error("store `{store}`: the empty key is not allowed")]
    EmptyKey {
        /// The store.
        store: String,
    },
    /// The key is longer than [`MAX_KEY_BYTES`].
    #[error("store `{store}`: key of {len} bytes is over the limit of {MAX_KEY_BYTES}")]
    KeyTooLarge {
        /// The store.
        store: String,
        /// The key's length.
        len: usize,
    },
    /// The value is longer than [`MAX_VALUE_BYTES`].
    #[error(
        "store `{store}`, key `{key}`: value of {len} bytes is over the limit of {MAX_VALUE_BYTES}"
    )]
    ValueTooLarge {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// The value's length.
        len: usize,
    },
    /// A value that should be JSON (for `get_json`) or an integer (for `increment`) is not.
    #[error("store `{store}`, key `{key}`: the value is not {expected}")]
    BadValue {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// `increment` would take the value past the range of an `i64`; nothing was written.
    #[error("store `{store}`, key `{key}`: adding {by} to {value} overflows an i64")]
    Overflow {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// The stored value.
        value: i64,
        /// What was to be added.
        by: i64,
    },
    /// A value could not be encoded as JSON (`set_json`).
    #[error("store `{store}`, key `{key}`: cannot encode the value as JSON")]
    Json {
        /// The store.
        store: String,
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The `update` closure panicked; nothing was written for it.
    #[error("store `{store}`, key `{key}`: the update function panicked")]
    UpdatePanicked {
        /// The store.
        store: String,
        /// The key.
        key: String,
    },
    /// Reading or committing failed; nothing was written.
    #[error("store `{store}`: storage failed")]
    Storage {
        /// The store.
        store: String,
        /// What storage reported.
        #[source]
        source: Arc<StorageError>,
    },
    /// The system is shut down.
    #[error("the system is shut down")]
    Shutdown,
}

/// Serialized as its message with causes, so actions may return it.
impl serde::Serialize for KvError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_chain(self, serializer)
    }
}

/// A config file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML, or `[state]` is not a table of strings.
    #[error("invalid config: {0}")]
    Parse(#[source] toml::de::Error),
    /// A binding or store id is empty.
    #[error("binding `{0}`: names and store ids may not be empty")]
    Empty(String),
    /// A binding's store id is not a valid store id.
    #[error("binding `{binding}`")]
    Store {
        /// The binding.
        binding: String,
        /// What is wrong with its store id.
        #[source]
        source: KvError,
    },
}

/// A binding was asked for that the config does not declare, or an [`Env`](crate::Env) does not fit it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingError {
    /// The binding is not in the config.
    #[error("binding `{name}` is not declared in [state] (declared: {declared:?})")]
    Missing {
        /// The binding asked for.
        name: String,
        /// The bindings the config declares.
        declared: Vec<String>,
    },
    /// The config declares a binding the environment type has no field for.
    #[error("binding `{name}` is declared in [state] but the environment has no field for it")]
    Unknown {
        /// The binding.
        name: String,
    },
    /// The binding's store id is not 1 to [`MAX_STORE_NAME_BYTES`] bytes (bindings built
    /// in code are checked when used; ones read from a file, when read).
    #[error(
        "binding `{name}`: store id `{store}` ({len} bytes) is not 1 to {MAX_STORE_NAME_BYTES} bytes long"
    )]
    BadStore {
        /// The binding.
        name: String,
        /// The store id (at most its first 64 characters).
        store: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// A subscriber fell behind: this many events were published that it will not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the subscriber fell behind and missed {0} events")]
pub struct EventLag(pub u64);

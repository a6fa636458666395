//! Durable actors for tokio: state in memory, persisted as CBOR into an embedded redb file
//! after every action that changed it, and a reply released only once that state is durable.
//!
//! # Quick start
//!
//! ```
//! use actor_core::{actions, Actor, System};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Actor, Serialize, Deserialize, Default)]
//! struct Counter {
//!     count: i64,
//! }
//!
//! #[actions]
//! impl Counter {
//!     pub async fn increment(&mut self, by: i64) -> i64 {
//!         self.count += by;
//!         self.count
//!     }
//!
//!     pub async fn get(&self) -> i64 {
//!         self.count
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), actor_core::Error> {
//! let system = System::temporary().await?;
//! let counter = system.get_or_create::<Counter>("room-42").await?;
//! assert_eq!(counter.increment(5).await?, 5); // returns once the new count is on disk
//! assert_eq!(counter.get().await?, 5); // read-only: writes nothing
//! system.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! `#[derive(Actor)]` and `#[actions]` implement the [`Actor`] trait, which can also be
//! implemented by hand (see its docs).
//!
//! # Layout
//!
//! Bottom-up, each module using only those above it in this list (but `actor` and `ctx`,
//! which use each other: the trait's hooks take a `Ctx<Self>`, a `Ctx` is generic over its
//! actor):
//!
//! - `limits`, `panic`, `memory`, `metrics`: every limit on caller input and how errors
//!   quote it; catching panics in user code and [`quiet_caught_panics`]; giving sleeping
//!   actors' memory back to the operating system; what the runtime records through the
//!   `metrics` facade (the `metrics` cargo feature; `describe_metrics`).
//! - `key`: [`ActorKey`] and [`ActorPath`]. `depth`: the nesting limit on everything
//!   encoded, so every record reads back.
//! - [`error`](Error): one typed error per operation, and the umbrella [`Error`]; the JSON
//!   form of a server's errors ([`ErrorBody`], [`ErrorKind`]), which server and client share.
//! - `snapshot`: the record format (header + CBOR) and [`Record`], its reader for tools.
//! - [`storage`](Storage): the narrow storage trait and its redb implementation.
//! - [`inspect`]: reading a store file without the actors' types (also while a system runs
//!   on it, from another process), verifying it, backup and restore; what the `actors`
//!   command line tool is built on.
//! - `writer`: the thread that group-commits jobs into one durable transaction at a time;
//!   it knows nothing of its clients.
//! - `turn`: a turn's durability: what it staged, its sequence, what is durable, what is
//!   held, and rollback. `store`: the storage, the writer and the ids of schedules and
//!   messages, as shared.
//! - [`kv`](KvStore): durable key-value stores (writer jobs), bindings, typed environments.
//!   `host`: what an actor's context needs from its system, as a trait.
//! - [`actor`](Actor) and [`ctx`](Ctx): the trait a state type implements with its
//!   [`ActorConfig`] and [`RestartPolicy`]; what an action sees and stages.
//! - `mailbox`: what a mailbox carries. `slot`: one actor as its handles, task and the
//!   registry share it (lifecycle, parked mailbox, events).
//! - [`handle`](Handle): the address of an actor; `ask`, `tell`, calls by name, events, and
//!   the gate every call out of an action passes. `deliver`: how stored actions reach actors.
//!   [`remote`](Remote): the address of an actor another process serves, with the same
//!   typed methods, over a [`Transport`].
//! - `supervisor`: the actor's task: the run loop, panic recovery, sleep, destroy.
//!   `registry`: the actors a system knows and which type owns each name. `schedule`: the
//!   timer service. `outbox`: the message delivery service.
//! - [`system`](System): the public entry.
//! - `http` (the `http` cargo feature): serving actors' actions as JSON over HTTP, a listing
//!   of what is served, and a `fetch(request, env)` worker, on axum, tower and hyper; with
//!   the `client` feature, `http::Client`, the HTTP transport of a [`Remote`] (reqwest).
//! - `testing` (the `testing` cargo feature): a test kit for your own actors: a temporary
//!   database, a paused clock that drives schedules, a storage that fails chosen commits,
//!   and a crash harness that checks an invariant after a crash at every commit.
//!
//! The guide in `docs/` (getting started, actors and state, the living actor, schedules,
//! messages and events, types, actors without macros, durability, storage format, serving
//! actors over HTTP and calling them from another program, metrics, operating a store,
//! testing your actors) explains the promises and what they cost.

mod actor;
mod ctx;
mod deliver;
mod depth;
mod error;
mod handle;
mod host;
#[cfg(any(feature = "http", feature = "client"))]
pub mod http;
pub mod inspect;
mod key;
mod kv;
mod limits;
mod mailbox;
mod memory;
mod metrics;
mod outbox;
mod panic;
mod registry;
mod remote;
mod schedule;
mod slot;
mod snapshot;
mod storage;
mod store;
mod supervisor;
mod system;
mod tap;
#[cfg(feature = "testing")]
pub mod testing;
mod turn;
mod writer;

pub use crate::actor::{Actor, ActorConfig, ReadOutcome, RestartPolicy};
pub use crate::ctx::{Ctx, ScheduleId};
pub use crate::error::{
    ArgumentsError, AskError, BackupError, BindingError, ByNameError, ConfigError, DecodeError,
    EncodeError, Error, ErrorBody, ErrorDetail, ErrorKind, EventLag, InspectError, KvError,
    OpenError, RemoteError, RestoreError, SaveError, ScheduleError, SendError, StartError,
    StopReason, StorageError, TellError,
};
pub use crate::handle::{Events, Handle};
pub use crate::inspect::BackupReport;
pub use crate::key::{ActorKey, ActorPath, KeyError};
pub use crate::kv::{Bindings, Env, KvPage, KvStore};
pub use crate::limits::{
    MAX_ACTOR_KEY_BYTES, MAX_DEPTH, MAX_KEY_BYTES, MAX_STORE_NAME_BYTES, MAX_VALUE_BYTES,
};
#[cfg(feature = "metrics")]
pub use crate::metrics::describe_metrics;
pub use crate::panic::quiet_caught_panics;
pub use crate::remote::{Remote, RemoteCall, Transport};
pub use crate::snapshot::{
    FORMAT_VERSION, RECORD_HEADER_LEN, Record, StoredState, decode_cbor, encode_cbor,
};
pub use crate::storage::{
    KvUpdateFn, MessageRow, RedbOptions, RedbStorage, RestorePoint, RestorePointError,
    RestorePoints, ScheduleRow, Storage, Write, restore_point, restore_points,
};
pub use crate::system::{System, SystemBuilder, SystemStats};
pub use crate::tap::{EventsTap, TAP_CAPACITY, TappedEvent};

pub use actor_macros::{Actor, Env, actions};

/// Items the macros of `actor-macros` expand to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::{Actor, ActorConfig, ReadOutcome, RestartPolicy};
    pub use crate::ctx::{Ctx, ScheduleId};
    pub use crate::error::AskError;
    pub use crate::error::EventLag;
    pub use crate::handle::{Events, Handle};
    pub use crate::remote::{Remote, ask_action, ask_infallible_action};
    pub use serde;

    /// What an action argument must be: serde both ways, since arguments travel through the
    /// mailbox and may be stored or called by name. `#[actions]` checks each argument type
    /// against it, so a type that is not serde gives one error, at the argument's type.
    #[diagnostic::on_unimplemented(
        message = "the action argument type `{Self}` must implement `Serialize` and `Deserialize`",
        label = "not serde-serializable",
        note = "action arguments travel through the mailbox and may be stored or called by name: derive `serde::Serialize` and `serde::Deserialize` for `{Self}`"
    )]
    pub trait ActionArgument {}

    // `do_not_recommend`: the error names this trait, not each serde trait that is missing.
    #[diagnostic::do_not_recommend]
    impl<T: serde::Serialize + serde::de::DeserializeOwned> ActionArgument for T {}

    pub use crate::error::{DecodeError, EncodeError};

    /// An action to encode for storage, for `#[actions]`'s `encode_action`: through serde
    /// when the action enum is `Serialize` ([`EncodeViaSerde`], found first by method
    /// resolution), refused otherwise ([`EncodeRefused`], through one more reference). The
    /// enum is not serde only when an argument is not, which is already a compile error with
    /// a message of its own; this keeps it the only one.
    #[derive(Debug)]
    pub struct Stored<'a, T>(pub &'a T);

    /// See [`Stored`].
    pub trait EncodeViaSerde {
        /// Encodes the action as CBOR.
        fn encode_stored(&self, actor: &'static str) -> Result<Vec<u8>, EncodeError>;
    }

    impl<T: serde::Serialize> EncodeViaSerde for Stored<'_, T> {
        fn encode_stored(&self, _: &'static str) -> Result<Vec<u8>, EncodeError> {
            crate::snapshot::encode_cbor(self.0)
        }
    }

    /// See [`Stored`].
    pub trait EncodeRefused {
        /// Refuses: the action cannot be stored.
        fn encode_stored(&self, actor: &'static str) -> Result<Vec<u8>, EncodeError>;
    }

    impl<T> EncodeRefused for &Stored<'_, T> {
        fn encode_stored(&self, actor: &'static str) -> Result<Vec<u8>, EncodeError> {
            Err(EncodeError::NotStorable { actor })
        }
    }

    /// The decoding side of [`Stored`].
    #[derive(Debug)]
    pub struct DecodeAs<T>(std::marker::PhantomData<fn() -> T>);

    impl<T> DecodeAs<T> {
        /// A decoder of `T`.
        pub fn new() -> Self {
            Self(std::marker::PhantomData)
        }
    }

    impl<T> Default for DecodeAs<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// See [`DecodeAs`].
    pub trait DecodeViaSerde<T> {
        /// Decodes the action from CBOR.
        fn decode_stored(&self, bytes: &[u8], actor: &'static str) -> Result<T, DecodeError>;
    }

    impl<T: serde::de::DeserializeOwned> DecodeViaSerde<T> for DecodeAs<T> {
        fn decode_stored(&self, bytes: &[u8], _: &'static str) -> Result<T, DecodeError> {
            crate::snapshot::decode_cbor(bytes)
        }
    }

    /// See [`DecodeAs`].
    pub trait DecodeRefused<T> {
        /// Refuses: the action cannot be decoded.
        fn decode_stored(&self, bytes: &[u8], actor: &'static str) -> Result<T, DecodeError>;
    }

    impl<T> DecodeRefused<T> for &DecodeAs<T> {
        fn decode_stored(&self, _: &[u8], actor: &'static str) -> Result<T, DecodeError> {
            Err(DecodeError::NotStorable { actor })
        }
    }

    /// What `#[derive(Actor)]` provides; `#[actions]` builds the `Actor` impl on top of it.
    pub trait ActorMeta: Sized {
        /// See [`Actor::NAME`].
        const NAME: &'static str;
        /// See [`Actor::STATE_VERSION`].
        const STATE_VERSION: u32;
        /// See [`Actor::Input`].
        type Input: Send + 'static;
        /// See [`Actor::Event`].
        type Event: serde::Serialize + Send + Sync + 'static;
        /// See [`Actor::create_state`].
        fn create_state(input: Self::Input) -> Self;
        /// See [`Actor::config`].
        fn config() -> ActorConfig;
        /// See [`Actor::migrate`].
        fn migrate(stored: crate::StoredState<'_>) -> Result<Self, crate::DecodeError> {
            Err(stored.unsupported())
        }
    }
}

/// The guide's pages, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../docs/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../../docs/actors-and-state.md")]
    struct ActorsAndState;
    #[doc = include_str!("../../docs/hand-written-actors.md")]
    struct HandWrittenActors;
    #[doc = include_str!("../../docs/lifecycle.md")]
    struct Lifecycle;
    #[doc = include_str!("../../docs/turns.md")]
    struct Turns;
    #[doc = include_str!("../../docs/types.md")]
    struct Types;
    #[doc = include_str!("../../docs/kv-state.md")]
    struct KvState;
    #[doc = include_str!("../../docs/durability.md")]
    struct Durability;
    #[doc = include_str!("../../docs/storage-format.md")]
    struct StorageFormat;
    // The page also shows the HTTP routes (the inspector, backups over HTTP).
    #[cfg(feature = "http")]
    #[doc = include_str!("../../docs/operating.md")]
    struct Operating;
    // The page shows the server and the client.
    #[cfg(all(feature = "http", feature = "client"))]
    #[doc = include_str!("../../docs/serving.md")]
    struct Serving;
    // The page shows the test kit.
    #[cfg(feature = "testing")]
    #[doc = include_str!("../../docs/testing.md")]
    struct Testing;
    // The page scrapes a server.
    #[cfg(feature = "http")]
    #[doc = include_str!("../../docs/metrics.md")]
    struct Metrics;
}

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
//! - [`actor`](Actor): the trait a state type implements, its per-type [`ActorConfig`] and
//!   [`RestartPolicy`].
//! - [`system`](System): opens storage, starts the writer, finds or starts actors by type and
//!   [`ActorKey`], wakes sleeping ones, shuts down within a deadline.
//! - `registry`: the actors a system knows, and which Rust type owns each actor name.
//! - [`handle`](Handle): the cloneable address of a running actor; `ask`, `tell`, calls by
//!   name, and the call gate (output gate, refused call cycles).
//! - [`ctx`](Ctx): what an action sees of its actor, and `save_state`.
//! - `supervisor`: the actor's task: run loop, output gate (held replies), panic recovery,
//!   cancellation at the shutdown deadline.
//! - `slot`: where an actor and the writer exchange snapshots and durability reports.
//! - `writer`: the thread that group-commits snapshots from all actors.
//! - `snapshot`: the record format (header + CBOR) and [`Record`], its reader for tools.
//! - `depth`: the nesting limit on everything encoded, so every record reads back.
//! - `panic`: catching panics in user code, and [`quiet_caught_panics`].
//! - `limits`: every limit on what callers control ([`MAX_DEPTH`], [`MAX_ACTOR_KEY_BYTES`], ...).
//! - [`kv`](KvStore): durable key-value stores, their bindings and typed environments.
//! - [`storage`](Storage): the narrow storage trait and its redb implementation.
//! - [`error`](Error): one typed error per operation, and the umbrella [`Error`].
//!
//! The guide in `docs/` (getting started, actors and state, the living actor, types, actors
//! without macros, durability, storage format) explains the promises and what they cost.

mod actor;
mod ctx;
mod depth;
mod error;
mod handle;
mod key;
mod kv;
mod limits;
mod memory;
mod panic;
mod registry;
mod slot;
mod snapshot;
mod storage;
mod supervisor;
mod system;
mod writer;

pub use crate::actor::{Actor, ActorConfig, ReadOutcome, RestartPolicy};
pub use crate::ctx::Ctx;
pub use crate::error::{
    ArgumentsError, AskError, BindingError, ByNameError, ConfigError, DecodeError, EncodeError,
    Error, KvError, OpenError, SaveError, StartError, StopReason, StorageError, TellError,
};
pub use crate::handle::Handle;
pub use crate::key::{ActorKey, ActorPath, KeyError};
pub use crate::kv::{Bindings, Env, KvPage, KvStore};
pub use crate::limits::{
    MAX_ACTOR_KEY_BYTES, MAX_DEPTH, MAX_KEY_BYTES, MAX_STORE_NAME_BYTES, MAX_VALUE_BYTES,
};
pub use crate::panic::quiet_caught_panics;
pub use crate::snapshot::{FORMAT_VERSION, RECORD_HEADER_LEN, Record, StoredState};
pub use crate::storage::{KvUpdateFn, RedbOptions, RedbStorage, Storage, Write};
pub use crate::system::{System, SystemBuilder, SystemStats};

pub use actor_macros::{Actor, Env, actions};

/// Items the macros of `actor-macros` expand to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::{Actor, ActorConfig, ReadOutcome, RestartPolicy};
    pub use crate::ctx::Ctx;
    pub use crate::error::AskError;
    pub use crate::handle::Handle;
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

    /// What `#[derive(Actor)]` provides; `#[actions]` builds the `Actor` impl on top of it.
    pub trait ActorMeta: Sized {
        /// See [`Actor::NAME`].
        const NAME: &'static str;
        /// See [`Actor::STATE_VERSION`].
        const STATE_VERSION: u32;
        /// See [`Actor::Input`].
        type Input: Send + 'static;
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
    #[doc = include_str!("../../docs/types.md")]
    struct Types;
    #[doc = include_str!("../../docs/kv-state.md")]
    struct KvState;
    #[doc = include_str!("../../docs/durability.md")]
    struct Durability;
    #[doc = include_str!("../../docs/storage-format.md")]
    struct StorageFormat;
}

//! Procedural macros for `actor-core`: `#[derive(Actor)]`, `#[actions]` and `#[derive(Env)]`.
//! Use them through `actor-core`'s re-exports (`use actor_core::{actions, Actor}`).
//!
//! # Layout
//!
//! This crate holds macros only. Each runs parse → model → validate → expand:
//!
//! - `attr`: parses the `#[actor(...)]` options of `#[derive(Actor)]`.
//! - `model`: reads an `#[actions]` impl block into its actions and hooks, leniently.
//! - `valid`: the rules, each broken one reported at the offending tokens, all at once.
//! - `expand`: each macro's pipeline, and the code it generates.
//! - `fallback`: on an error, the stub emitted beside `compile_error!` (and beside the impl
//!   block as written, for `#[actions]`), so that one mistake is one error, not one more for
//!   every use of the type.
//! - `env`: `#[derive(Env)]`, a small pipeline of its own.
//!
//! # Paths in generated code
//!
//! Generated code names everything by absolute path, so users need no imports. What exists
//! for the macros (`ActorMeta`, `ActionArgument`, serde) and the runtime items they use
//! (`Actor`, `ActorConfig`, `RestartPolicy`, `Ctx`, `Handle`, `AskError`, `ReadOutcome`) go
//! through the hidden `::actor_core::__private` module. Public items that users also write
//! themselves are named at their public paths: `::actor_core::StoredState` and
//! `::actor_core::DecodeError` (in `migrate`), `::actor_core::Env`, `::actor_core::KvStore`
//! and `::actor_core::BindingError` (by `#[derive(Env)]`). The rest is `::core` and `::std`.

mod attr;
mod env;
mod expand;
mod fallback;
mod model;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemImpl, parse_macro_input};

/// Makes a struct a durable actor's state. See `actor_core::Actor` for the full story.
///
/// The struct's serde fields are its persisted state; `#[serde(skip)]` fields are ephemeral.
/// Options, each at most once, in `#[actor(...)]`:
///
/// | option | meaning | default |
/// | --- | --- | --- |
/// | `name = "Counter"` | the name records are stored under | the type's name |
/// | `create_state = path` | builds the initial state (from the input, if `input` is set) | `Default::default()` |
/// | `input = Type` | what `create_state` takes | `()` |
/// | `event = Type` | what the actor emits with `ctx.emit` (serde `Serialize`) | `()` |
/// | `state_version = 2` | the state shape's version | `1` |
/// | `migrate = path` | `fn(StoredState) -> Result<Self, DecodeError>`: builds the state from a record of another version | refuse other versions |
/// | `mailbox_capacity = 256` | mailbox size | 64 |
/// | `max_state_bytes = 65536` | largest encoded state | 4 MiB |
/// | `sleep_after_ms = 5000` / `never_sleep` | idle time before the actor leaves memory | 60 s |
/// | `restart(max_restarts = 5, window_ms = 10000, initial_backoff_ms = 10, max_backoff_ms = 1000)` | restart policy | as shown |
///
/// `#[derive(Actor)]` on `struct Counter` expands to:
///
/// ```text
/// impl ::actor_core::__private::ActorMeta for Counter {
///     const NAME: &'static str = "Counter";                             // name
///     const STATE_VERSION: u32 = 1;                                     // state_version
///     type Input = ();                                                  // input
///     type Event = ();                                                  // event
///     fn create_state(input: Self::Input) -> Self { Default::default() } // create_state
///     fn config() -> ActorConfig { ActorConfig::default() }             // .mailbox_capacity(..), ...
///     // with `migrate = path`:
///     fn migrate(stored: StoredState<'_>) -> Result<Self, DecodeError> { path(stored) }
/// }
/// ```
///
/// and `#[actions]` on the struct's impl block supplies the rest of `actor_core::Actor`.
///
/// On an error it emits the errors and, for a non-generic type, a stub of that impl (keeping
/// `input` if it was read), so that `#[actions]` and the code using the actor add none.
#[proc_macro_derive(Actor, attributes(actor))]
pub fn derive_actor(input: TokenStream) -> TokenStream {
    expand::derive_actor(&parse_macro_input!(input as DeriveInput)).into()
}

/// Turns each `pub async fn` of an impl block into an action of the actor.
///
/// - `&self` actions are read-only and never persist; `&mut self` ones may change the state.
/// - An optional first argument `ctx: &Ctx<Self>` (or `&mut Ctx<Self>` for `&mut self`).
/// - Any owned, serde (de)serializable arguments.
/// - Return a value, or `Result<T, E>`: a returned `Err` reaches the caller as
///   `AskError::Action(e)` and rolls the state back. Return and error types must be
///   `Serialize`, so every action can also be called by name.
/// - Private methods are left alone (helpers), except those named like a lifecycle hook:
///   `async fn on_create|on_wake|on_sleep|on_destroy(&mut self[, ctx: &mut Ctx<Self>])` and
///   `async fn on_state_change(&self[, ctx: &Ctx<Self>])` become the actor's hooks.
///
/// For `impl Counter { pub async fn increment(&mut self, by: i64) -> i64 { .. } }` it generates:
///
/// ```text
/// pub enum CounterAction {                        // Serialize + Deserialize, deny_unknown_fields
///     #[serde(rename = "increment")] Increment { by: i64 },
/// }
/// const _: () = { /* i64 is Serialize + Deserialize: else one error, at the type */ };
/// pub enum CounterReply { Increment(i64) }        // Serialize (untagged)
/// pub enum CounterError {}                        // Debug, Display, Error, Serialize (untagged)
/// impl Actor for Counter {
///     const ACTIONS: &'static [&'static str] = &["increment"];
///     const ARGUMENTS: &'static [&'static [&'static str]] = &[&["by"]]; // per action
///     type Action = CounterAction;
///     type Reply = CounterReply;
///     type Error = CounterError;
///     fn encode_action(..) { /* CBOR, through serde */ }
///     fn decode_action(..) { /* CBOR, through serde */ }
///     async fn handle(..) { /* CounterAction::Increment { by } => self.increment(by) */ }
///     // NAME, STATE_VERSION, Input, Event, create_state, config, migrate: from #[derive(Actor)];
///     // handle_read for the `&self` actions; the hooks
/// }
/// pub trait CounterHandle {
///     fn increment(&self, by: i64) -> impl Future<Output = Result<i64, AskError<Infallible>>> + Send;
/// }
/// impl CounterHandle for Handle<Counter> { ... }  // counter.increment(5).await?
/// ```
///
/// `CounterError` is always generated, with one variant per action that returns
/// `Result<_, E>` (holding its `E`, which its typed method returns in `AskError::Action`), and
/// none if no action can fail.
///
/// On an error it emits the impl block as written, the errors, and a stub `Actor` impl with no
/// actions, so that code naming `Ctx<Self>` or `Handle<Self>` adds no errors.
#[proc_macro_attribute]
pub fn actions(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::actions(&args.into(), &parse_macro_input!(input as ItemImpl)).into()
}

/// A typed environment of key-value store bindings, checked against the config at startup:
/// the Rust counterpart of generated binding types.
///
/// Each field is a `KvStore` bound to the binding named like the field in upper case
/// (`user_state` → `USER_STATE`), or to `#[binding = "NAME"]`. `system.env::<MyEnv>()` fails
/// with a clear error when a field's binding is not declared, or a declared binding has no
/// field. `#[derive(Env)] struct MyEnv { state: KvStore }` expands to:
///
/// ```text
/// impl ::actor_core::Env for MyEnv {
///     const BINDINGS: &'static [&'static str] = &["STATE"];
///     fn from_bindings(store: &mut dyn FnMut(&str) -> Result<KvStore, BindingError>)
///         -> Result<Self, BindingError> { Ok(Self { state: store("STATE")? }) }
/// }
/// ```
///
/// On an error it emits the errors and, for a non-generic type, a stub of that impl.
#[proc_macro_derive(Env, attributes(binding))]
pub fn derive_env(input: TokenStream) -> TokenStream {
    env::derive(&parse_macro_input!(input as DeriveInput)).into()
}

//! Serving actors over HTTP (the `http` cargo feature): every registered actor's actions as
//! JSON, a listing of what is served, and a Ploy-style `fetch(request, env)` worker, on axum,
//! tower and hyper.
//!
//! ```no_run
//! use actor_core::http::Server;
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
//! }
//!
//! # async fn demo() -> Result<(), actor_core::Error> {
//! let system = System::open("counter.redb").await?;
//! let server = Server::builder(system).actor::<Counter>().start().await?;
//! println!("listening on http://{}", server.local_addr()); // 127.0.0.1:8080 by default
//! // curl -X POST http://127.0.0.1:8080/actors/Counter/visits/increment -d '{"by":1}' \
//! //      -H 'content-type: application/json'
//! tokio::signal::ctrl_c().await.ok();
//! server.shutdown().await; // drains in-flight requests, then shuts the system down
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | route | what |
//! | --- | --- |
//! | `POST /actors/{type}/{key}/{action}` | calls the action with a JSON object of arguments; answers its reply as JSON once durable |
//! | `GET /actors` | the [`Listing`]: actor types, their actions and argument names |
//! | anything else under `/actors` | 404 |
//! | every other path | the worker ([`ServerBuilder::worker`]), or 404 without one |
//!
//! An error is a JSON [`ErrorBody`] (`{"error":{"kind":"unknown_action","message":...}}`)
//! whose [`ErrorKind`] fixes the status code. `docs/serving.md` has the whole table.
//!
//! # Layout
//!
//! - `limits`: [`Limits`], every bound on what a client controls, with its default.
//! - `auth`: [`Auth`] and [`RouteGroup`]: bearer tokens, compared in constant time.
//! - `error`: [`ErrorKind`], the body of every error, and how runtime errors map to it.
//! - `routes`: the actor routes and the [`Listing`].
//! - `worker`: the `fetch(request, env)` handler behind every other path.
//! - `server`: [`ServerBuilder`], the accept loop (connection limit, header limits, one
//!   task per connection), the middleware stack, and graceful shutdown.

mod auth;
mod error;
mod fetch;
mod limits;
mod routes;
mod server;
mod socket;
mod worker;

pub use self::auth::{Auth, RouteGroup};
pub use self::error::{ErrorBody, ErrorDetail, ErrorKind};
pub use self::fetch::{Fetch, Rejection};
pub use self::limits::Limits;
pub use self::routes::{ActionListing, ActorListing, Listing};
pub use self::server::{Server, ServerBuilder};
pub use self::socket::{Close, MAX_QUEUED_MESSAGES, Message, Socket, SocketError, WebSocket};
pub use self::worker::WorkerError;
pub use crate::error::ServeError;

/// The web framework the server is built on, for writing workers (`axum::Json`, responses,
/// extractors) with the same version.
pub use axum;
/// A JSON body: `Json(serde_json::json!({"success": true}))`.
pub use axum::Json;
/// A request body or a response body: bytes.
pub use axum::body::Bytes;
/// The head of a request (method, URI, headers): what a WebSocket's `on_open` sees of the
/// upgrade request.
pub use axum::http::request::Parts;
/// The HTTP types a worker sees.
pub use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
/// What a worker answers: anything that converts into a response.
pub use axum::response::{IntoResponse, Response};

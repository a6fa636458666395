//! Serving actors over HTTP (the `http` cargo feature): every registered actor's actions as
//! JSON, a listing of what is served, and a Ploy-style `fetch(request, env)` worker, on axum,
//! tower and hyper; and calling them from another program with the typed methods of a
//! [`Remote`](crate::Remote) through a [`Client`] (the `client` cargo feature, on reqwest).
//! Each feature builds without the other.
//!
//! ```no_run
//! # #[cfg(feature = "http")] mod serve {
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
//! # }
//! ```
//!
//! # Routes
//!
//! | route | what |
//! | --- | --- |
//! | `POST /actors/{type}/{key}/{action}` | calls the action with a JSON object of arguments; answers its reply as JSON once durable |
//! | `GET /actors` | the [`Listing`]: actor types, their actions and argument names |
//! | `GET /metrics` | the runtime's metrics in Prometheus text format ([`ServerBuilder::metrics`]) |
//! | anything else under `/actors` | 404 |
//! | `GET /admin/` and `/admin/api/...` | the inspector, when enabled ([`ServerBuilder::inspector`]) |
//! | every other path | the worker ([`ServerBuilder::worker`]), or 404 without one |
//!
//! An error is a JSON [`ErrorBody`] (`{"error":{"kind":"unknown_action","message":...}}`)
//! whose [`ErrorKind`] fixes the status code. `docs/serving.md` has the whole table.
//!
//! # Layout
//!
//! - `limits`: [`Limits`], every bound on what a client controls, with its default.
//! - `auth`: [`Auth`] and [`RouteGroup`]: bearer tokens, compared in constant time.
//! - `prometheus`: `GET /metrics` (the process's Prometheus recorder, installed once) and
//!   the middleware that counts requests.
//! - `error`: [`ErrorKind`], the body of every error, and how runtime errors map to it.
//! - `routes`: the actor routes and the [`Listing`].
//! - `worker`: the `fetch(request, env)` handler behind every other path.
//! - `fetch`: [`Fetch`], raw requests handled inside an actor (`/actors/{type}/{key}/fetch`).
//! - `socket`: [`WebSocket`], the hooks, [`Socket`], and the task serving one connection.
//! - `admin`: `POST /admin/backup`, an online backup into the directory the program chose.
//! - `inspector`: the inspector's page (`inspector.html`, compiled in) and its JSON API.
//! - `server`: [`ServerBuilder`], the accept loop (connection limit, header limits, one
//!   task per connection), the middleware stack, and graceful shutdown.
//! - `client`: [`Client`], the HTTP [`Transport`](crate::Transport) of a
//!   [`Remote`](crate::Remote): URLs, bearer token, time limit, and reading answers.

// The server (the `http` feature).
#[cfg(feature = "http")]
mod admin;
#[cfg(feature = "http")]
mod auth;
#[cfg(feature = "http")]
mod error;
#[cfg(feature = "http")]
mod fetch;
#[cfg(feature = "http")]
mod inspector;
#[cfg(feature = "http")]
mod limits;
#[cfg(feature = "http")]
mod prometheus;
#[cfg(feature = "http")]
mod routes;
#[cfg(feature = "http")]
mod server;
#[cfg(feature = "http")]
mod socket;
#[cfg(feature = "http")]
mod worker;

// The client (the `client` feature).
#[cfg(feature = "client")]
mod client;

#[cfg(feature = "client")]
pub use self::client::Client;
#[cfg(feature = "client")]
pub use crate::error::ClientError;
pub use crate::error::{ErrorBody, ErrorDetail, ErrorKind};

#[cfg(feature = "http")]
pub use self::auth::{Auth, RouteGroup};
#[cfg(feature = "http")]
pub use self::fetch::{Fetch, Rejection};
#[cfg(feature = "http")]
pub use self::limits::Limits;
#[cfg(feature = "http")]
pub use self::routes::{ActionListing, ActorListing, Listing};
#[cfg(feature = "http")]
pub use self::server::{Server, ServerBuilder};
#[cfg(feature = "http")]
pub use self::socket::{Close, MAX_QUEUED_MESSAGES, Message, Socket, SocketError, WebSocket};
#[cfg(feature = "http")]
pub use self::worker::WorkerError;
#[cfg(feature = "http")]
pub use crate::error::ServeError;

/// The web framework the server is built on, for writing workers (`axum::Json`, responses,
/// extractors) with the same version.
#[cfg(feature = "http")]
pub use axum;
/// A JSON body: `Json(serde_json::json!({"success": true}))`.
#[cfg(feature = "http")]
pub use axum::Json;
/// A request body or a response body: bytes.
#[cfg(feature = "http")]
pub use axum::body::Bytes;
/// The head of a request (method, URI, headers): what a WebSocket's `on_open` sees of the
/// upgrade request.
#[cfg(feature = "http")]
pub use axum::http::request::Parts;
/// The HTTP types a worker sees.
#[cfg(feature = "http")]
pub use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
/// What a worker answers: anything that converts into a response.
#[cfg(feature = "http")]
pub use axum::response::{IntoResponse, Response};
/// The Prometheus exporter the server renders `GET /metrics` with, for a program that
/// installs its recorder itself ([`ServerBuilder::metrics`]) with the same version.
#[cfg(feature = "http")]
pub use metrics_exporter_prometheus;

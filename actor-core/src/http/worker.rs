//! The worker: a plain `fetch(request, env)` handler, Ploy's shape, that answers every path
//! not under `/actors`. Its `env` is a typed environment of key-value bindings
//! ([`Env`](crate::Env)), built once when the server starts.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::auth::RouteGroup;
use super::error::Failure;
use super::routes::Shared;
use crate::error::BindingError;
use crate::error::ErrorKind;
use crate::kv::Env;
use crate::panic::CatchUnwind;
use crate::slot::BoxFuture;
use crate::system::System;

/// The worker, its environment bound in.
pub(crate) type Fetch = Arc<dyn Fn(Request<Bytes>) -> BoxFuture<'static, Response> + Send + Sync>;

/// Builds the worker once the system is known (its environment comes from the bindings).
pub(crate) type MakeFetch = Box<dyn FnOnce(&System) -> Result<Fetch, BindingError> + Send>;

/// Wraps a `fetch(request, env)` function: at start, builds `E` from the system's bindings.
pub(crate) fn make<E, F, Fut, R>(fetch: F) -> MakeFetch
where
    E: Env + Clone + Send + Sync + 'static,
    F: Fn(Request<Bytes>, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    Box::new(move |system: &System| {
        let env: E = system.env()?;
        let fetch: Fetch = Arc::new(move |request: Request<Bytes>| {
            let answer = fetch(request, env.clone());
            Box::pin(async move {
                match CatchUnwind(std::pin::pin!(answer)).await {
                    Ok(answer) => answer.into_response(),
                    Err(panic) => {
                        let message = crate::panic::message(&*panic);
                        tracing::error!(panic = %message, "the worker panicked");
                        Failure::new(ErrorKind::Panicked, "the worker panicked").into_response()
                    }
                }
            })
        });
        Ok(fetch)
    })
}

/// Marks a response as the worker's own, so that the server leaves its body alone (error
/// statuses of the server's layers get a JSON body; a worker's answers are its business).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FromWorker;

/// Every path no route matched: under `/actors`, 404; under `/admin` with the inspector on,
/// 404; elsewhere the worker, with the body read (within the limit), or 404 without a
/// worker.
pub(crate) async fn serve(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match RouteGroup::of(parts.uri.path()) {
        RouteGroup::Actors | RouteGroup::Listing => {
            return super::routes::no_route().into_response();
        }
        RouteGroup::Admin if shared.inspector.is_some() => {
            return super::inspector::no_route().into_response();
        }
        _ => {}
    }
    let Some(fetch) = &shared.worker else {
        return Failure::new(ErrorKind::NotFound, "no route has this path").into_response();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return Failure::from(rejection).into_response(),
    };
    let mut response = fetch(Request::from_parts(parts, body)).await;
    response.extensions_mut().insert(FromWorker);
    response
}

/// An error a worker returns: any error converts into it with `?`. The client gets 500
/// (`worker_error`) without the cause, which goes to the log:
///
/// ```
/// use actor_core::http::{Bytes, IntoResponse, Json, Request, Response, WorkerError};
/// use actor_core::{Env, KvStore};
///
/// #[derive(Env, Clone)]
/// struct WorkerEnv {
///     state: KvStore,
/// }
///
/// async fn fetch(_request: Request<Bytes>, env: WorkerEnv) -> Result<Response, WorkerError> {
///     let value = env.state.get("greeting").await?; // a KvError becomes a 500
///     Ok(Json(serde_json::json!({ "value": value })).into_response())
/// }
/// ```
pub struct WorkerError(Box<dyn std::error::Error + Send + Sync>);

impl WorkerError {
    /// Wraps an error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }

    /// The error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&super::error::Chain(&*self.0), f)
    }
}

// Not `std::error::Error` itself, so that this blanket impl does not overlap `From<T> for T`.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for WorkerError {
    fn from(error: E) -> Self {
        Self(Box::new(error))
    }
}

impl IntoResponse for WorkerError {
    fn into_response(self) -> Response {
        Failure::logged(ErrorKind::WorkerError, "the worker failed", &*self.0).into_response()
    }
}

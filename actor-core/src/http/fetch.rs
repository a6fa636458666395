//! Raw HTTP requests handled inside an actor (Rivet's `onFetch`): the [`Fetch`] trait and
//! the route `/actors/{type}/{key}/fetch/...` that calls it.
//!
//! The handler runs as a turn of the actor, one at a time with its actions, and is saved
//! like an action: when it returns `Ok`, its state changes (and whatever it scheduled, sent
//! or emitted) are committed, and the response is sent only once they are durable; when it
//! returns `Err` or panics, they are rolled back.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::Request;
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::error::Failure;
use super::routes::{Shared, actor_key};
use super::worker::FromWorker;
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::ErrorKind;
use crate::error::StartError;
use crate::key::ActorKey;
use crate::limits::quote;
use crate::mailbox::{Save, Session};
use crate::slot::BoxFuture;
use crate::system::System;

/// An actor that answers HTTP requests of its own (Rivet's `onFetch`), served with
/// [`ServerBuilder::fetch`](crate::http::ServerBuilder::fetch) at
/// `/actors/{type}/{key}/fetch/{path}` for every method.
///
/// The request's URI is the part after `/fetch` (`/` when nothing follows), with the query;
/// its body has been read within [`Limits::max_body_bytes`](crate::http::Limits). The
/// handler runs as a turn of the actor and is saved like an action: on `Ok`, what it changed
/// is committed and the response goes out once durable; on `Err` (a [`Rejection`], sent as
/// it is) or a panic, the state and everything the turn staged are rolled back.
///
/// ```
/// use actor_core::http::{Bytes, Fetch, IntoResponse, Json, Rejection, Request, Response, StatusCode};
/// use actor_core::{actions, Actor, Ctx};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Actor, Serialize, Deserialize, Default)]
/// struct Page {
///     views: u64,
/// }
///
/// #[actions]
/// impl Page {
///     pub async fn views(&self) -> u64 {
///         self.views
///     }
/// }
///
/// impl Fetch for Page {
///     async fn on_fetch(
///         &mut self,
///         request: Request<Bytes>,
///         _ctx: &mut Ctx<Self>,
///     ) -> Result<Response, Rejection> {
///         match request.uri().path() {
///             "/view" => {
///                 self.views += 1;
///                 Ok(Json(serde_json::json!({ "views": self.views })).into_response())
///             }
///             _ => Err((StatusCode::NOT_FOUND, "no such page").into()),
///         }
///     }
/// }
/// ```
pub trait Fetch: Actor {
    /// Answers `request`. See the trait's documentation for when its changes are saved.
    fn on_fetch(
        &mut self,
        request: Request<Bytes>,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<Response, Rejection>> + Send;
}

/// What [`Fetch::on_fetch`] answers when it fails: the response sent as it is, after the
/// handler's changes were rolled back. Anything that converts into a response converts into
/// a rejection (`(StatusCode::BAD_REQUEST, "why")`,
/// [`WorkerError`](crate::http::WorkerError), ...), so `?` and `.into()` work.
pub struct Rejection(Response);

impl Rejection {
    /// A rejection answering `response`.
    pub fn new(response: impl IntoResponse) -> Self {
        Self(response.into_response())
    }

    /// The response it answers.
    pub fn into_inner(self) -> Response {
        self.0
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rejection").field(&self.0.status()).finish()
    }
}

// `Rejection` itself is not `IntoResponse`, so that this blanket impl does not overlap
// `From<T> for T`.
impl<R: IntoResponse> From<R> for Rejection {
    fn from(response: R) -> Self {
        Self::new(response)
    }
}

/// One actor type's fetch handler, behind a trait object.
pub(crate) trait FetchRoute: Send + Sync {
    /// [`Actor::NAME`].
    fn name(&self) -> &'static str;
    /// Declares the type to the system.
    fn declare(&self, system: &System) -> Result<(), StartError>;
    /// Gets or creates the actor at `key` and runs its handler on `request`.
    fn fetch<'a>(
        &'a self,
        system: &'a System,
        key: ActorKey,
        request: Request<Bytes>,
    ) -> BoxFuture<'a, Result<Response, Failure>>;
}

/// The [`FetchRoute`] of `A`.
pub(crate) struct FetchOf<A>(PhantomData<fn() -> A>);

impl<A> FetchOf<A> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

/// The handler's turn: runs `on_fetch` and hands its answer back.
struct FetchTurn {
    request: Request<Bytes>,
    answer: oneshot::Sender<Result<Response, Rejection>>,
}

impl<A: Fetch> Session<A> for FetchTurn {
    fn run<'a>(self: Box<Self>, state: &'a mut A, ctx: &'a mut Ctx<A>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Self { request, answer } = *self;
            let result = state.on_fetch(request, ctx).await;
            let keep = result.is_ok();
            let _ = answer.send(result);
            keep
        })
    }
}

impl<A> FetchRoute for FetchOf<A>
where
    A: Fetch,
    A::Input: Default,
{
    fn name(&self) -> &'static str {
        A::NAME
    }

    fn declare(&self, system: &System) -> Result<(), StartError> {
        system.register::<A>()
    }

    fn fetch<'a>(
        &'a self,
        system: &'a System,
        key: ActorKey,
        request: Request<Bytes>,
    ) -> BoxFuture<'a, Result<Response, Failure>> {
        Box::pin(async move {
            let handle = system
                .get_or_create::<A>(key)
                .await
                .map_err(|e| super::error::start(&e))?;
            let (answer, answered) = oneshot::channel();
            handle
                .session(Save::AtEnd, Box::new(FetchTurn { request, answer }))
                .await
                .map_err(|e| super::error::ask(&e))?;
            match answered.await {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(rejection)) => Ok(rejection.0),
                Err(_) => Err(Failure::new(
                    ErrorKind::Internal,
                    "the fetch handler gave no answer",
                )),
            }
        })
    }
}

/// The path of a fetch route.
#[derive(Debug, Deserialize)]
pub(crate) struct FetchPath {
    #[serde(rename = "type")]
    kind: String,
    key: String,
    #[serde(default)]
    path: Option<String>,
}

/// `/actors/{type}/{key}/fetch` and `/actors/{type}/{key}/fetch/{*path}`, any method: reads
/// the body (within the limit), then runs the actor's handler with the URI cut to what
/// follows `/fetch`.
pub(crate) async fn fetch(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<FetchPath>, axum::extract::rejection::PathRejection>,
    request: Request<Body>,
) -> Response {
    match serve(&shared, path, request).await {
        Ok(mut response) => {
            response.extensions_mut().insert(FromWorker);
            response
        }
        Err(failure) => failure.into_response(),
    }
}

async fn serve(
    shared: &Shared,
    path: Result<Path<FetchPath>, axum::extract::rejection::PathRejection>,
    request: Request<Body>,
) -> Result<Response, Failure> {
    let Path(FetchPath { kind, key, path }) = path.map_err(|_| {
        Failure::new(
            ErrorKind::BadPath,
            "the path is not valid: each segment must be percent-encoded UTF-8",
        )
    })?;
    let route = shared.fetchers.get(kind.as_str()).ok_or_else(|| {
        Failure::new(
            ErrorKind::UnknownActorType,
            format!("no actor type `{}` answers fetch requests", quote(&kind)),
        )
        .types(shared.fetchers.keys().copied().collect())
    })?;
    let key = actor_key(&key)?;
    tracing::Span::current().record("actor", tracing::field::display(format!("{kind}/{key}")));
    let (mut parts, body) = request.into_parts();
    parts.uri = inner_uri(&parts, path.as_deref())?;
    let body = axum::body::to_bytes(body, shared.limits.max_body_bytes)
        .await
        .map_err(|_| {
            Failure::new(
                ErrorKind::BodyTooLarge,
                "the request body is over the server's limit",
            )
        })?;
    route
        .fetch(&shared.system, key, Request::from_parts(parts, body))
        .await
}

/// The request's URI as the handler sees it: `/{path}` (the part after `/fetch`), with the
/// query.
fn inner_uri(parts: &Parts, path: Option<&str>) -> Result<axum::http::Uri, Failure> {
    let mut inner = String::from("/");
    // The raw (still percent-encoded) rest of the path, so that the handler sees what the
    // client sent; `path` only says whether there was one. It follows the fifth `/` of
    // `/actors/{type}/{key}/fetch/...` (a segment holds no raw `/`).
    if path.is_some() {
        let raw = parts.uri.path();
        if let Some((at, _)) = raw.match_indices('/').nth(4) {
            inner.push_str(&raw[at + 1..]);
        }
    }
    if let Some(query) = parts.uri.query() {
        inner.push('?');
        inner.push_str(query);
    }
    let path_and_query = PathAndQuery::try_from(inner)
        .map_err(|_| Failure::new(ErrorKind::BadPath, "the path is not a valid URI path"))?;
    Ok(axum::http::Uri::from(path_and_query))
}

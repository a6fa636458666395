//! The actor routes: `POST /actors/{type}/{key}/{action}` calls an action by name with JSON
//! arguments, `GET /actors` answers the [`Listing`]; and what every route shares.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::error::Failure;
use super::fetch::FetchRoute;
use super::limits::Limits;
use super::socket::{OpenSockets, SocketRoute};
use super::worker::Fetch;
use crate::actor::Actor;
use crate::error::ErrorKind;
use crate::error::StartError;
use crate::key::ActorKey;
use crate::limits::{MAX_ACTION_NAME_BYTES, MAX_ACTOR_KEY_BYTES, quote};
use crate::slot::BoxFuture;
use crate::system::System;

/// What a server serves: its actor types, their actions and argument names, and whether a
/// worker answers the other paths. `GET /actors` answers it as JSON:
///
/// ```json
/// {"actors":[{"type":"Counter","actions":[{"name":"increment","arguments":["by"]}]}],"worker":false}
/// ```
///
/// Each action is called with `POST /actors/{type}/{key}/{action}` and a JSON object of its
/// arguments by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Listing {
    /// The actor types served, by name.
    pub actors: Vec<ActorListing>,
    /// Whether a worker serves the paths outside `/actors`.
    pub worker: bool,
}

impl Listing {
    /// The listing of what a server serves: every type under any of its routes.
    pub(crate) fn new(
        actors: &BTreeMap<&'static str, Box<dyn ActorRoute>>,
        fetchers: &BTreeMap<&'static str, Box<dyn FetchRoute>>,
        sockets: &BTreeMap<&'static str, Box<dyn SocketRoute>>,
        worker: bool,
    ) -> Self {
        let mut names: Vec<&'static str> = actors
            .keys()
            .chain(fetchers.keys())
            .chain(sockets.keys())
            .copied()
            .collect();
        names.sort_unstable();
        names.dedup();
        let actors = names
            .into_iter()
            .map(|name| {
                let mut listing = actors.get(name).map_or_else(
                    || ActorListing {
                        name: name.to_owned(),
                        actions: Vec::new(),
                        fetch: false,
                        websocket: false,
                    },
                    |route| route.listing(),
                );
                listing.fetch = fetchers.contains_key(name);
                listing.websocket = sockets.contains_key(name);
                listing
            })
            .collect();
        Self { actors, worker }
    }
}

/// One actor type of a [`Listing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActorListing {
    /// The type's name ([`Actor::NAME`]), the `{type}` of its routes.
    #[serde(rename = "type")]
    pub name: String,
    /// Its actions, in declaration order ([`Actor::ACTIONS`]), if they are served. Empty
    /// for an actor that does not list them (written by hand without `ACTIONS`): it can
    /// still be called by name.
    pub actions: Vec<ActionListing>,
    /// Whether `/actors/{type}/{key}/fetch/...` reaches its
    /// [`Fetch`](crate::http::Fetch) handler.
    #[serde(default)]
    pub fetch: bool,
    /// Whether `GET /actors/{type}/{key}/websocket` opens a WebSocket on it.
    #[serde(default)]
    pub websocket: bool,
}

/// One action of an [`ActorListing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionListing {
    /// The action's name, the `{action}` of its route.
    pub name: String,
    /// The names of its arguments, the fields of the JSON object it takes
    /// ([`Actor::ARGUMENTS`]); `null` when the actor does not list them.
    pub arguments: Option<Vec<String>>,
}

/// One actor type, as the routes call it: the actor's generic code behind a trait object, so
/// that the server holds every type in one map.
pub(crate) trait ActorRoute: Send + Sync {
    /// [`Actor::NAME`].
    fn name(&self) -> &'static str;
    /// [`Actor::ACTIONS`].
    fn actions(&self) -> &'static [&'static str];
    /// What the listing says of the type.
    fn listing(&self) -> ActorListing;
    /// Declares the type to the system ([`System::register`]).
    fn declare(&self, system: &System) -> Result<(), StartError>;
    /// Gets or creates the actor at `key` and calls `action` with `args`.
    fn call<'a>(
        &'a self,
        system: &'a System,
        key: ActorKey,
        action: &'a str,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, Failure>>;
}

/// The [`ActorRoute`] of `A`.
pub(crate) struct Route<A>(PhantomData<fn() -> A>);

impl<A> Route<A> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<A> ActorRoute for Route<A>
where
    A: Actor,
    A::Input: Default,
    A::Action: DeserializeOwned,
    A::Reply: Serialize,
    A::Error: Serialize,
{
    fn name(&self) -> &'static str {
        A::NAME
    }

    fn actions(&self) -> &'static [&'static str] {
        A::ACTIONS
    }

    fn listing(&self) -> ActorListing {
        let actions = A::ACTIONS
            .iter()
            .enumerate()
            .map(|(i, name)| ActionListing {
                name: (*name).to_owned(),
                arguments: A::ARGUMENTS
                    .get(i)
                    .map(|args| args.iter().map(|&a| a.to_owned()).collect()),
            })
            .collect();
        ActorListing {
            name: A::NAME.to_owned(),
            actions,
            fetch: false,
            websocket: false,
        }
    }

    fn declare(&self, system: &System) -> Result<(), StartError> {
        system.register::<A>()
    }

    fn call<'a>(
        &'a self,
        system: &'a System,
        key: ActorKey,
        action: &'a str,
        args: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, Failure>> {
        Box::pin(async move {
            let handle = system
                .get_or_create::<A>(key)
                .await
                .map_err(|e| super::error::start(&e))?;
            handle
                .ask_json(action, args)
                .await
                .map_err(|e| super::error::by_name(action, e))
        })
    }
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) system: System,
    /// The actor types whose actions are served, by name.
    pub(crate) actors: BTreeMap<&'static str, Box<dyn ActorRoute>>,
    /// The actor types that answer fetch requests, by name.
    pub(crate) fetchers: BTreeMap<&'static str, Box<dyn FetchRoute>>,
    /// The actor types that serve WebSockets, by name.
    pub(crate) sockets: BTreeMap<&'static str, Box<dyn SocketRoute>>,
    /// The worker, if there is one.
    pub(crate) worker: Option<Fetch>,
    /// The listing, encoded once.
    pub(crate) listing: Bytes,
    /// With the inspector on (it serves `/admin/`, the worker does not): its commit rates.
    pub(crate) inspector: Option<Arc<super::inspector::Rates>>,
    /// The limits on what clients control.
    pub(crate) limits: Limits,
    /// Set when the server stops (open sockets close).
    pub(crate) stop: watch::Receiver<bool>,
    /// The open sockets, which the server's shutdown waits for.
    pub(crate) open_sockets: Arc<OpenSockets>,
}

/// `GET /actors`.
pub(crate) async fn listing(State(shared): State<Arc<Shared>>) -> Response {
    ([(CONTENT_TYPE, "application/json")], shared.listing.clone()).into_response()
}

/// Any other path under `/actors`.
pub(crate) fn no_route() -> Failure {
    Failure::new(
        ErrorKind::NotFound,
        "no such route: POST /actors/{type}/{key}/{action} calls an action, GET /actors lists them",
    )
}

/// `POST /actors/{type}/{key}/{action}`: checks the path, then the body, then calls the
/// action and answers its reply once durable. Nothing is sent to an actor unless the whole
/// request is valid.
pub(crate) async fn call(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let Path((kind, key, action)) = path.map_err(|_| {
        Failure::new(
            ErrorKind::BadPath,
            "the path is not valid: each segment must be percent-encoded UTF-8",
        )
    })?;
    let route = shared.actors.get(kind.as_str()).ok_or_else(|| {
        Failure::new(
            ErrorKind::UnknownActorType,
            format!("no actor type `{}` is served", quote(&kind)),
        )
        .types(shared.actors.keys().copied().collect())
    })?;
    let known = match route.actions() {
        [] => action.len() <= MAX_ACTION_NAME_BYTES,
        actions => actions.contains(&action.as_str()),
    };
    if !known {
        return Err(Failure::new(
            ErrorKind::UnknownAction,
            format!("`{}` has no action `{}`", route.name(), quote(&action)),
        )
        .actions(route.actions()));
    }
    let key = actor_key(&key)?;
    tracing::Span::current().record("actor", tracing::field::display(format!("{kind}/{key}")));
    let args = arguments(&headers, &body?)?;
    route
        .call(&shared.system, key, &action, args)
        .await
        .map(Json)
}

/// The actor key in a path segment (already percent-decoded), within the length limit.
pub(crate) fn actor_key(key: &str) -> Result<ActorKey, Failure> {
    if key.len() > MAX_ACTOR_KEY_BYTES {
        return Err(Failure::new(
            ErrorKind::BadKey,
            format!(
                "the key is {} bytes, over the limit of {MAX_ACTOR_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    ActorKey::parse(key).map_err(|e| Failure::new(ErrorKind::BadKey, e.to_string()))
}

impl From<BytesRejection> for Failure {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::new(
                ErrorKind::BodyTooLarge,
                "the request body is over the server's limit",
            )
        } else {
            Failure::new(ErrorKind::BadJson, "the request body could not be read")
        }
    }
}

/// The arguments in a request body: a JSON object (an empty body is no arguments).
fn arguments(headers: &HeaderMap, body: &Bytes) -> Result<serde_json::Value, Failure> {
    if body.is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    if !is_json(headers) {
        return Err(Failure::new(
            ErrorKind::UnsupportedMediaType,
            "the arguments must be sent as content-type: application/json",
        ));
    }
    // serde_json stops at 128 levels of nesting, so no body can exhaust the stack.
    let args: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Failure::new(
            ErrorKind::BadJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !(args.is_object() || args.is_null()) {
        return Err(Failure::new(
            ErrorKind::BadArguments,
            "the arguments must be a JSON object of argument names to values",
        ));
    }
    Ok(args)
}

/// Whether the content type is JSON: `application/json` or `application/*+json`, with any
/// parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((top, sub)) = essence.split_once('/') else {
        return false;
    };
    top.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json")
            || sub.len() > 5 && sub.as_bytes()[sub.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!with("application/+json"));
        assert!(!with("json"));
        assert!(!is_json(&HeaderMap::new()));
    }
}

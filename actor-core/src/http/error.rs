//! The body of every error the server answers, its [`ErrorKind`]s with their status codes,
//! and how the runtime's errors map to them.
//!
//! What a client sees names what was wrong with its request (quoting at most a short prefix
//! of it) but never the server's internals: a storage failure is logged with its cause and
//! answered with a plain `storage` error.

use std::convert::Infallible;

use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::{AskError, ByNameError, StartError, StopReason};

/// What went wrong, as the `kind` of an [`ErrorBody`]; each kind has one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

impl ErrorKind {
    /// The status code an error of this kind is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound | Self::UnknownActorType | Self::UnknownAction => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadPath
            | Self::BadKey
            | Self::BadJson
            | Self::BadArguments
            | Self::NotWebSocket => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge | Self::StateTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ActionError => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable | Self::ShuttingDown | Self::Stopped => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::ReplyNotEncodable
            | Self::StateNotEncodable
            | Self::Panicked
            | Self::Storage
            | Self::WorkerError
            | Self::Internal
            | Self::Other => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON body of every error response: `{"error": {"kind": ..., "message": ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// An error answer: a kind and a message, and the extras some kinds carry.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: ErrorKind,
    message: String,
    actions: Option<&'static [&'static str]>,
    types: Option<Vec<&'static str>>,
    value: Option<serde_json::Value>,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            actions: None,
            types: None,
            value: None,
        }
    }

    /// Adds the list of an actor type's actions (`unknown_action`).
    pub(crate) fn actions(mut self, actions: &'static [&'static str]) -> Self {
        self.actions = Some(actions);
        self
    }

    /// Adds the list of the actor types served (`unknown_actor_type`).
    pub(crate) fn types(mut self, types: Vec<&'static str>) -> Self {
        self.types = Some(types);
        self
    }

    /// An error answer for a runtime error that the client cannot act on beyond retrying:
    /// logged here with its whole cause, answered with `message` only.
    pub(crate) fn logged(
        kind: ErrorKind,
        message: &str,
        error: &(dyn std::error::Error + 'static),
    ) -> Self {
        tracing::error!(kind = ?kind, error = %Chain(error), "{message}");
        Self::new(kind, message)
    }

    /// The body, as JSON bytes.
    pub(crate) fn body(self) -> Vec<u8> {
        let body = ErrorBody {
            error: ErrorDetail {
                kind: self.kind,
                message: self.message,
                actions: self
                    .actions
                    .map(|list| list.iter().map(|&a| a.to_owned()).collect()),
                types: self
                    .types
                    .map(|list| list.into_iter().map(str::to_owned).collect()),
                value: self.value,
            },
        };
        // Plain strings and a JSON value that was produced within the depth limit: this
        // cannot fail, but an answer must go out even if it did.
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"error":{"kind":"internal","message":"the error could not be encoded"}}"#.to_vec()
        })
    }

    /// The action's own error (`action_error`).
    pub(crate) fn action_error(action: &str, value: serde_json::Value) -> Self {
        let mut failure = Self::new(
            ErrorKind::ActionError,
            format!(
                "action `{}` returned an error; the state was rolled back",
                crate::limits::quote(action)
            ),
        );
        failure.value = Some(value);
        failure
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let kind = self.kind;
        let mut response = (kind.status(), self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if kind == ErrorKind::Unauthorized {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The kind of an error response built by a layer with a bare body (a 413 from the body
/// limit, a 504 from the timeout, a 405 from the router), by its status.
pub(crate) fn kind_of_status(status: StatusCode) -> (ErrorKind, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (ErrorKind::NotFound, "no route has this path"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorKind::MethodNotAllowed,
            "this route does not take this method (see the Allow header)",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorKind::BodyTooLarge,
            "the request body is over the server's limit",
        ),
        StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => (
            ErrorKind::Timeout,
            "no response within the server's time limit; an action already sent may still complete",
        ),
        _ => (ErrorKind::Internal, "the request failed"),
    }
}

/// The answer to a failed call by name of `action`.
pub(crate) fn by_name(action: &str, error: ByNameError<serde_json::Value>) -> Failure {
    match error {
        ByNameError::UnknownAction { action, valid } => Failure::new(
            ErrorKind::UnknownAction,
            format!("unknown action `{action}`"),
        )
        .actions(valid),
        ByNameError::Arguments { action, source } => Failure::new(
            ErrorKind::BadArguments,
            format!("action `{action}`: bad arguments: {source}"),
        ),
        ByNameError::Reply { action, source } => {
            let message = format!(
                "action `{action}`: its reply cannot be encoded as JSON, so it was rolled back"
            );
            tracing::error!(error = %Chain(&*source), "{message}");
            Failure::new(ErrorKind::ReplyNotEncodable, message)
        }
        ByNameError::Action(value) => Failure::action_error(action, value),
        ByNameError::Call(error) => ask(&error),
    }
}

/// The answer to a runtime error of a call.
pub(crate) fn ask(error: &AskError<Infallible>) -> Failure {
    match error {
        AskError::StateTooLarge { size, limit, .. } => Failure::new(
            ErrorKind::StateTooLarge,
            format!(
                "the action would make the actor's state {size} bytes, over its limit of {limit}; it was rolled back"
            ),
        ),
        AskError::Stopped { reason, .. } => stopped(reason),
        AskError::Commit { .. } => Failure::logged(
            ErrorKind::Storage,
            "the new state could not be made durable; the action was not applied",
            error,
        ),
        AskError::Unavailable { .. } => Failure::logged(
            ErrorKind::Unavailable,
            "the actor cannot be loaded right now; try again",
            error,
        ),
        AskError::Panicked { .. } => Failure::logged(
            ErrorKind::Panicked,
            "the action panicked; the actor went back to its last durable state",
            error,
        ),
        AskError::Encode { .. } => Failure::logged(
            ErrorKind::StateNotEncodable,
            "the actor's new state does not encode; the action was rolled back",
            error,
        ),
        AskError::Timeout { after, .. } => Failure::new(
            ErrorKind::Timeout,
            format!("no reply within {after:?}; the action may still complete"),
        ),
        _ => Failure::logged(ErrorKind::Internal, "the call failed", error),
    }
}

fn stopped(reason: &StopReason) -> Failure {
    match reason {
        StopReason::Shutdown | StopReason::Aborted { .. } => {
            Failure::new(ErrorKind::ShuttingDown, "the server is shutting down")
        }
        StopReason::CrashLoop { .. } => Failure::new(
            ErrorKind::Stopped,
            "the actor is stopped after repeated panics; try again later",
        ),
        other => Failure::logged(
            ErrorKind::Stopped,
            "the actor is stopped; try again later",
            other,
        ),
    }
}

/// The answer to a failure to get or create the actor.
pub(crate) fn start(error: &StartError) -> Failure {
    match error {
        StartError::KeyTooLong { len, limit, .. } => Failure::new(
            ErrorKind::BadKey,
            format!("the key is {len} bytes, over the limit of {limit}"),
        ),
        StartError::Shutdown => {
            Failure::new(ErrorKind::ShuttingDown, "the server is shutting down")
        }
        StartError::Load { .. } => Failure::logged(
            ErrorKind::Unavailable,
            "the actor cannot be loaded right now; try again",
            error,
        ),
        StartError::Decode { .. } => Failure::logged(
            ErrorKind::Storage,
            "the actor's stored state cannot be read",
            error,
        ),
        StartError::Commit { .. } => Failure::logged(
            ErrorKind::Storage,
            "the new actor could not be made durable",
            error,
        ),
        StartError::TooLarge { size, limit, .. } => Failure::new(
            ErrorKind::StateTooLarge,
            format!("the actor's initial state is {size} bytes, over its limit of {limit}"),
        ),
        StartError::Encode { .. } => Failure::logged(
            ErrorKind::StateNotEncodable,
            "the actor's initial state does not encode",
            error,
        ),
        StartError::CreatePanicked { .. } => Failure::logged(
            ErrorKind::Panicked,
            "creating the actor panicked; nothing was stored",
            error,
        ),
        _ => Failure::logged(ErrorKind::Internal, "the actor cannot start", error),
    }
}

/// An error and its causes on one line, for the log.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

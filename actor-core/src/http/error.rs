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

use crate::error::{
    AskError, ByNameError, ErrorBody, ErrorDetail, ErrorKind, StartError, StopReason,
};

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

/// An error answer: a kind and a message, and the extra some kinds carry.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: ErrorKind,
    message: String,
    extra: Extra,
}

/// What an error answer carries besides its kind and message: at most one of these, by kind.
#[derive(Debug)]
enum Extra {
    None,
    /// `unknown_action`: the actor type's actions.
    Actions(&'static [&'static str]),
    /// `unknown_actor_type`: the actor types served.
    Types(Vec<&'static str>),
    /// `action_error`: the action's error.
    Value(serde_json::Value),
    /// `state_too_large`: the size the state would have had, and its limit.
    Sizes {
        size: usize,
        limit: usize,
    },
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            extra: Extra::None,
        }
    }

    /// Adds the size a state would have had and its limit (`state_too_large`).
    fn sizes(mut self, size: usize, limit: usize) -> Self {
        self.extra = Extra::Sizes { size, limit };
        self
    }

    /// Adds the list of an actor type's actions (`unknown_action`).
    pub(crate) fn actions(mut self, actions: &'static [&'static str]) -> Self {
        self.extra = Extra::Actions(actions);
        self
    }

    /// Adds the list of the actor types served (`unknown_actor_type`).
    pub(crate) fn types(mut self, types: Vec<&'static str>) -> Self {
        self.extra = Extra::Types(types);
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
        let mut error = ErrorDetail::new(self.kind, self.message);
        match self.extra {
            Extra::None => {}
            Extra::Actions(list) => {
                error.actions = Some(list.iter().map(|&a| a.to_owned()).collect());
            }
            Extra::Types(list) => {
                error.types = Some(list.into_iter().map(str::to_owned).collect());
            }
            Extra::Value(value) => error.value = Some(value),
            Extra::Sizes { size, limit } => {
                error.size = Some(size);
                error.limit = Some(limit);
            }
        }
        let body = ErrorBody { error };
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
        failure.extra = Extra::Value(value);
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
        )
        .sizes(*size, *limit),
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
        )
        .sizes(*size, *limit),
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

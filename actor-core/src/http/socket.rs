//! WebSockets on an actor (Rivet's `onWebSocket`, with its connections): the [`WebSocket`]
//! trait, what a hook can do with its connection ([`Socket`]), and the task that serves one
//! connection.
//!
//! The save rule, and what a crash loses, are on [`WebSocket`].

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::ws::{self, CloseFrame, WebSocket as Wire, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, oneshot, watch};
use tokio_stream::StreamExt;
use tracing::Instrument;

use super::error::Failure;
use super::limits::Limits;
use super::routes::{Shared, actor_key};
use super::server::ConnectionPermit;
use crate::actor::Actor;
use crate::ctx::Ctx;
use crate::error::ErrorKind;
use crate::error::EventLag;
use crate::error::{AskError, StartError};
use crate::handle::{Events, Handle};
use crate::limits::quote;
use crate::mailbox::{Save, Session};
use crate::slot::BoxFuture;
use crate::system::System;

/// The most messages one hook may queue on its socket.
pub const MAX_QUEUED_MESSAGES: usize = 1024;

/// The longest close reason a close frame carries, in bytes (the protocol's limit).
const MAX_CLOSE_REASON: usize = 123;

/// An actor that serves WebSocket connections (Rivet's `onWebSocket`, with per-connection
/// state), served with [`ServerBuilder::websocket`](crate::http::ServerBuilder::websocket) at
/// `GET /actors/{type}/{key}/websocket`.
///
/// # The save rule
///
/// The hooks run inside the actor, one at a time with its actions. As in Rivet, what
/// `on_open` and `on_message` change is **not** saved when they return: it is saved when the
/// connection closes (`on_close` runs, then the state is committed), durably at once whenever
/// a hook calls [`Ctx::save_state`], and also with the next action, fetch or other turn that
/// saves. A crash (a `kill -9`, a power cut) while the socket is open loses what was changed
/// since the last save. What a hook staged besides the state (schedules, messages, events,
/// key-value writes) waits for the same save. A panic in a hook goes back to the last saved
/// state (unsaved changes of earlier messages included) and closes that socket (1011).
///
/// What a hook sends to its socket goes out when the hook returns, once everything the hook
/// saw that was saved is durable: a client never hears of a saved change a crash could take
/// back. (Unsaved changes are the rule's exception, by design.)
///
/// The actor's events reach every socket that [subscribed](Socket::subscribe), as JSON text
/// frames `{"event": ...}`, once their turn is durable. A socket that falls behind by more
/// than the actor's `event_capacity` gets `{"lagged": n}` (how many it missed) and goes on;
/// one whose client stops reading for longer than the request time limit is dropped. Neither
/// ever slows the actor.
///
/// ```
/// use actor_core::http::{Message, Parts, Socket, WebSocket, Close};
/// use actor_core::{actions, Actor, Ctx};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Actor, Serialize, Deserialize, Default)]
/// struct Echo {
///     received: u64,
/// }
///
/// #[actions]
/// impl Echo {
///     pub async fn received(&self) -> u64 {
///         self.received
///     }
/// }
///
/// impl WebSocket for Echo {
///     /// How many messages this connection sent.
///     type Connection = u64;
///
///     async fn on_open(&mut self, _request: &Parts, _socket: &mut Socket, _ctx: &mut Ctx<Self>) -> Result<u64, Close> {
///         Ok(0)
///     }
///
///     async fn on_message(&mut self, sent: &mut u64, message: Message, socket: &mut Socket, ctx: &mut Ctx<Self>) {
///         *sent += 1;
///         self.received += 1;
///         // Durable before the echo goes out; without this, saved when the socket closes.
///         if ctx.save_state(self).await.is_ok() {
///             let _ = socket.send(message);
///         }
///     }
/// }
/// ```
pub trait WebSocket: Actor {
    /// What the actor keeps about one open connection (Rivet's connection state): made by
    /// [`on_open`](WebSocket::on_open), lent to each [`on_message`](WebSocket::on_message),
    /// handed to [`on_close`](WebSocket::on_close). It lives in memory while the socket is
    /// open and is never stored.
    type Connection: Send + 'static;

    /// A client connected. `request` is the upgrade request (its URI, query and headers:
    /// the place for connection parameters). `Err` refuses the connection with that close
    /// frame (`on_close` does not run). Not saved when it returns (see the trait docs).
    fn on_open(
        &mut self,
        request: &Parts,
        socket: &mut Socket,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = Result<Self::Connection, Close>> + Send;

    /// A text or binary message from the client (pings and pongs are answered by the
    /// server). Not saved when it returns (see the trait docs).
    fn on_message(
        &mut self,
        connection: &mut Self::Connection,
        message: Message,
        socket: &mut Socket,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = ()> + Send;

    /// The connection closed (the client closed it or went away, a hook closed it, or the
    /// server is shutting down). What the socket's hooks changed is saved when this returns.
    /// Not called when `on_open` refused the connection, nor after a hook of it panicked
    /// (its connection state was lost with the panic; the state is saved all the same).
    fn on_close(
        &mut self,
        connection: Self::Connection,
        ctx: &mut Ctx<Self>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (connection, ctx);
        async {}
    }
}

/// A message from or to a WebSocket client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Binary(_) => None,
        }
    }

    /// The message's bytes (a text message's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }

    /// Decodes the message (text or binary) as JSON. `serde_json` stops at 128 levels of
    /// nesting, so no message can exhaust the stack.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.as_bytes())
    }

    fn len(&self) -> usize {
        self.as_bytes().len()
    }

    fn into_wire(self) -> ws::Message {
        match self {
            Self::Text(text) => ws::Message::Text(text.into()),
            Self::Binary(bytes) => ws::Message::Binary(bytes),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Binary(bytes.into())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Self::Binary(bytes)
    }
}

/// How a connection is closed: a close code and a reason (at most 123 bytes; a longer one is
/// cut at a character boundary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close code (RFC 6455, section 7.4).
    pub code: u16,
    /// Why, for people.
    pub reason: String,
}

impl Close {
    /// Closes with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self { code, reason }
    }

    /// 1000: the conversation is over.
    pub fn normal() -> Self {
        Self::new(1000, "")
    }

    /// 1008: the client broke a rule of the application (`reason` says which).
    pub fn policy(reason: impl Into<String>) -> Self {
        Self::new(1008, reason)
    }

    /// 1001: the server is going away (shutting down).
    fn going_away() -> Self {
        Self::new(1001, "the server is shutting down")
    }

    /// 1011: the server failed (a hook panicked, a commit failed).
    fn internal(reason: &str) -> Self {
        Self::new(1011, reason)
    }

    fn into_wire(self) -> ws::Message {
        ws::Message::Close(Some(CloseFrame {
            code: self.code,
            reason: self.reason.into(),
        }))
    }
}

/// What a hook can do with its own connection: queue messages (sent when the hook returns,
/// once what it saw is durable), close it, and subscribe it to the actor's events.
#[derive(Debug)]
pub struct Socket {
    outgoing: Vec<Message>,
    close: Option<Close>,
    subscribed: bool,
}

/// A message could not be queued on a [`Socket`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The hook already queued [`MAX_QUEUED_MESSAGES`] messages.
    #[error("the socket already has {limit} messages queued by this hook")]
    Full {
        /// The limit.
        limit: usize,
    },
    /// The value does not encode as JSON.
    #[error("the message does not encode as JSON: {0}")]
    Json(#[source] serde_json::Error),
}

impl Socket {
    fn new(subscribed: bool) -> Self {
        Self {
            outgoing: Vec::new(),
            close: None,
            subscribed,
        }
    }

    /// Queues a message to the client, sent when the hook returns (once everything the hook
    /// saw that was saved is durable). Fails past [`MAX_QUEUED_MESSAGES`] in one hook.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), SocketError> {
        if self.outgoing.len() >= MAX_QUEUED_MESSAGES {
            return Err(SocketError::Full {
                limit: MAX_QUEUED_MESSAGES,
            });
        }
        self.outgoing.push(message.into());
        Ok(())
    }

    /// Queues `value` as a JSON text message (see [`send`](Socket::send)).
    pub fn send_json(&mut self, value: &impl Serialize) -> Result<(), SocketError> {
        let text = serde_json::to_string(value).map_err(SocketError::Json)?;
        self.send(Message::Text(text))
    }

    /// Closes the connection once the hook returns and its messages are sent; `on_close`
    /// runs then (unless this is `on_open`, whose `Err` is the way to refuse).
    pub fn close(&mut self, close: Close) {
        self.close = Some(close);
    }

    /// From now on, the actor's events reach this connection as `{"event": ...}` text frames
    /// (each once its turn is durable).
    pub fn subscribe(&mut self) {
        self.subscribed = true;
    }

    /// The actor's events stop reaching this connection.
    pub fn unsubscribe(&mut self) {
        self.subscribed = false;
    }

    /// Whether the connection receives the actor's events.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }
}

/// Counts the open sockets of a server, so that its shutdown can wait for them to close.
#[derive(Debug, Default)]
pub(crate) struct OpenSockets {
    count: AtomicUsize,
    closed: Notify,
}

/// Held by a socket's task; dropping it counts the socket out.
pub(crate) struct SocketGuard(Arc<OpenSockets>);

impl OpenSockets {
    fn guard(self: &Arc<Self>) -> SocketGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        SocketGuard(Arc::clone(self))
    }

    /// Resolves once no socket is open.
    pub(crate) async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

/// What a socket's task needs from the server.
pub(crate) struct SocketEnv {
    pub(crate) limits: Limits,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) open: Arc<OpenSockets>,
}

/// One actor type's WebSocket hooks, behind a trait object.
pub(crate) trait SocketRoute: Send + Sync {
    /// [`Actor::NAME`].
    fn name(&self) -> &'static str;
    /// Declares the type to the system.
    fn declare(&self, system: &System) -> Result<(), StartError>;
    /// Gets or creates the actor at `key` and accepts the upgrade, serving the connection in
    /// a task of its own.
    fn upgrade<'a>(
        &'a self,
        shared: &'a Shared,
        key: crate::key::ActorKey,
        parts: Parts,
        upgrade: WebSocketUpgrade,
    ) -> BoxFuture<'a, Result<Response, Failure>>;
}

/// The [`SocketRoute`] of `A`.
pub(crate) struct SocketOf<A>(PhantomData<fn() -> A>);

impl<A> SocketOf<A> {
    pub(crate) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<A> SocketRoute for SocketOf<A>
where
    A: WebSocket,
    A::Input: Default,
{
    fn name(&self) -> &'static str {
        A::NAME
    }

    fn declare(&self, system: &System) -> Result<(), StartError> {
        system.register::<A>()
    }

    fn upgrade<'a>(
        &'a self,
        shared: &'a Shared,
        key: crate::key::ActorKey,
        parts: Parts,
        upgrade: WebSocketUpgrade,
    ) -> BoxFuture<'a, Result<Response, Failure>> {
        Box::pin(async move {
            let handle = shared
                .system
                .get_or_create::<A>(key)
                .await
                .map_err(|e| super::error::start(&e))?;
            let env = SocketEnv {
                limits: shared.limits.clone(),
                stop: shared.stop.clone(),
                open: Arc::clone(&shared.open_sockets),
            };
            let guard = env.open.guard();
            let permit = parts.extensions.get::<ConnectionPermit>().cloned();
            let max = shared.limits.max_websocket_message_bytes;
            let span = tracing::info_span!("websocket", actor = %handle.path());
            Ok(upgrade
                .max_message_size(max)
                .max_frame_size(max)
                .on_upgrade(move |wire| {
                    let serve: BoxFuture<'static, ()> =
                        Box::pin(serve::<A>(wire, handle, parts, env, (guard, permit)));
                    serve.instrument(span)
                }))
        })
    }
}

/// `GET /actors/{type}/{key}/websocket`: checks the path and the upgrade request, then hands
/// the connection to the actor type's hooks.
pub(crate) async fn upgrade(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    request: Request<Body>,
) -> Response {
    let answer = async {
        let Path((kind, key)) = path.map_err(|_| {
            Failure::new(
                ErrorKind::BadPath,
                "the path is not valid: each segment must be percent-encoded UTF-8",
            )
        })?;
        let route = shared.sockets.get(kind.as_str()).ok_or_else(|| {
            Failure::new(
                ErrorKind::UnknownActorType,
                format!("no actor type `{}` serves WebSockets", quote(&kind)),
            )
            .types(shared.sockets.keys().copied().collect())
        })?;
        let key = actor_key(&key)?;
        tracing::Span::current().record("actor", tracing::field::display(format!("{kind}/{key}")));
        let (mut parts, _body) = request.into_parts();
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .map_err(|rejection| {
                Failure::new(
                    ErrorKind::NotWebSocket,
                    format!(
                        "this route takes a WebSocket upgrade (GET with `upgrade: websocket`): {rejection}"
                    ),
                )
            })?;
        route.upgrade(&shared, key, parts, upgrade).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// The open hook's turn.
struct OpenTurn<A: WebSocket> {
    request: Parts,
    answer: oneshot::Sender<(Result<A::Connection, Close>, Socket)>,
}

impl<A: WebSocket> Session<A> for OpenTurn<A> {
    fn run<'a>(self: Box<Self>, state: &'a mut A, ctx: &'a mut Ctx<A>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Self { request, answer } = *self;
            let mut socket = Socket::new(false);
            let opened = state.on_open(&request, &mut socket, ctx).await;
            let _ = answer.send((opened, socket));
            true
        })
    }
}

/// A message hook's turn: takes the connection's state and hands it back.
struct MessageTurn<A: WebSocket> {
    connection: A::Connection,
    message: Message,
    subscribed: bool,
    answer: oneshot::Sender<(A::Connection, Socket)>,
}

impl<A: WebSocket> Session<A> for MessageTurn<A> {
    fn run<'a>(self: Box<Self>, state: &'a mut A, ctx: &'a mut Ctx<A>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Self {
                mut connection,
                message,
                subscribed,
                answer,
            } = *self;
            let mut socket = Socket::new(subscribed);
            state
                .on_message(&mut connection, message, &mut socket, ctx)
                .await;
            let _ = answer.send((connection, socket));
            true
        })
    }
}

/// The close hook's turn (without a connection state: only the save).
struct CloseTurn<A: WebSocket> {
    connection: Option<A::Connection>,
}

impl<A: WebSocket> Session<A> for CloseTurn<A> {
    fn run<'a>(self: Box<Self>, state: &'a mut A, ctx: &'a mut Ctx<A>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            if let Some(connection) = self.connection {
                state.on_close(connection, ctx).await;
            }
            true
        })
    }
}

/// How the serving loop ended.
enum End {
    /// Close the connection with this frame.
    Close(Close),
    /// The client closed it (its close frame is answered) or went away.
    ByClient,
}

/// Serves one connection: the open hook, then messages, events and the stop signal, then
/// the close hook (which saves) and the close frame.
async fn serve<A: WebSocket>(
    mut wire: Wire,
    handle: Handle<A>,
    request: Parts,
    mut env: SocketEnv,
    // Held while the socket is open: it counts as open, and as a connection.
    _open: (SocketGuard, Option<ConnectionPermit>),
) {
    // The actor does not sleep while the socket is open.
    let _awake = handle.keep_awake();
    let (answer, opened) = oneshot::channel();
    let open = handle
        .session(Save::Deferred, Box::new(OpenTurn::<A> { request, answer }))
        .await;
    let (opened, socket) = match (open, opened.await) {
        (Ok(()), Ok(opened)) => opened,
        (Err(error), _) => {
            let _ = wire.send(failed(&error).into_wire()).await;
            return;
        }
        (Ok(()), Err(_)) => {
            let _ = wire
                .send(Close::internal("the open hook gave no answer").into_wire())
                .await;
            return;
        }
    };
    let mut connection = match opened {
        Ok(connection) => Some(connection),
        Err(close) => {
            let _ = send_all(&mut wire, socket.outgoing, &env.limits).await;
            let _ = wire.send(close.into_wire()).await;
            return;
        }
    };
    let mut events = None;
    let end = match after_turn(&mut wire, &handle, socket, &mut events, &env.limits).await {
        Some(end) => end,
        None => loop {
            tokio::select! {
                biased;
                () = stopped(&mut env.stop) => break End::Close(Close::going_away()),
                incoming = wire.recv() => {
                    let message = match incoming {
                        Some(Ok(ws::Message::Text(text))) => Message::Text(text.as_str().to_owned()),
                        Some(Ok(ws::Message::Binary(bytes))) => Message::Binary(bytes),
                        Some(Ok(ws::Message::Ping(_) | ws::Message::Pong(_))) => continue,
                        Some(Ok(ws::Message::Close(_))) | None => break End::ByClient,
                        Some(Err(error)) => break read_failed(&error, &env.limits),
                    };
                    let Some(state) = connection.take() else {
                        break End::Close(Close::internal("the connection's state was lost"));
                    };
                    match on_message(&handle, state, message, events.is_some()).await {
                        Ok((state, socket)) => {
                            connection = Some(state);
                            if let Some(end) = after_turn(&mut wire, &handle, socket, &mut events, &env.limits).await {
                                break end;
                            }
                        }
                        Err((state, close)) => {
                            connection = state;
                            break End::Close(close);
                        }
                    }
                }
                event = next_event(&mut events) => match event {
                    // The actor's event channel closed: nothing more will come.
                    None => events = None,
                    Some(event) => {
                        if forward(&mut wire, event, &env.limits).await.is_err() {
                            break End::ByClient;
                        }
                    }
                },
            }
        },
    };
    // The close hook, then the save: durable before the close frame goes out, so a client
    // that saw the server's close frame knows the socket's changes are saved.
    if let Err(error) = handle
        .session(Save::AtEnd, Box::new(CloseTurn::<A> { connection }))
        .await
    {
        tracing::warn!(%error, "the state was not saved when the WebSocket closed");
    }
    match end {
        End::Close(close) => {
            let _ = wire.send(close.into_wire()).await;
        }
        // Sends the answer to the client's close frame, if it sent one.
        End::ByClient => {
            let _ = wire.close().await;
        }
    }
}

/// Runs the message hook. On failure, the connection state if it came back, and the close
/// frame to send.
async fn on_message<A: WebSocket>(
    handle: &Handle<A>,
    connection: A::Connection,
    message: Message,
    subscribed: bool,
) -> Result<(A::Connection, Socket), (Option<A::Connection>, Close)> {
    let (answer, answered) = oneshot::channel();
    let turn = MessageTurn::<A> {
        connection,
        message,
        subscribed,
        answer,
    };
    let ran = handle.session(Save::Deferred, Box::new(turn)).await;
    match (ran, answered.await) {
        (Ok(()), Ok(answer)) => Ok(answer),
        (Err(error), answer) => Err((answer.ok().map(|(c, _)| c), failed(&error))),
        (Ok(()), Err(_)) => Err((None, Close::internal("the message hook gave no answer"))),
    }
}

/// After a hook: sends what it queued, follows its subscription, and says whether to close.
async fn after_turn<A: WebSocket>(
    wire: &mut Wire,
    handle: &Handle<A>,
    socket: Socket,
    events: &mut Option<Events<A>>,
    limits: &Limits,
) -> Option<End> {
    if send_all(wire, socket.outgoing, limits).await.is_err() {
        return Some(End::ByClient);
    }
    match (socket.subscribed, events.is_some()) {
        (true, false) => *events = Some(handle.subscribe()),
        (false, true) => *events = None,
        _ => {}
    }
    socket.close.map(End::Close)
}

/// Sends messages, dropping the connection (`Err`) if the client does not take one within
/// the request time limit.
async fn send_all(wire: &mut Wire, messages: Vec<Message>, limits: &Limits) -> Result<(), ()> {
    for message in messages {
        let len = message.len();
        match tokio::time::timeout(limits.request_timeout, wire.send(message.into_wire())).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(()),
            Err(_) => {
                tracing::debug!(
                    len,
                    "the client did not take a message in time; dropping it"
                );
                return Err(());
            }
        }
    }
    Ok(())
}

/// The next event of a subscription, or never without one.
async fn next_event<A: Actor>(
    events: &mut Option<Events<A>>,
) -> Option<Result<Arc<A::Event>, EventLag>> {
    match events {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

/// Sends an event (`{"event": ...}`) or a lag notice (`{"lagged": n}`).
async fn forward<E: Serialize>(
    wire: &mut Wire,
    event: Result<Arc<E>, EventLag>,
    limits: &Limits,
) -> Result<(), ()> {
    #[derive(Serialize)]
    struct Event<'a, E> {
        event: &'a E,
    }
    #[derive(Serialize)]
    struct Lagged {
        lagged: u64,
    }
    let text = match event {
        Ok(event) => serde_json::to_string(&Event { event: &*event }),
        Err(lag) => serde_json::to_string(&Lagged { lagged: lag.0 }),
    };
    match text {
        Ok(text) => send_all(wire, vec![Message::Text(text)], limits).await,
        Err(error) => {
            tracing::warn!(%error, "an event does not encode as JSON; not sent to the socket");
            Ok(())
        }
    }
}

/// The close frame for a hook that could not run or whose turn failed.
fn failed(error: &AskError<std::convert::Infallible>) -> Close {
    match error {
        AskError::Stopped { .. } => Close::going_away(),
        AskError::Panicked { .. } => Close::internal("a hook panicked"),
        AskError::Commit { .. } => Close::internal("the actor's state could not be saved"),
        _ => Close::internal("the hook failed"),
    }
}

/// The close frame after a read error: 1009 for a message over the limit, otherwise the
/// client is gone.
fn read_failed(error: &axum::Error, limits: &Limits) -> End {
    let text = error.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") {
        End::Close(Close::new(
            1009,
            format!(
                "a message is over the limit of {} bytes",
                limits.max_websocket_message_bytes
            ),
        ))
    } else {
        End::ByClient
    }
}

/// Resolves once the server is told to stop.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl fmt::Debug for SocketEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketEnv")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

//! [`ServerBuilder`] and [`Server`]: the middleware stack, the accept loop and graceful
//! shutdown.
//!
//! The accept loop is our own rather than `axum::serve`, which exposes neither a header read
//! timeout nor a header size limit: each connection is served by hyper's HTTP/1.1 connection
//! builder, configured from [`Limits`], in a task of its own, and a semaphore bounds how many
//! connections are open at once.
//!
//! The stack around the routes, outermost first: the request's metrics (its count by route
//! and status, its latency); a tracing span per request (tower-http's `TraceLayer`); a JSON body for the bare error responses of the layers below; panics caught
//! (tower-http's `CatchPanicLayer`); the request time limit (tower-http's `TimeoutLayer`);
//! bearer tokens; the body size limit (tower-http's `RequestBodyLimitLayer`, and axum's
//! `DefaultBodyLimit` for the extractors).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::admin;
use super::auth::{Auth, RouteGroup, Tokens};
use super::error::{Failure, kind_of_status};
use super::fetch::{self, Fetch, FetchOf, FetchRoute};
use super::inspector;
use super::limits::Limits;
use super::prometheus;
use super::routes::{self, ActorRoute, Listing, Route, Shared};
use super::socket::{self, OpenSockets, SocketOf, SocketRoute, WebSocket};
use super::worker::{self, FromWorker, MakeFetch};
use crate::actor::Actor;
use crate::error::ErrorKind;
use crate::error::ServeError;
use crate::kv::Env;
use crate::system::System;

/// The address a server listens on unless told otherwise: loopback only.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Action names the routes under `/actors/{type}/{key}/` keep for themselves.
const RESERVED_ACTIONS: [&str; 2] = ["fetch", "websocket"];

/// How long the accept loop waits after an error that is not one connection's (too many open
/// files, say) before it accepts again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running HTTP server over a [`System`]: see [`Server::builder`].
///
/// Dropping it without [`shutdown`](Server::shutdown) stops accepting connections and lets
/// the open ones finish their requests, but leaves the system running.
pub struct Server {
    local_addr: SocketAddr,
    system: System,
    /// Tells the accept loop and every connection to stop (or, dropped, the same).
    stop: watch::Sender<bool>,
    /// The accept loop; it ends once every connection has closed.
    accept: JoinHandle<()>,
    /// The open WebSockets (their connections left the accept loop when they upgraded).
    open_sockets: Arc<OpenSockets>,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder for a server over `system`.
    pub fn builder(system: System) -> ServerBuilder {
        ServerBuilder {
            system,
            actors: Vec::new(),
            fetchers: Vec::new(),
            sockets: Vec::new(),
            worker: None,
            listen: DEFAULT_LISTEN,
            limits: Limits::default(),
            auth: Vec::new(),
            inspector: false,
            shutdown_timeout: Duration::from_secs(10),
            metrics: Metrics::Install,
            backups: None,
        }
    }

    /// The address the server listens on (with the port the system chose, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The system the server serves.
    pub fn system(&self) -> &System {
        &self.system
    }

    /// Shuts down gracefully: stops accepting connections, lets the requests in flight
    /// finish (an idle kept-alive connection is closed at once) and closes every WebSocket
    /// (its `on_close` runs and its state is saved before the close frame, 1001, goes out),
    /// until the shutdown deadline ([`ServerBuilder::shutdown_timeout`], 10 s by default);
    /// then closes the connections still open, and finally shuts the system down
    /// ([`System::shutdown`]).
    ///
    /// A request cut off at the deadline gets no answer, but the action it sent is not lost:
    /// it still runs during the system's shutdown, and whatever was acknowledged is durable.
    /// A WebSocket still open then is cut off; its actor saves what the socket's hooks
    /// changed as it stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut accept = self.accept;
        let sockets = Arc::clone(&self.open_sockets);
        let drained = async {
            (&mut accept).await.ok();
            sockets.all_closed().await;
        };
        if tokio::time::timeout(self.shutdown_timeout, drained)
            .await
            .is_err()
        {
            tracing::warn!(
                after = ?self.shutdown_timeout,
                "requests still running at the shutdown deadline: closing their connections"
            );
            // Dropping the loop's set of connection tasks aborts them.
            accept.abort();
            let _ = accept.await;
        }
        self.system.shutdown().await;
    }
}

/// Options for a [`Server`]: what it serves, where, and its limits.
///
/// ```no_run
/// # use actor_core::http::{Auth, Limits, Server};
/// # async fn demo(system: actor_core::System) -> Result<(), actor_core::http::ServeError> {
/// let server = Server::builder(system)
///     // .actor::<Counter>()
///     .listen(([127, 0, 0, 1], 0)) // any free port
///     .auth(Auth::bearer("a-long-random-token"))
///     .limits(Limits::default().max_body_bytes(64 * 1024))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ServerBuilder {
    system: System,
    actors: Vec<Box<dyn ActorRoute>>,
    fetchers: Vec<Box<dyn FetchRoute>>,
    sockets: Vec<Box<dyn SocketRoute>>,
    worker: Option<MakeFetch>,
    listen: SocketAddr,
    limits: Limits,
    auth: Vec<Auth>,
    /// Whether the inspector's page and API are served under `/admin/`.
    inspector: bool,
    shutdown_timeout: Duration,
    metrics: Metrics,
    /// Where `POST /admin/backup` writes, and how many backups it keeps.
    backups: Option<(PathBuf, usize)>,
}

/// Where `GET /metrics` gets its figures.
enum Metrics {
    /// From the recorder this crate installs in the process (once, on the first start).
    Install,
    /// From the program's own Prometheus recorder.
    Handle(PrometheusHandle),
    /// Nowhere: no metrics route.
    Off,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actors: Vec<&str> = self.actors.iter().map(|a| a.name()).collect();
        let fetchers: Vec<&str> = self.fetchers.iter().map(|a| a.name()).collect();
        let sockets: Vec<&str> = self.sockets.iter().map(|a| a.name()).collect();
        f.debug_struct("ServerBuilder")
            .field("actors", &actors)
            .field("fetch", &fetchers)
            .field("websocket", &sockets)
            .field("worker", &self.worker.is_some())
            .field("listen", &self.listen)
            .field("limits", &self.limits)
            .field("auth", &self.auth)
            .field("inspector", &self.inspector)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field(
                "metrics",
                &match self.metrics {
                    Metrics::Install => "install",
                    Metrics::Handle(_) => "handle",
                    Metrics::Off => "off",
                },
            )
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// Serves the actions of actor type `A` at `POST /actors/{A::NAME}/{key}/{action}`: a call
    /// to a key that has no actor yet creates it (as
    /// [`System::get_or_create`](crate::System::get_or_create)). The type is also declared to
    /// the system when the server starts ([`System::register`](crate::System::register)).
    #[must_use]
    pub fn actor<A>(mut self) -> Self
    where
        A: Actor,
        A::Input: Default,
        A::Action: DeserializeOwned,
        A::Reply: Serialize,
        A::Error: Serialize,
    {
        self.actors.push(Box::new(Route::<A>::new()));
        self
    }

    /// Routes every request to `/actors/{A::NAME}/{key}/fetch/...` (any method) to the actor's
    /// [`Fetch::on_fetch`](crate::http::Fetch::on_fetch), creating the actor on first use as
    /// [`actor`](ServerBuilder::actor) does. Its changes are saved like an action's before
    /// the response is sent.
    #[must_use]
    pub fn fetch<A>(mut self) -> Self
    where
        A: Fetch,
        A::Input: Default,
    {
        self.fetchers.push(Box::new(FetchOf::<A>::new()));
        self
    }

    /// Serves WebSocket connections at `GET /actors/{A::NAME}/{key}/websocket` with the
    /// actor's [`WebSocket`](crate::http::WebSocket) hooks, creating the actor on first use
    /// as [`actor`](ServerBuilder::actor) does. Read the hooks' save rule in
    /// [`WebSocket`](crate::http::WebSocket).
    #[must_use]
    pub fn websocket<A>(mut self) -> Self
    where
        A: WebSocket,
        A::Input: Default,
    {
        self.sockets.push(Box::new(SocketOf::<A>::new()));
        self
    }

    /// Serves every path not under `/actors` with `fetch(request, env)`: Ploy's worker. `env`
    /// is built once, when the server starts, from the system's bindings
    /// ([`System::env`](crate::System::env)), and cloned for each request. The request's body
    /// has been read (within [`Limits::max_body_bytes`]); the answer is anything that converts
    /// into a response (`axum`'s `IntoResponse`: a string, `Json(..)`, a status with a body,
    /// a `Result` with [`WorkerError`](crate::http::WorkerError), ...). Its responses are sent
    /// as they are. A second call replaces the first worker.
    #[must_use]
    pub fn worker<E, F, Fut, R>(mut self, fetch: F) -> Self
    where
        E: Env + Clone + Send + Sync + 'static,
        F: Fn(Request<Bytes>, E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoResponse,
    {
        self.worker = Some(worker::make(fetch));
        self
    }

    /// The address to listen on. The default, `127.0.0.1:8080`, is reachable from this
    /// machine only; listen on another interface (`0.0.0.0`) only on purpose, and with
    /// [`auth`](ServerBuilder::auth). Port 0 picks a free port
    /// ([`Server::local_addr`] tells which).
    #[must_use]
    pub fn listen(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.listen = addr.into();
        self
    }

    /// The limits on what clients control (see [`Limits`] for the defaults).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Requires a bearer token, on every route or on some route groups (see [`Auth`]). May
    /// be called again for more tokens. Without it, every route is open.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth.push(auth);
        self
    }

    /// Serves the inspector: a web page at `GET /admin/` that shows the system as it runs
    /// (actor types and their counts, an actor's keys and its state as a JSON tree, the
    /// key-value stores and their entries, and a live chart of commits per second), and the
    /// JSON API it reads under `/admin/api/`. Off by default.
    ///
    /// The routes are in [`RouteGroup::Admin`]: protect them with a token
    /// ([`Auth::bearer`] covers every group). The page itself holds no data and is served
    /// without one; it takes the token from its URL (`/admin/#token=...`: the fragment never
    /// leaves the browser) or from its form, and sends it on each API call. With the
    /// inspector on, every other path under `/admin/` answers 404 rather than reaching the
    /// worker. `docs/operating.md` shows the page and lists the API.
    ///
    /// The data is the system's own file, read as it is now
    /// ([`System::inspect`](crate::System::inspect)); on a system with a custom storage
    /// backend the API answers 404.
    #[must_use]
    pub fn inspector(mut self) -> Self {
        self.inspector = true;
        self
    }

    /// How long [`Server::shutdown`] lets requests in flight finish before it closes their
    /// connections (default 10 s). The system's own shutdown
    /// ([`SystemBuilder::shutdown_timeout`](crate::SystemBuilder::shutdown_timeout)) comes
    /// after.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Serves `GET /metrics` from `handle`: the Prometheus recorder the program installed
    /// itself (with buckets of its own, say, or before anything else recorded).
    ///
    /// Without this, the first server of the process installs a Prometheus recorder as the
    /// `metrics` facade's global recorder (with buckets for the runtime's histograms) and
    /// every server serves it; if the program already installed a recorder of another kind,
    /// there is no `/metrics` route (that recorder's exporter serves the figures). The
    /// route is in [`RouteGroup::Admin`]: [`Auth::bearer`] guards it unless narrowed with
    /// [`Auth::only`]. `docs/metrics.md` lists the metrics.
    ///
    /// ```no_run
    /// # async fn demo(system: actor_core::System) -> Result<(), Box<dyn std::error::Error>> {
    /// use actor_core::http::Server;
    /// use actor_core::http::metrics_exporter_prometheus::PrometheusBuilder;
    ///
    /// let handle = PrometheusBuilder::new().install_recorder()?;
    /// actor_core::describe_metrics();
    /// let server = Server::builder(system).metrics(handle).start().await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Metrics::Handle(handle);
        self
    }

    /// Serves `POST /admin/backup` (route group [`RouteGroup::Admin`]): each request writes
    /// an online backup of the system ([`System::backup`](crate::System::backup)) into `dir`
    /// as `backup-{unix ms}.redb` and answers its report as JSON; the client names no path.
    /// The newest `keep` backups (at least 1) are kept and the oldest of this route's files
    /// beyond them deleted, so requests cannot fill the disk. `dir` is created if missing.
    /// Put a token on [`RouteGroup::Admin`] whenever others can reach the server.
    #[must_use]
    pub fn backups(mut self, dir: impl Into<PathBuf>, keep: usize) -> Self {
        self.backups = Some((dir.into(), keep.max(1)));
        self
    }

    /// No `GET /metrics` route, and no recorder installed by the server (the runtime still
    /// records its metrics through any recorder the program installs).
    #[must_use]
    pub fn without_metrics(mut self) -> Self {
        self.metrics = Metrics::Off;
        self
    }

    /// Declares the actor types to the system, builds the worker's environment, binds the
    /// address and starts accepting connections.
    pub async fn start(self) -> Result<Server, ServeError> {
        for auth in &self.auth {
            auth.check()?;
        }
        let open_paths = if self.inspector {
            vec!["/admin", inspector::PAGE_PATH]
        } else {
            Vec::new()
        };
        let tokens = Arc::new(Tokens::new(&self.auth, open_paths));
        let (actors, fetchers, sockets) =
            declare(&self.system, self.actors, self.fetchers, self.sockets)?;
        let worker = match self.worker {
            Some(make) => Some(make(&self.system).map_err(ServeError::Env)?),
            None => None,
        };
        let listing = Listing::new(&actors, &fetchers, &sockets, worker.is_some());
        // A listing is names and booleans: it always encodes.
        let listing = Bytes::from(serde_json::to_vec(&listing).unwrap_or_default());
        let (listener, local_addr) = bind(self.listen).await?;
        if !local_addr.ip().is_loopback() && !tokens.any() {
            tracing::warn!(%local_addr, "serving beyond this machine without a bearer token");
        }
        let (stop, stopped) = watch::channel(false);
        let rates = self.inspector.then(inspector::Rates::new);
        if let Some(rates) = &rates {
            tokio::spawn(inspector::sample(
                self.system.clone(),
                Arc::clone(rates),
                stopped.clone(),
            ));
        }
        let open_sockets = Arc::new(OpenSockets::default());
        let shared = Arc::new(Shared {
            system: self.system.clone(),
            actors,
            fetchers,
            sockets,
            worker,
            listing,
            inspector: rates.clone(),
            limits: self.limits.clone(),
            stop: stopped.clone(),
            open_sockets: Arc::clone(&open_sockets),
        });
        let metrics = match self.metrics {
            Metrics::Install => prometheus::installed(),
            Metrics::Handle(handle) => Some(handle),
            Metrics::Off => None,
        };
        if let Some(handle) = &metrics {
            tokio::spawn(prometheus::upkeep(handle.clone(), stopped.clone()));
        }
        let backups = match self.backups {
            Some((dir, keep)) => {
                std::fs::create_dir_all(&dir).map_err(|source| ServeError::BackupDir {
                    dir: dir.clone(),
                    source,
                })?;
                Some(Arc::new(admin::Backups {
                    system: self.system.clone(),
                    dir,
                    keep,
                }))
            }
            None => None,
        };
        let router = router(shared, tokens, &self.limits, metrics, backups);
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .max_header_size(self.limits.max_header_bytes)
            .max_headers(self.limits.max_headers);
        let accept = tokio::spawn(accept_loop(
            listener,
            router,
            http,
            self.limits.max_connections,
            stopped,
        ));
        tracing::info!(%local_addr, "serving");
        Ok(Server {
            local_addr,
            system: self.system,
            stop,
            accept,
            open_sockets,
            shutdown_timeout: self.shutdown_timeout,
        })
    }
}

/// The actor types by name, declared to the system; an action named like a route is refused.
#[allow(clippy::type_complexity)]
fn declare(
    system: &System,
    actor_routes: Vec<Box<dyn ActorRoute>>,
    fetch_routes: Vec<Box<dyn FetchRoute>>,
    socket_routes: Vec<Box<dyn SocketRoute>>,
) -> Result<
    (
        BTreeMap<&'static str, Box<dyn ActorRoute>>,
        BTreeMap<&'static str, Box<dyn FetchRoute>>,
        BTreeMap<&'static str, Box<dyn SocketRoute>>,
    ),
    ServeError,
> {
    let mut actors = BTreeMap::new();
    for route in actor_routes {
        route.declare(system).map_err(ServeError::Declare)?;
        if let Some(&action) = route
            .actions()
            .iter()
            .find(|&&name| RESERVED_ACTIONS.contains(&name))
        {
            return Err(ServeError::ReservedAction {
                actor: route.name(),
                action,
            });
        }
        actors.insert(route.name(), route);
    }
    let mut fetchers = BTreeMap::new();
    for route in fetch_routes {
        route.declare(system).map_err(ServeError::Declare)?;
        fetchers.insert(route.name(), route);
    }
    let mut sockets = BTreeMap::new();
    for route in socket_routes {
        route.declare(system).map_err(ServeError::Declare)?;
        sockets.insert(route.name(), route);
    }
    Ok((actors, fetchers, sockets))
}

/// Binds `listen`; returns the listener and the address it got (its port, for port 0).
async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let error = |source| ServeError::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(error)?;
    let local_addr = listener.local_addr().map_err(error)?;
    Ok((listener, local_addr))
}

/// The routes and the middleware stack (see the module doc for its order).
fn router(
    shared: Arc<Shared>,
    tokens: Arc<Tokens>,
    limits: &Limits,
    metrics: Option<PrometheusHandle>,
    backups: Option<Arc<admin::Backups>>,
) -> Router {
    let mut router = Router::new();
    if let Some(backups) = backups {
        router = router.route(
            admin::BACKUP_PATH,
            post(move || admin::backup(Arc::clone(&backups))),
        );
    }
    if let Some(handle) = metrics {
        router = router.route(
            prometheus::PATH,
            get(move || std::future::ready(prometheus::render(&handle))),
        );
    }
    if shared.inspector.is_some() {
        router = router
            .route("/admin", get(inspector::to_page))
            .route(inspector::PAGE_PATH, get(inspector::page))
            .route("/admin/api/types", get(inspector::types))
            .route("/admin/api/actors/{type}", get(inspector::actor_keys))
            .route("/admin/api/actors/{type}/{key}", get(inspector::actor))
            .route("/admin/api/kv", get(inspector::stores))
            .route("/admin/api/kv/{store}", get(inspector::kv_keys))
            .route("/admin/api/kv/{store}/{key}", get(inspector::kv_value))
            .route("/admin/api/stats", get(inspector::stats))
            .route("/admin/api/live", get(inspector::live))
            .route("/admin/api/events", get(inspector::events))
            .route("/admin/api/{*rest}", any(inspector::no_api_route));
    }
    router
        .route("/actors", get(routes::listing))
        .route("/actors/{type}/{key}/{action}", post(routes::call))
        .route("/actors/{type}/{key}/fetch", any(fetch::fetch))
        .route("/actors/{type}/{key}/fetch/{*path}", any(fetch::fetch))
        .route("/actors/{type}/{key}/websocket", get(socket::upgrade))
        // Also the other paths under `/actors`, which get 404.
        .fallback(worker::serve)
        .with_state(shared)
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            tokens,
            super::auth::require,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::map_response(json_error_body))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(on_response)
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(prometheus::track))
}

/// The span of one request. `actor` is recorded by the actor routes; an action called by the
/// request runs in a child span.
fn request_span(request: &Request<Body>) -> Span {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(route) => route.as_str(),
        None if matches!(
            RouteGroup::of(request.uri().path()),
            RouteGroup::Worker | RouteGroup::Admin
        ) =>
        {
            "(worker)"
        }
        None => "(no route)",
    };
    tracing::info_span!(
        "http.request",
        method = %request.method(),
        route,
        actor = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    )
}

fn on_response(response: &Response<Body>, latency: Duration, span: &Span) {
    let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    span.record("status", response.status().as_u16());
    span.record("duration_ms", millis);
    tracing::debug!(
        status = response.status().as_u16(),
        duration_ms = millis,
        "answered"
    );
}

/// A panic in a handler (a worker's, say): 500 `panicked`, logged.
#[allow(clippy::needless_pass_by_value)] // the signature `CatchPanicLayer::custom` calls
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = crate::panic::message(&*panic);
    tracing::error!(panic = %message, "a request handler panicked");
    Failure::new(ErrorKind::Panicked, "the request handler panicked").into_response()
}

/// Gives the bare error responses of the layers (a 413 from the body limit, a 504 from the
/// timeout, a 405 from the router) the JSON body every error has, keeping their headers. The
/// routes' own errors are JSON already, and a worker's responses are left as they are.
async fn json_error_body(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || response.extensions().get::<FromWorker>().is_some()
    {
        return response;
    }
    let (kind, message) = kind_of_status(status);
    let (mut parts, _) = response.into_parts();
    let body = Failure::new(kind, message).body();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Accepts connections until told to stop (at most `max_connections` open at once), then
/// waits for the open ones to close.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    http: http1::Builder,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    // Every connection's task: dropped (with this loop, when `Server::shutdown` gives up
    // waiting), they are aborted.
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                tracing::warn!(%error, "accept failed; retrying shortly");
                tokio::select! {
                    () = stopped(&mut stop) => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        connections.spawn(serve_connection(
            stream,
            router.clone(),
            http.clone(),
            stop.clone(),
            permit,
        ));
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection until it closes; once the server stops, finishes the request in
/// flight and closes.
async fn serve_connection(
    stream: TcpStream,
    router: Router,
    http: http1::Builder,
    mut stop: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // Every request carries the connection's permit: a WebSocket keeps it after the upgrade,
    // so that open sockets count against the connection limit.
    let permit = ConnectionPermit {
        _held: Arc::new(permit),
    };
    let service = TowerToHyperService::new(router.map_request(
        move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(permit.clone());
            request
        },
    ));
    let connection = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let ended = tokio::select! {
        result = connection.as_mut() => Some(result),
        () = stopped(&mut stop) => None,
    };
    let result = if let Some(result) = ended {
        result
    } else {
        connection.as_mut().graceful_shutdown();
        connection.await
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A connection's place under [`Limits::max_connections`], shared by its requests.
#[derive(Clone)]
pub(crate) struct ConnectionPermit {
    _held: Arc<OwnedSemaphorePermit>,
}

/// Resolves once the server is told to stop (or the `Server` is dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Errors of one incoming connection (it went away before it was accepted), after which
/// the loop accepts the next at once.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

//! `http`: actor-core served over HTTP and WebSockets (`actor_core::http::Server`) against
//! plain axum handlers, in the same process, on loopback, rounds alternating.
//!
//! - **Durable actions over HTTP**: 1 and 64 keep-alive HTTP/1.1 clients (one hyper
//!   connection each), each in a closed loop calling `POST /actors/Tally/{key}/increment`
//!   with `{"by": 1}` on its own key (`c0` .. `c63`: one actor per client), answered once
//!   durable. Baselines: an axum handler doing the same update on SQLite (WAL,
//!   `synchronous=FULL`) through an r2d2 pool, on a blocking thread: `INSERT ... ON
//!   CONFLICT(key) DO UPDATE SET n = n + ?2 RETURNING n`, one statement in autocommit, so each
//!   call is one committed transaction before the reply. Two pools (see [`POOLS`]): r2d2's
//!   default of 10 connections, and 1.
//! - **WebSocket round trips**: 1 and 64 sockets (one actor each), each sending a text
//!   message and waiting for the reply before the next. The actor's `on_message` adds one to
//!   its count and answers it, either in memory only (the seed's rule: saved when the socket
//!   closes) or after `ctx.save_state` (durable before the reply goes out). Baseline: an axum
//!   WebSocket handler echoing each message (no actor, no storage).
//!
//! Rates are medians of the rounds; latencies are percentiles of every call of every round.
//! Writes the chart (`docs/benchmarks-http.svg`, or under `bench/target/` for `--quick`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use actor_core::http::{Close, Message, Parts, Server, Socket, WebSocket};
use actor_core::{Actor, Ctx, actions};
use axum::extract::ws::{Message as AxumMessage, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use r2d2_sqlite::SqliteConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::chart::{Labels, Legend, Series, line_chart_with};
use crate::report::Row;
use crate::stats::{median, micros, percentile};
use crate::throughput::open_system;
use crate::{Error, Result, Settings};

/// Connections in the SQLite baselines' pools: r2d2's default size, and one (writers then
/// queue in the pool instead of in SQLite's busy handler).
const POOLS: [u32; 2] = [10, 1];

/// The client counts measured (HTTP clients, WebSocket sockets).
const CLIENTS: [usize; 2] = [1, 64];

/// The body of every action call.
const BODY: &[u8] = br#"{"by":1}"#;

/// The actor under test: a counter with one action and WebSocket hooks.
#[derive(Actor, Serialize, Deserialize, Default)]
pub struct Tally {
    count: u64,
}

#[actions]
impl Tally {
    /// Adds `by` to the count and answers the new count (saved before the reply).
    pub async fn increment(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

impl WebSocket for Tally {
    /// Whether this socket saves each message (`?durable`) or leaves it to the close.
    type Connection = bool;

    async fn on_open(
        &mut self,
        request: &Parts,
        _socket: &mut Socket,
        _ctx: &mut Ctx<Self>,
    ) -> std::result::Result<bool, Close> {
        Ok(request.uri.query() == Some("durable"))
    }

    async fn on_message(
        &mut self,
        durable: &mut bool,
        _message: Message,
        socket: &mut Socket,
        ctx: &mut Ctx<Self>,
    ) {
        self.count += 1;
        if *durable && let Err(error) = ctx.save_state(self).await {
            socket.close(Close::new(1011, format!("not saved: {error}")));
            return;
        }
        let _ = socket.send(self.count.to_string());
    }
}

/// What is measured: a server and what its clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `POST /actors/Tally/{key}/increment` on actor-core's server.
    ActorHttp,
    /// The same call on the axum + SQLite server, with a pool of this many connections.
    SqliteHttp(u32),
    /// Round trips on the actor's socket, state changed in memory only.
    WsMemory,
    /// Round trips on the actor's socket, `ctx.save_state` each message.
    WsDurable,
    /// Round trips on the axum echo socket.
    WsEcho,
}

impl Kind {
    /// The path of this kind's action call for `key`.
    fn path(self, key: &str) -> String {
        match self {
            Self::SqliteHttp(pool) => format!("/sqlite/{pool}/{key}/increment"),
            _ => format!("/actors/Tally/{key}/increment"),
        }
    }
}

/// One client in a closed loop: a call, then the next.
trait Caller: Send + Sized + 'static {
    /// One call, answered.
    fn call(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// Ends the connection (not timed).
    fn finish(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// An HTTP/1.1 client on one kept-alive connection, calling one path.
struct HttpCaller {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    path: String,
    /// The last count answered: each answer must be larger (the key is this client's).
    last: u64,
}

impl HttpCaller {
    async fn connect(addr: SocketAddr, path: String) -> Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
            path,
            last: 0,
        })
    }
}

impl Caller for HttpCaller {
    async fn call(&mut self) -> Result<()> {
        self.sender.ready().await?;
        let request = hyper::Request::post(self.path.as_str())
            .header(hyper::header::HOST, self.host.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(BODY)))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(
                format!("{}: {status} {}", self.path, String::from_utf8_lossy(&body)).into(),
            );
        }
        let count: u64 = serde_json::from_slice(&body)?;
        if count <= self.last {
            return Err(format!("{}: answered {count} after {}", self.path, self.last).into());
        }
        self.last = count;
        Ok(())
    }
}

/// A WebSocket client.
struct WsCaller(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl WsCaller {
    async fn connect(url: String) -> Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        Ok(Self(socket))
    }
}

impl Caller for WsCaller {
    async fn call(&mut self) -> Result<()> {
        self.0.send(Frame::text("1")).await?;
        loop {
            match self.0.next().await {
                Some(Ok(Frame::Text(_) | Frame::Binary(_))) => return Ok(()),
                Some(Ok(Frame::Close(close))) => return Err(format!("closed: {close:?}").into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err("the socket ended".into()),
            }
        }
    }

    async fn finish(mut self) {
        let _ = self.0.close(None).await;
        while let Some(Ok(_)) = self.0.next().await {}
    }
}

/// Runs `callers` in closed loops for `duration`: calls per second (those answered before
/// the deadline) and each such call's latency in µs.
async fn closed_loop<C: Caller>(callers: Vec<C>, duration: Duration) -> Result<(f64, Vec<f64>)> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = callers
        .into_iter()
        .map(|mut caller| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    caller.call().await?;
                    let answered = Instant::now();
                    if answered <= deadline {
                        latencies.push(micros(answered - sent));
                    }
                }
                Ok::<_, Error>((caller, latencies))
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut callers = Vec::new();
    for task in tasks {
        let (caller, latencies) = task.await??;
        all.extend(latencies);
        callers.push(caller);
    }
    for caller in callers {
        caller.finish().await;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = all.len() as f64 / duration.as_secs_f64();
    Ok((rate, all))
}

/// The two servers, listening.
struct Servers {
    actor: SocketAddr,
    axum: SocketAddr,
}

impl Servers {
    /// Connects `clients` clients of `kind` and runs them for `duration`.
    async fn measure(
        &self,
        kind: Kind,
        clients: usize,
        duration: Duration,
    ) -> Result<(f64, Vec<f64>)> {
        let key = |c: usize| format!("c{c}");
        let run = async {
            match kind {
                Kind::ActorHttp | Kind::SqliteHttp(_) => {
                    let mut callers = Vec::with_capacity(clients);
                    for c in 0..clients {
                        let addr = if kind == Kind::ActorHttp {
                            self.actor
                        } else {
                            self.axum
                        };
                        callers.push(HttpCaller::connect(addr, kind.path(&key(c))).await?);
                    }
                    closed_loop(callers, duration).await
                }
                Kind::WsMemory | Kind::WsDurable | Kind::WsEcho => {
                    let mut callers = Vec::with_capacity(clients);
                    for c in 0..clients {
                        let url = match kind {
                            Kind::WsMemory => {
                                format!("ws://{}/actors/Tally/{}/websocket", self.actor, key(c))
                            }
                            Kind::WsDurable => format!(
                                "ws://{}/actors/Tally/{}/websocket?durable",
                                self.actor,
                                key(c)
                            ),
                            _ => format!("ws://{}/echo", self.axum),
                        };
                        callers.push(WsCaller::connect(url).await?);
                    }
                    closed_loop(callers, duration).await
                }
            }
        };
        tokio::time::timeout(duration + Duration::from_secs(60), run)
            .await
            .map_err(|_| format!("{kind:?} with {clients} clients did not finish"))?
    }
}

/// The SQLite baseline's pool.
type Pool = r2d2::Pool<SqliteConnectionManager>;

/// The arguments of an increment.
#[derive(Deserialize)]
struct By {
    by: u64,
}

/// `POST /sqlite/{pool}/{key}/increment` (`{pool}` literal, one route per pool): the update,
/// committed, then the new count.
async fn sqlite_increment(
    State(pool): State<Pool>,
    UrlPath(key): UrlPath<String>,
    axum::Json(By { by }): axum::Json<By>,
) -> std::result::Result<axum::Json<u64>, (StatusCode, String)> {
    let fail = |e: &dyn std::fmt::Display| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let count = tokio::task::spawn_blocking(move || -> Result<i64> {
        let conn = pool.get()?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO counters (key, n) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET n = n + ?2 RETURNING n",
        )?;
        Ok(stmt.query_row((key, i64::try_from(by)?), |row| row.get(0))?)
    })
    .await
    .map_err(|e| fail(&e))?
    .map_err(|e| fail(&e))?;
    Ok(axum::Json(u64::try_from(count).map_err(|e| fail(&e))?))
}

/// `GET /echo`: a WebSocket answering each message with itself.
async fn echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            match message {
                AxumMessage::Text(_) | AxumMessage::Binary(_) => {
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
                AxumMessage::Close(_) => break,
                AxumMessage::Ping(_) | AxumMessage::Pong(_) => {}
            }
        }
    })
}

/// Opens the SQLite database at `path`: WAL, `synchronous=FULL` on every pooled connection.
fn sqlite_pool(path: &Path, size: u32) -> Result<Pool> {
    let manager = SqliteConnectionManager::file(path).with_init(|conn| {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(Duration::from_secs(30))
    });
    let pool = r2d2::Pool::builder().max_size(size).build(manager)?;
    pool.get()?.execute_batch(
        "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    )?;
    Ok(pool)
}

/// Per kind and client count: each round's rate and every call's latency.
type Results = HashMap<(Kind, usize), (Vec<f64>, Vec<f64>)>;

/// `http`: durable actions over HTTP against axum + SQLite, WebSocket round trips against an
/// axum echo. Writes the chart.
pub fn http(rt: &Runtime, s: &Settings) -> Result<Vec<Row>> {
    let redb = s.file("http");
    let sqlite = s.file("http").with_extension("sqlite");
    let _ = std::fs::remove_file(&sqlite);
    let results = rt.block_on(async {
        let system = open_system(&redb, true).await?;
        // No recorder, as the baseline records nothing (and `metrics_overhead` installs
        // the process's own recorder later in a full run).
        let server = Server::builder(system)
            .actor::<Tally>()
            .websocket::<Tally>()
            .listen(([127, 0, 0, 1], 0))
            .without_metrics()
            .start()
            .await?;
        let mut app = axum::Router::new().route("/echo", get(echo));
        for size in POOLS {
            app = app.merge(
                axum::Router::new()
                    .route(
                        &format!("/sqlite/{size}/{{key}}/increment"),
                        post(sqlite_increment),
                    )
                    .with_state(sqlite_pool(&sqlite, size)?),
            );
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let axum_addr = listener.local_addr()?;
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let axum_task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let servers = Servers {
            actor: server.local_addr(),
            axum: axum_addr,
        };
        let outcome = rounds(&servers, s).await;
        server.shutdown().await;
        let _ = stop.send(());
        axum_task.await??;
        outcome
    })?;
    write_chart(&results, s)?;
    Ok(rows(&results))
}

/// Every kind at every client count, one warm-up pass (creating the actors and rows) and
/// then `s.rounds` rounds, the order of the kinds turning each round.
async fn rounds(servers: &Servers, s: &Settings) -> Result<Results> {
    let http = [
        Kind::ActorHttp,
        Kind::SqliteHttp(POOLS[0]),
        Kind::SqliteHttp(POOLS[1]),
    ];
    let sockets = [Kind::WsMemory, Kind::WsDurable, Kind::WsEcho];
    for clients in CLIENTS {
        for kind in http.into_iter().chain(sockets) {
            servers
                .measure(kind, clients, Duration::from_millis(200))
                .await?;
        }
    }
    let mut results = Results::new();
    for round in 0..s.rounds {
        for clients in CLIENTS {
            let mut http = http;
            http.rotate_left(round % 3);
            let mut sockets = sockets;
            sockets.rotate_left(round % 3);
            for kind in http.into_iter().chain(sockets) {
                let (rate, latencies) = servers.measure(kind, clients, s.http).await?;
                let entry = results.entry((kind, clients)).or_default();
                entry.0.push(rate);
                entry.1.extend(latencies);
            }
        }
        eprintln!("  round {} of {} done", round + 1, s.rounds);
    }
    Ok(results)
}

/// The table rows: rates (medians of the rounds) and p50 / p99 latencies, each against its
/// baseline.
fn rows(results: &Results) -> Vec<Row> {
    let get =
        |kind: Kind, clients: usize| results.get(&(kind, clients)).cloned().unwrap_or_default();
    let echo_name = "axum WS echo, no actor/storage";
    let mut rows = Vec::new();
    let mut add = |scenario: &'static str,
                   metric: String,
                   unit: &'static str,
                   ours: &(Vec<f64>, Vec<f64>),
                   base: &(Vec<f64>, Vec<f64>),
                   name: &str| {
        // Each round measures both sides back to back, so a round's ratio is the least
        // disturbed by a neighbour's load.
        let ratios: Vec<f64> = ours.0.iter().zip(&base.0).map(|(o, b)| o / b).collect();
        let (low, high) = (percentile(&ratios, 0.0), percentile(&ratios, 100.0));
        rows.push(
            Row::new(
                scenario,
                metric.clone(),
                unit,
                median(&ours.0),
                name,
                Some(median(&base.0)),
            )
            .rounds(&ours.0, &base.0)
            .reference(format!(
                "per-round ratios {low:.2}x to {high:.2}x, median {:.2}x",
                median(&ratios)
            )),
        );
        for p in [50.0, 99.0] {
            rows.push(Row::new(
                scenario,
                format!("{metric}, p{p:.0}"),
                "us",
                percentile(&ours.1, p),
                format!("{name}, p{p:.0}"),
                Some(percentile(&base.1, p)),
            ));
        }
    };
    for clients in CLIENTS {
        let who = if clients == 1 { "client" } else { "clients" };
        for pool in POOLS {
            add(
                "http_actions",
                format!("durable action, {clients} {who}"),
                "calls/s",
                &get(Kind::ActorHttp, clients),
                &get(Kind::SqliteHttp(pool), clients),
                &format!("axum + SQLite WAL FULL, pool {pool}"),
            );
        }
    }
    for clients in CLIENTS {
        let who = if clients == 1 { "socket" } else { "sockets" };
        let echo = get(Kind::WsEcho, clients);
        for (kind, how) in [
            (Kind::WsMemory, "in memory"),
            (Kind::WsDurable, "save_state"),
        ] {
            add(
                "websocket",
                format!("round trip, {clients} {who}, {how}"),
                "trips/s",
                &get(kind, clients),
                &echo,
                echo_name,
            );
        }
    }
    rows
}

/// The chart: calls (or round trips) per second against clients, one line per kind.
fn write_chart(results: &Results, s: &Settings) -> Result<()> {
    let line = |name: &str, color: &'static str, kind: Kind| Series {
        name: name.to_owned(),
        color,
        #[allow(clippy::cast_precision_loss)]
        points: CLIENTS
            .iter()
            .filter_map(|&c| {
                let rate = median(&results.get(&(kind, c))?.0);
                rate.is_finite().then_some((c as f64, rate))
            })
            .collect(),
    };
    let series = [
        line("actor: durable HTTP action", "#1f77b4", Kind::ActorHttp),
        line("axum + SQLite, pool 10", "#d62728", Kind::SqliteHttp(10)),
        line("axum + SQLite, pool 1", "#ff7f0e", Kind::SqliteHttp(1)),
        line("actor WebSocket, in memory", "#2ca02c", Kind::WsMemory),
        line("actor WebSocket, save_state", "#9467bd", Kind::WsDurable),
        line("axum WebSocket echo", "#7f7f7f", Kind::WsEcho),
    ];
    let subtitle = format!(
        "median of {} rounds of {:.1} s, in-process on loopback, shared 2-core VM",
        s.rounds,
        s.http.as_secs_f64()
    );
    let svg = line_chart_with(
        Labels {
            title: "Serving over HTTP and WebSockets: calls per second",
            subtitle: &subtitle,
            x: "concurrent clients (HTTP connections or WebSockets)",
            y: "calls or round trips per second",
        },
        &series,
        Legend::Right,
    );
    let path = &s.http_chart;
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(path, svg)?;
    let shown = path.canonicalize().unwrap_or_else(|_| path.clone());
    eprintln!("  chart written to {}", shown.display());
    Ok(())
}

//! Fetch handlers and WebSockets on actors, through real clients on loopback (reqwest,
//! tokio-tungstenite): the seed's save rules (a fetch is saved before it answers; a socket's
//! changes when it closes or at `save_state`), rollback, events to sockets after commit only,
//! the limits, panics, and graceful shutdown. The rules across a SIGKILL are checked against
//! `examples/chat_server.rs` as a child process at the end.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/http.rs"]
mod http;
#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/storage.rs"]
mod storage;
#[path = "support/wait.rs"]
mod wait;

use std::process::Command;
use std::time::Duration;

use actor_core::http::{
    Bytes, Close, Fetch, IntoResponse, Json, Limits, Message, Parts, Rejection, Request, Response,
    ServeError, Server, Socket, StatusCode, WebSocket,
};
use actor_core::{Actor, Ctx, System, actions};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use http::{ServerProcess, client, get, post};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An actor with every door: actions, a fetch handler, WebSocket hooks.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = String, sleep_after_ms = 100)]
struct Pad {
    /// Written by `save` messages (with `save_state`) and by actions.
    saved: Vec<String>,
    /// Written by `note` messages, saved when their socket closes.
    unsaved: Vec<String>,
    views: u64,
}

#[actions]
impl Pad {
    pub async fn read(&self) -> (Vec<String>, Vec<String>, u64) {
        (self.saved.clone(), self.unsaved.clone(), self.views)
    }

    /// Emits `text` in a turn that commits.
    pub async fn shout(&mut self, ctx: &mut Ctx<Self>, text: String) -> usize {
        self.saved.push(text.clone());
        ctx.emit(text);
        self.saved.len()
    }

    /// Emits `text` without changing the state.
    pub async fn broadcast(&mut self, ctx: &mut Ctx<Self>, text: String) {
        ctx.emit(text);
    }

    /// Emits `text` in a turn that fails: the event never happened.
    pub async fn shout_and_fail(
        &mut self,
        ctx: &mut Ctx<Self>,
        text: String,
    ) -> Result<(), String> {
        self.saved.push(text.clone());
        ctx.emit(text);
        Err("refused".to_owned())
    }
}

impl Fetch for Pad {
    async fn on_fetch(
        &mut self,
        request: Request<Bytes>,
        _ctx: &mut Ctx<Self>,
    ) -> Result<Response, Rejection> {
        match request.uri().path() {
            "/view" => {
                self.views += 1;
                Ok(Json(json!({ "views": self.views })).into_response())
            }
            "/reject" => {
                self.views += 100;
                Err((StatusCode::CONFLICT, "rejected").into())
            }
            "/panic" => {
                self.views += 1000;
                panic!("a fetch handler panicked");
            }
            _ => Ok(Json(json!({
                "method": request.method().as_str(),
                "uri": request.uri().to_string(),
                "body": String::from_utf8_lossy(request.body()),
            }))
            .into_response()),
        }
    }
}

impl WebSocket for Pad {
    /// Messages this socket sent.
    type Connection = u32;

    async fn on_open(
        &mut self,
        request: &Parts,
        socket: &mut Socket,
        _ctx: &mut Ctx<Self>,
    ) -> Result<u32, Close> {
        match request.uri.query() {
            Some("refuse") => Err(Close::policy("refused by on_open")),
            Some("subscribe") => {
                socket.subscribe();
                socket.send("welcome").unwrap();
                Ok(0)
            }
            _ => Ok(0),
        }
    }

    async fn on_message(
        &mut self,
        sent: &mut u32,
        message: Message,
        socket: &mut Socket,
        ctx: &mut Ctx<Self>,
    ) {
        *sent += 1;
        let text = message.as_text().unwrap_or("(binary)").to_owned();
        let (command, arg) = text.split_once(' ').unwrap_or((&text, ""));
        let reply = match command {
            "note" => {
                self.unsaved.push(arg.to_owned());
                format!("noted {}", self.unsaved.len())
            }
            "save" => {
                self.saved.push(arg.to_owned());
                ctx.save_state(self).await.expect("save");
                "saved".to_owned()
            }
            "emit" => {
                ctx.emit(arg.to_owned());
                "emitted".to_owned()
            }
            "panic" => {
                self.unsaved.push("from the panicking hook".to_owned());
                panic!("a message hook panicked");
            }
            "close" => {
                socket.close(Close::normal());
                "closing".to_owned()
            }
            "count" => format!("sent {sent}"),
            _ => format!("echo {text}"),
        };
        socket.send(reply).unwrap();
    }
}

async fn serve(system: System, limits: Limits) -> (Server, String) {
    let server = Server::builder(system)
        .actor::<Pad>()
        .fetch::<Pad>()
        .websocket::<Pad>()
        .listen(([127, 0, 0, 1], 0))
        .limits(limits)
        .shutdown_timeout(Duration::from_secs(5))
        .start()
        .await
        .expect("start the server");
    let base = format!("http://{}", server.local_addr());
    (server, base)
}

/// Opens a socket on `Pad/{key}` with `query`.
async fn connect(base: &str, key: &str, query: &str) -> Client {
    let url = format!(
        "{}/actors/Pad/{key}/websocket{query}",
        base.replace("http://", "ws://")
    );
    let (socket, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("open the socket");
    assert_eq!(response.status(), 101);
    socket
}

/// The next text message, within 10 s.
async fn next_text(socket: &mut Client) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        match frame {
            Frame::Text(text) => return text.as_str().to_owned(),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// Sends `text` and returns the answer.
async fn ask(socket: &mut Client, text: &str) -> String {
    socket.send(Frame::text(text)).await.expect("send");
    next_text(socket).await
}

/// Reads until the server's close frame; returns its code and reason.
async fn closed(socket: &mut Client) -> (CloseCode, String) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the close within 10 s");
        match frame {
            Some(Ok(Frame::Close(Some(close)))) => {
                return (close.code, close.reason.as_str().to_owned());
            }
            Some(Ok(Frame::Close(None))) | None => return (CloseCode::Status, String::new()),
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("the socket failed before its close frame: {error}"),
        }
    }
}

/// `Pad/{key}`'s state, through its action.
async fn read(c: &reqwest::Client, base: &str, key: &str) -> serde_json::Value {
    let a = post(c, base, &format!("/actors/Pad/{key}/read"), "").await;
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

#[tokio::test]
async fn a_fetch_handler_sees_its_path_and_is_saved_before_it_answers() {
    let path = storage::temp_path("fetch-saved");
    let (server, base) = serve(System::open(&path).await.unwrap(), Limits::default()).await;
    let c = client();

    let a = get(&c, &base, "/actors/Pad/p/fetch/view").await;
    assert_eq!((a.status, &a.body), (200, &json!({ "views": 1 })));
    let a = c
        .put(format!("{base}/actors/Pad/p/fetch/a/b%20c?x=1&y=2"))
        .body("payload")
        .send()
        .await
        .unwrap();
    let a = http::answer(a).await;
    assert_eq!(
        a.body,
        json!({ "method": "PUT", "uri": "/a/b%20c?x=1&y=2", "body": "payload" })
    );
    // Without anything after `/fetch`, the handler sees `/`.
    let a = post(&c, &base, "/actors/Pad/p/fetch", "").await;
    assert_eq!(a.body["uri"], "/");

    // A rejection is sent as it is, and its changes are rolled back.
    let a = get(&c, &base, "/actors/Pad/p/fetch/reject").await;
    assert_eq!((a.status, a.text.as_str()), (409, "rejected"));
    // A panic answers 500 (`panicked`) and is rolled back too.
    let a = get(&c, &base, "/actors/Pad/p/fetch/panic").await;
    assert_eq!((a.status, a.kind()), (500, "panicked"), "{a:?}");
    assert!(
        !a.text.contains("a fetch handler panicked"),
        "no internals: {a:?}"
    );
    assert_eq!(read(&c, &base, "p").await[2], 1);

    // Types that do not serve fetch, and bad keys.
    let a = get(&c, &base, "/actors/Nope/p/fetch/view").await;
    assert_eq!((a.status, a.kind()), (404, "unknown_actor_type"));
    let long = "k".repeat(2000);
    let a = get(&c, &base, &format!("/actors/Pad/{long}/fetch/view")).await;
    assert_eq!((a.status, a.kind()), (400, "bad_key"));

    // The answered view is on disk: the server is gone, the file reopened.
    server.shutdown().await;
    let system = System::open(&path).await.unwrap();
    let pad = system.get::<Pad>("p").await.unwrap();
    assert_eq!(pad.read().await.unwrap().2, 1);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_fetch_body_over_the_limit_answers_413_and_runs_nothing() {
    let (server, base) = serve(
        System::temporary().await.unwrap(),
        Limits::default().max_body_bytes(1024),
    )
    .await;
    let c = client();
    let a = c
        .post(format!("{base}/actors/Pad/p/fetch/view"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    let a = http::answer(a).await;
    assert_eq!((a.status, a.kind()), (413, "body_too_large"), "{a:?}");
    assert_eq!(read(&c, &base, "p").await[2], 0);
    server.shutdown().await;
}

/// An actor with an action named like a route: it cannot be served.
#[derive(Actor, Serialize, Deserialize, Default)]
struct Clash;

#[actions]
impl Clash {
    pub async fn fetch(&self) -> u8 {
        0
    }
}

#[tokio::test]
async fn an_action_named_like_a_route_is_refused_at_start() {
    let error = Server::builder(System::temporary().await.unwrap())
        .actor::<Clash>()
        .listen(([127, 0, 0, 1], 0))
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServeError::ReservedAction {
                actor: "Clash",
                action: "fetch"
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_listing_says_which_types_serve_fetch_and_websockets() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let a = get(&client(), &base, "/actors").await;
    let pad = &a.body["actors"][0];
    assert_eq!(pad["type"], "Pad");
    assert_eq!(
        (&pad["fetch"], &pad["websocket"]),
        (&json!(true), &json!(true))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn socket_hooks_run_in_the_actor_with_their_connection_state() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let c = client();
    let mut one = connect(&base, "w", "").await;
    let mut two = connect(&base, "w", "").await;
    assert_eq!(ask(&mut one, "note a").await, "noted 1");
    assert_eq!(ask(&mut two, "note b").await, "noted 2");
    assert_eq!(ask(&mut one, "count").await, "sent 2");
    assert_eq!(ask(&mut two, "count").await, "sent 2");
    // Actions see the unsaved changes: they are in the state, only not on disk yet.
    assert_eq!(read(&c, &base, "w").await[1], json!(["a", "b"]));
    // Binary messages reach the hook too.
    one.send(Frame::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(next_text(&mut one).await, "echo (binary)");
    // A hook closes its socket.
    assert_eq!(ask(&mut one, "close").await, "closing");
    assert_eq!(closed(&mut one).await.0, CloseCode::Normal);
    assert_eq!(ask(&mut two, "count").await, "sent 3");
    server.shutdown().await;
}

#[tokio::test]
async fn on_open_may_refuse_with_a_close_frame() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let mut socket = connect(&base, "r", "?refuse").await;
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::Policy, "refused by on_open")
    );

    // Not an upgrade, or not a served type: plain HTTP errors.
    let c = client();
    let a = get(&c, &base, "/actors/Pad/r/websocket").await;
    assert_eq!((a.status, a.kind()), (400, "not_web_socket"), "{a:?}");
    let url = format!(
        "{}/actors/Nope/r/websocket",
        base.replace("http://", "ws://")
    );
    let refused = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(refused.to_string().contains("404"), "{refused}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_hook_closes_its_socket_and_goes_back_to_the_last_save() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let c = client();
    let mut socket = connect(&base, "p", "").await;
    assert_eq!(ask(&mut socket, "save kept").await, "saved");
    assert_eq!(ask(&mut socket, "note dropped").await, "noted 1");
    socket.send(Frame::text("panic")).await.unwrap();
    let (code, _) = closed(&mut socket).await;
    assert_eq!(code, CloseCode::Error);
    // The unsaved note went with the panic; the saved line stayed; the actor serves on.
    assert_eq!(read(&c, &base, "p").await, json!([["kept"], [], 0]));
    let mut again = connect(&base, "p", "").await;
    assert_eq!(ask(&mut again, "note fresh").await, "noted 1");
    server.shutdown().await;
}

#[tokio::test]
async fn events_reach_subscribed_sockets_only_after_their_turn_commits() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let c = client();
    let mut listener = connect(&base, "e", "?subscribe").await;
    assert_eq!(next_text(&mut listener).await, "welcome");
    let mut talker = connect(&base, "e", "").await;

    // A failed action's event never happened.
    let a = post(
        &c,
        &base,
        "/actors/Pad/e/shout_and_fail",
        r#"{"text":"never"}"#,
    )
    .await;
    assert_eq!(a.status, 422);
    // An event emitted by a message hook waits for the save: it is not sent yet...
    assert_eq!(ask(&mut talker, "emit later").await, "emitted");
    // ...and goes out with the next save (here, the action's turn, which saves first).
    let a = post(&c, &base, "/actors/Pad/e/shout", r#"{"text":"now"}"#).await;
    assert_eq!(a.status, 200);
    assert_eq!(next_text(&mut listener).await, r#"{"event":"later"}"#);
    assert_eq!(next_text(&mut listener).await, r#"{"event":"now"}"#);
    // The talker did not subscribe.
    assert_eq!(ask(&mut talker, "count").await, "sent 2");
    server.shutdown().await;
}

#[tokio::test]
async fn a_socket_that_does_not_read_never_slows_the_actor() {
    let (server, base) = serve(System::temporary().await.unwrap(), Limits::default()).await;
    let c = client();
    let mut sleeper = connect(&base, "s", "?subscribe").await;
    assert_eq!(next_text(&mut sleeper).await, "welcome");
    // 600 events of 16 KiB while the socket reads nothing: more than its event buffer (256)
    // and than the connection's buffers hold.
    let text = "x".repeat(16 << 10);
    let body = serde_json::to_string(&json!({ "text": text })).unwrap();
    let started = std::time::Instant::now();
    for i in 0..600 {
        let a = post(&c, &base, "/actors/Pad/s/broadcast", &body).await;
        assert_eq!(a.status, 200, "shout {i}");
    }
    println!("600 broadcasts in {:?}", started.elapsed());
    // Now it reads: some events, then a lag notice, then the newest.
    let mut lagged = false;
    for _ in 0..600 {
        let message = next_text(&mut sleeper).await;
        if message.starts_with(r#"{"lagged":"#) {
            lagged = true;
            break;
        }
    }
    assert!(
        lagged,
        "a socket that fell behind is told how many events it missed"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_limit_closes_its_socket_with_1009() {
    let (server, base) = serve(
        System::temporary().await.unwrap(),
        Limits::default().max_websocket_message_bytes(1024),
    )
    .await;
    let mut socket = connect(&base, "big", "").await;
    assert_eq!(ask(&mut socket, "note small").await, "noted 1");
    let _ = socket.send(Frame::text("x".repeat(4096))).await;
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    // The server serves on.
    let mut again = connect(&base, "big", "").await;
    assert_eq!(ask(&mut again, "note next").await, "noted 2");
    server.shutdown().await;
}

#[tokio::test]
async fn open_sockets_count_against_the_connection_limit() {
    let (server, base) = serve(
        System::temporary().await.unwrap(),
        Limits::default().max_connections(1),
    )
    .await;
    let mut socket = connect(&base, "c", "").await;
    assert_eq!(ask(&mut socket, "note a").await, "noted 1");
    // The only connection is the socket: a request waits.
    let quick = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let waited = quick.post(format!("{base}/actors/Pad/c/read")).send().await;
    assert!(waited.is_err(), "served beyond the connection limit");
    socket.close(None).await.unwrap();
    let a = post(&client(), &base, "/actors/Pad/c/read", "").await;
    assert_eq!(a.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn an_actor_with_an_open_socket_does_not_sleep() {
    let system = System::temporary().await.unwrap();
    let (server, base) = serve(system.clone(), Limits::default()).await;
    let mut socket = connect(&base, "awake", "").await;
    assert_eq!(ask(&mut socket, "note a").await, "noted 1");
    let pad = system.get::<Pad>("awake").await.unwrap();
    // Idle for six sleep periods (100 ms each): still awake, because the socket is open.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!pad.is_asleep(), "slept with a socket open");
    socket.close(None).await.unwrap();
    wait::eventually(|| async { pad.is_asleep() }).await;
    // Its note was saved when the socket closed (it slept with it, and wakes with it).
    assert_eq!(pad.read().await.unwrap().1, vec!["a".to_owned()]);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_after_saving_them() {
    let path = storage::temp_path("socket-shutdown");
    let (server, base) = serve(System::open(&path).await.unwrap(), Limits::default()).await;
    let mut socket = connect(&base, "d", "").await;
    assert_eq!(ask(&mut socket, "note kept").await, "noted 1");
    let shutdown = tokio::spawn(server.shutdown());
    let (code, _) = closed(&mut socket).await;
    assert_eq!(code, CloseCode::Away);
    shutdown.await.unwrap();
    let system = System::open(&path).await.unwrap();
    let pad = system.get::<Pad>("d").await.unwrap();
    assert_eq!(pad.read().await.unwrap().1, vec!["kept".to_owned()]);
    system.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_token_guards_fetch_and_websocket_routes_like_actions() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let server = Server::builder(System::temporary().await.unwrap())
        .actor::<Pad>()
        .fetch::<Pad>()
        .websocket::<Pad>()
        .listen(([127, 0, 0, 1], 0))
        .auth(actor_core::http::Auth::bearer("a-token-for-the-pads"))
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let c = client();
    let a = get(&c, &base, "/actors/Pad/t/fetch/view").await;
    assert_eq!((a.status, a.kind()), (401, "unauthorized"), "{a:?}");
    let a = c
        .get(format!("{base}/actors/Pad/t/fetch/view"))
        .bearer_auth("a-token-for-the-pads")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);

    let url = format!(
        "{}/actors/Pad/t/websocket",
        base.replace("http://", "ws://")
    );
    let refused = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        "Bearer a-token-for-the-pads".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(ask(&mut socket, "note in").await, "noted 1");
    server.shutdown().await;
}

// Across a SIGKILL, with `examples/chat_server.rs`.

fn chat_server(file: &str) -> ServerProcess {
    let mut command = Command::new(bin::example("chat_server"));
    command.args(["--listen", "127.0.0.1:0", file]);
    ServerProcess::start(command)
}

async fn join(base: &str, room: &str, name: &str) -> Client {
    let url = format!(
        "{}/actors/Room/{room}/websocket?name={name}",
        base.replace("http://", "ws://")
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("join the room")
        .0
}

/// The room's messages (as `from: text`) and drafts, from a server.
async fn room(base: &str, room: &str) -> (Vec<String>, serde_json::Value) {
    let c = client();
    let history = post(&c, base, &format!("/actors/Room/{room}/history"), "").await;
    assert_eq!(history.status, 200, "{history:?}");
    let messages = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["from"].as_str().unwrap(),
                p["text"].as_str().unwrap()
            )
        })
        .collect();
    let drafts = get(&c, base, &format!("/actors/Room/{room}/fetch/drafts")).await;
    assert_eq!(drafts.status, 200, "{drafts:?}");
    (messages, drafts.body)
}

#[tokio::test]
async fn across_sigkill_saved_changes_survive_and_unsaved_ones_are_lost() {
    let dir = scratch::TempDir::new("chat-kill");
    let file = dir.path().join("chat.redb");
    let file = file.to_str().unwrap();

    let server = chat_server(file);
    // A socket's draft, closed: saved when it closed.
    let mut bob = join(&server.base, "lobby", "bob").await;
    assert_eq!(ask(&mut bob, r#"{"draft":"closed"}"#).await, r#"{"ok":0}"#);
    bob.close(None).await.unwrap();
    while bob.next().await.is_some() {}
    // Saved at once by `save_state`, while the socket stays open; then an unsaved draft.
    // (The state is saved as a whole: had bob closed after ada's draft, it would be saved too.)
    let mut ada = join(&server.base, "lobby", "ada").await;
    assert_eq!(ask(&mut ada, r#"{"say":"kept"}"#).await, r#"{"ok":1}"#);
    // The room's event, to every socket in it (ada's too), once durable.
    assert_eq!(
        next_text(&mut ada).await,
        r#"{"event":{"from":"ada","text":"kept"}}"#
    );
    assert_eq!(ask(&mut ada, r#"{"draft":"lost"}"#).await, r#"{"ok":1}"#);
    drop(server); // SIGKILL, with ada's socket open
    drop(ada);

    let server = chat_server(file);
    let (messages, drafts) = room(&server.base, "lobby").await;
    assert_eq!(messages, vec!["ada: kept"]);
    assert_eq!(
        drafts,
        json!({ "bob": "closed" }),
        "ada's unsaved draft is lost, bob's kept"
    );
    // A fetch is saved before it answers.
    let c = client();
    let cleared = c
        .delete(format!("{}/actors/Room/lobby/fetch/drafts", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    drop(server);
    let server = chat_server(file);
    assert_eq!(room(&server.base, "lobby").await.1, json!({}));
    let (status, _) = server.terminate();
    assert!(status.success());
}

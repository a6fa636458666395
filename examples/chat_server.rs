//! A chat room served over HTTP and WebSocket: each room is an actor. It shows the three
//! doors into an actor and their save rules.
//!
//! - Actions as JSON: `POST /actors/Room/{room}/history` answers the messages.
//! - A fetch handler (Rivet's `onFetch`): `GET /actors/Room/{room}/fetch/drafts` answers the
//!   drafts; `DELETE /actors/Room/{room}/fetch/drafts` clears them, saved before it answers.
//! - WebSockets (Rivet's `onWebSocket`): `GET /actors/Room/{room}/websocket?name=ada` joins
//!   the room and receives every message posted in it as `{"event": ...}`. A socket sends
//!   `{"say": "hi"}` to post a message (saved at once with `ctx.save_state`, then broadcast)
//!   or `{"draft": "hel"}` to keep a draft. A draft follows Rivet's WebSocket rule: it is
//!   saved when the socket closes, not before, so a crash while the socket is open loses it.
//!   Each message is answered `{"ok": N}` (messages in the room).
//!
//! ```text
//! cargo run --example chat_server                          # 127.0.0.1:8080, chat.redb
//! cargo run --example chat_server -- --listen 127.0.0.1:0 my.redb
//! websocat 'ws://127.0.0.1:8080/actors/Room/lobby/websocket?name=ada'
//! curl -X POST http://127.0.0.1:8080/actors/Room/lobby/history
//! curl http://127.0.0.1:8080/actors/Room/lobby/fetch/drafts
//! ```
//!
//! The first line it prints is `listening on http://ADDR`; Ctrl-C (or SIGTERM) shuts it down
//! gracefully: every socket's `on_close` runs and its drafts are saved, then the file closes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use actor_core::http::{
    Bytes, Close, IntoResponse, Json, Message, Method, Parts, Rejection, Request, Response, Server,
    Socket, StatusCode, WebSocket,
};
use actor_core::{Actor, Ctx, System, actions};
use serde::{Deserialize, Serialize};

/// A message posted in a room.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Post {
    from: String,
    text: String,
}

/// A room: its messages and the drafts of the people in it.
#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(event = Post)]
struct Room {
    messages: Vec<Post>,
    drafts: BTreeMap<String, String>,
}

#[actions]
impl Room {
    /// Every message, oldest first.
    pub async fn history(&self) -> Vec<Post> {
        self.messages.clone()
    }
}

/// What a socket sends.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Said {
    Say(String),
    Draft(String),
}

/// The longest name and message accepted, in bytes.
const MAX_TEXT: usize = 1000;

impl WebSocket for Room {
    /// Who is on this connection.
    type Connection = String;

    async fn on_open(
        &mut self,
        request: &Parts,
        socket: &mut Socket,
        _ctx: &mut Ctx<Self>,
    ) -> Result<String, Close> {
        let name = request
            .uri
            .query()
            .and_then(|query| query.strip_prefix("name="))
            .filter(|name| !name.is_empty() && name.len() <= MAX_TEXT)
            .ok_or_else(|| Close::policy("join with ?name=NAME"))?;
        socket.subscribe();
        Ok(name.to_owned())
    }

    async fn on_message(
        &mut self,
        name: &mut String,
        message: Message,
        socket: &mut Socket,
        ctx: &mut Ctx<Self>,
    ) {
        match message.json::<Said>() {
            Ok(Said::Say(text)) if text.len() <= MAX_TEXT => {
                let post = Post {
                    from: name.clone(),
                    text,
                };
                self.messages.push(post.clone());
                self.drafts.remove(name.as_str());
                ctx.emit(post);
                // Durable now (and broadcast to the room), not when the socket closes.
                if let Err(error) = ctx.save_state(self).await {
                    socket.close(Close::new(1011, format!("not saved: {error}")));
                    return;
                }
            }
            // Kept in memory; saved when this socket closes.
            Ok(Said::Draft(text)) if text.len() <= MAX_TEXT => {
                self.drafts.insert(name.clone(), text);
            }
            _ => {
                socket.close(Close::policy(
                    r#"send {"say": TEXT} or {"draft": TEXT}, at most 1000 bytes"#,
                ));
                return;
            }
        }
        let _ = socket.send_json(&serde_json::json!({ "ok": self.messages.len() }));
    }

    async fn on_close(&mut self, name: String, _ctx: &mut Ctx<Self>) {
        println!("{name} left");
    }
}

impl actor_core::http::Fetch for Room {
    async fn on_fetch(
        &mut self,
        request: Request<Bytes>,
        _ctx: &mut Ctx<Self>,
    ) -> Result<Response, Rejection> {
        match (request.method(), request.uri().path()) {
            (&Method::GET, "/drafts") => Ok(Json(&self.drafts).into_response()),
            (&Method::DELETE, "/drafts") => {
                self.drafts.clear();
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => Err((StatusCode::NOT_FOUND, "GET or DELETE /drafts").into()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut path = "chat.redb".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let addr = args.next().ok_or("--listen needs an address")?;
                listen = addr.parse()?;
            }
            flag if flag.starts_with("--") => {
                return Err("usage: chat_server [--listen ADDR] [PATH]".into());
            }
            file => file.clone_into(&mut path),
        }
    }
    let system = System::open(&path).await?;
    let server = Server::builder(system)
        .actor::<Room>()
        .fetch::<Room>()
        .websocket::<Room>()
        .listen(listen)
        .start()
        .await?;
    println!("listening on http://{}", server.local_addr());
    stopped().await?;
    server.shutdown().await;
    println!("shut down");
    Ok(())
}

/// Resolves at Ctrl-C or, on Unix, SIGTERM.
async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

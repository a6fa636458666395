//! The Basic Example of Ploy's "State" page, as a worker: a plain `fetch(request, env)`
//! whose `env` holds the key-value bindings of `examples/actors.toml`.
//!
//! ```text
//! cargo run --example ploy_worker                  # listens on 127.0.0.1:8787
//! cargo run --example ploy_worker -- --listen 127.0.0.1:9000 --db other.redb
//! curl http://127.0.0.1:8787/set     # {"success":true}
//! curl http://127.0.0.1:8787/get     # {"value":"hello world"}
//! curl http://127.0.0.1:8787/delete  # {"success":true}
//! curl http://127.0.0.1:8787/        # State Worker
//! ```
//!
//! The first line it prints is `listening on http://ADDR`; Ctrl-C (or SIGTERM) shuts it down
//! gracefully.

use std::net::SocketAddr;

use actor_core::http::{Bytes, IntoResponse, Json, Request, Response, Server, WorkerError};
use actor_core::{Bindings, Env, KvStore, System};
use serde_json::json;

/// The worker's bindings, checked against `actors.toml` when the server starts.
#[derive(Env, Clone)]
struct WorkerEnv {
    /// `STATE = "default"`.
    state: KvStore,
    /// `USER_STATE = "users"`: declared in the config, unused by this worker.
    #[expect(
        dead_code,
        reason = "declared in actors.toml; the Basic Example uses STATE only"
    )]
    user_state: KvStore,
}

/// The seed's `fetch`, line for line.
async fn fetch(request: Request<Bytes>, env: WorkerEnv) -> Result<Response, WorkerError> {
    match request.uri().path() {
        "/set" => {
            env.state.set("greeting", "hello world").await?;
            Ok(Json(json!({ "success": true })).into_response())
        }
        "/get" => {
            let value = env.state.get("greeting").await?;
            Ok(Json(json!({ "value": value })).into_response())
        }
        "/delete" => {
            env.state.delete("greeting").await?;
            Ok(Json(json!({ "success": true })).into_response())
        }
        _ => Ok("State Worker".into_response()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8787).into();
    let mut db = "ploy_worker.redb".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr.parse()?,
            ("--db", Some(path)) => db = path,
            _ => return Err("usage: ploy_worker [--listen ADDR] [--db PATH]".into()),
        }
    }
    let bindings = Bindings::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/actors.toml"))?;
    let system = System::builder()
        .path(&db)
        .bindings(bindings)
        .open()
        .await?;
    let server = Server::builder(system)
        .worker(fetch)
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

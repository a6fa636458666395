//! The counter of `examples/counter.rs`, served over HTTP: its actions are JSON routes.
//!
//! ```text
//! cargo run --example counter_server                       # 127.0.0.1:8080, counter.redb
//! cargo run --example counter_server -- --listen 127.0.0.1:9000 my.redb
//! curl -X POST http://127.0.0.1:8080/actors/Counter/visits/increment \
//!      -H 'content-type: application/json' -d '{"by": 1}'   # 1, durable when answered
//! curl -X POST http://127.0.0.1:8080/actors/Counter/visits/get  # 1
//! curl http://127.0.0.1:8080/actors                           # what is served
//! ```
//!
//! The first line it prints is `listening on http://ADDR`; Ctrl-C (or SIGTERM) shuts it down
//! gracefully: requests in flight finish, then the system closes the file.

use std::net::SocketAddr;

use actor_core::http::Server;
use actor_core::{Actor, System, actions};
use serde::{Deserialize, Serialize};

/// The same state as `examples/counter.rs`, so both can use the same file (one at a time).
#[derive(Actor, Serialize, Deserialize, Default)]
struct Counter {
    count: i64,
}

#[actions]
impl Counter {
    /// Adds `by` and returns the new count.
    pub async fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    /// The count (read-only: never writes).
    pub async fn get(&self) -> i64 {
        self.count
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut path = "counter.redb".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let addr = args.next().ok_or("--listen needs an address")?;
                listen = addr.parse()?;
            }
            flag if flag.starts_with("--") => {
                return Err("usage: counter_server [--listen ADDR] [PATH]".into());
            }
            file => file.clone_into(&mut path),
        }
    }
    let system = System::open(&path).await?;
    let server = Server::builder(system)
        .actor::<Counter>()
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

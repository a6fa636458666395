//! Calls the counter that `examples/counter_server.rs` serves, from another program, with the
//! same typed methods a local `Handle` has: `visit` below is written once and runs against
//! a counter in this process and against the one on the server.
//!
//! ```text
//! cargo run --example counter_server &                   # serves 127.0.0.1:8080
//! cargo run --example counter_client                     # remote: visits = 1
//! cargo run --example counter_client -- --by 5 home      # the key `home`, 5 at a time
//! cargo run --example counter_client -- --server http://127.0.0.1:9000 --token SECRET
//! ```

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use actor_core::http::Client;
use actor_core::{Actor, AskError, System, actions};
use serde::{Deserialize, Serialize};

/// The server's actor type, declared here too: a client needs its name, its actions and
/// their types (its state never lives here).
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

/// A caller that does not know where its counter lives: a `Handle` or a `Remote`.
async fn visit(counter: &impl CounterHandle, by: i64) -> Result<i64, AskError<Infallible>> {
    counter.increment(by).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = "http://127.0.0.1:8080".to_owned();
    let mut token = None;
    let mut by = 1;
    let mut key = "visits".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--server" => server = args.next().ok_or("--server needs a URL")?,
            "--token" => token = Some(args.next().ok_or("--token needs a token")?),
            "--by" => by = args.next().ok_or("--by needs a number")?.parse()?,
            flag if flag.starts_with("--") => {
                return Err(
                    "usage: counter_client [--server URL] [--token TOKEN] [--by N] [KEY]".into(),
                );
            }
            other => other.clone_into(&mut key),
        }
    }

    // In this process: a `Handle`.
    let system = System::temporary().await?;
    let local = system.get_or_create::<Counter>(key.as_str()).await?;
    println!("local: {key} = {}", visit(&local, by).await?);
    system.shutdown().await;

    // On the server: a `Remote`, with the same methods.
    let mut client = Client::new(&server)?.timeout(Duration::from_secs(10));
    if let Some(token) = token {
        client = client.bearer_token(token)?;
    }
    let remote = client.actor::<Counter>(key.as_str());
    match visit(&remote, by).await {
        Ok(count) => println!("remote: {key} = {count} (durable on the server)"),
        Err(error) => {
            // `AskError::Remote` says what went wrong: not reachable, a refused token, ...
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = write!(message, ": {cause}");
                source = cause.source();
            }
            return Err(message.into());
        }
    }
    println!("remote get: {}", remote.get().await?);
    Ok(())
}

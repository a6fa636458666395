//! A program for outside checks of the durability promise.
//!
//! ```text
//! durability_probe run --db FILE --actors N --clients C [--seconds S]
//! durability_probe dump --db FILE --actors N
//! durability_probe kv-run --db FILE --keys N --clients C [--seconds S]
//! durability_probe kv-dump --db FILE --keys N
//! ```
//!
//! `run` starts N counter actors keyed `k0` … `k{N-1}` and C client tasks that loop forever:
//! pick an actor at random, ask it to increment by one, and on success print
//! `ack <key> <value>` on stdout, flushed at once. Nothing else goes to stdout (logs go to
//! stderr). It runs until killed, or for S seconds. Run it again on the same file and the
//! counters go on from where they were.
//!
//! `dump` prints `state <key> <value>` for each of the N actors (0 for one never created),
//! read through the public API, and exits 0; on any error it prints the error to stderr and
//! exits non-zero.
//!
//! `kv-run` and `kv-dump` do the same for the key-value store `probe`: each client atomically
//! increments the integer at a random key `k0` … `k{N-1}` and prints `kvack <key> <value>`
//! once durable; `kv-dump` prints `kv <key> <value>` (0 for a missing key).
//!
//! Tests (`tests/crash.rs`) kill `run` and `kv-run` with SIGKILL at random moments and check
//! with `dump` and `kv-dump` that no acknowledged value was lost.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use actor_core::{Actor, StartError, System, actions};
use serde::{Deserialize, Serialize};

#[derive(Actor, Serialize, Deserialize, Default)]
#[actor(name = "ProbeCounter", never_sleep)]
struct ProbeCounter {
    value: u64,
}

#[actions]
impl ProbeCounter {
    pub async fn increment(&mut self) -> u64 {
        self.value += 1;
        self.value
    }

    pub async fn get(&self) -> u64 {
        self.value
    }
}

struct Options {
    command: String,
    db: String,
    actors: usize,
    clients: usize,
    seconds: Option<u64>,
}

fn parse() -> Option<Options> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        command: args.next()?,
        db: String::new(),
        actors: 0,
        clients: 1,
        seconds: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next()?;
        match flag.as_str() {
            "--db" => options.db = value,
            "--actors" | "--keys" => options.actors = value.parse().ok()?,
            "--clients" => options.clients = value.parse().ok()?,
            "--seconds" => options.seconds = Some(value.parse().ok()?),
            _ => return None,
        }
    }
    let valid = matches!(
        options.command.as_str(),
        "run" | "dump" | "kv-run" | "kv-dump"
    ) && !options.db.is_empty()
        && options.actors > 0
        && options.clients > 0;
    valid.then_some(options)
}

fn main() -> ExitCode {
    let Some(options) = parse() else {
        eprintln!(
            "usage: durability_probe run|kv-run --db FILE --actors|--keys N --clients C [--seconds S]\n       durability_probe dump|kv-dump --db FILE --actors|--keys N"
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match options.command.as_str() {
            "run" => run(&options).await,
            "kv-run" => kv_run(&options).await,
            "kv-dump" => kv_dump(&options).await,
            _ => dump(&options).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("durability_probe: {message}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let mut handles = Vec::with_capacity(options.actors);
    for i in 0..options.actors {
        handles.push(
            system
                .get_or_create::<ProbeCounter>(format!("k{i}"))
                .await?,
        );
    }
    let handles = std::sync::Arc::new(handles);
    drive_clients(options, move |random| {
        let handles = std::sync::Arc::clone(&handles);
        async move {
            let actor = &handles[usize::try_from(random % handles.len() as u64).unwrap_or(0)];
            match actor.increment().await {
                Ok(value) => Some(format!("ack {} {value}", actor.key())),
                Err(e) => {
                    eprintln!("increment of {} failed: {e}", actor.key());
                    None
                }
            }
        }
    })
    .await;
    system.shutdown().await;
    Ok(())
}

/// Runs `options.clients` tasks that each loop: call `step` with a random number and print
/// the line it returns, flushed at once. Until killed, or for `options.seconds`.
async fn drive_clients<F, Fut>(options: &Options, step: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<String>> + Send,
{
    let mut clients = Vec::new();
    for client in 0..options.clients {
        let step = step.clone();
        let mut x = seed(client);
        clients.push(tokio::spawn(async move {
            loop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let Some(line) = step(x).await else { continue };
                let mut out = std::io::stdout().lock();
                // If stdout is gone there is nobody to tell: stop this client.
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return;
                }
            }
        }));
    }
    match options.seconds {
        Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        None => std::future::pending().await,
    }
    for client in &clients {
        client.abort();
    }
}

async fn dump(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let mut out = std::io::stdout().lock();
    for i in 0..options.actors {
        let key = format!("k{i}");
        let value = match system.get::<ProbeCounter>(key.as_str()).await {
            Ok(actor) => actor.get().await?,
            Err(StartError::NotFound(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        writeln!(out, "state {key} {value}")?;
    }
    out.flush()?;
    drop(out);
    system.shutdown().await;
    Ok(())
}

async fn kv_run(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let store = system.kv("probe");
    let keys = options.actors as u64;
    drive_clients(options, move |random| {
        let store = store.clone();
        async move {
            let key = format!("k{}", random % keys);
            match store.increment(&key, 1).await {
                Ok(value) => Some(format!("kvack {key} {value}")),
                Err(e) => {
                    eprintln!("increment of {key} failed: {e}");
                    None
                }
            }
        }
    })
    .await;
    system.shutdown().await;
    Ok(())
}

async fn kv_dump(options: &Options) -> Result<(), BoxError> {
    let system = System::open(&options.db).await?;
    let store = system.kv("probe");
    let mut out = std::io::stdout().lock();
    for i in 0..options.actors {
        let key = format!("k{i}");
        let value = store.get(&key).await?.unwrap_or_else(|| "0".to_owned());
        writeln!(out, "kv {key} {value}")?;
    }
    out.flush()?;
    drop(out);
    system.shutdown().await;
    Ok(())
}

/// A per-client seed from the clock and the process id (no extra crates).
fn seed(client: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    (nanos ^ u64::from(std::process::id()) ^ (client as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        | 1
}

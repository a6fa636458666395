//! Acknowledged over HTTP means durable: `examples/counter_server.rs` runs as a real child
//! process while 32 HTTP clients increment counters; it is killed with SIGKILL at a random
//! moment, 20 times. After each kill a new server on the same file must answer, for every
//! counter, at least the highest count any client was answered with (every 200 is on disk),
//! and at most the number of increments ever sent (nothing appears that no one sent). A last
//! run ends with SIGTERM: a graceful shutdown that exits 0.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/http.rs"]
mod http;
#[path = "support/scratch.rs"]
mod scratch;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use http::ServerProcess;
use scratch::{TempDir, XorShift};

/// SIGKILLs dealt, unless `HTTP_KILL_ROUNDS` says how many (for longer runs by hand).
const ROUNDS: usize = 20;
/// Concurrent HTTP clients in each killed run.
const CLIENTS: usize = 32;
/// Counters the clients share.
const KEYS: usize = 8;

/// What the clients learned about one counter, across every run.
#[derive(Default)]
struct Seen {
    /// The highest count a 200 answered: on disk from then on.
    acked: AtomicI64,
    /// Increments sent, answered or not: no count may exceed it.
    sent: AtomicI64,
}

fn start(file: &str) -> ServerProcess {
    let mut command = Command::new(bin::example("counter_server"));
    command.args(["--listen", "127.0.0.1:0", file]);
    ServerProcess::start(command)
}

/// Reads every counter from a fresh server and checks it against what was acknowledged
/// and sent; raises `acked` to what is on disk.
async fn check(base: &str, seen: &[Seen], round: usize) {
    let client = http::client();
    for (key, seen) in seen.iter().enumerate() {
        let a = http::post(&client, base, &format!("/actors/Counter/c{key}/get"), "").await;
        assert_eq!(a.status, 200, "round {round}, c{key}: {a:?}");
        let count = a.body.as_i64().expect("a count");
        let (acked, sent) = (
            seen.acked.load(Ordering::SeqCst),
            seen.sent.load(Ordering::SeqCst),
        );
        assert!(
            count >= acked,
            "round {round}, c{key}: {count} on disk, but {acked} was answered 200"
        );
        assert!(
            count <= sent,
            "round {round}, c{key}: {count} on disk, but only {sent} increments were sent"
        );
        seen.acked.fetch_max(count, Ordering::SeqCst);
    }
}

/// One client: increments its counter until the server goes away.
async fn client(base: String, key: usize, seen: Arc<Vec<Seen>>) {
    let client = http::client();
    let url = format!("{base}/actors/Counter/c{key}/increment");
    loop {
        seen[key].sent.fetch_add(1, Ordering::SeqCst);
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"by": 1}"#)
            .send()
            .await;
        let Ok(response) = sent else { return };
        if response.status() != 200 {
            return;
        }
        let Ok(body) = response.text().await else {
            return;
        };
        let count: i64 = body.parse().expect("a 200 answers the new count");
        seen[key].acked.fetch_max(count, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_increment_answered_200_survives_sigkill() {
    let seed = XorShift::clock_seed();
    println!("seed {seed}");
    let mut rng = XorShift::new(seed);
    let dir = TempDir::new("http-kill");
    let file = dir.file("counters.redb");
    let counters: Arc<Vec<Seen>> = Arc::new((0..KEYS).map(|_| Seen::default()).collect());
    let rounds = std::env::var("HTTP_KILL_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ROUNDS);
    for round in 0..rounds {
        let mut server = start(&file);
        check(&server.base, &counters, round).await;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(client(server.base.clone(), i % KEYS, Arc::clone(&counters))))
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.between(50, 300))).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap the server");
        for client in clients {
            client.await.expect("a client task");
        }
    }
    let server = start(&file);
    check(&server.base, &counters, rounds).await;
    let acked: i64 = counters
        .iter()
        .map(|s| s.acked.load(Ordering::SeqCst))
        .sum();
    assert!(acked > 0, "the clients got answers");
    let (exit, said) = server.terminate();
    assert!(exit.success(), "a graceful shutdown exits 0: {exit}");
    assert!(said.contains("shut down"), "{said}");
    println!("{rounds} kills, {acked} increments on disk");
}

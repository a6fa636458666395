//! The baselines: raw redb writing the same bytes, a bare tokio request/reply, kameo and
//! ractor counters.

use std::path::Path;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// The table actor-core uses, so raw redb writes the same shape of data.
pub const ACTORS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("actors");

/// A record exactly as actor-core stores it (docs/storage-format.md): format 1, a uuid, state
/// version 1, then the state as CBOR.
pub fn record<S: Serialize>(state: &S) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    ciborium::into_writer(state, &mut out).expect("CBOR of a plain struct");
    out
}

/// The counter state both sides store.
#[derive(Serialize)]
pub struct CounterState {
    pub count: u64,
}

/// A raw redb database.
pub fn open(path: &Path) -> Database {
    Database::builder()
        .set_cache_size(64 << 20)
        .create(path)
        .expect("create redb")
}

/// Upserts `keys` (one commit each if `per_commit` is 1) and returns updates per second
/// over `duration`.
pub fn commit_loop(
    db: &Database,
    keys: &[String],
    per_commit: usize,
    quick_repair: bool,
    duration: Duration,
) -> f64 {
    let started = Instant::now();
    let mut done = 0u64;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while started.elapsed() < duration {
        let mut txn = db.begin_write().expect("write txn");
        txn.set_durability(Durability::Immediate)
            .expect("durability");
        txn.set_quick_repair(quick_repair);
        {
            let mut table = txn.open_table(ACTORS).expect("table");
            for _ in 0..per_commit {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = &keys[usize::try_from(x % keys.len() as u64).unwrap_or(0)];
                done += 1;
                let bytes = record(&CounterState { count: done });
                table
                    .insert(("Counter", key.as_str()), bytes.as_slice())
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = done as f64 / started.elapsed().as_secs_f64();
    rate
}

/// Fills `keys` with records in large batches (not timed as a baseline).
pub fn fill(db: &Database, keys: &[String]) {
    for chunk in keys.chunks(10_000) {
        let mut txn = db.begin_write().expect("write txn");
        txn.set_durability(Durability::Immediate)
            .expect("durability");
        {
            let mut table = txn.open_table(ACTORS).expect("table");
            let bytes = record(&CounterState { count: 0 });
            for key in chunk {
                table
                    .insert(("Counter", key.as_str()), bytes.as_slice())
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
}

/// Latency samples (µs) of single-update Immediate commits.
pub fn commit_latencies(db: &Database, samples: usize, quick_repair: bool) -> Vec<f64> {
    (0..samples)
        .map(|i| {
            let started = Instant::now();
            let mut txn = db.begin_write().expect("write txn");
            txn.set_durability(Durability::Immediate)
                .expect("durability");
            txn.set_quick_repair(quick_repair);
            {
                let mut table = txn.open_table(ACTORS).expect("table");
                let bytes = record(&CounterState { count: i as u64 });
                table
                    .insert(("Counter", "one"), bytes.as_slice())
                    .expect("insert");
            }
            txn.commit().expect("commit");
            crate::report::micros(started.elapsed())
        })
        .collect()
}

/// Latency samples (µs) of point reads.
pub fn read_latencies(db: &Database, keys: &[String], samples: usize) -> Vec<f64> {
    (0..samples)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let started = Instant::now();
            let read = db.begin_read().expect("read txn");
            let table = read.open_table(ACTORS).expect("table");
            let value = table.get(("Counter", key.as_str())).expect("get");
            std::hint::black_box(value.map(|v| v.value().len()));
            crate::report::micros(started.elapsed())
        })
        .collect()
}

/// The floor: a task owning a u64, asked through a bounded mpsc with a oneshot reply.
pub fn spawn_tokio_counter() -> mpsc::Sender<oneshot::Sender<u64>> {
    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<u64>>(64);
    tokio::spawn(async move {
        let count = 7u64;
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(count);
        }
    });
    tx
}

/// kameo's counter.
pub mod kameo_counter {
    use kameo::Actor;
    use kameo::message::{Context, Message};

    /// The counter.
    #[derive(Actor, Default)]
    pub struct Counter {
        count: u64,
    }

    /// Read the count.
    pub struct Get;

    impl Message<Get> for Counter {
        type Reply = u64;

        async fn handle(&mut self, _: Get, _: &mut Context<Self, Self::Reply>) -> u64 {
            self.count
        }
    }
}

/// ractor's counter.
pub mod ractor_counter {
    use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

    /// The counter.
    pub struct Counter;

    /// Its messages.
    pub enum Msg {
        /// Read the count.
        Get(RpcReplyPort<u64>),
    }

    impl Actor for Counter {
        type Msg = Msg;
        type State = u64;
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<Msg>, (): ()) -> Result<u64, ActorProcessingErr> {
            Ok(7)
        }

        async fn handle(
            &self,
            _: ActorRef<Msg>,
            msg: Msg,
            state: &mut u64,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Msg::Get(reply) => {
                    let _ = reply.send(*state);
                }
            }
            Ok(())
        }
    }
}

//! The raw redb baselines: the same records actor-core writes, into the same table shape,
//! with `Durability::Immediate`, but with no actors, channels or writer thread in between.

use std::path::Path;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use uuid::Uuid;

use crate::Result;
use crate::counter::Counter;
use crate::stats::{XorShift, micros};

/// The table actor-core keeps actors in: `(type name, key) -> record`.
pub const ACTORS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("actors");

/// The type name actor-core stores the counter under ([`actor_core::Actor::NAME`]).
pub const KIND: &str = "Counter";

/// redb's page cache for the baselines: actor-core's default (64 MiB).
const CACHE_BYTES: usize = 64 << 20;

/// Encodes a record exactly as `docs/storage-format.md` describes it into `buf` (cleared
/// first): format version 1, the actor id's 16 bytes, state version 1 (u32 LE), then the
/// state as ciborium CBOR.
pub fn encode_record(buf: &mut Vec<u8>, id: &Uuid, state: &Counter) {
    buf.clear();
    buf.push(1);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(&1u32.to_le_bytes());
    ciborium::into_writer(state, &mut *buf).expect("CBOR of a plain struct into a Vec");
}

/// Opens (or creates) a raw redb file with actor-core's cache size.
pub fn open(path: &Path) -> Result<Database> {
    Ok(Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)?)
}

/// Writes one record (count 0) per key, in large batches (setup; not a baseline).
pub fn fill(db: &Database, keys: &[String]) -> Result<()> {
    let id = Uuid::new_v4();
    let mut record = Vec::new();
    encode_record(&mut record, &id, &Counter { count: 0 });
    for chunk in keys.chunks(100_000) {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        {
            let mut table = txn.open_table(ACTORS)?;
            for key in chunk {
                table.insert((KIND, key.as_str()), record.as_slice())?;
            }
        }
        txn.commit()?;
    }
    Ok(())
}

/// Upserts records of keys picked at random from `keys`, `per_commit` per `Immediate`
/// commit, on this thread, for `duration`. Returns upserts per second.
///
/// Each upsert encodes a fresh record (header + CBOR of the new count), as the framework
/// encodes its state after every action.
pub fn upsert_loop(
    db: &Database,
    keys: &[String],
    per_commit: usize,
    quick_repair: bool,
    duration: Duration,
) -> Result<f64> {
    let id = Uuid::new_v4();
    let mut rng = XorShift::new(0x2545_F491_4F6C_DD1D);
    let mut record = Vec::with_capacity(64);
    let mut done = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_quick_repair(quick_repair);
        {
            let mut table = txn.open_table(ACTORS)?;
            for _ in 0..per_commit {
                done += 1;
                let key = &keys[rng.below(keys.len())];
                encode_record(&mut record, &id, &Counter { count: done });
                table.insert((KIND, key.as_str()), record.as_slice())?;
            }
        }
        txn.commit()?;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// Latencies (µs) of `samples` single-update `Immediate` commits of the record at `key`.
pub fn commit_latencies(
    db: &Database,
    key: &str,
    samples: usize,
    quick_repair: bool,
) -> Result<Vec<f64>> {
    let id = Uuid::new_v4();
    let mut record = Vec::with_capacity(64);
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let started = Instant::now();
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.set_quick_repair(quick_repair);
        {
            let mut table = txn.open_table(ACTORS)?;
            encode_record(&mut record, &id, &Counter { count: i as u64 });
            table.insert((KIND, key), record.as_slice())?;
        }
        txn.commit()?;
        out.push(micros(started.elapsed()));
    }
    Ok(out)
}

/// Latencies (µs) of point reads of `keys`, one read transaction each, copying the record
/// out (what actor-core's `Storage::load` does).
pub fn read_latencies(db: &Database, keys: &[String]) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let started = Instant::now();
        let read = db.begin_read()?;
        let table = read.open_table(ACTORS)?;
        let record = table.get((KIND, key.as_str()))?.map(|r| r.value().to_vec());
        std::hint::black_box(record.ok_or("missing record")?);
        out.push(micros(started.elapsed()));
    }
    Ok(out)
}

//! Reading a store file without the actors' Rust types, and copying it: what the `actors`
//! command line tool is built on.
//!
//! An [`Inspector`] opens a file read-only, also while a system runs on it in another
//! process: the system's writer runs in redb's single-writer mode (see
//! [`RedbOptions::shared_reads`](crate::RedbOptions::shared_reads)), which lets readers share
//! the file and follow its commits. Each call reads one consistent snapshot (one read
//! transaction). It lists actor types and keys (a range scan: a page costs its length, not
//! the table's), shows one record with its state as generic JSON ([`cbor_to_json`]), reads the
//! key-value stores, and [`verify`](Inspector::verify) reads every stored row and names those
//! that do not decode.
//!
//! [`System::inspect`](crate::System::inspect) gives the same queries on the file of a system
//! running in this process, through that system's own database (a second open of the file
//! from the same process would be refused): each call is one read transaction on the newest
//! commit, beside the writer, never blocking it.
//!
//! [`backup`] copies a file (from another process, also while a system runs on it) as one
//! snapshot; [`System::backup`](crate::System::backup) does the same from inside the running
//! system and reports what the copy cost the writer. [`restore`] puts a backup in place,
//! refusing a file a running system holds.
//!
//! ```
//! # use actor_core::{actions, Actor, System};
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Actor, Serialize, Deserialize, Default)]
//! # struct Counter { count: i64 }
//! # #[actions]
//! # impl Counter {
//! #     pub async fn increment(&mut self, by: i64) -> i64 { self.count += by; self.count }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), actor_core::Error> {
//! use actor_core::inspect::Inspector;
//!
//! let path = std::env::temp_dir().join(format!("inspect-doc-{}.redb", std::process::id()));
//! let system = System::open(&path).await?;
//! system.get_or_create::<Counter>("room-42").await?.increment(3).await?;
//!
//! // Read while the system runs (another process could do the same).
//! let inspector = Inspector::open(&path)?;
//! let types = inspector.types()?;
//! assert_eq!((types[0].name.as_str(), types[0].count), ("Counter", 1));
//! let record = inspector.actor("Counter", "room-42")?.expect("stored");
//! assert_eq!(record.state()?, serde_json::json!({"count": 3}));
//! assert!(inspector.verify(|_| {})?.problems.is_empty());
//! # drop(inspector);
//! # system.shutdown().await;
//! # std::fs::remove_file(&path).ok();
//! # Ok(())
//! # }
//! ```

mod copy;
mod json;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use redb::{
    ConcurrencyMode, DatabaseError, ReadOnlyDatabase, ReadOnlyTable, ReadTransaction,
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableError,
};
use uuid::Uuid;

pub(crate) use self::copy::{Copied, copy_snapshot};
pub use self::json::cbor_to_json;
use crate::error::{BackupError, DecodeError, InspectError, RestoreError, StorageError};
use crate::panic::catch;
use crate::snapshot::Record;
use crate::storage::{
    ACTOR_SCHEDULES, ACTORS, KV, META, OUTBOX, RedbStorage, SCHEDULES, STORAGE_FORMAT,
};

/// redb's page cache for a read-only open: enough for paging and a verify pass; the file is
/// read once, so more buys little.
const CACHE_BYTES: usize = 16 << 20;

/// A store file, open read-only ([`Inspector::open`]), or the file of a system running in
/// this process ([`System::inspect`](crate::System::inspect)). See the [module docs](self).
pub struct Inspector {
    source: Source,
    path: PathBuf,
    format: u32,
}

/// Where an [`Inspector`] begins its read transactions.
enum Source {
    /// A file this inspector opened read-only.
    File(ReadOnlyDatabase),
    /// The database of a system running in this process. Weak: the system's shutdown lets
    /// the file go, and an inspector kept past it must not hold the file open.
    Live(Weak<RedbStorage>),
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// An actor type and how many actors of it are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeCount {
    /// The type's name (`Actor::NAME`).
    pub name: String,
    /// How many actors of the type are stored.
    pub count: u64,
}

/// A key-value store and how many entries it has.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreCount {
    /// The store id.
    pub name: String,
    /// How many entries it has.
    pub count: u64,
}

/// How many rows each table holds (read from the tables' headers, without a scan).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Actor records.
    pub actors: u64,
    /// Key-value entries, over all stores.
    pub kv: u64,
    /// Pending schedules.
    pub schedules: u64,
    /// Outbox messages not yet applied.
    pub messages: u64,
}

impl Counts {
    /// Every row [`Inspector::verify`] reads.
    pub fn total(&self) -> u64 {
        self.actors + self.kv + self.schedules + self.messages
    }
}

/// One page of keys, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// The keys (encoded actor keys, or key-value keys).
    pub keys: Vec<String>,
    /// Where the next page starts (pass it as `after`), or `None` at the end.
    pub next: Option<String>,
}

/// One actor's stored record, as bytes; its parts are read on demand.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActorRecord {
    /// The actor type's name.
    pub kind: String,
    /// The encoded key.
    pub key: String,
    /// The whole record: header and CBOR state.
    pub bytes: Vec<u8>,
}

impl ActorRecord {
    /// The record's header and payload (fails on a record too short or of another format).
    pub fn record(&self) -> Result<Record<'_>, DecodeError> {
        Record::parse(&self.bytes)
    }

    /// The actor's id.
    pub fn id(&self) -> Result<Uuid, DecodeError> {
        self.record().map(|r| r.id())
    }

    /// The state as generic JSON ([`cbor_to_json`]).
    pub fn state(&self) -> Result<serde_json::Value, DecodeError> {
        let value: ciborium::Value = self.record()?.decode()?;
        Ok(cbor_to_json(&value))
    }
}

/// What [`Inspector::verify`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Rows read, by table.
    pub checked: Counts,
    /// The rows that do not decode, in table and key order.
    pub problems: Vec<Problem>,
}

/// A stored row that does not decode.
#[derive(Debug)]
#[non_exhaustive]
pub struct Problem {
    /// The table: `actors`, `schedules`, `actor_schedules` or `outbox`.
    pub table: &'static str,
    /// The row's key, printed: `Counter "room-42"`, a schedule's `due_ms/id`, a message's
    /// sequence number.
    pub key: String,
    /// What is wrong with it.
    pub defect: Defect,
}

/// What is wrong with a stored row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Defect {
    /// An actor record whose header or state does not decode.
    #[error("the record does not decode")]
    Record(#[source] DecodeError),
    /// An actor record whose state is followed by bytes that belong to no value.
    #[error("{count} bytes follow the state")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A stored action (of a schedule or a message) that is not CBOR.
    #[error("the stored action does not decode")]
    Action(#[source] DecodeError),
    /// A schedule the per-actor index does not list (it could not be cancelled).
    #[error("the schedule is missing from actor_schedules")]
    Unindexed,
    /// A per-actor index entry with no schedule behind it.
    #[error("the index entry points at no schedule")]
    StrayIndex,
}

/// What a backup wrote, and what it cost the running system's writer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackupReport {
    /// The backup file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Rows copied, by table.
    pub copied: Counts,
    /// How long the copy took, from the snapshot to the renamed, synced file.
    pub took: Duration,
    /// The writer's commits in the quarter second before the snapshot (`None` for a backup
    /// from another process, which cannot see them).
    pub before: Option<CommitLatency>,
    /// The writer's commits while the backup ran: against `before`, the pause the backup
    /// caused.
    pub during: Option<CommitLatency>,
}

/// How long a window's commits took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitLatency {
    /// How many commits.
    pub commits: u64,
    /// Their mean duration.
    pub mean: Duration,
    /// The longest.
    pub longest: Duration,
}

impl CommitLatency {
    pub(crate) fn new(commits: u64, total: Duration, longest: Duration) -> Self {
        let mean = u32::try_from(commits)
            .ok()
            .and_then(|n| total.checked_div(n))
            .unwrap_or_default();
        Self {
            commits,
            mean,
            longest,
        }
    }
}

impl BackupReport {
    pub(crate) fn new(path: &Path, copied: Copied, took: Duration) -> Self {
        Self {
            path: path.to_path_buf(),
            bytes: copied.bytes,
            copied: Counts {
                actors: copied.actors,
                kv: copied.kv,
                schedules: copied.schedules,
                messages: copied.messages,
            },
            took,
            before: None,
            during: None,
        }
    }
}

impl Inspector {
    /// Opens the store file at `path` read-only. Never writes to it, never repairs it.
    ///
    /// Works on a file a system in another process has open (in its default
    /// [`shared_reads`](crate::RedbOptions::shared_reads) mode); fails with
    /// [`InspectError::Held`] if that system locks the file whole, and with
    /// [`InspectError::Unclean`] on a file whose system was killed and that no system has
    /// opened since.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InspectError> {
        let path = path.as_ref().to_path_buf();
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(InspectError::Missing { path });
            }
            Err(error) => {
                return Err(InspectError::Open {
                    path,
                    source: StorageError::from(redb::Error::Io(error)),
                });
            }
        }
        let opened = catch(|| {
            let mut builder = redb::Database::builder();
            builder
                .set_cache_size(CACHE_BYTES)
                .set_concurrency_mode(ConcurrencyMode::SingleWriter);
            builder.open_read_only(&path)
        });
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(InspectError::Held { path });
            }
            Ok(Err(DatabaseError::RepairAborted)) => return Err(InspectError::Unclean { path }),
            Ok(Err(error)) => {
                return Err(InspectError::Open {
                    path,
                    source: StorageError::from(redb::Error::from(error)),
                });
            }
            Err(message) => return Err(InspectError::Damaged { path, message }),
        };
        Self::new(Source::File(db), path)
    }

    /// An inspector on the database of a running system (see
    /// [`System::inspect`](crate::System::inspect)).
    pub(crate) fn live(file: Weak<RedbStorage>, path: PathBuf) -> Result<Self, InspectError> {
        Self::new(Source::Live(file), path)
    }

    /// Checks the file's storage format.
    fn new(source: Source, path: PathBuf) -> Result<Self, InspectError> {
        let mut inspector = Self {
            source,
            path,
            format: 0,
        };
        let format = inspector.read(|txn| {
            let Some(meta) = table(txn, META)? else {
                return Ok(None);
            };
            Ok(meta.get("format_version")?.map(|v| v.value()))
        })?;
        match format {
            None => Err(InspectError::NotActorStore {
                path: inspector.path,
            }),
            Some(found) if found > STORAGE_FORMAT => Err(InspectError::UnsupportedFormat {
                path: inspector.path,
                found,
                supported: STORAGE_FORMAT,
            }),
            Some(found) => {
                inspector.format = found;
                Ok(inspector)
            }
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The storage format the file records (`meta.format_version`).
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Runs `f` on one read transaction; a redb error becomes [`InspectError::Read`], a
    /// panic (redb reading a damaged page) [`InspectError::Damaged`], and a running system
    /// that has shut down since [`InspectError::Shutdown`].
    fn read<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, InspectError> {
        let failed = |source| InspectError::Read {
            path: self.path.clone(),
            source,
        };
        let result = catch(|| {
            let txn = match &self.source {
                Source::File(db) => db
                    .begin_read()
                    .map_err(|e| failed(StorageError::from(redb::Error::from(e))))?,
                Source::Live(file) => file
                    .upgrade()
                    .ok_or(InspectError::Shutdown)?
                    .begin_read()
                    .map_err(failed)?,
            };
            f(&txn).map_err(|e| failed(StorageError::from(e)))
        });
        match result {
            Ok(result) => result,
            Err(message) => Err(InspectError::Damaged {
                path: self.path.clone(),
                message,
            }),
        }
    }

    /// How many rows each table holds.
    pub fn counts(&self) -> Result<Counts, InspectError> {
        self.read(|txn| {
            Ok(Counts {
                actors: len(txn, ACTORS)?,
                kv: len(txn, KV)?,
                schedules: len(txn, SCHEDULES)?,
                messages: len(txn, OUTBOX)?,
            })
        })
    }

    /// Every actor type with its count, by name. Reads every key once (a count needs them).
    pub fn types(&self) -> Result<Vec<TypeCount>, InspectError> {
        self.read(|txn| {
            let Some(actors) = table(txn, ACTORS)? else {
                return Ok(Vec::new());
            };
            group_counts(&actors)
        })
        .map(|groups| {
            groups
                .into_iter()
                .map(|(name, count)| TypeCount { name, count })
                .collect()
        })
    }

    /// Up to `limit` (at least 1) keys of the actor type `kind` that start with `prefix`, in
    /// key order, after `after` if given. A range scan: it reads the page, not the table.
    pub fn keys(
        &self,
        kind: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, InspectError> {
        self.read(|txn| match table(txn, ACTORS)? {
            Some(actors) => page(&actors, kind, prefix, after, limit),
            None => Ok(Page {
                keys: Vec::new(),
                next: None,
            }),
        })
    }

    /// The record of the actor `(kind, key)` (`key` encoded, as [`keys`](Self::keys) lists
    /// it), or `None` if there is none.
    pub fn actor(&self, kind: &str, key: &str) -> Result<Option<ActorRecord>, InspectError> {
        self.read(|txn| {
            let Some(actors) = table(txn, ACTORS)? else {
                return Ok(None);
            };
            Ok(actors.get((kind, key))?.map(|bytes| ActorRecord {
                kind: kind.to_owned(),
                key: key.to_owned(),
                bytes: bytes.value().to_vec(),
            }))
        })
    }

    /// Every key-value store with its entry count, by id.
    pub fn stores(&self) -> Result<Vec<StoreCount>, InspectError> {
        self.read(|txn| {
            let Some(kv) = table(txn, KV)? else {
                return Ok(Vec::new());
            };
            group_counts(&kv)
        })
        .map(|groups| {
            groups
                .into_iter()
                .map(|(name, count)| StoreCount { name, count })
                .collect()
        })
    }

    /// Up to `limit` (at least 1) keys of the key-value store `store` that start with
    /// `prefix`, in key order, after `after` if given.
    pub fn kv_keys(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, InspectError> {
        self.read(|txn| match table(txn, KV)? {
            Some(kv) => page(&kv, store, prefix, after, limit),
            None => Ok(Page {
                keys: Vec::new(),
                next: None,
            }),
        })
    }

    /// The value of `key` in the key-value store `store`.
    pub fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, InspectError> {
        self.read(|txn| {
            let Some(kv) = table(txn, KV)? else {
                return Ok(None);
            };
            Ok(kv.get((store, key))?.map(|v| v.value().to_owned()))
        })
    }

    /// Reads every row of every table (one snapshot) and reports those that do not decode:
    /// actor records (header and state), key-value entries, schedules (their actions, and
    /// the per-actor index both ways) and outbox messages (their actions). `progress` is
    /// called now and then with the rows read so far (of [`counts`](Self::counts)`.total()`).
    pub fn verify(&self, mut progress: impl FnMut(u64)) -> Result<VerifyReport, InspectError> {
        self.read(|txn| {
            let mut pass = Pass {
                report: VerifyReport::default(),
                done: 0,
                progress: &mut progress,
            };
            pass.actors(txn)?;
            pass.kv(txn)?;
            pass.schedules(txn)?;
            pass.outbox(txn)?;
            (pass.progress)(pass.done);
            Ok(pass.report)
        })
    }
}

/// One [`Inspector::verify`] pass: what it found and how far it is.
struct Pass<'p> {
    report: VerifyReport,
    done: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl Pass<'_> {
    /// One more row read; reports progress every 1024 rows.
    fn tick(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(1024) {
            (self.progress)(self.done);
        }
    }

    fn problem(&mut self, table: &'static str, key: String, defect: Defect) {
        self.report.problems.push(Problem { table, key, defect });
    }

    fn actors(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let Some(actors) = table(txn, ACTORS)? else {
            return Ok(());
        };
        for entry in actors.iter()? {
            let (key, record) = entry?;
            let (kind, key) = key.value();
            if let Some(defect) = check_record(record.value()) {
                self.problem("actors", actor_name(kind, key), defect);
            }
            self.report.checked.actors += 1;
            self.tick();
        }
        Ok(())
    }

    fn kv(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let Some(kv) = table(txn, KV)? else {
            return Ok(());
        };
        // Values are UTF-8 by their column type: reading each one is the check.
        for entry in kv.iter()? {
            let (key, value) = entry?;
            let _ = (key.value(), value.value());
            self.report.checked.kv += 1;
            self.tick();
        }
        Ok(())
    }

    /// The schedules' actions, and the two tables that hold them agreeing both ways.
    fn schedules(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let index = table(txn, ACTOR_SCHEDULES)?;
        let schedules = table(txn, SCHEDULES)?;
        if let Some(schedules) = &schedules {
            for entry in schedules.iter()? {
                let (key, value) = entry?;
                let (due, id) = key.value();
                let (kind, actor_key, action) = value.value();
                if let Err(error) = check_action(action) {
                    self.problem("schedules", format!("{due}/{id}"), Defect::Action(error));
                }
                let indexed = match &index {
                    Some(index) => index
                        .get((kind, actor_key, id))?
                        .is_some_and(|d| d.value() == due),
                    None => false,
                };
                if !indexed {
                    self.problem("schedules", format!("{due}/{id}"), Defect::Unindexed);
                }
                self.report.checked.schedules += 1;
                self.tick();
            }
        }
        let Some(index) = &index else {
            return Ok(());
        };
        for entry in index.iter()? {
            let (key, due) = entry?;
            let (kind, actor_key, id) = key.value();
            let found = match &schedules {
                Some(schedules) => schedules.get((due.value(), id))?.is_some_and(|row| {
                    let (k, key, _) = row.value();
                    k == kind && key == actor_key
                }),
                None => false,
            };
            if !found {
                let name = format!("{} {id}", actor_name(kind, actor_key));
                self.problem("actor_schedules", name, Defect::StrayIndex);
            }
        }
        Ok(())
    }

    fn outbox(&mut self, txn: &ReadTransaction) -> Result<(), redb::Error> {
        let Some(outbox) = table(txn, OUTBOX)? else {
            return Ok(());
        };
        for entry in outbox.iter()? {
            let (seq, value) = entry?;
            let (.., action) = value.value();
            if let Err(error) = check_action(action) {
                self.problem("outbox", seq.value().to_string(), Defect::Action(error));
            }
            self.report.checked.messages += 1;
            self.tick();
        }
        Ok(())
    }
}

/// `Counter "room-42"`: an actor as reports name it.
fn actor_name(kind: &str, key: &str) -> String {
    format!("{kind} {:?}", crate::limits::quote(key))
}

/// What is wrong with an actor record, if anything.
fn check_record(bytes: &[u8]) -> Option<Defect> {
    let record = match Record::parse(bytes) {
        Ok(record) => record,
        Err(error) => return Some(Defect::Record(error)),
    };
    let mut rest = record.payload();
    match catch(|| ciborium::from_reader::<ciborium::Value, _>(&mut rest)) {
        Ok(Ok(_)) if rest.is_empty() => None,
        Ok(Ok(_)) => Some(Defect::TrailingBytes { count: rest.len() }),
        Ok(Err(error)) => Some(Defect::Record(DecodeError::Cbor(error))),
        Err(message) => Some(Defect::Record(DecodeError::Panicked { message })),
    }
}

/// Whether a stored action is one CBOR value.
fn check_action(action: &[u8]) -> Result<(), DecodeError> {
    crate::snapshot::decode_cbor::<ciborium::Value>(action).map(|_| ())
}

/// A table of the snapshot, or `None` if the file does not have it (an older format).
fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    definition: TableDefinition<'static, K, V>,
) -> Result<Option<ReadOnlyTable<K, V>>, redb::Error> {
    match txn.open_table(definition) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn len<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    definition: TableDefinition<'static, K, V>,
) -> Result<u64, redb::Error> {
    Ok(match table(txn, definition)? {
        Some(table) => table.len()?,
        None => 0,
    })
}

/// The first parts of a `(group, key)` table's keys with their counts, in order.
fn group_counts<V: redb::Value + 'static>(
    table: &ReadOnlyTable<(&'static str, &'static str), V>,
) -> Result<Vec<(String, u64)>, redb::Error> {
    let mut groups: Vec<(String, u64)> = Vec::new();
    for entry in table.iter()? {
        let (key, _) = entry?;
        let (group, _) = key.value();
        match groups.last_mut() {
            Some((last, count)) if last == group => *count += 1,
            _ => groups.push((group.to_owned(), 1)),
        }
    }
    Ok(groups)
}

/// A page of the keys of `group` in a `(group, key)` table.
fn page<V: redb::Value + 'static>(
    table: &ReadOnlyTable<(&'static str, &'static str), V>,
    group: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, redb::Error> {
    let limit = limit.max(1);
    let start = after.map_or(prefix, |a| a.max(prefix));
    let mut keys = Vec::new();
    let mut more = false;
    let range = if after.is_some_and(|a| a >= prefix) {
        table.range::<(&str, &str)>((Bound::Excluded((group, start)), Bound::Unbounded))?
    } else {
        table.range::<(&str, &str)>((group, start)..)?
    };
    for entry in range {
        let (key, _) = entry?;
        let (entry_group, key) = key.value();
        if entry_group != group || !key.starts_with(prefix) {
            break;
        }
        if keys.len() == limit {
            more = true;
            break;
        }
        keys.push(key.to_owned());
    }
    let next = if more { keys.last().cloned() } else { None };
    Ok(Page { keys, next })
}

/// Copies the store file `source` into a new file `out`, as one snapshot, atomically. Works
/// while a system runs on `source` in another process (see [`Inspector::open`]); the
/// report's commit latencies are `None`, since this process cannot see that system's
/// writer. A backup file opens with [`System::open`](crate::System::open).
pub fn backup(
    source: impl AsRef<Path>,
    out: impl AsRef<Path>,
) -> Result<BackupReport, BackupError> {
    let out = out.as_ref();
    let inspector = Inspector::open(source)?;
    let started = std::time::Instant::now();
    let copied = catch(|| {
        let txn = match &inspector.source {
            Source::File(db) => db
                .begin_read()
                .map_err(|e| BackupError::Read(StorageError::from(redb::Error::from(e))))?,
            // `Inspector::open` opens files only.
            Source::Live(_) => return Err(BackupError::NotFileBacked),
        };
        copy_snapshot(&txn, out)
    })
    .map_err(|message| {
        BackupError::Source(InspectError::Damaged {
            path: inspector.path.clone(),
            message,
        })
    })??;
    Ok(BackupReport::new(out, copied, started.elapsed()))
}

/// Puts the backup file `backup` in place as the store file `target`: the backup is
/// checked (it must open as an actor store), copied beside the target, synced, and renamed
/// over it, so `target` is either untouched or the whole backup. Returns the bytes copied.
///
/// Refuses a target that exists unless `force` ([`RestoreError::Exists`]), and always
/// refuses one a running system holds ([`RestoreError::Held`]): the target's writer lock is
/// held from that check until the rename, so no system can open the old file in between.
pub fn restore(
    backup: impl AsRef<Path>,
    target: impl AsRef<Path>,
    force: bool,
) -> Result<u64, RestoreError> {
    let (backup, target) = (backup.as_ref(), target.as_ref());
    drop(Inspector::open(backup).map_err(RestoreError::Backup)?);
    let io = |source| RestoreError::Io {
        path: target.to_path_buf(),
        source,
    };
    let exists = target.symlink_metadata().is_ok();
    if exists && !force {
        return Err(RestoreError::Exists {
            path: target.to_path_buf(),
        });
    }
    // Held until the rename is done: a system opening the target meanwhile waits on it.
    let _lock = if exists { lock_target(target)? } else { None };
    let partial = copy::partial_path(target);
    let placed = (|| {
        std::fs::copy(backup, &partial)?;
        let bytes = copy::sync_file(&partial)?;
        if force {
            std::fs::rename(&partial, target)?;
        } else {
            // A link, unlike a rename, fails if a file appeared at the target meanwhile.
            std::fs::hard_link(&partial, target)?;
            std::fs::remove_file(&partial)?;
        }
        crate::storage::sync_parent(target)?;
        Ok(bytes)
    })();
    if placed.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    placed.map_err(|error: std::io::Error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            RestoreError::Exists {
                path: target.to_path_buf(),
            }
        } else {
            io(error)
        }
    })
}

/// Opens the existing store `target` as its writer would, to learn whether a running system
/// holds it; the open database is the lock. A file that is not a store (or is damaged) has
/// no system on it: `None`, and it is replaced.
fn lock_target(target: &Path) -> Result<Option<redb::Database>, RestoreError> {
    let opened = catch(|| {
        let mut builder = redb::Database::builder();
        builder
            .set_cache_size(CACHE_BYTES)
            .set_concurrency_mode(ConcurrencyMode::SingleWriter);
        builder.open(target)
    });
    match opened {
        Ok(Ok(db)) => Ok(Some(db)),
        Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => Err(RestoreError::Held {
            path: target.to_path_buf(),
        }),
        Ok(Err(_)) | Err(_) => Ok(None),
    }
}

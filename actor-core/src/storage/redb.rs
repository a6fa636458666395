//! The embedded default: one redb file.
//!
//! Tables (see `docs/storage-format.md`):
//! - `meta`: `&str -> u32`, holding `format_version`.
//! - `actors`: `(&str kind, &str key) -> &[u8] record`.
//! - `kv`: `(&str store, &str key) -> &str value`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redb::{
    ConcurrencyMode, Database, Durability, ReadableDatabase, ReadableTable, TableDefinition,
};

use std::ops::Bound;

use super::restore::{RestorePoints, Schedule};
use super::{MessageRow, ScheduleRow, Storage, Write};
use crate::error::{OpenError, StorageError};

pub(crate) const META: TableDefinition<&str, u32> = TableDefinition::new("meta");
pub(crate) const ACTORS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("actors");
pub(crate) const KV: TableDefinition<(&str, &str), &str> = TableDefinition::new("kv");
/// `(due_ms, id) -> (kind, key, action)`: schedules in the order they fire.
pub(crate) const SCHEDULES: TableDefinition<(u64, u64), (&str, &str, &[u8])> =
    TableDefinition::new("schedules");
/// `(kind, key, id) -> due_ms`: each actor's schedules, to cancel one or delete them all.
pub(crate) const ACTOR_SCHEDULES: TableDefinition<(&str, &str, u64), u64> =
    TableDefinition::new("actor_schedules");
/// `seq -> (from kind, from key, to kind, to key, action)`: messages not yet applied.
pub(crate) const OUTBOX: TableDefinition<u64, (&str, &str, &str, &str, &[u8])> =
    TableDefinition::new("outbox");

/// The storage format version this build writes into `meta`. Format 1 (no schedules, no
/// outbox) is upgraded in place when opened.
pub(crate) const STORAGE_FORMAT: u32 = 2;

/// Options for [`RedbStorage::open`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedbOptions {
    /// Save the allocator state in every commit so that reopening after a crash takes
    /// milliseconds instead of a walk over the whole file. Costs time on each commit (most on
    /// small ones). Default: `true`.
    pub quick_repair: bool,
    /// redb's page cache, in bytes. Default: 64 MiB.
    pub cache_size: usize,
    /// Delete the file when the storage is dropped (for temporary systems). Default: `false`.
    pub delete_on_drop: bool,
    /// Take restore points on a schedule (see [`RestorePoints`]). Default: `None` (off).
    pub restore_points: Option<RestorePoints>,
    /// Let other processes open the file read-only while this storage writes it (the
    /// `actors` CLI, [`Inspector`](crate::inspect::Inspector)): redb's single-writer mode,
    /// which locks byte ranges of the file instead of the whole file, and publishes each
    /// commit's header with one more write. With `false`, the file is locked whole and a
    /// read-only open fails while a system holds it. Applies to files opened by path; a
    /// custom backend is always opened exclusively. Default: `true`.
    pub shared_reads: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        Self {
            quick_repair: true,
            cache_size: 64 << 20,
            delete_on_drop: false,
            restore_points: None,
            shared_reads: true,
        }
    }
}

/// How a fresh [`Database`] is opened: at start, and again after an I/O failure.
type Opener = dyn Fn(&redb::Builder) -> Result<Database, redb::DatabaseError> + Send + Sync;

/// Actor records in one redb file, committed with `Durability::Immediate`.
///
/// After an I/O failure (a failed write or sync, a full disk) redb refuses every later
/// operation on that handle. This storage then drops the handle and opens the file again on
/// the next call, which lets redb recover the last committed state; so the system serves
/// again as soon as the fault clears, without a restart.
pub struct RedbStorage {
    /// The open database; `None` after an I/O failure until the next call reopens it.
    db: RwLock<Option<Arc<Database>>>,
    open: Box<Opener>,
    cache_size: usize,
    /// How the file is shared with other processes; kept for reopening after an I/O failure.
    concurrency: ConcurrencyMode,
    path: PathBuf,
    quick_repair: bool,
    delete_on_drop: bool,
    /// The key-value table as of the newest commit, opened once per commit by the writer so
    /// that a `get` costs a lock and a lookup rather than a new read transaction. Replaced
    /// before `commit` returns, so a reader never misses a write that was acknowledged.
    kv_snapshot: RwLock<Option<Arc<KvTable>>>,
    /// This process's claim on the file (for files opened by path).
    claim: Option<Arc<FileClaim>>,
    /// When the next commit takes a restore point, if they are on.
    restore: Option<Schedule>,
}

/// A file this process holds open, registered process-wide so that an `open` of the same file
/// can tell "held by a system that was dropped and is finishing" (worth waiting for) from
/// "held by a live system or another process" (an error at once).
#[derive(Debug)]
pub(crate) struct FileClaim {
    path: PathBuf,
    /// Set when the system that opened the file was dropped without `shutdown`: the file is
    /// released once its actors have finished their last commits.
    releasing: AtomicBool,
}

impl FileClaim {
    /// The system holding the file is gone; the file follows as soon as its actors finish.
    pub(crate) fn releasing(&self) {
        self.releasing.store(true, Ordering::SeqCst);
    }
}

/// Every claim of this process, by canonical path, and the signal of a release.
static CLAIMS: Mutex<Option<HashMap<PathBuf, Arc<FileClaim>>>> = Mutex::new(None);
static RELEASED: Condvar = Condvar::new();

/// How long `open` waits for a file that a dropped system of this process is releasing.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Waits until no releasing claim of this process holds `path`: true if one did and is gone
/// now (worth opening again), false if none did (the file is held by a live system or
/// another process) or the deadline passed.
fn wait_for_release(path: &Path, deadline: Instant) -> bool {
    let path = canonical(path);
    let mut claims = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut waited = false;
    loop {
        let releasing = claims
            .as_ref()
            .and_then(|c| c.get(&path))
            .is_some_and(|claim| claim.releasing.load(Ordering::SeqCst));
        if !releasing {
            return waited;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return false;
        };
        waited = true;
        claims = RELEASED
            .wait_timeout(claims, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// A read-only view of the key-value table.
type KvTable = redb::ReadOnlyTable<(&'static str, &'static str), &'static str>;

impl fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStorage")
            .field("path", &self.path)
            .field("quick_repair", &self.quick_repair)
            .finish_non_exhaustive()
    }
}

impl RedbStorage {
    /// Opens (or creates) the file at `path`. Blocks: after an unclean exit redb may repair
    /// the file first.
    ///
    /// A file this call creates and cannot finish setting up (a full disk, say) is removed
    /// again, so a later open starts afresh; a file that existed before is never touched.
    /// If a `System` of this process that held the file was dropped without `shutdown`, this
    /// waits (up to 5 s) for it to let go rather than fail with
    /// [`OpenError::AlreadyOpen`].
    pub fn open(path: impl AsRef<Path>, options: &RedbOptions) -> Result<Self, OpenError> {
        let path = path.as_ref();
        let deadline = Instant::now() + RELEASE_WAIT;
        loop {
            match Self::open_file(path, options) {
                Err(OpenError::AlreadyOpen { .. }) if wait_for_release(path, deadline) => {}
                other => return other,
            }
        }
    }

    fn open_file(path: &Path, options: &RedbOptions) -> Result<Self, OpenError> {
        // Creating the file here (rather than letting redb create it) tells a file this call
        // made from one that was there before; redb sets up an empty file as a new database.
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .is_ok();
        let file = path.to_path_buf();
        let concurrency = if options.shared_reads {
            ConcurrencyMode::SingleWriter
        } else {
            ConcurrencyMode::ExclusiveWriter
        };
        match Self::open_with(path, options, concurrency, move |builder| {
            builder.create(&file)
        }) {
            Ok(mut storage) => {
                if created && let Err(error) = super::sync_parent(path) {
                    tracing::warn!(path = %path.display(), %error, "cannot sync the directory of a new database file");
                }
                let claim = Arc::new(FileClaim {
                    path: canonical(path),
                    releasing: AtomicBool::new(false),
                });
                CLAIMS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(HashMap::new)
                    .insert(claim.path.clone(), Arc::clone(&claim));
                storage.claim = Some(claim);
                Ok(storage)
            }
            Err(error) => {
                if created && !matches!(error, OpenError::AlreadyOpen { .. }) {
                    // Half set up: without this, every later open would find "not a redb
                    // database" until someone deleted the file by hand.
                    let _ = std::fs::remove_file(path);
                }
                Err(error)
            }
        }
    }

    /// This process's claim on the file, for the system that owns this storage.
    pub(crate) fn claim(&self) -> Arc<FileClaim> {
        self.claim.clone().unwrap_or_else(|| {
            Arc::new(FileClaim {
                path: self.path.clone(),
                releasing: AtomicBool::new(false),
            })
        })
    }

    /// Opens a database on a custom redb [`StorageBackend`](redb::StorageBackend): an
    /// in-memory one, an encrypting one, or one that injects I/O faults in tests. `backend`
    /// is called once now and again each time the database is reopened after an I/O
    /// failure; every call must give access to the same stored bytes. `name` stands for the
    /// storage in error messages.
    pub fn open_backend<B, F>(
        name: impl Into<PathBuf>,
        options: &RedbOptions,
        backend: F,
    ) -> Result<Self, OpenError>
    where
        B: redb::StorageBackend,
        F: Fn() -> std::io::Result<B> + Send + Sync + 'static,
    {
        // A custom backend may not implement byte-range locks, which the shared modes need.
        Self::open_with(
            &name.into(),
            options,
            ConcurrencyMode::ExclusiveWriter,
            move |builder| builder.create_with_backend(backend()?),
        )
    }

    fn open_with(
        path: &Path,
        options: &RedbOptions,
        concurrency: ConcurrencyMode,
        open: impl Fn(&redb::Builder) -> Result<Database, redb::DatabaseError> + Send + Sync + 'static,
    ) -> Result<Self, OpenError> {
        let db_error = |source: redb::Error| match source {
            redb::Error::DatabaseAlreadyOpen => OpenError::AlreadyOpen {
                path: path.to_path_buf(),
            },
            source => OpenError::Database {
                path: path.to_path_buf(),
                source: Box::new(source),
            },
        };
        let mut builder = Database::builder();
        builder
            .set_cache_size(options.cache_size)
            .set_concurrency_mode(concurrency);
        let db = open(&builder).map_err(|e| db_error(e.into()))?;
        let storage = Self {
            db: RwLock::new(Some(Arc::new(db))),
            open: Box::new(open),
            cache_size: options.cache_size,
            concurrency,
            path: path.to_path_buf(),
            quick_repair: options.quick_repair,
            delete_on_drop: options.delete_on_drop,
            kv_snapshot: RwLock::new(None),
            claim: None,
            restore: None,
        };
        let init = storage.init().map_err(db_error)?;
        let mut storage = storage;
        if let Some(config) = options.restore_points {
            let newest = storage.with_db(super::restore::newest).map_err(db_error)?;
            storage.restore = Some(Schedule::new(config, newest));
        }
        storage.refresh_kv_snapshot();
        init.map_or(Ok(storage), |found| {
            Err(OpenError::UnsupportedFormat {
                path: path.to_path_buf(),
                found,
                supported: STORAGE_FORMAT,
            })
        })
    }

    /// The file this storage writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read transaction on the newest commit: a snapshot that later commits do not change
    /// (a backup copies it while the writer goes on).
    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction, StorageError> {
        self.with_db(|db| Ok(db.begin_read()?))
            .map_err(StorageError::from)
    }

    /// The open database, reopening it first if an I/O failure closed it.
    fn database(&self) -> Result<Arc<Database>, redb::Error> {
        if let Some(db) = self
            .db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(db);
        }
        let db = {
            let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(db) = slot.clone() {
                return Ok(db);
            }
            // Fails with `DatabaseAlreadyOpen` while a reader still holds the old handle;
            // the next call tries again.
            let mut builder = Database::builder();
            builder
                .set_cache_size(self.cache_size)
                .set_concurrency_mode(self.concurrency);
            let db = Arc::new((self.open)(&builder)?);
            tracing::info!(path = %self.path.display(), "database reopened after an I/O failure");
            *slot = Some(db.clone());
            db
        };
        self.refresh_kv_snapshot();
        Ok(db)
    }

    /// Runs `f` on the open database. An I/O failure closes the handle (redb refuses every
    /// later operation on it) so that the next call reopens the file.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Result<T, redb::Error> {
        let db = self.database()?;
        let result = f(&db);
        drop(db);
        if let Err(error) = &result
            && matches!(
                error,
                redb::Error::Io(_)
                    | redb::Error::PreviousIo
                    | redb::Error::Backend(_)
                    | redb::Error::DatabaseClosed
            )
        {
            tracing::warn!(path = %self.path.display(), %error, "I/O failure; the database will be reopened");
            *self
                .kv_snapshot
                .write()
                .unwrap_or_else(PoisonError::into_inner) = None;
            *self.db.write().unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }

    /// Creates the tables and records the format on a new file, or upgrades a format-1 file
    /// (adding the tables of format 2); on a newer file, returns `Some(found)`.
    fn init(&self) -> Result<Option<u32>, redb::Error> {
        self.with_db(|db| {
            let found = {
                let read = db.begin_read()?;
                match read.open_table(META) {
                    Ok(meta) => meta.get("format_version")?.map(|v| v.value()),
                    Err(redb::TableError::TableDoesNotExist(_)) => None,
                    Err(e) => return Err(e.into()),
                }
            };
            match found {
                Some(found) if found > STORAGE_FORMAT => Ok(Some(found)),
                Some(STORAGE_FORMAT) => Ok(None),
                Some(_) | None => {
                    if let Some(old) = found {
                        tracing::info!(path = %self.path.display(), from = old, to = STORAGE_FORMAT, "upgrading the storage format");
                    }
                    let mut txn = db.begin_write()?;
                    txn.set_durability(Durability::Immediate)?;
                    txn.set_quick_repair(self.quick_repair);
                    txn.open_table(META)?
                        .insert("format_version", STORAGE_FORMAT)?;
                    txn.open_table(ACTORS)?;
                    txn.open_table(KV)?;
                    txn.open_table(SCHEDULES)?;
                    txn.open_table(ACTOR_SCHEDULES)?;
                    txn.open_table(OUTBOX)?;
                    txn.commit()?;
                    Ok(None)
                }
            }
        })
    }
}

type ScheduleTable<'t> = redb::Table<'t, (u64, u64), (&'static str, &'static str, &'static [u8])>;
type OutboxTable<'t> = redb::Table<
    't,
    u64,
    (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [u8],
    ),
>;

/// The tables of one write transaction, each opened the first time a write needs it (most
/// commits touch only `actors`).
struct Tables<'t> {
    txn: &'t redb::WriteTransaction,
    actors: Option<redb::Table<'t, (&'static str, &'static str), &'static [u8]>>,
    kv: Option<redb::Table<'t, (&'static str, &'static str), &'static str>>,
    schedules: Option<ScheduleTable<'t>>,
    actor_schedules: Option<redb::Table<'t, (&'static str, &'static str, u64), u64>>,
    outbox: Option<OutboxTable<'t>>,
}

impl<'t> Tables<'t> {
    fn new(txn: &'t redb::WriteTransaction) -> Self {
        Self {
            txn,
            actors: None,
            kv: None,
            schedules: None,
            actor_schedules: None,
            outbox: None,
        }
    }

    fn apply(&mut self, write: &mut Write<'_>) -> Result<(), redb::Error> {
        let txn = self.txn;
        match write {
            Write::PutActor { kind, key, record } => {
                open(&mut self.actors, txn, ACTORS)?.insert((*kind, *key), *record)?;
            }
            Write::DeleteActor { kind, key } => {
                open(&mut self.actors, txn, ACTORS)?.remove((*kind, *key))?;
                let ids: Vec<(u64, u64)> = {
                    let index = open(&mut self.actor_schedules, txn, ACTOR_SCHEDULES)?;
                    let mut ids = Vec::new();
                    for entry in index.range((*kind, *key, 0)..=(*kind, *key, u64::MAX))? {
                        let (k, due) = entry?;
                        ids.push((k.value().2, due.value()));
                    }
                    ids
                };
                for (id, due) in ids {
                    open(&mut self.actor_schedules, txn, ACTOR_SCHEDULES)?
                        .remove((*kind, *key, id))?;
                    open(&mut self.schedules, txn, SCHEDULES)?.remove((due, id))?;
                }
            }
            Write::KvSet { store, key, value } => {
                open(&mut self.kv, txn, KV)?.insert((*store, *key), *value)?;
            }
            Write::KvDelete { store, key } => {
                open(&mut self.kv, txn, KV)?.remove((*store, *key))?;
            }
            Write::KvUpdate { store, key, update } => {
                let kv = open(&mut self.kv, txn, KV)?;
                let current = kv.get((*store, *key))?.map(|v| v.value().to_owned());
                match update(current.as_deref()) {
                    Some(new) => kv.insert((*store, *key), new.as_str())?,
                    None => kv.remove((*store, *key))?,
                };
            }
            Write::PutSchedule {
                id,
                due_ms,
                kind,
                key,
                action,
            } => {
                open(&mut self.schedules, txn, SCHEDULES)?
                    .insert((*due_ms, *id), (*kind, *key, *action))?;
                open(&mut self.actor_schedules, txn, ACTOR_SCHEDULES)?
                    .insert((*kind, *key, *id), *due_ms)?;
            }
            Write::DeleteSchedule { kind, key, id } => {
                let due = open(&mut self.actor_schedules, txn, ACTOR_SCHEDULES)?
                    .remove((*kind, *key, *id))?
                    .map(|due| due.value());
                if let Some(due) = due {
                    open(&mut self.schedules, txn, SCHEDULES)?.remove((due, *id))?;
                }
            }
            Write::PutMessage {
                seq,
                from_kind,
                from_key,
                to_kind,
                to_key,
                action,
            } => {
                open(&mut self.outbox, txn, OUTBOX)?
                    .insert(*seq, (*from_kind, *from_key, *to_kind, *to_key, *action))?;
            }
            Write::DeleteMessage { seq } => {
                open(&mut self.outbox, txn, OUTBOX)?.remove(*seq)?;
            }
        }
        Ok(())
    }
}

/// The table in `slot`, opened in `txn` the first time.
fn open<'s, 't, K: redb::Key + 'static, V: redb::Value + 'static>(
    slot: &'s mut Option<redb::Table<'t, K, V>>,
    txn: &'t redb::WriteTransaction,
    table: TableDefinition<'static, K, V>,
) -> Result<&'s mut redb::Table<'t, K, V>, redb::Error> {
    if slot.is_none() {
        *slot = Some(txn.open_table(table)?);
    }
    slot.as_mut()
        .ok_or_else(|| redb::Error::Corrupted("a table that was just opened is missing".into()))
}

impl Storage for RedbStorage {
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.with_db(|db| {
            let read = db.begin_read()?;
            let table = read.open_table(ACTORS)?;
            let record = table.get((kind, key))?;
            Ok(record.map(|r| r.value().to_vec()))
        })
        .map_err(StorageError::from)
    }

    fn commit(&self, batch: &mut [Write<'_>]) -> Result<(), StorageError> {
        let point = self.restore.as_ref().and_then(Schedule::due);
        let run = |db: &Database| -> Result<(), redb::Error> {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.set_quick_repair(self.quick_repair);
            if let (Some(schedule), Some(at)) = (&self.restore, point) {
                // Before any table is opened: the point is the state the last commit left.
                schedule.take(&txn, at)?;
            }
            {
                let mut tables = Tables::new(&txn);
                for write in batch.iter_mut() {
                    tables.apply(write)?;
                }
            }
            txn.commit()?;
            Ok(())
        };
        let result = self.with_db(run).map_err(StorageError::from);
        if let (Ok(()), Some(schedule), Some(at)) = (&result, &self.restore, point) {
            schedule.taken(at);
        }
        if result.is_ok() {
            // After every commit, not only key-value ones: a snapshot held across later
            // commits would keep redb from reusing the pages they free.
            self.refresh_kv_snapshot();
        }
        result
    }

    fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, StorageError> {
        self.kv_get_inner(store, key).map_err(StorageError::from)
    }

    fn schedules(
        &self,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ScheduleRow>, StorageError> {
        self.with_db(|db| {
            let read = db.begin_read()?;
            let table = read.open_table(SCHEDULES)?;
            let range = match after {
                Some(after) => table.range((Bound::Excluded(after), Bound::Unbounded))?,
                None => table.range::<(u64, u64)>(..)?,
            };
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (k, v) = entry?;
                let (due_ms, id) = k.value();
                let (kind, key, action) = v.value();
                out.push(ScheduleRow {
                    due_ms,
                    id,
                    kind: kind.to_owned(),
                    key: key.to_owned(),
                    action: action.to_vec(),
                });
            }
            Ok(out)
        })
        .map_err(StorageError::from)
    }

    fn messages(&self, after: Option<u64>, limit: usize) -> Result<Vec<MessageRow>, StorageError> {
        self.with_db(|db| {
            let read = db.begin_read()?;
            let table = read.open_table(OUTBOX)?;
            let range = match after {
                Some(after) => table.range((Bound::Excluded(after), Bound::Unbounded))?,
                None => table.range::<u64>(..)?,
            };
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (k, v) = entry?;
                let (from_kind, from_key, to_kind, to_key, action) = v.value();
                out.push(MessageRow {
                    seq: k.value(),
                    from_kind: from_kind.to_owned(),
                    from_key: from_key.to_owned(),
                    to_kind: to_kind.to_owned(),
                    to_key: to_key.to_owned(),
                    action: action.to_vec(),
                });
            }
            Ok(out)
        })
        .map_err(StorageError::from)
    }

    fn next_epoch(&self) -> Result<u32, StorageError> {
        self.with_db(|db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.set_quick_repair(self.quick_repair);
            let epoch = {
                let mut meta = txn.open_table(META)?;
                let epoch = meta.get("epoch")?.map_or(0, |v| v.value()).wrapping_add(1);
                meta.insert("epoch", epoch)?;
                epoch
            };
            txn.commit()?;
            Ok(epoch)
        })
        .map_err(StorageError::from)
    }

    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError> {
        self.kv_list_inner(store, prefix, after, limit)
            .map_err(StorageError::from)
    }
}

impl RedbStorage {
    /// Opens the key-value table as it is now and makes it the snapshot `get` reads.
    fn refresh_kv_snapshot(&self) {
        let db = self
            .db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let table = db
            .and_then(|db| db.begin_read().ok())
            .and_then(|read| read.open_table(KV).ok());
        *self
            .kv_snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = table.map(Arc::new);
    }

    fn kv_get_inner(&self, store: &str, key: &str) -> Result<Option<String>, redb::Error> {
        let snapshot = self
            .kv_snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(table) = snapshot {
            return Ok(table.get((store, key))?.map(|v| v.value().to_owned()));
        }
        self.with_db(|db| {
            let read = db.begin_read()?;
            let table = match read.open_table(KV) {
                Ok(table) => table,
                // A file from before the first key-value write has no such table yet.
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(table.get((store, key))?.map(|v| v.value().to_owned()))
        })
    }

    fn kv_list_inner(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, redb::Error> {
        self.with_db(|db| {
            let read = db.begin_read()?;
            let table = match read.open_table(KV) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.into()),
            };
            let start = after.map_or(prefix, |a| a.max(prefix));
            let mut out = Vec::new();
            for entry in table.range((store, start)..)? {
                let (k, v) = entry?;
                let (entry_store, key) = k.value();
                if entry_store != store || !key.starts_with(prefix) {
                    break;
                }
                if after.is_some_and(|a| key <= a) {
                    continue;
                }
                out.push((key.to_owned(), v.value().to_owned()));
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
    }
}

impl Drop for RedbStorage {
    fn drop(&mut self) {
        if self.delete_on_drop {
            // On Unix an open file can be unlinked; the database closes right after this.
            let _ = std::fs::remove_file(&self.path);
        }
        // Close the database before the claim goes, so that an `open` woken by the release
        // finds the file free.
        self.kv_snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(claim) = self.claim.take() {
            let mut claims = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(claims) = claims.as_mut()
                && claims
                    .get(&claim.path)
                    .is_some_and(|current| Arc::ptr_eq(current, &claim))
            {
                claims.remove(&claim.path);
            }
            RELEASED.notify_all();
        }
    }
}

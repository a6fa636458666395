//! Restore points: redb persistent savepoints taken on a schedule inside ordinary commits,
//! listed with their times, and turned back into a whole database file as it was at one of
//! them ([`restore_point`]).
//!
//! A restore point is taken at the start of the first commit after the interval has passed:
//! redb records the database as the previous commit left it (the savepoint), then the commit
//! goes on and also writes the point's time into the `restore_points` table. So the point is
//! exactly the state every reader saw from the previous commit until that moment, and its time
//! is when it was taken. While a point is kept, redb keeps the pages it needs: the file grows
//! with what is overwritten during the retention window (measured in `docs/operating.md`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

/// The restore points kept: savepoint id → the time it was taken, in milliseconds since the
/// Unix epoch.
pub(super) const RESTORE_POINTS: TableDefinition<u64, u64> = TableDefinition::new("restore_points");

/// When a store takes restore points, and how many it keeps: set with
/// [`SystemBuilder::restore_points`](crate::SystemBuilder::restore_points) or
/// [`RedbOptions::restore_points`](crate::RedbOptions::restore_points).
///
/// Off unless set. A point is taken by the first commit after `every` has passed since the
/// last one (an idle system takes none: its state does not change); the oldest is dropped when
/// there are more than `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestorePoints {
    /// The least time between two points.
    pub every: Duration,
    /// How many points are kept (at least 1).
    pub keep: usize,
}

impl RestorePoints {
    /// A point at most every `every`, keeping the last 24.
    pub fn every(every: Duration) -> Self {
        Self { every, keep: 24 }
    }

    /// Keeps the last `keep` points (at least 1).
    #[must_use]
    pub fn keep(mut self, keep: usize) -> Self {
        self.keep = keep.max(1);
        self
    }
}

/// One restore point of a store file ([`restore_points`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorePoint {
    /// redb's id of the savepoint behind it (unique in the file, increasing).
    pub id: u64,
    /// When it was taken: the file's state at this point is the state it had at this time.
    pub at: SystemTime,
}

/// Listing or restoring restore points failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestorePointError {
    /// The file is open in a running system (this process or another); stop it first.
    #[error("{path}: the database is open by a running system; stop it first")]
    Held {
        /// The file.
        path: PathBuf,
    },
    /// The output file exists already; it is never overwritten.
    #[error("{path}: the output file exists already")]
    OutputExists {
        /// The output file.
        path: PathBuf,
    },
    /// No restore point was taken at or before the time asked for.
    #[error("{path}: no restore point at or before the time asked for ({points} kept)")]
    NoPoint {
        /// The file.
        path: PathBuf,
        /// How many points the file keeps.
        points: usize,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// redb refused the file or the restore.
    #[error("{path}: {source}")]
    Database {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: Box<redb::Error>,
    },
}

impl RestorePointError {
    fn database(path: &Path, source: impl Into<redb::Error>) -> Self {
        match source.into() {
            redb::Error::DatabaseAlreadyOpen => Self::Held {
                path: path.to_path_buf(),
            },
            source => Self::Database {
                path: path.to_path_buf(),
                source: Box::new(source),
            },
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(super) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_millis(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The schedule of one open store: whether the next commit takes a point.
#[derive(Debug)]
pub(super) struct Schedule {
    pub(super) config: RestorePoints,
    /// When the newest point was taken (ms since the epoch), 0 if none.
    newest: AtomicU64,
}

impl Schedule {
    /// The schedule of a file whose newest point was taken at `newest` (ms), if any.
    pub(super) fn new(config: RestorePoints, newest: Option<u64>) -> Self {
        Self {
            config,
            newest: AtomicU64::new(newest.unwrap_or(0)),
        }
    }

    /// The time of the point the next commit should take, if one is due.
    pub(super) fn due(&self) -> Option<u64> {
        let now = unix_millis(SystemTime::now());
        let every = u64::try_from(self.config.every.as_millis()).unwrap_or(u64::MAX);
        let newest = self.newest.load(Ordering::Relaxed);
        (newest == 0 || now.saturating_sub(newest) >= every).then_some(now)
    }

    /// A point taken at `at` was committed.
    pub(super) fn taken(&self, at: u64) {
        self.newest.store(at, Ordering::Relaxed);
    }

    /// Inside a write transaction that has opened no table yet: takes a savepoint (the state
    /// the previous commit left), records it at `at`, and drops the oldest beyond `keep`.
    pub(super) fn take(&self, txn: &redb::WriteTransaction, at: u64) -> Result<(), redb::Error> {
        let id = txn.persistent_savepoint()?;
        let mut table = txn.open_table(RESTORE_POINTS)?;
        table.insert(id, at)?;
        let kept = usize::try_from(table.len()?).unwrap_or(usize::MAX);
        let excess = kept.saturating_sub(self.config.keep);
        if excess > 0 {
            let oldest: Vec<u64> = table
                .iter()?
                .take(excess)
                .map(|entry| entry.map(|(id, _)| id.value()))
                .collect::<Result<_, _>>()?;
            for id in oldest {
                table.remove(id)?;
                txn.delete_persistent_savepoint(id)?;
            }
        }
        Ok(())
    }
}

/// The newest point of an open database, for its schedule.
pub(super) fn newest(db: &Database) -> Result<Option<u64>, redb::Error> {
    let read = db.begin_read()?;
    let table = match read.open_table(RESTORE_POINTS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let newest = table.last()?.map(|(_, at)| at.value());
    Ok(newest)
}

fn list(db: &impl ReadableDatabase) -> Result<Vec<RestorePoint>, redb::Error> {
    let read = db.begin_read()?;
    let table = match read.open_table(RESTORE_POINTS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    table
        .iter()?
        .map(|entry| {
            let (id, at) = entry?;
            Ok(RestorePoint {
                id: id.value(),
                at: from_millis(at.value()),
            })
        })
        .collect()
}

/// The restore points a store file keeps, oldest first. The file must not be open in a
/// running system ([`RestorePointError::Held`]); it is only read.
pub fn restore_points(file: impl AsRef<Path>) -> Result<Vec<RestorePoint>, RestorePointError> {
    let file = file.as_ref();
    fs::metadata(file).map_err(RestorePointError::io(file))?;
    let db = Database::builder()
        .open_read_only(file)
        .map_err(|e| RestorePointError::database(file, e))?;
    list(&db).map_err(|e| RestorePointError::database(file, e))
}

/// Writes `out`, a new store file holding `file` as it was at its latest restore point at or
/// before `at`, and returns that point. `file` is only read and must not be open in a running
/// system; `out` must not exist. `out` keeps no restore points of its own and opens with
/// [`System::open`](crate::System::open) like any store.
///
/// Copies the file, rolls the copy back to the point, drops every savepoint from it, compacts
/// it, syncs it and only then gives it its name: an interrupted restore leaves no `out`.
pub fn restore_point(
    file: impl AsRef<Path>,
    at: SystemTime,
    out: impl AsRef<Path>,
) -> Result<RestorePoint, RestorePointError> {
    let (file, out) = (file.as_ref(), out.as_ref());
    if out.exists() {
        return Err(RestorePointError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let points = restore_points(file)?;
    let Some(point) = points.iter().rev().find(|p| p.at <= at).copied() else {
        return Err(RestorePointError::NoPoint {
            path: file.to_path_buf(),
            points: points.len(),
        });
    };
    let temporary = out.with_extension(format!("restoring-{}", uuid::Uuid::new_v4().simple()));
    let result = roll_back_copy(file, &temporary, point.id).and_then(|()| {
        fs::rename(&temporary, out).map_err(RestorePointError::io(out))?;
        if let Err(error) = super::sync_parent(out) {
            tracing::warn!(path = %out.display(), %error, "cannot sync the directory of a restored file");
        }
        Ok(point)
    });
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Copies `file` to `copy` and rolls the copy back to savepoint `id`.
fn roll_back_copy(file: &Path, copy: &Path, id: u64) -> Result<(), RestorePointError> {
    // Opening for writing first claims the file: a system that opens it meanwhile fails
    // (and one that holds it now makes this fail), so the copy is of a file at rest.
    let source = Database::open(file).map_err(|e| RestorePointError::database(file, e))?;
    fs::copy(file, copy).map_err(RestorePointError::io(copy))?;
    drop(source);
    let db_error = |e: redb::Error| RestorePointError::database(copy, e);
    let mut db = Database::open(copy).map_err(|e| db_error(e.into()))?;
    let mut txn = db.begin_write().map_err(|e| db_error(e.into()))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| db_error(e.into()))?;
    let savepoint = txn
        .get_persistent_savepoint(id)
        .map_err(|e| db_error(e.into()))?;
    txn.restore_savepoint(&savepoint)
        .map_err(|e| db_error(e.into()))?;
    drop(savepoint);
    txn.commit().map_err(|e| db_error(e.into()))?;
    // The copy is a plain store: no savepoints, no points listed.
    let txn = db.begin_write().map_err(|e| db_error(e.into()))?;
    let ids: Vec<u64> = txn
        .list_persistent_savepoints()
        .map_err(|e| db_error(e.into()))?
        .collect();
    for id in ids {
        txn.delete_persistent_savepoint(id)
            .map_err(|e| db_error(e.into()))?;
    }
    txn.delete_table(RESTORE_POINTS)
        .map_err(|e| db_error(e.into()))?;
    txn.commit().map_err(|e| db_error(e.into()))?;
    // Reclaims what only the dropped savepoints kept. (Compaction is best effort.)
    let _ = db.compact();
    drop(db);
    fs::File::open(copy)
        .and_then(|f| f.sync_all())
        .map_err(RestorePointError::io(copy))
}

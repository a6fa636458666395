//! Copying one read transaction (a snapshot) of a store into a new file, atomically: the
//! copy is written to a temporary file beside the target, synced, and renamed into place, so
//! the target path holds either nothing or a whole, durable backup.

use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, ReadTransaction, ReadableTable, TableDefinition, TableError,
    WriteTransaction,
};

use crate::error::{BackupError, StorageError};
use crate::storage::{ACTOR_SCHEDULES, ACTORS, KV, META, OUTBOX, SCHEDULES};

/// How many rows of each table a copy holds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Copied {
    pub(crate) actors: u64,
    pub(crate) kv: u64,
    pub(crate) schedules: u64,
    pub(crate) messages: u64,
    /// The size of the new file.
    pub(crate) bytes: u64,
}

/// Copies every table of the snapshot `read` into a new file at `out`.
pub(crate) fn copy_snapshot(read: &ReadTransaction, out: &Path) -> Result<Copied, BackupError> {
    if out.symlink_metadata().is_ok() {
        return Err(BackupError::Exists {
            path: out.to_path_buf(),
        });
    }
    let partial = partial_path(out);
    let result = write_copy(read, &partial, out).and_then(|copied| {
        let io = |source| BackupError::Io {
            path: out.to_path_buf(),
            source,
        };
        let bytes = sync_file(&partial).map_err(io)?;
        std::fs::rename(&partial, out).map_err(io)?;
        crate::storage::sync_parent(out).map_err(io)?;
        Ok(Copied { bytes, ..copied })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// A name beside `target` for the file being written, hidden and unique to this process.
pub(crate) fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
    target.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn write_copy(read: &ReadTransaction, partial: &Path, out: &Path) -> Result<Copied, BackupError> {
    let write_error = |source: redb::Error| BackupError::Write {
        path: out.to_path_buf(),
        source: StorageError::from(source),
    };
    let _ = std::fs::remove_file(partial);
    let db = Database::builder()
        .create(partial)
        .map_err(|e| write_error(e.into()))?;
    let mut txn = db.begin_write().map_err(|e| write_error(e.into()))?;
    txn.set_durability(Durability::Immediate)
        .map_err(|e| write_error(e.into()))?;
    // The allocator state travels with the commit, so even a reader that cannot repair (a
    // read-only open) takes the file as it is.
    txn.set_quick_repair(true);
    let copied = copy_tables(read, &txn).map_err(|e| match e {
        Side::Read(source) => BackupError::Read(StorageError::from(source)),
        Side::Write(source) => write_error(source),
    })?;
    txn.commit().map_err(|e| write_error(e.into()))?;
    db.close().map_err(|e| write_error(e.into()))?;
    Ok(copied)
}

/// Which side of a copy failed.
enum Side {
    Read(redb::Error),
    Write(redb::Error),
}

fn copy_tables(read: &ReadTransaction, write: &WriteTransaction) -> Result<Copied, Side> {
    copy_table(read, write, META)?;
    let copied = Copied {
        actors: copy_table(read, write, ACTORS)?,
        kv: copy_table(read, write, KV)?,
        schedules: copy_table(read, write, SCHEDULES)?,
        messages: copy_table(read, write, OUTBOX)?,
        bytes: 0,
    };
    copy_table(read, write, ACTOR_SCHEDULES)?;
    Ok(copied)
}

/// Copies one table row by row (in key order, which redb appends cheaply); a table the
/// source lacks (a format-1 file has no schedules) is left out of the copy too.
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    table: TableDefinition<'static, K, V>,
) -> Result<u64, Side> {
    let source = match read.open_table(table) {
        Ok(source) => source,
        Err(TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(Side::Read(e.into())),
    };
    let mut target = write.open_table(table).map_err(|e| Side::Write(e.into()))?;
    let mut rows = 0;
    for entry in source.iter().map_err(|e| Side::Read(e.into()))? {
        let (key, value) = entry.map_err(|e| Side::Read(e.into()))?;
        target
            .insert(key.value(), value.value())
            .map_err(|e| Side::Write(e.into()))?;
        rows += 1;
    }
    Ok(rows)
}

/// Syncs a file's data to disk; returns its size.
pub(crate) fn sync_file(path: &Path) -> std::io::Result<u64> {
    let file = std::fs::File::open(path)?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

//! The narrow interface between the runtime and the bytes on disk.
//!
//! The runtime needs: one actor's record; a batch of writes committed atomically and durably
//! (records, key-value entries, schedules, outbox messages); key-value reads; the schedules in
//! due order and the outbox in sequence order, to deliver them after a restart; and a new
//! epoch at every open, from which the ids of schedules and messages are drawn.
//! [`RedbStorage`] is the embedded default; a test can wrap it to inject faults, and a
//! networked backend can implement the same trait without touching actors.

mod redb;
mod restore;

pub(crate) use self::redb::{
    ACTOR_SCHEDULES, ACTORS, FileClaim, KV, META, OUTBOX, SCHEDULES, STORAGE_FORMAT,
};
pub use self::redb::{RedbOptions, RedbStorage};
pub use self::restore::{
    RestorePoint, RestorePointError, RestorePoints, restore_point, restore_points,
};

use crate::error::StorageError;

/// Makes a new or renamed file's directory entry durable (`path`'s directory, `.` for a bare
/// name), so that a crash right after cannot lose the file.
pub(crate) fn sync_parent(path: &std::path::Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    std::fs::File::open(parent)?.sync_all()
}

/// The function of a [`Write::KvUpdate`]: the current value in, the new one out (`None`:
/// delete the key).
pub type KvUpdateFn<'a> = &'a mut (dyn FnMut(Option<&str>) -> Option<String> + Send);

/// One write in a batch. The batch is applied all-or-nothing, in order.
#[non_exhaustive]
pub enum Write<'a> {
    /// Insert or replace the record of the actor `(kind, key)`.
    PutActor {
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
        /// The full record: header and CBOR state.
        record: &'a [u8],
    },
    /// Delete the record of the actor `(kind, key)` and every schedule it has, if any.
    DeleteActor {
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
    },
    /// Set `key` in the key-value store `store`.
    KvSet {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
        /// The value.
        value: &'a str,
    },
    /// Delete `key` from the key-value store `store`.
    KvDelete {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
    },
    /// Read `key` (seeing earlier writes of the same batch), call `update` with it, and
    /// write what it returns.
    KvUpdate {
        /// The store id.
        store: &'a str,
        /// The key.
        key: &'a str,
        /// The new value from the current one.
        update: KvUpdateFn<'a>,
    },
    /// Store a schedule: the actor `(kind, key)` runs `action` at `due_ms`.
    PutSchedule {
        /// The schedule's id (unique in the store).
        id: u64,
        /// When it is due, in milliseconds since the Unix epoch.
        due_ms: u64,
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
        /// The action, as CBOR.
        action: &'a [u8],
    },
    /// Delete the schedule `id` of the actor `(kind, key)`, if it is still there.
    DeleteSchedule {
        /// The actor type's name.
        kind: &'a str,
        /// The actor's encoded key.
        key: &'a str,
        /// The schedule's id.
        id: u64,
    },
    /// Store an outbox message from the actor `(from_kind, from_key)` to `(to_kind, to_key)`.
    PutMessage {
        /// The message's sequence number (unique in the store, increasing per sender).
        seq: u64,
        /// The sending actor type's name.
        from_kind: &'a str,
        /// The sending actor's encoded key.
        from_key: &'a str,
        /// The receiving actor type's name.
        to_kind: &'a str,
        /// The receiving actor's encoded key.
        to_key: &'a str,
        /// The action, as CBOR.
        action: &'a [u8],
    },
    /// Delete the outbox message `seq` (it was applied), if it is still there.
    DeleteMessage {
        /// The message's sequence number.
        seq: u64,
    },
}

impl Write<'_> {
    /// The bytes the write carries, for tracing.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Self::PutActor { record, .. } => record.len(),
            Self::KvSet { value, .. } => value.len(),
            Self::PutSchedule { action, .. } | Self::PutMessage { action, .. } => action.len(),
            _ => 0,
        }
    }
}

impl std::fmt::Debug for Write<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PutActor { kind, key, record } => f
                .debug_struct("PutActor")
                .field("kind", kind)
                .field("key", key)
                .field("bytes", &record.len())
                .finish(),
            Self::DeleteActor { kind, key } => f
                .debug_struct("DeleteActor")
                .field("kind", kind)
                .field("key", key)
                .finish(),
            Self::KvSet { store, key, value } => f
                .debug_struct("KvSet")
                .field("store", store)
                .field("key", key)
                .field("bytes", &value.len())
                .finish(),
            Self::KvDelete { store, key } => f
                .debug_struct("KvDelete")
                .field("store", store)
                .field("key", key)
                .finish(),
            Self::KvUpdate { store, key, .. } => f
                .debug_struct("KvUpdate")
                .field("store", store)
                .field("key", key)
                .finish_non_exhaustive(),
            Self::PutSchedule {
                id,
                due_ms,
                kind,
                key,
                action,
            } => f
                .debug_struct("PutSchedule")
                .field("id", id)
                .field("due_ms", due_ms)
                .field("kind", kind)
                .field("key", key)
                .field("bytes", &action.len())
                .finish(),
            Self::DeleteSchedule { kind, key, id } => f
                .debug_struct("DeleteSchedule")
                .field("kind", kind)
                .field("key", key)
                .field("id", id)
                .finish(),
            Self::PutMessage {
                seq,
                from_kind,
                from_key,
                to_kind,
                to_key,
                action,
            } => f
                .debug_struct("PutMessage")
                .field("seq", seq)
                .field("from", &(from_kind, from_key))
                .field("to", &(to_kind, to_key))
                .field("bytes", &action.len())
                .finish(),
            Self::DeleteMessage { seq } => {
                f.debug_struct("DeleteMessage").field("seq", seq).finish()
            }
        }
    }
}

/// A stored schedule, as [`Storage::schedules`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    /// Its id.
    pub id: u64,
    /// The actor type's name.
    pub kind: String,
    /// The actor's encoded key.
    pub key: String,
    /// The action, as CBOR.
    pub action: Vec<u8>,
}

/// A stored outbox message, as [`Storage::messages`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    /// Its sequence number.
    pub seq: u64,
    /// The sending actor type's name.
    pub from_kind: String,
    /// The sending actor's encoded key.
    pub from_key: String,
    /// The receiving actor type's name.
    pub to_kind: String,
    /// The receiving actor's encoded key.
    pub to_key: String,
    /// The action, as CBOR.
    pub action: Vec<u8>,
}

/// Where actor records, key-value entries, schedules and outbox messages live.
///
/// Implementations must make [`commit`](Storage::commit) atomic (all writes of a batch or
/// none) and durable when it returns `Ok` (the runtime releases replies on that promise).
/// Every method blocks; the runtime calls `commit` and `next_epoch` from its own threads,
/// and the reads from the actors' tasks (they are expected to be fast local reads).
pub trait Storage: Send + Sync + 'static {
    /// The record of actor `(kind, key)`, or `None` if there is none.
    fn load(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// Applies every write in `batch`, in order, atomically and durably.
    fn commit(&self, batch: &mut [Write<'_>]) -> Result<(), StorageError>;

    /// The value of `key` in the key-value store `store`.
    fn kv_get(&self, store: &str, key: &str) -> Result<Option<String>, StorageError>;

    /// Up to `limit` entries of `store` whose keys start with `prefix`, in key order, after
    /// the key `after` if given.
    fn kv_list(
        &self,
        store: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StorageError>;

    /// Up to `limit` schedules in `(due_ms, id)` order, after `after` if given.
    fn schedules(
        &self,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ScheduleRow>, StorageError>;

    /// Up to `limit` outbox messages in sequence order, after `after` if given.
    fn messages(&self, after: Option<u64>, limit: usize) -> Result<Vec<MessageRow>, StorageError>;

    /// A number never returned before by this store (it increases at every call), durably:
    /// the runtime calls it when it opens and draws the ids of schedules and messages from
    /// it, so that ids of different runs never collide.
    fn next_epoch(&self) -> Result<u32, StorageError>;
}
